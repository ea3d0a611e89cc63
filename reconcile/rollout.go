package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Rollout operations on a Deployment, DaemonSet or StatefulSet named by its
// kind and key, as `kubectl rollout` performs them on TYPE/NAME: plain
// functions over a store that an orchestrator exposes as methods. Each
// runs in one store transaction and changes only the workload; its
// controller does the rest. A Deployment's revisions are its ReplicaSets;
// a DaemonSet's and a StatefulSet's are their ControllerRevisions.

// ErrPaused is wrapped by Rollback of a paused Deployment.
var ErrPaused = errors.New("deployment is paused")

// ErrNotSupported is wrapped by a rollout operation on a kind it does not
// apply to: Pause and Resume of anything but a Deployment, and any
// operation on a kind other than Deployment, DaemonSet and StatefulSet.
var ErrNotSupported = errors.New("not supported")

// changeCauseAnnotation records why a revision was made, as kubectl shows
// it in the rollout history.
const changeCauseAnnotation = "kubernetes.io/change-cause"

// Rollback returns the workload of kind and key to the pod template of
// revision (0: the revision before the newest one), as `kubectl rollout
// undo` does; rolling back to the template the workload already has
// changes nothing. It fails with an error wrapping store.ErrNotFound when
// the workload or the revision does not exist.
//
// A Deployment gets the template and the annotations of the ReplicaSet of
// that revision; its controller scales that ReplicaSet back up under the
// strategy and gives it the next revision number, making no new
// ReplicaSet. A paused Deployment is refused with ErrPaused (resume it
// first, as kubectl requires).
//
// A DaemonSet or StatefulSet gets the template its ControllerRevision of
// that revision holds, as kubectl's DaemonSetRollbacker and
// StatefulSetRollbacker restore it (its annotations stay); its controller
// rolls the template out under the update strategy and renumbers that
// revision as the newest.
func Rollback(ctx context.Context, s store.Store, kind string, key objects.Key, revision int64) error {
	switch kind {
	case kindDeployment:
		return rollbackDeployment(ctx, s, key.Namespace, key.Name, revision)
	case kindDaemonSet, kindStatefulSet:
		return rollbackToControllerRevision(ctx, s, kind, key, revision)
	}
	return fmt.Errorf("rollback %s %s: no rollbacker has been implemented for %q: %w", kind, key, kind, ErrNotSupported)
}

