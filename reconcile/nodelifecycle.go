package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindLease = "Lease"

// Defaults of NodeLifecycleOptions, as Kubernetes has them.
const (
	// DefaultNodeGracePeriod is how long a node may go without renewing its
	// Lease (or posting its Ready condition) before it is Unknown: the
	// kube-controller-manager's node-monitor-grace-period.
	DefaultNodeGracePeriod = 40 * time.Second
	// DefaultNodeStartupGracePeriod is how long a new node may take to
	// post its first heartbeat.
	DefaultNodeStartupGracePeriod = 60 * time.Second
	// DefaultTolerationSeconds is how long a pod without a toleration of
	// its own stays on a not-ready or unreachable node, as the
	// DefaultTolerationSeconds admission plugin gives every pod.
	DefaultTolerationSeconds int64 = 300
)

// Reasons the node lifecycle controller writes.
const (
	ReasonNodeStatusUnknown = "NodeStatusUnknown"
	// ReasonDeletionByTaintManager is the reason of the DisruptionTarget
	// condition of a pod evicted by a NoExecute taint.
	ReasonDeletionByTaintManager = "DeletionByTaintManager"
)

// NodeLifecycleOptions tune the node lifecycle controller. Zero fields take
// the defaults.
type NodeLifecycleOptions struct {
	// GracePeriod: a node whose last heartbeat is older is marked Unknown
	// (default DefaultNodeGracePeriod). It should exceed the node agents'
	// lease renewal interval several times over.
	GracePeriod time.Duration
	// StartupGracePeriod: a node that never sent a heartbeat is marked
	// Unknown this long after it was created (default
	// DefaultNodeStartupGracePeriod).
	StartupGracePeriod time.Duration
	// DefaultTolerationSeconds: a pod that does not tolerate the
	// node.kubernetes.io/not-ready or unreachable NoExecute taint itself is
	// evicted this long after the taint appears (default
	// DefaultTolerationSeconds; negative: at once).
	DefaultTolerationSeconds int64
}

func (o NodeLifecycleOptions) withDefaults() NodeLifecycleOptions {
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultNodeGracePeriod
	}
	if o.StartupGracePeriod <= 0 {
		o.StartupGracePeriod = DefaultNodeStartupGracePeriod
	}
	if o.DefaultTolerationSeconds == 0 {
		o.DefaultTolerationSeconds = DefaultTolerationSeconds
	}
	if o.DefaultTolerationSeconds < 0 {
		o.DefaultTolerationSeconds = 0
	}
	return o
}

// NodeLifecycleController returns the node lifecycle controller, for
// Manager.Add. It plays the parts of Kubernetes' node lifecycle controller,
// taint manager and pod garbage collector:
//
//   - Heartbeats: a node's heartbeat is the later of its Lease's renewTime
//     (namespace kube-node-lease, renewed by its node agent) and its Ready
//     condition's lastHeartbeatTime. When it is older than GracePeriod, the
//     node's conditions become Unknown (reason NodeStatusUnknown, "Kubelet
//     stopped posting node status.") and its pods not Ready. The node agent
//     sets Ready back when it returns. As in Kubernetes, the controller
//     gives every node it sees for the first time a full grace period,
//     however old its heartbeat: a heartbeat a durable store kept from
//     before a restart does not make a node Unknown before its agent had a
//     chance to renew it.
//   - Taints follow the Ready condition: False adds
//     node.kubernetes.io/not-ready, Unknown node.kubernetes.io/unreachable,
//     each with effects NoSchedule and NoExecute (timeAdded set); True
//     removes them. spec.unschedulable (a cordon) adds
//     node.kubernetes.io/unschedulable:NoSchedule.
//   - Eviction: a pod on a node with NoExecute taints it does not tolerate
//     is deleted at once; one that tolerates them for tolerationSeconds is
//     deleted that long after the taint's timeAdded (the shortest of its
//     tolerations counts); one that tolerates them without a limit stays.
//     A pod with no toleration of its own for the not-ready or unreachable
//     taint is treated as tolerating it for DefaultTolerationSeconds (what
//     Kubernetes' admission adds to every pod). The eviction sets the pod's
//     DisruptionTarget condition and deletes it with its grace period; its
//     controller replaces it elsewhere. DaemonSet pods tolerate both taints
//     without limit, so they stay.
//   - Pods bound to a node that no longer exists are deleted at once.
func NodeLifecycleController(m *Manager, opts NodeLifecycleOptions) Controller {
	r := &nodeLifecycleReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder(), opts: opts.withDefaults(), seen: map[string]time.Time{}}
	return Controller{
		Name: "node-lifecycle",
		For:  kindNode,
		Watches: []Watch{
			{Kind: kindLease, Map: nodeOfLease},
			{Kind: kindPod, Map: r.podNode},
		},
		Reconciler: r,
		Workers:    4,
	}
}

type nodeLifecycleReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
	opts  NodeLifecycleOptions

	// seen is when the controller first saw each node.
	mu   sync.Mutex
	seen map[string]time.Time
}

// firstSeen returns when the controller first saw node name, now if this
// is the first time.
func (r *nodeLifecycleReconciler) firstSeen(name string, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.seen[name]
	if !ok {
		r.seen[name] = now
		t = now
	}
	return t
}

func nodeOfLease(obj objects.Object) []Request {
	m := obj.GetObjectMeta()
	if m.Namespace != objects.NamespaceNodeLease {
		return nil
	}
	return []Request{{Name: m.Name}}
}

// podNode maps a pod to its node when the node may have to act on it: it
// is tainted NoExecute, not Ready, or gone.
func (r *nodeLifecycleReconciler) podNode(obj objects.Object) []Request {
	p := obj.(*objects.Pod)
	if p.Spec.NodeName == "" {
		return nil
	}
	if inf := r.c.m.currentRun().informer(kindNode); inf != nil {
		o, ok := inf.Get(objects.Key{Name: p.Spec.NodeName})
		if ok && !nodeActsOnPods(o.(*objects.Node)) {
			return nil // most pods' changes, on a healthy node
		}
	}
	return []Request{{Name: p.Spec.NodeName}}
}

// nodeActsOnPods reports whether the node lifecycle controller acts on the
// node's pods: it is tainted NoExecute or its Ready condition is Unknown.
func nodeActsOnPods(n *objects.Node) bool {
	if slices.ContainsFunc(n.Spec.Taints, func(t objects.Taint) bool { return t.Effect == objects.TaintEffectNoExecute }) {
		return true
	}
	c := objects.GetNodeCondition(&n.Status, objects.NodeReady)
	return c != nil && c.Status == objects.ConditionUnknown
}

func (r *nodeLifecycleReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	// Most reconciles (a heartbeat) only read the node: the cache's own,
	// replaced by what a write stored when one changes it.
	o, err := r.c.getShared(ctx, kindNode, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		r.mu.Lock()
		delete(r.seen, req.Name)
		r.mu.Unlock()
		return Result{}, r.deleteOrphanedPods(ctx, req.Name)
	}
	if err != nil {
		return Result{}, err
	}
	node := o.(*objects.Node)
	now := r.clock.Now()
	var res Result
	wait, node, err := r.monitor(ctx, node, now)
	if err != nil {
		return Result{}, err
	}
	if wait > 0 {
		res.RequeueAfter = wait
	}
	if node, err = r.syncTaints(ctx, node, now); err != nil {
		return Result{}, err
	}
	unknown := false
	if c := objects.GetNodeCondition(&node.Status, objects.NodeReady); c != nil && c.Status == objects.ConditionUnknown {
		unknown = true
	}
	if !unknown && !slices.ContainsFunc(node.Spec.Taints, func(t objects.Taint) bool { return t.Effect == objects.TaintEffectNoExecute }) {
		return res, nil // a healthy node: its pods need nothing (the common case, on every heartbeat)
	}
	pods, err := r.podsOn(ctx, node.Name)
	if err != nil {
		return Result{}, err
	}
	if unknown {
		if err := r.markPodsNotReady(ctx, node, pods, now); err != nil {
			return Result{}, err
		}
	}
	next, err := r.evict(ctx, node, pods, now)
	if err != nil {
		return Result{}, err
	}
	if next > 0 && (res.RequeueAfter == 0 || next < res.RequeueAfter) {
		res.RequeueAfter = next
	}
	return res, nil
}

