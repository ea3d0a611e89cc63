package reconcile

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func disruptionEnv(t *testing.T) *env {
	return newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(DeploymentController(m)) },
		func(m *Manager) error { return m.Add(DisruptionController(m)) },
	))
}

func newBudget(name string, minAvailable, maxUnavailable *objects.IntOrString) *objects.PodDisruptionBudget {
	return &objects.PodDisruptionBudget{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

func getBudget(tx store.ReadTx, name string) *objects.PodDisruptionBudget {
	o, err := tx.Get(kindPDB, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.PodDisruptionBudget)
}

// budgetIs holds when the budget's status, computed for its generation,
// has these counts and the DisruptionAllowed condition that goes with
// them.
func budgetIs(name string, expected, desired, healthy, allowed int32) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		b := getBudget(tx, name)
		if b == nil {
			return false, "no budget"
		}
		st := b.Status
		c := objects.FindStatusCondition(st.Conditions, objects.DisruptionAllowedCondition)
		wantCond := objects.InsufficientPodsReason
		if allowed > 0 {
			wantCond = objects.SufficientPodsReason
		}
		ok := st.ObservedGeneration == b.Generation && st.ExpectedPods == expected && st.DesiredHealthy == desired &&
			st.CurrentHealthy == healthy && st.DisruptionsAllowed == allowed && c != nil && c.Reason == wantCond &&
			(c.Status == objects.ConditionTrue) == (allowed > 0) && !c.LastTransitionTime.IsZero()
		return ok, fmt.Sprintf("%s: generation %d, status %+v", name, b.Generation, st)
	}
}

// readiness plays node agents that make pods ready, except those held
// back.
type readiness struct {
	mu   sync.Mutex
	held map[string]bool
}

func (r *readiness) hold(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held[name] = true
}

func (r *readiness) ready(p *objects.Pod) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.held[p.Name]
}

func runReadiness(e *env) *readiness {
	r := &readiness{held: map[string]bool{}}
	e.runKubelet(r.ready)
	return r
}

// Budgets of every shape over one Deployment of 4 (one of its pods not
// ready) and a pod no controller manages: an integer minAvailable counts
// the pods, the others the Deployment's scale; percentages round up.
func TestDisruptionBudgetStatus(t *testing.T) {
	e := disruptionEnv(t)
	r := runReadiness(e)
	e.create(newDeployment("web", 4, "web:1"))
	e.waitFor("4 pods", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		return len(pods) == 4, fmt.Sprint(podNames(pods))
	})
	var held []*objects.Pod
	viewT(t, e.s, func(tx store.ReadTx) { held = podsWhere(tx, nil) })
	r.hold(held[0].Name)
	e.mutateStatusPod(held[0].Key(), func(p *objects.Pod) {
		p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionFalse}}
	})
	e.create(&objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "bare", Labels: map[string]string{"app": "web"}},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "web:1"}}}})

	int32p, strp := func(n int32) *objects.IntOrString { return ptr(objects.FromInt32(n)) }, func(s string) *objects.IntOrString { return ptr(objects.FromString(s)) }
	e.create(
		newBudget("min-2", int32p(2), nil),
		newBudget("min-50pct", strp("50%"), nil),
		newBudget("min-80pct", strp("80%"), nil),
		newBudget("max-1", nil, int32p(1)),
		newBudget("max-30pct", nil, strp("30%")),
		newBudget("max-100pct", nil, strp("100%")),
	)
	// 3 of the Deployment's pods and the bare one are ready.
	for _, c := range []struct {
		name                                string
		expected, desired, healthy, allowed int32
	}{
		{"min-2", 5, 2, 4, 2},      // 5 pods
		{"min-50pct", 4, 2, 4, 2},  // 50% of the scale, 4
		{"min-80pct", 4, 4, 4, 0},  // 3.2 rounds up to 4
		{"max-1", 4, 3, 4, 1},      // 4 − 1
		{"max-30pct", 4, 2, 4, 2},  // 4 − 1.2 rounded up
		{"max-100pct", 4, 0, 4, 4}, // every pod may go
	} {
		e.waitFor(c.name, budgetIs(c.name, c.expected, c.desired, c.healthy, c.allowed))
	}
	require.True(t, e.events.has("UnmanagedPods"), e.events.String())

	// Scaling the Deployment changes what the percentages are of.
	e.mutate(kindDeployment, dkey("web"), func(o objects.Object) { o.(*objects.Deployment).Spec.Replicas = ptr[int32](6) })
	e.waitFor("max-30pct of 6", budgetIs("max-30pct", 6, 4, 6, 2))
	e.waitFor("min-2 of 7 pods", budgetIs("min-2", 7, 2, 6, 4))

	// A change of the spec is observed.
	e.mutate(kindPDB, dkey("min-2"), func(o objects.Object) { o.(*objects.PodDisruptionBudget).Spec.MinAvailable = int32p(6) })
	e.waitFor("min-6", budgetIs("min-2", 7, 6, 6, 0))
}

