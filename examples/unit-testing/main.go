package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "unit-testing:", err)
		os.Exit(1)
	}
}

// run registers three fake nodes, deploys "web" with DeployApp, crashes one
// of its containers and shows the node agent restarting it.
func run(ctx context.Context) (err error) {
	start := time.Now()
	o, err := podkit.New(
		// A crashed container is restarted after 10ms rather than 10s.
		podkit.WithNodeAgent(nodeagent.WithCrashLoopBackOff(10*time.Millisecond, 100*time.Millisecond, time.Minute)),
	)
	if err != nil {
		return err
	}
	defer o.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		err = errors.Join(err, <-done) // Run returns once every loop has
	}()

	rts := map[string]*fake.Runtime{}
	for i, name := range []string{"node-1", "node-2", "node-3"} {
		rt, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.244.%d.0/24", i+1)))
		if err != nil {
			return err
		}
		rts[name] = rt
		node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{
				"cpu": objects.MustParseQuantity("4"), "memory": objects.MustParseQuantity("8Gi")}}}
		if err := o.RegisterNode(ctx, node, rt); err != nil {
			return err
		}
	}

	if err := DeployApp(ctx, o, "web", "example.com/web:1.0", 3); err != nil {
		return err
	}
	fmt.Println("deployment.apps/web created")
	fmt.Println("service/web created")
	dep := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	if err := o.WaitFor(ctx, dep, podkit.Available); err != nil {
		return err
	}
	fmt.Printf("deployment %q successfully rolled out\n\n", dep.Name)
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		return err
	}
	kubectl.PrintPods(os.Stdout, time.Now(), pods)

	victim := pods[0]
	fmt.Printf("\ncrashing container app of pod %s on %s (exit code 1)\n", victim.Name, victim.Spec.NodeName)
	if n := rts[victim.Spec.NodeName].Kill(fake.Container("default", victim.Name, "app"), 1); n != 1 {
		return fmt.Errorf("killed %d containers, want 1", n)
	}
	if err := o.WaitFor(ctx, victim, restartedAndReady); err != nil {
		return err
	}
	fmt.Printf("pod %s restarted its container and is Ready again\n\n", victim.Name)
	pods, err = podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		return err
	}
	kubectl.PrintPods(os.Stdout, time.Now(), pods)
	fmt.Printf("\ndone in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// restartedAndReady holds for a pod whose container has restarted at least
// once and is Ready again.
func restartedAndReady(obj objects.Object) bool {
	p, ok := obj.(*objects.Pod)
	return ok && len(p.Status.ContainerStatuses) == 1 &&
		p.Status.ContainerStatuses[0].RestartCount >= 1 && objects.IsPodReady(p)
}
