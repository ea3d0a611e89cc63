package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newHPA() *HorizontalPodAutoscaler {
	return &HorizontalPodAutoscaler{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec: HorizontalPodAutoscalerSpec{
			ScaleTargetRef: CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    10,
		},
	}
}

func cpuMetric(target MetricTarget) MetricSpec {
	return MetricSpec{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{Name: ResourceCPU, Target: target}}
}

func TestHPADefault(t *testing.T) {
	h := newHPA()
	h.Default()
	assert.Equal(t, int32(1), *h.Spec.MinReplicas)
	assert.Equal(t, []MetricSpec{cpuMetric(MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](80)})}, h.Spec.Metrics)
	assert.Nil(t, h.Spec.Behavior, "behavior stays unset, as in Kubernetes")

	h = newHPA()
	h.Spec.MinReplicas = ptrTo[int32](2)
	h.Spec.Metrics = []MetricSpec{{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{Name: ResourceMemory,
		Target: MetricTarget{Type: AverageValueMetricType, AverageValue: ptrTo(MustParseQuantity("500Mi"))}}}}
	h.Spec.Behavior = &HorizontalPodAutoscalerBehavior{ScaleDown: &HPAScalingRules{StabilizationWindowSeconds: ptrTo[int32](60)}}
	h.Default()
	assert.Equal(t, int32(2), *h.Spec.MinReplicas)
	assert.Equal(t, ResourceMemory, h.Spec.Metrics[0].Resource.Name, "metrics kept")
	assert.Equal(t, GenerateHPAScaleUpRules(nil), h.Spec.Behavior.ScaleUp)
	assert.Equal(t, &HPAScalingRules{
		StabilizationWindowSeconds: ptrTo[int32](60),
		SelectPolicy:               ptrTo(MaxChangePolicySelect),
		Policies:                   []HPAScalingPolicy{{Type: PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	}, h.Spec.Behavior.ScaleDown)
	assert.Empty(t, h.Validate())
}

func TestGenerateHPARules(t *testing.T) {
	assert.Equal(t, &HPAScalingRules{
		StabilizationWindowSeconds: ptrTo[int32](0),
		SelectPolicy:               ptrTo(MaxChangePolicySelect),
		Policies: []HPAScalingPolicy{
			{Type: PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}, GenerateHPAScaleUpRules(nil))
	assert.Equal(t, &HPAScalingRules{
		StabilizationWindowSeconds: ptrTo[int32](300),
		SelectPolicy:               ptrTo(MaxChangePolicySelect),
		Policies:                   []HPAScalingPolicy{{Type: PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	}, GenerateHPAScaleDownRules(nil))

	in := &HPAScalingRules{SelectPolicy: ptrTo(DisabledPolicySelect)}
	out := GenerateHPAScaleDownRules(in)
	assert.Equal(t, DisabledPolicySelect, *out.SelectPolicy)
	assert.Nil(t, in.Policies, "input not modified")
}

func TestHPAValidate(t *testing.T) {
	q := func(s string) *Quantity { return ptrTo(MustParseQuantity(s)) }
	cases := []struct {
		name   string
		mutate func(*HorizontalPodAutoscaler)
		want   []string
	}{
		{"valid", func(*HorizontalPodAutoscaler) {}, nil},
		{"valid every source", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{
				cpuMetric(MetricTarget{Type: AverageValueMetricType, AverageValue: q("500m")}),
				{Type: PodsMetricSourceType, Pods: &PodsMetricSource{Metric: MetricIdentifier{Name: "packets-per-second"},
					Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q("1k")}}},
				{Type: ObjectMetricSourceType, Object: &ObjectMetricSource{
					DescribedObject: CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "main"},
					Metric:          MetricIdentifier{Name: "requests-per-second"},
					Target:          MetricTarget{Type: ValueMetricType, Value: q("10k")}}},
				{Type: ContainerResourceMetricSourceType, ContainerResource: &ContainerResourceMetricSource{Name: ResourceMemory, Container: "app",
					Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](60)}}},
				{Type: ExternalMetricSourceType, External: &ExternalMetricSource{
					Metric: MetricIdentifier{Name: "queue_messages", Selector: &LabelSelector{MatchLabels: map[string]string{"queue": "jobs"}}},
					Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q("30")}}},
			}
		}, nil},
		{"minReplicas zero", func(h *HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptrTo[int32](0) }, []string{"spec.minReplicas: Invalid value"}},
		{"maxReplicas zero", func(h *HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 0 }, []string{"spec.maxReplicas: Invalid value", "spec.maxReplicas: Invalid value"}},
		{"max below min", func(h *HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptrTo[int32](11) }, []string{"spec.maxReplicas: Invalid value"}},
		{"target kind and name required", func(h *HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef = CrossVersionObjectReference{} },
			[]string{"spec.scaleTargetRef.kind: Required value", "spec.scaleTargetRef.name: Required value"}},
		{"target name with a slash", func(h *HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "a/b" },
			[]string{"spec.scaleTargetRef.name: Invalid value"}},
		{"utilization zero", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](0)})}
		}, []string{"spec.metrics[0].resource.target.averageUtilization: Invalid value"}},
		{"resource target missing", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{Type: UtilizationMetricType})}
		}, []string{"spec.metrics[0].resource.target.averageUtilization: Required value"}},
		{"resource target both", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](50), AverageValue: q("1")})}
		}, []string{"spec.metrics[0].resource.target.averageValue: Forbidden"}},
		{"target type unknown", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{Type: "Percent", AverageUtilization: ptrTo[int32](50)})}
		}, []string{"spec.metrics[0].resource.target.type: Invalid value"}},
		{"target type missing", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{AverageUtilization: ptrTo[int32](50)})}
		}, []string{"spec.metrics[0].resource.target.type: Required value"}},
		{"negative average value", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{Type: AverageValueMetricType, AverageValue: q("-1")})}
		}, []string{"spec.metrics[0].resource.target.averageValue: Invalid value"}},
		{"resource name not for containers", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{Name: ResourcePods,
				Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](50)}}}}
		}, []string{"spec.metrics[0].resource.name: Invalid value"}},
		{"resource name missing", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{{Type: ResourceMetricSourceType, Resource: &ResourceMetricSource{
				Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](50)}}}}
		}, []string{"spec.metrics[0].resource.name: Required value"}},
		{"source missing", func(h *HorizontalPodAutoscaler) { h.Spec.Metrics = []MetricSpec{{Type: PodsMetricSourceType}} },
			[]string{"spec.metrics[0].pods: Required value"}},
		{"source of another type", func(h *HorizontalPodAutoscaler) {
			m := cpuMetric(MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](50)})
			m.Pods = &PodsMetricSource{Metric: MetricIdentifier{Name: "x"}, Target: MetricTarget{Type: AverageValueMetricType, AverageValue: q("1")}}
			h.Spec.Metrics = []MetricSpec{m}
		}, []string{"spec.metrics[0].pods: Forbidden"}},
		{"type unknown", func(h *HorizontalPodAutoscaler) { h.Spec.Metrics = []MetricSpec{{Type: "Custom"}} },
			[]string{"spec.metrics[0].type: Unsupported value"}},
		{"type missing", func(h *HorizontalPodAutoscaler) { h.Spec.Metrics = []MetricSpec{{}} },
			[]string{"spec.metrics[0].type: Required value"}},
		{"pods needs average value", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{{Type: PodsMetricSourceType, Pods: &PodsMetricSource{Metric: MetricIdentifier{Name: "rps"},
				Target: MetricTarget{Type: ValueMetricType, Value: q("1")}}}}
		}, []string{"spec.metrics[0].pods.target.averageValue: Required value"}},
		{"external both values", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{{Type: ExternalMetricSourceType, External: &ExternalMetricSource{Metric: MetricIdentifier{Name: "q"},
				Target: MetricTarget{Type: ValueMetricType, Value: q("1"), AverageValue: q("1")}}}}
		}, []string{"spec.metrics[0].external.target.value: Forbidden"}},
		{"object needs described object", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{{Type: ObjectMetricSourceType, Object: &ObjectMetricSource{Metric: MetricIdentifier{Name: "rps"},
				Target: MetricTarget{Type: ValueMetricType, Value: q("1")}}}}
		}, []string{"spec.metrics[0].object.describedObject.kind: Required value", "spec.metrics[0].object.describedObject.name: Required value"}},
		{"container required", func(h *HorizontalPodAutoscaler) {
			h.Spec.Metrics = []MetricSpec{{Type: ContainerResourceMetricSourceType, ContainerResource: &ContainerResourceMetricSource{Name: ResourceCPU,
				Target: MetricTarget{Type: UtilizationMetricType, AverageUtilization: ptrTo[int32](50)}}}}
		}, []string{"spec.metrics[0].containerResource.container: Required value"}},
		{"behavior without policies", func(h *HorizontalPodAutoscaler) {
			h.Spec.Behavior = &HorizontalPodAutoscalerBehavior{ScaleUp: &HPAScalingRules{}}
		}, []string{"spec.behavior.scaleUp.policies: Required value"}},
		{"behavior out of range", func(h *HorizontalPodAutoscaler) {
			h.Spec.Behavior = &HorizontalPodAutoscalerBehavior{ScaleDown: &HPAScalingRules{
				StabilizationWindowSeconds: ptrTo[int32](3601),
				SelectPolicy:               ptrTo(ScalingPolicySelect("Avg")),
				Policies:                   []HPAScalingPolicy{{Type: "Nodes", Value: 0, PeriodSeconds: 1801}},
			}}
		}, []string{
			"spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value",
			"spec.behavior.scaleDown.selectPolicy: Unsupported value",
			"spec.behavior.scaleDown.policies[0].type: Unsupported value",
			"spec.behavior.scaleDown.policies[0].value: Invalid value",
			"spec.behavior.scaleDown.policies[0].periodSeconds: Invalid value",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHPA()
			h.Default()
			c.mutate(h)
			assert.Equal(t, c.want, errorSummary(h.Validate()))
		})
	}
}