// A budget over pods whose controller has no scale cannot be computed: it
// allows nothing, and says why.
func TestDisruptionBudgetSyncFailed(t *testing.T) {
	e := disruptionEnv(t)
	runReadiness(e)
	e.create(&objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "job-pod", Labels: map[string]string{"app": "web"},
		OwnerReferences: []objects.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "batch", UID: "job-uid", Controller: ptr(true)}}},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "web:1"}}}})
	e.create(newBudget("web", nil, ptr(objects.FromInt32(1))))
	e.waitFor("sync failed", func(tx store.ReadTx) (bool, string) {
		b := getBudget(tx, "web")
		c := objects.FindStatusCondition(b.Status.Conditions, objects.DisruptionAllowedCondition)
		return c != nil && c.Status == objects.ConditionFalse && c.Reason == objects.SyncFailedReason &&
			c.Message == "jobs.batch does not implement the scale subresource" && b.Status.DisruptionsAllowed == 0, fmt.Sprintf("%+v", b.Status)
	})
}

// A pod an eviction recorded in disruptedPods counts as disrupted while
// its deletion is awaited; if it never comes, the entry expires after two
// minutes and the pod counts again.
func TestDisruptedPodsExpire(t *testing.T) {
	e := newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(DeploymentController(m)) },
		func(m *Manager) error { return m.Add(traced(DisruptionController(m))) },
	))
	runReadiness(e)
	e.create(newDeployment("web", 2, "web:1"), newBudget("web", ptr(objects.FromInt32(1)), nil))
	e.waitFor("budget of one", budgetIs("web", 2, 1, 2, 1))
	var victim string
	viewT(t, e.s, func(tx store.ReadTx) { victim = podsWhere(tx, nil)[0].Name })

	// An eviction was granted, but the pod was never deleted.
	granted := objects.NewTime(e.clock.Now())
	for {
		err := e.s.Update(context.Background(), func(tx store.Tx) error {
			b := getBudget(tx, "web")
			b.Status.DisruptionsAllowed = 0
			b.Status.DisruptedPods = map[string]objects.Time{victim: granted}
			return tx.UpdateStatus(b)
		})
		if err == nil {
			break
		}
		require.ErrorIs(t, err, store.ErrConflict)
	}
	kept := func(tx store.ReadTx) (bool, string) {
		ok, seen := budgetIs("web", 2, 1, 1, 0)(tx)
		b := getBudget(tx, "web")
		at, found := b.Status.DisruptedPods[victim]
		return ok && found && at.Equal(&granted), seen
	}
	e.waitFor("the disrupted pod is not counted", kept)
	e.reconcileNow("disruption", Request{Namespace: "default", Name: "web"})
	e.waitFor("still kept", kept)
	e.waitDelayed("disruption")

	e.clock.Advance(DisruptedPodTimeout - time.Second)
	e.reconcileNow("disruption", Request{Namespace: "default", Name: "web"})
	e.waitFor("kept until the timeout", kept)
	e.waitDelayed("disruption")

	e.clock.Advance(2 * time.Second)
	e.waitFor("expired", func(tx store.ReadTx) (bool, string) {
		ok, seen := budgetIs("web", 2, 1, 2, 1)(tx)
		return ok && len(getBudget(tx, "web").Status.DisruptedPods) == 0, seen
	})
	require.True(t, e.events.has(victim+" NotDeleted: Pod was expected by PDB default/web to be deleted but it wasn't"), e.events.String())
}

