package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

type hpaEnv struct {
	*env
	metrics *MemoryMetrics
}

func newHPAEnv(t *testing.T) *hpaEnv {
	ms := NewMemoryMetrics()
	e := newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(DeploymentController(m)) },
		func(m *Manager) error {
			return m.Add(HorizontalPodAutoscalerController(m, ms, HPAOptions{}))
		},
	))
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	return &hpaEnv{env: e, metrics: ms}
}

// setCPU reports every active pod of app using milliCPU, sampled now over
// 15 seconds.
func (e *hpaEnv) setCPU(app string, milliCPU int64) {
	viewT(e.t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return isPodActive(p) && p.Labels["app"] == app }) {
			e.metrics.SetPodMetrics(PodMetrics{
				Namespace: p.Namespace, Name: p.Name, Labels: p.Labels,
				Timestamp: e.clock.Now(), Window: 15 * time.Second,
				Containers: []ContainerMetrics{{Name: "app", Usage: objects.ResourceList{
					objects.ResourceCPU: objects.NewMilliQuantity(milliCPU, objects.DecimalSI),
				}}},
			})
		}
	})
}

// sync advances the clock by one sync period and waits until the
// autoscaler has synced at the new time and waits for the next.
func (e *hpaEnv) sync(name string) {
	e.t.Helper()
	e.clock.Advance(DefaultHPASyncPeriod)
	e.waitSynced(name)
}

func (e *hpaEnv) waitSynced(name string) {
	e.t.Helper()
	c := e.controller("horizontalpodautoscaler")
	r := c.spec.Reconciler.(*hpaReconciler)
	now := e.clock.Now()
	require.Eventually(e.t, func() bool {
		return !r.lastSync(dkey(name)).Before(now) && c.queue.Waiting() > 0 && c.queue.Len() == 0
	}, waitTimeout, time.Millisecond, "autoscaler %s did not sync at %v", name, now)
}

func newHPA(name, target string, minR, maxR, cpuUtilization int32) *objects.HorizontalPodAutoscaler {
	return &objects.HorizontalPodAutoscaler{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: objects.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kindDeployment, Name: target},
			MinReplicas:    ptr(minR),
			MaxReplicas:    maxR,
			Metrics: []objects.MetricSpec{{Type: objects.ResourceMetricSourceType, Resource: &objects.ResourceMetricSource{
				Name:   objects.ResourceCPU,
				Target: objects.MetricTarget{Type: objects.UtilizationMetricType, AverageUtilization: ptr(cpuUtilization)},
			}}},
		},
	}
}

func deploymentWithCPU(name string, replicas int32, milliCPU int64) *objects.Deployment {
	d := newDeployment(name, replicas, "web:1")
	d.Spec.Template.Spec.Containers[0].Resources.Requests = objects.ResourceList{
		objects.ResourceCPU: objects.NewMilliQuantity(milliCPU, objects.DecimalSI),
	}
	return d
}

func deploymentReplicas(tx store.ReadTx, name string) int32 {
	return replicasOf(getDeployment(tx, name).Spec.Replicas)
}

func getHPA(tx store.ReadTx, name string) *objects.HorizontalPodAutoscaler {
	o, err := tx.Get(kindHPA, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.HorizontalPodAutoscaler)
}

