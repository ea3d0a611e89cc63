package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// NewControllerRef returns an owner reference to owner marked controller
// and blocking the owner's foreground deletion, as Kubernetes' controllers
// set it on what they create. owner must carry its apiVersion and kind, as
// every object read from a store or cache does.
func NewControllerRef(owner objects.Object) objects.OwnerReference {
	tm, m := owner.GetTypeMeta(), owner.GetObjectMeta()
	yes := true
	return objects.OwnerReference{
		APIVersion: tm.APIVersion, Kind: tm.Kind, Name: m.Name, UID: m.UID,
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

// indexOrphans indexes, in the caches only, the objects without a
// controller by namespace, so that a controller finds the orphans it may
// adopt without scanning its namespace.
const indexOrphans = "podkit.io/orphans-by-namespace"

var orphanIndex = store.FieldIndex{Field: indexOrphans, Func: func(obj objects.Object) []string {
	m := obj.GetObjectMeta()
	if m.ControllerRef() != nil {
		return nil
	}
	return []string{m.Namespace}
}}

// listFunc is Client.list or Client.listShared.
type listFunc func(ctx context.Context, kind string, opts store.ListOptions, keep func(objects.Object) bool) ([]objects.Object, error)

// listClaimCandidates returns the objects of kind in namespace that the
// owner with uid controls or that have no controller, that keep accepts:
// what a claimer looks at. list is how they are read (copies or shared).
func listClaimCandidates(ctx context.Context, list listFunc, kind, namespace, uid string, keep func(objects.Object) bool) ([]objects.Object, error) {
	owned, err := list(ctx, kind, store.ListOptions{Namespace: namespace, Fields: map[string]string{store.IndexOwner: uid}},
		func(o objects.Object) bool {
			ref := o.GetObjectMeta().ControllerRef()
			return ref != nil && ref.UID == uid && keep(o)
		})
	if err != nil {
		return nil, err
	}
	orphans, err := list(ctx, kind, store.ListOptions{Namespace: namespace, Fields: map[string]string{indexOrphans: namespace}}, keep)
	if errors.Is(err, store.ErrUnknownIndex) {
		// No cache of kind: scan the namespace in the store.
		orphans, err = list(ctx, kind, store.ListOptions{Namespace: namespace}, func(o objects.Object) bool {
			return o.GetObjectMeta().ControllerRef() == nil && keep(o)
		})
	}
	if err != nil {
		return nil, err
	}
	return append(owned, orphans...), nil
}

// claimPods returns the pods owner controls, after adopting the orphans
// its selector matches and releasing its pods that stopped matching; keep
// (nil: all) narrows the candidates further. list is how they are read:
// with Client.listShared the pods are the cache's own, read-only.
func claimPods(ctx context.Context, c *Client, list listFunc, owner objects.Object, sel objects.Selector, keep func(*objects.Pod) bool) ([]*objects.Pod, error) {
	m := owner.GetObjectMeta()
	objs, err := listClaimCandidates(ctx, list, kindPod, m.Namespace, m.UID, func(o objects.Object) bool {
		p := o.(*objects.Pod)
		return (p.ControllerRef() != nil || sel.Matches(p.Labels)) && (keep == nil || keep(p))
	})
	if err != nil {
		return nil, err
	}
	claimed, err := (&claimer{c: c, owner: owner, kind: kindPod, selector: sel}).claim(ctx, objs)
	pods := make([]*objects.Pod, len(claimed))
	for i, o := range claimed {
		pods[i] = o.(*objects.Pod)
	}
	return pods, err
}

// claimer adopts and releases the dependents of one kind that an owner's
// selector picks, as Kubernetes' ControllerRefManager does: an orphan that
// matches is adopted (given a controller reference), an owned object that
// no longer matches is released (its reference removed), and objects
// another controller owns are left alone.
type claimer struct {
	c        *Client
	owner    objects.Object
	kind     string // of the dependents
	selector objects.Selector
}

// claim returns the objects among candidates that the owner controls after
// adopting and releasing. Candidates are only read (they may be a cache's
// own): an adopted object is returned as stored by the adoption.
func (cl *claimer) claim(ctx context.Context, candidates []objects.Object) ([]objects.Object, error) {
	om := cl.owner.GetObjectMeta()
	var (
		out  []objects.Object
		errs []error
	)
	for _, obj := range candidates {
		m := obj.GetObjectMeta()
		match := cl.selector.Matches(m.Labels)
		if ref := m.ControllerRef(); ref != nil {
			switch {
			case ref.UID != om.UID:
			case match:
				out = append(out, obj)
			case om.IsDeleting():
			default:
				if err := cl.release(ctx, obj); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if om.IsDeleting() || !match || m.IsDeleting() || (om.Namespace != "" && om.Namespace != m.Namespace) {
			continue
		}
		adopted, err := cl.adopt(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if adopted != nil {
			out = append(out, adopted)
		}
	}
	return out, errors.Join(errs...)
}

// adopt sets the owner as obj's controller, after checking in the same
// transaction that the owner still exists, is not being deleted, and obj is
// still an orphan the selector picks. It returns the adopted object, nil
// when there was nothing to adopt.
func (cl *claimer) adopt(ctx context.Context, obj objects.Object) (objects.Object, error) {
	om := cl.owner.GetObjectMeta()
	ownerKind := cl.owner.GetTypeMeta().Kind
	var adopted objects.Object
	err := cl.c.Txn(ctx, func(tx store.Tx) error {
		owner, err := tx.Get(ownerKind, om.Key())
		if err != nil {
			return fmt.Errorf("adopt %s %s: %w", cl.kind, obj.GetObjectMeta().Name, err)
		}
		if m := owner.GetObjectMeta(); m.UID != om.UID || m.IsDeleting() {
			return fmt.Errorf("adopt %s %s: %s %s has just been deleted: %w", cl.kind, obj.GetObjectMeta().Name, ownerKind, om.Name, store.ErrConflict)
		}
		cur, err := tx.Get(cl.kind, obj.GetObjectMeta().Key())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m := cur.GetObjectMeta()
		if m.UID != obj.GetObjectMeta().UID || m.IsDeleting() || m.ControllerRef() != nil || !cl.selector.Matches(m.Labels) {
			return nil // changed since the cache saw it; the next reconcile looks again
		}
		m.OwnerReferences = append(m.OwnerReferences, NewControllerRef(cl.owner))
		if err := tx.Update(cur); err != nil {
			return err
		}
		adopted = cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	return adopted, nil
}

// release removes the owner's references from obj.
func (cl *claimer) release(ctx context.Context, obj objects.Object) error {
	uid := cl.owner.GetObjectMeta().UID
	return cl.c.Txn(ctx, func(tx store.Tx) error {
		cur, err := tx.Get(cl.kind, obj.GetObjectMeta().Key())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m := cur.GetObjectMeta()
		if m.UID != obj.GetObjectMeta().UID {
			return nil
		}
		refs := slices.DeleteFunc(slices.Clone(m.OwnerReferences), func(r objects.OwnerReference) bool { return r.UID == uid })
		if len(refs) == len(m.OwnerReferences) {
			return nil
		}
		m.OwnerReferences = refs
		return tx.Update(cur)
	})
}
