package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindPDB = "PodDisruptionBudget"

// DisruptedPodTimeout is how long a pod whose eviction a budget granted
// counts as disrupted while its deletion has not been seen: after it the
// disruption controller drops the pod from status.disruptedPods (and
// counts it again if it is healthy), as Kubernetes' DeletionTimeout.
const DisruptedPodTimeout = 2 * time.Minute

// DisruptionController returns the disruption controller, for Manager.Add.
//
// It keeps each PodDisruptionBudget's status as Kubernetes' disruption
// controller does. The budget counts the pods of its namespace its
// selector matches (a nil selector none, an empty one all):
//
//   - expectedPods is, for an integer minAvailable, the number of those
//     pods; otherwise (maxUnavailable, or a percentage minAvailable) the
//     sum of the scales of their controllers: a Deployment's replicas for
//     the pods of its ReplicaSets, a ReplicaSet's, a ReplicationController's
//     or a StatefulSet's own.
//     Pods no controller manages are left out (with an UnmanagedPods
//     warning); a pod whose controller is missing or has no scale (a
//     DaemonSet's, a Job's) makes the sync fail.
//   - desiredHealthy is minAvailable (a percentage of expectedPods,
//     rounded up), or expectedPods minus maxUnavailable (a percentage
//     rounded up), never below 0.
//   - currentHealthy counts the Ready pods, leaving out those being
//     deleted and those in disruptedPods.
//   - disruptionsAllowed is currentHealthy − desiredHealthy, and 0 when
//     that is negative or no pod is expected.
//   - disruptedPods keeps the pods an eviction granted (see Evict) until
//     they are seen being deleted or DisruptedPodTimeout has passed (then
//     with a NotDeleted warning on the pod); the budget is synced again
//     when the first entry expires.
//   - the DisruptionAllowed condition is True with reason SufficientPods
//     when a disruption is allowed, else False with InsufficientPods; a
//     sync that fails sets disruptionsAllowed to 0 and the condition to
//     False with SyncFailed and the error as its message, and is retried.
//
// It reacts to changes of budgets and of the pods they select.
func DisruptionController(m *Manager) Controller {
	r := &disruptionReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{
		Name:       "disruption",
		For:        kindPDB,
		Watches:    []Watch{{Kind: kindPod, Map: r.podBudgets}},
		Reconciler: r,
		Workers:    2,
	}
}

type disruptionReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
}

// podBudgets maps a pod to the budgets of its namespace that select it.
func (r *disruptionReconciler) podBudgets(obj objects.Object) []Request {
	pod := obj.(*objects.Pod)
	budgets, _ := r.c.listShared(context.Background(), kindPDB, store.ListOptions{Namespace: pod.Namespace}, func(o objects.Object) bool {
		return budgetSelects(o.(*objects.PodDisruptionBudget), pod)
	})
	out := make([]Request, len(budgets))
	for i, o := range budgets {
		out[i] = RequestFor(o)
	}
	return out
}

// budgetSelects reports whether b's selector matches pod (an invalid
// selector matches nothing).
func budgetSelects(b *objects.PodDisruptionBudget, pod *objects.Pod) bool {
	sel, err := objects.LabelSelectorAsSelector(b.Spec.Selector)
	return err == nil && b.Namespace == pod.Namespace && sel.Matches(pod.Labels)
}

