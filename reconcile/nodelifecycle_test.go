package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// cluster is an env with the workload controllers, the node lifecycle
// controller, the scheduler, and node agents played by the test: bound
// pods become ready and graceful deletions are confirmed, except on nodes
// the test has stopped.
type cluster struct {
	*env
	mu       sync.Mutex
	dead     map[string]bool
	lastErrs *lastErrors
}

func newCluster(t *testing.T, opts NodeLifecycleOptions) *cluster {
	errs := &lastErrors{errs: map[Request]error{}}
	e := newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(DeploymentController(m)) },
		func(m *Manager) error { return m.Add(DaemonSetController(m)) },
		func(m *Manager) error {
			lc := NodeLifecycleController(m, opts)
			errs.inner, lc.Reconciler = lc.Reconciler, errs
			return m.Add(traced(lc))
		},
	))
	e.createNamespace(objects.NamespaceNodeLease)
	c := &cluster{env: e, dead: map[string]bool{}, lastErrs: errs}
	e.runScheduler()
	e.runPodActions(func(p *objects.Pod) podAction {
		c.mu.Lock()
		dead := c.dead[p.Spec.NodeName]
		c.mu.Unlock()
		switch {
		case p.Spec.NodeName == "" || dead:
			return noAction
		case p.IsDeleting():
			return removePod
		case makeReady(p, e.clock.Now()):
			return updateStatus
		}
		return noAction
	})
	return c
}

// addNode registers a node with a fresh lease.
func (c *cluster) addNode(name string) {
	c.create(newNode(name))
	c.heartbeat(name)
}

// heartbeat renews the node's lease at the current time, as its agent does.
func (c *cluster) heartbeat(names ...string) {
	c.t.Helper()
	for _, name := range names {
		now := objects.NewMicroTime(c.clock.Now())
		key := objects.Key{Namespace: objects.NamespaceNodeLease, Name: name}
		require.NoError(c.t, c.s.Update(c.t.Context(), func(tx store.Tx) error {
			o, err := tx.Get(kindLease, key)
			if errors.Is(err, store.ErrNotFound) {
				l := &objects.Lease{ObjectMeta: objects.ObjectMeta{Namespace: key.Namespace, Name: name},
					Spec: objects.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: ptr[int32](40), RenewTime: &now}}
				return tx.Create(l)
			}
			if err != nil {
				return err
			}
			l := o.(*objects.Lease)
			l.Spec.RenewTime = &now
			return tx.Update(l)
		}))
	}
}

// kill stops the node's agent: no more heartbeats, pods left as they are.
func (c *cluster) kill(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead[name] = true
}

// advance moves the clock in steps, renewing the leases of the live nodes
// before each, as their agents would every 10 seconds.
func (c *cluster) advance(d time.Duration, live ...string) {
	c.t.Helper()
	const step = 10 * time.Second
	for d > 0 {
		c.heartbeat(live...)
		s := min(step, d)
		c.moveClock(s)
		d -= s
	}
	c.heartbeat(live...)
}

// moveClock advances the fake clock by d once the node lifecycle
// controller's requeue timers are armed for the time as it is now.
//
// A reconcile returns a delay, and the engine adds it to the clock only
// after Reconcile has returned: a delay computed before an Advance but
// armed after it is due late by the whole advance, so the timer fires
// after the test has stopped moving the clock, or never. Settling first
// makes every node's timer due when the controller says; a reconcile that
// straddles this Advance cannot push it back, as the queue keeps the
// earliest time.
func (c *cluster) moveClock(d time.Duration) {
	c.t.Helper()
	for _, o := range c.list(kindNode, store.ListOptions{}) {
		c.settle(o.GetObjectMeta().Name)
	}
	c.clock.Advance(d)
}

