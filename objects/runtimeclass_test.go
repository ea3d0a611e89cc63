package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuntimeClass(t *testing.T) {
	objs, err := NewScheme().Decode(strings.NewReader(`
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gvisor
handler: runsc
overhead:
  podFixed:
    cpu: 250m
    memory: 120Mi
scheduling:
  nodeSelector:
    sandbox: gvisor
  tolerations:
  - key: sandbox
    operator: Exists
    effect: NoSchedule
`))
	require.NoError(t, err)
	rc := objs[0].(*RuntimeClass)
	assert.Empty(t, rc.Validate())
	assert.Equal(t, "runsc", rc.Handler)
	assert.Equal(t, "120Mi", rc.Overhead.PodFixed.Memory().String())

	bad := &RuntimeClass{Handler: "Run_SC", Overhead: &Overhead{PodFixed: ResourceList{ResourceCPU: MustParseQuantity("-1")}},
		Scheduling: &Scheduling{NodeSelector: map[string]string{"a b": "x"}, Tolerations: []Toleration{{Operator: TolerationOpEqual, Value: "v"}}}}
	assertFieldErrors(t, []string{
		`handler: Invalid value: "Run_SC": a lowercase RFC 1123 label*`,
		`overhead.podFixed[cpu]: Invalid value: "-1": must be greater than or equal to 0`,
		`scheduling.nodeSelector: Invalid value: "a b": name part must consist of*`,
		`scheduling.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when ` + "`key`" + ` is empty*`,
	}, bad.Validate())
	assertFieldErrors(t, []string{"handler: Required value"}, (&RuntimeClass{}).Validate())
	assertFieldErrors(t, []string{`handler: Invalid value: "kata": field is immutable`},
		(&RuntimeClass{Handler: "kata"}).ValidateUpdate(&RuntimeClass{Handler: "runsc"}))
}

func TestApplyRuntimeClass(t *testing.T) {
	rc := &RuntimeClass{Handler: "runsc",
		Overhead: &Overhead{PodFixed: ResourceList{ResourceCPU: MustParseQuantity("250m"), ResourceMemory: MustParseQuantity("120Mi")}},
		Scheduling: &Scheduling{NodeSelector: map[string]string{"sandbox": "gvisor"},
			Tolerations: []Toleration{{Key: "sandbox", Operator: TolerationOpExists, Effect: TaintEffectNoSchedule}}}}
	pod := func() *Pod {
		p := &Pod{Spec: PodSpec{NodeSelector: map[string]string{"disk": "ssd"},
			Tolerations: []Toleration{{Key: "sandbox", Operator: TolerationOpExists, Effect: TaintEffectNoSchedule}},
			Containers: []Container{{Name: "app", Resources: ResourceRequirements{
				Requests: ResourceList{ResourceCPU: MustParseQuantity("1")},
				Limits:   ResourceList{ResourceCPU: MustParseQuantity("2")}}}}}}
		return p
	}

	p := pod()
	require.NoError(t, ApplyRuntimeClass(p, rc))
	assert.Equal(t, map[string]string{"disk": "ssd", "sandbox": "gvisor"}, p.Spec.NodeSelector)
	assert.Len(t, p.Spec.Tolerations, 1, "a toleration the pod has is not added twice")
	assert.Equal(t, "250m", p.Spec.Overhead.Cpu().String())
	// The overhead adds to the requests, and to the limits that are set.
	req, lim := PodRequests(p), PodLimits(p)
	assert.Equal(t, "1250m", req.Cpu().String())
	assert.Equal(t, "120Mi", req.Memory().String())
	assert.Equal(t, "2250m", lim.Cpu().String())
	assert.NotContains(t, lim, ResourceMemory, "no memory limit is set: the overhead adds none")

	// The pod may already carry the class's overhead (a copy of a pod
	// admitted before), not another.
	p = pod()
	p.Spec.Overhead = ResourceList{ResourceCPU: MustParseQuantity("0.25"), ResourceMemory: MustParseQuantity("120Mi")}
	require.NoError(t, ApplyRuntimeClass(p, rc))
	p = pod()
	p.Spec.Overhead = ResourceList{ResourceCPU: MustParseQuantity("1")}
	assert.EqualError(t, ApplyRuntimeClass(p, rc), "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
	assert.EqualError(t, ApplyRuntimeClass(p, nil), "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
	assert.EqualError(t, ApplyRuntimeClass(p, &RuntimeClass{Handler: "runc"}), "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")

	p = pod()
	p.Spec.NodeSelector["sandbox"] = "kata"
	assert.EqualError(t, ApplyRuntimeClass(p, rc), "conflict: runtimeClass.scheduling.nodeSelector[sandbox] = gvisor; pod.spec.nodeSelector[sandbox] = kata")
	assert.Nil(t, p.Spec.Overhead, "a refused pod is unchanged")

	p = pod()
	require.NoError(t, ApplyRuntimeClass(p, nil))
	assert.Equal(t, pod(), p, "no class: nothing changes")
}
