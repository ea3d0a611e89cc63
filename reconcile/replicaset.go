package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Kinds the built-in controllers handle.
const (
	kindPod        = "Pod"
	kindReplicaSet = "ReplicaSet"
	kindDeployment = "Deployment"
	kindNamespace  = "Namespace"
)

// burstReplicas bounds the pods one reconcile creates or deletes, as
// Kubernetes' controllers do, so that one large ReplicaSet does not hold
// the store's write lock for long.
const burstReplicas = 500

// ReplicaSetController returns the ReplicaSet controller, for Manager.Add.
//
// It keeps spec.replicas active pods matching each ReplicaSet's selector:
// it adopts matching orphans, releases pods that stopped matching, creates
// pods named "<replicaset>-<random>" from the template with a controller
// owner reference (blockOwnerDeletion set), and deletes the pods least
// worth keeping first (unscheduled, pending, not ready, doubled up on a
// node, ready for less time, restarted more, newer). Its status counts
// replicas, fully labelled, ready and available (ready for minReadySeconds)
// pods.
//
// A pod admission refuses (a ResourceQuota spent, a LimitRange's bounds)
// records a FailedCreate event and the ReplicaFailure condition, keeps
// the pods of the burst created before it, and is tried again with
// backoff, as in Kubernetes: the pods appear once the quota allows them.
func ReplicaSetController(m *Manager) Controller {
	r := &replicaSetReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{
		Name:       "replicaset",
		For:        kindReplicaSet,
		Owns:       []string{kindPod},
		Watches:    []Watch{{Kind: kindPod, Map: r.orphanPodOwners}},
		Reconciler: r,
		Workers:    5,
	}
}

type replicaSetReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
}

// orphanPodOwners maps a pod without a controller to the ReplicaSets whose
// selector matches it, which may adopt it.
func (r *replicaSetReconciler) orphanPodOwners(obj objects.Object) []Request {
	return matchingOwners(r.c, obj, kindReplicaSet, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.ReplicaSet).Spec.Selector
	})
}

// matchingOwners returns the objects of ownerKind in obj's namespace whose
// selector matches obj, when obj has no controller.
func matchingOwners(c *Client, obj objects.Object, ownerKind string, selector func(objects.Object) *objects.LabelSelector) []Request {
	m := obj.GetObjectMeta()
	if m.ControllerRef() != nil || len(m.Labels) == 0 {
		return nil
	}
	inf := c.m.currentRun().informer(ownerKind)
	if inf == nil {
		return nil
	}
	owners, _ := inf.List(store.ListOptions{Namespace: m.Namespace}, func(o objects.Object) bool {
		sel, err := objects.LabelSelectorAsSelector(selector(o))
		return err == nil && !sel.Empty() && sel.Matches(m.Labels)
	})
	reqs := make([]Request, len(owners))
	for i, o := range owners {
		reqs[i] = RequestFor(o)
	}
	return reqs
}

func (r *replicaSetReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	rs, err := Get[*objects.ReplicaSet](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	return r.sync(ctx, rs, func(ctx context.Context, status objects.ReplicaSetStatus) error {
		rs.Status = status
		return r.c.UpdateStatus(ctx, rs)
	})
}

// sync converges the pods of rs and writes its status with writeStatus
// when it changed. rs is a ReplicaSet or a view of another kind run the
// same way (a ReplicationController, see replicaSetView): its TypeMeta and
// ObjectMeta are the owner's, which owner references, adoption and events
// name.
func (r *replicaSetReconciler) sync(ctx context.Context, rs *objects.ReplicaSet, writeStatus func(context.Context, objects.ReplicaSetStatus) error) (Result, error) {
	sel, err := objects.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		return Result{}, Terminal(fmt.Errorf("%s %s/%s: invalid selector: %w", strings.ToLower(cmp.Or(rs.Kind, kindReplicaSet)), rs.Namespace, rs.Name, err))
	}
	pods, err := claimPods(ctx, r.c, r.c.listShared, rs, sel, isPodActive)
	if err != nil {
		return Result{}, err
	}
	var manageErr error
	if !rs.IsDeleting() {
		pods, manageErr = r.manageReplicas(ctx, rs, pods)
	}
	now := r.clock.Now()
	status := replicaSetStatus(rs, pods, manageErr, now)
	if !reflect.DeepEqual(status, rs.Status) {
		if err := writeStatus(ctx, status); err != nil {
			return Result{}, errors.Join(manageErr, err)
		}
	}
	if manageErr != nil {
		return Result{}, manageErr
	}
	var res Result
	for _, p := range pods {
		if d, ok := untilAvailable(p, rs.Spec.MinReadySeconds, now); ok && (res.RequeueAfter == 0 || d < res.RequeueAfter) {
			res.RequeueAfter = d
		}
	}
	return res, nil
}

