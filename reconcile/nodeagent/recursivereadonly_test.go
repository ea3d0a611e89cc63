package nodeagent_test

import (
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

// rroPod mounts an emptyDir read-only at /data with the mode given.
func rroPod(e *env, name string, mode objects.RecursiveReadOnlyMode) *objects.Pod {
	p := e.pod(name, "app")
	p.Spec.Volumes = []objects.Volume{{Name: "data", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{
		{Name: "data", MountPath: "/data", ReadOnly: true, RecursiveReadOnly: &mode},
		{Name: "data", MountPath: "/scratch"},
	}
	return p
}

// recursiveMount returns whether the runtime got the /data mount of the
// pod's app container recursively read-only.
func recursiveMount(t *testing.T, rt *fake.Runtime, pod string) bool {
	t.Helper()
	for _, m := range containerConfig(t, rt, pod, "app").Mounts {
		if m.ContainerPath == "/data" {
			return m.RecursiveReadOnly
		}
	}
	t.Fatalf("pod %s: no mount at /data", pod)
	return false
}

// recursiveReadOnly, as the kubelet resolves it: IfPossible is what the
// runtime can; Enabled where it cannot leaves the container in
// CreateContainerConfigError with the kubelet's message. The status
// reports every mount, a read-only one's mode Enabled or Disabled.
func TestRecursiveReadOnlyMounts(t *testing.T) {
	wantStatus := func(t *testing.T, p *objects.Pod, mode objects.RecursiveReadOnlyMode) {
		t.Helper()
		got := containerStatus(p, "app").VolumeMounts
		if len(got) != 2 || got[0].Name != "data" || got[0].MountPath != "/data" || !got[0].ReadOnly ||
			got[0].RecursiveReadOnly == nil || *got[0].RecursiveReadOnly != mode ||
			got[1].MountPath != "/scratch" || got[1].ReadOnly || got[1].RecursiveReadOnly != nil {
			t.Errorf("volume mount statuses %+v, want /data read-only with recursiveReadOnly %s, then /scratch", got, mode)
		}
	}

	t.Run("RuntimeWithThem", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		e.create(rroPod(e, "enabled", objects.RecursiveReadOnlyEnabled))
		e.create(rroPod(e, "ifpossible", objects.RecursiveReadOnlyIfPossible))
		e.create(rroPod(e, "disabled", objects.RecursiveReadOnlyDisabled))
		for name, want := range map[string]bool{"enabled": true, "ifpossible": true, "disabled": false} {
			p := e.waitPod(name, "running", running)
			if got := recursiveMount(t, e.rt, name); got != want {
				t.Errorf("pod %s: the runtime got recursiveReadOnly %v, want %v", name, got, want)
			}
			mode := objects.RecursiveReadOnlyDisabled
			if want {
				mode = objects.RecursiveReadOnlyEnabled
			}
			wantStatus(t, p, mode)
		}
	})
	t.Run("RuntimeWithoutThem", func(t *testing.T) {
		e := newEnv(t, envOpt{rt: []fake.Option{fake.WithoutRecursiveReadOnly()}})
		e.create(rroPod(e, "ifpossible", objects.RecursiveReadOnlyIfPossible))
		e.create(rroPod(e, "enabled", objects.RecursiveReadOnlyEnabled))
		p := e.waitPod("ifpossible", "running", running)
		if recursiveMount(t, e.rt, "ifpossible") {
			t.Errorf("IfPossible on a runtime without them got a recursively read-only mount")
		}
		wantStatus(t, p, objects.RecursiveReadOnlyDisabled)

		p = e.waitPod("enabled", "in CreateContainerConfigError", waiting("app", "CreateContainerConfigError"))
		if msg, want := containerStatus(p, "app").State.Waiting.Message,
			`volume "data" requested recursive read-only mode, but it is not supported by the runtime`; msg != want {
			t.Errorf("message %q, want %q", msg, want)
		}
		if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "enabled"))); n != 0 {
			t.Errorf("%d containers created", n)
		}
	})
}
