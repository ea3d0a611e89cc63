package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Option configures an Engine.
type Option func(*config) error

type config struct {
	table    string
	log      *slog.Logger
	off      bool
	offWhy   string
	probed   bool
	probeErr error
}

// WithTableName names the engine's nftables tables, one of the ip family
// and, where it is needed, one of the bridge family (default
// "podkit-policy"). Two engines on one host need different names.
func WithTableName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("policy.WithTableName: name is empty")
		}
		c.table = name
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("policy.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithoutEnforcement makes the engine enforce nothing: it only warns,
// once, when the first NetworkPolicy is stored, saying why (reason).
func WithoutEnforcement(reason string) Option {
	return func(c *config) error { c.off, c.offWhy = true, reason; return nil }
}

// Engine enforces the store's NetworkPolicies in the kernel. New decides
// whether it can (Enforced); Run programs the rules, keeps them in step
// with the store's Pods, Namespaces and NetworkPolicies, and removes them
// when its context ends. Its methods are safe for concurrent use; Run
// runs once.
type Engine struct {
	cfg      config
	kernel   kernel
	pods     *informer.Informer
	nss      *informer.Informer
	policies *informer.Informer
	kick     chan struct{}
	// hasPolicies: the store has a NetworkPolicy. Without one every pod
	// may talk to every other, and pods' and namespaces' changes, which
	// come by the thousand, cost nothing.
	hasPolicies atomic.Bool
	warnOnce    sync.Once
	once        sync.Once
}

// kernel is where a program is enforced.
type kernel interface {
	setup() error
	sync(*Program) error
	teardown() error
}

// New returns an engine over s. It enforces policies when this process
// may change nftables (the condition the service proxy's kernel data
// plane has, nft.Available) and WithoutEnforcement is not given; it
// changes nothing until Run.
func New(s store.Store, opts ...Option) (*Engine, error) {
	cfg := config{table: "podkit-policy", log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	e := &Engine{cfg: cfg, kick: make(chan struct{}, 1)}
	io := informer.Options{Logger: cfg.log}
	e.policies = informer.New(s, "NetworkPolicy", io)
	if !cfg.off {
		if err := nft.Available(); err != nil {
			e.cfg.off, e.cfg.offWhy = true, fmt.Sprintf("this process may not change nftables (%v)", err)
		}
	}
	if e.cfg.off {
		e.policies.AddHandler(func(_, obj objects.Object) {
			if obj != nil {
				e.warnOnce.Do(func() {
					e.cfg.log.Warn("NetworkPolicies are stored but not enforced: "+e.cfg.offWhy,
						"networkPolicy", obj.GetObjectMeta().Key().String())
				})
			}
		})
		return e, nil
	}
	e.kernel = newKernel(cfg.table, cfg.log)
	e.pods = informer.New(s, "Pod", io)
	e.nss = informer.New(s, "Namespace", io)
	e.policies.AddHandler(func(_, _ objects.Object) {
		pols, _ := e.policies.List(store.ListOptions{}, nil)
		e.hasPolicies.Store(len(pols) > 0)
		e.signal()
	})
	for _, inf := range []*informer.Informer{e.pods, e.nss} {
		inf.AddHandler(func(_, _ objects.Object) {
			if e.hasPolicies.Load() {
				e.signal()
			}
		})
	}
	return e, nil
}

// Enforced reports whether Run programs the kernel.
func (e *Engine) Enforced() bool { return !e.cfg.off }

// TableName returns the name of the engine's nftables tables.
func (e *Engine) TableName() string { return e.cfg.table }

func (e *Engine) informers() []*informer.Informer {
	if e.cfg.off {
		return []*informer.Informer{e.policies}
	}
	return []*informer.Informer{e.pods, e.nss, e.policies}
}

func (e *Engine) signal() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Run enforces the policies until ctx ends, then removes the engine's
// tables and returns once every goroutine it started has returned. A
// table of the same name left by a process that died is replaced.
func (e *Engine) Run(ctx context.Context) error {
	first := false
	e.once.Do(func() { first = true })
	if !first {
		return errors.New("policy: an Engine runs once")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for _, inf := range e.informers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := inf.Run(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	var err error
	if e.kernel != nil {
		if err = e.enforce(ctx); err != nil {
			cancel()
		}
	}
	<-ctx.Done()
	cancel()
	wg.Wait()
	select {
	case ierr := <-errc:
		return errors.Join(err, ierr)
	default:
		return err
	}
}

func (e *Engine) enforce(ctx context.Context) error {
	for _, inf := range e.informers() {
		if inf.WaitForSync(ctx) != nil {
			return nil
		}
	}
	if err := e.kernel.setup(); err != nil {
		return err
	}
	e.cfg.log.Info("network policies enforced", "table", e.cfg.table)
	e.signal()
	backoff := 10 * time.Millisecond
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if err := e.kernel.teardown(); err != nil {
				return fmt.Errorf("policy: %w", err)
			}
			return nil
		case <-e.kick:
		case <-retry:
		}
		retry = nil
		if err := e.kernel.sync(e.compute()); err != nil {
			e.cfg.log.Warn("network policy sync failed; retrying", "err", err, "after", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
	}
}

// compute reads the informers' caches: the pods and namespaces only when
// there are policies.
func (e *Engine) compute() *Program {
	if !e.hasPolicies.Load() {
		return Compute(nil, nil, nil)
	}
	list := func(inf *informer.Informer) []objects.Object {
		objs, _ := inf.List(store.ListOptions{}, nil)
		return objs
	}
	var (
		pods []*objects.Pod
		nss  []*objects.Namespace
		pols []*objects.NetworkPolicy
	)
	for _, o := range list(e.pods) {
		pods = append(pods, o.(*objects.Pod))
	}
	for _, o := range list(e.nss) {
		nss = append(nss, o.(*objects.Namespace))
	}
	for _, o := range list(e.policies) {
		pols = append(pols, o.(*objects.NetworkPolicy))
	}
	return Compute(pods, nss, pols)
}
