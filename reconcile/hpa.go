package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindHPA = "HorizontalPodAutoscaler"

// Defaults of HPAOptions, as the kube-controller-manager has them.
const (
	DefaultHPASyncPeriod              = 15 * time.Second
	DefaultHPATolerance               = 0.1
	DefaultHPACPUInitializationPeriod = 5 * time.Minute
	DefaultHPAInitialReadinessDelay   = 30 * time.Second
)

// Reasons of autoscaler conditions and events, as Kubernetes words them.
const (
	HPAReasonSucceededGetScale   = "SucceededGetScale"
	HPAReasonFailedGetScale      = "FailedGetScale"
	HPAReasonFailedUpdateScale   = "FailedUpdateScale"
	HPAReasonSucceededRescale    = "SucceededRescale"
	HPAReasonReadyForNewScale    = "ReadyForNewScale"
	HPAReasonScaleDownStabilized = "ScaleDownStabilized"
	HPAReasonScaleUpStabilized   = "ScaleUpStabilized"
	HPAReasonValidMetricFound    = "ValidMetricFound"
	HPAReasonInvalidMetric       = "FailedGetResourceMetric"
	HPAReasonScalingDisabled     = "ScalingDisabled"
	HPAReasonDesiredWithinRange  = "DesiredWithinRange"
	HPAReasonTooManyReplicas     = "TooManyReplicas"
	HPAReasonTooFewReplicas      = "TooFewReplicas"
	HPAReasonScaleUpLimit        = "ScaleUpLimit"
	HPAReasonScaleDownLimit      = "ScaleDownLimit"
)

// HPAOptions tune the HorizontalPodAutoscaler controller; zero fields take
// the defaults.
type HPAOptions struct {
	// SyncPeriod is how often each autoscaler reads its metrics (default
	// 15s, on the manager's clock).
	SyncPeriod time.Duration
	// Tolerance: a usage ratio within 1±Tolerance changes nothing (default
	// 0.1).
	Tolerance float64
	// CPUInitializationPeriod and InitialReadinessDelay decide, as in
	// Kubernetes, which pods' CPU samples are too early to trust (defaults
	// 5 minutes and 30 seconds).
	CPUInitializationPeriod time.Duration
	InitialReadinessDelay   time.Duration
}

func (o HPAOptions) withDefaults() HPAOptions {
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = DefaultHPASyncPeriod
	}
	if o.Tolerance <= 0 {
		o.Tolerance = DefaultHPATolerance
	}
	if o.CPUInitializationPeriod <= 0 {
		o.CPUInitializationPeriod = DefaultHPACPUInitializationPeriod
	}
	if o.InitialReadinessDelay <= 0 {
		o.InitialReadinessDelay = DefaultHPAInitialReadinessDelay
	}
	return o
}