func TestHPAValidateMessages(t *testing.T) {
	h := newHPA()
	h.Spec.MinReplicas = ptrTo[int32](5)
	h.Spec.MaxReplicas = 3
	h.Spec.ScaleTargetRef.Kind = ""
	err := validateThroughScheme(h)
	require.Error(t, err)
	assert.Equal(t, `HorizontalPodAutoscaler "web" is invalid: [`+
		"spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`, "+
		"spec.scaleTargetRef.kind: Required value]", err.Error())

	h = newHPA()
	h.Spec.Metrics = []MetricSpec{cpuMetric(MetricTarget{Type: AverageValueMetricType, AverageValue: ptrTo(MustParseQuantity("0"))})}
	errs := h.Validate()
	require.Len(t, errs, 1)
	assert.Equal(t, `spec.metrics[0].resource.target.averageValue: Invalid value: "0": must be positive`, errs[0].Error())
}

func TestGetHPACondition(t *testing.T) {
	s := &HorizontalPodAutoscalerStatus{Conditions: []HorizontalPodAutoscalerCondition{{Type: AbleToScale, Status: ConditionTrue}}}
	assert.NotNil(t, GetHPACondition(s, AbleToScale))
	assert.Nil(t, GetHPACondition(s, ScalingLimited))
}

func TestHPAManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: php-apache
  namespace: default
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: php-apache
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 50}
  - type: Resource
    resource:
      name: memory
      target: {type: AverageValue, averageValue: 500Mi}
  - type: Pods
    pods:
      metric: {name: packets-per-second}
      target: {type: AverageValue, averageValue: 1k}
  - type: Object
    object:
      metric: {name: requests-per-second}
      describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main-route}
      target: {type: Value, value: 10k}
  - type: External
    external:
      metric:
        name: queue_messages_ready
        selector:
          matchLabels: {queue: worker_tasks}
      target: {type: AverageValue, averageValue: "30"}
  - type: ContainerResource
    containerResource:
      name: cpu
      container: application
      target: {type: Utilization, averageUtilization: 60}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
      selectPolicy: Min
      policies:
      - {type: Percent, value: 10, periodSeconds: 60}
      - {type: Pods, value: 5, periodSeconds: 60}
    scaleUp:
      stabilizationWindowSeconds: 0
      selectPolicy: Max
      policies:
      - {type: Percent, value: 100, periodSeconds: 15}
status:
  observedGeneration: 1
  lastScaleTime: "2024-05-01T10:00:00Z"
  currentReplicas: 2
  desiredReplicas: 4
  currentMetrics:
  - type: Resource
    resource:
      name: cpu
      current: {averageUtilization: 100, averageValue: 200m}
  - type: Object
    object:
      metric: {name: requests-per-second}
      describedObject: {apiVersion: networking.k8s.io/v1, kind: Ingress, name: main-route}
      current: {value: 12k}
  conditions:
  - type: AbleToScale
    status: "True"
    lastTransitionTime: "2024-05-01T10:00:00Z"
    reason: SucceededRescale
    message: the HPA controller was able to update the target scale to 4
`)
	h := obj.(*HorizontalPodAutoscaler)
	assert.Equal(t, int32(50), *h.Spec.Metrics[0].Resource.Target.AverageUtilization)
	assert.Equal(t, "500Mi", h.Spec.Metrics[1].Resource.Target.AverageValue.String())
	assert.Equal(t, MinChangePolicySelect, *h.Spec.Behavior.ScaleDown.SelectPolicy)
	assert.Equal(t, int32(4), h.Status.DesiredReplicas)
	require.NoError(t, validateThroughScheme(h))
	jsonRoundTrip(t, h)
}
