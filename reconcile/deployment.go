package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// DeploymentController returns the Deployment controller, for Manager.Add.
//
// It rolls each Deployment's pod template out through ReplicaSets, as
// Kubernetes' does: one ReplicaSet per template, named
// "<deployment>-<pod-template-hash>" with that hash in its selector and
// pod labels; RollingUpdate within maxSurge and maxUnavailable, or
// Recreate; revision annotations and revisionHistoryLimit; pause and
// resume; proportional scaling of a rollout in flight; the Progressing
// condition with progressDeadlineSeconds and the Available condition.
func DeploymentController(m *Manager) Controller {
	r := &deploymentReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{
		Name: "deployment",
		For:  kindDeployment,
		Owns: []string{kindReplicaSet},
		Watches: []Watch{
			{Kind: kindReplicaSet, Map: r.orphanReplicaSetOwners},
			{Kind: kindPod, Map: r.recreatePodOwner},
		},
		Reconciler: r,
		Workers:    5,
	}
}

type deploymentReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
}

func (r *deploymentReconciler) orphanReplicaSetOwners(obj objects.Object) []Request {
	return matchingOwners(r.c, obj, kindDeployment, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.Deployment).Spec.Selector
	})
}

// recreatePodOwner maps a pod to its Deployment when that uses Recreate,
// which waits for the last old pod to be gone, a change no ReplicaSet
// status shows.
func (r *deploymentReconciler) recreatePodOwner(obj objects.Object) []Request {
	m := obj.GetObjectMeta()
	ref := m.ControllerRef()
	if ref == nil || ref.Kind != kindReplicaSet {
		return nil
	}
	run := r.c.m.currentRun()
	rs, ok := run.informer(kindReplicaSet).Get(objects.Key{Namespace: m.Namespace, Name: ref.Name})
	if !ok {
		return nil
	}
	dref := rs.GetObjectMeta().ControllerRef()
	if dref == nil || dref.Kind != kindDeployment {
		return nil
	}
	d, ok := run.informer(kindDeployment).Get(objects.Key{Namespace: m.Namespace, Name: dref.Name})
	if !ok || d.(*objects.Deployment).Spec.Strategy.Type != objects.RecreateDeploymentStrategyType {
		return nil
	}
	return []Request{{Namespace: m.Namespace, Name: dref.Name}}
}

func (r *deploymentReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	d, err := Get[*objects.Deployment](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	sel, err := objects.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return Result{}, Terminal(fmt.Errorf("deployment %s: invalid selector: %w", req, err))
	}
	if sel.Empty() {
		r.rec.Event(ctx, d, EventWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return Result{}, r.c.UpdateStatus(ctx, d)
		}
		return Result{}, nil
	}
	rsList, err := r.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return Result{}, err
	}
	if d.IsDeleting() {
		newRS, old, err := r.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
		if err != nil {
			return Result{}, err
		}
		return Result{}, r.syncDeploymentStatus(ctx, append(old, newRS), newRS, d)
	}
	if err := r.checkPausedConditions(ctx, d); err != nil {
		return Result{}, err
	}
	if d.Spec.Paused {
		return Result{}, r.sync(ctx, d, rsList)
	}
	scaling, err := r.isScalingEvent(ctx, d, rsList)
	if err != nil {
		return Result{}, err
	}
	if scaling {
		return Result{}, r.sync(ctx, d, rsList)
	}
	if d.Spec.Strategy.Type == objects.RecreateDeploymentStrategyType {
		return r.rolloutRecreate(ctx, d, rsList)
	}
	return r.rolloutRolling(ctx, d, rsList)
}

// claimReplicaSets returns the ReplicaSets the Deployment controls, after
// adopting matching orphans and releasing those that stopped matching.
func (r *deploymentReconciler) claimReplicaSets(ctx context.Context, d *objects.Deployment, sel objects.Selector) ([]*objects.ReplicaSet, error) {
	objs, err := listClaimCandidates(ctx, r.c.list, kindReplicaSet, d.Namespace, d.UID, func(o objects.Object) bool {
		m := o.GetObjectMeta()
		return m.ControllerRef() != nil || sel.Matches(m.Labels)
	})
	if err != nil {
		return nil, err
	}
	claimed, err := (&claimer{c: r.c, owner: d, kind: kindReplicaSet, selector: sel}).claim(ctx, objs)
	out := make([]*objects.ReplicaSet, len(claimed))
	for i, o := range claimed {
		out[i] = o.(*objects.ReplicaSet)
	}
	return out, err
}

