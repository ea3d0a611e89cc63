// Command multi-node shows scheduling across labelled and tainted nodes and
// what happens when a node fails.
//
// Three nodes in zones a, b and c; node-c is tainted dedicated=gpu:NoSchedule.
// A DaemonSet that tolerates the taint runs on every node, a Deployment's
// pods only on node-a and node-b. Then node-a's container runtime stops
// answering: its node agent reports the node NotReady, the node lifecycle
// controller taints it node.kubernetes.io/not-ready:NoExecute and, after
// the pods' toleration runs out, evicts them; the Deployment replaces them
// on node-b, and the DaemonSet pod stays on node-a. Finally the runtime
// comes back and the evicted pods finish terminating.
//
//	go run ./examples/multi-node
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
)

const manifests = `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: log-agent
spec:
  selector:
    matchLabels: {app: log-agent}
  template:
    metadata:
      labels: {app: log-agent}
    spec:
      tolerations:
      - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}
      containers:
      - name: agent
        image: example.com/log-agent:1.0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: example.com/web:1.0
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`

// Timings, short so the failure plays out in seconds. Kubernetes' defaults
// are a 10s heartbeat and 300s of toleration.
const (
	heartbeat  = 200 * time.Millisecond
	toleration = 2 // seconds a pod stays on a not-ready node
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "multi-node:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	start := time.Now()
	o, err := podkit.New(
		podkit.WithNodeAgent(nodeagent.WithHeartbeat(heartbeat, 5*heartbeat)),
		podkit.WithControllers(reconcile.WithNodeLifecycle(reconcile.NodeLifecycleOptions{
			GracePeriod:              20 * heartbeat,
			DefaultTolerationSeconds: toleration,
		})),
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
	for i, zone := range []string{"a", "b", "c"} {
		name := "node-" + zone
		rt, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.244.%d.0/24", i+1)))
		if err != nil {
			return err
		}
		rts[name] = rt
		node := &objects.Node{
			ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{objects.LabelZone: "zone-" + zone}},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{
				"cpu": objects.MustParseQuantity("4"), "memory": objects.MustParseQuantity("8Gi")}},
		}
		if zone == "c" {
			node.Spec.Taints = []objects.Taint{{Key: "dedicated", Value: "gpu", Effect: objects.TaintEffectNoSchedule}}
		}
		if err := o.RegisterNode(ctx, node, rt); err != nil {
			return err
		}
	}
	if err := waitNodes(ctx, o, func(ns []*objects.Node) bool {
		for _, n := range ns {
			if nodeStatus(n) != "Ready" {
				return false
			}
		}
		return len(ns) == 3
	}); err != nil {
		return fmt.Errorf("nodes did not become Ready: %w", err)
	}
	if err := printNodes(ctx, o); err != nil {
		return err
	}

	objs, err := objects.DecodeYAML(strings.NewReader(manifests))
	if err != nil {
		return err
	}
	if err := o.Apply(ctx, objs...); err != nil {
		return err
	}
	fmt.Println("\ndaemonset.apps/log-agent created\ndeployment.apps/web created")
	ds := &objects.DaemonSet{ObjectMeta: objects.ObjectMeta{Name: "log-agent"}}
	if err := o.WaitFor(ctx, ds, podkit.Available); err != nil {
		return err
	}
	fmt.Printf("daemon set %q successfully rolled out (%d of %d nodes)\n", ds.Name, ds.Status.NumberAvailable, ds.Status.DesiredNumberScheduled)
	dep := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	if err := o.WaitFor(ctx, dep, podkit.Available); err != nil {
		return err
	}
	fmt.Printf("deployment %q successfully rolled out\n\n", dep.Name)
	if ds.Status.DesiredNumberScheduled != 3 {
		return fmt.Errorf("daemon set runs on %d nodes, want 3 (it tolerates node-c's taint)", ds.Status.DesiredNumberScheduled)
	}
	if err := printPods(ctx, o); err != nil {
		return err
	}
	web, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		return err
	}
	onA := 0
	for _, p := range web {
		if p.Spec.NodeName == "node-c" {
			return fmt.Errorf("pod %s runs on node-c, whose taint it does not tolerate", p.Name)
		}
		if p.Spec.NodeName == "node-a" {
			onA++
		}
	}
	if onA == 0 {
		return errors.New("no web pod runs on node-a, the node about to fail; nothing to show")
	}

	// The failure: node-a's runtime stops answering.
	failed := time.Now()
	fmt.Printf("\n*** node-a: container runtime stops answering (%d web pods there) ***\n", onA)
	rts["node-a"].SetUnavailable(true)
	if err := waitNodes(ctx, o, func(ns []*objects.Node) bool {
		n := find(ns, "node-a")
		return n != nil && nodeStatus(n) == "NotReady" && hasTaint(n, objects.TaintNodeNotReady, objects.TaintEffectNoExecute)
	}); err != nil {
		return fmt.Errorf("node-a was not marked NotReady and tainted: %w", err)
	}
	fmt.Printf("node-a is NotReady and tainted %s:NoExecute after %v\n\n", objects.TaintNodeNotReady, time.Since(failed).Round(100*time.Millisecond))
	if err := printNodes(ctx, o); err != nil {
		return err
	}

	// The web pods on node-a are evicted once their toleration of the taint
	// runs out, and the Deployment replaces them where they can run.
	if err := waitPods(ctx, o, "app=web", func(ps []*objects.Pod) bool {
		live := 0
		for _, p := range ps {
			if p.DeletionTimestamp != nil {
				continue
			}
			if p.Spec.NodeName != "node-b" || !objects.IsPodReady(p) {
				return false
			}
			live++
		}
		return live == 3
	}); err != nil {
		return fmt.Errorf("web pods were not replaced on node-b: %w", err)
	}
	fmt.Printf("\nweb pods evicted from node-a and replaced on node-b after %v\n\n", time.Since(failed).Round(100*time.Millisecond))
	if err := printPods(ctx, o); err != nil {
		return err
	}
	agents, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=log-agent"))
	if err != nil {
		return err
	}
	perNode := map[string]int{}
	for _, p := range agents {
		perNode[p.Spec.NodeName]++
	}
	if len(agents) != 3 || perNode["node-a"] != 1 || perNode["node-b"] != 1 || perNode["node-c"] != 1 {
		return fmt.Errorf("want one log-agent pod per node, node-a's kept, got %v", perNode)
	}
	fmt.Println("\nthe log-agent pod stays on node-a (DaemonSet pods tolerate not-ready) and is not recreated elsewhere")

	// Recovery: the runtime answers again, the node turns Ready, and its
	// agent stops the pods that were evicted while it could not.
	fmt.Println("\n*** node-a: container runtime is back ***")
	rts["node-a"].SetUnavailable(false)
	if err := waitPods(ctx, o, "app=web", func(ps []*objects.Pod) bool {
		return len(ps) == 3
	}); err != nil {
		return fmt.Errorf("evicted pods did not finish terminating: %w", err)
	}
	if err := waitNodes(ctx, o, func(ns []*objects.Node) bool {
		n := find(ns, "node-a")
		return n != nil && nodeStatus(n) == "Ready" && !hasTaint(n, objects.TaintNodeNotReady, objects.TaintEffectNoExecute)
	}); err != nil {
		return fmt.Errorf("node-a did not recover: %w", err)
	}
	fmt.Print("node-a is Ready again; the evicted pods are gone\n\n")
	if err := printNodes(ctx, o); err != nil {
		return err
	}
	fmt.Println()
	if err := printPods(ctx, o); err != nil {
		return err
	}
	fmt.Printf("\ndone in %v\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

func printNodes(ctx context.Context, o *podkit.Orchestrator) error {
	nodes, err := podkit.List[*objects.Node](ctx, o, "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tZONE\tTAINTS")
	for _, n := range nodes {
		var taints []string
		for _, t := range n.Spec.Taints {
			s := t.Key
			if t.Value != "" {
				s += "=" + t.Value
			}
			taints = append(taints, s+":"+string(t.Effect))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.Name, nodeStatus(n), n.Labels[objects.LabelZone], kubectl.OrNone(strings.Join(taints, ",")))
	}
	return tw.Flush()
}

func printPods(ctx context.Context, o *podkit.Orchestrator) error {
	pods, err := podkit.List[*objects.Pod](ctx, o, "default")
	if err != nil {
		return err
	}
	kubectl.PrintPods(os.Stdout, time.Now(), pods)
	return nil
}

// nodeStatus is the STATUS column of `kubectl get nodes`.
func nodeStatus(n *objects.Node) string {
	s := "NotReady"
	if c := objects.GetNodeCondition(&n.Status, objects.NodeReady); c != nil {
		switch c.Status {
		case objects.ConditionTrue:
			s = "Ready"
		case objects.ConditionUnknown:
			s = "Unknown"
		}
	}
	if n.Spec.Unschedulable {
		s += ",SchedulingDisabled"
	}
	return s
}

func hasTaint(n *objects.Node, key string, effect objects.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func find(ns []*objects.Node, name string) *objects.Node {
	for _, n := range ns {
		if n.Name == name {
			return n
		}
	}
	return nil
}
