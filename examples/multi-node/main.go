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
// The failure is simulated the same way on every runtime: node-a is given
// its runtime through a wrapper (failingRuntime, in failing.go) that, when
// switched, fails every call with runtime.ErrUnavailable, as a daemon
// whose socket stopped answering does. On docker and containerd the
// containers keep running meanwhile, as they would; nothing is done to
// the daemon itself, which the other nodes keep using.
//
//	go run ./examples/multi-node [-runtime docker|containerd|fake] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/reconcile/nodeagent"
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
        image: %[1]s
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
        image: %[1]s
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
        resources:
          requests: {cpu: 100m, memory: 64Mi}
`

// Timings, short so the failure plays out in seconds. Kubernetes' defaults
// are a 10s heartbeat and 300s of toleration. The node agent reports its
// node NotReady at the first heartbeat whose runtime check fails; the
// grace period only matters for an agent that stops heartbeating, and is
// longer on the real runtimes, whose daemons a loaded host may slow.
const toleration = 2 // seconds a pod stays on a not-ready node

func timings(onReal bool) (heartbeat, grace time.Duration) {
	if onReal {
		return 500 * time.Millisecond, 15 * time.Second
	}
	return 200 * time.Millisecond, 4 * time.Second
}

func main() { exampleutil.Main("multi-node", run) }

// run runs the example with the command-line arguments args, writing
// progress to out. It returns nil when everything shown worked.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("multi-node", flag.ContinueOnError)
	flags := exampleutil.Flags(fs)
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()

	flags.ChooseRuntime(ctx, out)
	onReal := flags.Runtime != cluster.Fake
	heartbeat, grace := timings(onReal)
	prefix := ""
	if flags.Cluster != "" {
		prefix = flags.Cluster + "-"
	}
	nodeA, nodeB, nodeC := prefix+"node-a", prefix+"node-b", prefix+"node-c"
	opts := cluster.Options{
		NodeNames: []string{nodeA, nodeB, nodeC},
		Node: func(i int, n *objects.Node) {
			zone := string(rune('a' + i))
			n.Labels = map[string]string{objects.LabelZone: "zone-" + zone}
			if zone == "c" {
				n.Spec.Taints = []objects.Taint{{Key: "dedicated", Value: "gpu", Effect: objects.TaintEffectNoSchedule}}
			}
		},
		Orchestrator: []podkit.Option{
			podkit.WithNodeAgent(nodeagent.WithHeartbeat(heartbeat, 5*heartbeat)),
			podkit.WithControllers(reconcile.WithNodeLifecycle(reconcile.NodeLifecycleOptions{
				GracePeriod:              grace,
				DefaultTolerationSeconds: toleration,
			})),
		},
	}
	if onReal {
		// No Service here: no service proxy, whose nftables table may be
		// another orchestrator's too, and cluster DNS on a free loopback
		// port rather than on port 53, which another may hold.
		addr, err := exampleutil.FreeLoopbackAddr()
		if err != nil {
			return err
		}
		opts.Network = []network.Option{network.WithDNS([]string{addr}), network.WithDataPlane(network.DataPlaneNone)}
	}
	c, err := exampleutil.Start(ctx, out, flags, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()
	o := c.Orchestrator

	// node-a's agent gets the runtime through the switch that will make it
	// fail. Registering a node again replaces its runtime.
	rtA, failA, err := newFailingRuntime(c.Runtime)
	if err != nil {
		return err
	}
	a := &objects.Node{}
	if err := o.Get(ctx, objects.Key{Name: nodeA}, a); err != nil {
		return err
	}
	if err := o.RegisterNode(ctx, a, rtA); err != nil {
		return err
	}
	defer failA.Fail(false) // so that cleanup can stop node-a's pods

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
	fmt.Fprintln(out, "\n$ kubectl get nodes -L topology.kubernetes.io/zone")
	if err := printNodes(ctx, o, out); err != nil {
		return err
	}

	objs, err := o.Scheme().Decode(strings.NewReader(fmt.Sprintf(manifests, c.DemoImage)))
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := exampleutil.Cleanup(ctx, time.Minute)
		defer cancel()
		failA.Fail(false)
		err = errors.Join(err, exampleutil.Delete(ctx, io.Discard, o, objs...), exampleutil.WaitGone(ctx, c, "default"))
	}()
	if err := o.Apply(ctx, objs...); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n$ kubectl apply -f log-agent.yaml -f web.yaml\ndaemonset.apps/log-agent created\ndeployment.apps/web created")
	ds := &objects.DaemonSet{ObjectMeta: objects.ObjectMeta{Name: "log-agent"}}
	if err := o.WaitFor(ctx, ds, podkit.Available); err != nil {
		return err
	}
	fmt.Fprintf(out, "daemon set %q successfully rolled out (%d of %d nodes)\n", ds.Name, ds.Status.NumberAvailable, ds.Status.DesiredNumberScheduled)
	dep := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	if err := o.WaitFor(ctx, dep, podkit.Available); err != nil {
		return err
	}
	fmt.Fprintf(out, "deployment %q successfully rolled out\n\n", dep.Name)
	if ds.Status.DesiredNumberScheduled != 3 {
		return fmt.Errorf("daemon set runs on %d nodes, want 3 (it tolerates %s's taint)", ds.Status.DesiredNumberScheduled, nodeC)
	}
	if err := printPods(ctx, o, out); err != nil {
		return err
	}
	web, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	if err != nil {
		return err
	}
	onA := 0
	for _, p := range web {
		if p.Spec.NodeName == nodeC {
			return fmt.Errorf("pod %s runs on %s, whose taint it does not tolerate", p.Name, nodeC)
		}
		if p.Spec.NodeName == nodeA {
			onA++
		}
	}
	if onA == 0 {
		return fmt.Errorf("no web pod runs on %s, the node about to fail; nothing to show", nodeA)
	}

	// The failure: node-a's runtime stops answering.
	failed := time.Now()
	fmt.Fprintf(out, "\n*** %s: container runtime stops answering (%d web pods there) ***\n", nodeA, onA)
	failA.Fail(true)
	if err := waitNodes(ctx, o, func(ns []*objects.Node) bool {
		n := find(ns, nodeA)
		return n != nil && nodeStatus(n) == "NotReady" && hasTaint(n, objects.TaintNodeNotReady, objects.TaintEffectNoExecute)
	}); err != nil {
		return fmt.Errorf("%s was not marked NotReady and tainted: %w", nodeA, err)
	}
	fmt.Fprintf(out, "%s is NotReady and tainted %s:NoExecute after %v\n\n", nodeA, objects.TaintNodeNotReady, time.Since(failed).Round(100*time.Millisecond))
	if err := printNodes(ctx, o, out); err != nil {
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
			if p.Spec.NodeName != nodeB || !objects.IsPodReady(p) {
				return false
			}
			live++
		}
		return live == 3
	}); err != nil {
		return fmt.Errorf("web pods were not replaced on %s: %w", nodeB, err)
	}
	fmt.Fprintf(out, "\nweb pods evicted from %s and replaced on %s after %v\n\n", nodeA, nodeB, time.Since(failed).Round(100*time.Millisecond))
	if err := printPods(ctx, o, out); err != nil {
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
	if len(agents) != 3 || perNode[nodeA] != 1 || perNode[nodeB] != 1 || perNode[nodeC] != 1 {
		return fmt.Errorf("want one log-agent pod per node, %s's kept, got %v", nodeA, perNode)
	}
	fmt.Fprintf(out, "\nthe log-agent pod stays on %s (DaemonSet pods tolerate not-ready) and is not recreated elsewhere\n", nodeA)

	// Recovery: the runtime answers again, the node turns Ready, and its
	// agent stops the pods that were evicted while it could not.
	fmt.Fprintf(out, "\n*** %s: container runtime is back ***\n", nodeA)
	failA.Fail(false)
	if err := waitPods(ctx, o, "app=web", func(ps []*objects.Pod) bool {
		return len(ps) == 3
	}); err != nil {
		return fmt.Errorf("evicted pods did not finish terminating: %w", err)
	}
	if err := waitNodes(ctx, o, func(ns []*objects.Node) bool {
		n := find(ns, nodeA)
		return n != nil && nodeStatus(n) == "Ready" && !hasTaint(n, objects.TaintNodeNotReady, objects.TaintEffectNoExecute)
	}); err != nil {
		return fmt.Errorf("%s did not recover: %w", nodeA, err)
	}
	fmt.Fprintf(out, "%s is Ready again; the evicted pods are gone\n\n", nodeA)
	if err := printNodes(ctx, o, out); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := printPods(ctx, o, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nmulti-node example: everything shown worked on %s in %v\n", c.RuntimeName, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func printNodes(ctx context.Context, o *podkit.Orchestrator, out io.Writer) error {
	nodes, err := podkit.List[*objects.Node](ctx, o, "")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
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

func printPods(ctx context.Context, o *podkit.Orchestrator, out io.Writer) error {
	pods, err := podkit.List[*objects.Pod](ctx, o, "default")
	if err != nil {
		return err
	}
	kubectl.PrintPods(out, o.Clock().Now(), pods)
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
