package nodeagent_test

import (
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// plrPod has pod-level resources: requests of 500m cpu and 256Mi, limits
// of 1 cpu and 256Mi, and an overhead of 100m and 64Mi (a RuntimeClass's).
func plrPod(e *env, name string) *objects.Pod {
	p := e.pod(name, "app", "side")
	p.Spec.Resources = &objects.ResourceRequirements{
		Requests: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("500m"), objects.ResourceMemory: objects.MustParseQuantity("256Mi")},
		Limits:   objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("1"), objects.ResourceMemory: objects.MustParseQuantity("256Mi")},
	}
	p.Spec.Overhead = objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("100m"), objects.ResourceMemory: objects.MustParseQuantity("64Mi")}
	return p
}

// Pod-level resources, as the kubelet's pod cgroup: the runtime confines
// the sandbox to the pod's requests and limits, overhead included; a
// runtime that cannot has the pod refused, as a kubelet without the
// feature refuses it (PodLevelResourcesNotSupported), before anything of
// it runs.
func TestPodLevelResources(t *testing.T) {
	t.Run("Confined", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		e.create(plrPod(e, "plr"), e.pod("plain", "app"))
		e.waitPod("plr", "running", running)
		e.waitPod("plain", "running", running)
		want := runtime.Resources{CPUShares: 600 * 1024 / 1000, CPUQuotaMillis: 1100, MemoryLimitBytes: 320 << 20}
		if got := e.sandboxOf("plr").Resources; got == nil || *got != want {
			t.Errorf("the sandbox got resources %+v, want %+v", got, want)
		}
		if got := e.sandboxOf("plain").Resources; got != nil {
			t.Errorf("a pod without pod-level resources got a confined sandbox: %+v", got)
		}
	})
	t.Run("RuntimeWithout", func(t *testing.T) {
		e := newEnv(t, envOpt{rt: []fake.Option{fake.WithoutPodLevelResources()}})
		e.create(plrPod(e, "plr"))
		e.wantRejected("plr", "PodLevelResourcesNotSupported", "pod-level resources are not supported on the node")
		if n := len(e.rt.SandboxConfigs()); n != 0 {
			t.Errorf("%d sandboxes made for a refused pod", n)
		}
	})
}