// The case: at a 50% CPU target, pods at 100% scale 2 to 4, and
// back down only after the 300-second stabilization window.
func TestHPAScalesUpAndDownAfterStabilization(t *testing.T) {
	e := newHPAEnv(t)
	e.create(deploymentWithCPU("web", 2, 100))
	e.waitFor("2 ready", rolledOut("web", "web:1"))
	e.clock.Advance(time.Minute) // the pods have been ready a while
	e.setCPU("web", 100)         // 100% of the request

	e.create(newHPA("web", "web", 1, 10, 50))
	e.waitFor("scaled to 4", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "web")
		return deploymentReplicas(tx, "web") == 4 && h != nil && h.Status.DesiredReplicas == 4, fmt.Sprintf("%+v", h.Status)
	})
	scaledAt := e.clock.Now()
	viewT(t, e.s, func(tx store.ReadTx) {
		h := getHPA(tx, "web")
		require.NotNil(t, h.Status.LastScaleTime)
		require.Len(t, h.Status.CurrentMetrics, 1)
		require.Equal(t, int32(100), *h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization)
		c := objects.GetHPACondition(&h.Status, objects.ScalingActive)
		require.Equal(t, objects.ConditionTrue, c.Status)
	})
	require.True(t, e.events.has("New size: 4; reason: cpu resource utilization (percentage of request) above target"))
	e.waitFor("4 ready", rolledOut("web", "web:1"))
	e.waitSynced("web")

	// The new pods have no metrics yet: they count as idle, which brings
	// the ratio to 1 — no further scaling.
	e.sync("web")
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, int32(4), deploymentReplicas(tx, "web")) })

	// Load drops to 25%: the recommendation is 2, held back by the
	// stabilization window counted from the last recommendation of 4.
	e.setCPU("web", 25)
	lastHigh := e.clock.Now()
	for e.clock.Now().Add(DefaultHPASyncPeriod).Sub(lastHigh) < 300*time.Second {
		e.sync("web")
		viewT(t, e.s, func(tx store.ReadTx) {
			require.Equal(t, int32(4), deploymentReplicas(tx, "web"), "scaled down %v after the last high recommendation", e.clock.Now().Sub(lastHigh))
			h := getHPA(tx, "web")
			require.Equal(t, HPAReasonScaleDownStabilized, objects.GetHPACondition(&h.Status, objects.AbleToScale).Reason)
		})
	}
	e.sync("web")
	require.Equal(t, 300*time.Second, e.clock.Now().Sub(lastHigh))
	e.waitFor("scaled to 2", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "web")
		return deploymentReplicas(tx, "web") == 2 && h.Status.DesiredReplicas == 2, fmt.Sprintf("%+v", h.Status)
	})
	require.True(t, e.clock.Now().Sub(scaledAt) > 300*time.Second)
}

func TestHPABoundsAndAverageValue(t *testing.T) {
	e := newHPAEnv(t)
	e.create(deploymentWithCPU("api", 6, 200))
	e.waitFor("6 ready", rolledOut("api", "web:1"))
	e.clock.Advance(time.Minute)
	e.setCPU("api", 100)
	h := newHPA("api", "api", 2, 5, 0)
	h.Spec.Metrics[0].Resource.Target = objects.MetricTarget{Type: objects.AverageValueMetricType, AverageValue: ptr(objects.MustParseQuantity("100m"))}
	e.create(h)
	// Above maxReplicas: brought down to 5 at once, whatever the metrics.
	e.waitFor("scaled to 5", func(tx store.ReadTx) (bool, string) {
		return deploymentReplicas(tx, "api") == 5, fmt.Sprintf("%+v", getHPA(tx, "api").Status)
	})
	e.waitFor("5 ready", rolledOut("api", "web:1"))
	e.waitSynced("api")
	// On target (100m average): nothing changes.
	e.sync("api")
	viewT(t, e.s, func(tx store.ReadTx) {
		h := getHPA(tx, "api")
		require.Equal(t, int32(5), deploymentReplicas(tx, "api"))
		require.Equal(t, "100m", h.Status.CurrentMetrics[0].Resource.Current.AverageValue.String())
	})
}

func TestHPAMissingTarget(t *testing.T) {
	e := newHPAEnv(t)
	e.create(newHPA("ghost", "nothing", 1, 3, 50))
	e.waitFor("cannot scale", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "ghost")
		c := objects.GetHPACondition(&h.Status, objects.AbleToScale)
		return c != nil && c.Status == objects.ConditionFalse && c.Reason == HPAReasonFailedGetScale, fmt.Sprintf("%+v", h.Status)
	})
}

