package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/podkit/podkit/objects"
)

// CustomMetricsSource is the part of a MetricsSource that gives the
// HorizontalPodAutoscaler its Pods, Object and External metrics: the role
// of Kubernetes' custom.metrics.k8s.io and external.metrics.k8s.io APIs
// (an adapter over the host's monitoring). The autoscaler finds it on its
// MetricsSource by a type assertion; MemoryMetrics is one, which the host
// feeds. A nil metricSelector selects every series of the metric. Its
// methods are called from the autoscaler's workers concurrently.
type CustomMetricsSource interface {
	// PodsMetric returns the value of metric for each of the named pods
	// of namespace that has one, by pod name.
	PodsMetric(ctx context.Context, namespace string, pods []string, metric string, metricSelector objects.Selector) (map[string]objects.Quantity, error)
	// ObjectMetric returns the value of metric describing an object of
	// namespace; an error when it has none.
	ObjectMetric(ctx context.Context, namespace string, object objects.CrossVersionObjectReference, metric string, metricSelector objects.Selector) (objects.Quantity, error)
	// ExternalMetric returns the values of the series of metric, which
	// lives outside the cluster, for namespace.
	ExternalMetric(ctx context.Context, namespace, metric string, metricSelector objects.Selector) ([]objects.Quantity, error)
}

var _ CustomMetricsSource = (*MemoryMetrics)(nil)

// MetricSeries is one series of a custom or external metric: its labels,
// which an autoscaler's metric selector matches, and its latest value.
type MetricSeries struct {
	Labels map[string]string
	Value  objects.Quantity
}

// customMetrics are a MemoryMetrics' custom and external metrics.
type customMetrics struct {
	mu       sync.Mutex
	pods     map[objects.Key]map[string][]MetricSeries // by pod, then metric
	objs     map[objectMetricKey][]MetricSeries
	external map[[2]string][]MetricSeries // by namespace and metric
}

type objectMetricKey struct {
	namespace, kind, name, metric string
}

func (c *customMetrics) init() {
	c.pods = map[objects.Key]map[string][]MetricSeries{}
	c.objs = map[objectMetricKey][]MetricSeries{}
	c.external = map[[2]string][]MetricSeries{}
}

func cloneSeries(series []MetricSeries) []MetricSeries {
	out := make([]MetricSeries, len(series))
	for i, s := range series {
		out[i] = MetricSeries{Labels: maps.Clone(s.Labels), Value: s.Value.DeepCopy()}
	}
	return out
}

// SetPodsMetric sets the series of a pod's metric (none: forgets it), as
// a Pods metric of an autoscaler reads it. DeletePod forgets them all.
func (m *MemoryMetrics) SetPodsMetric(namespace, pod, metric string, series ...MetricSeries) {
	c := &m.custom
	c.mu.Lock()
	defer c.mu.Unlock()
	key := objects.Key{Namespace: namespace, Name: pod}
	if len(series) == 0 {
		delete(c.pods[key], metric)
		return
	}
	if c.pods[key] == nil {
		c.pods[key] = map[string][]MetricSeries{}
	}
	c.pods[key][metric] = cloneSeries(series)
}

// SetObjectMetric sets the series of a metric describing an object of
// namespace, by kind and name (none: forgets it), as an Object metric of
// an autoscaler reads it.
func (m *MemoryMetrics) SetObjectMetric(namespace string, object objects.CrossVersionObjectReference, metric string, series ...MetricSeries) {
	c := &m.custom
	c.mu.Lock()
	defer c.mu.Unlock()
	key := objectMetricKey{namespace, object.Kind, object.Name, metric}
	if len(series) == 0 {
		delete(c.objs, key)
		return
	}
	c.objs[key] = cloneSeries(series)
}

// SetExternalMetric sets the series of an external metric for namespace
// (none: forgets it), as an External metric of an autoscaler reads it.
func (m *MemoryMetrics) SetExternalMetric(namespace, metric string, series ...MetricSeries) {
	c := &m.custom
	c.mu.Lock()
	defer c.mu.Unlock()
	key := [2]string{namespace, metric}
	if len(series) == 0 {
		delete(c.external, key)
		return
	}
	c.external[key] = cloneSeries(series)
}

// matching returns the sum of the series sel matches, and whether any did.
func matching(series []MetricSeries, sel objects.Selector) (objects.Quantity, bool) {
	var sum objects.Quantity
	found := false
	for _, s := range series {
		if sel == nil || sel.Matches(s.Labels) {
			sum.Add(s.Value)
			found = true
		}
	}
	return sum, found
}

// PodsMetric implements CustomMetricsSource: a pod's value is the sum of
// its series the selector matches.
func (m *MemoryMetrics) PodsMetric(_ context.Context, namespace string, pods []string, metric string, metricSelector objects.Selector) (map[string]objects.Quantity, error) {
	c := &m.custom
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]objects.Quantity{}
	for _, name := range pods {
		if q, ok := matching(c.pods[objects.Key{Namespace: namespace, Name: name}][metric], metricSelector); ok {
			out[name] = q
		}
	}
	return out, nil
}

