// Package workqueue is the queue between a controller's event handlers and
// its workers: it de-duplicates keys, never hands one key to two workers at
// once, delays keys on a clock, and backs off keys that keep failing.
//
// The semantics are client-go's workqueue: a key added while queued is
// queued once; a key added while a worker holds it is queued again when the
// worker calls Done, so no change is lost and no key is processed twice
// concurrently.
package workqueue

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// Defaults of Options.
const (
	DefaultBaseDelay = 5 * time.Millisecond
	DefaultMaxDelay  = 1000 * time.Second
)

// Options configure a Queue. The zero value is usable.
type Options struct {
	// Clock times AddAfter (default the real clock).
	Clock clockwork.Clock
	// BackoffClock times AddRateLimited (default the real clock). It is
	// separate so that a test driving Clock by hand still sees failed keys
	// retried without advancing it.
	BackoffClock clockwork.Clock
	// BaseDelay and MaxDelay bound the per-key exponential backoff:
	// BaseDelay * 2^failures, at most MaxDelay.
	BaseDelay time.Duration
	MaxDelay  time.Duration
}

// Queue is a de-duplicating, delaying, rate-limited work queue. It is safe
// for concurrent use. The zero value is not usable; call New.
type Queue[T comparable] struct {
	clock, backoffClock clockwork.Clock
	base, max           time.Duration

	mu         sync.Mutex
	cond       *sync.Cond
	queue      []T
	dirty      map[T]struct{}
	processing map[T]struct{}
	waiting    map[T]*delayed
	failures   map[T]int
	shutdown   bool
}

type delayed struct {
	at    time.Time
	timer clockwork.Timer
}

// New returns an empty queue.
func New[T comparable](o Options) *Queue[T] {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.BackoffClock == nil {
		o.BackoffClock = clockwork.NewRealClock()
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = DefaultBaseDelay
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	q := &Queue[T]{
		clock: o.Clock, backoffClock: o.BackoffClock, base: o.BaseDelay, max: o.MaxDelay,
		dirty: map[T]struct{}{}, processing: map[T]struct{}{},
		waiting: map[T]*delayed{}, failures: map[T]int{},
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues item unless it is already queued. An item a worker holds is
// queued again when the worker calls Done.
func (q *Queue[T]) Add(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(item)
}

func (q *Queue[T]) addLocked(item T) {
	if q.shutdown {
		return
	}
	if _, ok := q.dirty[item]; ok {
		return
	}
	q.dirty[item] = struct{}{}
	if _, ok := q.processing[item]; ok {
		return
	}
	q.queue = append(q.queue, item)
	q.cond.Signal()
}

// AddAfter queues item once d has passed on the queue's clock. If item is
// already waiting to be queued earlier, the earlier time stands.
func (q *Queue[T]) AddAfter(item T, d time.Duration) {
	q.addAfter(item, d, q.clock)
}

// AddRateLimited queues item after its backoff, which doubles with every
// call until Forget.
func (q *Queue[T]) AddRateLimited(item T) {
	q.mu.Lock()
	n := q.failures[item]
	q.failures[item] = n + 1
	q.mu.Unlock()
	q.addAfter(item, q.backoff(n), q.backoffClock)
}

func (q *Queue[T]) backoff(failures int) time.Duration {
	d := q.base
	for i := 0; i < failures; i++ {
		d *= 2
		if d >= q.max || d <= 0 {
			return q.max
		}
	}
	return min(d, q.max)
}

func (q *Queue[T]) addAfter(item T, d time.Duration, clk clockwork.Clock) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	if d <= 0 {
		q.addLocked(item)
		return
	}
	at := clk.Now().Add(d)
	if w, ok := q.waiting[item]; ok {
		if !w.at.After(at) {
			return
		}
		w.timer.Stop()
	}
	w := &delayed{at: at}
	w.timer = clk.AfterFunc(d, func() { q.fire(item, w) })
	q.waiting[item] = w
}

func (q *Queue[T]) fire(item T, w *delayed) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiting[item] == w {
		delete(q.waiting, item)
	}
	q.addLocked(item)
}

// Forget resets item's backoff; call it when item was processed without
// error.
func (q *Queue[T]) Forget(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, item)
}

// NumRequeues returns how many times item was added rate-limited since the
// last Forget.
func (q *Queue[T]) NumRequeues(item T) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.failures[item]
}

// Get blocks until an item is queued and hands it to the caller, who must
// call Done with it. After ShutDown it returns shutdown true.
func (q *Queue[T]) Get() (item T, shutdown bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queue) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return item, true
	}
	item = q.queue[0]
	var zero T
	q.queue[0] = zero
	q.queue = q.queue[1:]
	q.processing[item] = struct{}{}
	delete(q.dirty, item)
	return item, false
}

// Done marks item as processed; if it was added meanwhile it is queued
// again.
func (q *Queue[T]) Done(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, item)
	if _, ok := q.dirty[item]; ok && !q.shutdown {
		q.queue = append(q.queue, item)
		q.cond.Signal()
	}
}

// Len returns the number of queued items (not those held by workers or
// waiting for their time).
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// Waiting returns the number of items waiting for their time.
func (q *Queue[T]) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// ShutDown stops the queue: waiting timers are stopped, Get returns
// shutdown to every caller, and later adds are ignored.
func (q *Queue[T]) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	q.shutdown = true
	for item, w := range q.waiting {
		w.timer.Stop()
		delete(q.waiting, item)
	}
	q.queue = nil
	q.cond.Broadcast()
}

// ShuttingDown reports whether ShutDown was called.
func (q *Queue[T]) ShuttingDown() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shutdown
}