// HorizontalPodAutoscalerController returns the autoscaler controller, for
// Manager.Add.
//
// Every SyncPeriod it reads the usage of the target's pods from metrics
// and sets the target's spec.replicas (a Deployment, ReplicaSet,
// ReplicationController, StatefulSet or any kind of the host's with a scale subresource,
// objects.Scalable, in the autoscaler's namespace) as Kubernetes'
// autoscaling/v2 controller does, for Resource and ContainerResource
// metrics (cpu, memory; Pods, Object and External metrics below) with
// Utilization (a percentage of the pods' requests) and AverageValue
// targets: desired = ceil(current × usage / target), with the usage in
// whole percent (or milli-units), nothing when the ratio is within the
// tolerance, pods without metrics or not yet ready counted
// conservatively, the largest count any metric asks for (no scale-down
// while any metric cannot be computed), then stabilized (the lowest
// recommendation of the scale-up window, the highest of the scale-down
// window: 300 seconds by default) and limited by the behaviour's policies
// (by default at most doubling, or 4 pods, per 15 seconds up; any amount
// down) and by minReplicas and maxReplicas. The status reports the
// current metrics, the replica counts and the AbleToScale, ScalingActive
// and ScalingLimited conditions. ContainerResource metrics are the same
// for one container of each pod: its usage against its request. Pods,
// Object and External metrics come from metrics' CustomMetricsSource
// (MemoryMetrics is one, fed by the host's SetPodsMetric,
// SetObjectMetric and SetExternalMetric): a Pods metric's per-pod values
// are averaged over the ready pods against its AverageValue target, as a
// Resource metric's usage is; an Object or External value (the sum of an
// External metric's series) against a Value target scales the ready pods
// by value/target, against an AverageValue target asks for value/target
// pods.
//
// The recommendations and scale events the stabilization and policies
// look back on are kept in memory, as Kubernetes keeps them. The first
// recommendation is the target's replica count when the controller first
// syncs the autoscaler, so that a new autoscaler, or any after the
// controller restarts, scales down only after the stabilization window.
func HorizontalPodAutoscalerController(m *Manager, metrics MetricsSource, opts HPAOptions) Controller {
	r := &hpaReconciler{
		c: m.Client(), clock: m.Clock(), rec: m.Recorder(), metrics: metrics, opts: opts.withDefaults(),
		state: map[objects.Key]*hpaState{},
	}
	return Controller{Name: "horizontalpodautoscaler", For: kindHPA, Reconciler: r, Workers: 2}
}

type hpaReconciler struct {
	c       *Client
	clock   clockwork.Clock
	rec     EventRecorder
	metrics MetricsSource
	opts    HPAOptions

	mu    sync.Mutex
	state map[objects.Key]*hpaState
}

// hpaState is what an autoscaler remembers between syncs.
type hpaState struct {
	uid             string
	recommendations []timedReplicas
	scaleUp         []timedReplicas // replicas added, by when
	scaleDown       []timedReplicas // replicas removed, by when
	lastSync        time.Time
}

type timedReplicas struct {
	replicas int32
	at       time.Time
}

// scaleTarget is what the autoscaler reads of its target.
type scaleTarget struct {
	obj      objects.Object
	replicas int32
	selector *objects.LabelSelector
}

func (r *hpaReconciler) stateOf(h *objects.HorizontalPodAutoscaler) *hpaState {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state[h.Key()]
	if s == nil || s.uid != h.UID {
		s = &hpaState{uid: h.UID}
		r.state[h.Key()] = s
	}
	return s
}

// lastSync is when the autoscaler last computed a recommendation (tests
// wait for it).
func (r *hpaReconciler) lastSync(key objects.Key) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.state[key]; s != nil {
		return s.lastSync
	}
	return time.Time{}
}