// settle reconciles the node at the current fake time, from caches
// holding what the store holds, until a reconcile succeeds (a failed one
// arms no timer), and then once more: the engine arms a reconcile's timer
// before it hands the node to the next one, so when that one has run, the
// timer of the one before is armed.
func (c *cluster) settle(name string) {
	c.t.Helper()
	req := Request{Name: name}
	deadline := time.Now().Add(waitTimeout)
	for {
		c.waitInputsCached(name)
		c.reconcileNow("node-lifecycle", req)
		err := c.lastErrs.get(req)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node lifecycle reconcile of %s kept failing: %v", name, err)
		}
	}
	c.reconcileNow("node-lifecycle", req)
}

// waitInputsCached waits until the manager's caches hold the node's lease
// and pods as the store has them: a reconcile reading older ones may
// compute a later deadline, or none (reconcileNow waits for the node).
func (c *cluster) waitInputsCached(name string) {
	c.t.Helper()
	type input struct {
		kind string
		key  objects.Key
		rev  string
	}
	var ins []input
	viewT(c.t, c.s, func(tx store.ReadTx) {
		if o, err := tx.Get(kindLease, objects.Key{Namespace: objects.NamespaceNodeLease, Name: name}); err == nil {
			ins = append(ins, input{kindLease, o.GetObjectMeta().Key(), o.GetObjectMeta().ResourceVersion})
		}
		pods, err := tx.List(kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: name}})
		require.NoError(c.t, err)
		for _, o := range pods {
			ins = append(ins, input{kindPod, o.GetObjectMeta().Key(), o.GetObjectMeta().ResourceVersion})
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for _, in := range ins {
		rev, err := strconv.ParseInt(in.rev, 10, 64)
		require.NoError(c.t, err)
		// Pods get ready without the manager: it may not have started yet.
		var inf *informer.Informer
		require.Eventually(c.t, func() bool { inf = c.m.currentRun().informer(in.kind); return inf != nil }, waitTimeout, time.Millisecond,
			"no %s cache", in.kind)
		require.NoError(c.t, inf.WaitFor(ctx, func(v informer.Locked) bool { return v.Observed(in.key, rev, false) }),
			"the %s cache never caught up with %v at %d", in.kind, in.key, rev)
	}
}

// lastErrors wraps a reconciler to remember how the latest reconcile of
// each request ended.
type lastErrors struct {
	inner Reconciler
	mu    sync.Mutex
	errs  map[Request]error
}

func (l *lastErrors) Reconcile(ctx context.Context, req Request) (Result, error) {
	res, err := l.inner.Reconcile(ctx, req)
	l.mu.Lock()
	l.errs[req] = err
	l.mu.Unlock()
	return res, err
}

func (l *lastErrors) get(req Request) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs[req]
}

func getNode(tx store.ReadTx, name string) *objects.Node {
	o, err := tx.Get(kindNode, objects.Key{Name: name})
	if err != nil {
		return nil
	}
	return o.(*objects.Node)
}

func nodeReadyStatus(n *objects.Node) objects.ConditionStatus {
	if c := objects.GetNodeCondition(&n.Status, objects.NodeReady); c != nil {
		return c.Status
	}
	return ""
}

