package podkit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	goruntime "runtime"

	"github.com/podkit/podkit/internal/events"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// RegisterNode stores node (creating it, or updating the spec, labels and
// status of a node of that name) and makes rt the runtime its pods run on.
// Allocatable defaults to capacity, the pod capacity to 110, and the
// labels the kubelet gives its node to kubernetes.io/hostname the node's
// name, kubernetes.io/os linux (the containers' system, whatever the host
// process runs on) and kubernetes.io/arch this process's architecture, so
// that pods selecting them, as many charts' pods do, find the node.
//
// While Run is running, and whenever it runs, a node agent for each
// registered node makes rt run the pods bound to the node and reports their
// status. Registering a node again replaces its runtime and restarts its
// agent, which adopts what the runtime already runs.
//
// With cluster DNS on (WithNetwork) and a runtime that tells the host's
// address on its pod network (runtime.HostAddresser: the Docker and
// containerd backends), the DNS server listens on port 53 of that address,
// the bridge gateway, and the node's pods get it as their nameserver, so
// they resolve Service names; RegisterNode fails when the runtime cannot
// tell the address. If another process already serves DNS there (two
// orchestrators sharing a pod network), a warning is logged and the node's
// pods get the DNS listen addresses as on other runtimes. See package
// network.
func (o *Orchestrator) RegisterNode(ctx context.Context, node *objects.Node, rt runtime.Runtime) error {
	if node == nil {
		return errors.New("RegisterNode: node is nil")
	}
	if rt == nil {
		return fmt.Errorf("RegisterNode %s: runtime is nil", node.Name)
	}
	n := node.DeepCopy()
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k, v := range map[string]string{objects.LabelHostname: n.Name, objects.LabelOS: "linux", objects.LabelArch: goruntime.GOARCH} {
		if _, ok := n.Labels[k]; !ok {
			n.Labels[k] = v // as the kubelet labels its node
		}
	}
	if n.Status.Capacity == nil {
		n.Status.Capacity = objects.ResourceList{}
	}
	if _, ok := n.Status.Capacity[objects.ResourcePods]; !ok {
		n.Status.Capacity[objects.ResourcePods] = objects.MustParseQuantity("110")
	}
	if n.Status.Allocatable == nil {
		n.Status.Allocatable = objects.ResourceList{}
		for k, v := range n.Status.Capacity {
			n.Status.Allocatable[k] = v
		}
	}
	err := o.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.Get(KindNode, objects.Key{Name: n.Name})
		switch {
		case errors.Is(err, store.ErrNotFound):
			if _, err := o.admit(ctx, tx, n, nil, false); err != nil {
				return err
			}
			status := n.Status
			if err := tx.Create(n); err != nil {
				return err
			}
			n.Status = status
		case err != nil:
			return err
		default:
			n.UID, n.ResourceVersion = old.GetObjectMeta().UID, ""
			if _, err := o.admit(ctx, tx, n, old, false); err != nil {
				return err
			}
			status := n.Status
			if err := tx.Update(n); err != nil {
				return err
			}
			n.Status = status
		}
		return tx.UpdateStatus(n)
	})
	if err != nil {
		return err
	}
	agentOpts := []nodeagent.Option{nodeagent.WithEventRecorder(
		o.events.WithSource(events.Source{Component: "kubelet", Host: n.Name}))}
	dnsOpt, err := o.nodeDNS(ctx, n.Name, rt)
	if err != nil {
		return fmt.Errorf("RegisterNode %s: %w", n.Name, err)
	}
	if dnsOpt != nil {
		agentOpts = append(agentOpts, dnsOpt)
	}
	err = o.group.Add(ctx, n.Name, rt, agentOpts...)
	if err != nil {
		return fmt.Errorf("RegisterNode %s: %w", n.Name, err)
	}
	if err := o.setNode(n.Name, rt, agentOpts); err != nil {
		return err
	}
	*node = *n
	return nil
}