func (r *hpaReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	h, err := Get[*objects.HorizontalPodAutoscaler](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		r.mu.Lock()
		delete(r.state, req.Key())
		r.mu.Unlock()
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if h.IsDeleting() {
		return Result{}, nil
	}
	res := Result{RequeueAfter: r.opts.SyncPeriod}
	now := r.clock.Now()
	st := *h.Status.DeepCopy()
	gen := h.Generation
	st.ObservedGeneration = &gen
	target, err := r.readTarget(ctx, h)
	if err != nil {
		setHPACondition(&st, objects.AbleToScale, objects.ConditionFalse, HPAReasonFailedGetScale,
			fmt.Sprintf("the HPA controller was unable to get the target's current scale: %v", err), now)
		r.rec.Event(ctx, h, EventWarning, HPAReasonFailedGetScale, err.Error())
		return res, r.writeStatus(ctx, h, st)
	}
	setHPACondition(&st, objects.AbleToScale, objects.ConditionTrue, HPAReasonSucceededGetScale,
		"the HPA controller was able to get the target's current scale", now)
	current := target.replicas
	st.CurrentReplicas = current
	minReplicas := int32(1)
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	state := r.stateOf(h)
	r.recordInitialRecommendation(state, current, now)
	var desired int32
	var rescaleReason string
	switch {
	case current == 0 && minReplicas != 0:
		desired = 0
		setHPACondition(&st, objects.ScalingActive, objects.ConditionFalse, HPAReasonScalingDisabled,
			"scaling is disabled since the replica count of the target is zero", now)
	case current > h.Spec.MaxReplicas:
		desired, rescaleReason = h.Spec.MaxReplicas, "Current number of replicas above Spec.MaxReplicas"
	case current < minReplicas:
		desired, rescaleReason = minReplicas, "Current number of replicas below Spec.MinReplicas"
	default:
		proposal, metricName, statuses, err := r.computeReplicas(ctx, h, target, now)
		st.CurrentMetrics = statuses
		if err != nil && proposal == 0 {
			setHPACondition(&st, objects.ScalingActive, objects.ConditionFalse, HPAReasonInvalidMetric,
				fmt.Sprintf("the HPA was unable to compute the replica count: %v", err), now)
			r.rec.Event(ctx, h, EventWarning, HPAReasonInvalidMetric, err.Error())
			r.mu.Lock()
			state.lastSync = now
			r.mu.Unlock()
			return res, r.writeStatus(ctx, h, st)
		}
		setHPACondition(&st, objects.ScalingActive, objects.ConditionTrue, HPAReasonValidMetricFound,
			fmt.Sprintf("the HPA was able to successfully calculate a replica count from %s", metricName), now)
		desired = r.normalize(h, state, &st, current, proposal, minReplicas, now)
		if desired > current {
			rescaleReason = metricName + " above target"
		} else {
			rescaleReason = "All metrics below target"
		}
	}
	r.mu.Lock()
	state.lastSync = now
	r.mu.Unlock()
	st.DesiredReplicas = desired
	if desired != current && !(current == 0 && minReplicas != 0) {
		if err := r.scale(ctx, h, target, desired); err != nil {
			setHPACondition(&st, objects.AbleToScale, objects.ConditionFalse, HPAReasonFailedUpdateScale,
				fmt.Sprintf("the HPA controller was unable to update the target scale: %v", err), now)
			r.rec.Event(ctx, h, EventWarning, HPAReasonFailedUpdateScale, err.Error())
			return Result{}, errors.Join(err, r.writeStatus(ctx, h, st))
		}
		setHPACondition(&st, objects.AbleToScale, objects.ConditionTrue, HPAReasonSucceededRescale,
			fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired), now)
		r.rec.Event(ctx, h, EventNormal, "SuccessfulRescale", fmt.Sprintf("New size: %d; reason: %s", desired, rescaleReason))
		r.recordScale(state, current, desired, now)
		st.LastScaleTime = objects.NewTimePtr(now)
		st.CurrentReplicas = current
	}
	return res, r.writeStatus(ctx, h, st)
}

// recordInitialRecommendation makes the target's replica count the first
// recommendation of an autoscaler without any, as Kubernetes does, so that
// the scale-down stabilization window holds back a new autoscaler (or one
// the controller has just restarted with) too.
func (r *hpaReconciler) recordInitialRecommendation(s *hpaState, current int32, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.recommendations == nil {
		s.recommendations = []timedReplicas{{replicas: current, at: now}}
	}
}

func (r *hpaReconciler) writeStatus(ctx context.Context, h *objects.HorizontalPodAutoscaler, st objects.HorizontalPodAutoscalerStatus) error {
	if reflect.DeepEqual(st, h.Status) {
		return nil
	}
	h.Status = st
	return r.c.UpdateStatus(ctx, h)
}

// readTarget reads the replicas and selector of the scale target, of
// any kind with a scale subresource (objects.Scalable): a Deployment,
// ReplicaSet, ReplicationController, StatefulSet or a host's own kind.
func (r *hpaReconciler) readTarget(ctx context.Context, h *objects.HorizontalPodAutoscaler) (*scaleTarget, error) {
	ref := h.Spec.ScaleTargetRef
	obj, err := r.c.Get(ctx, ref.Kind, objects.Key{Namespace: h.Namespace, Name: ref.Name})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", ref.Kind, ref.Name, err)
	}
	s, ok := obj.(objects.Scalable)
	if !ok {
		return nil, fmt.Errorf("%s %s has no scale subresource (its kind does not implement objects.Scalable)", ref.Kind, ref.Name)
	}
	return &scaleTarget{obj: obj, replicas: s.SpecReplicas(), selector: s.ScaleSelector()}, nil
}