func hasTaint(n *objects.Node, key string, effect objects.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// The case: a node that stops heartbeating has its Deployment pods
// replaced on other nodes after the toleration; its DaemonSet pod is not
// recreated elsewhere.
func TestNodeLeaseExpiryEvictsAfterToleration(t *testing.T) {
	c := newCluster(t, NodeLifecycleOptions{})
	// The Deployment's pods land on n3, the only node at first.
	c.addNode("n3")
	c.create(newDeployment("web", 2, "web:1"))
	c.waitFor("web on n3", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n3" && objects.IsPodReady(p) })
		return len(pods) == 2, fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	c.addNode("n1")
	c.addNode("n2")
	c.create(newDaemonSet("agent", "agent:1"))
	c.waitFor("daemon pods everywhere", dsOn("agent", "agent:1", "n1", "n2", "n3"))
	var webOnN3 []string
	var dsOnN3 string
	viewT(t, c.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n3" }) {
			if p.ControllerRef().Kind == kindDaemonSet {
				dsOnN3 = p.UID
			} else {
				webOnN3 = append(webOnN3, p.UID)
			}
		}
	})
	require.Len(t, webOnN3, 2)
	require.NotEmpty(t, dsOnN3)

	c.kill("n3")
	c.advance(40*time.Second, "n1", "n2")
	c.waitFor("n3 unreachable", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, "n3")
		ok := nodeReadyStatus(n) == objects.ConditionUnknown &&
			hasTaint(n, objects.TaintNodeUnreachable, objects.TaintEffectNoExecute) &&
			hasTaint(n, objects.TaintNodeUnreachable, objects.TaintEffectNoSchedule)
		return ok, fmt.Sprintf("%+v %+v", n.Status.Conditions, n.Spec.Taints)
	})
	c.waitFor("n3's pods not ready", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n3" && objects.IsPodReady(p) })
		return len(pods) == 0, fmt.Sprint(podNames(pods))
	})
	viewT(t, c.s, func(tx store.ReadTx) {
		for _, n := range []string{"n1", "n2"} {
			node := getNode(tx, n)
			require.Equal(t, objects.ConditionTrue, nodeReadyStatus(node), n)
			require.Empty(t, node.Spec.Taints, n)
		}
	})

	// Not evicted before the 300s default toleration has passed: at 290s
	// the controller looks at n3 and leaves its pods.
	c.advance(290*time.Second, "n1", "n2")
	c.reconcileNow("node-lifecycle", Request{Name: "n3"})
	viewT(t, c.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n3" }) {
			require.False(t, p.IsDeleting(), "%s evicted before its toleration ran out", p.Name)
		}
	})
	c.advance(30*time.Second, "n1", "n2")
	c.waitFor("web replaced on n1 and n2", func(tx store.ReadTx) (bool, string) {
		var seen []string
		ok := true
		for _, p := range podsWhere(tx, nil) {
			seen = append(seen, fmt.Sprintf("%s@%s ready=%v deleting=%v", p.Name, p.Spec.NodeName, objects.IsPodReady(p), p.IsDeleting()))
		}
		web := podsWhere(tx, func(p *objects.Pod) bool { return p.Labels["app"] == "web" && isPodActive(p) })
		ok = len(web) == 2
		for _, p := range web {
			ok = ok && (p.Spec.NodeName == "n1" || p.Spec.NodeName == "n2") && objects.IsPodReady(p)
		}
		return ok, fmt.Sprint(seen)
	})
	viewT(t, c.s, func(tx store.ReadTx) {
		for _, uid := range webOnN3 {
			var p *objects.Pod
			for _, q := range podsWhere(tx, nil) {
				if q.UID == uid {
					p = q
				}
			}
			require.NotNil(t, p, "no agent confirms the deletion: the old pod stays Terminating")
			require.True(t, p.IsDeleting())
			c := objects.GetPodCondition(&p.Status, objects.DisruptionTarget)
			require.NotNil(t, c)
			require.Equal(t, ReasonDeletionByTaintManager, c.Reason)
		}
		// The daemon pod stays on n3 and nowhere else gets a second one.
		agent := podsWhere(tx, func(p *objects.Pod) bool { return p.Labels["app"] == "agent" })
		require.Len(t, agent, 3)
		perNode := map[string]int{}
		for _, p := range agent {
			perNode[p.Spec.NodeName]++
			if p.UID == dsOnN3 {
				require.False(t, p.IsDeleting(), "the daemon pod tolerates unreachable")
			}
		}
		require.Equal(t, map[string]int{"n1": 1, "n2": 1, "n3": 1}, perNode)
	})
	require.True(t, c.events.has("TaintManagerEviction"))
}

