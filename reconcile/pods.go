package reconcile

import (
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/podkit/podkit/objects"
)

// Pod helpers shared by the controllers of pods (ReplicaSet, and the
// StatefulSet, DaemonSet and Job controllers built the same way).

// podFromTemplate returns a new pod of template for owner, named
// "<owner>-<random>" by the store, as Kubernetes' GetPodFromTemplate makes
// it.
func podFromTemplate(template *objects.PodTemplateSpec, owner objects.Object) *objects.Pod {
	om := owner.GetObjectMeta()
	p := &objects.Pod{
		ObjectMeta: objects.ObjectMeta{
			Namespace:       om.Namespace,
			GenerateName:    podNamePrefix(om.Name),
			Labels:          maps.Clone(template.Labels),
			Annotations:     maps.Clone(template.Annotations),
			Finalizers:      slices.Clone(template.Finalizers),
			OwnerReferences: []objects.OwnerReference{NewControllerRef(owner)},
		},
	}
	template.Spec.DeepCopyInto(&p.Spec)
	return p
}

// podNamePrefix is the generateName of an owner's pods: its name and a
// dash, cut so that a generated name stays a valid 63-character name.
func podNamePrefix(owner string) string {
	const maxPrefix = 63 - 5
	p := owner + "-"
	if len(p) > maxPrefix {
		p = p[:maxPrefix]
	}
	return p
}

// isPodActive reports whether a pod counts towards a controller's replicas:
// not finished and not being deleted.
func isPodActive(p *objects.Pod) bool {
	return !p.IsTerminal() && !p.IsDeleting()
}

// isPodAvailable reports whether a pod has been ready for minReadySeconds at
// now.
func isPodAvailable(p *objects.Pod, minReadySeconds int32, now time.Time) bool {
	c := objects.GetPodCondition(&p.Status, objects.PodReady)
	if c == nil || c.Status != objects.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(min).Before(now)
}

// untilAvailable returns how long until a ready pod becomes available, or
// false when it is not ready or already available.
func untilAvailable(p *objects.Pod, minReadySeconds int32, now time.Time) (time.Duration, bool) {
	c := objects.GetPodCondition(&p.Status, objects.PodReady)
	if minReadySeconds == 0 || c == nil || c.Status != objects.ConditionTrue || isPodAvailable(p, minReadySeconds, now) {
		return 0, false
	}
	// Available strictly after the moment; timestamps have whole seconds.
	return c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).Sub(now) + time.Second, true
}

// rankedPods orders pods from the least to the most valuable to keep, as
// Kubernetes' ActivePodsWithRanks does (with LogarithmicScaleDown):
//
//  1. unassigned before assigned;
//  2. Pending before Unknown before Running;
//  3. not ready before ready;
//  4. lower controller.kubernetes.io/pod-deletion-cost before higher (an
//     invalid value counts as 0);
//  5. more related pods on the same node before fewer (rank);
//  6. ready for less time before longer (in powers of two of the age);
//  7. more container restarts before fewer;
//  8. newer before older (in powers of two of the age).
type rankedPods struct {
	pods []*objects.Pod
	rank []int
	now  time.Time
}

func (s rankedPods) Len() int { return len(s.pods) }

func (s rankedPods) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

var podPhaseOrder = map[objects.PodPhase]int{objects.PodPending: 0, objects.PodUnknown: 1, objects.PodRunning: 2}

func (s rankedPods) Less(i, j int) bool {
	a, b := s.pods[i], s.pods[j]
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := podPhaseOrder[a.Status.Phase], podPhaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	ra, rb := objects.IsPodReady(a), objects.IsPodReady(b)
	if ra != rb {
		return !ra
	}
	costA, _ := objects.PodDeletionCost(a.Annotations)
	costB, _ := objects.PodDeletionCost(b.Annotations)
	if costA != costB {
		return costA < costB
	}
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	if ra && rb {
		ta, tb := podReadyTime(a), podReadyTime(b)
		if !ta.Equal(tb) {
			if ta.IsZero() || tb.IsZero() {
				return afterOrZero(ta, tb)
			}
			if d := logRankDiff(ta, tb, s.now); d != 0 {
				return d < 0
			}
			return a.UID < b.UID
		}
	}
	if ca, cb := maxRestarts(a), maxRestarts(b); ca != cb {
		return ca > cb
	}
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		if ta.IsZero() || tb.IsZero() {
			return afterOrZero(ta, tb)
		}
		if d := logRankDiff(ta, tb, s.now); d != 0 {
			return d < 0
		}
		return a.UID < b.UID
	}
	return a.Name < b.Name
}

func podReadyTime(p *objects.Pod) time.Time {
	if c := objects.GetPodCondition(&p.Status, objects.PodReady); c != nil && c.Status == objects.ConditionTrue {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// afterOrZero: a zero time sorts first, then the later time.
func afterOrZero(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero()
	}
	return a.After(b)
}

// logRankDiff compares the ages of two times in powers of two, so that pods
// of about the same age rank alike and ties fall to a random order (the
// uid) instead of always removing the newest.
func logRankDiff(a, b, now time.Time) int64 {
	if now.IsZero() || a.IsZero() || b.IsZero() {
		return 0
	}
	rank := func(t time.Time) int64 {
		if d := now.Sub(t); d > 0 {
			return int64(math.Log2(float64(d)))
		}
		return -1
	}
	return rank(a) - rank(b)
}

func maxRestarts(p *objects.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n = max(n, c.RestartCount)
	}
	return n
}

// podsToDelete returns the n pods least worth keeping, ranking each by the
// number of related pods (of the same owner's other ReplicaSets too) on its
// node, so that scale-down spreads what remains.
func podsToDelete(pods, related []*objects.Pod, n int, now time.Time) []*objects.Pod {
	if n >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		if isPodActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	s := rankedPods{pods: slices.Clone(pods), rank: make([]int, len(pods)), now: now}
	for i, p := range s.pods {
		s.rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Sort(s)
	return s.pods[:n]
}
