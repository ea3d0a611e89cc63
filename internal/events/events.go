// Package events records Event objects in a store, folding repeats into a
// count and combining many similar events about one object as Kubernetes'
// event correlator does, and expires old ones.
package events

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Event types, as Kubernetes names them.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

const defaultNamespace = "default"

// Source names who reports an event: a component and, for node agents, the
// node.
type Source struct {
	Component string
	Host      string
}

// Recorder writes Event objects. It is safe for concurrent use.
//
// Events recorded at the same time by different goroutines share one store
// transaction (a group commit): the first caller writes every event queued
// while the previous transaction ran, the others wait for it. A burst of
// events (a few per pod while thousands of pods start) costs a few
// transactions instead of one each.
type Recorder struct {
	store  store.Store
	clock  clockwork.Clock
	log    *slog.Logger
	source Source
	ttl    time.Duration
	seen   *recentCache[eventKey, objects.Key] // event object of each recent repeat key
	// similar holds, per event key without its message, the messages seen
	// recently: past maxSimilar of them, the event is combined.
	similar *recentCache[eventKey, *similarRecord]
	batch   *batcher // shared with every WithSource copy
}

type eventKey struct {
	uid, kind, ns, name  string
	typ, reason, message string
	component, host      string
	combined             bool // the key of a combined event (message empty)
}

// Kubernetes' EventAggregator: when an object gets maxSimilar events of
// the same type and reason (and source) with distinct messages within
// similarInterval, the later ones are recorded as one event, "(combined
// from similar events): <latest message>", whose count grows. A
// ReplicaSet creating 30 pods records 9 "Created pod" events and a
// combined one, as a Kubernetes cluster shows.
const (
	maxSimilar      = 10
	similarInterval = 10 * time.Minute
	combinedPrefix  = "(combined from similar events): "
)

// similarRecord is what aggregate remembers of one key: most keys (a pod's
// "Started") only ever see one message, which needs no set.
type similarRecord struct {
	first    string
	messages map[string]struct{} // from the second distinct message on
	last     time.Time
}

// add records a message and returns how many distinct ones the record holds.
func (s *similarRecord) add(msg string) int {
	if s.messages == nil {
		if msg == s.first {
			return 1
		}
		s.messages = map[string]struct{}{s.first: {}}
	}
	s.messages[msg] = struct{}{}
	return len(s.messages)
}

// maxBatch bounds the events of one transaction, so that the store's write
// lock is never held for long.
const maxBatch = 512

// New returns a recorder writing to s, reporting as source, whose Run
// deletes events not seen again for ttl.
func New(s store.Store, clk clockwork.Clock, log *slog.Logger, source Source, ttl time.Duration) *Recorder {
	c := newRecentCache[eventKey, objects.Key](4096)
	sim := newRecentCache[eventKey, *similarRecord](4096)
	return &Recorder{store: s, clock: clk, log: log, source: source, ttl: ttl, seen: c, similar: sim, batch: &batcher{}}
}

// WithSource returns a recorder sharing r's store, repeat cache and
// transactions that reports as src.
func (r *Recorder) WithSource(src Source) *Recorder {
	c := *r
	c.source = src
	return &c
}

// Event records an event about obj in obj's namespace ("default" for
// cluster-scoped objects). It returns once the event is stored. Errors are
// logged, not returned: events are best effort, as in Kubernetes.
func (r *Recorder) Event(ctx context.Context, obj objects.Object, eventType, reason, message string) {
	if err := r.record(ctx, obj, eventType, reason, message); err != nil && ctx.Err() == nil {
		r.log.Warn("event not recorded", "reason", reason, "message", message, "err", err)
	}
}

// pending is an event waiting for its transaction.
type pending struct {
	key  eventKey
	ev   objects.Event // what to create if the key is not a recent repeat
	now  time.Time
	err  error
	lead bool // set before wake: write the next batch
	// wake is done once: the event is written, or lead is set.
	wake sync.WaitGroup
}

// batcher queues events for the next transaction. One caller at a time,
// the leader, writes a batch; when it is done it hands the lead to the
// first event queued meanwhile, so no caller writes more than one batch.
type batcher struct {
	mu      sync.Mutex
	queue   []*pending
	leading bool
}