// A node that comes back before the toleration runs out keeps its pods; a
// pod with a short toleration of its own goes earlier, one tolerating the
// taint without limit never.
func TestNodeTolerationSecondsAndRecovery(t *testing.T) {
	c := newCluster(t, NodeLifecycleOptions{GracePeriod: 20 * time.Second, DefaultTolerationSeconds: 120})
	c.addNode("n1")
	mk := podOnN1
	forever := mk("forever", nil)
	forever.Spec.Tolerations = []objects.Toleration{{Operator: objects.TolerationOpExists}}
	c.create(mk("short", ptr[int64](30)), mk("default", nil), forever)
	c.waitFor("ready", func(tx store.ReadTx) (bool, string) {
		return len(podsWhere(tx, objects.IsPodReady)) == 3, ""
	})
	c.kill("n1")
	c.advance(20 * time.Second)
	c.waitFor("unreachable", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, "n1")
		return hasTaint(n, objects.TaintNodeUnreachable, objects.TaintEffectNoExecute), fmt.Sprintf("%+v", n.Spec.Taints)
	})
	c.advance(30 * time.Second)
	c.waitFor("short evicted", func(tx store.ReadTx) (bool, string) {
		p := getPod(tx, "short")
		return p != nil && p.IsDeleting(), ""
	})
	viewT(t, c.s, func(tx store.ReadTx) { require.False(t, getPod(tx, "default").IsDeleting()) })

	// The agent returns: lease and Ready again; the taints go.
	c.mu.Lock()
	delete(c.dead, "n1")
	c.mu.Unlock()
	c.heartbeat("n1")
	require.NoError(t, c.s.Update(t.Context(), func(tx store.Tx) error {
		o, err := tx.Get(kindNode, objects.Key{Name: "n1"})
		if err != nil {
			return err
		}
		n := o.(*objects.Node)
		objects.GetNodeCondition(&n.Status, objects.NodeReady).Status = objects.ConditionTrue
		return tx.UpdateStatus(n)
	}))
	c.waitFor("untainted", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, "n1")
		return len(n.Spec.Taints) == 0, fmt.Sprintf("%+v", n.Spec.Taints)
	})
	c.advance(200*time.Second, "n1")
	viewT(t, c.s, func(tx store.ReadTx) {
		require.False(t, getPod(tx, "default").IsDeleting())
		require.False(t, getPod(tx, "forever").IsDeleting())
	})
}

func TestEvictionTime(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Minute)
	unreachable := objects.Taint{Key: objects.TaintNodeUnreachable, Effect: objects.TaintEffectNoExecute, TimeAdded: objects.NewTimePtr(t0)}
	custom := objects.Taint{Key: "maint", Effect: objects.TaintEffectNoExecute, TimeAdded: objects.NewTimePtr(t0)}
	pod := func(tols ...objects.Toleration) *objects.Pod {
		return &objects.Pod{Spec: objects.PodSpec{Tolerations: tols}}
	}
	for _, tc := range []struct {
		name   string
		pod    *objects.Pod
		taints []objects.Taint
		at     time.Time
		ok     bool
	}{
		{"default toleration", pod(), []objects.Taint{unreachable}, t0.Add(300 * time.Second), true},
		{"own seconds", pod(objects.Toleration{Key: objects.TaintNodeUnreachable, Operator: objects.TolerationOpExists,
			Effect: objects.TaintEffectNoExecute, TolerationSeconds: ptr[int64](10)}), []objects.Taint{unreachable}, t0.Add(10 * time.Second), true},
		{"forever", pod(objects.Toleration{Key: objects.TaintNodeUnreachable, Operator: objects.TolerationOpExists}), []objects.Taint{unreachable}, time.Time{}, false},
		{"untolerated", pod(), []objects.Taint{custom}, now, true},
		{"tolerated custom", pod(objects.Toleration{Key: "maint", Operator: objects.TolerationOpExists}), []objects.Taint{custom}, time.Time{}, false},
		{"the first matching toleration counts", pod(objects.Toleration{Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoExecute},
			objects.Toleration{Key: objects.TaintNodeUnreachable, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoExecute,
				TolerationSeconds: ptr[int64](60)}), []objects.Taint{unreachable}, time.Time{}, false},
	} {
		at, ok := evictionTime(tc.pod, tc.taints, 300, now)
		require.Equal(t, tc.ok, ok, tc.name)
		require.Equal(t, tc.at, at, tc.name)
	}
}