// rollbackDeployment sets the Deployment's pod template to the one its
// ReplicaSet of revision rolled out, and its annotations to that
// ReplicaSet's.
func rollbackDeployment(ctx context.Context, s store.Store, namespace, name string, revision int64) error {
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

// rollbackToControllerRevision sets the DaemonSet's or StatefulSet's pod
// template to the one its ControllerRevision of revision holds, choosing
// the revision as kubectl's findHistory does.
func rollbackToControllerRevision(ctx context.Context, s store.Store, kind string, key objects.Key, revision int64) error {
	what := fmt.Sprintf("rollback %s %s", strings.ToLower(kind), key)
	return s.Update(ctx, func(tx store.Tx) error {
		obj, revs, err := workloadAndRevisions(tx, kind, key)
		if err != nil {
			return err
		}
		var to *objects.ControllerRevision
		switch {
		case revision == 0 && len(revs) <= 1:
			return fmt.Errorf("%s: no last revision to roll back to: %w", what, store.ErrNotFound)
		case revision == 0:
			to = revs[len(revs)-2]
		default:
			for _, r := range revs {
				if r.Revision == revision {
					to = r
				}
			}
		}
		if to == nil {
			return fmt.Errorf("%s: unable to find specified revision %d in history: %w", what, revision, store.ErrNotFound)
		}
		t := podTemplateOf(obj)
		cur, err := templatePatch(t)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if bytes.Equal(cur, to.Data.Raw) {
			return nil // the current template already matches the revision
		}
		restored, err := revisionTemplate(to)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		*t = *restored
		s.Scheme().Default(obj)
		if err := s.Scheme().Validate(obj); err != nil {
			return fmt.Errorf("%s to revision %d: %w", what, to.Revision, err)
		}
		return tx.Update(obj)
	})
}

// Pause stops rolling out template changes to a Deployment; scaling still
// applies. Other kinds cannot be paused: the error wraps ErrNotSupported.
func Pause(ctx context.Context, s store.Store, kind string, key objects.Key) error {
	if kind != kindDeployment {
		return unsupported(kind, key, "pausing")
	}
	return updateWorkload(ctx, s, kind, key, func(obj objects.Object) { obj.(*objects.Deployment).Spec.Paused = true })
}

// Resume rolls out again what changed while a Deployment was paused. Other
// kinds cannot be paused: the error wraps ErrNotSupported.
func Resume(ctx context.Context, s store.Store, kind string, key objects.Key) error {
	if kind != kindDeployment {
		return unsupported(kind, key, "resuming")
	}
	return updateWorkload(ctx, s, kind, key, func(obj objects.Object) { obj.(*objects.Deployment).Spec.Paused = false })
}

// Restart replaces every pod of a Deployment, DaemonSet or StatefulSet
// under its update strategy, as `kubectl rollout restart` does: it stamps
// the pod template with the time at (RestartedAtAnnotation). A DaemonSet
// or StatefulSet with the OnDelete strategy replaces a pod only when it is
// deleted, as ever.
func Restart(ctx context.Context, s store.Store, kind string, key objects.Key, at time.Time) error {
	if !isWorkload(kind) {
		return unsupported(kind, key, "restarting")
	}
	return updateWorkload(ctx, s, kind, key, func(obj objects.Object) {
		t := podTemplateOf(obj)
		a := maps.Clone(t.Annotations)
		if a == nil {
			a = map[string]string{}
		}
		a[RestartedAtAnnotation] = at.UTC().Format(time.RFC3339)
		t.Annotations = a
	})
}

// unsupported is kubectl's refusal of an operation on a kind, wrapping
// ErrNotSupported: `daemonsets.apps "agent" pausing is not supported`.
func unsupported(kind string, key objects.Key, doing string) error {
	resource := kind
	if isWorkload(kind) {
		resource = strings.ToLower(kind) + "s.apps"
	}
	return fmt.Errorf("%s %q %s is %w", resource, key.Name, doing, ErrNotSupported)
}

// isWorkload reports whether the rollout operations apply to kind.
func isWorkload(kind string) bool {
	return kind == kindDeployment || kind == kindDaemonSet || kind == kindStatefulSet
}

// podTemplateOf returns the pod template of a Deployment, DaemonSet or
// StatefulSet, to be changed in place.
func podTemplateOf(obj objects.Object) *objects.PodTemplateSpec {
	switch w := obj.(type) {
	case *objects.Deployment:
		return &w.Spec.Template
	case *objects.DaemonSet:
		return &w.Spec.Template
	case *objects.StatefulSet:
		return &w.Spec.Template
	}
	panic(fmt.Sprintf("no pod template in %T", obj))
}

func updateWorkload(ctx context.Context, s store.Store, kind string, key objects.Key, fn func(obj objects.Object)) error {
	return s.Update(ctx, func(tx store.Tx) error {
		obj, err := tx.Get(kind, key)
		if err != nil {
			return err
		}
		fn(obj)
		return tx.Update(obj)
	})
}

// Revision is one entry of a workload's rollout history.
type Revision struct {
	// Number is the revision.
	Number int64
	// ReplicaSet is the name of the ReplicaSet that rolled out a
	// Deployment's revision.
	ReplicaSet string
	// ControllerRevision is the name of the ControllerRevision that holds a
	// DaemonSet's or StatefulSet's revision.
	ControllerRevision string
	// ChangeCause is the kubernetes.io/change-cause annotation, if any.
	ChangeCause string
	// Template is the pod template of the revision.
	Template objects.PodTemplateSpec
}

// History returns the revisions of the workload of kind and key that are
// still kept (see revisionHistoryLimit), oldest first, as `kubectl rollout
// history` lists them. The change cause is the annotation the ReplicaSet
// or ControllerRevision got from the workload when the revision was made.
func History(ctx context.Context, s store.Store, kind string, key objects.Key) ([]Revision, error) {
	var out []Revision
	var err error
	switch kind {
	case kindDeployment:
		out, err = deploymentHistory(ctx, s, key.Namespace, key.Name)
	case kindDaemonSet, kindStatefulSet:
		out, err = controllerRevisionHistory(ctx, s, kind, key)
	default:
		return nil, fmt.Errorf("history of %s %s: no history viewer has been implemented for %q: %w", kind, key, kind, ErrNotSupported)
	}
	slices.SortFunc(out, func(a, b Revision) int { return int(a.Number - b.Number) })
	return out, err
}

func deploymentHistory(ctx context.Context, s store.Store, namespace, name string) ([]Revision, error) {
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
	return out, err
}

func controllerRevisionHistory(ctx context.Context, s store.Store, kind string, key objects.Key) ([]Revision, error) {
	var out []Revision
	err := s.View(ctx, func(tx store.ReadTx) error {
		_, revs, err := workloadAndRevisions(tx, kind, key)
		if err != nil {
			return err
		}
		for _, cr := range revs {
			t, err := revisionTemplate(cr)
			if err != nil {
				return err
			}
			out = append(out, Revision{Number: cr.Revision, ControllerRevision: cr.Name, ChangeCause: cr.Annotations[changeCauseAnnotation], Template: *t})
		}
		return nil
	})
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

// workloadAndRevisions reads a DaemonSet or StatefulSet and the
// ControllerRevisions it controls, oldest first.
func workloadAndRevisions(tx store.ReadTx, kind string, key objects.Key) (objects.Object, []*objects.ControllerRevision, error) {
	obj, err := tx.Get(kind, key)
	if err != nil {
		return nil, nil, err
	}
	uid := obj.GetObjectMeta().UID
	objs, err := tx.List(kindControllerRevision, store.ListOptions{Namespace: key.Namespace, Fields: map[string]string{store.IndexOwner: uid}})
	if err != nil {
		return nil, nil, err
	}
	var revs []*objects.ControllerRevision
	for _, o := range objs {
		cr := o.(*objects.ControllerRevision)
		if ref := cr.ControllerRef(); ref != nil && ref.UID == uid {
			revs = append(revs, cr)
		}
	}
	sortRevisions(revs)
	return obj, revs, nil
}
