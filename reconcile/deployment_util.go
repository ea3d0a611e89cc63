package reconcile

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
)

// Annotations the Deployment controller keeps, as Kubernetes names them.
const (
	// RevisionAnnotation numbers a Deployment's rollouts: on the Deployment
	// its current revision, on each ReplicaSet the revision it rolled out.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a ReplicaSet
	// rolled out before a rollback made it current again.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's replicas when it last
	// scaled the ReplicaSet.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is replicas plus maxSurge at that time, the base
	// of proportional scaling.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"

	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// RestartedAtAnnotation on a pod template makes Restart roll out new
	// pods, as `kubectl rollout restart` does.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

	maxRevHistoryLengthInChars = 2000
)

// Reasons of the Deployment's conditions, as Kubernetes gives them.
const (
	ReasonNewReplicaSetCreated       = "NewReplicaSetCreated"
	ReasonFoundNewReplicaSet         = "FoundNewReplicaSet"
	ReasonNewReplicaSetAvailable     = "NewReplicaSetAvailable"
	ReasonReplicaSetUpdated          = "ReplicaSetUpdated"
	ReasonProgressDeadlineExceeded   = "ProgressDeadlineExceeded"
	ReasonReplicaSetCreateError      = "ReplicaSetCreateError"
	ReasonDeploymentPaused           = "DeploymentPaused"
	ReasonDeploymentResumed          = "DeploymentResumed"
	ReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
)

// templateHash hashes a pod template (and the collision count, when set)
// into the value of the pod-template-hash label: FNV-32a of the template's
// JSON, written with Kubernetes' alphabet of characters that never spell
// words.
func templateHash(t *objects.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, _ := json.Marshal(t) // a template always encodes
	h.Write(b)
	if collisionCount != nil {
		var c [4]byte
		binary.LittleEndian.PutUint32(c[:], uint32(*collisionCount))
		h.Write(c[:])
	}
	return safeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

func safeEncodeString(s string) string {
	const alphanums = "bcdfghjklmnpqrstvwxz2456789"
	r := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = alphanums[int(s[i])%len(alphanums)]
	}
	return string(r)
}

// equalIgnoreHash reports whether two templates are the same apart from the
// pod-template-hash label, as their JSON says (so that, as in Kubernetes'
// semantic equality, an empty list equals a missing one). A Deployment and
// its current ReplicaSet, compared at each of its reconciles, are most
// often equal field for field, which is cheaper to see.
func equalIgnoreHash(a, b *objects.PodTemplateSpec) bool {
	if !labelsEqualIgnoreHash(a.Labels, b.Labels) {
		return false
	}
	ma, mb := a.ObjectMeta, b.ObjectMeta
	ma.Labels, mb.Labels = nil, nil
	if reflect.DeepEqual(&ma, &mb) && reflect.DeepEqual(&a.Spec, &b.Spec) {
		return true
	}
	strip := func(t *objects.PodTemplateSpec) []byte {
		c := t.DeepCopy()
		delete(c.Labels, objects.DefaultDeploymentUniqueLabelKey)
		if len(c.Labels) == 0 {
			c.Labels = nil
		}
		j, _ := json.Marshal(c)
		return j
	}
	return string(strip(a)) == string(strip(b))
}

func labelsEqualIgnoreHash(a, b map[string]string) bool {
	n := 0
	for k, v := range a {
		if k == objects.DefaultDeploymentUniqueLabelKey {
			continue
		}
		if w, ok := b[k]; !ok || w != v {
			return false
		}
		n++
	}
	if _, ok := b[objects.DefaultDeploymentUniqueLabelKey]; ok {
		n++
	}
	return n == len(b)
}

func revisionOf(m *objects.ObjectMeta) int64 {
	v, err := strconv.ParseInt(m.Annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*objects.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, revisionOf(&rs.ObjectMeta))
	}
	return m
}

func skipCopyAnnotation(k string) bool {
	switch k {
	case lastAppliedAnnotation, RevisionAnnotation, RevisionHistoryAnnotation, DesiredReplicasAnnotation, MaxReplicasAnnotation:
		return true
	}
	return false
}