func TestCordonAndDrain(t *testing.T) {
	c := newCluster(t, NodeLifecycleOptions{})
	c.addNode("n1")
	c.create(newDeployment("web", 2, "web:1"))
	c.waitFor("web on n1", func(tx store.ReadTx) (bool, string) {
		return len(podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n1" && objects.IsPodReady(p) })) == 2, ""
	})
	c.addNode("n2")
	c.create(newDaemonSet("agent", "agent:1"))
	bare := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "bare"},
		Spec: objects.PodSpec{NodeName: "n1", Containers: []objects.Container{{Name: "c", Image: "x:1"}}}}
	c.create(bare)
	c.waitFor("daemon pods everywhere", func(tx store.ReadTx) (bool, string) {
		ds := getDS(tx, "agent")
		return ds != nil && ds.Status.NumberReady == 2, ""
	})

	err := Drain(t.Context(), c.s, "n1", DrainOptions{})
	require.ErrorIs(t, err, ErrDrainBlocked)
	require.ErrorContains(t, err, "default/bare")
	c.waitFor("cordoned and tainted", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, "n1")
		return n.Spec.Unschedulable && hasTaint(n, objects.TaintNodeUnschedulable, objects.TaintEffectNoSchedule), fmt.Sprintf("%+v", n.Spec)
	})
	viewT(t, c.s, func(tx store.ReadTx) {
		require.Empty(t, podsWhere(tx, func(p *objects.Pod) bool { return p.IsDeleting() }), "nothing evicted")
	})

	require.NoError(t, Drain(t.Context(), c.s, "n1", DrainOptions{Force: true}))
	viewT(t, c.s, func(tx store.ReadTx) {
		on := podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n1" })
		require.Len(t, on, 1, "only the daemon pod stays: %v", podNames(on))
		require.Equal(t, "agent", on[0].Labels["app"])
	})
	c.waitFor("web on n2", func(tx store.ReadTx) (bool, string) {
		web := podsWhere(tx, func(p *objects.Pod) bool { return p.Labels["app"] == "web" })
		ok := len(web) == 2
		for _, p := range web {
			ok = ok && p.Spec.NodeName == "n2" && objects.IsPodReady(p)
		}
		return ok, fmt.Sprint(podNames(web))
	})

	require.NoError(t, Uncordon(t.Context(), c.s, "n1"))
	c.waitFor("uncordoned", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, "n1")
		return !n.Spec.Unschedulable && len(n.Spec.Taints) == 0, fmt.Sprintf("%+v", n.Spec)
	})
	require.ErrorIs(t, Cordon(t.Context(), c.s, "nope"), store.ErrNotFound)
}

// A pod bound to a node that is deleted goes with it.
func TestNodeDeletedPodsRemoved(t *testing.T) {
	c := newCluster(t, NodeLifecycleOptions{})
	c.addNode("n1")
	c.addNode("n2")
	c.create(newDeployment("web", 2, "web:1"))
	c.waitFor("2 ready", func(tx store.ReadTx) (bool, string) { return len(podsWhere(tx, objects.IsPodReady)) == 2, "" })
	var onN1 int
	viewT(t, c.s, func(tx store.ReadTx) {
		onN1 = len(podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "n1" }))
	})
	c.kill("n1")
	require.NoError(t, c.s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Delete(kindNode, objects.Key{Name: "n1"}, store.DeleteOptions{})
		return err
	}))
	c.waitFor("all on n2", func(tx store.ReadTx) (bool, string) {
		web := podsWhere(tx, nil)
		ok := len(web) == 2
		for _, p := range web {
			ok = ok && p.Spec.NodeName == "n2" && objects.IsPodReady(p)
		}
		return ok, fmt.Sprintf("%d were on n1; now %v", onN1, podNames(web))
	})
}