// scale sets the target's spec.replicas, if it is still the object read.
func (r *hpaReconciler) scale(ctx context.Context, h *objects.HorizontalPodAutoscaler, t *scaleTarget, replicas int32) error {
	m := t.obj.GetObjectMeta()
	kind := h.Spec.ScaleTargetRef.Kind
	return r.c.Txn(ctx, func(tx store.Tx) error {
		obj, err := tx.Get(kind, m.Key())
		if err != nil {
			return err
		}
		if obj.GetObjectMeta().UID != m.UID {
			return fmt.Errorf("%s %s was replaced: %w", kind, m.Name, store.ErrConflict)
		}
		s, ok := obj.DeepCopyObject().(objects.Scalable)
		if !ok {
			return fmt.Errorf("%s %s has no scale subresource", kind, m.Name)
		}
		s.SetSpecReplicas(replicas)
		return tx.Update(s)
	})
}

// computeReplicas returns the largest replica count the metrics ask for,
// the name of the metric that asked for it, and every metric's status. An
// error with a proposal names metrics that could not be read while others
// could, and asked for more replicas than the target has. As in
// Kubernetes, there is no proposal when any metric could not be read and
// the others ask for fewer: the autoscaler does not scale down on part of
// its metrics.
func (r *hpaReconciler) computeReplicas(ctx context.Context, h *objects.HorizontalPodAutoscaler, t *scaleTarget, now time.Time) (int32, string, []objects.MetricStatus, error) {
	sel, err := objects.LabelSelectorAsSelector(t.selector)
	if err != nil {
		return 0, "", nil, fmt.Errorf("the target's selector: %w", err)
	}
	objs, err := r.c.List(ctx, kindPod, store.ListOptions{Namespace: h.Namespace, Labels: sel})
	if err != nil {
		return 0, "", nil, err
	}
	pods := make([]*objects.Pod, len(objs))
	for i, o := range objs {
		pods[i] = o.(*objects.Pod)
	}
	var samples []PodMetrics
	if r.metrics != nil {
		if samples, err = r.metrics.PodMetrics(ctx, h.Namespace, sel); err != nil {
			return 0, "", nil, fmt.Errorf("unable to get metrics: %w", err)
		}
	}
	var (
		best     int32
		bestName string
		statuses []objects.MetricStatus
		errs     []error
	)
	for i := range h.Spec.Metrics {
		ms := &h.Spec.Metrics[i]
		var (
			res       *objects.ResourceMetricSource
			container string
		)
		switch {
		case ms.Type == objects.PodsMetricSourceType && ms.Pods != nil,
			ms.Type == objects.ObjectMetricSourceType && ms.Object != nil,
			ms.Type == objects.ExternalMetricSourceType && ms.External != nil:
			replicas, status, name, err := r.customReplicas(ctx, h.Namespace, ms, t.replicas, pods, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			statuses = append(statuses, status)
			if bestName == "" || replicas > best {
				best, bestName = replicas, name
			}
			continue
		case ms.Type == objects.ResourceMetricSourceType && ms.Resource != nil:
			res = ms.Resource
		case ms.Type == objects.ContainerResourceMetricSourceType && ms.ContainerResource != nil:
			cr := ms.ContainerResource
			res, container = &objects.ResourceMetricSource{Name: cr.Name, Target: cr.Target}, cr.Container
		default:
			errs = append(errs, fmt.Errorf("metrics[%d]: metric type %s is not supported", i, ms.Type))
			continue
		}
		replicas, status, err := r.resourceReplicas(res, container, t.replicas, pods, samples, now)
		if err != nil {
			if container != "" {
				err = fmt.Errorf("container %s: %w", container, err)
			}
			errs = append(errs, fmt.Errorf("%s resource metric: %w", res.Name, err))
			continue
		}
		name := fmt.Sprintf("%s resource", res.Name)
		if container == "" {
			statuses = append(statuses, objects.MetricStatus{Type: objects.ResourceMetricSourceType, Resource: status})
		} else {
			statuses = append(statuses, objects.MetricStatus{Type: objects.ContainerResourceMetricSourceType,
				ContainerResource: &objects.ContainerResourceMetricStatus{Name: status.Name, Current: status.Current, Container: container}})
			name = fmt.Sprintf("%s container resource", res.Name)
		}
		if bestName == "" || replicas > best {
			best = replicas
			bestName = name
			if res.Target.Type == objects.UtilizationMetricType {
				bestName += " utilization (percentage of request)"
			}
		}
	}
	if bestName == "" {
		if len(errs) == 0 {
			errs = append(errs, errors.New("no metrics"))
		}
		return 0, "", statuses, errors.Join(errs...)
	}
	if len(errs) > 0 && best < t.replicas {
		return 0, "", statuses, fmt.Errorf("%d of %d metrics invalid, not scaling down on the others: %w", len(errs), len(h.Spec.Metrics), errors.Join(errs...))
	}
	return best, bestName, statuses, errors.Join(errs...)
}

// resourceReplicas is Kubernetes' GetResourceReplicas and
// GetRawResourceReplicas: the replica count one Resource metric asks for,
// or with a container one ContainerResource metric, which reads that
// container's usage and request in each pod instead of the pod's.
func (r *hpaReconciler) resourceReplicas(ms *objects.ResourceMetricSource, container string, current int32, pods []*objects.Pod, samples []PodMetrics, now time.Time) (int32, *objects.ResourceMetricStatus, error) {
	if len(pods) == 0 {
		return 0, nil, errors.New("no pods returned by selector while calculating replica count")
	}
	usage := map[string]int64{} // milli-units, by pod
	byName := map[string]*PodMetrics{}
	for i := range samples {
		if q, ok := samples[i].containerUsage(container, ms.Name); ok {
			usage[samples[i].Name] = q.MilliValue()
			byName[samples[i].Name] = &samples[i]
		}
	}
	if len(usage) == 0 {
		return 0, nil, fmt.Errorf("unable to get metrics for resource %s: no metrics returned from resource metrics API", ms.Name)
	}
	ready, unready, missing := r.groupPods(pods, byName, ms.Name, now)
	for _, p := range unready {
		delete(usage, p.Name)
	}
	for name := range usage {
		if !ready[name] {
			delete(usage, name) // a pod not among the target's, or ignored
		}
	}
	if len(usage) == 0 {
		return 0, nil, fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")
	}
	status := &objects.ResourceMetricStatus{Name: ms.Name}
	var target float64 // per pod, in milli-units, or a utilization percentage
	requests := map[string]int64{}
	utilization := ms.Target.Type == objects.UtilizationMetricType
	switch {
	case utilization && ms.Target.AverageUtilization != nil:
		for _, p := range pods {
			q, ok := podRequest(p, ms.Name, container)
			if !ok {
				if _, used := usage[p.Name]; !used && !ready[p.Name] {
					continue
				}
				if container != "" {
					return 0, nil, fmt.Errorf("missing request for %s in container %s of Pod %s", ms.Name, container, p.Name)
				}
				return 0, nil, fmt.Errorf("missing request for %s in pod %s", ms.Name, p.Name)
			}
			requests[p.Name] = q
		}
		target = float64(*ms.Target.AverageUtilization)
	case ms.Target.Type == objects.AverageValueMetricType && ms.Target.AverageValue != nil:
		target = float64(ms.Target.AverageValue.MilliValue())
	default:
		return 0, nil, fmt.Errorf("target type %s is not supported for resource metrics", ms.Target.Type)
	}
	// As in Kubernetes, the utilization is a whole percentage and the
	// average a whole milli-unit, rounded down, before the division by the
	// target.
	ratio := func(usage map[string]int64) (float64, int64, int64) {
		var sum, req int64
		for name, u := range usage {
			sum += u
			req += requests[name]
		}
		avg := sum / int64(len(usage))
		if utilization {
			if req == 0 {
				return 0, 0, avg
			}
			util := sum * 100 / req
			return float64(util) / target, util, avg
		}
		return float64(avg) / target, 0, avg
	}
	usageRatio, util, avg := ratio(usage)
	status.Current.AverageValue = ptrQuantity(objects.NewMilliQuantity(avg, objects.DecimalSI))
	if utilization {
		u := int32(util)
		status.Current.AverageUtilization = &u
	}
	tol := r.opts.Tolerance
	scaleUpWithUnready := len(unready) > 0 && usageRatio > 1
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1-usageRatio) <= tol {
			return current, status, nil
		}
		return int32(math.Ceil(usageRatio * float64(len(usage)))), status, nil
	}
	// Rebalance: missing pods count as using nothing on the way up and
	// their request (or the target) on the way down, and not at all when
	// the others are exactly on target; unready pods as using nothing on
	// the way up.
	for _, p := range missing {
		switch {
		case usageRatio < 1 && utilization:
			fallback := max(int64(100), int64(target))
			usage[p.Name] = requests[p.Name] * fallback / 100
		case usageRatio < 1:
			usage[p.Name] = int64(target)
		case usageRatio > 1:
			usage[p.Name] = 0
		}
	}
	if scaleUpWithUnready {
		for _, p := range unready {
			usage[p.Name] = 0
		}
	}
	newRatio, _, _ := ratio(usage)
	if math.Abs(1-newRatio) <= tol || (usageRatio < 1 && newRatio > 1) || (usageRatio > 1 && newRatio < 1) {
		return current, status, nil
	}
	n := int32(math.Ceil(newRatio * float64(len(usage))))
	if (newRatio < 1 && n > current) || (newRatio > 1 && n < current) {
		return current, status, nil
	}
	return n, status, nil
}

