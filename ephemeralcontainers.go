package podkit

import (
	"context"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// UpdateEphemeralContainers adds ephemeral containers to a pod, as a
// write to Kubernetes' pods/ephemeralcontainers subresource (what kubectl
// debug does): pod names the pod and carries its spec.ephemeralContainers,
// the ones it has and the new ones; its other fields are ignored, and a
// set resourceVersion must match the stored one (else the error wraps
// store.ErrConflict). The pod may not be created with ephemeral
// containers, nor get them by Update: only here. Those it has may be
// neither changed nor removed, and the new ones are validated as
// Kubernetes validates them (no ports, probes, lifecycle, resources or
// subPath mounts; a name of no other container; a targetContainerName
// that is a container or init container of the pod). pod receives what
// was stored.
//
// The pod's node agent then starts each new one in the running pod, once,
// whatever the pod's restartPolicy; with a targetContainerName, in the
// target's PID namespace. It does not count for the pod's readiness or
// phase, stops with the pod, and its state is reported in
// status.ephemeralContainerStatuses; Logs and Exec reach it by name. As
// in Kubernetes, a pod that has finished (Succeeded or Failed) may still
// be given one, which never runs; see package reconcile/nodeagent.
func (o *Orchestrator) UpdateEphemeralContainers(ctx context.Context, pod *objects.Pod) error {
	return o.updatePodSubresource(ctx, pod, func(_ store.Tx, old *objects.Pod) (*objects.Pod, error) {
		next := objects.EphemeralContainersRequest(old, pod)
		if err := objects.ValidateEphemeralContainersUpdate(next, old).ToError(KindPod, old.Name); err != nil {
			return nil, err
		}
		return next, nil
	})
}
