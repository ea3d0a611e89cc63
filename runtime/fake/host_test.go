package fake_test

import (
	"context"
	"testing"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// What a sandbox and a container share with the host is recorded as
// given: the fake has no host, so tests read it back.
func TestHostSharingRecorded(t *testing.T) {
	ctx := context.Background()
	rt, err := fake.New(fake.WithImages("app:1"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &runtime.SandboxConfig{PodUID: "u1", PodName: "agent", PodNamespace: "default", HostPID: true, HostIPC: true,
		ShareProcessNamespace: true, Labels: map[string]string{runtime.LabelPodUID: "u1"}}
	sb, err := rt.RunSandbox(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mounts := []runtime.Mount{
		{HostPath: "/", ContainerPath: "/host/root", ReadOnly: true, Propagation: runtime.PropagationHostToContainer},
		{HostPath: "/var/lib/plugins", ContainerPath: "/plugins", Propagation: runtime.PropagationBidirectional},
		{HostPath: "/tmp", ContainerPath: "/tmp"},
	}
	if _, err := rt.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: "app", Image: "app:1", Mounts: mounts}); err != nil {
		t.Fatal(err)
	}
	sbs := rt.SandboxConfigs()
	if len(sbs) != 1 || !sbs[0].Config.HostPID || !sbs[0].Config.HostIPC || !sbs[0].Config.ShareProcessNamespace {
		t.Errorf("SandboxConfigs = %+v, want HostPID, HostIPC and ShareProcessNamespace as given", sbs)
	}
	cs := rt.Configs()
	if len(cs) != 1 || len(cs[0].Config.Mounts) != len(mounts) {
		t.Fatalf("Configs = %+v, want one container with %d mounts", cs, len(mounts))
	}
	for i, m := range cs[0].Config.Mounts {
		if m != mounts[i] {
			t.Errorf("mount %d = %+v, want %+v", i, m, mounts[i])
		}
	}
}
