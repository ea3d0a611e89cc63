package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Rolling updates of StatefulSets with maxUnavailable, as Kubernetes'
// MaxUnavailableStatefulSet does them.

// maxUnavailableEnv runs the StatefulSet controller traced, so that a test
// may assert what it did not do (reconcileNow).
func maxUnavailableEnv(t *testing.T) *env {
	return newEnv(t, withControllers(func(m *Manager) error { return m.Add(traced(StatefulSetController(m))) }))
}

// readyUnless plays node agents that make every pod Running and Ready but
// those hold refuses.
func (e *env) readyUnless(hold func(p *objects.Pod) bool) {
	e.runPodScript(func(p *objects.Pod) bool { return !hold(p) && makeReady(p, e.clock.Now()) })
}

// newRollingSet is set db of n pods of db:1 rolled out with maxUnavailable.
func newRollingSet(n int32, maxUnavailable objects.IntOrString, policy objects.PodManagementPolicyType) *objects.StatefulSet {
	set := newStatefulSet("db", n)
	set.Spec.PodManagementPolicy = policy
	set.Spec.UpdateStrategy = objects.StatefulSetUpdateStrategy{
		Type:          objects.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &objects.RollingUpdateStatefulSetStrategy{MaxUnavailable: &maxUnavailable},
	}
	return set
}

// runs reports whether p exists, is not being deleted, runs image and is
// ready.
func runs(p *objects.Pod, image string) bool {
	return p != nil && !p.IsDeleting() && p.Spec.Containers[0].Image == image && objects.IsPodReady(p)
}

// podsRun holds when each pod of db named by its ordinal runs its image
// and is ready, and says what it saw.
func podsRun(tx store.ReadTx, images map[int]string) (bool, string) {
	ok := true
	for ord, image := range images {
		ok = ok && runs(getPod(tx, fmt.Sprintf("db-%d", ord)), image)
	}
	return ok, fmt.Sprintf("status %+v; pods %v", getSTS(tx, "db").Status, podNames(podsWhere(tx, nil)))
}

var stsRequest = Request{Namespace: "default", Name: "db"}

// maxUnavailable 2 with OrderedReady, as in Kubernetes: once every pod is
// healthy db-4 and db-3 are deleted together; they come back in ordinal
// order (db-4 only once db-3 is ready), and db-2 goes only when both are
// back and ready. Never more than two pods are unavailable.
func TestStatefulSetMaxUnavailableOrderedReady(t *testing.T) {
	e := maxUnavailableEnv(t)
	e.readyUnless(func(p *objects.Pod) bool { return p.Name == "db-3" && p.Spec.Containers[0].Image == "db:2" })
	e.create(newRollingSet(5, objects.FromInt32(2), objects.OrderedReadyPodManagement))
	e.waitFor("5 ready", stsReady("db", 5, "db:1"))

	ordered := orderedCheck("db", 5)
	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		if p2 := pods[dkey("db-2")]; p2 == nil || p2.IsDeleting() || p2.Spec.Containers[0].Image == "db:2" {
			for _, name := range []string{"db-3", "db-4"} {
				if !runs(pods[dkey(name)], "db:2") {
					return "db-2 replaced while " + name + " is not updated and ready"
				}
			}
		}
		return ordered(pods)
	})
	setImageSTS(e, "db", "db:2")
	e.waitFor("db-3 back unready, db-4 not yet", func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, "db")
		p3 := getPod(tx, "db-3")
		ok, seen := podsRun(tx, map[int]string{0: "db:1", 1: "db:1", 2: "db:1"})
		return ok && p3 != nil && p3.Spec.Containers[0].Image == "db:2" && !objects.IsPodReady(p3) && getPod(tx, "db-4") == nil &&
			s.Status.ObservedGeneration == s.Generation && s.Status.Replicas == 4 && s.Status.UpdatedReplicas == 1, seen
	})
	e.reconcileNow("statefulset", stsRequest)
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Nil(t, getPod(tx, "db-4"), "OrderedReady creates db-4 only once db-3 is ready")
		require.True(t, runs(getPod(tx, "db-2"), "db:1"), "the next batch waits for db-3 and db-4")
	})
	e.mutateStatusPod(dkey("db-3"), func(p *objects.Pod) { makeReady(p, e.clock.Now()) })
	e.waitFor("all updated", stsReady("db", 5, "db:2"))
	stop()
	require.Empty(t, pw.violations)
	require.Equal(t, 3, pw.minReady, "two of the five pods replaced at once, never more")
}