// A DefaultTolerationSeconds other than 300 takes effect: a pod without a
// toleration of its own leaves an unreachable node 60 s after the taint,
// not before; one tolerating the taint for longer stays meanwhile.
func TestNodeDefaultTolerationSecondsOption(t *testing.T) {
	c := newCluster(t, NodeLifecycleOptions{DefaultTolerationSeconds: 60})
	c.addNode("n1")
	mk := podOnN1
	c.create(mk("plain", nil), mk("patient", ptr[int64](600)))
	c.waitFor("ready", func(tx store.ReadTx) (bool, string) { return len(podsWhere(tx, objects.IsPodReady)) == 2, "" })
	c.kill("n1")
	c.advance(40 * time.Second)
	var tainted time.Time
	c.waitFor("unreachable", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, "n1")
		for _, tt := range n.Spec.Taints {
			if tt.Key == objects.TaintNodeUnreachable && tt.Effect == objects.TaintEffectNoExecute {
				tainted = tt.TimeAdded.Time
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", n.Spec.Taints)
	})
	// One second short of the toleration: the controller looks and keeps
	// the pod.
	c.moveClock(tainted.Add(59 * time.Second).Sub(c.clock.Now()))
	c.reconcileNow("node-lifecycle", Request{Name: "n1"})
	viewT(t, c.s, func(tx store.ReadTx) {
		require.False(t, getPod(tx, "plain").IsDeleting(), "evicted before the 60s default toleration ran out")
	})
	// The test prods n1 no more once the clock reads 60s: the
	// controller's own timer must evict.
	c.moveClock(time.Second)
	c.waitFor("plain evicted at 60s", func(tx store.ReadTx) (bool, string) {
		p := getPod(tx, "plain")
		return p != nil && p.IsDeleting(), fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	viewT(t, c.s, func(tx store.ReadTx) {
		p := getPod(tx, "plain")
		cond := objects.GetPodCondition(&p.Status, objects.DisruptionTarget)
		require.NotNil(t, cond)
		require.Equal(t, ReasonDeletionByTaintManager, cond.Reason)
		require.Equal(t, tainted.Add(60*time.Second), cond.LastTransitionTime.Time)
		require.False(t, getPod(tx, "patient").IsDeleting(), "its own 600s toleration holds")
	})
}

// podOnN1 is a pod bound to n1 that tolerates the unreachable taint for
// tol seconds, or has no toleration of its own when tol is nil.
func podOnN1(name string, tol *int64) *objects.Pod {
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.PodSpec{NodeName: "n1", Containers: []objects.Container{{Name: "c", Image: "x:1"}}}}
	if tol != nil {
		p.Spec.Tolerations = []objects.Toleration{{Key: objects.TaintNodeUnreachable, Operator: objects.TolerationOpExists,
			Effect: objects.TaintEffectNoExecute, TolerationSeconds: tol}}
	}
	return p
}

// A node whose heartbeat is already old when the controller first sees it,
// as a durable store hands an orchestrator started again, gets a full
// grace period from then before it is Unknown, as Kubernetes' controller
// gives the nodes it finds when it starts.
func TestNodeFirstSeenWithOldHeartbeat(t *testing.T) {
	c := newCluster(t, NodeLifecycleOptions{})
	name := "n1"
	renewed := objects.NewMicroTime(c.clock.Now().Add(-10 * time.Minute))
	c.create(newNode(name))
	c.create(&objects.Lease{ObjectMeta: objects.ObjectMeta{Namespace: objects.NamespaceNodeLease, Name: name},
		Spec: objects.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: ptr[int32](40), RenewTime: &renewed}})
	ready := func() objects.ConditionStatus {
		var s objects.ConditionStatus
		viewT(t, c.s, func(tx store.ReadTx) { s = nodeReadyStatus(getNode(tx, name)) })
		return s
	}
	c.settle(name)
	require.Equal(t, objects.ConditionTrue, ready(), "at first sight")
	c.moveClock(DefaultNodeGracePeriod - 5*time.Second)
	c.settle(name)
	require.Equal(t, objects.ConditionTrue, ready(), "within the grace period")
	c.moveClock(10 * time.Second)
	c.waitFor("n1 unreachable once its grace period is over", func(tx store.ReadTx) (bool, string) {
		n := getNode(tx, name)
		return nodeReadyStatus(n) == objects.ConditionUnknown, fmt.Sprintf("%+v", n.Status.Conditions)
	})
}