func TestHPAScaleLimits(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	up := objects.GenerateHPAScaleUpRules(nil)
	down := objects.GenerateHPAScaleDownRules(nil)
	s := &hpaState{}
	// Default up: the larger of +4 pods and +100% per 15s.
	d, reason, _ := s.limit(2, 20, 1, 100, up, down, now)
	require.Equal(t, int32(6), d)
	require.Equal(t, HPAReasonScaleUpLimit, reason)
	d, _, _ = s.limit(10, 50, 1, 100, up, down, now)
	require.Equal(t, int32(20), d)
	d, reason, _ = s.limit(10, 50, 1, 15, up, down, now)
	require.Equal(t, int32(15), d)
	require.Equal(t, HPAReasonTooManyReplicas, reason)
	// A scale-up 5s ago counts against the period.
	s.scaleUp = []timedReplicas{{replicas: 4, at: now.Add(-5 * time.Second)}}
	d, _, _ = s.limit(6, 50, 1, 100, up, down, now) // period start 2: max(6, 4) = 6
	require.Equal(t, int32(6), d)
	s.scaleUp = nil
	// Down: 100% per 15s; bounded by minReplicas.
	d, reason, _ = s.limit(10, 0, 3, 100, up, down, now)
	require.Equal(t, int32(3), d)
	require.Equal(t, HPAReasonTooFewReplicas, reason)
	// A Pods policy of 1 per minute, Min select.
	minSel, disabled := objects.MinChangePolicySelect, objects.DisabledPolicySelect
	slow := &objects.HPAScalingRules{SelectPolicy: &minSel, Policies: []objects.HPAScalingPolicy{
		{Type: objects.PodsScalingPolicy, Value: 1, PeriodSeconds: 60},
		{Type: objects.PercentScalingPolicy, Value: 50, PeriodSeconds: 60},
	}}
	d, reason, _ = s.limit(10, 2, 1, 100, up, objects.GenerateHPAScaleDownRules(slow), now)
	require.Equal(t, int32(9), d)
	require.Equal(t, HPAReasonScaleDownLimit, reason)
	d, _, _ = s.limit(10, 2, 1, 100, up, objects.GenerateHPAScaleDownRules(&objects.HPAScalingRules{SelectPolicy: &disabled}), now)
	require.Equal(t, int32(10), d)
}

func TestHPAStabilize(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	up := objects.GenerateHPAScaleUpRules(nil)
	down := objects.GenerateHPAScaleDownRules(nil)
	s := &hpaState{}
	require.Equal(t, int32(8), s.stabilize(4, 8, up, down, t0))
	require.Equal(t, int32(8), s.stabilize(8, 3, up, down, t0.Add(100*time.Second)))
	require.Equal(t, int32(8), s.stabilize(8, 3, up, down, t0.Add(299*time.Second)))
	require.Equal(t, int32(3), s.stabilize(8, 3, up, down, t0.Add(300*time.Second)))
}

func TestMemoryMetricsFromRuntimeStats(t *testing.T) {
	ms := NewMemoryMetrics()
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "p", UID: "u1", Labels: map[string]string{"app": "x"}}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms.ObserveContainer(pod, "c", runtime.Stats{Timestamp: t0, CPUUsageNanos: 1e9, MemoryWorkingSetBytes: 1 << 20})
	got, err := ms.PodMetrics(t.Context(), "default", objects.SelectorFromSet(map[string]string{"app": "x"}))
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, ok := got[0].Usage(objects.ResourceCPU)
	require.False(t, ok, "one sample gives no rate")
	// 5 CPU-seconds over 10 seconds: 500m.
	ms.ObserveContainer(pod, "c", runtime.Stats{Timestamp: t0.Add(10 * time.Second), CPUUsageNanos: 6e9, MemoryWorkingSetBytes: 2 << 20})
	got, _ = ms.PodMetrics(t.Context(), "default", nil)
	cpu, ok := got[0].Usage(objects.ResourceCPU)
	require.True(t, ok)
	require.Equal(t, int64(500), cpu.MilliValue())
	mem, _ := got[0].Usage(objects.ResourceMemory)
	require.Equal(t, int64(2<<20), mem.Value())
	require.Equal(t, 10*time.Second, got[0].Window)
	got, _ = ms.PodMetrics(t.Context(), "default", objects.SelectorFromSet(map[string]string{"app": "y"}))
	require.Empty(t, got)
	ms.DeletePod("default", "p")
	got, _ = ms.PodMetrics(t.Context(), "default", nil)
	require.Empty(t, got)
}