// maxUnavailable 2 with Parallel, as in Kubernetes: the budget is a window,
// so the update goes on past db-3, which stays unready, one pod at a time
// beside it, never more than two unavailable.
func TestStatefulSetMaxUnavailableParallel(t *testing.T) {
	e := maxUnavailableEnv(t)
	e.readyUnless(func(p *objects.Pod) bool { return p.Name == "db-3" && p.Spec.Containers[0].Image == "db:2" })
	e.create(newRollingSet(5, objects.FromInt32(2), objects.ParallelPodManagement))
	e.waitFor("5 ready", stsReady("db", 5, "db:1"))

	pw, stop := e.watchPodsT(func(map[objects.Key]*objects.Pod) string { return "" })
	setImageSTS(e, "db", "db:2")
	e.waitFor("all but db-3 updated and ready", func(tx store.ReadTx) (bool, string) {
		p3 := getPod(tx, "db-3")
		ok, seen := podsRun(tx, map[int]string{0: "db:2", 1: "db:2", 2: "db:2", 4: "db:2"})
		return ok && p3 != nil && p3.Spec.Containers[0].Image == "db:2" && !objects.IsPodReady(p3), seen
	})
	e.mutateStatusPod(dkey("db-3"), func(p *objects.Pod) { makeReady(p, e.clock.Now()) })
	e.waitFor("all updated", stsReady("db", 5, "db:2"))
	stop()
	require.Equal(t, 3, pw.minReady, "two of the five pods replaced at once, never more")
}

// A percentage is of spec.replicas, rounded down as Kubernetes rounds it:
// 50% of 5 is 2.
func TestStatefulSetMaxUnavailablePercent(t *testing.T) {
	e := maxUnavailableEnv(t)
	e.readyUnless(func(*objects.Pod) bool { return false })
	e.create(newRollingSet(5, objects.FromString("50%"), objects.OrderedReadyPodManagement))
	e.waitFor("5 ready", stsReady("db", 5, "db:1"))
	pw, stop := e.watchPodsT(func(map[objects.Key]*objects.Pod) string { return "" })
	setImageSTS(e, "db", "db:2")
	e.waitFor("all updated", stsReady("db", 5, "db:2"))
	stop()
	require.Equal(t, 3, pw.minReady, "half of 5, rounded down, is 2 unavailable at most, and the update uses both")
}

// The partition holds with maxUnavailable, and a pod already unavailable,
// below the partition here, takes its share of the budget: with
// maxUnavailable 3 and db-0 never ready, db-4 and db-3 go together, then
// db-2; db-1 and db-0 are left alone.
func TestStatefulSetMaxUnavailablePartitionAndUnavailablePods(t *testing.T) {
	e := maxUnavailableEnv(t)
	e.readyUnless(func(p *objects.Pod) bool { return p.Name == "db-0" })
	set := newRollingSet(5, objects.FromInt32(3), objects.ParallelPodManagement)
	set.Spec.UpdateStrategy.RollingUpdate.Partition = ptr[int32](2)
	e.create(set)
	e.waitFor("db-1..db-4 ready", func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, "db")
		ok, seen := podsRun(tx, map[int]string{1: "db:1", 2: "db:1", 3: "db:1", 4: "db:1"})
		return ok && getPod(tx, "db-0") != nil && s.Status.Replicas == 5 && s.Status.ReadyReplicas == 4, seen
	})
	uids := map[string]string{}
	viewT(t, e.s, func(tx store.ReadTx) {
		for _, n := range []string{"db-0", "db-1"} {
			uids[n] = getPod(tx, n).UID
		}
	})

	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		for _, n := range []string{"db-0", "db-1"} {
			if p := pods[dkey(n)]; p == nil || p.IsDeleting() || p.UID != uids[n] {
				return n + " is below the partition, yet replaced"
			}
		}
		return ""
	})
	setImageSTS(e, "db", "db:2")
	e.waitFor("db-2..db-4 updated", func(tx store.ReadTx) (bool, string) {
		s := getSTS(tx, "db")
		ok, seen := podsRun(tx, map[int]string{1: "db:1", 2: "db:2", 3: "db:2", 4: "db:2"})
		return ok && s.Status.ObservedGeneration == s.Generation && s.Status.UpdatedReplicas == 3 && s.Status.ReadyReplicas == 4, seen
	})
	e.reconcileNow("statefulset", stsRequest)
	stop()
	require.Empty(t, pw.violations)
	require.Equal(t, 2, pw.minReady, "3 unavailable at most, db-0 one of them: two replaced at once")
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		require.NotEqual(t, s.Status.UpdateRevision, s.Status.CurrentRevision, "the rollout stops at the partition")
		require.Equal(t, int32(2), s.Status.CurrentReplicas)
		require.Equal(t, "db:1", getPod(tx, "db-0").Spec.Containers[0].Image)
	})
}