// setNewReplicaSetAnnotations copies the Deployment's annotations to its new
// ReplicaSet, raises its revision to newRevision (keeping the revisions it
// had in its history, for a rollback) and, for a ReplicaSet about to be
// created, sets the replicas annotations.
func setNewReplicaSetAnnotations(d *objects.Deployment, rs *objects.ReplicaSet, newRevision int64, exists bool) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if cur, ok := rs.Annotations[k]; skipCopyAnnotation(k) || (ok && cur == v) {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	oldStr, had := rs.Annotations[RevisionAnnotation]
	old, err := strconv.ParseInt(oldStr, 10, 64)
	if err != nil {
		if oldStr != "" {
			return changed
		}
		old = 0
	}
	if old < newRevision {
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(newRevision, 10)
		changed = true
		if had {
			hist := rs.Annotations[RevisionHistoryAnnotation]
			if hist == "" {
				rs.Annotations[RevisionHistoryAnnotation] = oldStr
			} else {
				revs := strings.Split(hist, ",")
				total := len(hist) + len(oldStr) + 1
				start := 0
				for total > maxRevHistoryLengthInChars && start < len(revs) {
					total -= len(revs[start]) + 1
					start++
				}
				if total <= maxRevHistoryLengthInChars {
					rs.Annotations[RevisionHistoryAnnotation] = strings.Join(append(revs[start:], oldStr), ",")
				}
			}
		}
	}
	if !exists && setReplicasAnnotations(rs, replicasOf(d.Spec.Replicas), replicasOf(d.Spec.Replicas)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// setDeploymentAnnotationsTo gives the Deployment the annotations of the
// ReplicaSet it rolls back to, keeping its own controller-managed ones.
func setDeploymentAnnotationsTo(d *objects.Deployment, rs *objects.ReplicaSet) {
	keep := map[string]string{}
	for k, v := range d.Annotations {
		if skipCopyAnnotation(k) {
			keep[k] = v
		}
	}
	for k, v := range rs.Annotations {
		if !skipCopyAnnotation(k) {
			keep[k] = v
		}
	}
	d.Annotations = keep
}

func setDeploymentRevision(d *objects.Deployment, revision int64) bool {
	v := strconv.FormatInt(revision, 10)
	if d.Annotations[RevisionAnnotation] == v {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = v
	return true
}

func setReplicasAnnotations(rs *objects.ReplicaSet, desired, maxReplicas int32) bool {
	if !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(desired))
	rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

func replicasAnnotationsNeedUpdate(rs *objects.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

func intAnnotation(rs *objects.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// resolveFenceposts returns maxSurge (rounded up) and maxUnavailable
// (rounded down) for desired replicas; when both come to 0,
// maxUnavailable is 1, as Kubernetes does.
func resolveFenceposts(ru *objects.RollingUpdateDeployment, desired int32) (surge, unavailable int32) {
	zero := objects.FromInt32(0)
	ms, mu := &zero, &zero
	if ru != nil && ru.MaxSurge != nil {
		ms = ru.MaxSurge
	}
	if ru != nil && ru.MaxUnavailable != nil {
		mu = ru.MaxUnavailable
	}
	s, _ := objects.GetScaledValueFromIntOrPercent(ms, int(desired), objects.RoundUp) // validated on admission
	u, _ := objects.GetScaledValueFromIntOrPercent(mu, int(desired), objects.RoundDown)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

func isRollingUpdate(d *objects.Deployment) bool {
	return d.Spec.Strategy.Type == objects.RollingUpdateDeploymentStrategyType
}

func maxSurge(d *objects.Deployment) int32 {
	if !isRollingUpdate(d) {
		return 0
	}
	s, _ := resolveFenceposts(d.Spec.Strategy.RollingUpdate, replicasOf(d.Spec.Replicas))
	return s
}

func maxUnavailable(d *objects.Deployment) int32 {
	want := replicasOf(d.Spec.Replicas)
	if !isRollingUpdate(d) || want == 0 {
		return 0
	}
	_, u := resolveFenceposts(d.Spec.Strategy.RollingUpdate, want)
	return min(u, want)
}

// Replica counts over ReplicaSets. The controller scales on conservative
// counts, so that a ReplicaSet status a moment old can never make a rolling
// update exceed maxSurge or fall below the available minimum: a
// ReplicaSet may have as many pods as the larger of its spec and its last
// observed count, and as few available ones as the smaller of its spec and
// its last available count.

func specReplicas(rss []*objects.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += replicasOf(rs.Spec.Replicas)
		}
	}
	return n
}

func maxPods(rss []*objects.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += max(replicasOf(rs.Spec.Replicas), rs.Status.Replicas)
		}
	}
	return n
}

func minAvailable(rs *objects.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return min(replicasOf(rs.Spec.Replicas), rs.Status.AvailableReplicas)
}

func sumMinAvailable(rss []*objects.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += minAvailable(rs)
	}
	return n
}

func statusSum(rss []*objects.ReplicaSet, f func(*objects.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(&rs.Status)
		}
	}
	return n
}

