package agenttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/podkit/podkit/runtime"
)

// Context returns a context for one test's daemon calls: it ends after two
// minutes or with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// RunContainer creates and starts a container of image with args in the
// sandbox id made from sb, labelled as sb is and with its name, after mod
// (if any) has adjusted its configuration; it returns the container's id.
func RunContainer(t testing.TB, rt runtime.Runtime, id string, sb *runtime.SandboxConfig, image, name string, mod func(*runtime.ContainerConfig), args ...string) string {
	t.Helper()
	cfg := &runtime.ContainerConfig{Name: name, Image: image, Args: args, Labels: map[string]string{runtime.LabelContainerName: name}}
	for k, v := range sb.Labels {
		cfg.Labels[k] = v
	}
	if mod != nil {
		mod(cfg)
	}
	ctx := Context(t)
	cid, err := rt.CreateContainer(ctx, id, cfg)
	if err != nil {
		t.Fatalf("CreateContainer(%s): %v", name, err)
	}
	if err := rt.StartContainer(ctx, cid); err != nil {
		t.Fatalf("StartContainer(%s): %v", name, err)
	}
	return cid
}

// SandboxIP returns the IP of the one sandbox of the pod sb describes.
func SandboxIP(t testing.TB, rt runtime.Runtime, sb *runtime.SandboxConfig) string {
	t.Helper()
	sbs, err := rt.ListSandboxes(Context(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: sb.PodUID}})
	if err != nil || len(sbs) != 1 || sbs[0].IP == "" {
		t.Fatalf("ListSandboxes(pod %s) = %+v, %v; want one sandbox with an IP", sb.PodName, sbs, err)
	}
	return sbs[0].IP
}

// WaitContainer polls the status of container id, one of node's, until
// cond holds, and returns it.
func WaitContainer(t testing.TB, rt runtime.Runtime, node, id, what string, cond func(runtime.ContainerStatus) bool) runtime.ContainerStatus {
	t.Helper()
	var last runtime.ContainerStatus
	Poll(t, 60*time.Second, 20*time.Millisecond, func() (bool, string) {
		cs, err := rt.ListContainers(Context(t), runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
		if err != nil {
			t.Fatalf("ListContainers: %v", err)
		}
		for _, c := range cs {
			if c.ID == id {
				last = c
				if cond(c) {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("container %s not %s; last seen %+v", id, what, last)
	})
	return last
}
