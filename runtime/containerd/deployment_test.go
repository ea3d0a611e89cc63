package containerd_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// runOrchestrator runs o until the test ends; it returns Run's context.
func runOrchestrator(t *testing.T, o *podkit.Orchestrator) context.Context {
	t.Helper()
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
	return ctx
}

func demoDeployment(name string, replicas int32, cpu string) *objects.Deployment {
	labels := map[string]string{"app": name}
	c := objects.Container{
		Name: "web", Image: demo.Ref, ImagePullPolicy: objects.PullIfNotPresent,
		Ports:          []objects.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: httpProbe(8080),
	}
	if cpu != "" {
		c.Resources.Requests = objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity(cpu)}
	}
	return &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.DeploymentSpec{
			Replicas: &replicas,
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec:       objects.PodSpec{Containers: []objects.Container{c}},
			},
		},
	}
}

func registerNode(t *testing.T, ctx context.Context, o *podkit.Orchestrator, name, cpu string, rt runtime.Runtime) {
	t.Helper()
	node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}, Status: objects.NodeStatus{Capacity: objects.ResourceList{
		objects.ResourceCPU: objects.MustParseQuantity(cpu), objects.ResourceMemory: objects.MustParseQuantity("4Gi")}}}
	if err := o.RegisterNode(ctx, node, rt); err != nil {
		t.Fatal(err)
	}
}

// availableAndAnswering waits for the Deployment to be Available and checks
// that every pod answers HTTP on its pod IP from the host; it returns the
// pods per node.
func availableAndAnswering(t *testing.T, ctx context.Context, o *podkit.Orchestrator, d *objects.Deployment) map[string]int {
	t.Helper()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := o.WaitFor(wctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: d.Name, Namespace: "default"}}, podkit.Available); err != nil {
		t.Fatalf("Deployment not Available: %v", err)
	}
	t.Logf("%d replicas Available %v after Apply", *d.Spec.Replicas, time.Since(start))
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app="+d.Name))
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != int(*d.Spec.Replicas) {
		t.Fatalf("%d pods, want %d", len(pods), *d.Spec.Replicas)
	}
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Status.Phase != objects.PodRunning || !objects.IsPodReady(p) || p.Status.PodIP == "" {
			t.Errorf("pod %s: phase %s ready %v IP %q", p.Name, p.Status.Phase, objects.IsPodReady(p), p.Status.PodIP)
			continue
		}
		perNode[p.Spec.NodeName]++
		code, body, err := httpGet("http://" + p.Status.PodIP + ":8080/")
		if err != nil || code != 200 || !strings.Contains(body, "hello from "+p.Name) {
			t.Errorf("GET / on pod %s (%s) = %d %q %v", p.Name, p.Status.PodIP, code, body, err)
		}
	}
	return perNode
}

// deleteAndWaitGone deletes the Deployment and waits until no pod of it is
// left in the store and no sandbox of the nodes is left in the runtimes.
func deleteAndWaitGone(t *testing.T, ctx context.Context, o *podkit.Orchestrator, d *objects.Deployment, rts map[string]runtime.Runtime) {
	t.Helper()
	if err := o.Delete(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: d.Name, Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}
	agenttest.Poll(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		left, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app="+d.Name))
		if err != nil {
			t.Fatal(err)
		}
		var sandboxes []string
		for node, rt := range rts {
			sbs, err := rt.ListSandboxes(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sbs {
				sandboxes = append(sandboxes, node+"/"+s.ID)
			}
		}
		return len(left) == 0 && len(sandboxes) == 0,
			fmt.Sprintf("after deleting the Deployment: %d pods, sandboxes %v", len(left), sandboxes)
	})
}

// TestDeploymentOnContainerd: the whole orchestrator over a node backed by
// containerd. Three replicas of the demo image become Available and answer
// HTTP on their pod IPs; deleting the Deployment leaves no sandbox.
func TestDeploymentOnContainerd(t *testing.T) {
	rt := newRuntime(t)
	o, err := podkit.New(podkit.WithNodeAgent(nodeagent.WithRootDir(t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	ctx := runOrchestrator(t, o)
	node := "ctrd-" + randHex(3)
	registerNode(t, ctx, o, node, "4", rt)

	d := demoDeployment("web-"+randHex(3), 3, "")
	if err := o.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	availableAndAnswering(t, ctx, o, d)
	deleteAndWaitGone(t, ctx, o, d, map[string]runtime.Runtime{node: rt})
}

// TestDockerAndContainerdSideBySide: one Deployment served by a node backed
// by the Docker Engine and a node backed by containerd at once.
func TestDockerAndContainerdSideBySide(t *testing.T) {
	crt := newRuntime(t)
	ctx0, cancel0 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel0()
	drt, err := docker.New(ctx0, docker.WithNetwork("podkit-mixed-"+randHex(3)))
	if err != nil {
		if skipReason != "" {
			t.Skip(skipReason)
		}
		t.Fatalf("docker.New: %v (this test needs Docker as well as containerd)", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := drt.RemoveNetwork(ctx); err != nil {
			t.Errorf("remove docker network: %v", err)
		}
		drt.Close()
	})
	if err := testimage.Ensure(ctx0, drt, demo); err != nil {
		t.Fatal(err)
	}

	o, err := podkit.New(podkit.WithNodeAgent(nodeagent.WithRootDir(t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	ctx := runOrchestrator(t, o)
	suffix := randHex(3)
	dnode, cnode := "mixed-docker-"+suffix, "mixed-ctrd-"+suffix
	// One CPU each and 400m per pod: at most two pods fit a node, so four
	// replicas need both.
	registerNode(t, ctx, o, dnode, "1", drt)
	registerNode(t, ctx, o, cnode, "1", crt)

	d := demoDeployment("mixed-"+suffix, 4, "400m")
	if err := o.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	perNode := availableAndAnswering(t, ctx, o, d)
	if perNode[dnode] != 2 || perNode[cnode] != 2 {
		t.Errorf("pods per node %v, want 2 on %s and 2 on %s", perNode, dnode, cnode)
	}
	deleteAndWaitGone(t, ctx, o, d, map[string]runtime.Runtime{dnode: drt, cnode: crt})
}