// setUsage reports every active pod of app using q of resource res,
// sampled now over 15 seconds.
func (e *hpaEnv) setUsage(app string, res objects.ResourceName, q objects.Quantity) {
	viewT(e.t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return isPodActive(p) && p.Labels["app"] == app }) {
			e.metrics.SetPodMetrics(PodMetrics{
				Namespace: p.Namespace, Name: p.Name, Labels: p.Labels,
				Timestamp: e.clock.Now(), Window: 15 * time.Second,
				Containers: []ContainerMetrics{{Name: "app", Usage: objects.ResourceList{res: q}}},
			})
		}
	})
}

// hpaSaw holds when the autoscaler's status reports the given average
// utilization for its target of replicas.
func hpaSaw(name string, utilization, replicas int32) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, name)
		if h == nil || len(h.Status.CurrentMetrics) != 1 || h.Status.CurrentMetrics[0].Resource == nil {
			return false, fmt.Sprintf("%+v", h)
		}
		u := h.Status.CurrentMetrics[0].Resource.Current.AverageUtilization
		return u != nil && *u == utilization && h.Status.CurrentReplicas == replicas, fmt.Sprintf("%+v", h.Status)
	}
}

// A usage ratio within the 10% tolerance but not 1 (42% of a 40% target:
// 1.05, which without the tolerance would make ceil(4*1.05) = 5) changes
// nothing; past the tolerance (46%: 1.15) it scales.
func TestHPAToleranceHoldsSmallRatios(t *testing.T) {
	e := newHPAEnv(t)
	e.create(deploymentWithCPU("web", 4, 100))
	e.waitFor("4 ready", rolledOut("web", "web:1"))
	e.clock.Advance(time.Minute)
	e.setCPU("web", 42)
	e.create(newHPA("web", "web", 1, 10, 40))
	e.waitFor("42% seen", hpaSaw("web", 42, 4))
	e.waitSynced("web")
	e.sync("web")
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Equal(t, int32(4), deploymentReplicas(tx, "web"), "a ratio of 1.05 is within the tolerance")
		require.Equal(t, int32(4), getHPA(tx, "web").Status.DesiredReplicas)
	})
	require.False(t, e.events.has("New size"), e.events.String())

	e.setCPU("web", 46)
	e.sync("web")
	e.waitFor("scaled to 5", func(tx store.ReadTx) (bool, string) {
		return deploymentReplicas(tx, "web") == 5, fmt.Sprintf("%+v", getHPA(tx, "web").Status)
	})
	require.True(t, e.events.has("New size: 5"), e.events.String())
}

// A memory Utilization target, through the controller: pods at 100% of
// their memory request with a 50% target scale 2 to 4.
func TestHPAMemoryUtilization(t *testing.T) {
	e := newHPAEnv(t)
	d := newDeployment("cache", 2, "web:1")
	d.Spec.Template.Spec.Containers[0].Resources.Requests = objects.ResourceList{objects.ResourceMemory: objects.MustParseQuantity("100Mi")}
	e.create(d)
	e.waitFor("2 ready", rolledOut("cache", "web:1"))
	e.clock.Advance(time.Minute)
	e.setUsage("cache", objects.ResourceMemory, objects.MustParseQuantity("100Mi"))
	h := newHPA("cache", "cache", 1, 10, 50)
	h.Spec.Metrics[0].Resource.Name = objects.ResourceMemory
	e.create(h)
	e.waitFor("scaled to 4", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "cache")
		return deploymentReplicas(tx, "cache") == 4 && h.Status.DesiredReplicas == 4, fmt.Sprintf("%+v", h.Status)
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		h := getHPA(tx, "cache")
		require.Len(t, h.Status.CurrentMetrics, 1)
		m := h.Status.CurrentMetrics[0].Resource
		require.Equal(t, objects.ResourceMemory, m.Name)
		require.Equal(t, int32(100), *m.Current.AverageUtilization)
		require.Equal(t, int64(100<<20), m.Current.AverageValue.Value())
	})
	require.True(t, e.events.has("New size: 4; reason: memory resource utilization (percentage of request) above target"), e.events.String())
}

