package reconcile

import (
	"context"
	"errors"
	"slices"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Namespace deletion, done by the garbage collector, which sees every
// object's changes and so knows when a terminating namespace empties.
// A namespace has the finalizer from its creation
// (objects.Namespace.PrepareForCreate), so that one deleted while the
// collector is not running waits for it.

// processNamespace empties a terminating or vanished namespace and then
// removes its finalizer, and gives a live namespace without the
// finalizer (one stored before namespaces got it at creation, or whose
// finalizer was removed by hand) its finalizer.
func (gc *garbageCollector) processNamespace(ctx context.Context, name string) error {
	var ns *objects.Namespace
	err := gc.s.View(ctx, func(tx store.ReadTx) error {
		o, err := tx.Get(kindNamespace, objects.Key{Name: name})
		if err == nil {
			ns = o.(*objects.Namespace)
		}
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if ns != nil && !ns.IsDeleting() {
		if ns.HasFinalizer(namespaceFinalizer) {
			return nil
		}
		return gc.c.Txn(ctx, func(tx store.Tx) error {
			o, err := tx.Get(kindNamespace, objects.Key{Name: name})
			if err != nil {
				return err
			}
			m := o.GetObjectMeta()
			if m.IsDeleting() || m.HasFinalizer(namespaceFinalizer) {
				return nil
			}
			m.Finalizers = append(m.Finalizers, namespaceFinalizer)
			return tx.Update(o)
		})
	}
	if ns != nil && ns.Status.Phase != objects.NamespaceTerminating {
		ns.Status.Phase = objects.NamespaceTerminating
		if err := gc.c.UpdateStatus(ctx, ns); err != nil {
			return err
		}
	}
	empty, err := gc.deleteContent(ctx, name)
	if err != nil || !empty {
		return err
	}
	if ns == nil {
		gc.mu.Lock()
		if gc.namespaces[name] == nsTerminating {
			delete(gc.namespaces, name)
		}
		gc.mu.Unlock()
		return nil
	}
	gc.log.Info("namespace emptied", "namespace", name)
	return gc.c.Txn(ctx, func(tx store.Tx) error {
		o, err := tx.Get(kindNamespace, objects.Key{Name: name})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m := o.GetObjectMeta()
		if m.UID != ns.UID || !m.HasFinalizer(namespaceFinalizer) {
			return nil
		}
		m.Finalizers = slices.DeleteFunc(slices.Clone(m.Finalizers), func(f string) bool { return f == namespaceFinalizer })
		return tx.Update(o)
	})
}

// deleteContent deletes every object in the namespace that is not yet
// being deleted, and reports whether nothing is left.
func (gc *garbageCollector) deleteContent(ctx context.Context, ns string) (bool, error) {
	empty := true
	err := gc.c.Txn(ctx, func(tx store.Tx) error {
		empty = true
		for _, k := range gc.s.Scheme().Kinds() {
			if !k.Namespaced {
				continue
			}
			objs, err := tx.List(k.Kind, store.ListOptions{Namespace: ns})
			if err != nil {
				return err
			}
			for _, o := range objs {
				empty = false
				if o.GetObjectMeta().IsDeleting() {
					continue
				}
				err := store.Remove(tx, k.Kind, o.GetObjectMeta().Key(), store.DeleteOptions{
					Preconditions: &store.Preconditions{UID: o.GetObjectMeta().UID},
				})
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if !empty {
		// Objects deleted just now may be gone already; look again.
		err = gc.s.View(ctx, func(tx store.ReadTx) error {
			empty = true
			for _, k := range gc.s.Scheme().Kinds() {
				if !k.Namespaced {
					continue
				}
				objs, err := tx.List(k.Kind, store.ListOptions{Namespace: ns})
				if err != nil {
					return err
				}
				if len(objs) > 0 {
					empty = false
					return nil
				}
			}
			return nil
		})
	}
	return empty, err
}
