package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/podkit/podkit/store"
)

// Scheduler binds pending pods to nodes. Create it with New and run it
// with Run; it keeps no state between runs other than its configuration.
type Scheduler struct {
	store   store.Store
	cfg     config
	fw      *framework
	running atomic.Bool

	// afterWrite, when set (tests and benchmarks), is called from the
	// scheduling loop with the results of each committed batch.
	afterWrite func([]writeResult)
	// watchBuffer is the store watch's queue (tests make it small).
	watchBuffer int
	// beforeFollow, when set (tests), runs before each watch is read.
	beforeFollow func()
}

// New returns a scheduler for the pods in s. Options may fail: a profile
// without plugins, a plugin named twice, a negative weight.
func New(s store.Store, opts ...Option) (*Scheduler, error) {
	if s == nil {
		return nil, errors.New("scheduler.New: store is nil")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("scheduler.New: %w", err)
		}
	}
	p := cfg.profile
	p.Plugins = append([]WeightedPlugin(nil), p.Plugins...)
	for _, pl := range cfg.extra {
		p.Plugins = append(p.Plugins, WeightedPlugin{Plugin: pl, Weight: 1})
	}
	if cfg.percentage != nil {
		p.PercentageOfNodesToScore = *cfg.percentage
	}
	fw, err := compileProfile(p)
	if err != nil {
		return nil, fmt.Errorf("scheduler.New: %w", err)
	}
	return &Scheduler{store: s, cfg: cfg, fw: fw, watchBuffer: watchBuffer}, nil
}

// Name returns the spec.schedulerName of the pods this scheduler places.
func (s *Scheduler) Name() string { return s.cfg.name }

// Run schedules until ctx ends, then returns nil after every goroutine it
// started has returned. It returns an error if the store fails (for
// example store.ErrClosed) or if Run is already running.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scheduler: Run is already running")
	}
	defer s.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	l := newLoop(s)
	wg.Add(2)
	go func() { defer wg.Done(); l.writer.run(ctx) }()
	go func() { defer wg.Done(); l.sink.run(ctx) }()
	err := l.run(ctx, &wg)
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}