// A new autoscaler starts from the target's replica count as its first
// recommendation, as Kubernetes does: low usage scales the target down
// only once the 300-second stabilization window has passed.
func TestHPANewAutoscalerWaitsToScaleDown(t *testing.T) {
	e := newHPAEnv(t)
	e.create(deploymentWithCPU("web", 4, 100))
	e.waitFor("4 ready", rolledOut("web", "web:1"))
	e.clock.Advance(time.Minute)
	e.setCPU("web", 25) // half the target: the recommendation is 2
	e.create(newHPA("web", "web", 1, 10, 50))
	created := e.clock.Now()
	e.waitFor("25% seen", hpaSaw("web", 25, 4))
	e.waitSynced("web")
	for {
		viewT(t, e.s, func(tx store.ReadTx) {
			require.Equal(t, int32(4), deploymentReplicas(tx, "web"), "scaled down %v after the autoscaler was created", e.clock.Now().Sub(created))
			h := getHPA(tx, "web")
			require.Equal(t, int32(4), h.Status.DesiredReplicas)
			require.Equal(t, HPAReasonScaleDownStabilized, objects.GetHPACondition(&h.Status, objects.AbleToScale).Reason)
		})
		if e.clock.Now().Add(DefaultHPASyncPeriod).Sub(created) >= 300*time.Second {
			break
		}
		e.sync("web")
	}
	e.sync("web")
	require.Equal(t, 300*time.Second, e.clock.Now().Sub(created))
	e.waitFor("scaled to 2", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "web")
		return deploymentReplicas(tx, "web") == 2 && h.Status.DesiredReplicas == 2, fmt.Sprintf("%+v", h.Status)
	})
}

// A metric that cannot be computed keeps the others from scaling the
// target down, as in Kubernetes; they still scale it up.
func TestHPAInvalidMetricPreventsScaleDown(t *testing.T) {
	e := newHPAEnv(t)
	e.create(deploymentWithCPU("web", 4, 100))
	e.waitFor("4 ready", rolledOut("web", "web:1"))
	e.clock.Advance(time.Minute)
	e.setCPU("web", 25) // CPU alone asks for 2
	h := newHPA("web", "web", 1, 10, 50)
	// No memory usage is reported: this metric cannot be computed.
	h.Spec.Metrics = append(h.Spec.Metrics, objects.MetricSpec{Type: objects.ResourceMetricSourceType, Resource: &objects.ResourceMetricSource{
		Name:   objects.ResourceMemory,
		Target: objects.MetricTarget{Type: objects.AverageValueMetricType, AverageValue: ptr(objects.MustParseQuantity("64Mi"))},
	}})
	// Without a stabilization window, only the invalid metric holds the
	// scale-down back.
	h.Spec.Behavior = &objects.HorizontalPodAutoscalerBehavior{ScaleDown: &objects.HPAScalingRules{StabilizationWindowSeconds: ptr[int32](0)}}
	e.create(h)
	e.waitFor("25% seen", hpaSaw("web", 25, 4))
	e.waitSynced("web")
	e.sync("web")
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Equal(t, int32(4), deploymentReplicas(tx, "web"))
		c := objects.GetHPACondition(&getHPA(tx, "web").Status, objects.ScalingActive)
		require.Equal(t, objects.ConditionFalse, c.Status)
		require.Equal(t, HPAReasonInvalidMetric, c.Reason)
		require.Contains(t, c.Message, "memory")
	})
	require.False(t, e.events.has("New size"), e.events.String())

	e.setCPU("web", 100) // CPU asks for 8
	e.sync("web")
	e.waitFor("scaled to 8", func(tx store.ReadTx) (bool, string) {
		return deploymentReplicas(tx, "web") == 8, fmt.Sprintf("%+v", getHPA(tx, "web").Status)
	})
}

