// Package events records Event objects in a store, folding repeats into a
// count as Kubernetes' event correlator does, and expires old ones.
package events

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
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
	seen   *lru.Cache[eventKey, objects.Key] // event object of each recent repeat key
	batch  *batcher                          // shared with every WithSource copy
}

type eventKey struct {
	uid, kind, ns, name  string
	typ, reason, message string
	component, host      string
}

// maxBatch bounds the events of one transaction, so that the store's write
// lock is never held for long.
const maxBatch = 512

// New returns a recorder writing to s, reporting as source, whose Run
// deletes events not seen again for ttl.
func New(s store.Store, clk clockwork.Clock, log *slog.Logger, source Source, ttl time.Duration) *Recorder {
	c, _ := lru.New[eventKey, objects.Key](4096) // size is a positive constant: no error
	return &Recorder{store: s, clock: clk, log: log, source: source, ttl: ttl, seen: c, batch: &batcher{}}
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
	ev   *objects.Event // what to create if the key is not a recent repeat
	now  time.Time
	err  error
	lead bool          // set before wake: write the next batch
	wake chan struct{} // the event is written, or lead is set
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
		ev: &objects.Event{
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
		now:  now,
		wake: make(chan struct{}, 1),
	}

	b := r.batch
	b.mu.Lock()
	b.queue = append(b.queue, p)
	if b.leading {
		b.mu.Unlock()
		<-p.wake
		if !p.lead {
			return p.err
		}
		b.mu.Lock()
	} else {
		b.leading = true
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
		next.wake <- struct{}{}
	} else {
		b.leading = false
	}
	b.mu.Unlock()
	for _, q := range batch {
		if err != nil {
			q.err = err
		}
		if q != p {
			q.wake <- struct{}{}
		}
	}
	return p.err
}

// write stores one event of a batch: a repeat of a recent event increments
// its count, anything else is a new Event. A failed write writes nothing,
// so the rest of the batch still commits.
func (r *Recorder) write(tx store.Tx, p *pending) error {
	if key, ok := r.seen.Get(p.key); ok {
		cur, err := tx.Get("Event", key)
		if err == nil {
			ev := cur.(*objects.Event)
			ev.Count++
			ev.LastTimestamp = objects.NewTime(p.now)
			ev.ResourceVersion = ""
			return tx.Update(ev)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	ev := p.ev
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
