package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func rl(kv ...string) ResourceList {
	l := ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[ResourceName(kv[i])] = MustParseQuantity(kv[i+1])
	}
	return l
}

// plrPod has two containers, one requesting 100m cpu and 64Mi, and the
// pod-level resources r.
func plrPod(r *ResourceRequirements) *Pod {
	p := testPod()
	p.Spec.Containers[0].Resources = ResourceRequirements{Requests: rl("cpu", "100m", "memory", "64Mi")}
	p.Spec.Containers = append(p.Spec.Containers, Container{Name: "side", Image: "side:1"})
	p.Spec.Resources = r
	return p
}

// Pod-level resources are validated as Kubernetes' validatePodResources
// does: cpu, memory and hugepages only, requests within limits, the
// containers' requests within the pod's, a container's limits within
// the pod's.
func TestValidatePodLevelResources(t *testing.T) {
	for name, tc := range map[string]struct {
		r    *ResourceRequirements
		ctr  ResourceList // limits of the first container
		want []string
	}{
		"requests and limits": {r: &ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi"), Limits: rl("cpu", "2", "memory", "1Gi")}},
		"limits only":         {r: &ResourceRequirements{Limits: rl("cpu", "2")}},
		"unsupported": {r: &ResourceRequirements{Requests: rl("ephemeral-storage", "1Gi"), Limits: rl("example.com/gpu", "1")}, want: []string{
			`spec.resources.limits[example.com/gpu]: Unsupported value: "example.com/gpu": supported values: "cpu", "hugepages-", "memory"`,
			`spec.resources.requests[ephemeral-storage]: Unsupported value: "ephemeral-storage": supported values: "cpu", "hugepages-", "memory"`,
		}},
		"request above limit": {r: &ResourceRequirements{Requests: rl("cpu", "3"), Limits: rl("cpu", "2")}, want: []string{
			`spec.resources.requests: Invalid value: "3": must be less than or equal to cpu limit of 2`,
		}},
		"below the containers' requests": {r: &ResourceRequirements{Requests: rl("cpu", "50m", "memory", "64Mi")}, want: []string{
			`spec.resources.requests[cpu]: Invalid value: "50m": must be greater than or equal to aggregate container requests of 100m`,
		}},
		"a container's limit above the pod's": {r: &ResourceRequirements{Requests: rl("cpu", "1"), Limits: rl("cpu", "1")}, ctr: rl("cpu", "2"), want: []string{
			`spec.resources.containers[0][cpu].limits: Invalid value: "2": must be less than or equal to pod limits of 1`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			p := plrPod(tc.r)
			p.Spec.Containers[0].Resources.Limits = tc.ctr
			p.Default()
			assertFieldErrors(t, tc.want, p.Validate())
		})
	}
}

// Defaults as Kubernetes' DefaultPodLevelResources: requests from the
// containers' and from the pod's limits, limits where every container
// limits the resource; written into a new value, not the spec's.
func TestDefaultPodLevelResources(t *testing.T) {
	shared := &ResourceRequirements{Limits: rl("memory", "1Gi")}
	p := plrPod(shared)
	p.Default()
	assert.Equal(t, &ResourceRequirements{Limits: rl("memory", "1Gi")}, shared, "the spec's value is not written")
	assert.Equal(t, rl("cpu", "100m", "memory", "64Mi"), p.Spec.Resources.Requests, "the containers' requests")
	assert.Equal(t, rl("memory", "1Gi"), p.Spec.Resources.Limits, "no cpu limit: the side container has none")

	p = plrPod(&ResourceRequirements{Requests: rl("cpu", "1")})
	p.Spec.Containers[0].Resources.Limits = rl("cpu", "300m")
	p.Spec.Containers[1].Resources.Limits = rl("cpu", "200m")
	p.Default()
	assert.Equal(t, rl("cpu", "1", "memory", "64Mi"), p.Spec.Resources.Requests)
	assert.Equal(t, rl("cpu", "1"), p.Spec.Resources.Limits, "the containers' limits, raised to the pod's request")
	assertFieldErrors(t, nil, p.Validate())
}

// Where pod-level resources are set they are the pod's requests and
// limits, and give its QoS class.
func TestPodLevelRequestsLimitsAndQOS(t *testing.T) {
	p := plrPod(&ResourceRequirements{Requests: rl("cpu", "2", "memory", "1Gi"), Limits: rl("cpu", "2", "memory", "1Gi")})
	p.Spec.Containers[0].Resources.Requests[ResourceEphemeralStorage] = MustParseQuantity("1Gi")
	assert.Equal(t, rl("cpu", "2", "memory", "1Gi", "ephemeral-storage", "1Gi"), PodRequests(p))
	assert.Equal(t, rl("cpu", "2", "memory", "1Gi"), PodLimits(p))
	assert.Equal(t, PodQOSGuaranteed, PodQOS(p), "the pod's own, though its containers set no limits")

	p.Spec.Resources.Limits = rl("cpu", "4", "memory", "1Gi")
	assert.Equal(t, PodQOSBurstable, PodQOS(p))
	p.Spec.Resources = &ResourceRequirements{}
	assert.Equal(t, PodQOSBurstable, PodQOS(p), "empty pod-level resources count as none: the containers decide")
}

// A pod with pod-level resources is not resized, as in Kubernetes
// without its alpha feature.
func TestResizeOfPodLevelResourcesForbidden(t *testing.T) {
	old := plrPod(&ResourceRequirements{Requests: rl("cpu", "1"), Limits: rl("cpu", "1")})
	p := old.DeepCopy()
	p.Spec.Containers[0].Resources.Requests[ResourceCPU] = MustParseQuantity("200m")
	assert.Contains(t, ValidateResize(p, old).ToError("Pod", "web").Error(), "resize of pods with pod-level resources is forbidden")
}
