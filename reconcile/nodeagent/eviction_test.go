package nodeagent_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// evictionEnv runs an agent measuring local storage every 20ms.
func evictionEnv(t *testing.T) *env {
	return newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithEvictionInterval(20 * time.Millisecond)}})
}

// withEmptyDir gives p's first container an emptyDir named name at
// /name, of at most limit ("" for none).
func withEmptyDir(p *objects.Pod, name, limit string) {
	src := &objects.EmptyDirVolumeSource{}
	if limit != "" {
		q := objects.MustParseQuantity(limit)
		src.SizeLimit = &q
	}
	p.Spec.Volumes = append(p.Spec.Volumes, objects.Volume{Name: name, VolumeSource: objects.VolumeSource{EmptyDir: src}})
	p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, objects.VolumeMount{Name: name, MountPath: "/" + name})
}

// writeInVolume writes n bytes to file name of the volume the pod's
// container app mounts at path, as the container would.
func writeInVolume(t *testing.T, e *env, pod, path, name string, n int) {
	t.Helper()
	m, ok := mountsOf(t, e.rt, pod, "app")[path]
	if !ok {
		t.Fatalf("pod %s mounts nothing at %s", pod, path)
	}
	if err := os.WriteFile(filepath.Join(m.HostPath, name), make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

// evicted returns a condition: the pod failed, evicted with message.
func evicted(message string) func(*objects.Pod) bool {
	return func(p *objects.Pod) bool {
		return p != nil && p.Status.Phase == objects.PodFailed && p.Status.Reason == nodeagent.ReasonEvicted && p.Status.Message == message
	}
}

func TestEvictionOfAnEmptyDirOverItsSizeLimit(t *testing.T) {
	e := evictionEnv(t)
	calm, full := e.pod("calm", "app"), e.pod("full", "app")
	withEmptyDir(calm, "cache", "1Mi")
	withEmptyDir(full, "cache", "1Mi")
	e.create(calm, full)
	e.waitPod("calm", "running", running)
	e.waitPod("full", "running", running)
	writeInVolume(t, e, "calm", "/cache", "data", 512<<10)
	writeInVolume(t, e, "full", "/cache", "data", 2<<20)

	const msg = `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `
	p := e.waitPod("full", "evicted", evicted(msg))
	if cs := containerStatus(p, "app"); cs.State.Terminated == nil {
		t.Errorf("container app of the evicted pod: %s, want terminated", stateString(cs.State))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == objects.PodReady && c.Status != objects.ConditionFalse {
			t.Errorf("evicted pod is Ready: %+v", c)
		}
	}
	e.wantEvents("full Evicted: "+msg, 1)
	// The pod's policy is Always, but an evicted pod is not restarted.
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "full", "app"))); n != 1 {
		t.Errorf("%d instances of the evicted pod's container, want 1", n)
	}
	if p := e.waitPod("calm", "running", running); p.Status.Phase != objects.PodRunning {
		t.Errorf("pod under its limit: %s", describe(p))
	}
	if n := e.rec.count("calm Evicted"); n != 0 {
		t.Errorf("pod under its limit evicted: %v", e.rec)
	}
}

func TestEvictionOfAPodOverItsContainersLimits(t *testing.T) {
	e := evictionEnv(t)
	p := e.pod("greedy", "app", "side")
	for i := range p.Spec.Containers {
		p.Spec.Containers[i].Resources.Limits = objects.ResourceList{objects.ResourceEphemeralStorage: objects.MustParseQuantity("1Mi")}
	}
	withEmptyDir(p, "scratch", "") // no limit of its own: counted in the pod's
	e.create(p)
	e.waitPod("greedy", "running", running)
	writeInVolume(t, e, "greedy", "/scratch", "data", 3<<20)

	const msg = "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "
	e.waitPod("greedy", "evicted", evicted(msg))
	e.wantEvents("greedy Evicted: "+msg, 1)
}

// A container over its own limit, in a pod within the sum of its
// containers' limits, is named; a container without a limit is counted in
// the pod's only.
func TestEvictionOfAContainerOverItsLimit(t *testing.T) {
	e := evictionEnv(t)
	p := e.pod("layered", "app", "side", "free")
	p.Spec.Containers[0].Resources.Limits = objects.ResourceList{objects.ResourceEphemeralStorage: objects.MustParseQuantity("1Mi")}
	p.Spec.Containers[1].Resources.Limits = objects.ResourceList{objects.ResourceEphemeralStorage: objects.MustParseQuantity("8Mi")}
	e.create(p)
	e.waitPod("layered", "running", running)
	set := func(container string, bytes uint64) {
		t.Helper()
		creates := e.rt.Records(fake.OpCreateContainer, fake.Container("default", "layered", container))
		if err := e.rt.SetDiskUsage(creates[len(creates)-1].ID, runtime.DiskUsage{WritableLayerBytes: bytes, LogBytes: 1 << 10}); err != nil {
			t.Fatal(err)
		}
	}
	set("free", 5<<20) // no limit of its own: within the pod's 9Mi with the others
	set("side", 1<<20)
	set("app", 2<<20)

	const msg = `Container app exceeded its local ephemeral storage limit "1Mi". `
	e.waitPod("layered", "evicted", evicted(msg))
	e.wantEvents("layered Evicted: "+msg, 1)
}
