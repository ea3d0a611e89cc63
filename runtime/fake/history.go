package fake

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/podkit/podkit/runtime"
)

// Record is one entry of the history: a call (with its error, if it
// failed) or a container's exit.
type Record struct {
	Time      time.Time
	Op        Op
	ID        string // the sandbox or container; empty when creation failed
	SandboxID string
	Namespace string
	Pod       string
	PodUID    string
	Container string
	Attempt   uint32
	Image     string
	// ExitCode and Reason are set for OpExit.
	ExitCode int32
	Reason   string
	Err      error
}

// Matches reports whether the record is of op ("" for any) and concerns
// what m matches.
func (rec Record) Matches(op Op, m Match) bool {
	return (op == "" || rec.Op == op) && m.matches(rec.Namespace, rec.Pod, rec.PodUID, rec.Container, rec.Image)
}

// History returns a copy of the records so far, oldest first.
func (r *Runtime) History() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.history...)
}

// Records returns the records of op ("" for any) about what m matches,
// oldest first. Failed calls are included, with Err set.
func (r *Runtime) Records(op Op, m Match) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.history {
		if rec.Matches(op, m) {
			out = append(out, rec)
		}
	}
	return out
}

// record appends to the history. r.mu is held.
func (r *Runtime) record(rec Record, err error) {
	if r.historyLimit == 0 {
		return
	}
	rec.Time = r.clock.Now()
	if rec.Op == OpExit {
		rec.Time = r.containers[rec.ID].finishedOr(rec.Time)
	}
	rec.Err = err
	if r.historyLimit > 0 && len(r.history) >= r.historyLimit {
		n := copy(r.history, r.history[len(r.history)-r.historyLimit+1:])
		r.history = r.history[:n]
	}
	r.history = append(r.history, rec)
}

func (c *container) finishedOr(t time.Time) time.Time {
	if c == nil || c.finished.IsZero() {
		return t
	}
	return c.finished
}

type subscriber struct {
	ch chan runtime.Event
}

// eventBuffer is a watcher's queue; a watcher that lets it fill is ended.
// It is small because a process may hold thousands of fake runtimes.
const eventBuffer = 256

// WatchEvents implements runtime.EventWatcher. A watcher that falls
// eventBuffer events behind is ended (its channel closed), as are all of
// them when the runtime becomes unavailable or is closed.
func (r *Runtime) WatchEvents(ctx context.Context) (<-chan runtime.Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return nil, err
	}
	s := &subscriber{ch: make(chan runtime.Event, eventBuffer)}
	r.subs[s] = struct{}{}
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.endSubscriber(s)
	})
	return s.ch, nil
}

func (r *Runtime) endSubscriber(s *subscriber) {
	if _, ok := r.subs[s]; ok {
		delete(r.subs, s)
		close(s.ch)
	}
}

func (r *Runtime) endSubscribers() {
	for s := range r.subs {
		r.endSubscriber(s)
	}
}

// publish sends ev to every watcher without blocking. r.mu is held.
func (r *Runtime) publish(ev runtime.Event) {
	for s := range r.subs {
		select {
		case s.ch <- ev:
		default:
			r.endSubscriber(s)
		}
	}
}

// ContainerConfig is the configuration a container was created with.
type ContainerConfig struct {
	ID     string
	Config runtime.ContainerConfig
}

// Configs returns the configurations of the containers that exist, oldest
// first, for tests that check what a container was given (env, mounts,
// resources).
func (r *Runtime) Configs() []ContainerConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := make([]*container, 0, len(r.containers))
	for _, c := range r.containers {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *container) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]ContainerConfig, len(cs))
	for i, c := range cs {
		out[i] = ContainerConfig{ID: c.id, Config: cloneConfig(&c.cfg)}
	}
	return out
}
