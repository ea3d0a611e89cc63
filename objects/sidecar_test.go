package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateSidecars(t *testing.T) {
	exec := ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}
	always := ContainerRestartPolicyAlways
	cases := []podCase{
		{"sidecar with probes and hooks", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "proxy", Image: "envoy", RestartPolicy: &always,
				LivenessProbe: &Probe{ProbeHandler: exec}, ReadinessProbe: &Probe{ProbeHandler: exec},
				StartupProbe: &Probe{ProbeHandler: exec},
				Lifecycle:    &Lifecycle{PreStop: &LifecycleHandler{Exec: &ExecAction{Command: []string{"true"}}}}}}
		}, nil},
		{"sidecar probes are checked as a container's", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "proxy", Image: "envoy", RestartPolicy: &always,
				StartupProbe: &Probe{ProbeHandler: exec, SuccessThreshold: 2}}}
		}, []string{"spec.initContainers[0].startupProbe.successThreshold: Invalid value: 2: must be 1"}},
		{"restartPolicy other than Always: not a sidecar", func(p *Pod) {
			never := ContainerRestartPolicyNever
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox", RestartPolicy: &never,
				ReadinessProbe: &Probe{ProbeHandler: exec}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers"}},
		{"init container without restartPolicy keeps its limits", func(p *Pod) {
			p.Spec.InitContainers = []Container{{Name: "init", Image: "busybox", ReadinessProbe: &Probe{ProbeHandler: exec}}}
		}, []string{"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers"}},
	}
	runPodCases(t, cases)
}

func TestSidecarFromManifest(t *testing.T) {
	objs, err := DecodeYAML(strings.NewReader(`apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - name: logs
    image: shipper
    restartPolicy: Always
  - name: migrate
    image: app
  containers:
  - name: app
    image: app
`))
	require.NoError(t, err)
	p := objs[0].(*Pod)
	assert.True(t, p.Spec.InitContainers[0].IsSidecar())
	assert.False(t, p.Spec.InitContainers[1].IsSidecar())
	assert.False(t, p.Spec.Containers[0].IsSidecar())
	// Deep copies do not share the policy.
	c := p.DeepCopy()
	*c.Spec.InitContainers[0].RestartPolicy = "Never"
	assert.True(t, p.Spec.InitContainers[0].IsSidecar())
}

func TestPodRequestsWithSidecars(t *testing.T) {
	cpu := func(v string) ResourceRequirements {
		return ResourceRequirements{Requests: ResourceList{ResourceCPU: MustParseQuantity(v)}}
	}
	always := ContainerRestartPolicyAlways
	pod := func(migrate string) *Pod {
		return &Pod{Spec: PodSpec{
			Containers: []Container{{Resources: cpu("100m")}},
			InitContainers: []Container{
				{Resources: cpu("50m"), RestartPolicy: &always},
				{Resources: cpu(migrate)},
				{Resources: cpu("200m"), RestartPolicy: &always},
			},
		}}
	}
	req := PodRequests(pod("300m"))
	assert.Equal(t, "350m", ptrOf(req[ResourceCPU]).String(), "the containers and both sidecars run together")
	req = PodRequests(pod("400m"))
	assert.Equal(t, "450m", ptrOf(req[ResourceCPU]).String(), "the second init container runs beside the first sidecar")
}