// groupPods sorts the target's pods as Kubernetes' groupPods does: ready
// ones with metrics, unready ones (pending, or for CPU not ready or
// sampled before they were), and ones without metrics. Deleted and failed
// pods are ignored.
func (r *hpaReconciler) groupPods(pods []*objects.Pod, samples map[string]*PodMetrics, res objects.ResourceName, now time.Time) (ready map[string]bool, unready, missing []*objects.Pod) {
	ready = map[string]bool{}
	for _, p := range pods {
		if p.IsDeleting() || p.Status.Phase == objects.PodFailed || p.Status.Phase == objects.PodSucceeded {
			continue
		}
		if p.Status.Phase == objects.PodPending || p.Status.Phase == "" {
			unready = append(unready, p)
			continue
		}
		m, ok := samples[p.Name]
		if !ok {
			missing = append(missing, p)
			continue
		}
		if res == objects.ResourceCPU {
			c := objects.GetPodCondition(&p.Status, objects.PodReady)
			start := p.CreationTimestamp.Time
			if p.Status.StartTime != nil {
				start = p.Status.StartTime.Time
			}
			var notReady bool
			switch {
			case c == nil:
				notReady = true
			case start.Add(r.opts.CPUInitializationPeriod).After(now):
				notReady = c.Status == objects.ConditionFalse || m.Timestamp.Before(c.LastTransitionTime.Add(m.Window))
			default:
				notReady = c.Status == objects.ConditionFalse && start.Add(r.opts.InitialReadinessDelay).After(c.LastTransitionTime.Time)
			}
			if notReady {
				unready = append(unready, p)
				continue
			}
		}
		ready[p.Name] = true
	}
	return ready, unready, missing
}

