package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
)

// Every test stops its orchestrator; goleak checks no goroutine outlives it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster is what a platform test needs: an orchestrator running the real
// scheduler, controllers and node agents, and the fake runtime of each node
// to inject faults into.
type cluster struct {
	o   *podkit.Orchestrator
	rts map[string]*fake.Runtime
}

// newCluster starts an orchestrator with n fake nodes; it stops when the test
// ends, after Run has returned, so nothing outlives the test.
func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	o, err := podkit.New(podkit.WithNodeAgent(
		nodeagent.WithCrashLoopBackOff(10*time.Millisecond, 100*time.Millisecond, time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		o.Close()
	})
	c := &cluster{o: o, rts: map[string]*fake.Runtime{}}
	for i := range n {
		name := fmt.Sprintf("node-%d", i+1)
		rt, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.244.%d.0/24", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{
				"cpu": objects.MustParseQuantity("4"), "memory": objects.MustParseQuantity("8Gi")}}}
		if err := o.RegisterNode(ctx, node, rt); err != nil {
			t.Fatal(err)
		}
		c.rts[name] = rt
	}
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDeployAppSpreadsPodsAndFillsEndpoints(t *testing.T) {
	ctx := testContext(t)
	c := newCluster(t, 3)

	if err := DeployApp(ctx, c.o, "web", "example.com/web:1.0", 3); err != nil {
		t.Fatal(err)
	}
	dep := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	if err := c.o.WaitFor(ctx, dep, podkit.Available); err != nil {
		t.Fatal(err)
	}

	pods, err := podkit.List[*objects.Pod](ctx, c.o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	ips := map[string]bool{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
		ips[p.Status.PodIP] = true
	}
	if len(pods) != 3 || len(perNode) != 3 {
		t.Errorf("want 3 pods on 3 nodes, got %d pods on %v", len(pods), perNode)
	}

	// The Endpoints controller fills in the ready pods' IPs; wait for it
	// rather than assume it already ran.
	ep := &objects.Endpoints{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	err = c.o.WaitFor(ctx, ep, func(obj objects.Object) bool {
		e, ok := obj.(*objects.Endpoints)
		return ok && len(e.Subsets) == 1 && len(e.Subsets[0].Addresses) == 3
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ep.Subsets[0].Addresses {
		if !ips[a.IP] {
			t.Errorf("endpoint %s is not the IP of a web pod (%v)", a.IP, ips)
		}
	}
	if p := ep.Subsets[0].Ports; len(p) != 1 || p[0].Port != 8080 {
		t.Errorf("endpoint ports = %+v, want the container port 8080", p)
	}
}

func TestCrashedContainerIsRestarted(t *testing.T) {
	ctx := testContext(t)
	c := newCluster(t, 3)
	if err := DeployApp(ctx, c.o, "web", "example.com/web:1.0", 3); err != nil {
		t.Fatal(err)
	}
	if err := c.o.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}, podkit.Available); err != nil {
		t.Fatal(err)
	}
	pods, err := podkit.List[*objects.Pod](ctx, c.o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		t.Fatal(err)
	}

	// The fault: the container of one pod crashes with exit code 1.
	p := pods[0]
	if n := c.rts[p.Spec.NodeName].Kill(fake.Container("default", p.Name, "app"), 1); n != 1 {
		t.Fatalf("killed %d containers, want 1", n)
	}
	if err := c.o.WaitFor(ctx, p, restartedAndReady); err != nil {
		t.Fatal(err)
	}
	cs := p.Status.ContainerStatuses[0]
	if term := cs.LastTerminationState.Terminated; term == nil || term.ExitCode != 1 {
		t.Errorf("lastState.terminated = %+v, want exit code 1", term)
	}
	// The same pod restarted its container: no pod was replaced.
	after, err := podkit.List[*objects.Pod](ctx, c.o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Errorf("%d pods after the crash, want 3", len(after))
	}
}

// TestMain's flow, as `go run` shows it, also passes.
func TestRun(t *testing.T) {
	if err := run(testContext(t)); err != nil {
		t.Fatal(err)
	}
}
