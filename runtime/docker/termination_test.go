package docker_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime"
)

// TestTerminationMessageFile: the host file of a termination message is
// in the engine's directory of the sandbox, writable by a container that
// does not run as root, and goes with the container, or with the sandbox.
func TestTerminationMessageFile(t *testing.T) {
	rt := newRuntime(t)
	ctx := testContext(t)
	var secondFile string
	t.Cleanup(func() { // after the pod's removal: cleanups run last first
		if _, err := os.Stat(secondFile); secondFile != "" && !os.IsNotExist(err) {
			t.Errorf("after RemoveSandbox, %s: %v, want it gone", secondFile, err)
		}
	})
	p := newPod(t, rt, "termination")
	const path = "/dev/termination-log"
	withPath := func(c *runtime.ContainerConfig) {
		c.TerminationMessagePath = path
		c.User = "1000:1000"
	}
	first := p.run("first", withPath, "fail-with", path, "disk full", "3")
	second := p.run("second", withPath, "fail-with", path, "out of luck", "4")
	sb, err := rt.Client().ContainerInspect(ctx, p.id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sbDir := filepath.Dir(sb.Container.HostnamePath)
	hostFile := func(id string) string {
		t.Helper()
		res, err := rt.Client().ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Container.HostConfig.Mounts {
			if m.Target == path {
				if filepath.Dir(m.Source) != sbDir {
					t.Errorf("termination message file %s is not in the sandbox's directory %s", m.Source, sbDir)
				}
				return m.Source
			}
		}
		t.Fatalf("container %s mounts nothing at %s: %+v", id, path, res.Container.HostConfig.Mounts)
		return ""
	}
	firstFile := hostFile(first)
	secondFile = hostFile(second)
	for _, c := range []struct{ id, message string }{{first, "disk full"}, {second, "out of luck"}} {
		if st := waitContainer(t, rt, c.id, "exited", exited); st.Message != c.message {
			t.Errorf("Message = %q, want %q", st.Message, c.message)
		}
	}
	if err := rt.RemoveContainer(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(firstFile); !os.IsNotExist(err) {
		t.Errorf("after RemoveContainer, %s: %v, want it gone", firstFile, err)
	}
	if _, err := os.Stat(secondFile); err != nil {
		t.Errorf("the other container's file: %v", err)
	}
}
