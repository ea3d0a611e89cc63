package podkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Condition is what WaitFor waits for. It is called with each version of the
// object, or with nil while the object does not exist, and must not modify
// the object.
type Condition func(obj objects.Object) bool

// WaitFor blocks until cond holds for the object of obj's kind, namespace and
// name, or ctx ends. On success obj holds the version that satisfied cond
// (unchanged if that was "does not exist"). The error on timeout describes
// the last version seen.
func (o *Orchestrator) WaitFor(ctx context.Context, obj objects.Object, cond Condition) error {
	info, err := o.scheme.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	key := keyOf(info, obj)
	var last objects.Object
	for {
		var rev int64
		err := o.store.View(ctx, func(tx store.ReadTx) error {
			rev = tx.Revision()
			got, err := tx.Get(info.Kind, key)
			switch {
			case errors.Is(err, store.ErrNotFound):
				last = nil
			case err != nil:
				return err
			default:
				last = got
			}
			return nil
		})
		if err != nil {
			return err
		}
		if cond(last) {
			if last != nil {
				copyInto(obj, last)
			}
			return nil
		}
		w, err := o.store.Watch(ctx, store.WatchOptions{Kind: info.Kind, Revision: rev,
			ListOptions: store.ListOptions{Namespace: key.Namespace}})
		if err != nil {
			return err
		}
		done, err := o.waitWatch(ctx, w, key, cond, &last)
		w.Stop()
		if done {
			if last != nil {
				copyInto(obj, last)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s %s: %w; last seen: %s", info.Kind, key, err, describe(last))
		}
		// The watch fell behind: read the object again and resume.
	}
}

func (o *Orchestrator) waitWatch(ctx context.Context, w store.Watcher, key objects.Key, cond Condition, last *objects.Object) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.Events():
			if !ok {
				if err := w.Err(); err != nil && !errors.Is(err, store.ErrFellBehind) {
					return false, err
				}
				if ctx.Err() != nil {
					return false, ctx.Err()
				}
				return false, nil
			}
			if ev.Key() != key {
				continue
			}
			if ev.Type == store.Deleted {
				*last = nil
			} else {
				*last = ev.Object()
			}
			if cond(*last) {
				return true, nil
			}
		}
	}
}

// describe summarises an object for a timeout message: its status, or that
// it does not exist.
func describe(obj objects.Object) string {
	if obj == nil {
		return "the object does not exist"
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Sprintf("%T (unprintable: %v)", obj, err)
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil {
		if st, ok := m["status"]; ok {
			b = st
		}
	}
	const max = 600
	if len(b) > max {
		return "status " + string(b[:max]) + "..."
	}
	return "status " + string(b)
}

// WaitUntil is the typed form of WaitFor: it blocks until cond holds for the
// object of type T in namespace (empty for cluster-scoped kinds) with name,
// and returns the version that satisfied it. While the object does not
// exist, cond is called with T's zero value (a nil pointer); when that
// satisfies cond, the zero value is returned.
//
//	d, err := podkit.WaitUntil(ctx, o, "default", "web", func(d *objects.Deployment) bool {
//		return d != nil && d.Status.ReadyReplicas == 3
//	})
func WaitUntil[T objects.Object](ctx context.Context, o *Orchestrator, namespace, name string, cond func(T) bool) (T, error) {
	var zero T
	info, err := objects.KindFor[T](o.scheme)
	if err != nil {
		return zero, err
	}
	obj := info.New()
	meta := obj.GetObjectMeta()
	meta.Namespace, meta.Name = namespace, name
	found := false
	err = o.WaitFor(ctx, obj, func(got objects.Object) bool {
		if got == nil {
			found = false
			return cond(zero)
		}
		found = true
		return cond(got.(T))
	})
	if err != nil || !found {
		return zero, err
	}
	return obj.(T), nil
}
