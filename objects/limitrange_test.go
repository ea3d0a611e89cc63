package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func resources(kv ...string) ResourceList {
	l := ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[ResourceName(kv[i])] = MustParseQuantity(kv[i+1])
	}
	return l
}

func newLimitRange(items ...LimitRangeItem) *LimitRange {
	return &LimitRange{ObjectMeta: ObjectMeta{Namespace: "team-a", Name: "limits"}, Spec: LimitRangeSpec{Limits: items}}
}

// A Container item's default falls back to max, its defaultRequest to
// default and then to min, as Kubernetes' SetDefaults_LimitRangeItem.
func TestLimitRangeDefault(t *testing.T) {
	lr := newLimitRange(
		LimitRangeItem{Type: LimitTypeContainer, Max: resources("cpu", "2"), Min: resources("memory", "64Mi"),
			DefaultRequest: resources("cpu", "500m")},
		LimitRangeItem{Type: LimitTypePod, Max: resources("cpu", "4")},
	)
	lr.Default()
	c := lr.Spec.Limits[0]
	assert.Equal(t, "2", c.Default.Cpu().String(), "default limit from max")
	assert.Equal(t, "500m", c.DefaultRequest.Cpu().String(), "a set default request is kept")
	assert.Equal(t, "64Mi", c.DefaultRequest.Memory().String(), "default request from min")
	assert.Nil(t, lr.Spec.Limits[1].Default, "Pod items have no defaults")

	l := newLimitRange(LimitRangeItem{Type: LimitTypeContainer, Default: resources("memory", "256Mi")})
	l.Default()
	assert.Equal(t, "256Mi", l.Spec.Limits[0].DefaultRequest.Memory().String(), "default request from default")
}

func TestLimitRangeValidate(t *testing.T) {
	cases := []struct {
		name string
		lr   *LimitRange
		want []string
	}{
		{"container bounds and defaults", newLimitRange(LimitRangeItem{Type: LimitTypeContainer,
			Max: resources("cpu", "2", "memory", "1Gi"), Min: resources("cpu", "100m"),
			Default: resources("cpu", "1"), DefaultRequest: resources("cpu", "200m"),
			MaxLimitRequestRatio: resources("cpu", "10")}), nil},
		{"pod and claim", newLimitRange(
			LimitRangeItem{Type: LimitTypePod, Max: resources("cpu", "4")},
			LimitRangeItem{Type: LimitTypePersistentVolumeClaim, Max: resources("storage", "10Gi")}), nil},
		{"fully qualified type", newLimitRange(LimitRangeItem{Type: "example.com/Widget", Max: resources("example.com/size", "3")}), nil},
		{"duplicate type", newLimitRange(LimitRangeItem{Type: LimitTypePod}, LimitRangeItem{Type: LimitTypePod}),
			[]string{`spec.limits[1].type: Duplicate value: "Pod"`}},
		{"unknown type", newLimitRange(LimitRangeItem{Type: "Node"}),
			[]string{`spec.limits[0].type: Invalid value: "Node": must be a standard limit type or fully qualified`}},
		{"pod defaults", newLimitRange(LimitRangeItem{Type: LimitTypePod, Default: resources("cpu", "1"), DefaultRequest: resources("cpu", "1")}),
			[]string{"spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
				"spec.limits[0].defaultRequest: Forbidden: may not be specified when `type` is 'Pod'"}},
		{"claim without storage bounds", newLimitRange(LimitRangeItem{Type: LimitTypePersistentVolumeClaim}),
			[]string{"spec.limits[0].limits: Required value: either minimum or maximum storage value is required, but neither was provided"}},
		{"not a container resource", newLimitRange(LimitRangeItem{Type: LimitTypeContainer, Max: resources("pods", "3")}),
			[]string{`spec.limits[0].max[pods]: Invalid value: "pods": must be a standard resource for containers`,
				`spec.limits[0].default[pods]: Invalid value: "pods": must be a standard resource for containers`,
				`spec.limits[0].defaultRequest[pods]: Invalid value: "pods": must be a standard resource for containers`}},
		{"unknown resource", newLimitRange(LimitRangeItem{Type: LimitTypePersistentVolumeClaim, Max: resources("storage", "1Gi", "disk", "1")}),
			[]string{`spec.limits[0].max[disk]: Invalid value: "disk": must be a standard resource type or fully qualified`}},
		{"min above max", newLimitRange(LimitRangeItem{Type: LimitTypeContainer, Max: resources("cpu", "1"), Min: resources("cpu", "2")}),
			[]string{
				`spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1`,
				`spec.limits[0].defaultRequest[cpu]: Invalid value: "1": min value 2 is greater than default request value 1`,
				`spec.limits[0].default[cpu]: Invalid value: "2": min value 2 is greater than default value 1`,
			}},
		{"default above max", newLimitRange(LimitRangeItem{Type: LimitTypeContainer, Max: resources("memory", "1Gi"),
			Default: resources("memory", "2Gi"), DefaultRequest: resources("memory", "512Mi")}),
			[]string{`spec.limits[0].default[memory]: Invalid value: "1Gi": default value 2Gi is greater than max value 1Gi`}},
		{"default request above default", newLimitRange(LimitRangeItem{Type: LimitTypeContainer,
			Default: resources("cpu", "1"), DefaultRequest: resources("cpu", "2")}),
			[]string{`spec.limits[0].defaultRequest[cpu]: Invalid value: "2": default request value 2 is greater than default limit value 1`}},
		{"ratio below 1", newLimitRange(LimitRangeItem{Type: LimitTypeContainer, MaxLimitRequestRatio: resources("cpu", "500m")}),
			[]string{`spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "500m": ratio 500m is less than 1`}},
		{"ratio above max/min", newLimitRange(LimitRangeItem{Type: LimitTypePod, Max: resources("cpu", "1"), Min: resources("cpu", "100m"),
			MaxLimitRequestRatio: resources("cpu", "20")}),
			[]string{`spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: "20": ratio 20 is greater than max/min = 10.000000`}},
		{"extended resource default must equal its request", newLimitRange(LimitRangeItem{Type: LimitTypeContainer,
			Default: resources("example.com/gpu", "2"), DefaultRequest: resources("example.com/gpu", "1")}),
			[]string{`spec.limits[0].defaultRequest[example.com/gpu]: Invalid value: "1": default value 2 must equal to defaultRequest value 1 in example.com/gpu`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.lr.Default() // as the orchestrator does before validating
			var got []string
			for _, e := range c.lr.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
	require.NoError(t, validateThroughScheme(newLimitRange(LimitRangeItem{Type: LimitTypeContainer, Max: resources("cpu", "1")})))
}

// PodLimits sums the containers' and sidecars' limits, or takes the
// largest init container's when more, as PodRequests does requests.
func TestPodLimits(t *testing.T) {
	always := ContainerRestartPolicyAlways
	p := &Pod{Spec: PodSpec{
		InitContainers: []Container{
			{Name: "setup", Resources: ResourceRequirements{Limits: resources("cpu", "3", "memory", "64Mi")}},
			{Name: "proxy", RestartPolicy: &always, Resources: ResourceRequirements{Limits: resources("cpu", "500m")}},
		},
		Containers: []Container{
			{Name: "a", Resources: ResourceRequirements{Limits: resources("cpu", "1", "memory", "1Gi")}},
			{Name: "b", Resources: ResourceRequirements{Limits: resources("cpu", "1")}},
		},
	}}
	l := PodLimits(p)
	assert.Equal(t, "3", l.Cpu().String(), "the init container's 3 beats 2.5 summed")
	assert.Equal(t, "1Gi", l.Memory().String())
}
