package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Tests of the eviction API on a store alone: the budgets' statuses are
// written by the test as the disruption controller would have written
// them, so that what Evict decides and writes is exactly what is checked.

var evictNow = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// evictStore holds a namespace, the pods and a budget web over app=web.
type evictStore struct {
	t *testing.T
	s store.Store
}

func newEvictStore(t *testing.T) *evictStore {
	return &evictStore{t: t, s: newStoreForTest(t)}
}

// pod stores a pod of app web bound to n1, with the given phase and
// readiness, as its node agent would report it.
func (es *evictStore) pod(name string, phase objects.PodPhase, ready bool) {
	es.t.Helper()
	require.NoError(es.t, es.s.Update(context.Background(), func(tx store.Tx) error {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
			Spec: objects.PodSpec{NodeName: "n1", Containers: []objects.Container{{Name: "app", Image: "web:1"}}}}
		if err := tx.Create(p); err != nil {
			return err
		}
		status := objects.ConditionFalse
		if ready {
			status = objects.ConditionTrue
		}
		p.Status.Phase = phase
		p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: status}}
		return tx.UpdateStatus(p)
	}))
}

// budget stores a budget over app=web with st as its status, computed
// for its current generation (for the one before with a negative
// observedGeneration).
func (es *evictStore) budget(name string, policy *objects.UnhealthyPodEvictionPolicyType, st objects.PodDisruptionBudgetStatus) {
	es.t.Helper()
	require.NoError(es.t, es.s.Update(context.Background(), func(tx store.Tx) error {
		b := &objects.PodDisruptionBudget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
			Spec: objects.PodDisruptionBudgetSpec{MinAvailable: ptr(objects.FromInt32(1)), UnhealthyPodEvictionPolicy: policy,
				Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
		if err := tx.Create(b); err != nil {
			return err
		}
		switch {
		case st.ObservedGeneration == 0:
			st.ObservedGeneration = b.Generation
		case st.ObservedGeneration < 0: // not yet computed for this generation
			st.ObservedGeneration = b.Generation - 1
		}
		b.Status = st
		return tx.UpdateStatus(b)
	}))
}

func (es *evictStore) evict(name string) error {
	return Evict(context.Background(), es.s, objects.Key{Namespace: "default", Name: name},
		EvictOptions{Clock: clockwork.NewFakeClockAt(evictNow)})
}

func (es *evictStore) getPod(name string) *objects.Pod {
	es.t.Helper()
	var p *objects.Pod
	viewT(es.t, es.s, func(tx store.ReadTx) {
		o, err := tx.Get(kindPod, objects.Key{Namespace: "default", Name: name})
		require.NoError(es.t, err)
		p = o.(*objects.Pod)
	})
	return p
}

func (es *evictStore) getBudget(name string) *objects.PodDisruptionBudget {
	es.t.Helper()
	var b *objects.PodDisruptionBudget
	viewT(es.t, es.s, func(tx store.ReadTx) {
		o, err := tx.Get(kindPDB, objects.Key{Namespace: "default", Name: name})
		require.NoError(es.t, err)
		b = o.(*objects.PodDisruptionBudget)
	})
	return b
}

// An eviction the budget allows spends it in the same transaction that
// deletes the pod; the next is refused with Kubernetes' message.
func TestEvictSpendsTheBudget(t *testing.T) {
	es := newEvictStore(t)
	es.pod("web-a", objects.PodRunning, true)
	es.pod("web-b", objects.PodRunning, true)
	es.budget("web", nil, objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2})

	require.NoError(t, es.evict("web-a"))
	a := es.getPod("web-a")
	require.True(t, a.IsDeleting(), "deleted gracefully")
	require.Equal(t, objects.DefaultTerminationGracePeriodSeconds, *a.DeletionGracePeriodSeconds)
	dt := objects.GetPodCondition(&a.Status, objects.DisruptionTarget)
	require.NotNil(t, dt)
	require.Equal(t, "EvictionByEvictionAPI", dt.Reason)
	b := es.getBudget("web")
	require.Equal(t, int32(0), b.Status.DisruptionsAllowed)
	require.Equal(t, map[string]objects.Time{"web-a": objects.NewTime(evictNow)}, b.Status.DisruptedPods)
	c := objects.FindStatusCondition(b.Status.Conditions, objects.DisruptionAllowedCondition)
	require.NotNil(t, c)
	require.Equal(t, objects.ConditionFalse, c.Status)
	require.Equal(t, objects.InsufficientPodsReason, c.Reason)

	err := es.evict("web-b")
	require.ErrorIs(t, err, ErrDisruptionBudget)
	var be *DisruptionBudgetError
	require.ErrorAs(t, err, &be)
	require.Equal(t, objects.Key{Namespace: "default", Name: "web"}, be.Budget)
	require.EqualError(t, err, "evict pod default/web-b: Cannot evict pod as it would violate the pod's disruption budget. "+
		"The disruption budget web needs 1 healthy pods and has 2 currently")
	require.False(t, es.getPod("web-b").IsDeleting(), "nothing written")

	require.NoError(t, es.evict("web-a"), "a pod being deleted is accepted")
	require.ErrorIs(t, es.evict("nope"), store.ErrNotFound)
}