// nodeDNS returns the cluster DNS option of the agent of a node on rt, or
// nil for the orchestrator's default (see RegisterNode).
func (o *Orchestrator) nodeDNS(ctx context.Context, name string, rt runtime.Runtime) (nodeagent.Option, error) {
	ha, ok := rt.(runtime.HostAddresser)
	if !ok || o.net.DNS() == nil {
		return nil, nil
	}
	addr, err := ha.HostAddress(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster DNS: the host's address on the pod network: %w", err)
	}
	listen := netip.AddrPortFrom(addr, 53).String()
	if err := o.net.AddDNSListenAddr(listen); err != nil {
		o.log.Warn("pods of this node cannot reach cluster DNS: another process may serve DNS on its pod network; give each orchestrator a pod network of its own",
			"node", name, "addr", listen, "err", err)
		return nil, nil
	}
	o.log.Info("cluster DNS serves the node's pods", "node", name, "addr", listen)
	return nodeagent.WithClusterDNS(o.net.ClusterDomain(), addr.String()), nil
}

// RemoveNode forgets a node's runtime and deletes the Node object. The pods
// bound to it stay, as on a Kubernetes node that is deleted, for their
// controllers and the garbage collector to handle.
func (o *Orchestrator) RemoveNode(ctx context.Context, name string) error {
	o.nodesMu.Lock()
	n := o.nodes[name]
	delete(o.nodes, name)
	o.nodesMu.Unlock()
	if n != nil {
		o.stopAgent(n)
	}
	// Stop the agent before deleting the Node, or it would renew its Lease.
	if err := o.group.Remove(ctx, name); err != nil {
		return err
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Delete(KindNode, objects.Key{Name: name}, store.DeleteOptions{})
		return err
	})
}

// NodeRuntime returns the runtime registered for a node.
func (o *Orchestrator) NodeRuntime(name string) (runtime.Runtime, bool) {
	o.nodesMu.Lock()
	defer o.nodesMu.Unlock()
	n, ok := o.nodes[name]
	if !ok {
		return nil, false
	}
	return n.rt, true
}

// node is a registered node: its runtime and, while Run runs, its agent.
type node struct {
	name      string
	rt        runtime.Runtime
	agentOpts []nodeagent.Option // its agent's, for ReconnectNode
	cancel    context.CancelFunc // stops the agent; nil when none runs
	done      chan struct{}      // closed when the agent has returned
	// disconnected: DisconnectNode stopped the node's loops, which do
	// not start again until ReconnectNode.
	disconnected bool
}

// DisconnectNode makes a registered node unreachable, as a machine that
// vanishes from the network: its agent stops (no heartbeat renews its
// Lease, no status is written), its containers keep running, and its Node
// stays. As in Kubernetes, the node lifecycle controller then finds its
// Lease expired after its grace period (reconcile.NodeLifecycleOptions),
// sets its conditions Unknown, taints it node.kubernetes.io/unreachable
// and marks its pods not Ready, and the taint evicts them once their
// tolerations allow (300 s by default), for their controllers to replace
// elsewhere. ReconnectNode brings it back.
func (o *Orchestrator) DisconnectNode(ctx context.Context, name string) error {
	o.nodesMu.Lock()
	n := o.nodes[name]
	if n != nil {
		n.disconnected = true
	}
	o.nodesMu.Unlock()
	if n == nil {
		return fmt.Errorf("DisconnectNode: node %s is not registered", name)
	}
	o.stopAgent(n)
	return o.group.Remove(ctx, name)
}

// ReconnectNode starts again the agent of a node DisconnectNode
// disconnected, on the same runtime, as a kubelet whose machine comes back:
// it renews the Lease and reports status again, adopts the containers of
// the pods still bound to the node and removes those of pods deleted
// meanwhile. A node that is connected is left as it is.
func (o *Orchestrator) ReconnectNode(ctx context.Context, name string) error {
	o.nodesMu.Lock()
	n := o.nodes[name]
	o.nodesMu.Unlock()
	if n == nil {
		return fmt.Errorf("ReconnectNode: node %s is not registered", name)
	}
	if _, running := o.group.Agent(name); running {
		return nil
	}
	if err := o.group.Add(ctx, name, n.rt, n.agentOpts...); err != nil {
		return fmt.Errorf("ReconnectNode %s: %w", name, err)
	}
	o.nodesMu.Lock()
	defer o.nodesMu.Unlock()
	n.disconnected = false
	if o.runCtx != nil && o.nodes[name] == n && n.cancel == nil {
		return o.startAgentLocked(n)
	}
	return nil
}