// ObjectMetric implements CustomMetricsSource: the sum of the object's
// series the selector matches.
func (m *MemoryMetrics) ObjectMetric(_ context.Context, namespace string, object objects.CrossVersionObjectReference, metric string, metricSelector objects.Selector) (objects.Quantity, error) {
	c := &m.custom
	c.mu.Lock()
	defer c.mu.Unlock()
	q, ok := matching(c.objs[objectMetricKey{namespace, object.Kind, object.Name, metric}], metricSelector)
	if !ok {
		return q, fmt.Errorf("no metric %s for %s %s/%s", metric, object.Kind, namespace, object.Name)
	}
	return q, nil
}

// ExternalMetric implements CustomMetricsSource.
func (m *MemoryMetrics) ExternalMetric(_ context.Context, namespace, metric string, metricSelector objects.Selector) ([]objects.Quantity, error) {
	c := &m.custom
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []objects.Quantity
	for _, s := range c.external[[2]string{namespace, metric}] {
		if metricSelector == nil || metricSelector.Matches(s.Labels) {
			out = append(out, s.Value.DeepCopy())
		}
	}
	return out, nil
}

// deletePod forgets a pod's custom metrics.
func (c *customMetrics) deletePod(key objects.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pods, key)
}

// customSource returns the autoscaler's CustomMetricsSource, or an error
// saying that metric type t needs one, and the selector of metric id.
func (r *hpaReconciler) customSource(t objects.MetricSourceType, id *objects.MetricIdentifier) (CustomMetricsSource, objects.Selector, error) {
	cm, ok := r.metrics.(CustomMetricsSource)
	if !ok {
		return nil, nil, fmt.Errorf("%s metrics need a custom metrics source (reconcile.CustomMetricsSource) and the autoscaler's has none", t)
	}
	if id.Selector == nil {
		return cm, nil, nil
	}
	sel, err := objects.LabelSelectorAsSelector(id.Selector)
	if err != nil {
		return nil, nil, fmt.Errorf("metric %s's selector: %w", id.Name, err)
	}
	return cm, sel, nil
}

// customReplicas is the replica count a Pods, Object or External metric
// asks for, its status, and its name in the autoscaler's events.
func (r *hpaReconciler) customReplicas(ctx context.Context, ns string, ms *objects.MetricSpec, current int32, pods []*objects.Pod, now time.Time) (int32, objects.MetricStatus, string, error) {
	st := objects.MetricStatus{Type: ms.Type}
	var (
		replicas int32
		name     string
		err      error
	)
	switch ms.Type {
	case objects.PodsMetricSourceType:
		name = "pods metric " + ms.Pods.Metric.Name
		replicas, st.Pods, err = r.podsReplicas(ctx, ns, ms.Pods, current, pods, now)
	case objects.ObjectMetricSourceType:
		name = ms.Object.DescribedObject.Kind + " metric " + ms.Object.Metric.Name
		replicas, st.Object, err = r.objectReplicas(ctx, ns, ms.Object, current, pods)
	default:
		name = fmt.Sprintf("external metric %s(%+v)", ms.External.Metric.Name, ms.External.Metric.Selector)
		replicas, st.External, err = r.externalReplicas(ctx, ns, ms.External, current, pods)
	}
	if err != nil {
		return 0, st, "", fmt.Errorf("%s: %w", name, err)
	}
	return replicas, st, name, nil
}

// podsReplicas is Kubernetes' GetMetricReplicas: the replica count a Pods
// metric asks for, its per-pod values averaged over the ready pods (pods
// without a value, or not ready, counted as for a Resource metric).
func (r *hpaReconciler) podsReplicas(ctx context.Context, ns string, ms *objects.PodsMetricSource, current int32, pods []*objects.Pod, now time.Time) (int32, *objects.PodsMetricStatus, error) {
	cm, sel, err := r.customSource(objects.PodsMetricSourceType, &ms.Metric)
	if err != nil {
		return 0, nil, err
	}
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	values, err := cm.PodsMetric(ctx, ns, names, ms.Metric.Name, sel)
	if err != nil {
		return 0, nil, fmt.Errorf("unable to get metric %s: %w", ms.Metric.Name, err)
	}
	if len(values) == 0 {
		return 0, nil, fmt.Errorf("unable to get metric %s: no metrics returned from custom metrics API", ms.Metric.Name)
	}
	// As a Resource metric's AverageValue target, the metric standing for
	// the resource.
	res := objects.ResourceName("pods metric " + ms.Metric.Name)
	samples := make([]PodMetrics, 0, len(values))
	for _, name := range slices.Sorted(maps.Keys(values)) {
		samples = append(samples, PodMetrics{Name: name, Containers: []ContainerMetrics{{Usage: objects.ResourceList{res: values[name]}}}})
	}
	replicas, st, err := r.resourceReplicas(&objects.ResourceMetricSource{Name: res, Target: ms.Target}, "", current, pods, samples, now)
	if err != nil {
		return 0, nil, err
	}
	return replicas, &objects.PodsMetricStatus{Metric: ms.Metric, Current: objects.MetricValueStatus{AverageValue: st.Current.AverageValue}}, nil
}

