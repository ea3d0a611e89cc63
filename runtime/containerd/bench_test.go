package containerd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/cni"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
	"github.com/podkit/podkit/store/memdb"
)

// BenchmarkPodStart measures the time to start N pods at once (a sandbox
// and one app container each, until every container runs) through the
// runtime, and with the containerd client used directly for the same work:
// a pinned network namespace attached by the same CNI plugins, and a
// container on the same image and snapshotter, in that namespace, logging
// to a file. Each iteration does both, in alternating order, and reports
// their mean times and the ratio podkit/direct, podkit's overhead:
//
//	go test -run '^$' -bench PodStart -benchtime 10x ./runtime/containerd
func BenchmarkPodStart(b *testing.B) {
	rt := newRuntime(b)
	ctx := context.Background()
	n := testCNI(b)
	newPod(b, rt, "warm") // the bridge exists before timing
	for _, pods := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			podkit := func() time.Duration {
				node := "bench-" + randHex(3)
				start := time.Now()
				g, gctx := errgroup.WithContext(ctx)
				for j := range pods {
					g.Go(func() error { return podkitPod(gctx, rt, node, j) })
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				took := time.Since(start)
				cleanupPodkit(b, rt, node)
				return took
			}
			agenttest.Compare(b, "podkit", podkit, func() time.Duration { return directBatch(b, rt, n, pods) })
		})
	}
}

func podkitPod(ctx context.Context, rt *containerd.Runtime, node string, j int) error {
	uid := randHex(8)
	name := fmt.Sprintf("p%d", j)
	labels := map[string]string{runtime.LabelNode: node, runtime.LabelPodUID: uid, runtime.LabelPodName: name, runtime.LabelPodNamespace: "bench"}
	sb, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: uid, PodName: name, PodNamespace: "bench", Hostname: name, Labels: labels})
	if err != nil {
		return err
	}
	id, err := rt.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: "app", Image: idle.Ref, Labels: labels})
	if err != nil {
		return err
	}
	return rt.StartContainer(ctx, id)
}

func cleanupPodkit(b testing.TB, rt *containerd.Runtime, node string) {
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

type directMade struct {
	id, netns string
}

// directBatch starts pods pods at once with the client and libcni alone
// (see directPod), returns the time until all run, then removes them.
func directBatch(b testing.TB, rt *containerd.Runtime, n *cni.Network, pods int) time.Duration {
	dir := b.TempDir()
	start := time.Now()
	g, gctx := errgroup.WithContext(context.Background())
	made := make([]directMade, pods)
	for j := range pods {
		g.Go(func() (err error) { made[j], err = directPod(gctx, rt.Client(), n, dir, j); return err })
	}
	err := g.Wait()
	took := time.Since(start)
	cleanupDirect(b, rt.Client(), n, made)
	if err != nil {
		b.Fatal(err)
	}
	return took
}

// directPod does what podkitPod does with the client and libcni alone.
func directPod(ctx context.Context, cli *client.Client, n *cni.Network, dir string, j int) (directMade, error) {
	ctx = namespaces.WithNamespace(ctx, testNS)
	id := fmt.Sprintf("bench-direct-%s-%d", randHex(4), j)
	m := directMade{id: id}
	ns, err := netns.NewNetNS(dir)
	if err != nil {
		return m, err
	}
	m.netns = ns.GetPath()
	if _, err := n.Setup(ctx, "bench."+id, m.netns, nil); err != nil {
		return m, err
	}
	img, err := cli.GetImage(ctx, idle.Ref)
	if err != nil {
		return m, err
	}
	c, err := cli.NewContainer(ctx, id, client.WithImage(img), client.WithSnapshotter(containerd.DefaultSnapshotter),
		client.WithNewSnapshot(id, img), client.WithNewSpec(oci.WithImageConfig(img), oci.WithHostname(fmt.Sprintf("p%d", j)),
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: m.netns})))
	if err != nil {
		return m, err
	}
	task, err := c.NewTask(ctx, cio.LogFile(filepath.Join(dir, id+".log")))
	if err != nil {
		return m, err
	}
	return m, task.Start(ctx)
}

func cleanupDirect(b testing.TB, cli *client.Client, n *cni.Network, made []directMade) {
	ctx := namespaces.WithNamespace(context.Background(), testNS)
	for _, m := range made {
		if m.id == "" {
			continue
		}
		if c, err := cli.LoadContainer(ctx, m.id); err == nil {
			if t, err := c.Task(ctx, nil); err == nil {
				if _, err := t.Delete(ctx, client.WithProcessKill); err != nil {
					b.Error(err)
				}
			}
			if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil {
				b.Error(err)
			}
		}
		if m.netns != "" {
			if err := n.Teardown(ctx, "bench."+m.id, m.netns, nil); err != nil {
				b.Error(err)
			}
			if err := netns.LoadNetNS(m.netns).Remove(); err != nil && !os.IsNotExist(err) {
				b.Error(err)
			}
		}
	}
}

// BenchmarkAgentPodStart measures pod start latency as the issue defines
// it, minus the scheduler: from the pod objects (already bound to the node)
// being written to the store, in one transaction, to every pod reported
// Running by the node agent over containerd. Each iteration also does the
// same work with the containerd client directly (see BenchmarkPodStart),
// alternating which goes first, and reports both means and the ratio
// agent/direct:
//
//	go test -run '^$' -bench AgentPodStart -benchtime 5x ./runtime/containerd
func BenchmarkAgentPodStart(b *testing.B) {
	rt := newRuntime(b)
	n := testCNI(b)
	s, err := memdb.New()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	node := "bench-agent-" + randHex(3)
	a, err := nodeagent.New(s, node, rt, nodeagent.WithRootDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	newPod(b, rt, "warm") // the bridge exists before timing
	for _, pods := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", pods), func(b *testing.B) {
			agenttest.CompareWithDirect(b,
				func() time.Duration { return agenttest.AgentBatch(b, s, node, idle.Ref, pods) },
				func() time.Duration { return directBatch(b, rt, n, pods) })
		})
	}
}

// BenchmarkDeploymentPodStart measures pod start latency as the issue
// defines it: from a Deployment of N replicas being applied to every one of
// its pods Running, through controllers, scheduler and node agent, on one
// containerd-backed node; against the same pods started with the
// containerd client directly (see BenchmarkPodStart). The two alternate,
// and the ratio orchestrator/direct is reported:
//
//	go test -run '^$' -bench '^BenchmarkDeploymentPodStart$' -benchtime 5x ./runtime/containerd
func BenchmarkDeploymentPodStart(b *testing.B) {
	rt := newRuntime(b)
	n := testCNI(b)
	newPod(b, rt, "warm") // the bridge exists before timing
	agenttest.DeploymentPodStart(b, rt, idle.Ref, func(b *testing.B, pods int) time.Duration {
		return directBatch(b, rt, n, pods)
	})
}