// stopAgent stops n's per-node loops, if they run, and waits for them.
func (o *Orchestrator) stopAgent(n *node) {
	o.nodesMu.Lock()
	cancel, done := n.cancel, n.done
	n.cancel, n.done = nil, nil
	o.nodesMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// setNode records rt as the runtime of a node, replacing (and stopping the
// agent of) an earlier registration, and starts its agent if Run runs.
func (o *Orchestrator) setNode(name string, rt runtime.Runtime, agentOpts []nodeagent.Option) error {
	o.nodesMu.Lock()
	old := o.nodes[name]
	n := &node{name: name, rt: rt, agentOpts: agentOpts}
	o.nodes[name] = n
	o.nodesMu.Unlock()
	if old != nil {
		o.stopAgent(old)
	}
	o.nodesMu.Lock()
	defer o.nodesMu.Unlock()
	if o.runCtx != nil && o.nodes[name] == n {
		return o.startAgentLocked(n)
	}
	return nil
}

// startAgentLocked starts the per-node loops that are not the agent
// itself (the agent group runs the agents): the stats scraper that feeds
// the autoscaler. nodesMu is held.
func (o *Orchestrator) startAgentLocked(n *node) error {
	scraper := reconcile.NewStatsScraper(o.store, n.name, n.rt, o.metrics, o.clock, 0)
	ctx, cancel := context.WithCancel(o.runCtx)
	done := make(chan struct{})
	n.cancel, n.done = cancel, done
	o.agents.Add(1)
	go func() {
		defer o.agents.Done()
		defer close(done)
		if err := scraper.Run(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("stats scraper stopped", "node", n.name, "err", err)
		}
	}()
	return nil
}

// runNodeLoops starts the per-node loops of every registered node and,
// when ctx ends, returns after every one has returned.
func (o *Orchestrator) runNodeLoops(ctx context.Context) error {
	o.nodesMu.Lock()
	o.runCtx = ctx
	var err error
	for _, n := range o.nodes {
		if n.disconnected {
			continue
		}
		if err = o.startAgentLocked(n); err != nil {
			break
		}
	}
	o.nodesMu.Unlock()
	if err == nil {
		<-ctx.Done()
	}
	o.nodesMu.Lock()
	o.runCtx = nil // agents started from here on wait for the next Run
	nodes := make([]*node, 0, len(o.nodes))
	for _, n := range o.nodes {
		nodes = append(nodes, n)
	}
	o.nodesMu.Unlock()
	for _, n := range nodes {
		o.stopAgent(n)
	}
	o.agents.Wait()
	return err
}

// Cordon marks a node unschedulable, like `kubectl cordon`.
func (o *Orchestrator) Cordon(ctx context.Context, name string) error {
	return reconcile.Cordon(ctx, o.store, name)
}

// Uncordon makes a cordoned node schedulable again.
func (o *Orchestrator) Uncordon(ctx context.Context, name string) error {
	return reconcile.Uncordon(ctx, o.store, name)
}

// Drain cordons a node and evicts its pods gracefully, like `kubectl
// drain`: DaemonSet pods stay; pods no controller manages, or with emptyDir
// data, are evicted only when opts allow it; a pod its
// PodDisruptionBudget refuses is asked for again every 5 seconds (on the
// orchestrator's clock unless opts has one) until the budget allows it or
// ctx ends. It returns once the evicted pods are gone. See
// reconcile.Drain.
func (o *Orchestrator) Drain(ctx context.Context, name string, opts reconcile.DrainOptions) error {
	if opts.Clock == nil {
		opts.Clock = o.clock
	}
	return reconcile.Drain(ctx, o.store, name, opts)
}

// Evict evicts a pod (in the default namespace when key names none)
// through the eviction API, as Kubernetes' pods/eviction subresource,
// which kubectl drain calls, does: the pod is deleted gracefully unless
// its PodDisruptionBudget allows no disruption now, which is an error
// wrapping reconcile.ErrDisruptionBudget (Kubernetes' 429
// TooManyRequests: retry later). A missing pod is an error wrapping
// store.ErrNotFound. See reconcile.Evict.
func (o *Orchestrator) Evict(ctx context.Context, key objects.Key) error {
	return reconcile.Evict(ctx, o.store, o.namespaced(key), reconcile.EvictOptions{Clock: o.clock})
}

// Metrics returns the pod resource usage the autoscaler reads, fed from
// each node's runtime stats while it is read (see reconcile.MemoryMetrics);
// tests and hosts may also set usage directly.
func (o *Orchestrator) Metrics() *reconcile.MemoryMetrics { return o.metrics }
