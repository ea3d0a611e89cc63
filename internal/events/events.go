// Package events records Event objects in a store, folding repeats into a
// count as Kubernetes' event correlator does, and expires old ones.
package events

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
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
type Recorder struct {
	store  store.Store
	clock  clockwork.Clock
	log    *slog.Logger
	source Source
	ttl    time.Duration
	seen   *lru.Cache[eventKey, objects.Key] // event object of each recent repeat key
}

type eventKey struct {
	uid, kind, ns, name  string
	typ, reason, message string
	component, host      string
}

// New returns a recorder writing to s, reporting as source, whose Run
// deletes events not seen again for ttl.
func New(s store.Store, clk clockwork.Clock, log *slog.Logger, source Source, ttl time.Duration) *Recorder {
	c, _ := lru.New[eventKey, objects.Key](4096) // size is a positive constant: no error
	return &Recorder{store: s, clock: clk, log: log, source: source, ttl: ttl, seen: c}
}

// WithSource returns a recorder sharing r's store and repeat cache that
// reports as src.
func (r *Recorder) WithSource(src Source) *Recorder {
	c := *r
	c.source = src
	return &c
}

// Event records an event about obj in obj's namespace ("default" for
// cluster-scoped objects). Errors are logged, not returned: events are best
// effort, as in Kubernetes.
func (r *Recorder) Event(ctx context.Context, obj objects.Object, eventType, reason, message string) {
	if err := r.write(ctx, obj, eventType, reason, message); err != nil && ctx.Err() == nil {
		r.log.Warn("event not recorded", "reason", reason, "message", message, "err", err)
	}
}

func (r *Recorder) write(ctx context.Context, obj objects.Object, eventType, reason, message string) error {
	src := r.source
	tm, meta := obj.GetTypeMeta(), obj.GetObjectMeta()
	if tm.Kind == "" {
		if _, err := r.store.Scheme().SetTypeMeta(obj); err != nil {
			return err
		}
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
	k := eventKey{uid: meta.UID, kind: tm.Kind, ns: ns, name: meta.Name, typ: eventType, reason: reason,
		message: message, component: src.Component, host: src.Host}
	now := r.clock.Now()
	return r.store.Update(ctx, func(tx store.Tx) error {
		if key, ok := r.seen.Get(k); ok {
			cur, err := tx.Get("Event", key)
			if err == nil {
				ev := cur.(*objects.Event)
				ev.Count++
				ev.LastTimestamp = objects.NewTime(now)
				ev.ResourceVersion = ""
				return tx.Update(ev)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		ev := &objects.Event{
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
		}
		if err := tx.Create(ev); err != nil {
			if errors.Is(err, store.ErrAlreadyExists) { // same object, same nanosecond
				ev.Name += "-" + strconv.Itoa(int(now.Nanosecond()%997))
				err = tx.Create(ev)
			}
			if err != nil {
				return err
			}
		}
		r.seen.Add(k, ev.Key())
		return nil
	})
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
