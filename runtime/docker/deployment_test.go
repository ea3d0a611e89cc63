package docker_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// TestDeploymentOnDocker: the whole orchestrator (controllers, scheduler,
// node agents) over two nodes backed by the Docker Engine. A Deployment of
// three replicas of the demo image becomes Available, every pod answers
// HTTP on its pod IP from the host, and deleting the Deployment leaves no
// container of it in the engine.
func TestDeploymentOnDocker(t *testing.T) {
	newRuntime(t) // skips without a daemon
	o, err := podkit.New(podkit.WithNodeAgent(nodeagent.WithRootDir(t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := o.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	suffix := randHex(3)
	nodes := []string{"dock-a-" + suffix, "dock-b-" + suffix}
	for _, name := range nodes {
		// One runtime per node, both over the same engine: a node's pods are
		// told apart by the node label.
		rt, err := docker.New(ctx, docker.WithNetwork(testNet))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close() }) // after Run has returned (cleanups run last-in first-out)
		node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}, Status: objects.NodeStatus{Capacity: objects.ResourceList{
			objects.ResourceCPU: objects.MustParseQuantity("2"), objects.ResourceMemory: objects.MustParseQuantity("4Gi")}}}
		if err := o.RegisterNode(ctx, node, rt); err != nil {
			t.Fatal(err)
		}
	}

	replicas := int32(3)
	labels := map[string]string{"app": "web-" + suffix}
	d := &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: "web-" + suffix, Namespace: "default"},
		Spec: objects.DeploymentSpec{
			Replicas: &replicas,
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec: objects.PodSpec{Containers: []objects.Container{{
					Name: "web", Image: demo.Ref, ImagePullPolicy: objects.PullIfNotPresent,
					Ports:          []objects.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: httpProbe(8080),
				}}},
			},
		},
	}
	start := time.Now()
	if err := o.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := o.WaitFor(wctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: d.Name, Namespace: "default"}}, podkit.Available); err != nil {
		t.Fatalf("Deployment not Available: %v", err)
	}
	t.Logf("3 replicas Available %v after Apply", time.Since(start))

	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app="+labels["app"]))
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Status.Phase != objects.PodRunning || !objects.IsPodReady(p) || p.Status.PodIP == "" {
			t.Errorf("pod %s: phase %s ready %v IP %q", p.Name, p.Status.Phase, objects.IsPodReady(p), p.Status.PodIP)
			continue
		}
		perNode[p.Spec.NodeName]++
		if body := httpGet(t, "http://"+p.Status.PodIP+":8080/"); !strings.Contains(body, "hello from "+p.Name) {
			t.Errorf("GET / on pod %s (%s) = %q", p.Name, p.Status.PodIP, body)
		}
	}
	t.Logf("pods per node: %v", perNode)

	if err := o.Delete(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: d.Name, Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}
	cli := newRuntime(t).Client()
	agenttest.Poll(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		left, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app="+labels["app"]))
		if err != nil {
			t.Fatal(err)
		}
		var ctrs []string
		for _, n := range nodes {
			res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
				Filters: make(client.Filters).Add("label", runtime.LabelNode+"="+n)})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range res.Items {
				ctrs = append(ctrs, c.Names...)
			}
		}
		return len(left) == 0 && len(ctrs) == 0,
			fmt.Sprintf("after deleting the Deployment: %d pods, containers %v", len(left), ctrs)
	})
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
	o, err := podkit.New(podkit.WithNodeAgent(nodeagent.WithRootDir(b.TempDir())))
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	node := "bench-deploy-" + randHex(3)
	if err := o.RegisterNode(ctx, &objects.Node{ObjectMeta: objects.ObjectMeta{Name: node}, Status: objects.NodeStatus{Capacity: objects.ResourceList{
		objects.ResourceCPU: objects.MustParseQuantity("8"), objects.ResourceMemory: objects.MustParseQuantity("16Gi")}}}, rt); err != nil {
		b.Fatal(err)
	}
	newPod(b, rt, "warm") // the network and the sandbox image exist before timing

	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			var viaPodkit, direct time.Duration
			orchestrated := func() { viaPodkit += deploymentBatch(b, ctx, o, rt, node, n) }
			client := func() {
				run := "bench-" + randHex(3)
				start := time.Now()
				g, gctx := errgroup.WithContext(ctx)
				for j := range n {
					g.Go(func() error { return directPod(gctx, rt, run, j) })
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				direct += time.Since(start)
				cleanupDirect(b, rt.Client(), run)
			}
			for i := 0; i < b.N; i++ {
				if i%2 == 0 {
					orchestrated()
					client()
				} else {
					client()
					orchestrated()
				}
			}
			b.ReportMetric(float64(viaPodkit.Milliseconds())/float64(b.N), "podkit-ms/op")
			b.ReportMetric(float64(direct.Milliseconds())/float64(b.N), "direct-ms/op")
			b.ReportMetric(float64(viaPodkit)/float64(direct), "ratio")
		})
	}
}

// deploymentBatch applies a Deployment of n replicas, returns the time until
// all its pods are Running, then deletes it and waits until its pods and
// containers are gone.
func deploymentBatch(b *testing.B, ctx context.Context, o *podkit.Orchestrator, rt *docker.Runtime, node string, n int) time.Duration {
	name := "bench-" + randHex(3)
	sel := "app=" + name
	w, err := o.Watch(ctx, "Pod", podkit.WithLabels(sel))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	replicas := int32(n)
	labels := map[string]string{"app": name}
	d := &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.DeploymentSpec{
			Replicas: &replicas,
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec: objects.PodSpec{Containers: []objects.Container{{
					Name: "app", Image: idle.Ref, ImagePullPolicy: objects.PullNever}}},
			},
		},
	}
	start := time.Now()
	if err := o.Apply(ctx, d); err != nil {
		b.Fatal(err)
	}
	running := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(running) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				b.Fatalf("watch ended: %v", w.Err())
			}
			if p, ok := ev.Peek().(*objects.Pod); ok && p.Status.Phase == objects.PodRunning {
				running[p.Name] = true
			}
		case <-timeout:
			b.Fatalf("%d of %d pods Running after 5 minutes", len(running), n)
		}
	}
	took := time.Since(start)

	if err := o.Delete(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"}}); err != nil {
		b.Fatal(err)
	}
	agenttest.Poll(b, 5*time.Minute, 50*time.Millisecond, func() (bool, string) {
		pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels(sel))
		if err != nil {
			b.Fatal(err)
		}
		sbs, err := rt.ListSandboxes(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
		if err != nil {
			b.Fatal(err)
		}
		return len(pods) == 0 && len(sbs) == 0, fmt.Sprintf("%d pods and %d sandboxes left after deletion", len(pods), len(sbs))
	})
	return took
}