// objectReplicas is Kubernetes' GetObjectMetricReplicas and
// GetObjectPerPodMetricReplicas: the replica count an Object metric asks
// for.
func (r *hpaReconciler) objectReplicas(ctx context.Context, ns string, ms *objects.ObjectMetricSource, current int32, pods []*objects.Pod) (int32, *objects.ObjectMetricStatus, error) {
	cm, sel, err := r.customSource(objects.ObjectMetricSourceType, &ms.Metric)
	if err != nil {
		return 0, nil, err
	}
	q, err := cm.ObjectMetric(ctx, ns, ms.DescribedObject, ms.Metric.Name, sel)
	if err != nil {
		return 0, nil, fmt.Errorf("unable to get metric %s: %w", ms.Metric.Name, err)
	}
	st := &objects.ObjectMetricStatus{Metric: ms.Metric, DescribedObject: ms.DescribedObject}
	replicas, value, avg, err := r.valueReplicas(ms.Target, q.MilliValue(), current, pods)
	if err != nil {
		return 0, nil, err
	}
	st.Current = metricValue(value, avg)
	return replicas, st, nil
}

// externalReplicas is Kubernetes' GetExternalMetricReplicas and
// GetExternalPerPodMetricReplicas: the replica count an External metric
// asks for, from the sum of its series.
func (r *hpaReconciler) externalReplicas(ctx context.Context, ns string, ms *objects.ExternalMetricSource, current int32, pods []*objects.Pod) (int32, *objects.ExternalMetricStatus, error) {
	cm, sel, err := r.customSource(objects.ExternalMetricSourceType, &ms.Metric)
	if err != nil {
		return 0, nil, err
	}
	qs, err := cm.ExternalMetric(ctx, ns, ms.Metric.Name, sel)
	if err == nil && len(qs) == 0 {
		err = errors.New("no metrics returned from external metrics API")
	}
	if err != nil {
		return 0, nil, fmt.Errorf("unable to get external metric %s/%s/%v: %w", ns, ms.Metric.Name, ms.Metric.Selector, err)
	}
	var sum int64
	for _, q := range qs {
		sum += q.MilliValue()
	}
	replicas, value, avg, err := r.valueReplicas(ms.Target, sum, current, pods)
	if err != nil {
		return 0, nil, err
	}
	return replicas, &objects.ExternalMetricStatus{Metric: ms.Metric, Current: metricValue(value, avg)}, nil
}

// valueReplicas is the replica count an Object or External metric of
// usage (milli-units) asks for. A Value target scales the ready pods by
// usage/target; an AverageValue target asks for usage/target pods. Both
// keep current within the tolerance. It returns the value or the average
// per pod to report (the other -1).
func (r *hpaReconciler) valueReplicas(target objects.MetricTarget, usage int64, current int32, pods []*objects.Pod) (replicas int32, value, avg int64, err error) {
	tol := r.opts.Tolerance
	switch {
	case target.Type == objects.ValueMetricType && target.Value != nil:
		ratio := float64(usage) / float64(target.Value.MilliValue())
		if current == 0 {
			return int32(math.Ceil(ratio)), usage, -1, nil
		}
		if math.Abs(1-ratio) <= tol {
			return current, usage, -1, nil
		}
		if len(pods) == 0 {
			return 0, 0, 0, errors.New("no pods returned by selector while calculating replica count")
		}
		ready := 0
		for _, p := range pods {
			if p.Status.Phase == objects.PodRunning && objects.IsPodReady(p) {
				ready++
			}
		}
		return int32(math.Ceil(ratio * float64(ready))), usage, -1, nil
	case target.Type == objects.AverageValueMetricType && target.AverageValue != nil:
		t := float64(target.AverageValue.MilliValue())
		replicas = current
		if ratio := float64(usage) / (t * float64(current)); math.Abs(1-ratio) > tol {
			replicas = int32(math.Ceil(float64(usage) / t))
		}
		return replicas, -1, int64(math.Ceil(float64(usage) / float64(max(current, 1)))), nil
	}
	return 0, 0, 0, fmt.Errorf("target type %s is not supported here: want Value or AverageValue", target.Type)
}

func metricValue(value, avg int64) objects.MetricValueStatus {
	if value >= 0 {
		return objects.MetricValueStatus{Value: ptrQuantity(objects.NewMilliQuantity(value, objects.DecimalSI))}
	}
	return objects.MetricValueStatus{AverageValue: ptrQuantity(objects.NewMilliQuantity(avg, objects.DecimalSI))}
}