// monitor marks the node Unknown when its heartbeat is too old, and
// otherwise returns when to look again. It returns the node as it left it:
// node, which it only reads, or what it stored.
func (r *nodeLifecycleReconciler) monitor(ctx context.Context, node *objects.Node, now time.Time) (time.Duration, *objects.Node, error) {
	var lease *objects.Lease
	if o, err := r.c.getShared(ctx, kindLease, objects.Key{Namespace: objects.NamespaceNodeLease, Name: node.Name}); err == nil {
		lease = o.(*objects.Lease)
	}
	if wait := r.untilExpiry(node, lease, now); wait > 0 {
		return wait, node, nil
	}
	// Expired by the caches; the lease's cache may lag behind the node's,
	// so look again in the store before marking the node.
	var marked *objects.Node
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		marked = nil
		o, err := tx.Get(kindNode, node.Key())
		if err != nil {
			return err
		}
		cur := o.(*objects.Node)
		var lease *objects.Lease
		if o, err := tx.Get(kindLease, objects.Key{Namespace: objects.NamespaceNodeLease, Name: node.Name}); err == nil {
			lease = o.(*objects.Lease)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if r.untilExpiry(cur, lease, now) > 0 {
			return nil
		}
		changed := false
		for _, t := range []objects.NodeConditionType{objects.NodeReady, objects.NodeMemoryPressure, objects.NodeDiskPressure, objects.NodePIDPressure} {
			changed = setConditionUnknown(cur, t, now) || changed
		}
		if !changed {
			return nil
		}
		if err := tx.UpdateStatus(cur); err != nil {
			return err
		}
		marked = cur
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	if marked == nil {
		return 0, node, nil
	}
	r.rec.Event(ctx, marked, EventNormal, "NodeNotReady", fmt.Sprintf("Node %s status is now: NodeNotReady", marked.Name))
	return 0, marked, nil
}

// untilExpiry is how long until the node's heartbeat is too old: the later
// of its Lease renewal and Ready heartbeat, plus the grace period (the
// startup grace period from its creation when it never sent one), counted
// from when the controller first saw the node at the earliest.
func (r *nodeLifecycleReconciler) untilExpiry(node *objects.Node, lease *objects.Lease, now time.Time) time.Duration {
	var last time.Time
	if c := objects.GetNodeCondition(&node.Status, objects.NodeReady); c != nil {
		last = c.LastHeartbeatTime.Time
	}
	if lease != nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(last) {
		last = lease.Spec.RenewTime.Time
	}
	grace := r.opts.GracePeriod
	if last.IsZero() {
		last, grace = node.CreationTimestamp.Time, r.opts.StartupGracePeriod
	}
	if seen := r.firstSeen(node.Name, now); seen.After(last) {
		last = seen
	}
	return last.Add(grace).Sub(now)
}

// setConditionUnknown sets a condition the node reported (Ready always) to
// Unknown, and reports whether it changed.
func setConditionUnknown(n *objects.Node, t objects.NodeConditionType, now time.Time) bool {
	c := objects.GetNodeCondition(&n.Status, t)
	if c == nil {
		if t != objects.NodeReady {
			return false
		}
		n.Status.Conditions = append(n.Status.Conditions, objects.NodeCondition{Type: t})
		c = &n.Status.Conditions[len(n.Status.Conditions)-1]
	}
	if c.Status == objects.ConditionUnknown {
		return false
	}
	c.Status, c.Reason, c.Message = objects.ConditionUnknown, ReasonNodeStatusUnknown, "Kubelet stopped posting node status."
	c.LastTransitionTime = objects.NewTime(now)
	return true
}

// syncTaints makes the node's condition taints match its Ready condition
// and cordon. It returns the node as it left it: node, which it only
// reads, or what it stored.
func (r *nodeLifecycleReconciler) syncTaints(ctx context.Context, node *objects.Node, now time.Time) (*objects.Node, error) {
	want := map[string]bool{}
	if c := objects.GetNodeCondition(&node.Status, objects.NodeReady); c != nil {
		switch c.Status {
		case objects.ConditionFalse:
			want[objects.TaintNodeNotReady] = true
		case objects.ConditionUnknown:
			want[objects.TaintNodeUnreachable] = true
		}
	}
	managed := func(t objects.Taint) bool {
		switch t.Key {
		case objects.TaintNodeNotReady, objects.TaintNodeUnreachable:
			return t.Effect == objects.TaintEffectNoSchedule || t.Effect == objects.TaintEffectNoExecute
		case objects.TaintNodeUnschedulable:
			return t.Effect == objects.TaintEffectNoSchedule
		}
		return false
	}
	var taints []objects.Taint
	for _, t := range node.Spec.Taints {
		if !managed(t) || (t.Key == objects.TaintNodeUnschedulable && node.Spec.Unschedulable) || (t.Key != objects.TaintNodeUnschedulable && want[t.Key]) {
			taints = append(taints, t)
		}
	}
	add := func(key string, effect objects.TaintEffect) {
		t := objects.Taint{Key: key, Effect: effect}
		if !slices.ContainsFunc(taints, func(o objects.Taint) bool { return o.MatchTaint(&t) }) {
			t.TimeAdded = objects.NewTimePtr(now)
			taints = append(taints, t)
		}
	}
	for _, key := range []string{objects.TaintNodeNotReady, objects.TaintNodeUnreachable} {
		if want[key] {
			add(key, objects.TaintEffectNoSchedule)
			add(key, objects.TaintEffectNoExecute)
		}
	}
	if node.Spec.Unschedulable {
		add(objects.TaintNodeUnschedulable, objects.TaintEffectNoSchedule)
	}
	if slices.EqualFunc(taints, node.Spec.Taints, func(a, b objects.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value }) {
		return node, nil
	}
	c := node.DeepCopy()
	c.Spec.Taints = taints
	if err := r.c.Update(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

func (r *nodeLifecycleReconciler) podsOn(ctx context.Context, node string) ([]*objects.Pod, error) {
	objs, err := r.c.list(ctx, kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}},
		func(o objects.Object) bool { return isPodActive(o.(*objects.Pod)) })
	if err != nil {
		return nil, err
	}
	pods := make([]*objects.Pod, len(objs))
	for i, o := range objs {
		pods[i] = o.(*objects.Pod)
	}
	return pods, nil
}

// markPodsNotReady sets Ready False on the pods of a node that stopped
// reporting, as Kubernetes' MarkPodsNotReady does, so that Services stop
// sending them traffic.
func (r *nodeLifecycleReconciler) markPodsNotReady(ctx context.Context, node *objects.Node, pods []*objects.Pod, now time.Time) error {
	var stale []*objects.Pod
	for _, p := range pods {
		if objects.IsPodReady(p) {
			stale = append(stale, p)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	return r.c.Txn(ctx, func(tx store.Tx) error {
		for _, p := range stale {
			o, err := tx.Get(kindPod, p.Key())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			cur := o.(*objects.Pod)
			if cur.UID != p.UID || cur.Spec.NodeName != node.Name {
				continue
			}
			for _, t := range []objects.PodConditionType{objects.PodReady, objects.ContainersReady} {
				if c := objects.GetPodCondition(&cur.Status, t); c != nil && c.Status != objects.ConditionFalse {
					c.Status, c.Reason, c.Message = objects.ConditionFalse, "NodeNotReady", "Node "+node.Name+" is not ready"
					c.LastTransitionTime = objects.NewTime(now)
				}
			}
			if err := tx.UpdateStatus(cur); err != nil {
				return err
			}
		}
		return nil
	})
}

// evict deletes the pods whose tolerations of the node's NoExecute taints
// have run out, and returns when the next one runs out.
func (r *nodeLifecycleReconciler) evict(ctx context.Context, node *objects.Node, pods []*objects.Pod, now time.Time) (time.Duration, error) {
	var taints []objects.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == objects.TaintEffectNoExecute {
			taints = append(taints, t)
		}
	}
	if len(taints) == 0 {
		return 0, nil
	}
	var victims []*objects.Pod
	var next time.Duration
	for _, p := range pods {
		at, ok := evictionTime(p, taints, r.opts.DefaultTolerationSeconds, now)
		if !ok {
			continue
		}
		if !now.Before(at) {
			victims = append(victims, p)
		} else if d := at.Sub(now); next == 0 || d < next {
			next = d
		}
	}
	if len(victims) == 0 {
		return next, nil
	}
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		for _, p := range victims {
			if err := evictPod(tx, p, ReasonDeletionByTaintManager, "Taint manager: deleting due to NoExecute taint", nil, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, p := range victims {
		r.rec.Event(ctx, p, EventNormal, "TaintManagerEviction", fmt.Sprintf("Marking for deletion Pod %s/%s", p.Namespace, p.Name))
	}
	return next, nil
}

// evictionTime returns when a pod must leave a node with the given
// NoExecute taints, or false when it may stay for good, as Kubernetes'
// taint manager decides.
func evictionTime(p *objects.Pod, taints []objects.Taint, defaultSeconds int64, now time.Time) (time.Time, bool) {
	tols := p.Spec.Tolerations
	for _, key := range []string{objects.TaintNodeNotReady, objects.TaintNodeUnreachable} {
		if !objects.TolerationsTolerateTaint(tols, &objects.Taint{Key: key, Effect: objects.TaintEffectNoExecute}) {
			tols = append(slices.Clip(tols), objects.Toleration{Key: key, Operator: objects.TolerationOpExists,
				Effect: objects.TaintEffectNoExecute, TolerationSeconds: &defaultSeconds})
		}
	}
	var since time.Time
	minSeconds := int64(-1) // none limits the stay
	for i := range taints {
		t := &taints[i]
		tolerated := false
		for _, tol := range tols {
			if !tol.ToleratesTaint(t) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds != nil && (minSeconds < 0 || max(*tol.TolerationSeconds, 0) < minSeconds) {
				minSeconds = max(*tol.TolerationSeconds, 0)
			}
			break // the first toleration of the taint is the one that counts
		}
		if !tolerated {
			return now, true
		}
		added := now
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		if since.IsZero() || added.Before(since) {
			since = added
		}
	}
	if minSeconds < 0 {
		return time.Time{}, false
	}
	return since.Add(time.Duration(minSeconds) * time.Second), true
}

// evictPod marks a pod as disrupted and deletes it gracefully (with grace,
// else its own), within tx. A pod already gone or replaced is skipped.
func evictPod(tx store.Tx, p *objects.Pod, reason, message string, grace *int64, now time.Time) error {
	o, err := tx.Get(kindPod, p.Key())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cur := o.(*objects.Pod)
	if cur.UID != p.UID || cur.IsDeleting() {
		return nil
	}
	if !cur.IsTerminal() {
		c := objects.PodCondition{Type: objects.DisruptionTarget, Status: objects.ConditionTrue, Reason: reason, Message: message,
			LastTransitionTime: objects.NewTime(now), ObservedGeneration: cur.Generation}
		if old := objects.GetPodCondition(&cur.Status, objects.DisruptionTarget); old != nil {
			*old = c
		} else {
			cur.Status.Conditions = append(cur.Status.Conditions, c)
		}
		if err := tx.UpdateStatus(cur); err != nil {
			return err
		}
	}
	err = store.Remove(tx, kindPod, cur.Key(), store.DeleteOptions{GracePeriodSeconds: grace, Preconditions: &store.Preconditions{UID: cur.UID}})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// deleteOrphanedPods deletes, without a grace period, the pods bound to a
// node that does not exist, as Kubernetes' pod garbage collector does.
// The store is asked too: the cache may lag behind a node just created.
func (r *nodeLifecycleReconciler) deleteOrphanedPods(ctx context.Context, node string) error {
	pods, err := r.c.List(ctx, kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}})
	if err != nil || len(pods) == 0 {
		return err
	}
	zero := int64(0)
	return r.c.Txn(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(kindNode, objects.Key{Name: node}); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		for _, p := range pods {
			m := p.GetObjectMeta()
			err := store.Remove(tx, kindPod, m.Key(), store.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &store.Preconditions{UID: m.UID}})
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
		return nil
	})
}