// A pod ready for less than minReadySeconds is unavailable and counts
// against the budget: the next pods go only once the new ones have been
// ready that long.
func TestStatefulSetMaxUnavailableMinReadySeconds(t *testing.T) {
	e := maxUnavailableEnv(t)
	e.readyUnless(func(*objects.Pod) bool { return false })
	set := newRollingSet(5, objects.FromInt32(2), objects.ParallelPodManagement)
	set.Spec.MinReadySeconds = 10
	e.create(set)
	available := func(what string, n int32, images map[int]string) {
		t.Helper()
		e.waitFor(what, func(tx store.ReadTx) (bool, string) {
			s := getSTS(tx, "db")
			ok, seen := podsRun(tx, images)
			return ok && s.Status.ObservedGeneration == s.Generation && s.Status.ReadyReplicas == 5 && s.Status.AvailableReplicas == n, seen
		})
	}
	// pass lets minReadySeconds pass once the controller waits for it.
	pass := func() {
		t.Helper()
		e.waitDelayed("statefulset")
		e.clock.Advance(11 * time.Second) // available strictly after 10s, to the second
	}
	available("5 ready, not yet available", 0, map[int]string{0: "db:1", 1: "db:1", 2: "db:1", 3: "db:1", 4: "db:1"})
	pass()
	available("5 available", 5, map[int]string{0: "db:1", 1: "db:1", 2: "db:1", 3: "db:1", 4: "db:1"})

	setImageSTS(e, "db", "db:2")
	available("db-3, db-4 ready, not yet available", 3, map[int]string{0: "db:1", 1: "db:1", 2: "db:1", 3: "db:2", 4: "db:2"})
	e.reconcileNow("statefulset", stsRequest)
	viewT(t, e.s, func(tx store.ReadTx) {
		require.True(t, runs(getPod(tx, "db-2"), "db:1"), "db-3 and db-4 are not yet available")
	})
	pass()
	available("db-1, db-2 ready, not yet available", 3, map[int]string{0: "db:1", 1: "db:2", 2: "db:2", 3: "db:2", 4: "db:2"})
	e.reconcileNow("statefulset", stsRequest)
	viewT(t, e.s, func(tx store.ReadTx) {
		require.True(t, runs(getPod(tx, "db-0"), "db:1"), "db-1 and db-2 are not yet available")
	})
	pass()
	available("db-0 ready", 4, map[int]string{0: "db:2", 1: "db:2", 2: "db:2", 3: "db:2", 4: "db:2"})
	pass()
	e.waitFor("all updated and available", func(tx store.ReadTx) (bool, string) {
		ok, seen := stsReady("db", 5, "db:2")(tx)
		return ok && getSTS(tx, "db").Status.AvailableReplicas == 5, seen
	})
}

// maxUnavailable is scaled and bounded as Kubernetes'
// getStatefulSetMaxUnavailable does it.
func TestStatefulSetMaxUnavailableValue(t *testing.T) {
	for _, tc := range []struct {
		in       *objects.IntOrString
		replicas int
		want     int
	}{
		{nil, 5, 1},
		{ptr(objects.FromInt32(2)), 5, 2},
		{ptr(objects.FromInt32(7)), 5, 7},
		{ptr(objects.FromString("50%")), 5, 2},
		{ptr(objects.FromString("40%")), 5, 2},
		{ptr(objects.FromString("100%")), 5, 5},
		{ptr(objects.FromString("10%")), 5, 1},
		{ptr(objects.FromString("50%")), 0, 1},
	} {
		got, err := statefulSetMaxUnavailable(tc.in, tc.replicas)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "%v of %d", tc.in, tc.replicas)
	}
	_, err := statefulSetMaxUnavailable(ptr(objects.FromString("two")), 5)
	require.Error(t, err)
}
