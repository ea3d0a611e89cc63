package podkit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// A pod naming a RuntimeClass gets the class's overhead, node selector and
// tolerations at admission, as Kubernetes' RuntimeClass admission gives
// them; a class that does not exist, or an overhead of the pod's own, is
// refused with Kubernetes' message; quotas count the overhead.
func TestRuntimeClassAdmission(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
overhead:
  podFixed: {cpu: 250m, memory: 64Mi}
scheduling:
  nodeSelector: {sandbox: gvisor}
  tolerations: [{key: sandbox, operator: Exists, effect: NoSchedule}]
`)
	pod := func(name, class string, cpu string) *objects.Pod {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
			Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1",
				Resources: objects.ResourceRequirements{Requests: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity(cpu)}}}}}}
		if class != "" {
			p.Spec.RuntimeClassName = &class
		}
		return p
	}

	applyManifest(t, ctx, o, `apiVersion: v1
kind: ResourceQuota
metadata: {name: cpu}
spec:
  hard: {requests.cpu: "1250m"}
`)
	p := pod("sandboxed", "gvisor", "500m")
	require.NoError(t, o.Create(ctx, p))
	got, err := podkit.Get[*objects.Pod](ctx, o, "default", "sandboxed")
	require.NoError(t, err)
	assert.Equal(t, objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("250m"), objects.ResourceMemory: objects.MustParseQuantity("64Mi")}, got.Spec.Overhead)
	assert.Equal(t, map[string]string{"sandbox": "gvisor"}, got.Spec.NodeSelector)
	assert.Contains(t, got.Spec.Tolerations, objects.Toleration{Key: "sandbox", Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule})

	err = o.Create(ctx, pod("nope", "kata", "1"))
	assert.EqualError(t, err, `pods "nope" is forbidden: pod rejected: RuntimeClass "kata" not found: forbidden`)
	assert.True(t, errors.Is(err, podkit.ErrForbidden))

	own := pod("own", "", "1")
	own.Spec.Overhead = objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("1")}
	assert.EqualError(t, o.Create(ctx, own), `pods "own" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead: forbidden`)

	// The quota counts 500m + 250m of overhead used: a second sandboxed
	// pod of 500m does not fit in 1250m, a plain one does.
	err = o.Create(ctx, pod("second", "gvisor", "500m"))
	assert.EqualError(t, err, `pods "second" is forbidden: exceeded quota: cpu, requested: requests.cpu=750m, used: requests.cpu=750m, limited: requests.cpu=1250m: forbidden`)
	require.NoError(t, o.Create(ctx, pod("plain", "", "500m")))
}