func activeReplicaSets(rss []*objects.ReplicaSet) []*objects.ReplicaSet {
	var out []*objects.ReplicaSet
	for _, rs := range rss {
		if rs != nil && replicasOf(rs.Spec.Replicas) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// byCreation orders ReplicaSets oldest first, then by name.
func byCreation(a, b *objects.ReplicaSet) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// newRSNewReplicas is how far the new ReplicaSet may grow now: up to
// replicas, and under RollingUpdate only while all pods stay within
// replicas + maxSurge.
func newRSNewReplicas(d *objects.Deployment, all []*objects.ReplicaSet, newRS *objects.ReplicaSet) int32 {
	want := replicasOf(d.Spec.Replicas)
	if !isRollingUpdate(d) {
		return want
	}
	cur := replicasOf(newRS.Spec.Replicas)
	maxTotal := want + maxSurge(d)
	pods := maxPods(all)
	if pods >= maxTotal {
		return cur
	}
	up := min(maxTotal-pods, want-cur)
	return cur + max(up, 0)
}

// isSaturated reports whether the new ReplicaSet runs every replica.
func isSaturated(d *objects.Deployment, rs *objects.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want := replicasOf(d.Spec.Replicas)
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && replicasOf(rs.Spec.Replicas) == want && desired == want && rs.Status.AvailableReplicas == want
}

// findActiveOrLatest returns the one ReplicaSet with replicas, or the newest
// when none has any; nil when several have.
func findActiveOrLatest(newRS *objects.ReplicaSet, old []*objects.ReplicaSet) *objects.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := slices.Clone(old)
	slices.SortFunc(sorted, func(a, b *objects.ReplicaSet) int { return byCreation(b, a) })
	all := activeReplicaSets(append(sorted, newRS))
	switch len(all) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return all[0]
	}
	return nil
}

// proportion is the share of replicasToAdd a ReplicaSet gets in a
// proportional scale, from its size relative to the Deployment's size
// when it was last scaled.
func proportion(rs *objects.ReplicaSet, d *objects.Deployment, toAdd, added int32) int32 {
	if rs == nil || replicasOf(rs.Spec.Replicas) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	frac := replicaSetFraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(frac, allowed)
	}
	return max(frac, allowed)
}

func replicaSetFraction(rs *objects.ReplicaSet, d *objects.Deployment) int32 {
	cur := replicasOf(rs.Spec.Replicas)
	if replicasOf(d.Spec.Replicas) == 0 {
		return -cur
	}
	maxNow := replicasOf(d.Spec.Replicas) + maxSurge(d)
	before, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || before == 0 {
		before = d.Status.Replicas
		if before == 0 {
			return 0
		}
	}
	// Multiplied before dividing, as Kubernetes does: cur/before*maxNow
	// loses the halves (7/10*45 is 31.499...).
	size := float64(int64(cur)*int64(maxNow)) / float64(before)
	return int32(math.Round(size)) - cur
}

// Deployment conditions.

func newDeploymentCondition(t objects.DeploymentConditionType, status objects.ConditionStatus, reason, message string, now time.Time) objects.DeploymentCondition {
	ts := objects.NewTime(now)
	return objects.DeploymentCondition{Type: t, Status: status, LastUpdateTime: ts, LastTransitionTime: ts, Reason: reason, Message: message}
}

// setDeploymentCondition sets c unless a condition of its type already has
// its status and reason; the transition time is kept while the status
// stays.
func setDeploymentCondition(s *objects.DeploymentStatus, c objects.DeploymentCondition) {
	cur := objects.GetDeploymentCondition(s, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeDeploymentCondition(s, c.Type)
	s.Conditions = append(s.Conditions, c)
}

func removeDeploymentCondition(s *objects.DeploymentStatus, t objects.DeploymentConditionType) {
	s.Conditions = slices.DeleteFunc(s.Conditions, func(c objects.DeploymentCondition) bool { return c.Type == t })
	if len(s.Conditions) == 0 {
		s.Conditions = nil
	}
}

func hasProgressDeadline(d *objects.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

func hasRevisionHistoryLimit(d *objects.Deployment) bool {
	return d.Spec.RevisionHistoryLimit != nil && *d.Spec.RevisionHistoryLimit != math.MaxInt32
}

// deploymentComplete: every replica updated and available, and the
// latest spec observed.
func deploymentComplete(d *objects.Deployment, s *objects.DeploymentStatus) bool {
	want := replicasOf(d.Spec.Replicas)
	return s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want && s.ObservedGeneration >= d.Generation
}

// deploymentProgressing: the new status shows more updated, ready or
// available pods, or fewer old ones, than the stored one.
func deploymentProgressing(d *objects.Deployment, s *objects.DeploymentStatus) bool {
	o := d.Status
	return s.UpdatedReplicas > o.UpdatedReplicas || s.Replicas-s.UpdatedReplicas < o.Replicas-o.UpdatedReplicas ||
		s.ReadyReplicas > o.ReadyReplicas || s.AvailableReplicas > o.AvailableReplicas
}

// deploymentTimedOut: progressDeadlineSeconds passed since the Progressing
// condition last recorded progress.
func deploymentTimedOut(d *objects.Deployment, s *objects.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := objects.GetDeploymentCondition(s, objects.DeploymentProgressing)
	if c == nil || c.Reason == ReasonNewReplicaSetAvailable {
		return false
	}
	if c.Reason == ReasonProgressDeadlineExceeded {
		return true
	}
	return c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}

func cloneSelectorAndAddLabel(sel *objects.LabelSelector, key, value string) *objects.LabelSelector {
	c := sel.DeepCopy()
	c.MatchLabels = maps.Clone(c.MatchLabels)
	if c.MatchLabels == nil {
		c.MatchLabels = map[string]string{}
	}
	c.MatchLabels[key] = value
	return c
}