// saveDeployment writes d's metadata and spec, then its status, in one
// transaction; unchanged parts write nothing. d receives what was stored.
func (r *deploymentReconciler) saveDeployment(ctx context.Context, d *objects.Deployment) error {
	status := d.Status.DeepCopy()
	return r.c.Txn(ctx, func(tx store.Tx) error {
		if err := tx.Update(d); err != nil {
			return err
		}
		status.DeepCopyInto(&d.Status)
		return tx.UpdateStatus(d)
	})
}

// getAllReplicaSetsAndSyncRevision splits the Deployment's ReplicaSets into
// the new one (whose template is the Deployment's) and the old ones, gives
// the new one the next revision, and creates it when create is set and it
// does not exist.
func (r *deploymentReconciler) getAllReplicaSetsAndSyncRevision(ctx context.Context, d *objects.Deployment, rsList []*objects.ReplicaSet, create bool) (*objects.ReplicaSet, []*objects.ReplicaSet, error) {
	sorted := slices.Clone(rsList)
	slices.SortFunc(sorted, byCreation)
	var newRS *objects.ReplicaSet
	var old []*objects.ReplicaSet
	for _, rs := range sorted {
		if newRS == nil && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			newRS = rs
			continue
		}
		old = append(old, rs)
	}
	newRevision := maxRevision(old) + 1
	now := r.clock.Now()

	if newRS != nil {
		changed := setNewReplicaSetAnnotations(d, newRS, newRevision, true)
		if newRS.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			newRS.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			changed = true
		}
		if changed {
			if err := r.c.Update(ctx, newRS); err != nil {
				return nil, nil, err
			}
		}
		needsUpdate := setDeploymentRevision(d, revisionOf(&newRS.ObjectMeta))
		if hasProgressDeadline(d) && objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing) == nil {
			setDeploymentCondition(&d.Status, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionTrue,
				ReasonFoundNewReplicaSet, fmt.Sprintf("Found new replica set %q", newRS.Name), now))
			needsUpdate = true
		}
		if needsUpdate {
			if err := r.saveDeployment(ctx, d); err != nil {
				return nil, nil, err
			}
		}
		return newRS, old, nil
	}
	if !create {
		return nil, old, nil
	}

	hash := templateHash(&d.Spec.Template, d.Status.CollisionCount)
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels = maps.Clone(tmpl.Labels)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[objects.DefaultDeploymentUniqueLabelKey] = hash
	rs := &objects.ReplicaSet{
		ObjectMeta: objects.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []objects.OwnerReference{NewControllerRef(d)},
			Labels:          maps.Clone(tmpl.Labels),
		},
		Spec: objects.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        cloneSelectorAndAddLabel(d.Spec.Selector, objects.DefaultDeploymentUniqueLabelKey, hash),
			Template:        tmpl,
		},
	}
	*rs.Spec.Replicas = newRSNewReplicas(d, append(slices.Clone(old), rs), rs)
	setNewReplicaSetAnnotations(d, rs, newRevision, false)

	err := r.c.Create(ctx, rs)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		existing, gerr := Get[*objects.ReplicaSet](ctx, r.c, rs.Key())
		if gerr != nil {
			return nil, nil, gerr
		}
		if ref := existing.ControllerRef(); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &existing.Spec.Template) {
			rs = existing // created by an earlier reconcile this cache had not seen
			break
		}
		// A different template hashed to the same name: bump the collision
		// count so that the next attempt hashes differently.
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		if uerr := r.c.UpdateStatus(ctx, d); uerr != nil {
			return nil, nil, uerr
		}
		return nil, nil, fmt.Errorf("deployment %s: replica set %s exists with another template; retrying with collision count %d: %w",
			d.Name, rs.Name, *d.Status.CollisionCount, err)
	case errors.Is(err, ErrNamespaceTerminating), errors.Is(err, ErrOwnerDeleting):
		return nil, nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setDeploymentCondition(&d.Status, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionFalse,
				ReasonReplicaSetCreateError, msg, now))
			_ = r.c.UpdateStatus(ctx, d) // the creation error is the one to report
		}
		r.rec.Event(ctx, d, EventWarning, ReasonReplicaSetCreateError, msg)
		return nil, nil, err
	default:
		if n := replicasOf(rs.Spec.Replicas); n > 0 {
			r.rec.Event(ctx, d, EventNormal, "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 0 to %d", rs.Name, n))
		}
		if hasProgressDeadline(d) {
			setDeploymentCondition(&d.Status, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionTrue,
				ReasonNewReplicaSetCreated, fmt.Sprintf("Created new replica set %q", rs.Name), now))
		}
	}
	setDeploymentRevision(d, newRevision)
	if err := r.saveDeployment(ctx, d); err != nil {
		return nil, nil, err
	}
	return rs, old, nil
}