// podRequest sums a resource's requests over the pod's containers and
// sidecars, in milli-units, as Kubernetes' calculatePodRequests; false
// when one does not request it. With a container, it is that container's
// request, false when it does not request it or the pod has no such
// container.
func podRequest(p *objects.Pod, res objects.ResourceName, container string) (int64, bool) {
	var sum int64
	add := func(c *objects.Container) bool {
		q, ok := c.Resources.Requests[res]
		sum += q.MilliValue()
		return ok
	}
	if container != "" {
		for i := range p.Spec.Containers {
			if c := &p.Spec.Containers[i]; c.Name == container {
				ok := add(c)
				return sum, ok
			}
		}
		for i := range p.Spec.InitContainers {
			if c := &p.Spec.InitContainers[i]; c.Name == container && c.IsSidecar() {
				ok := add(c)
				return sum, ok
			}
		}
		return 0, false
	}
	for i := range p.Spec.Containers {
		if !add(&p.Spec.Containers[i]) {
			return 0, false
		}
	}
	for i := range p.Spec.InitContainers {
		if c := &p.Spec.InitContainers[i]; c.IsSidecar() && !add(c) {
			return 0, false
		}
	}
	return sum, len(p.Spec.Containers) > 0
}

// normalize stabilizes the proposal and applies the scaling policies and
// replica bounds, as Kubernetes' normalizeDesiredReplicasWithBehaviors
// does, and records the proposal.
func (r *hpaReconciler) normalize(h *objects.HorizontalPodAutoscaler, s *hpaState, st *objects.HorizontalPodAutoscalerStatus, current, proposal, minReplicas int32, now time.Time) int32 {
	var up, down *objects.HPAScalingRules
	if b := h.Spec.Behavior; b != nil {
		up, down = b.ScaleUp, b.ScaleDown
	}
	up, down = objects.GenerateHPAScaleUpRules(up), objects.GenerateHPAScaleDownRules(down)
	r.mu.Lock()
	defer r.mu.Unlock()
	stabilized := s.stabilize(current, proposal, up, down, now)
	switch {
	case stabilized < proposal:
		setHPACondition(st, objects.AbleToScale, objects.ConditionTrue, HPAReasonScaleUpStabilized,
			"recent recommendations were lower than current one, applying the lowest recent recommendation", now)
	case stabilized > proposal:
		setHPACondition(st, objects.AbleToScale, objects.ConditionTrue, HPAReasonScaleDownStabilized,
			"recent recommendations were higher than current one, applying the highest recent recommendation", now)
	default:
		setHPACondition(st, objects.AbleToScale, objects.ConditionTrue, HPAReasonReadyForNewScale,
			"recommended size matches current size", now)
	}
	desired, reason, message := s.limit(current, stabilized, minReplicas, h.Spec.MaxReplicas, up, down, now)
	status := objects.ConditionTrue
	if desired == stabilized {
		status = objects.ConditionFalse
	}
	setHPACondition(st, objects.ScalingLimited, status, reason, message, now)
	return desired
}

