package podkit

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Scale is the scale subresource of a workload (autoscaling/v1 Scale), as
// kubectl scale reads and writes it: the workload's metadata, the
// replicas asked for and those there are, and the selector of its pods.
type Scale struct {
	objects.ObjectMeta `json:"metadata,omitempty"`
	Spec               ScaleSpec   `json:"spec,omitempty"`
	Status             ScaleStatus `json:"status,omitempty"`
}

// ScaleSpec is the replicas asked for.
type ScaleSpec struct {
	Replicas int32 `json:"replicas,omitempty"`
}

// ScaleStatus is what a workload has.
type ScaleStatus struct {
	// Replicas is the number of replicas there are.
	Replicas int32 `json:"replicas"`
	// Selector selects the workload's pods, in the label selector
	// syntax ("app=web,tier in (front)").
	Selector string `json:"selector,omitempty"`
}

// GetScale returns the scale subresource of the workload of kind named by
// key: a Deployment, ReplicaSet, ReplicationController or StatefulSet, or
// an object of a host's own kind that implements objects.Scalable.
// Another kind's is an error wrapping store.ErrNotFound, as Kubernetes
// has no such resource.
func (o *Orchestrator) GetScale(ctx context.Context, kind string, key objects.Key) (*Scale, error) {
	var out *Scale
	err := o.store.View(ctx, func(tx store.ReadTx) error {
		s, err := o.scalable(tx, kind, &key)
		if err != nil {
			return err
		}
		out, err = scaleOf(s)
		return err
	})
	return out, err
}

// UpdateScale sets the replicas of a workload through its scale
// subresource, as kubectl scale does: scale names the workload (Name,
// Namespace) and carries spec.replicas; a set resourceVersion must be the
// workload's (else an error wrapping store.ErrConflict), as kubectl
// scale's --resource-version asks. The workload is changed as Update
// changes it, validated and admitted, and scale receives its new scale.
// Negative replicas are refused with Kubernetes' message (an error
// wrapping objects.ErrInvalid), and a kind without a scale subresource
// as GetScale refuses it.
func (o *Orchestrator) UpdateScale(ctx context.Context, kind string, scale *Scale) error {
	if scale.Spec.Replicas < 0 {
		return objects.ErrorList{objects.Invalid(objects.NewPath("spec", "replicas"), scale.Spec.Replicas,
			"must be greater than or equal to 0")}.ToError("Scale", scale.Name)
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		key := objects.Key{Namespace: scale.Namespace, Name: scale.Name}
		cur, err := o.scalable(tx, kind, &key)
		if err != nil {
			return err
		}
		next := cur.DeepCopyObject().(objects.Scalable)
		if _, err := o.scheme.SetTypeMeta(next); err != nil {
			return err
		}
		if rv := scale.ResourceVersion; rv != "" {
			next.GetObjectMeta().ResourceVersion = rv
		}
		next.SetSpecReplicas(scale.Spec.Replicas)
		if _, err := o.admit(ctx, tx, next, cur, false); err != nil {
			return err
		}
		if err := tx.Update(next); err != nil {
			return err
		}
		got, err := o.scalable(tx, kind, &key)
		if err != nil {
			return err
		}
		s, err := scaleOf(got)
		if err != nil {
			return err
		}
		*scale = *s
		return nil
	})
}

// scalable reads the object of kind at key (in the default namespace when
// it names none, for a namespaced kind) as a Scalable.
func (o *Orchestrator) scalable(tx store.ReadTx, kind string, key *objects.Key) (objects.Scalable, error) {
	info := o.scheme.Lookup(kind)
	if info == nil {
		return nil, fmt.Errorf("%s: %w", kind, store.ErrUnknownKind)
	}
	if info.Namespaced && key.Namespace == "" {
		key.Namespace = DefaultNamespace
	}
	obj, err := tx.Get(info.Kind, *key)
	if err != nil {
		return nil, err
	}
	s, ok := obj.(objects.Scalable)
	if !ok {
		return nil, fmt.Errorf("%s %q has no scale subresource: %w", kind, key.Name, store.ErrNotFound)
	}
	return s, nil
}

// scaleOf is the scale subresource of s.
func scaleOf(s objects.Scalable) (*Scale, error) {
	m := s.GetObjectMeta()
	out := &Scale{
		ObjectMeta: objects.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
			ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp},
		Spec:   ScaleSpec{Replicas: s.SpecReplicas()},
		Status: ScaleStatus{Replicas: s.StatusReplicas()},
	}
	if ls := s.ScaleSelector(); ls != nil {
		sel, err := objects.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, err
		}
		out.Status.Selector = sel.String()
	}
	return out, nil
}
