package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Pods, Object and External metrics, from the host's CustomMetricsSource
// (here the MemoryMetrics it feeds), scale a Deployment of 2 as
// Kubernetes' autoscaler does, each on its own.
func TestHPACustomMetrics(t *testing.T) {
	ingress := objects.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "main"}
	for _, tc := range []struct {
		name   string
		metric objects.MetricSpec
		feed   func(m *MemoryMetrics, pods []*objects.Pod)
		want   int32
		reason string
		// status checks the metric's status of a sync that saw replicas.
		status func(t *testing.T, st objects.MetricStatus, replicas int32)
	}{{
		// 20 per pod against 10: twice the pods.
		name: "pods",
		metric: objects.MetricSpec{Type: objects.PodsMetricSourceType, Pods: &objects.PodsMetricSource{
			Metric: objects.MetricIdentifier{Name: "requests_per_second"},
			Target: objects.MetricTarget{Type: objects.AverageValueMetricType, AverageValue: ptr(objects.MustParseQuantity("10"))}}},
		feed: func(m *MemoryMetrics, pods []*objects.Pod) {
			for _, p := range pods {
				m.SetPodsMetric(p.Namespace, p.Name, "requests_per_second", MetricSeries{Value: objects.MustParseQuantity("20")})
			}
		},
		want: 4, reason: "pods metric requests_per_second above target",
		status: func(t *testing.T, st objects.MetricStatus, _ int32) {
			require.Equal(t, "20", st.Pods.Current.AverageValue.String())
		},
	}, {
		// 300 against a value of 100: the 2 ready pods times 3.
		name: "object",
		metric: objects.MetricSpec{Type: objects.ObjectMetricSourceType, Object: &objects.ObjectMetricSource{
			DescribedObject: ingress, Metric: objects.MetricIdentifier{Name: "requests"},
			Target: objects.MetricTarget{Type: objects.ValueMetricType, Value: ptr(objects.MustParseQuantity("100"))}}},
		feed: func(m *MemoryMetrics, _ []*objects.Pod) {
			m.SetObjectMetric("default", ingress, "requests", MetricSeries{Value: objects.MustParseQuantity("300")})
		},
		want: 6, reason: "Ingress metric requests above target",
		status: func(t *testing.T, st objects.MetricStatus, _ int32) {
			require.Equal(t, "300", st.Object.Current.Value.String())
			require.Equal(t, ingress, st.Object.DescribedObject)
		},
	}, {
		// The selected queue's 30 messages at 10 a pod: 3 pods; the other
		// queue's are not counted.
		name: "external",
		metric: objects.MetricSpec{Type: objects.ExternalMetricSourceType, External: &objects.ExternalMetricSource{
			Metric: objects.MetricIdentifier{Name: "queue_messages", Selector: &objects.LabelSelector{MatchLabels: map[string]string{"queue": "jobs"}}},
			Target: objects.MetricTarget{Type: objects.AverageValueMetricType, AverageValue: ptr(objects.MustParseQuantity("10"))}}},
		feed: func(m *MemoryMetrics, _ []*objects.Pod) {
			m.SetExternalMetric("default", "queue_messages",
				MetricSeries{Labels: map[string]string{"queue": "jobs"}, Value: objects.MustParseQuantity("30")},
				MetricSeries{Labels: map[string]string{"queue": "other"}, Value: objects.MustParseQuantity("1000")})
		},
		want: 3, reason: "external metric queue_messages(",
		// The average is over the replicas of the sync: 15 for the 2 of
		// the sync that scaled, 10 for the 3 of any sync after it.
		status: func(t *testing.T, st objects.MetricStatus, replicas int32) {
			require.Equal(t, fmt.Sprint(30/replicas), st.External.Current.AverageValue.String())
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newHPAEnv(t)
			e.create(newDeployment("web", 2, "web:1"))
			e.waitFor("2 ready", rolledOut("web", "web:1"))
			viewT(t, e.s, func(tx store.ReadTx) {
				tc.feed(e.metrics, podsWhere(tx, func(p *objects.Pod) bool { return isPodActive(p) && p.Labels["app"] == "web" }))
			})
			h := newHPA("web", "web", 1, 10, 50)
			h.Spec.Metrics = []objects.MetricSpec{tc.metric}
			e.create(h)
			e.waitFor(fmt.Sprintf("scaled to %d", tc.want), func(tx store.ReadTx) (bool, string) {
				h := getHPA(tx, "web")
				return deploymentReplicas(tx, "web") == tc.want && h.Status.DesiredReplicas == tc.want, fmt.Sprintf("%+v", h.Status)
			})
			viewT(t, e.s, func(tx store.ReadTx) {
				st := getHPA(tx, "web").Status
				ms := st.CurrentMetrics
				require.Len(t, ms, 1)
				require.Equal(t, tc.metric.Type, ms[0].Type)
				tc.status(t, ms[0], st.CurrentReplicas)
			})
			require.True(t, e.events.has("New size: "+fmt.Sprint(tc.want)+"; reason: "+tc.reason), e.events.String())
		})
	}
}

// Object and External values against their targets, as Kubernetes'
// replica calculator has them.
func TestHPAValueReplicas(t *testing.T) {
	r := &hpaReconciler{opts: HPAOptions{}.withDefaults()}
	var pods []*objects.Pod
	for i := range 4 {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprint(i)}}
		p.Status.Phase = objects.PodRunning
		if i < 3 {
			makeReady(p, time.Time{})
		}
		pods = append(pods, p)
	}
	value := func(q string) objects.MetricTarget {
		return objects.MetricTarget{Type: objects.ValueMetricType, Value: ptr(objects.MustParseQuantity(q))}
	}
	average := func(q string) objects.MetricTarget {
		return objects.MetricTarget{Type: objects.AverageValueMetricType, AverageValue: ptr(objects.MustParseQuantity(q))}
	}
	for _, tc := range []struct {
		name     string
		target   objects.MetricTarget
		usage    int64 // milli-units
		want     int32
		value    int64
		average  int64
		replicas int32
	}{
		{"value: the ready pods scaled by the ratio", value("100"), 200_000, 6, 200_000, -1, 4},
		{"value within the tolerance", value("100"), 105_000, 4, 105_000, -1, 4},
		{"value from none", value("100"), 250_000, 3, 250_000, -1, 0},
		{"average: usage over target", average("10"), 55_000, 6, -1, 13_750, 4},
		{"average within the tolerance", average("10"), 41_000, 4, -1, 10_250, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, v, avg, err := r.valueReplicas(tc.target, tc.usage, tc.replicas, pods)
			require.NoError(t, err)
			require.Equal(t, [3]int64{int64(tc.want), tc.value, tc.average}, [3]int64{int64(got), v, avg})
		})
	}
}

// Without a custom metrics source, such a metric says what is missing.
func TestHPACustomMetricsNeedASource(t *testing.T) {
	r := &hpaReconciler{metrics: podOnlyMetrics{}, opts: HPAOptions{}.withDefaults()}
	_, _, err := r.externalReplicas(context.Background(), "default", &objects.ExternalMetricSource{Metric: objects.MetricIdentifier{Name: "q"}}, 1, nil)
	require.EqualError(t, err, "External metrics need a custom metrics source (reconcile.CustomMetricsSource) and the autoscaler's has none")
}

type podOnlyMetrics struct{}

func (podOnlyMetrics) PodMetrics(context.Context, string, objects.Selector) ([]PodMetrics, error) {
	return nil, nil
}
