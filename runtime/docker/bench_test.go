package docker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// BenchmarkPodStart measures the time to start N pods at once (a sandbox
// and one app container each, until every container runs) through the
// runtime and with the Engine API client used directly for the same
// containers. Each iteration does both, in alternating order so that the
// engine's drift touches both alike, and reports their mean times and the
// ratio podkit/direct, podkit's overhead:
//
//	go test -run '^$' -bench PodStart -benchtime 10x ./runtime/docker
func BenchmarkPodStart(b *testing.B) {
	rt := newRuntime(b)
	ctx := context.Background()
	// Warm up: the network and the sandbox image exist before timing.
	newPod(b, rt, "warm")
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			podkit := func() time.Duration {
				node := "bench-" + randHex(3)
				start := time.Now()
				g, gctx := errgroup.WithContext(ctx)
				for j := range n {
					g.Go(func() error { return podkitPod(gctx, rt, node, j) })
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				cleanupPodkit(b, rt, node)
				return took
			}
			agenttest.Compare(b, "podkit", podkit, func() time.Duration { return directBatch(b, rt, n) })
		})
	}
}

func podkitPod(ctx context.Context, rt *docker.Runtime, node string, j int) error {
	uid := randHex(8)
	labels := map[string]string{runtime.LabelNode: node, runtime.LabelPodUID: uid, runtime.LabelPodName: fmt.Sprintf("p%d", j), runtime.LabelPodNamespace: "bench"}
	sb, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: uid, PodName: fmt.Sprintf("p%d", j), PodNamespace: "bench", Hostname: fmt.Sprintf("p%d", j), Labels: labels})
	if err != nil {
		return err
	}
	id, err := rt.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: "app", Image: idle.Ref, Labels: labels})
	if err != nil {
		return err
	}
	return rt.StartContainer(ctx, id)
}

func cleanupPodkit(b testing.TB, rt *docker.Runtime, node string) {
	ctx := context.Background()
	sbs, err := rt.ListSandboxes(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
	if err != nil {
		b.Fatal(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, s := range sbs {
		g.Go(func() error { return rt.RemoveSandbox(gctx, s.ID) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}

// directBatch starts n pods at once with the client alone (see directPod),
// returns the time until all run, then removes them.
func directBatch(b testing.TB, rt *docker.Runtime, n int) time.Duration {
	run := "bench-" + randHex(3)
	start := time.Now()
	g, gctx := errgroup.WithContext(context.Background())
	for j := range n {
		g.Go(func() error { return directPod(gctx, rt, run, j) })
	}
	err := g.Wait()
	took := time.Since(start)
	cleanupDirect(b, rt.Client(), run)
	if err != nil {
		b.Fatal(err)
	}
	return took
}

// directPod creates what podkitPod creates, with the client alone: the same
// images, network, namespaces sharing and labels.
func directPod(ctx context.Context, rt *docker.Runtime, run string, j int) error {
	cli := rt.Client()
	labels := func(kind string) map[string]string {
		return map[string]string{"io.podkit.bench": run, "io.podkit.bench.kind": kind}
	}
	sb, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       fmt.Sprintf("%s_POD_%d", run, j),
		Config:     &container.Config{Image: rt.SandboxImage(), Hostname: fmt.Sprintf("p%d", j), Labels: labels("sandbox")},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(rt.Network()), IpcMode: container.IPCModeShareable, Resources: container.Resources{CPUShares: 2}},
	})
	if err != nil {
		return err
	}
	if _, err := cli.ContainerStart(ctx, sb.ID, client.ContainerStartOptions{}); err != nil {
		return err
	}
	app, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   fmt.Sprintf("%s_app_%d", run, j),
		Config: &container.Config{Image: idle.Ref, Labels: labels("app")},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode("container:" + sb.ID),
			IpcMode:     container.IpcMode("container:" + sb.ID),
		},
	})
	if err != nil {
		return err
	}
	_, err = cli.ContainerStart(ctx, app.ID, client.ContainerStartOptions{})
	return err
}

func cleanupDirect(b testing.TB, cli *client.Client, run string) {
	ctx := context.Background()
	// App containers first, then sandboxes: removing a sandbox while a
	// container in its network namespace is being removed leaves a stale
	// endpoint count on Docker 20.10's network, which then cannot be removed.
	for _, kind := range []string{"app", "sandbox"} {
		res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", "io.podkit.bench="+run).Add("label", "io.podkit.bench.kind="+kind)})
		if err != nil {
			b.Fatal(err)
		}
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for _, c := range res.Items {
			g.Go(func() error {
				_, err := cli.ContainerRemove(gctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
