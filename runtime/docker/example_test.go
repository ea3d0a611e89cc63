package docker_test

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// A pod by hand: a sandbox on podkit's network, one container in it. A node
// agent does the same for the pods bound to its node.
func ExampleNew() {
	ctx := context.Background()
	rt, err := docker.New(ctx) // DOCKER_HOST, or the default socket
	if err != nil {
		fmt.Println(err) // wraps runtime.ErrUnavailable without a daemon
		return
	}
	defer rt.Close()

	labels := map[string]string{runtime.LabelPodUID: "0f3c", runtime.LabelPodNamespace: "default", runtime.LabelPodName: "web"}
	sb, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: "0f3c", PodNamespace: "default", PodName: "web", Hostname: "web", Labels: labels})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.RemoveSandbox(ctx, sb)
	id, err := rt.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: "app", Image: "nginx:1.27", Labels: labels})
	if err == nil {
		err = rt.StartContainer(ctx, id)
	}
	fmt.Println(err)
}