// Two evictions at once against a budget of one: exactly one passes.
func TestEvictConcurrentAgainstBudgetOfOne(t *testing.T) {
	for round := range 20 {
		es := newEvictStore(t)
		es.pod("web-a", objects.PodRunning, true)
		es.pod("web-b", objects.PodRunning, true)
		es.budget("web", nil, objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2})
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, name := range []string{"web-a", "web-b"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = es.evict(name)
			}()
		}
		close(start)
		wg.Wait()
		passed := 0
		for _, err := range errs {
			if err == nil {
				passed++
			} else {
				require.ErrorIs(t, err, ErrDisruptionBudget, "round %d", round)
			}
		}
		require.Equal(t, 1, passed, "round %d: %v", round, errs)
		b := es.getBudget("web")
		require.Equal(t, int32(0), b.Status.DisruptionsAllowed)
		require.Len(t, b.Status.DisruptedPods, 1)
		deleting := 0
		for _, name := range []string{"web-a", "web-b"} {
			if es.getPod(name).IsDeleting() {
				deleting++
			}
		}
		require.Equal(t, 1, deleting, "round %d", round)
	}
}

// Which pods an eviction lets go without the budget, and which it
// refuses, as Kubernetes' eviction handler decides.
func TestEvictRules(t *testing.T) {
	always, ifHealthy := objects.AlwaysAllow, objects.IfHealthyBudget
	spent := objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 2}
	cases := []struct {
		name     string
		phase    objects.PodPhase
		ready    bool
		policy   *objects.UnhealthyPodEvictionPolicyType
		status   objects.PodDisruptionBudgetStatus
		budgets  int
		want     string // "" evicted, else a substring of the error
		spending bool   // an allowed eviction decrements the budget
	}{
		{name: "no budget", phase: objects.PodRunning, ready: true},
		{name: "ready, budget spent", phase: objects.PodRunning, ready: true, budgets: 1, status: spent,
			want: "needs 1 healthy pods and has 1 currently"},
		{name: "ready, budget left", phase: objects.PodRunning, ready: true, budgets: 1, spending: true,
			status: objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2}},
		{name: "succeeded", phase: objects.PodSucceeded, budgets: 1, status: spent},
		{name: "pending", phase: objects.PodPending, budgets: 1, status: spent},
		{name: "unready, healthy budget (default policy)", phase: objects.PodRunning, budgets: 1, status: spent},
		{name: "unready, healthy budget (IfHealthyBudget)", phase: objects.PodRunning, policy: &ifHealthy, budgets: 1, status: spent},
		{name: "unready, disrupted budget", phase: objects.PodRunning, budgets: 1,
			status: objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 0, CurrentHealthy: 0, DesiredHealthy: 1, ExpectedPods: 2},
			want:   "needs 1 healthy pods and has 0 currently"},
		{name: "unready, disrupted budget, AlwaysAllow", phase: objects.PodRunning, policy: &always, budgets: 1,
			status: objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 0, CurrentHealthy: 0, DesiredHealthy: 1, ExpectedPods: 2}},
		{name: "status not observed", phase: objects.PodRunning, ready: true, budgets: 1,
			status: objects.PodDisruptionBudgetStatus{ObservedGeneration: -1, DisruptionsAllowed: 1},
			want:   "The disruption budget web is still being processed by the server."},
		{name: "two budgets", phase: objects.PodRunning, ready: true, budgets: 2,
			status: objects.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2},
			want:   "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es := newEvictStore(t)
			es.pod("web-a", c.phase, c.ready)
			for i := range c.budgets {
				name := "web"
				if i > 0 {
					name = "web-2"
				}
				es.budget(name, c.policy, c.status)
			}
			err := es.evict("web-a")
			if c.want != "" {
				require.ErrorContains(t, err, c.want)
				require.False(t, es.getPod("web-a").IsDeleting(), "refused: nothing written")
				if c.budgets == 1 {
					require.ErrorIs(t, err, ErrDisruptionBudget)
				} else {
					require.ErrorIs(t, err, ErrMultipleDisruptionBudgets)
				}
				return
			}
			require.NoError(t, err)
			var p *objects.Pod
			viewT(t, es.s, func(tx store.ReadTx) {
				o, err := tx.Get(kindPod, objects.Key{Namespace: "default", Name: "web-a"})
				if errors.Is(err, store.ErrNotFound) {
					return // a finished pod is removed at once
				}
				require.NoError(t, err)
				p = o.(*objects.Pod)
			})
			require.True(t, p == nil || p.IsDeleting(), "evicted")
			if c.budgets == 1 {
				b := es.getBudget("web")
				want := c.status.DisruptionsAllowed
				if c.spending {
					want--
				}
				assert.Equal(t, want, b.Status.DisruptionsAllowed, "disruptionsAllowed")
				assert.Equal(t, c.spending, len(b.Status.DisruptedPods) == 1, "disruptedPods %v", b.Status.DisruptedPods)
			}
		})
	}
}
