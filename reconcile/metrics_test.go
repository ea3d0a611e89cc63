package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

// runAgent runs podkit's node agent for node over rt until the test ends.
func (e *env) runAgent(node string, rt *fake.Runtime) {
	e.t.Helper()
	a, err := nodeagent.New(e.s, node, rt, nodeagent.WithClock(e.clock), nodeagent.WithRootDir(e.t.TempDir()))
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(e.t, err)
		case <-time.After(waitTimeout):
			e.t.Error("node agent did not stop")
		}
	})
}

// End to end: the fake runtime reports the usage the test sets, a
// StatsScraper feeds it to the autoscaler, which scales the Deployment
// that podkit's scheduler and node agent run.
func TestHPAWithFakeRuntime(t *testing.T) {
	ms := NewMemoryMetrics()
	e := newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(DeploymentController(m)) },
		func(m *Manager) error { return m.Add(HorizontalPodAutoscalerController(m, ms, HPAOptions{})) },
	))
	rt := runWebAtFullCPU(t, e)
	sc := NewStatsScraper(e.s, "n1", rt, ms, e.clock, 0)
	require.NoError(t, sc.Scrape(t.Context()))
	e.clock.Advance(DefaultScrapeInterval)
	require.NoError(t, sc.Scrape(t.Context()))
	got, err := ms.PodMetrics(t.Context(), "default", objects.SelectorFromSet(map[string]string{"app": "web"}))
	require.NoError(t, err)
	require.Len(t, got, 2)
	for _, m := range got {
		cpu, ok := m.Usage(objects.ResourceCPU)
		require.True(t, ok)
		require.Equal(t, int64(100), cpu.MilliValue())
		mem, _ := m.Usage(objects.ResourceMemory)
		require.Equal(t, int64(64<<20), mem.Value())
	}

	e.create(newHPA("web", "web", 1, 10, 50))
	e.waitFor("scaled to 4", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "web")
		return deploymentReplicas(tx, "web") == 4, fmt.Sprintf("%+v", h)
	})
	e.waitFor("4 running", rolledOut("web", "web:1"))

	// A pod that stops running is forgotten at the next scrape.
	var victim objects.Key
	viewT(t, e.s, func(tx store.ReadTx) { victim = podsWhere(tx, isPodActive)[0].Key() })
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		zero := int64(0)
		_, err := tx.Delete(kindPod, victim, store.DeleteOptions{GracePeriodSeconds: &zero})
		return err
	}))
	require.Eventually(t, func() bool {
		require.NoError(t, sc.Scrape(t.Context()))
		got, _ := ms.PodMetrics(t.Context(), "default", nil)
		for _, m := range got {
			if m.Name == victim.Name {
				return false
			}
		}
		return true
	}, waitTimeout, 10*time.Millisecond)
}

// A scraper reads no statistics while nobody asks for metrics. The first
// sync of an autoscaler asks: the scraper samples at once and again
// WarmupWindow later, and that first sync already sees CPU and memory.
// When nobody has asked for MetricsIdle, the scraper stops and forgets.
func TestStatsScraperScrapesOnDemand(t *testing.T) {
	var ms *MemoryMetrics
	e := newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(DeploymentController(m)) },
		func(m *Manager) error {
			ms = NewMemoryMetrics(WithMetricsClock(m.Clock()))
			return m.Add(HorizontalPodAutoscalerController(m, ms, HPAOptions{}))
		},
	))
	rt := runWebAtFullCPU(t, e)

	sc := NewStatsScraper(e.s, "n1", rt, ms, e.clock, 0)
	stages := make(chan string, 16)
	sc.hook = func(stage string) { stages <- stage }
	next := func(want string) {
		t.Helper()
		select {
		case got := <-stages:
			require.Equal(t, want, got)
		case <-time.After(waitTimeout):
			t.Fatalf("the scraper did not reach %q", want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	scraped := func() int {
		ms.mu.Lock()
		defer ms.mu.Unlock()
		return len(ms.pods)
	}

	next("round")
	for range 3 {
		e.clock.Advance(DefaultScrapeInterval)
		next("round")
	}
	require.Zero(t, scraped(), "nothing asked for metrics: nothing scraped")

	w, err := e.s.Watch(t.Context(), store.WatchOptions{Kind: kindHPA})
	require.NoError(t, err)
	defer w.Stop()
	e.create(newHPA("web", "web", 1, 10, 50))
	next("warmup")
	e.clock.Advance(WarmupWindow)
	next("round")
	var first *objects.HorizontalPodAutoscaler
	for first == nil {
		select {
		case ev := <-w.Events():
			if h := ev.Object().(*objects.HorizontalPodAutoscaler); h.Status.ObservedGeneration != nil {
				first = h
			}
		case <-time.After(waitTimeout):
			t.Fatal("the autoscaler wrote no status")
		}
	}
	require.Len(t, first.Status.CurrentMetrics, 1, "%+v", first.Status)
	require.Equal(t, int32(100), *first.Status.CurrentMetrics[0].Resource.Current.AverageUtilization)
	require.Equal(t, int32(4), first.Status.DesiredReplicas)
	require.Equal(t, 2, scraped())

	// Asked every sync period while the autoscaler exists; once it is gone
	// the demand lapses.
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Delete(kindHPA, dkey("web"), store.DeleteOptions{})
		return err
	}))
	r := e.controller("horizontalpodautoscaler").spec.Reconciler.(*hpaReconciler)
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.state[dkey("web")] == nil
	}, waitTimeout, time.Millisecond, "the autoscaler did not see its deletion")
	e.clock.Advance(MetricsIdle)
	for scraped() > 0 {
		next("round")
	}
}

// runWebAtFullCPU runs a Deployment "web" of 2 pods requesting 100m on
// node n1 of the fake runtime, both using all of their request.
func runWebAtFullCPU(t *testing.T, e *env) *fake.Runtime {
	t.Helper()
	rt, err := fake.New(fake.WithClock(e.clock), fake.WithImages("web:1"))
	require.NoError(t, err)
	e.create(newNode("n1"))
	e.runScheduler()
	e.runAgent("n1", rt)
	e.create(deploymentWithCPU("web", 2, 100))
	e.waitFor("2 running", rolledOut("web", "web:1"))
	require.Equal(t, 2, rt.SetUsage(fake.Image("web:1"), 100, 64<<20)) // 100% of the request
	return rt
}
