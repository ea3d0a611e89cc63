package docker_test

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// TestDeploymentOnDocker: the whole orchestrator (controllers, scheduler,
// node agents) over two nodes backed by the Docker Engine, on a pod network
// of the test's own. A Deployment of three replicas of the demo image,
// spread over both nodes, with an emptyDir and a ConfigMap volume, becomes
// Available; every pod answers HTTP on its pod IP from the host and has its
// volume directories on its node; deleting the Deployment leaves no
// container of the nodes, no endpoint on the network and no pod directory.
func TestDeploymentOnDocker(t *testing.T) {
	newRuntime(t) // skips without a daemon
	suffix := randHex(3)
	nodes := []string{"dock-a-" + suffix, "dock-b-" + suffix}
	network := "podkit-deploy-" + suffix
	rts := map[string]*docker.Runtime{}
	for _, name := range nodes {
		// One runtime per node, both over the same engine and network: a
		// node's pods are told apart by the node label.
		rts[name] = newRuntime(t, docker.WithNetwork(network))
	}
	cli := rts[nodes[0]].Client()
	t.Cleanup(func() { removeNodes(t, rts) }) // after the orchestrator has stopped
	c := agenttest.NewCluster(t)
	for _, name := range nodes {
		c.AddNode(name, "2", rts[name])
	}

	d, pods := c.RunSpreadWithVolumes(t, "web-"+suffix, demo.Ref, 3, nodes)
	if eps := endpoints(t, cli, network); len(eps) != len(pods) {
		t.Errorf("endpoints on %s while running: %v, want one per pod", network, eps)
	}

	c.DeleteAndWait(t, d, func() []string {
		var left []string
		for _, n := range nodes {
			res, err := cli.ContainerList(c.Ctx, client.ContainerListOptions{All: true,
				Filters: make(client.Filters).Add("label", runtime.LabelNode+"="+n)})
			if err != nil {
				t.Fatal(err)
			}
			for _, ctr := range res.Items {
				left = append(left, "container "+ctr.ID)
			}
			left = append(left, c.PodDirs(n)...)
		}
		for _, ep := range endpoints(t, cli, network) {
			left = append(left, "endpoint "+ep)
		}
		return left
	})
}

// endpoints lists the containers with an endpoint on network.
func endpoints(t *testing.T, cli *client.Client, network string) []string {
	t.Helper()
	res, err := cli.NetworkInspect(testContext(t), network, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatalf("inspect network %s: %v", network, err)
	}
	var out []string
	for id, ep := range res.Network.Containers {
		out = append(out, id[:12]+" ("+ep.Name+")")
	}
	return out
}

// removeNodes removes the sandboxes (and so the containers) of the nodes
// that a failed test left, then the nodes' network.
func removeNodes(t *testing.T, rts map[string]*docker.Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rt *docker.Runtime
	for node, r := range rts {
		rt = r
		sbs, err := r.ListSandboxes(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
		if err != nil {
			t.Error(err)
			continue
		}
		for _, s := range sbs {
			if err := r.RemoveSandbox(ctx, s.ID); err != nil {
				t.Errorf("remove sandbox %s of node %s: %v", s.ID, node, err)
			}
		}
	}
	if err := rt.RemoveNetwork(ctx); err != nil {
		t.Errorf("remove network %s: %v", rt.Network(), err)
	}
}

// BenchmarkDeploymentPodStart measures pod start latency as the issue
// defines it: from a Deployment of N replicas being applied to every one of
// its pods Running, through controllers, scheduler and node agent, on one
// Docker-backed node; against starting the same containers with the Engine
// API client directly (sandbox, then app container, per pod). The two
// alternate, and the ratio orchestrator/direct is reported:
//
//	go test -run '^$' -bench DeploymentPodStart -benchtime 5x ./runtime/docker
func BenchmarkDeploymentPodStart(b *testing.B) {
	rt := newRuntime(b)
	newPod(b, rt, "warm") // the network and the sandbox image exist before timing
	agenttest.DeploymentPodStart(b, rt, idle.Ref, func(b *testing.B, n int) time.Duration {
		return directBatch(b, rt, n)
	})
}