// stabilize returns the proposal bounded by the lowest recommendation of
// the scale-up window and the highest of the scale-down window, and
// records it.
func (s *hpaState) stabilize(current, proposal int32, up, down *objects.HPAScalingRules, now time.Time) int32 {
	upCutoff := now.Add(-time.Duration(*up.StabilizationWindowSeconds) * time.Second)
	downCutoff := now.Add(-time.Duration(*down.StabilizationWindowSeconds) * time.Second)
	upRec, downRec := proposal, proposal
	kept := s.recommendations[:0]
	for _, rec := range s.recommendations {
		if rec.at.After(upCutoff) {
			upRec = min(upRec, rec.replicas)
		}
		if rec.at.After(downCutoff) {
			downRec = max(downRec, rec.replicas)
		}
		if rec.at.After(upCutoff) || rec.at.After(downCutoff) {
			kept = append(kept, rec)
		}
	}
	s.recommendations = append(kept, timedReplicas{replicas: proposal, at: now})
	out := current
	if out < upRec {
		out = upRec
	}
	if out > downRec {
		out = downRec
	}
	return out
}

// limit applies the scaling policies and the replica bounds, and says which
// limited the count.
func (s *hpaState) limit(current, desired, minReplicas, maxReplicas int32, up, down *objects.HPAScalingRules, now time.Time) (int32, string, string) {
	switch {
	case desired > current:
		limit := max(scaleLimit(current, s.scaleUp, s.scaleDown, up, now, true), current)
		allowed, reason, message := maxReplicas, HPAReasonTooManyReplicas, "the desired replica count is more than the maximum replica count"
		if limit < maxReplicas {
			allowed, reason, message = limit, HPAReasonScaleUpLimit, "the desired replica count is increasing faster than the maximum scale rate"
		}
		if desired > allowed {
			return allowed, reason, message
		}
	case desired < current:
		limit := min(scaleLimit(current, s.scaleUp, s.scaleDown, down, now, false), current)
		allowed, reason, message := minReplicas, HPAReasonTooFewReplicas, "the desired replica count is less than the minimum replica count"
		if limit > minReplicas {
			allowed, reason, message = limit, HPAReasonScaleDownLimit, "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if desired < allowed {
			return allowed, reason, message
		}
	}
	return desired, HPAReasonDesiredWithinRange, "the desired count is within the acceptable range"
}