// Drain over two nodes with a budget of one: the first pod is evicted, the
// second refused until the first one's replacement is ready on the other
// node, and retried every 5 seconds; ready pods never drop below the
// budget's minimum.
func TestDrainWaitsForDisruptionBudget(t *testing.T) {
	e := disruptionEnv(t)
	e.runScheduler()
	// Pods become ready at once, except while the drain waits to be
	// refused: the first pod's replacement is held back until then, so
	// that the refusal does not depend on timing.
	var (
		mu       sync.Mutex
		holdBack bool
	)
	e.runNodeAgentsReadying(func(*objects.Pod) bool {
		mu.Lock()
		defer mu.Unlock()
		return !holdBack
	})
	setHoldBack := func(v bool) {
		mu.Lock()
		defer mu.Unlock()
		holdBack = v
	}
	e.create(newNode("n1"))
	e.create(newDeployment("web", 2, "web:1"))
	readyOn := func(node string, n int) func(tx store.ReadTx) (bool, string) {
		return func(tx store.ReadTx) (bool, string) {
			pods := podsWhere(tx, func(p *objects.Pod) bool { return objects.IsPodReady(p) && !p.IsDeleting() })
			on := 0
			for _, p := range pods {
				if p.Spec.NodeName == node {
					on++
				}
			}
			return on == n && len(pods) == n, fmt.Sprint(podNames(podsWhere(tx, nil)))
		}
	}
	e.waitFor("both pods ready on n1", readyOn("n1", 2))
	e.create(newNode("n2"))
	e.create(newBudget("web", ptr(objects.FromInt32(1)), nil))
	e.waitFor("budget of one", budgetIs("web", 2, 1, 2, 1))

	pw, stopWatch := e.watchPodsT(func(map[objects.Key]*objects.Pod) string { return "" })
	setHoldBack(true)
	refused := make(chan error, 16)
	done := make(chan error, 1)
	go func() {
		done <- Drain(context.Background(), e.s, "n1", DrainOptions{Clock: e.clock,
			OnEvictionRefused: func(_ objects.Key, err error) { refused <- err }})
	}()
	retries := 0
	for finished := false; !finished; {
		select {
		case err := <-refused:
			require.ErrorIs(t, err, ErrDisruptionBudget)
			require.ErrorContains(t, err, "The disruption budget web needs 1 healthy pods")
			retries++
			// Release the replacement: the agents ready it from now on, or
			// the test does if it was bound while held back.
			setHoldBack(false)
			var held []*objects.Pod
			viewT(t, e.s, func(tx store.ReadTx) {
				held = podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName != "" && !objects.IsPodReady(p) && !p.IsDeleting() })
			})
			for _, p := range held {
				e.mutateStatusPod(p.Key(), func(p *objects.Pod) { makeReady(p, e.clock.Now()) })
			}
			// The retry waits for the clock; once the replacement is ready
			// the budget allows one again.
			e.waitFor("replacement ready on n2", budgetIs("web", 2, 1, 2, 1))
			e.clock.Advance(DrainRetryInterval)
		case err := <-done:
			require.NoError(t, err)
			finished = true
		case <-time.After(waitTimeout):
			viewT(t, e.s, func(tx store.ReadTx) {
				t.Fatalf("drain neither finished nor was refused; pods %v", podNames(podsWhere(tx, nil)))
			})
		}
	}
	require.Positive(t, retries, "the second eviction waited for the budget")
	e.waitFor("both pods ready on n2", readyOn("n2", 2))
	stopWatch()
	pw.mu.Lock()
	defer pw.mu.Unlock()
	require.GreaterOrEqual(t, pw.minReady, 1, "ready pods never dropped below minAvailable")
}

// Drain gives up when its context ends while a budget still refuses: the
// error names the pod and the budget.
func TestDrainGivesUpOnDisruptionBudget(t *testing.T) {
	e := disruptionEnv(t)
	e.runScheduler()
	e.runNodeAgents()
	e.create(newNode("n1"))
	e.create(newDeployment("web", 1, "web:1"), newBudget("web", ptr(objects.FromInt32(1)), nil))
	e.waitFor("budget allows nothing", budgetIs("web", 1, 1, 1, 0))
	var pod string
	viewT(t, e.s, func(tx store.ReadTx) { pod = podsWhere(tx, nil)[0].Name })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := Drain(ctx, e.s, "n1", DrainOptions{Clock: e.clock, OnEvictionRefused: func(objects.Key, error) { cancel() }})
	require.ErrorIs(t, err, ErrDisruptionBudget)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "drain node n1: gave up evicting pod default/"+pod+": Cannot evict pod as it would violate the pod's disruption budget. "+
		"The disruption budget web needs 1 healthy pods and has 1 currently")
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Empty(t, podsWhere(tx, func(p *objects.Pod) bool { return p.IsDeleting() }), "nothing evicted")
	})
}
