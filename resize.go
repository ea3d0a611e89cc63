package podkit

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Resize changes the CPU and memory requests and limits, and the
// resizePolicy, of a pod's containers and sidecars in place, as a write to
// Kubernetes' pods/resize subresource (kubectl patch --subresource resize)
// does: pod names the pod and carries the new values; its other fields
// are ignored, and a set resourceVersion must match the stored one. The
// resize is validated as Kubernetes validates it (only cpu and memory
// change, none is removed, the QoS class stays, a plain init container is
// not resized), checked against the namespace's LimitRanges and charged
// to its ResourceQuotas. pod receives what was stored.
//
// The pod's node agent then admits the resize when it fits the node, and
// applies it to the running containers, without a restart unless a
// changed resource's resizePolicy is RestartContainer. Each container's
// status.allocatedResources and status.resources follow, and the
// PodResizePending (Deferred, Infeasible) and PodResizeInProgress
// conditions say where it stands; see package reconcile/nodeagent.
// Workload controllers do not resize their pods: a change of a
// Deployment's template rolls out new pods, as in Kubernetes.
func (o *Orchestrator) Resize(ctx context.Context, pod *objects.Pod) error {
	return o.updatePodSubresource(ctx, pod, func(tx store.Tx, old *objects.Pod) (*objects.Pod, error) {
		next, errs := objects.ResizeRequest(old, pod)
		errs = append(errs, objects.ValidateResize(next, old)...)
		if err := errs.ToError(KindPod, old.Name); err != nil {
			return nil, err
		}
		if err := admitResizeLimits(tx, next); err != nil {
			return nil, err
		}
		if err := o.quota.AdmitResize(tx, next, old, o.clock.Now()); err != nil {
			return nil, o.quotaRefusal(next, err)
		}
		return next, nil
	})
}

// updatePodSubresource writes to a subresource of the pod that pod names
// (in the default namespace when it names none): next makes the pod to
// store from the stored one, old, or refuses; a resourceVersion set in
// pod must be the stored one's (else the error wraps store.ErrConflict).
// pod receives what was stored.
func (o *Orchestrator) updatePodSubresource(ctx context.Context, pod *objects.Pod, next func(tx store.Tx, old *objects.Pod) (*objects.Pod, error)) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		key := pod.Key()
		if key.Namespace == "" {
			key.Namespace = DefaultNamespace
		}
		cur, err := tx.Get(KindPod, key)
		if err != nil {
			return err
		}
		p, err := next(tx, cur.(*objects.Pod))
		if err != nil {
			return err
		}
		p.ResourceVersion = pod.ResourceVersion
		if err := tx.Update(p); err != nil {
			return err
		}
		got, err := tx.Get(KindPod, key)
		if err != nil {
			return err
		}
		*pod = *got.(*objects.Pod)
		return nil
	})
}

// admitResizeLimits checks a resized pod against its namespace's
// LimitRanges, as Kubernetes' LimitRanger does a resize: their minimums,
// maximums and ratios, not their defaults.
func admitResizeLimits(tx store.ReadTx, pod *objects.Pod) error {
	objs, err := store.PeekList(tx, KindLimitRange, store.ListOptions{Namespace: pod.Namespace})
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := validatePodLimits(o.(*objects.LimitRange), pod); err != nil {
			return fmt.Errorf("pods %q is forbidden: %w: %w", pod.Name, err, ErrForbidden)
		}
	}
	return nil
}
