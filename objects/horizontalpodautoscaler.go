package objects

import (
	"fmt"
	"strings"
)

// HorizontalPodAutoscaler scales a workload's replicas to keep metrics at
// their targets (autoscaling/v2).
type HorizontalPodAutoscaler struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   HorizontalPodAutoscalerSpec   `json:"spec,omitempty"`
	Status HorizontalPodAutoscalerStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (h *HorizontalPodAutoscaler) DeepCopyObject() Object { return h.DeepCopy() }

// HorizontalPodAutoscalerSpec is the desired behaviour of an autoscaler.
type HorizontalPodAutoscalerSpec struct {
	// ScaleTargetRef names the scaled workload in the same namespace.
	ScaleTargetRef CrossVersionObjectReference `json:"scaleTargetRef"`
	// MinReplicas defaults to 1.
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	MaxReplicas int32  `json:"maxReplicas"`
	// Metrics default to 80% average CPU utilization. The replica count is
	// the largest any metric asks for.
	Metrics []MetricSpec `json:"metrics,omitempty"`
	// Behavior bounds the rate of scaling. When unset, the controller uses
	// the defaults of GenerateHPAScaleUpRules(nil) and
	// GenerateHPAScaleDownRules(nil); when set, its unset parts are
	// defaulted from them.
	Behavior *HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

// CrossVersionObjectReference names an object by kind, name and API
// version.
type CrossVersionObjectReference struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// MetricSourceType says which kind of metric a MetricSpec holds.
type MetricSourceType string

// Metric source types.
const (
	ObjectMetricSourceType            MetricSourceType = "Object"
	PodsMetricSourceType              MetricSourceType = "Pods"
	ResourceMetricSourceType          MetricSourceType = "Resource"
	ContainerResourceMetricSourceType MetricSourceType = "ContainerResource"
	ExternalMetricSourceType          MetricSourceType = "External"
)

// MetricSpec is one metric to scale on; the field named by Type is set.
type MetricSpec struct {
	Type              MetricSourceType               `json:"type"`
	Object            *ObjectMetricSource            `json:"object,omitempty"`
	Pods              *PodsMetricSource              `json:"pods,omitempty"`
	Resource          *ResourceMetricSource          `json:"resource,omitempty"`
	ContainerResource *ContainerResourceMetricSource `json:"containerResource,omitempty"`
	External          *ExternalMetricSource          `json:"external,omitempty"`
}

// ObjectMetricSource is a metric describing one object (such as an
// Ingress's requests per second).
type ObjectMetricSource struct {
	DescribedObject CrossVersionObjectReference `json:"describedObject"`
	Target          MetricTarget                `json:"target"`
	Metric          MetricIdentifier            `json:"metric"`
}

// PodsMetricSource is a metric averaged over the target's pods.
type PodsMetricSource struct {
	Metric MetricIdentifier `json:"metric"`
	Target MetricTarget     `json:"target"`
}

// ResourceMetricSource is a resource (cpu, memory) of the target's pods,
// as a utilization of their requests or as an average value.
type ResourceMetricSource struct {
	Name   ResourceName `json:"name"`
	Target MetricTarget `json:"target"`
}

// ContainerResourceMetricSource is ResourceMetricSource for one container
// of each pod.
type ContainerResourceMetricSource struct {
	Name      ResourceName `json:"name"`
	Target    MetricTarget `json:"target"`
	Container string       `json:"container"`
}

// ExternalMetricSource is a metric from outside the cluster.
type ExternalMetricSource struct {
	Metric MetricIdentifier `json:"metric"`
	Target MetricTarget     `json:"target"`
}

// MetricIdentifier names a metric and optionally selects its series.
type MetricIdentifier struct {
	Name     string         `json:"name"`
	Selector *LabelSelector `json:"selector,omitempty"`
}

// MetricTargetType is Utilization, Value or AverageValue.
type MetricTargetType string

// Metric target types.
const (
	UtilizationMetricType  MetricTargetType = "Utilization"
	ValueMetricType        MetricTargetType = "Value"
	AverageValueMetricType MetricTargetType = "AverageValue"
)

// MetricTarget is the value a metric should be kept at.
type MetricTarget struct {
	Type         MetricTargetType `json:"type"`
	Value        *Quantity        `json:"value,omitempty"`
	AverageValue *Quantity        `json:"averageValue,omitempty"`
	// AverageUtilization is a percentage of the pods' requests.
	AverageUtilization *int32 `json:"averageUtilization,omitempty"`
}

// HorizontalPodAutoscalerBehavior bounds scaling up and down.
type HorizontalPodAutoscalerBehavior struct {
	ScaleUp   *HPAScalingRules `json:"scaleUp,omitempty"`
	ScaleDown *HPAScalingRules `json:"scaleDown,omitempty"`
}

// ScalingPolicySelect says which policy applies when several allow
// different changes.
type ScalingPolicySelect string

// Scaling policy selections.
const (
	// MaxChangePolicySelect takes the policy allowing the largest change.
	MaxChangePolicySelect ScalingPolicySelect = "Max"
	// MinChangePolicySelect takes the policy allowing the smallest change.
	MinChangePolicySelect ScalingPolicySelect = "Min"
	// DisabledPolicySelect forbids scaling in this direction.
	DisabledPolicySelect ScalingPolicySelect = "Disabled"
)

// HPAScalingRules bounds scaling in one direction.
type HPAScalingRules struct {
	// StabilizationWindowSeconds: the recommendation used is the most
	// conservative of this window (0..3600).
	StabilizationWindowSeconds *int32               `json:"stabilizationWindowSeconds,omitempty"`
	SelectPolicy               *ScalingPolicySelect `json:"selectPolicy,omitempty"`
	Policies                   []HPAScalingPolicy   `json:"policies,omitempty"`
}

// HPAScalingPolicyType is Pods or Percent.
type HPAScalingPolicyType string

// Scaling policy types.
const (
	PodsScalingPolicy    HPAScalingPolicyType = "Pods"
	PercentScalingPolicy HPAScalingPolicyType = "Percent"
)

// HPAScalingPolicy allows a change of Value pods (or percent of the
// current replicas) per PeriodSeconds.
type HPAScalingPolicy struct {
	Type          HPAScalingPolicyType `json:"type"`
	Value         int32                `json:"value"`
	PeriodSeconds int32                `json:"periodSeconds"`
}

// HorizontalPodAutoscalerStatus is the observed state of an autoscaler.
type HorizontalPodAutoscalerStatus struct {
	ObservedGeneration *int64                             `json:"observedGeneration,omitempty"`
	LastScaleTime      *Time                              `json:"lastScaleTime,omitempty"`
	CurrentReplicas    int32                              `json:"currentReplicas,omitempty"`
	DesiredReplicas    int32                              `json:"desiredReplicas"`
	CurrentMetrics     []MetricStatus                     `json:"currentMetrics,omitempty"`
	Conditions         []HorizontalPodAutoscalerCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// HorizontalPodAutoscalerConditionType names an autoscaler condition.
type HorizontalPodAutoscalerConditionType string

// Autoscaler conditions.
const (
	// ScalingActive: the autoscaler can compute a replica count.
	ScalingActive HorizontalPodAutoscalerConditionType = "ScalingActive"
	// AbleToScale: the autoscaler can read and change the target's scale.
	AbleToScale HorizontalPodAutoscalerConditionType = "AbleToScale"
	// ScalingLimited: the desired count was clamped by min/max replicas or
	// by a policy.
	ScalingLimited HorizontalPodAutoscalerConditionType = "ScalingLimited"
)

// HorizontalPodAutoscalerCondition describes one aspect of an autoscaler's
// state.
type HorizontalPodAutoscalerCondition struct {
	Type               HorizontalPodAutoscalerConditionType `json:"type"`
	Status             ConditionStatus                      `json:"status"`
	LastTransitionTime Time                                 `json:"lastTransitionTime,omitempty"`
	Reason             string                               `json:"reason,omitempty"`
	Message            string                               `json:"message,omitempty"`
}

// GetHPACondition returns the condition of type t, or nil.
func GetHPACondition(status *HorizontalPodAutoscalerStatus, t HorizontalPodAutoscalerConditionType) *HorizontalPodAutoscalerCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// MetricStatus is the last observed value of one metric.
type MetricStatus struct {
	Type              MetricSourceType               `json:"type"`
	Object            *ObjectMetricStatus            `json:"object,omitempty"`
	Pods              *PodsMetricStatus              `json:"pods,omitempty"`
	Resource          *ResourceMetricStatus          `json:"resource,omitempty"`
	ContainerResource *ContainerResourceMetricStatus `json:"containerResource,omitempty"`
	External          *ExternalMetricStatus          `json:"external,omitempty"`
}

// ObjectMetricStatus is the observed value of an Object metric.
type ObjectMetricStatus struct {
	Metric          MetricIdentifier            `json:"metric"`
	Current         MetricValueStatus           `json:"current"`
	DescribedObject CrossVersionObjectReference `json:"describedObject"`
}

// PodsMetricStatus is the observed value of a Pods metric.
type PodsMetricStatus struct {
	Metric  MetricIdentifier  `json:"metric"`
	Current MetricValueStatus `json:"current"`
}

// ResourceMetricStatus is the observed value of a Resource metric.
type ResourceMetricStatus struct {
	Name    ResourceName      `json:"name"`
	Current MetricValueStatus `json:"current"`
}

// ContainerResourceMetricStatus is the observed value of a
// ContainerResource metric.
type ContainerResourceMetricStatus struct {
	Name      ResourceName      `json:"name"`
	Current   MetricValueStatus `json:"current"`
	Container string            `json:"container"`
}

// ExternalMetricStatus is the observed value of an External metric.
type ExternalMetricStatus struct {
	Metric  MetricIdentifier  `json:"metric"`
	Current MetricValueStatus `json:"current"`
}

// MetricValueStatus is an observed metric value.
type MetricValueStatus struct {
	Value              *Quantity `json:"value,omitempty"`
	AverageValue       *Quantity `json:"averageValue,omitempty"`
	AverageUtilization *int32    `json:"averageUtilization,omitempty"`
}

// Autoscaling defaults, as in Kubernetes.
const (
	// DefaultCPUUtilization is the target of the metric an autoscaler
	// without metrics gets.
	DefaultCPUUtilization = 80

	scaleUpLimitPercent          = 100
	scaleUpLimitMinimumPods      = 4
	scaleUpPeriodSeconds         = 15
	scaleUpStabilizationSeconds  = 0
	scaleDownPeriodSeconds       = 15
	scaleDownLimitPercent        = 100
	scaleDownStabilizationSecond = 300

	maxStabilizationWindowSeconds = 3600
	maxPeriodSeconds              = 1800
)

// GenerateHPAScaleUpRules returns r with its unset parts defaulted: no
// stabilization, and the larger of 100% and 4 pods per 15 seconds.
func GenerateHPAScaleUpRules(r *HPAScalingRules) *HPAScalingRules {
	out := &HPAScalingRules{}
	if r != nil {
		out = r.DeepCopy()
	}
	if out.SelectPolicy == nil {
		out.SelectPolicy = ptrTo(MaxChangePolicySelect)
	}
	if out.Policies == nil {
		out.Policies = []HPAScalingPolicy{
			{Type: PodsScalingPolicy, Value: scaleUpLimitMinimumPods, PeriodSeconds: scaleUpPeriodSeconds},
			{Type: PercentScalingPolicy, Value: scaleUpLimitPercent, PeriodSeconds: scaleUpPeriodSeconds},
		}
	}
	if out.StabilizationWindowSeconds == nil {
		out.StabilizationWindowSeconds = ptrTo[int32](scaleUpStabilizationSeconds)
	}
	return out
}

// GenerateHPAScaleDownRules returns r with its unset parts defaulted: a
// 300-second stabilization window and 100% per 15 seconds.
func GenerateHPAScaleDownRules(r *HPAScalingRules) *HPAScalingRules {
	out := &HPAScalingRules{}
	if r != nil {
		out = r.DeepCopy()
	}
	if out.SelectPolicy == nil {
		out.SelectPolicy = ptrTo(MaxChangePolicySelect)
	}
	if out.Policies == nil {
		out.Policies = []HPAScalingPolicy{
			{Type: PercentScalingPolicy, Value: scaleDownLimitPercent, PeriodSeconds: scaleDownPeriodSeconds},
		}
	}
	if out.StabilizationWindowSeconds == nil {
		out.StabilizationWindowSeconds = ptrTo[int32](scaleDownStabilizationSecond)
	}
	return out
}

// PrepareForCreate implements store.CreatePreparer: a new autoscaler has no
// status, whatever was sent, as Kubernetes' strategy clears it.
func (h *HorizontalPodAutoscaler) PrepareForCreate() { h.Status = HorizontalPodAutoscalerStatus{} }

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateHorizontalPodAutoscalerStatusUpdate: the replica counts are not
// negative.
func (h *HorizontalPodAutoscaler) ValidateStatusUpdate(Object) ErrorList {
	p := NewPath("status")
	errs := validateNonnegative(int64(h.Status.CurrentReplicas), p.Child("currentReplicas"))
	return append(errs, validateNonnegative(int64(h.Status.DesiredReplicas), p.Child("desiredReplicas"))...)
}

// Default fills in defaults as Kubernetes' SetDefaults_HorizontalPodAutoscaler
// does: minReplicas 1, a CPU utilization metric of 80% when there are no
// metrics, and, when behavior is set, its unset rules.
func (h *HorizontalPodAutoscaler) Default() {
	s := &h.Spec
	if s.MinReplicas == nil {
		s.MinReplicas = ptrTo[int32](1)
	}
	if len(s.Metrics) == 0 {
		s.Metrics = []MetricSpec{{
			Type: ResourceMetricSourceType,
			Resource: &ResourceMetricSource{
				Name: ResourceCPU,
				Target: MetricTarget{
					Type:               UtilizationMetricType,
					AverageUtilization: ptrTo[int32](DefaultCPUUtilization),
				},
			},
		}}
	}
	if s.Behavior != nil {
		s.Behavior.ScaleUp = GenerateHPAScaleUpRules(s.Behavior.ScaleUp)
		s.Behavior.ScaleDown = GenerateHPAScaleDownRules(s.Behavior.ScaleDown)
	}
}

// Validate checks the spec as Kubernetes' ValidateHorizontalPodAutoscaler
// does. No field is immutable.
func (h *HorizontalPodAutoscaler) Validate() ErrorList {
	s := &h.Spec
	p := NewPath("spec")
	var errs ErrorList
	if s.MinReplicas != nil && *s.MinReplicas < 1 {
		errs = append(errs, Invalid(p.Child("minReplicas"), *s.MinReplicas, "must be greater than or equal to 1"))
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	}
	if s.MinReplicas != nil && s.MaxReplicas < *s.MinReplicas {
		errs = append(errs, Invalid(p.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, validateCrossVersionObjectReference(&s.ScaleTargetRef, p.Child("scaleTargetRef"))...)
	for i := range s.Metrics {
		errs = append(errs, validateMetricSpec(&s.Metrics[i], p.Child("metrics").Index(i))...)
	}
	if b := s.Behavior; b != nil {
		bp := p.Child("behavior")
		errs = append(errs, validateScalingRules(b.ScaleUp, bp.Child("scaleUp"))...)
		errs = append(errs, validateScalingRules(b.ScaleDown, bp.Child("scaleDown"))...)
	}
	return errs
}

func validateCrossVersionObjectReference(r *CrossVersionObjectReference, p *Path) ErrorList {
	var errs ErrorList
	if r.Kind == "" {
		errs = append(errs, Required(p.Child("kind"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("kind"), r.Kind, isValidPathSegmentName(r.Kind))
	}
	if r.Name == "" {
		errs = append(errs, Required(p.Child("name"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("name"), r.Name, isValidPathSegmentName(r.Name))
	}
	return errs
}

var metricSourceTypes = []string{
	string(ContainerResourceMetricSourceType), string(ExternalMetricSourceType),
	string(ObjectMetricSourceType), string(PodsMetricSourceType), string(ResourceMetricSourceType),
}

func validateMetricSpec(m *MetricSpec, p *Path) ErrorList {
	var errs ErrorList
	// Exactly the source named by type must be set.
	present := map[MetricSourceType]string{}
	if m.Object != nil {
		present[ObjectMetricSourceType] = "object"
	}
	if m.Pods != nil {
		present[PodsMetricSourceType] = "pods"
	}
	if m.Resource != nil {
		present[ResourceMetricSourceType] = "resource"
	}
	if m.ContainerResource != nil {
		present[ContainerResourceMetricSourceType] = "containerResource"
	}
	if m.External != nil {
		present[ExternalMetricSourceType] = "external"
	}
	for _, t := range []MetricSourceType{ObjectMetricSourceType, PodsMetricSourceType, ResourceMetricSourceType, ContainerResourceMetricSourceType, ExternalMetricSourceType} {
		if f, ok := present[t]; ok && t != m.Type {
			errs = append(errs, Forbidden(p.Child(f), "must populate the given metric source only"))
		}
	}
	missing := func(f string) ErrorList {
		return ErrorList{Required(p.Child(f), "must populate information for the given metric source")}
	}
	switch m.Type {
	case "":
		errs = append(errs, Required(p.Child("type"), "must specify a metric source type"))
	case ObjectMetricSourceType:
		if m.Object == nil {
			return append(errs, missing("object")...)
		}
		op := p.Child("object")
		errs = append(errs, validateCrossVersionObjectReference(&m.Object.DescribedObject, op.Child("describedObject"))...)
		errs = append(errs, validateMetricIdentifier(&m.Object.Metric, op.Child("metric"))...)
		errs = append(errs, validateMetricTarget(&m.Object.Target, op.Child("target"))...)
		if m.Object.Target.Value == nil && m.Object.Target.AverageValue == nil {
			errs = append(errs, Required(op.Child("target", "averageValue"), "must set either a target value or averageValue"))
		}
	case PodsMetricSourceType:
		if m.Pods == nil {
			return append(errs, missing("pods")...)
		}
		pp := p.Child("pods")
		errs = append(errs, validateMetricIdentifier(&m.Pods.Metric, pp.Child("metric"))...)
		errs = append(errs, validateMetricTarget(&m.Pods.Target, pp.Child("target"))...)
		if m.Pods.Target.AverageValue == nil {
			errs = append(errs, Required(pp.Child("target", "averageValue"), "must specify a positive target averageValue"))
		}
	case ResourceMetricSourceType:
		if m.Resource == nil {
			return append(errs, missing("resource")...)
		}
		errs = append(errs, validateResourceTarget(m.Resource.Name, &m.Resource.Target, p.Child("resource"))...)
	case ContainerResourceMetricSourceType:
		if m.ContainerResource == nil {
			return append(errs, missing("containerResource")...)
		}
		cp := p.Child("containerResource")
		errs = append(errs, validateResourceTarget(m.ContainerResource.Name, &m.ContainerResource.Target, cp)...)
		if m.ContainerResource.Container == "" {
			errs = append(errs, Required(cp.Child("container"), "must specify a container"))
		} else {
			errs = appendMsgs(errs, cp.Child("container"), m.ContainerResource.Container, IsDNS1123Label(m.ContainerResource.Container))
		}
	case ExternalMetricSourceType:
		if m.External == nil {
			return append(errs, missing("external")...)
		}
		ep := p.Child("external")
		errs = append(errs, validateMetricIdentifier(&m.External.Metric, ep.Child("metric"))...)
		errs = append(errs, validateMetricTarget(&m.External.Target, ep.Child("target"))...)
		t := &m.External.Target
		if t.Value == nil && t.AverageValue == nil {
			errs = append(errs, Required(ep.Child("target", "averageValue"), "must set either a target value for metric or a per-pod target"))
		}
		if t.Value != nil && t.AverageValue != nil {
			errs = append(errs, Forbidden(ep.Child("target", "value"), "may not set both a target value for metric and a per-pod target"))
		}
	default:
		errs = append(errs, NotSupported(p.Child("type"), string(m.Type), metricSourceTypes))
	}
	return errs
}

// validateResourceTarget checks a Resource or ContainerResource source.
func validateResourceTarget(name ResourceName, t *MetricTarget, p *Path) ErrorList {
	var errs ErrorList
	np := p.Child("name")
	if name == "" {
		errs = append(errs, Required(np, "must specify a resource name"))
	} else {
		errs = append(errs, validateContainerResourceName(string(name), np)...)
	}
	tp := p.Child("target")
	errs = append(errs, validateMetricTarget(t, tp)...)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, Required(tp.Child("averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, Forbidden(tp.Child("averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

// validateContainerResourceName accepts the resources containers request:
// cpu, memory, ephemeral-storage, hugepages-<size>, and domain-qualified
// extended resources.
func validateContainerResourceName(name string, p *Path) ErrorList {
	errs := appendMsgs(nil, p, name, IsQualifiedName(name))
	if len(errs) > 0 {
		return errs
	}
	switch ResourceName(name) {
	case ResourceCPU, ResourceMemory, ResourceEphemeralStorage:
		return nil
	}
	if strings.HasPrefix(name, "hugepages-") || strings.Contains(name, "/") {
		return nil
	}
	return ErrorList{Invalid(p, name, "must be a standard resource for containers")}
}

func validateMetricIdentifier(id *MetricIdentifier, p *Path) ErrorList {
	np := p.Child("name")
	if id.Name == "" {
		return ErrorList{Required(np, "must specify a metric name")}
	}
	errs := appendMsgs(nil, np, id.Name, isValidPathSegmentName(id.Name))
	if id.Selector != nil {
		errs = append(errs, ValidateLabelSelector(id.Selector, p.Child("selector"))...)
	}
	return errs
}

func validateMetricTarget(t *MetricTarget, p *Path) ErrorList {
	var errs ErrorList
	switch t.Type {
	case UtilizationMetricType, ValueMetricType, AverageValueMetricType:
	case "":
		errs = append(errs, Required(p.Child("type"), "must specify a metric target type"))
	default:
		errs = append(errs, Invalid(p.Child("type"), string(t.Type), "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, Invalid(p.Child("value"), t.Value.String(), "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, Invalid(p.Child("averageValue"), t.AverageValue.String(), "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateScalingRules(r *HPAScalingRules, p *Path) ErrorList {
	if r == nil {
		return nil
	}
	var errs ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		wp := p.Child("stabilizationWindowSeconds")
		if *w < 0 {
			errs = append(errs, Invalid(wp, *w, "must be greater than or equal to zero"))
		}
		if *w > maxStabilizationWindowSeconds {
			errs = append(errs, Invalid(wp, *w, fmt.Sprintf("must be less than or equal to %d", maxStabilizationWindowSeconds)))
		}
	}
	if r.SelectPolicy != nil {
		switch *r.SelectPolicy {
		case MaxChangePolicySelect, MinChangePolicySelect, DisabledPolicySelect:
		default:
			errs = append(errs, NotSupported(p.Child("selectPolicy"), string(*r.SelectPolicy), []string{
				string(DisabledPolicySelect), string(MaxChangePolicySelect), string(MinChangePolicySelect)}))
		}
	}
	pp := p.Child("policies")
	if len(r.Policies) == 0 {
		errs = append(errs, Required(pp, "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		ip := pp.Index(i)
		if pol.Type != PodsScalingPolicy && pol.Type != PercentScalingPolicy {
			errs = append(errs, NotSupported(ip.Child("type"), string(pol.Type), []string{string(PercentScalingPolicy), string(PodsScalingPolicy)}))
		}
		if pol.Value <= 0 {
			errs = append(errs, Invalid(ip.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		}
		if pol.PeriodSeconds > maxPeriodSeconds {
			errs = append(errs, Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %d", maxPeriodSeconds)))
		}
	}
	return errs
}
