package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// EphemeralVolumeController makes the claims of pods' generic ephemeral
// volumes, as Kubernetes' ephemeral volume controller does: for each
// volume of a pod that is not being deleted, the claim
// "<pod name>-<volume name>" from the volume's template, owned by the pod
// (so the garbage collector deletes it with the pod), made again if it is
// deleted while the pod lives. A claim of that name the pod does not own
// is left alone; the scheduler then keeps the pod pending, and a warning
// Event on the pod says why.
func EphemeralVolumeController(m *Manager) Controller {
	c, rec := m.Client(), m.Recorder()
	return Controller{
		Name: "ephemeral-volume",
		For:  kindPod,
		// Volumes are immutable: a pod needs its claims made when it is
		// first seen; later, only when a claim it owns goes (Owns).
		ForChanged: func(old, new objects.Object) bool {
			return old == nil && new != nil && hasEphemeralVolume(new.(*objects.Pod))
		},
		Owns: []string{kindPVC},
		Reconciler: ReconcilerFunc(func(ctx context.Context, req Request) (Result, error) {
			return Result{}, ensureEphemeralClaims(ctx, c, rec, req.Key())
		}),
	}
}

func hasEphemeralVolume(p *objects.Pod) bool {
	for i := range p.Spec.Volumes {
		if p.Spec.Volumes[i].Ephemeral != nil {
			return true
		}
	}
	return false
}

func ensureEphemeralClaims(ctx context.Context, c *Client, rec EventRecorder, key objects.Key) error {
	pod, err := Get[*objects.Pod](ctx, c, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || pod.IsDeleting() {
		return err
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.Ephemeral == nil || v.Ephemeral.VolumeClaimTemplate == nil {
			continue
		}
		name := objects.EphemeralClaimName(pod, v)
		claim, err := Get[*objects.PersistentVolumeClaim](ctx, c, objects.Key{Namespace: pod.Namespace, Name: name})
		switch {
		case err == nil:
			if !objects.IsEphemeralClaimOf(claim, pod) {
				rec.Event(ctx, pod, EventWarning, "FailedBinding", fmt.Sprintf("PVC %s/%s was not created for pod %s/%s (pod is not owner)", pod.Namespace, name, pod.Namespace, pod.Name))
			}
			continue
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		err = c.Create(ctx, objects.NewEphemeralClaim(pod, v))
		if errors.Is(err, store.ErrAlreadyExists) {
			continue // made meanwhile; its owner is checked when it is seen
		}
		if err != nil {
			rec.Event(ctx, pod, EventWarning, "FailedBinding", fmt.Sprintf("PVC creation failed: %v", err))
			return err
		}
	}
	return nil
}