// scaleReplicaSetAndRecordEvent scales rs to n if it differs.
func (r *deploymentReconciler) scaleReplicaSetAndRecordEvent(ctx context.Context, rs *objects.ReplicaSet, n int32, d *objects.Deployment) (bool, error) {
	cur := replicasOf(rs.Spec.Replicas)
	if cur == n {
		return false, nil
	}
	op := "up"
	if cur > n {
		op = "down"
	}
	return r.scaleReplicaSet(ctx, rs, n, d, op)
}

// scaleReplicaSet sets rs's replicas and replicas annotations; rs receives
// what was stored.
func (r *deploymentReconciler) scaleReplicaSet(ctx context.Context, rs *objects.ReplicaSet, n int32, d *objects.Deployment, op string) (bool, error) {
	cur := replicasOf(rs.Spec.Replicas)
	want, maxR := replicasOf(d.Spec.Replicas), replicasOf(d.Spec.Replicas)+maxSurge(d)
	if cur == n && !replicasAnnotationsNeedUpdate(rs, want, maxR) {
		return false, nil
	}
	c := rs.DeepCopy()
	c.Spec.Replicas = &n
	setReplicasAnnotations(c, want, maxR)
	if err := r.c.Update(ctx, c); err != nil {
		return false, err
	}
	*rs = *c
	if cur == n {
		return false, nil
	}
	r.rec.Event(ctx, d, EventNormal, "ScalingReplicaSet", fmt.Sprintf("Scaled %s replica set %s from %d to %d", op, rs.Name, cur, n))
	return true, nil
}

// isScalingEvent reports whether the Deployment's replicas changed since
// its active ReplicaSets were last scaled.
func (r *deploymentReconciler) isScalingEvent(ctx context.Context, d *objects.Deployment, rsList []*objects.ReplicaSet) (bool, error) {
	newRS, old, err := r.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return false, err
	}
	for _, rs := range activeReplicaSets(append(old, newRS)) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != replicasOf(d.Spec.Replicas) {
			return true, nil
		}
	}
	return false, nil
}

// sync scales the ReplicaSets to a changed replicas count (proportionally
// during a rollout) and, when paused, cleans up old revisions.
func (r *deploymentReconciler) sync(ctx context.Context, d *objects.Deployment, rsList []*objects.ReplicaSet) error {
	newRS, old, err := r.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if err := r.scale(ctx, d, newRS, old); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := r.cleanupDeployment(ctx, old, d); err != nil {
			return err
		}
	}
	return r.syncDeploymentStatus(ctx, append(old, newRS), newRS, d)
}