// manageReplicas creates or deletes pods towards spec.replicas and returns
// the pods that remain.
func (r *replicaSetReconciler) manageReplicas(ctx context.Context, rs *objects.ReplicaSet, pods []*objects.Pod) ([]*objects.Pod, error) {
	diff := len(pods) - int(replicasOf(rs.Spec.Replicas))
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		msgs := make([]string, 0, n)
		template := podFromTemplate(&rs.Spec.Template, rs)
		var refused error
		err := r.c.Txn(ctx, func(tx store.Tx) error {
			msgs = msgs[:0]
			var err error
			refused, err = r.c.createCopies(tx, template, n, func(p objects.Object) {
				msgs = append(msgs, "Created pod: "+p.GetObjectMeta().Name)
			})
			return err
		})
		if errors.Is(err, ErrOwnerDeleting) {
			return pods, nil // read before its deletion began; the next reconcile sees it
		}
		if err == nil {
			recordEach(ctx, r.rec, rs, EventNormal, "SuccessfulCreate", msgs)
			err = refused // the pods before a refused one are created
		}
		if err != nil {
			// Retried with backoff, as Kubernetes does: a quota may be
			// raised or freed meanwhile.
			r.rec.Event(ctx, rs, EventWarning, "FailedCreate", "Error creating: "+err.Error())
			return pods, err
		}
		return pods, nil
	case diff > 0:
		n := min(diff, burstReplicas)
		related, err := r.relatedPods(ctx, rs)
		if err != nil {
			return pods, err
		}
		victims := podsToDelete(pods, append(related, pods...), n, r.clock.Now())
		if err := deletePods(ctx, r.c, victims); err != nil {
			r.rec.Event(ctx, rs, EventWarning, "FailedDelete", "Error deleting: "+err.Error())
			return pods, err
		}
		gone := map[string]bool{}
		msgs := make([]string, len(victims))
		for i, p := range victims {
			gone[p.UID] = true
			msgs[i] = "Deleted pod: " + p.Name
		}
		recordEach(ctx, r.rec, rs, EventNormal, "SuccessfulDelete", msgs)
		kept := pods[:0:0]
		for _, p := range pods {
			if !gone[p.UID] {
				kept = append(kept, p)
			}
		}
		return kept, nil
	}
	return pods, nil
}

// deletePods deletes pods in one transaction, each only if it is still the
// pod that was read (same uid); pods already gone are skipped.
func deletePods(ctx context.Context, c *Client, pods []*objects.Pod) error {
	return c.Txn(ctx, func(tx store.Tx) error {
		for _, p := range pods {
			err := store.Remove(tx, kindPod, p.Key(), store.DeleteOptions{Preconditions: &store.Preconditions{UID: p.UID}})
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
		return nil
	})
}

// relatedPods returns the other pods of the ReplicaSet's controller (the
// Deployment's other ReplicaSets; for a view, its controller's other
// objects of its kind), which rank a pod by how crowded its node is.
func (r *replicaSetReconciler) relatedPods(ctx context.Context, rs *objects.ReplicaSet) ([]*objects.Pod, error) {
	ref := rs.ControllerRef()
	if ref == nil {
		return nil, nil
	}
	siblings, err := r.c.List(ctx, cmp.Or(rs.Kind, kindReplicaSet), store.ListOptions{Namespace: rs.Namespace, Fields: map[string]string{store.IndexOwner: ref.UID}})
	if err != nil {
		return nil, err
	}
	var out []*objects.Pod
	for _, s := range siblings {
		if s.GetObjectMeta().UID == rs.UID {
			continue
		}
		objs, err := r.c.List(ctx, kindPod, store.ListOptions{Namespace: rs.Namespace, Fields: map[string]string{store.IndexOwner: s.GetObjectMeta().UID}})
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			out = append(out, o.(*objects.Pod))
		}
	}
	return out, nil
}

// replicaSetStatus computes the status from the pods the ReplicaSet
// controls, as Kubernetes' calculateStatus does.
func replicaSetStatus(rs *objects.ReplicaSet, pods []*objects.Pod, manageErr error, now time.Time) objects.ReplicaSetStatus {
	s := *rs.Status.DeepCopy()
	tmpl := objects.SelectorFromSet(rs.Spec.Template.Labels)
	s.Replicas, s.FullyLabeledReplicas, s.ReadyReplicas, s.AvailableReplicas = int32(len(pods)), 0, 0, 0
	for _, p := range pods {
		if tmpl.Matches(p.Labels) {
			s.FullyLabeledReplicas++
		}
		if objects.IsPodReady(p) {
			s.ReadyReplicas++
			if isPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				s.AvailableReplicas++
			}
		}
	}
	s.ObservedGeneration = rs.Generation
	failure := -1
	for i, c := range s.Conditions {
		if c.Type == objects.ReplicaSetReplicaFailure {
			failure = i
		}
	}
	switch {
	case manageErr != nil && failure < 0:
		reason := "FailedCreate"
		if len(pods) > int(replicasOf(rs.Spec.Replicas)) {
			reason = "FailedDelete"
		}
		s.Conditions = append(s.Conditions, objects.ReplicaSetCondition{
			Type: objects.ReplicaSetReplicaFailure, Status: objects.ConditionTrue,
			LastTransitionTime: objects.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		s.Conditions = append(s.Conditions[:failure:failure], s.Conditions[failure+1:]...)
		if len(s.Conditions) == 0 {
			s.Conditions = nil
		}
	}
	return s
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