func (r *disruptionReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	b, err := Get[*objects.PodDisruptionBudget](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	now := r.clock.Now()
	st, recheck, err := r.compute(ctx, b, now)
	if err != nil {
		// As Kubernetes' failSafe: allow nothing until a sync succeeds.
		st = *b.Status.DeepCopy()
		st.DisruptionsAllowed = 0
		setBudgetCondition(&st, objects.ConditionFalse, objects.SyncFailedReason, err.Error(), now)
		return Result{}, errors.Join(err, r.writeStatus(ctx, b, st))
	}
	if err := r.writeStatus(ctx, b, st); err != nil {
		return Result{}, err
	}
	if recheck > 0 {
		return Result{RequeueAfter: recheck}, nil
	}
	return Result{}, nil
}

// compute returns the budget's status as it is at now, and when an entry
// of disruptedPods expires (0 for none).
func (r *disruptionReconciler) compute(ctx context.Context, b *objects.PodDisruptionBudget, now time.Time) (objects.PodDisruptionBudgetStatus, time.Duration, error) {
	var st objects.PodDisruptionBudgetStatus
	sel, err := objects.LabelSelectorAsSelector(b.Spec.Selector)
	if err != nil {
		r.rec.Event(ctx, b, EventWarning, "NoPods", "Failed to get pods: "+err.Error())
		return st, 0, err
	}
	objs, err := r.c.listShared(ctx, kindPod, store.ListOptions{Namespace: b.Namespace, Labels: sel}, nil)
	if err != nil {
		return st, 0, err
	}
	pods := make([]*objects.Pod, len(objs))
	for i, o := range objs {
		pods[i] = o.(*objects.Pod)
	}
	if len(pods) == 0 {
		r.rec.Event(ctx, b, EventNormal, "NoPods", "No matching pods found")
	}
	expected, desired, unmanaged, err := r.expectedCount(ctx, b, pods)
	if err != nil {
		r.rec.Event(ctx, b, EventWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: "+err.Error())
		return st, 0, err
	}
	if len(unmanaged) > 0 {
		r.rec.Event(ctx, b, EventWarning, "UnmanagedPods", fmt.Sprintf("Pods selected by this PodDisruptionBudget (selector: %s) were found "+
			"to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. "+
			"To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.", sel))
	}
	disrupted, recheck, notDeleted := disruptedPodMap(pods, b.Status.DisruptedPods, now)
	for _, p := range notDeleted {
		r.rec.Event(ctx, p, EventWarning, "NotDeleted", fmt.Sprintf("Pod was expected by PDB %s/%s to be deleted but it wasn't", b.Namespace, b.Name))
	}
	healthy := countHealthyPods(pods, disrupted, now)
	allowed := healthy - desired
	if expected <= 0 || allowed <= 0 {
		// A budget that expects no pod is safe when its first pods appear
		// before the next sync.
		allowed = 0
	}
	st = objects.PodDisruptionBudgetStatus{
		ObservedGeneration: b.Generation,
		DisruptedPods:      disrupted,
		DisruptionsAllowed: allowed,
		CurrentHealthy:     healthy,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
		Conditions:         b.Status.DeepCopy().Conditions,
	}
	updateDisruptionAllowedCondition(&st, now)
	return st, recheck, nil
}

// expectedCount is Kubernetes' getExpectedPodCount: how many pods the
// budget expects, how many must be healthy, and which selected pods no
// controller manages.
func (r *disruptionReconciler) expectedCount(ctx context.Context, b *objects.PodDisruptionBudget, pods []*objects.Pod) (expected, desired int32, unmanaged []string, err error) {
	s := &b.Spec
	switch {
	case s.MaxUnavailable != nil:
		expected, unmanaged, err = r.expectedScale(ctx, pods)
		if err != nil {
			return 0, 0, nil, err
		}
		maxUnavailable, err := objects.GetScaledValueFromIntOrPercent(s.MaxUnavailable, int(expected), objects.RoundUp)
		if err != nil {
			return 0, 0, nil, err
		}
		desired = max(0, expected-int32(maxUnavailable))
	case s.MinAvailable != nil && s.MinAvailable.Type == objects.IntType:
		desired, expected = s.MinAvailable.IntVal, int32(len(pods))
	case s.MinAvailable != nil:
		expected, unmanaged, err = r.expectedScale(ctx, pods)
		if err != nil {
			return 0, 0, nil, err
		}
		minAvailable, err := objects.GetScaledValueFromIntOrPercent(s.MinAvailable, int(expected), objects.RoundUp)
		if err != nil {
			return 0, 0, nil, err
		}
		desired = int32(minAvailable)
	}
	return expected, desired, unmanaged, nil
}

// expectedScale sums the scales of the pods' controllers, each counted
// once, as Kubernetes' getExpectedScale does.
func (r *disruptionReconciler) expectedScale(ctx context.Context, pods []*objects.Pod) (int32, []string, error) {
	scales := map[string]int32{} // by controller uid
	var unmanaged []string
	for _, p := range pods {
		ref := p.ControllerRef()
		if ref == nil {
			unmanaged = append(unmanaged, p.Name)
			continue
		}
		if _, ok := scales[ref.UID]; ok {
			continue
		}
		uid, scale, err := r.controllerScale(ctx, ref, p)
		if err != nil {
			return 0, nil, err
		}
		scales[uid] = scale
	}
	var sum int32
	for _, n := range scales {
		sum += n
	}
	return sum, unmanaged, nil
}

// controllerScale returns the uid and desired replicas of the workload a
// pod's controller reference leads to: a Deployment through its
// ReplicaSet, a ReplicaSet, a ReplicationController, a StatefulSet.
func (r *disruptionReconciler) controllerScale(ctx context.Context, ref *objects.OwnerReference, p *objects.Pod) (string, int32, error) {
	notFound := fmt.Errorf("found no controllers for pod %q", p.Name)
	get := func(kind string, ref *objects.OwnerReference) (objects.Object, bool) {
		o, err := r.c.getShared(ctx, kind, objects.Key{Namespace: p.Namespace, Name: ref.Name})
		return o, err == nil && o.GetObjectMeta().UID == ref.UID
	}
	switch group := groupOf(ref.APIVersion); {
	case ref.Kind == kindReplicaSet && (group == "apps" || group == "extensions"):
		o, ok := get(kindReplicaSet, ref)
		if !ok {
			return "", 0, notFound
		}
		rs := o.(*objects.ReplicaSet)
		dref := rs.ControllerRef()
		if dref == nil || dref.Kind != kindDeployment {
			return rs.UID, replicasOf(rs.Spec.Replicas), nil
		}
		if g := groupOf(dref.APIVersion); g != "apps" && g != "extensions" {
			return "", 0, notFound
		}
		o, ok = get(kindDeployment, dref)
		if !ok {
			return "", 0, notFound
		}
		return o.GetObjectMeta().UID, replicasOf(o.(*objects.Deployment).Spec.Replicas), nil
	case ref.Kind == kindReplicationController && group == "":
		o, ok := get(kindReplicationController, ref)
		if !ok {
			return "", 0, notFound
		}
		return o.GetObjectMeta().UID, replicasOf(o.(*objects.ReplicationController).Spec.Replicas), nil
	case ref.Kind == kindStatefulSet && group == "apps":
		o, ok := get(kindStatefulSet, ref)
		if !ok {
			return "", 0, notFound
		}
		return o.GetObjectMeta().UID, replicasOf(o.(*objects.StatefulSet).Spec.Replicas), nil
	default:
		resource := strings.ToLower(ref.Kind) + "s"
		if group != "" {
			resource += "." + group
		}
		return "", 0, fmt.Errorf("%s does not implement the scale subresource", resource)
	}
}

// disruptedPodMap keeps the entries of disruptedPods whose pods exist, are
// not yet being deleted and have not passed DisruptedPodTimeout, and
// returns when the first of those expires and the pods whose entry has
// expired.
func disruptedPodMap(pods []*objects.Pod, disrupted map[string]objects.Time, now time.Time) (map[string]objects.Time, time.Duration, []*objects.Pod) {
	if disrupted == nil {
		return nil, 0, nil
	}
	out := map[string]objects.Time{}
	var (
		recheck time.Duration
		expired []*objects.Pod
	)
	for _, p := range pods {
		at, ok := disrupted[p.Name]
		if !ok || p.IsDeleting() {
			continue
		}
		left := at.Add(DisruptedPodTimeout).Sub(now)
		if left < 0 {
			expired = append(expired, p)
			continue
		}
		if recheck == 0 || left < recheck {
			recheck = left
		}
		out[p.Name] = at
	}
	if recheck == 0 && len(out) > 0 {
		recheck = time.Nanosecond // expires now: look again at once
	}
	return out, recheck, expired
}

// countHealthyPods counts the Ready pods neither being deleted nor
// recently disrupted.
func countHealthyPods(pods []*objects.Pod, disrupted map[string]objects.Time, now time.Time) int32 {
	var n int32
	for _, p := range pods {
		if p.IsDeleting() {
			continue
		}
		if at, ok := disrupted[p.Name]; ok && at.Add(DisruptedPodTimeout).After(now) {
			continue
		}
		if objects.IsPodReady(p) {
			n++
		}
	}
	return n
}

// updateDisruptionAllowedCondition sets DisruptionAllowed from
// disruptionsAllowed, as Kubernetes' pdbhelper does.
func updateDisruptionAllowedCondition(st *objects.PodDisruptionBudgetStatus, now time.Time) {
	if st.DisruptionsAllowed > 0 {
		setBudgetCondition(st, objects.ConditionTrue, objects.SufficientPodsReason, "", now)
	} else {
		setBudgetCondition(st, objects.ConditionFalse, objects.InsufficientPodsReason, "", now)
	}
}

// setBudgetCondition sets DisruptionAllowed as apimachinery's
// SetStatusCondition does: the transition time changes with the status.
func setBudgetCondition(st *objects.PodDisruptionBudgetStatus, status objects.ConditionStatus, reason, message string, now time.Time) {
	c := objects.Condition{Type: objects.DisruptionAllowedCondition, Status: status, Reason: reason, Message: message,
		ObservedGeneration: st.ObservedGeneration, LastTransitionTime: objects.NewTime(now)}
	if old := objects.FindStatusCondition(st.Conditions, c.Type); old != nil {
		if old.Status == status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	st.Conditions = append(st.Conditions, c)
}

func (r *disruptionReconciler) writeStatus(ctx context.Context, b *objects.PodDisruptionBudget, st objects.PodDisruptionBudgetStatus) error {
	if statusEqual(&st, &b.Status) {
		return nil
	}
	b.Status = st
	return r.c.UpdateStatus(ctx, b)
}

// statusEqual compares statuses with an empty disruptedPods equal to
// none, as Kubernetes' semantic equality does.
func statusEqual(a, b *objects.PodDisruptionBudgetStatus) bool {
	x, y := *a, *b
	if !maps.EqualFunc(x.DisruptedPods, y.DisruptedPods, func(s, t objects.Time) bool { return s.Equal(&t) }) {
		return false
	}
	x.DisruptedPods, y.DisruptedPods = nil, nil
	return reflect.DeepEqual(x, y)
}
