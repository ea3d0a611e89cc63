package fake

import (
	"context"
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
	// RuntimeHandler is the sandbox's, for OpRunSandbox.
	RuntimeHandler string
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
	older, newer := r.records()
	return append(append([]Record(nil), older...), newer...)
}

// records returns the history, oldest first, in two parts. r.mu is held.
func (r *Runtime) records() (older, newer []Record) {
	return r.history[r.historyHead:], r.history[:r.historyHead]
}

// Records returns the records of op ("" for any) about what m matches,
// oldest first. Failed calls are included, with Err set.
func (r *Runtime) Records(op Op, m Match) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	older, newer := r.records()
	for _, part := range [][]Record{older, newer} {
		for _, rec := range part {
			if rec.Matches(op, m) {
				out = append(out, rec)
			}
		}
	}
	return out
}

// record appends to the history. r.mu is held.
func (r *Runtime) record(rec Record, err error) {
	if r.historyLimit == 0 {
		return
	}
	if rec.Time.IsZero() {
		rec.Time = r.clock.Now()
	}
	rec.Err = err
	if r.historyLimit > 0 && len(r.history) == r.historyLimit {
		// A ring: the newest record takes the place of the oldest.
		r.history[r.historyHead] = rec
		r.historyHead = (r.historyHead + 1) % r.historyLimit
		return
	}
	r.history = append(r.history, rec)
}

// subscriber is one event watch. Its channel is small; events it has no
// room for wait in queue, which a goroutine of the runtime's, started only
// while there are such events, moves into it in order. Memory follows what
// the watcher has yet to read, not the most it may fall behind: a process
// may hold thousands of fake runtimes.
type subscriber struct {
	ctx     context.Context
	ch      chan runtime.Event
	queue   []runtime.Event // oldest first, after those in ch
	pumping bool            // pump runs; it closes ch once ended
	ended   bool
}

const (
	// eventChan is the room in a watcher's channel.
	eventChan = 4
	// eventBuffer is how far a watcher may fall behind before it is ended.
	eventBuffer = 256
)

// WatchEvents implements runtime.EventWatcher. A watcher that falls
// eventBuffer events behind is ended (its channel closed once it has the
// events before), as are all of them when the runtime becomes unavailable
// or is closed. Events are delivered in order, none skipped, until then.
func (r *Runtime) WatchEvents(ctx context.Context) (<-chan runtime.Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return nil, err
	}
	s := &subscriber{ctx: ctx, ch: make(chan runtime.Event, eventChan)}
	r.subs[s] = struct{}{}
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.endSubscriber(s)
	})
	return s.ch, nil
}

// endSubscriber stops events to s; its channel is closed once what is
// queued is delivered (or its context ends). r.mu is held.
func (r *Runtime) endSubscriber(s *subscriber) {
	if _, ok := r.subs[s]; !ok {
		return
	}
	delete(r.subs, s)
	s.ended = true
	if !s.pumping {
		close(s.ch)
	}
}

func (r *Runtime) endSubscribers() {
	for s := range r.subs {
		r.endSubscriber(s)
	}
}

// publish queues ev to every watcher without blocking. r.mu is held.
func (r *Runtime) publish(ev runtime.Event) {
	for s := range r.subs {
		if len(s.queue) == 0 {
			select {
			case s.ch <- ev:
				continue
			default:
			}
		}
		if len(s.ch)+len(s.queue) >= eventBuffer {
			r.endSubscriber(s)
			continue
		}
		s.queue = append(s.queue, ev)
		if !s.pumping {
			s.pumping = true
			go r.pump(s)
		}
	}
}

// pump moves s's queued events into its channel until none are left, or
// the watcher's context ends.
func (r *Runtime) pump(s *subscriber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(s.queue) > 0 {
		ev := s.queue[0]
		r.mu.Unlock()
		select {
		case s.ch <- ev:
		case <-s.ctx.Done():
			r.mu.Lock()
			s.queue = nil
			continue
		}
		r.mu.Lock()
		s.queue[0] = runtime.Event{}
		s.queue = s.queue[1:]
	}
	s.queue = nil // let go of what a burst grew
	s.pumping = false
	if s.ended {
		close(s.ch)
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
	cs := inOrder(r.containers, func(*container) bool { return true })
	out := make([]ContainerConfig, len(cs))
	for i, c := range cs {
		out[i] = ContainerConfig{ID: c.id, Config: c.config()}
	}
	return out
}
