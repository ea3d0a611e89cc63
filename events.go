package podkit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// recorder writes Event objects, folding repeats of one event (same object,
// type, reason, message and source) into one object with a count, as
// Kubernetes' event correlator does.
type recorder struct {
	o    *Orchestrator
	seen *lru.Cache[eventKey, objects.Key] // event object of each recent repeat key
}

type eventKey struct {
	uid, kind, ns, name  string
	typ, reason, message string
	component, host      string
}

func newRecorder(o *Orchestrator) *recorder {
	c, _ := lru.New[eventKey, objects.Key](4096) // size is a positive constant: no error
	return &recorder{o: o, seen: c}
}

// EventSource names who reports an event: a component and, for node agents,
// the node.
type EventSource struct {
	Component string
	Host      string
}

// Event records an event about obj, visible as an Event object in obj's
// namespace ("default" for cluster-scoped objects) and to watchers of
// KindEvent. Repeats within the cache's reach increase the count of one
// Event object. Errors are logged, not returned: events are best effort, as
// in Kubernetes.
func (o *Orchestrator) Event(ctx context.Context, obj objects.Object, eventType, reason, message string) {
	o.events.record(ctx, EventSource{Component: o.cfg.name}, obj, eventType, reason, message)
}

// Eventf is Event with a format string.
func (o *Orchestrator) Eventf(ctx context.Context, obj objects.Object, eventType, reason, format string, args ...any) {
	o.Event(ctx, obj, eventType, reason, fmt.Sprintf(format, args...))
}

// EventFrom is Event with an explicit source, for components such as node
// agents that report under their own name.
func (o *Orchestrator) EventFrom(ctx context.Context, src EventSource, obj objects.Object, eventType, reason, message string) {
	o.events.record(ctx, src, obj, eventType, reason, message)
}

func (r *recorder) record(ctx context.Context, src EventSource, obj objects.Object, eventType, reason, message string) {
	if err := r.write(ctx, src, obj, eventType, reason, message); err != nil && ctx.Err() == nil {
		r.o.log.Warn("event not recorded", "reason", reason, "message", message, "err", err)
	}
}

func (r *recorder) write(ctx context.Context, src EventSource, obj objects.Object, eventType, reason, message string) error {
	tm, meta := obj.GetTypeMeta(), obj.GetObjectMeta()
	if tm.Kind == "" {
		if _, err := r.o.scheme.SetTypeMeta(obj); err != nil {
			return err
		}
	}
	ref := objects.ObjectReference{
		APIVersion: tm.APIVersion, Kind: tm.Kind, Namespace: meta.Namespace,
		Name: meta.Name, UID: meta.UID, ResourceVersion: meta.ResourceVersion,
	}
	ns := meta.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if eventType == "" {
		eventType = EventNormal
	}
	k := eventKey{uid: meta.UID, kind: tm.Kind, ns: ns, name: meta.Name, typ: eventType, reason: reason,
		message: message, component: src.Component, host: src.Host}
	now := r.o.clock.Now()
	return r.o.store.Update(ctx, func(tx store.Tx) error {
		if key, ok := r.seen.Get(k); ok {
			cur, err := tx.Get(KindEvent, key)
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

// collectGarbage deletes events whose last occurrence is older than the TTL,
// as Kubernetes expires them.
func (r *recorder) collectGarbage(ctx context.Context) error {
	ttl := r.o.cfg.eventTTL
	every := min(ttl/10, time.Minute)
	t := r.o.clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
		if err := r.expire(ctx, r.o.clock.Now().Add(-ttl)); err != nil && ctx.Err() == nil {
			r.o.log.Warn("expiring events", "err", err)
		}
	}
}

func (r *recorder) expire(ctx context.Context, before time.Time) error {
	return r.o.store.Update(ctx, func(tx store.Tx) error {
		evs, err := tx.List(KindEvent, store.ListOptions{})
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
				if _, err := tx.Delete(KindEvent, ev.Key(), store.DeleteOptions{}); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
}
