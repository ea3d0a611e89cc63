package nodeagent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/store"
)

// writeOp is one write of a batch. It reads what it updates inside the
// transaction, so it never conflicts; an op whose object is gone returns
// nil. An error skips the op and is logged; the batch still commits.
type writeOp func(tx store.Tx) error

// writer batches the status writes of one or many agents: every op queued
// while a transaction runs goes into the next one, and a later op for the
// same key replaces a queued one. Under load the store sees few large
// transactions instead of one per pod; when idle, a write goes out at once.
type writer struct {
	store  store.Store
	clock  clockwork.Clock
	log    *slog.Logger
	max    int
	pause  time.Duration
	mu     sync.Mutex
	queue  map[writeKey]writeOp // made when needed (see take)
	order  []writeKey
	peak   int // the most ops queued since queue was made
	kick   chan struct{}
	commit func(n int) // test hook: called after each transaction
}

func newWriter(s store.Store, cfg *config) *writer {
	return &writer{store: s, clock: cfg.clock, log: cfg.log, max: cfg.batch, pause: cfg.batchInterval,
		kick: make(chan struct{}, 1)}
}

// keptQueue is the most ops the queue keeps room for once drained: a
// queue made for every burst would cost a burst more than it saves.
const keptQueue = 4096

// writeKey names what an op writes: a later op for it replaces a queued
// one.
type writeKey struct {
	kind string // "pod" (by UID), "node" or "lease" (by node name)
	name string
}

// submit queues op under key, replacing an op still queued under it.
func (w *writer) submit(key writeKey, op writeOp) {
	w.mu.Lock()
	if w.queue == nil {
		w.queue = map[writeKey]writeOp{}
	}
	if _, ok := w.queue[key]; !ok {
		w.order = append(w.order, key)
		w.peak = max(w.peak, len(w.order))
	}
	w.queue[key] = op
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *writer) take() []writeOp {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.order), w.max)
	ops := make([]writeOp, 0, n)
	for _, k := range w.order[:n] {
		ops = append(ops, w.queue[k])
		delete(w.queue, k)
	}
	// Taken from the front, not moved there: a burst queues ops by the
	// thousand.
	w.order = w.order[n:]
	if len(w.order) > 0 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
		return ops
	}
	w.order = nil
	if w.peak > keptQueue {
		// Drained after a burst: its queue is let go rather than kept at
		// that size for good.
		w.queue, w.peak = nil, 0
	}
	return ops
}

// run writes batches until ctx ends. Ops still queued then are dropped: the
// next agent recomputes every status from the runtime.
func (w *writer) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.kick:
		}
		ops := w.take()
		if len(ops) == 0 {
			continue
		}
		err := w.store.Update(ctx, func(tx store.Tx) error {
			for _, op := range ops {
				if err := op(tx); err != nil && !errors.Is(err, store.ErrNotFound) {
					w.log.Warn("status write skipped", "err", err)
				}
			}
			return nil
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, store.ErrClosed):
			return err
		case err != nil:
			w.log.Error("status batch failed", "ops", len(ops), "err", err)
		}
		if w.commit != nil {
			w.commit(len(ops))
		}
		if w.pause > 0 {
			t := w.clock.NewTimer(w.pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.Chan():
			}
		}
	}
}