// resourceReplicas as Kubernetes' replica calculator has it, on ready pods
// requesting 100m of CPU, or 1000m for the utilization rounding case.
func TestHPAResourceReplicas(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(10 * time.Minute) // past the CPU initialization period
	utilization := func(pct int32) objects.MetricTarget {
		return objects.MetricTarget{Type: objects.UtilizationMetricType, AverageUtilization: ptr(pct)}
	}
	averageValue := func(q string) objects.MetricTarget {
		return objects.MetricTarget{Type: objects.AverageValueMetricType, AverageValue: ptr(objects.MustParseQuantity(q))}
	}
	for _, tc := range []struct {
		name    string
		target  objects.MetricTarget
		request int64   // milli-CPU, per pod
		usage   []int64 // milli-CPU, by pod; -1: no metrics
		want    int32   // from len(usage) replicas
	}{
		// 150.1% is 150%: a ratio of 1.5, not 1.501, so 3 and not 4.
		{"utilization in whole percent", utilization(100), 1000, []int64{1501, 1501}, 3},
		// An average of 100.5m is 100m: a ratio of 2, not 2.01, so 4 and not 5.
		{"average in whole milli-units", averageValue("50m"), 100, []int64{100, 101}, 4},
		// Exactly on target: the pods without metrics change nothing.
		{"utilization on target, pods missing", utilization(50), 100, []int64{50, -1, -1, -1}, 4},
		{"average on target, pods missing", averageValue("50m"), 100, []int64{50, -1, -1, -1}, 4},
		// Below target, missing pods count as using their request: 55%,
		// within the tolerance.
		{"down, missing pods at their request", utilization(50), 100, []int64{40, 40, 40, -1}, 4},
		// Above target, missing pods count as idle: 66%, so ceil(1.32 × 3).
		{"up, missing pods idle", utilization(50), 100, []int64{100, 100, -1}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &hpaReconciler{opts: HPAOptions{}.withDefaults()}
			var pods []*objects.Pod
			var samples []PodMetrics
			for i, u := range tc.usage {
				p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("web-%d", i), CreationTimestamp: objects.NewTime(t0)}}
				p.Spec.Containers = []objects.Container{{Name: "app", Resources: objects.ResourceRequirements{Requests: objects.ResourceList{
					objects.ResourceCPU: objects.NewMilliQuantity(tc.request, objects.DecimalSI),
				}}}}
				makeReady(p, t0)
				pods = append(pods, p)
				if u >= 0 {
					samples = append(samples, PodMetrics{
						Namespace: p.Namespace, Name: p.Name, Timestamp: now, Window: 15 * time.Second,
						Containers: []ContainerMetrics{{Name: "app", Usage: objects.ResourceList{
							objects.ResourceCPU: objects.NewMilliQuantity(u, objects.DecimalSI),
						}}},
					})
				}
			}
			ms := &objects.ResourceMetricSource{Name: objects.ResourceCPU, Target: tc.target}
			got, _, err := r.resourceReplicas(ms, "", int32(len(pods)), pods, samples, now)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			// The pods' one container: the same as a ContainerResource
			// metric of it.
			got, _, err = r.resourceReplicas(ms, "app", int32(len(pods)), pods, samples, now)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			if tc.target.Type == objects.UtilizationMetricType {
				_, _, err = r.resourceReplicas(ms, "side", int32(len(pods)), pods, samples, now)
				require.ErrorContains(t, err, "unable to get metrics for resource cpu")
				pods[0].Spec.Containers = append(pods[0].Spec.Containers, objects.Container{Name: "side"})
				samples[0].Containers = append(samples[0].Containers, ContainerMetrics{Name: "side", Usage: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("1m")}})
				_, _, err = r.resourceReplicas(ms, "side", int32(len(pods)), pods, samples, now)
				require.EqualError(t, err, "missing request for cpu in container side of Pod web-0")
			}
		})
	}
}