// scaleLimit is the furthest the policies of rules let the replicas go
// from current, up or down, given the scale events of their periods.
func scaleLimit(current int32, ups, downs []timedReplicas, rules *objects.HPAScalingRules, now time.Time, scaleUp bool) int32 {
	sel := objects.MaxChangePolicySelect
	if rules.SelectPolicy != nil {
		sel = *rules.SelectPolicy
	}
	if sel == objects.DisabledPolicySelect {
		return current
	}
	// Max change: the highest limit up, the lowest down.
	pick := func(a, b int32) int32 { return max(a, b) }
	result := int32(math.MinInt32)
	if (sel == objects.MinChangePolicySelect) == scaleUp {
		pick = func(a, b int32) int32 { return min(a, b) }
		result = math.MaxInt32
	}
	for _, p := range rules.Policies {
		start := current - changeSince(ups, p.PeriodSeconds, now) + changeSince(downs, p.PeriodSeconds, now)
		var proposed int32
		switch {
		case scaleUp && p.Type == objects.PodsScalingPolicy:
			proposed = start + p.Value
		case scaleUp:
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		case p.Type == objects.PodsScalingPolicy:
			proposed = start - p.Value
		default:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func changeSince(events []timedReplicas, periodSeconds int32, now time.Time) int32 {
	cutoff := now.Add(-time.Duration(periodSeconds) * time.Second)
	var n int32
	for _, e := range events {
		if e.at.After(cutoff) {
			n += e.replicas
		}
	}
	return n
}

// recordScale remembers a scale change for the policies, dropping events
// older than the longest policy period.
func (r *hpaReconciler) recordScale(s *hpaState, from, to int32, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	const keep = 30 * time.Minute // the longest period a policy may have
	prune := func(evs []timedReplicas) []timedReplicas {
		out := evs[:0]
		for _, e := range evs {
			if now.Sub(e.at) < keep {
				out = append(out, e)
			}
		}
		return out
	}
	if to > from {
		s.scaleUp = append(prune(s.scaleUp), timedReplicas{replicas: to - from, at: now})
	} else {
		s.scaleDown = append(prune(s.scaleDown), timedReplicas{replicas: from - to, at: now})
	}
}

func setHPACondition(s *objects.HorizontalPodAutoscalerStatus, t objects.HorizontalPodAutoscalerConditionType, status objects.ConditionStatus, reason, message string, now time.Time) {
	if c := objects.GetHPACondition(s, t); c != nil {
		if c.Status != status {
			c.LastTransitionTime = objects.NewTime(now)
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return
	}
	s.Conditions = append(s.Conditions, objects.HorizontalPodAutoscalerCondition{
		Type: t, Status: status, Reason: reason, Message: message, LastTransitionTime: objects.NewTime(now),
	})
}

func ptrQuantity(q objects.Quantity) *objects.Quantity { return &q }
