package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindReplicationController = "ReplicationController"

// ReplicationControllerController returns the ReplicationController
// controller, for Manager.Add.
//
// It is the ReplicaSet controller (see ReplicaSetController) run over
// ReplicationControllers, as in Kubernetes: each is reconciled as a
// ReplicaSet whose selector is its label map as matchLabels, so it adopts
// and releases pods, creates them from its template with a controller
// owner reference to the ReplicationController, deletes the least worth
// keeping first, and records events, the ReplicaFailure condition and
// its status (replicas, fully labelled, ready, available) the same way.
func ReplicationControllerController(m *Manager) Controller {
	r := &replicationControllerReconciler{rs: replicaSetReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}}
	return Controller{
		Name:       "replicationcontroller",
		For:        kindReplicationController,
		Owns:       []string{kindPod},
		Watches:    []Watch{{Kind: kindPod, Map: r.orphanPodOwners}},
		Reconciler: r,
		Workers:    5,
	}
}

type replicationControllerReconciler struct {
	rs replicaSetReconciler
}

// orphanPodOwners maps a pod without a controller to the
// ReplicationControllers whose selector matches it, which may adopt it.
func (r *replicationControllerReconciler) orphanPodOwners(obj objects.Object) []Request {
	return matchingOwners(r.rs.c, obj, kindReplicationController, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.ReplicationController).Spec.LabelSelector()
	})
}

func (r *replicationControllerReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	rc, err := Get[*objects.ReplicationController](ctx, r.rs.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if rc.Spec.Template == nil || len(rc.Spec.Selector) == 0 {
		// Validation refuses both; a host writing around it gets this.
		return Result{}, Terminal(fmt.Errorf("replicationcontroller %s: no template or empty selector", req))
	}
	return r.rs.sync(ctx, replicaSetView(rc), func(ctx context.Context, status objects.ReplicaSetStatus) error {
		rc.Status = replicationControllerStatus(status)
		return r.rs.c.UpdateStatus(ctx, rc)
	})
}

// replicaSetView returns rc as the ReplicaSet the ReplicaSet controller
// reconciles: same metadata, apiVersion and kind (so that owner
// references, adoption and events name rc), the selector as matchLabels.
// It shares rc's maps and template, which the controller only reads.
func replicaSetView(rc *objects.ReplicationController) *objects.ReplicaSet {
	rs := &objects.ReplicaSet{
		TypeMeta:   rc.TypeMeta,
		ObjectMeta: rc.ObjectMeta,
		Spec: objects.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
			Selector:        &objects.LabelSelector{MatchLabels: rc.Spec.Selector},
			Template:        *rc.Spec.Template,
		},
		Status: objects.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rs.Kind == "" {
		rs.APIVersion, rs.Kind = "v1", kindReplicationController
	}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, objects.ReplicaSetCondition{
			Type: objects.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}

// replicationControllerStatus converts a status computed on a
// replicaSetView back.
func replicationControllerStatus(s objects.ReplicaSetStatus) objects.ReplicationControllerStatus {
	out := objects.ReplicationControllerStatus{
		Replicas:             s.Replicas,
		FullyLabeledReplicas: s.FullyLabeledReplicas,
		ReadyReplicas:        s.ReadyReplicas,
		AvailableReplicas:    s.AvailableReplicas,
		ObservedGeneration:   s.ObservedGeneration,
	}
	for _, c := range s.Conditions {
		out.Conditions = append(out.Conditions, objects.ReplicationControllerCondition{
			Type: objects.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return out
}