// A pod's request, against which utilization is measured, counts its
// sidecars and not its other init containers, as Kubernetes'
// calculatePodRequests.
func TestHPAPodRequestCountsSidecars(t *testing.T) {
	cpu := func(m int64) objects.ResourceRequirements {
		return objects.ResourceRequirements{Requests: objects.ResourceList{objects.ResourceCPU: objects.NewMilliQuantity(m, objects.DecimalSI)}}
	}
	always := objects.ContainerRestartPolicyAlways
	p := &objects.Pod{Spec: objects.PodSpec{
		InitContainers: []objects.Container{{Name: "migrate", Resources: cpu(500)}, {Name: "proxy", Resources: cpu(50), RestartPolicy: &always}},
		Containers:     []objects.Container{{Name: "app", Resources: cpu(100)}},
	}}
	got, ok := podRequest(p, objects.ResourceCPU, "")
	require.True(t, ok)
	require.Equal(t, int64(150), got)
	for container, want := range map[string]int64{"app": 100, "proxy": 50} {
		got, ok := podRequest(p, objects.ResourceCPU, container)
		require.True(t, ok, container)
		require.Equal(t, want, got, container)
	}
	for _, container := range []string{"migrate", "none"} { // not a sidecar, not there
		_, ok = podRequest(p, objects.ResourceCPU, container)
		require.False(t, ok, container)
	}
	p.Spec.InitContainers[1].Resources = objects.ResourceRequirements{}
	_, ok = podRequest(p, objects.ResourceCPU, "")
	require.False(t, ok, "a sidecar without a request leaves utilization unknown")
}

// A ContainerResource metric scales on one container's usage against its
// request: the app container at twice its target scales 2 to 4, although
// the pods as a whole, an idle sidecar beside, are on target.
func TestHPAContainerResource(t *testing.T) {
	e := newHPAEnv(t)
	d := deploymentWithCPU("web", 2, 100)
	side := d.Spec.Template.Spec.Containers[0]
	side.Name = "side"
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, side)
	e.create(d)
	e.waitFor("2 ready", rolledOut("web", "web:1"))
	e.clock.Advance(time.Minute)
	viewT(t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return isPodActive(p) && p.Labels["app"] == "web" }) {
			e.metrics.SetPodMetrics(PodMetrics{
				Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, Timestamp: e.clock.Now(), Window: 15 * time.Second,
				Containers: []ContainerMetrics{
					{Name: "app", Usage: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("100m")}},
					{Name: "side", Usage: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("0")}},
				},
			})
		}
	})
	h := newHPA("web", "web", 1, 10, 50)
	h.Spec.Metrics = append(h.Spec.Metrics, objects.MetricSpec{Type: objects.ContainerResourceMetricSourceType,
		ContainerResource: &objects.ContainerResourceMetricSource{Name: objects.ResourceCPU, Container: "app",
			Target: objects.MetricTarget{Type: objects.UtilizationMetricType, AverageUtilization: ptr[int32](50)}}})
	e.create(h)
	e.waitFor("scaled to 4", func(tx store.ReadTx) (bool, string) {
		h := getHPA(tx, "web")
		return deploymentReplicas(tx, "web") == 4 && h.Status.DesiredReplicas == 4, fmt.Sprintf("%+v", h.Status)
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		ms := getHPA(tx, "web").Status.CurrentMetrics
		require.Len(t, ms, 2)
		require.Equal(t, int32(50), *ms[0].Resource.Current.AverageUtilization, "the pods as a whole")
		c := ms[1].ContainerResource
		require.Equal(t, objects.ContainerResourceMetricSourceType, ms[1].Type)
		require.Equal(t, "app", c.Container)
		require.Equal(t, int32(100), *c.Current.AverageUtilization)
	})
	require.True(t, e.events.has("New size: 4; reason: cpu container resource utilization (percentage of request) above target"), e.events.String())
}