// scale brings the sum of the ReplicaSets' replicas to the Deployment's,
// all in one transaction: the one active ReplicaSet takes them all;
// otherwise, during a rolling update, each gets a share proportional to its
// size, the leftover going to the largest.
func (r *deploymentReconciler) scale(ctx context.Context, d *objects.Deployment, newRS *objects.ReplicaSet, old []*objects.ReplicaSet) error {
	want := replicasOf(d.Spec.Replicas)
	if rs := findActiveOrLatest(newRS, old); rs != nil {
		if replicasOf(rs.Spec.Replicas) == want {
			return nil
		}
		_, err := r.scaleReplicaSetAndRecordEvent(ctx, rs, want, d)
		return err
	}
	if isSaturated(d, newRS) {
		for _, rs := range activeReplicaSets(old) {
			if _, err := r.scaleReplicaSetAndRecordEvent(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := activeReplicaSets(append(slices.Clone(old), newRS))
	allowed := int32(0)
	if want > 0 {
		allowed = want + maxSurge(d)
	}
	toAdd := allowed - specReplicas(all)
	op := ""
	switch {
	case toAdd > 0:
		op = "up"
		// Larger first; newer first among equals.
		slices.SortStableFunc(all, func(a, b *objects.ReplicaSet) int {
			if ra, rb := replicasOf(a.Spec.Replicas), replicasOf(b.Spec.Replicas); ra != rb {
				return int(rb - ra)
			}
			return byCreation(b, a)
		})
	case toAdd < 0:
		op = "down"
		// Larger first; older first among equals.
		slices.SortStableFunc(all, func(a, b *objects.ReplicaSet) int {
			if ra, rb := replicasOf(a.Spec.Replicas), replicasOf(b.Spec.Replicas); ra != rb {
				return int(rb - ra)
			}
			return byCreation(a, b)
		})
	}
	sizes := make([]int32, len(all))
	added := int32(0)
	for i, rs := range all {
		sizes[i] = replicasOf(rs.Spec.Replicas)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	if len(all) > 0 && toAdd != 0 {
		sizes[0] = max(sizes[0]+toAdd-added, 0)
	}
	maxR := want + maxSurge(d)
	type scaled struct {
		rs       *objects.ReplicaSet
		from, to int32
	}
	var done []scaled
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		done = done[:0]
		for i, rs := range all {
			cur := replicasOf(rs.Spec.Replicas)
			if cur == sizes[i] && !replicasAnnotationsNeedUpdate(rs, want, maxR) {
				continue
			}
			c := rs.DeepCopy()
			c.Spec.Replicas = ptrInt32(sizes[i])
			setReplicasAnnotations(c, want, maxR)
			if err := tx.Update(c); err != nil {
				return err
			}
			done = append(done, scaled{c, cur, sizes[i]})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range done {
		for _, rs := range all {
			if rs.UID == s.rs.UID {
				*rs = *s.rs
			}
		}
		if s.from != s.to {
			r.rec.Event(ctx, d, EventNormal, "ScalingReplicaSet", fmt.Sprintf("Scaled %s replica set %s from %d to %d", op, s.rs.Name, s.from, s.to))
		}
	}
	return nil
}

func ptrInt32(v int32) *int32 { return &v }

// rolloutRolling scales the new ReplicaSet up within maxSurge and the old
// ones down within maxUnavailable.
func (r *deploymentReconciler) rolloutRolling(ctx context.Context, d *objects.Deployment, rsList []*objects.ReplicaSet) (Result, error) {
	newRS, old, err := r.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true)
	if err != nil {
		return Result{}, err
	}
	all := append(slices.Clone(old), newRS)
	if scaled, err := r.reconcileNewReplicaSet(ctx, all, newRS, d); err != nil {
		return Result{}, err
	} else if scaled {
		return r.syncRolloutStatus(ctx, all, newRS, d)
	}
	if scaled, err := r.reconcileOldReplicaSets(ctx, all, activeReplicaSets(old), newRS, d); err != nil {
		return Result{}, err
	} else if scaled {
		return r.syncRolloutStatus(ctx, all, newRS, d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := r.cleanupDeployment(ctx, old, d); err != nil {
			return Result{}, err
		}
	}
	return r.syncRolloutStatus(ctx, all, newRS, d)
}

func (r *deploymentReconciler) reconcileNewReplicaSet(ctx context.Context, all []*objects.ReplicaSet, newRS *objects.ReplicaSet, d *objects.Deployment) (bool, error) {
	want, cur := replicasOf(d.Spec.Replicas), replicasOf(newRS.Spec.Replicas)
	if cur == want {
		return false, nil
	}
	if cur > want {
		return r.scaleReplicaSetAndRecordEvent(ctx, newRS, want, d)
	}
	return r.scaleReplicaSetAndRecordEvent(ctx, newRS, newRSNewReplicas(d, all, newRS), d)
}

// reconcileOldReplicaSets scales old ReplicaSets down as far as
// maxUnavailable allows: first their unavailable pods, then available
// ones while enough remain available.
func (r *deploymentReconciler) reconcileOldReplicaSets(ctx context.Context, all, old []*objects.ReplicaSet, newRS *objects.ReplicaSet, d *objects.Deployment) (bool, error) {
	if specReplicas(old) == 0 {
		return false, nil
	}
	minAvail := replicasOf(d.Spec.Replicas) - maxUnavailable(d)
	newUnavailable := replicasOf(newRS.Spec.Replicas) - minAvailable(newRS)
	maxScaledDown := specReplicas(all) - minAvail - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	slices.SortFunc(old, byCreation)
	cleaned, err := r.cleanupUnhealthyReplicas(ctx, old, d, maxScaledDown)
	if err != nil {
		return false, err
	}
	down, err := r.scaleDownOldReplicaSetsForRollingUpdate(ctx, append(slices.Clone(old), newRS), old, d)
	if err != nil {
		return false, err
	}
	return cleaned+down > 0, nil
}

// cleanupUnhealthyReplicas scales old ReplicaSets down by their unavailable
// pods (which the ReplicaSet deletes first), up to maxCleanup.
func (r *deploymentReconciler) cleanupUnhealthyReplicas(ctx context.Context, old []*objects.ReplicaSet, d *objects.Deployment, maxCleanup int32) (int32, error) {
	total := int32(0)
	for _, rs := range old {
		if total >= maxCleanup {
			break
		}
		cur := replicasOf(rs.Spec.Replicas)
		if cur == 0 || cur == minAvailable(rs) {
			continue
		}
		n := min(maxCleanup-total, cur-minAvailable(rs))
		if _, err := r.scaleReplicaSetAndRecordEvent(ctx, rs, cur-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// scaleDownOldReplicaSetsForRollingUpdate scales old ReplicaSets down,
// oldest first, by as many pods as are available above the minimum.
func (r *deploymentReconciler) scaleDownOldReplicaSetsForRollingUpdate(ctx context.Context, all, old []*objects.ReplicaSet, d *objects.Deployment) (int32, error) {
	minAvail := replicasOf(d.Spec.Replicas) - maxUnavailable(d)
	avail := sumMinAvailable(all)
	if avail <= minAvail {
		return 0, nil
	}
	slices.SortFunc(old, byCreation)
	want := avail - minAvail
	total := int32(0)
	for _, rs := range old {
		if total >= want {
			break
		}
		cur := replicasOf(rs.Spec.Replicas)
		if cur == 0 {
			continue
		}
		n := min(cur, want-total)
		if _, err := r.scaleReplicaSetAndRecordEvent(ctx, rs, cur-n, d); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// rolloutRecreate scales every old ReplicaSet to zero, waits until no old
// pod runs, then creates and scales up the new one.
func (r *deploymentReconciler) rolloutRecreate(ctx context.Context, d *objects.Deployment, rsList []*objects.ReplicaSet) (Result, error) {
	newRS, old, err := r.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, false)
	if err != nil {
		return Result{}, err
	}
	all := append(slices.Clone(old), newRS)
	scaledDown := false
	for _, rs := range activeReplicaSets(old) {
		scaled, err := r.scaleReplicaSetAndRecordEvent(ctx, rs, 0, d)
		if err != nil {
			return Result{}, err
		}
		scaledDown = scaledDown || scaled
	}
	if scaledDown {
		return r.syncRolloutStatus(ctx, all, newRS, d)
	}
	running, err := r.oldPodsRunning(ctx, newRS, old)
	if err != nil {
		return Result{}, err
	}
	if running {
		return r.syncRolloutStatus(ctx, all, newRS, d)
	}
	if newRS == nil {
		newRS, old, err = r.getAllReplicaSetsAndSyncRevision(ctx, d, rsList, true)
		if err != nil {
			return Result{}, err
		}
		all = append(slices.Clone(old), newRS)
	}
	if _, err := r.scaleReplicaSetAndRecordEvent(ctx, newRS, replicasOf(d.Spec.Replicas), d); err != nil {
		return Result{}, err
	}
	if deploymentComplete(d, &d.Status) {
		if err := r.cleanupDeployment(ctx, old, d); err != nil {
			return Result{}, err
		}
	}
	return r.syncRolloutStatus(ctx, all, newRS, d)
}

// oldPodsRunning reports whether an old ReplicaSet still has a pod that
// has not finished, including pods being deleted.
func (r *deploymentReconciler) oldPodsRunning(ctx context.Context, newRS *objects.ReplicaSet, old []*objects.ReplicaSet) (bool, error) {
	if statusSum(old, func(s *objects.ReplicaSetStatus) int32 { return s.Replicas }) > 0 {
		return true, nil
	}
	for _, rs := range old {
		if newRS != nil && rs.UID == newRS.UID {
			continue
		}
		pods, err := r.c.list(ctx, kindPod, store.ListOptions{Namespace: rs.Namespace, Fields: map[string]string{store.IndexOwner: rs.UID}},
			func(o objects.Object) bool {
				p := o.(*objects.Pod)
				ref := p.ControllerRef()
				return ref != nil && ref.UID == rs.UID && !p.IsTerminal()
			})
		if err != nil {
			return false, err
		}
		if len(pods) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// cleanupDeployment deletes the oldest ReplicaSets beyond
// revisionHistoryLimit that have no pods left.
func (r *deploymentReconciler) cleanupDeployment(ctx context.Context, old []*objects.ReplicaSet, d *objects.Deployment) error {
	if !hasRevisionHistoryLimit(d) {
		return nil
	}
	var alive []*objects.ReplicaSet
	for _, rs := range old {
		if rs != nil && !rs.IsDeleting() {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*d.Spec.RevisionHistoryLimit)
	if diff <= 0 {
		return nil
	}
	slices.SortFunc(alive, func(a, b *objects.ReplicaSet) int {
		ra, rb := revisionOf(&a.ObjectMeta), revisionOf(&b.ObjectMeta)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		return byCreation(a, b)
	})
	return r.c.Txn(ctx, func(tx store.Tx) error {
		for _, rs := range alive[:diff] {
			if rs.Status.Replicas != 0 || replicasOf(rs.Spec.Replicas) != 0 || rs.Generation > rs.Status.ObservedGeneration {
				continue
			}
			err := store.Remove(tx, kindReplicaSet, rs.Key(), store.DeleteOptions{Preconditions: &store.Preconditions{UID: rs.UID}})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// checkPausedConditions records pausing and resuming in the Progressing
// condition (status Unknown), so that a paused Deployment never times out
// and a resumed one counts its deadline from the resume.
func (r *deploymentReconciler) checkPausedConditions(ctx context.Context, d *objects.Deployment) error {
	if !hasProgressDeadline(d) {
		return nil
	}
	c := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
	if c != nil && c.Reason == ReasonProgressDeadlineExceeded {
		return nil
	}
	paused := c != nil && c.Reason == ReasonDeploymentPaused
	now := r.clock.Now()
	switch {
	case d.Spec.Paused && !paused:
		setDeploymentCondition(&d.Status, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionUnknown,
			ReasonDeploymentPaused, "Deployment is paused", now))
	case !d.Spec.Paused && paused:
		setDeploymentCondition(&d.Status, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionUnknown,
			ReasonDeploymentResumed, "Deployment is resumed", now))
	default:
		return nil
	}
	return r.c.UpdateStatus(ctx, d)
}

// calculateStatus sums the ReplicaSets' statuses and sets the Available
// condition.
func (r *deploymentReconciler) calculateStatus(all []*objects.ReplicaSet, newRS *objects.ReplicaSet, d *objects.Deployment) objects.DeploymentStatus {
	avail := statusSum(all, func(s *objects.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	unavailable := max(specReplicas(all)-avail, 0)
	s := objects.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            statusSum(all, func(s *objects.ReplicaSetStatus) int32 { return s.Replicas }),
		UpdatedReplicas:     statusSum([]*objects.ReplicaSet{newRS}, func(s *objects.ReplicaSetStatus) int32 { return s.Replicas }),
		ReadyReplicas:       statusSum(all, func(s *objects.ReplicaSetStatus) int32 { return s.ReadyReplicas }),
		AvailableReplicas:   avail,
		UnavailableReplicas: unavailable,
		CollisionCount:      d.Status.CollisionCount,
		Conditions:          slices.Clone(d.Status.Conditions),
	}
	now := r.clock.Now()
	if avail >= replicasOf(d.Spec.Replicas)-maxUnavailable(d) {
		setDeploymentCondition(&s, newDeploymentCondition(objects.DeploymentAvailable, objects.ConditionTrue,
			ReasonMinimumReplicasAvailable, "Deployment has minimum availability.", now))
	} else {
		setDeploymentCondition(&s, newDeploymentCondition(objects.DeploymentAvailable, objects.ConditionFalse,
			ReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability.", now))
	}
	return s
}

// syncDeploymentStatus writes the status computed from the ReplicaSets.
func (r *deploymentReconciler) syncDeploymentStatus(ctx context.Context, all []*objects.ReplicaSet, newRS *objects.ReplicaSet, d *objects.Deployment) error {
	s := r.calculateStatus(all, newRS, d)
	if reflect.DeepEqual(d.Status, s) {
		return nil
	}
	d.Status = s
	return r.c.UpdateStatus(ctx, d)
}

// syncRolloutStatus writes the status with the Progressing condition, and
// asks to be reconciled again when the progress deadline would pass.
func (r *deploymentReconciler) syncRolloutStatus(ctx context.Context, all []*objects.ReplicaSet, newRS *objects.ReplicaSet, d *objects.Deployment) (Result, error) {
	s := r.calculateStatus(all, newRS, d)
	now := r.clock.Now()
	if !hasProgressDeadline(d) {
		removeDeploymentCondition(&s, objects.DeploymentProgressing)
	}
	cur := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
	complete := s.Replicas == s.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewReplicaSetAvailable
	if hasProgressDeadline(d) && !complete {
		name := func(what string) string {
			if newRS != nil {
				return fmt.Sprintf("ReplicaSet %q %s.", newRS.Name, what)
			}
			return fmt.Sprintf("Deployment %q %s.", d.Name, what)
		}
		switch {
		case deploymentComplete(d, &s):
			setDeploymentCondition(&s, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionTrue,
				ReasonNewReplicaSetAvailable, name("has successfully progressed"), now))
		case deploymentProgressing(d, &s):
			c := newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionTrue, ReasonReplicaSetUpdated, name("is progressing"), now)
			if cur != nil {
				if cur.Status == objects.ConditionTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				removeDeploymentCondition(&s, objects.DeploymentProgressing)
			}
			s.Conditions = append(s.Conditions, c)
		case deploymentTimedOut(d, &s, now):
			setDeploymentCondition(&s, newDeploymentCondition(objects.DeploymentProgressing, objects.ConditionFalse,
				ReasonProgressDeadlineExceeded, name("has timed out progressing"), now))
		}
	}
	if f := replicaFailure(all, newRS); f != nil {
		setDeploymentCondition(&s, *f)
	} else {
		removeDeploymentCondition(&s, objects.DeploymentReplicaFailure)
	}
	if !reflect.DeepEqual(d.Status, s) {
		d.Status = s
		if err := r.c.UpdateStatus(ctx, d); err != nil {
			return Result{}, err
		}
	}
	return Result{RequeueAfter: r.progressCheckAfter(d, now)}, nil
}

// progressCheckAfter is when the Deployment's progress deadline passes, if
// it is rolling out; 0 otherwise.
func (r *deploymentReconciler) progressCheckAfter(d *objects.Deployment, now time.Time) time.Duration {
	c := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
	if !hasProgressDeadline(d) || c == nil || deploymentComplete(d, &d.Status) || c.Reason == ReasonProgressDeadlineExceeded {
		return 0
	}
	after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(now)
	// The deadline passes strictly after the moment; timestamps have whole
	// seconds.
	return max(after, 0) + time.Second
}

// replicaFailure returns the ReplicaFailure condition of a ReplicaSet, as
// the Deployment's: the new ReplicaSet's if it has one, as Kubernetes'
// getReplicaFailures prefers it, else the first of the others'.
func replicaFailure(all []*objects.ReplicaSet, newRS *objects.ReplicaSet) *objects.DeploymentCondition {
	for _, rs := range append([]*objects.ReplicaSet{newRS}, all...) {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == objects.ReplicaSetReplicaFailure {
				return &objects.DeploymentCondition{Type: objects.DeploymentReplicaFailure, Status: c.Status,
					LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message}
			}
		}
	}
	return nil
}
