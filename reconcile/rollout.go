package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Rollout operations on a Deployment, as kubectl rollout performs them:
// plain functions over a store that an orchestrator exposes as methods.
// Each runs in one store transaction and changes only the Deployment; its
// controller does the rest.

// ErrPaused is wrapped by Rollback of a paused Deployment.
var ErrPaused = errors.New("deployment is paused")

// changeCauseAnnotation records why a revision was made, as kubectl shows
// it in the rollout history.
const changeCauseAnnotation = "kubernetes.io/change-cause"

// Rollback sets the Deployment's pod template to the one its ReplicaSet of
// revision rolled out (revision 0: the revision before the current one),
// and its annotations to that ReplicaSet's. The controller then scales that
// ReplicaSet back up under the Deployment's strategy and gives it the next
// revision number; no new ReplicaSet is created. Rolling back to the
// template the Deployment already has changes nothing.
//
// It fails with an error wrapping store.ErrNotFound when the Deployment or
// the revision does not exist, and ErrPaused when the Deployment is paused
// (resume it first, as kubectl requires).
func Rollback(ctx context.Context, s store.Store, namespace, name string, revision int64) error {
	return s.Update(ctx, func(tx store.Tx) error {
		d, rss, err := deploymentAndReplicaSets(tx, namespace, name)
		if err != nil {
			return err
		}
		if d.Spec.Paused {
			return fmt.Errorf("rollback deployment %s/%s: you cannot rollback a paused deployment; resume it first and try again: %w",
				namespace, name, ErrPaused)
		}
		if revision == 0 {
			revision = previousRevision(rss)
			if revision == 0 {
				return fmt.Errorf("rollback deployment %s/%s: no rollout history found: %w", namespace, name, store.ErrNotFound)
			}
		}
		var to *objects.ReplicaSet
		for _, rs := range rss {
			if revisionOf(&rs.ObjectMeta) == revision {
				to = rs
			}
		}
		if to == nil {
			return fmt.Errorf("rollback deployment %s/%s: unable to find specified revision %d in history: %w", namespace, name, revision, store.ErrNotFound)
		}
		if equalIgnoreHash(&to.Spec.Template, &d.Spec.Template) {
			return nil
		}
		t := *to.Spec.Template.DeepCopy()
		delete(t.Labels, objects.DefaultDeploymentUniqueLabelKey)
		d.Spec.Template = t
		setDeploymentAnnotationsTo(d, to)
		s.Scheme().Default(d)
		if err := s.Scheme().Validate(d); err != nil {
			return fmt.Errorf("rollback deployment %s/%s to revision %d: %w", namespace, name, revision, err)
		}
		return tx.Update(d)
	})
}

// previousRevision is the highest revision below the current (highest) one.
func previousRevision(rss []*objects.ReplicaSet) int64 {
	var cur, prev int64
	for _, rs := range rss {
		v := revisionOf(&rs.ObjectMeta)
		switch {
		case v > cur:
			cur, prev = v, cur
		case v > prev && v < cur:
			prev = v
		}
	}
	return prev
}

// Pause stops rolling out template changes to the Deployment; scaling
// still applies.
func Pause(ctx context.Context, s store.Store, namespace, name string) error {
	return updateDeployment(ctx, s, namespace, name, func(d *objects.Deployment) { d.Spec.Paused = true })
}

// Resume rolls out again what changed while the Deployment was paused.
func Resume(ctx context.Context, s store.Store, namespace, name string) error {
	return updateDeployment(ctx, s, namespace, name, func(d *objects.Deployment) { d.Spec.Paused = false })
}

// Restart replaces every pod of the Deployment under its strategy, as
// `kubectl rollout restart` does: it stamps the pod template with the
// time at.
func Restart(ctx context.Context, s store.Store, namespace, name string, at time.Time) error {
	return updateDeployment(ctx, s, namespace, name, func(d *objects.Deployment) {
		a := maps.Clone(d.Spec.Template.Annotations)
		if a == nil {
			a = map[string]string{}
		}
		a[RestartedAtAnnotation] = at.UTC().Format(time.RFC3339)
		d.Spec.Template.Annotations = a
	})
}

func updateDeployment(ctx context.Context, s store.Store, namespace, name string, fn func(d *objects.Deployment)) error {
	return s.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Get(kindDeployment, objects.Key{Namespace: namespace, Name: name})
		if err != nil {
			return err
		}
		d := obj.(*objects.Deployment)
		fn(d)
		return tx.Update(d)
	})
}

// Revision is one entry of a Deployment's rollout history.
type Revision struct {
	// Number is the revision.
	Number int64
	// ReplicaSet is the name of the ReplicaSet that rolled it out.
	ReplicaSet string
	// ChangeCause is the kubernetes.io/change-cause annotation, if any.
	ChangeCause string
	// Template is the pod template of the revision.
	Template objects.PodTemplateSpec
}

// History returns the Deployment's revisions that are still kept (see
// revisionHistoryLimit), oldest first.
func History(ctx context.Context, s store.Store, namespace, name string) ([]Revision, error) {
	var out []Revision
	err := s.View(ctx, func(tx store.ReadTx) error {
		_, rss, err := deploymentAndReplicaSets(tx, namespace, name)
		if err != nil {
			return err
		}
		for _, rs := range rss {
			n := revisionOf(&rs.ObjectMeta)
			if n == 0 {
				continue
			}
			t := *rs.Spec.Template.DeepCopy()
			delete(t.Labels, objects.DefaultDeploymentUniqueLabelKey)
			out = append(out, Revision{Number: n, ReplicaSet: rs.Name, ChangeCause: rs.Annotations[changeCauseAnnotation], Template: t})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Revision) int { return int(a.Number - b.Number) })
	return out, err
}

// deploymentAndReplicaSets reads a Deployment and the ReplicaSets it
// controls.
func deploymentAndReplicaSets(tx store.ReadTx, namespace, name string) (*objects.Deployment, []*objects.ReplicaSet, error) {
	obj, err := tx.Get(kindDeployment, objects.Key{Namespace: namespace, Name: name})
	if err != nil {
		return nil, nil, err
	}
	d := obj.(*objects.Deployment)
	objs, err := tx.List(kindReplicaSet, store.ListOptions{Namespace: namespace, Fields: map[string]string{store.IndexOwner: d.UID}})
	if err != nil {
		return nil, nil, err
	}
	var rss []*objects.ReplicaSet
	for _, o := range objs {
		rs := o.(*objects.ReplicaSet)
		if ref := rs.ControllerRef(); ref != nil && ref.UID == d.UID {
			rss = append(rss, rs)
		}
	}
	return d, rss, nil
}