// fleet is a host's own kind with a scale subresource (objects.Scalable),
// as a CustomResourceDefinition declares one.
type fleet struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`
	Spec               struct {
		Replicas *int32                 `json:"replicas,omitempty"`
		Selector *objects.LabelSelector `json:"selector,omitempty"`
	} `json:"spec,omitempty"`
	Status struct {
		Replicas int32 `json:"replicas"`
	} `json:"status,omitempty"`
}

func (f *fleet) DeepCopyObject() objects.Object {
	c := *f
	f.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	if f.Spec.Replicas != nil {
		c.Spec.Replicas = ptr(*f.Spec.Replicas)
	}
	c.Spec.Selector = f.Spec.Selector.DeepCopy()
	return &c
}

func (f *fleet) SpecReplicas() int32                   { return replicasOf(f.Spec.Replicas) }
func (f *fleet) SetSpecReplicas(n int32)               { f.Spec.Replicas = &n }
func (f *fleet) StatusReplicas() int32                 { return f.Status.Replicas }
func (f *fleet) ScaleSelector() *objects.LabelSelector { return f.Spec.Selector }

// An autoscaler scales a host's own kind that has a scale subresource,
// as Kubernetes' scales a custom resource with one; a kind without one
// is refused with FailedGetScale.
func TestHPAScalesOwnKind(t *testing.T) {
	s := objects.NewScheme()
	require.NoError(t, s.Register(objects.KindInfo{APIVersion: "example.com/v1", Kind: "Fleet", Namespaced: true,
		New: func() objects.Object { return &fleet{} }}))
	require.NoError(t, s.Register(objects.KindInfo{APIVersion: "example.com/v1", Kind: "Gadget", Namespaced: true,
		New: func() objects.Object { return &gadget{} }}))
	ms := NewMemoryMetrics()
	e := &hpaEnv{env: newEnv(t, withScheme(s), withControllers(func(m *Manager) error {
		return m.Add(HorizontalPodAutoscalerController(m, ms, HPAOptions{}))
	})), metrics: ms}
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })

	f := &fleet{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "fleet"}}
	f.Spec.Replicas = ptr(int32(2))
	f.Spec.Selector = &objects.LabelSelector{MatchLabels: map[string]string{"app": "fleet"}}
	e.create(f)
	for i := range 2 {
		p := deploymentWithCPU("fleet", 1, 100).Spec.Template
		e.create(&objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprint("fleet-", i), Labels: p.Labels}, Spec: p.Spec})
	}
	e.waitFor("2 ready pods", func(tx store.ReadTx) (bool, string) {
		ready := podsWhere(tx, func(p *objects.Pod) bool { return objects.IsPodReady(p) })
		return len(ready) == 2, fmt.Sprintf("%d ready", len(ready))
	})
	e.clock.Advance(time.Minute)
	e.setCPU("fleet", 100)

	h := newHPA("fleet", "fleet", 1, 10, 50)
	h.Spec.ScaleTargetRef = objects.CrossVersionObjectReference{APIVersion: "example.com/v1", Kind: "Fleet", Name: "fleet"}
	g := newHPA("gadget", "g", 1, 10, 50)
	g.Spec.ScaleTargetRef = objects.CrossVersionObjectReference{APIVersion: "example.com/v1", Kind: "Gadget", Name: "g"}
	e.create(&gadget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "g"}}, h, g)
	e.waitFor("the fleet scaled to 4", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get("Fleet", dkey("fleet"))
		if err != nil {
			return false, err.Error()
		}
		n := o.(*fleet).SpecReplicas()
		return n == 4, fmt.Sprintf("%d replicas", n)
	})
	e.waitFor("the gadget refused", func(tx store.ReadTx) (bool, string) {
		hg := getHPA(tx, "gadget")
		c := objects.GetHPACondition(&hg.Status, objects.AbleToScale)
		return c != nil && c.Reason == HPAReasonFailedGetScale &&
			c.Message == "the HPA controller was unable to get the target's current scale: Gadget g has no scale subresource (its kind does not implement objects.Scalable)", fmt.Sprintf("%+v", c)
	})
}