func (r *Recorder) record(ctx context.Context, obj objects.Object, eventType, reason, message string) error {
	src := r.source
	tm, meta := obj.GetTypeMeta(), obj.GetObjectMeta()
	if tm.Kind == "" {
		if _, err := r.store.Scheme().SetTypeMeta(obj); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ref := objects.ObjectReference{
		APIVersion: tm.APIVersion, Kind: tm.Kind, Namespace: meta.Namespace,
		Name: meta.Name, UID: meta.UID, ResourceVersion: meta.ResourceVersion,
	}
	ns := meta.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	if eventType == "" {
		eventType = Normal
	}
	now := r.clock.Now()
	p := &pending{
		key: eventKey{uid: meta.UID, kind: tm.Kind, ns: ns, name: meta.Name, typ: eventType, reason: reason,
			message: message, component: src.Component, host: src.Host},
		ev: objects.Event{
			ObjectMeta: objects.ObjectMeta{
				Name:      meta.Name + "." + strconv.FormatInt(now.UnixNano(), 16),
				Namespace: ns,
			},
			InvolvedObject:      ref,
			Reason:              reason,
			Message:             message,
			Type:                eventType,
			Source:              objects.EventSource{Component: src.Component, Host: src.Host},
			FirstTimestamp:      objects.NewTime(now),
			LastTimestamp:       objects.NewTime(now),
			Count:               1,
			ReportingController: src.Component,
			ReportingInstance:   src.Host,
		},
		now: now,
	}
	p.wake.Add(1)

	b := r.batch
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.leading {
		b.mu.Unlock()
		p.wake.Wait()
		if !p.lead {
			return p.err
		}
		b.mu.Lock()
	} else {
		b.leading = true
		// Let the callers already running queue their events before the
		// batch is taken: one more event in this transaction is one
		// transaction fewer, each copying its path of the store's tree.
		b.mu.Unlock()
		runtime.Gosched()
		b.mu.Lock()
	}
	n := min(len(b.queue), maxBatch)
	batch := b.queue[:n:n]
	b.queue = append([]*pending(nil), b.queue[n:]...)
	b.mu.Unlock()

	// The batch is written whatever becomes of the context of the caller
	// that happens to lead it: the others are waiting for their events.
	err := r.store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		for _, q := range batch {
			q.err = r.write(tx, q)
		}
		return nil
	})

	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		next.lead = true
		next.wake.Done()
	} else {
		b.leading = false
	}
	b.mu.Unlock()
	for _, q := range batch {
		if err != nil {
			q.err = err
		}
		if q != p {
			q.wake.Done()
		}
	}
	return p.err
}

// aggregate turns p into its combined event when its object had too many
// similar ones lately (see maxSimilar). Batches are written one at a time,
// so calls do not overlap.
func (r *Recorder) aggregate(p *pending) {
	k := p.key
	k.message = ""
	rec, ok := r.similar.Get(k)
	if !ok || p.now.Sub(rec.last) > similarInterval {
		r.similar.Add(k, &similarRecord{first: p.key.message, last: p.now})
		return
	}
	rec.last = p.now
	if rec.add(p.key.message) < maxSimilar {
		return
	}
	for m := range rec.messages { // grow no further
		delete(rec.messages, m)
		break
	}
	k.combined = true
	p.key = k
	p.ev.Message = combinedPrefix + p.ev.Message
}

// write stores one event of a batch: a repeat of a recent event increments
// its count, anything else is a new Event. A failed write writes nothing,
// so the rest of the batch still commits.
func (r *Recorder) write(tx store.Tx, p *pending) error {
	r.aggregate(p)
	if key, ok := r.seen.Get(p.key); ok {
		cur, err := tx.Get("Event", key)
		if err == nil {
			ev := cur.(*objects.Event)
			ev.Count++
			ev.LastTimestamp = objects.NewTime(p.now)
			ev.Message = p.ev.Message
			ev.ResourceVersion = ""
			return tx.Update(ev)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	ev := &p.ev
	if err := tx.Create(ev); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) { // same object, same nanosecond
			ev.Name += "-" + strconv.Itoa(int(p.now.Nanosecond()%997))
			err = tx.Create(ev)
		}
		if err != nil {
			return err
		}
	}
	r.seen.Add(p.key, ev.Key())
	return nil
}

// Run deletes events whose last occurrence is older than the TTL,
// as Kubernetes expires them.
func (r *Recorder) Run(ctx context.Context) error {
	ttl := r.ttl
	every := min(ttl/10, time.Minute)
	t := r.clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
		if err := r.expire(ctx, r.clock.Now().Add(-ttl)); err != nil && ctx.Err() == nil {
			r.log.Warn("expiring events", "err", err)
		}
	}
}

func (r *Recorder) expire(ctx context.Context, before time.Time) error {
	return r.store.Update(ctx, func(tx store.Tx) error {
		evs, err := tx.List("Event", store.ListOptions{})
		if err != nil {
			return err
		}
		for _, obj := range evs {
			ev := obj.(*objects.Event)
			last := ev.LastTimestamp.Time
			if last.IsZero() {
				last = ev.EventTime.Time
			}
			if last.Before(before) {
				if _, err := tx.Delete("Event", ev.Key(), store.DeleteOptions{}); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
}
