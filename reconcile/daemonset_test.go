package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/scheduler"
	"github.com/podkit/podkit/store"
)

// runScheduler runs podkit's scheduler over the env's store until the test
// ends. It keeps the real clock: its retry backoff must not wait for the
// test to advance the fake one.
func (e *env) runScheduler() {
	e.t.Helper()
	sch, err := scheduler.New(e.s, scheduler.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sch.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(e.t, err)
		case <-time.After(waitTimeout):
			e.t.Error("scheduler did not stop")
		}
	})
}

type nodeOpt func(n *objects.Node)

func nodeLabels(kv ...string) nodeOpt {
	return func(n *objects.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func nodeTaint(key string, effect objects.TaintEffect) nodeOpt {
	return func(n *objects.Node) {
		n.Spec.Taints = append(n.Spec.Taints, objects.Taint{Key: key, Effect: effect})
	}
}

// newNode is a Ready node with room for plenty of pods.
func newNode(name string, opts ...nodeOpt) *objects.Node {
	n := &objects.Node{
		ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: objects.NodeStatus{
			Allocatable: objects.ResourceList{
				objects.ResourceCPU:    objects.MustParseQuantity("8"),
				objects.ResourceMemory: objects.MustParseQuantity("16Gi"),
				objects.ResourcePods:   objects.MustParseQuantity("110"),
			},
			Conditions: []objects.NodeCondition{{Type: objects.NodeReady, Status: objects.ConditionTrue}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func dsEnv(t *testing.T, more ...func(m *Manager) error) *env {
	e := newEnv(t, withControllers(append([]func(m *Manager) error{
		func(m *Manager) error { return m.Add(DaemonSetController(m)) },
	}, more...)...))
	e.runScheduler()
	return e
}

func newDaemonSet(name, image string) *objects.DaemonSet {
	labels := map[string]string{"app": name}
	return &objects.DaemonSet{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.DaemonSetSpec{
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, image),
		},
	}
}

func getDS(tx store.ReadTx, name string) *objects.DaemonSet {
	o, err := tx.Get(kindDaemonSet, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.DaemonSet)
}

// daemonPodsByNode maps node names to the active pods of app bound there.
func daemonPodsByNode(tx store.ReadTx, app string) map[string][]*objects.Pod {
	out := map[string][]*objects.Pod{}
	for _, p := range podsWhere(tx, func(p *objects.Pod) bool { return isPodActive(p) && p.Labels["app"] == app }) {
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
	}
	return out
}

// dsOn holds when exactly the given nodes run one bound, ready pod of the
// DaemonSet with image, and its status agrees.
func dsOn(name, image string, nodes ...string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		ds := getDS(tx, name)
		if ds == nil {
			return false, "no daemonset"
		}
		by := daemonPodsByNode(tx, name)
		ok := len(by) == len(nodes)
		for _, n := range nodes {
			ps := by[n]
			ok = ok && len(ps) == 1 && objects.IsPodReady(ps[0]) && ps[0].Spec.Containers[0].Image == image
		}
		want := int32(len(nodes))
		s := ds.Status
		ok = ok && s.ObservedGeneration == ds.Generation && s.DesiredNumberScheduled == want && s.CurrentNumberScheduled == want &&
			s.NumberReady == want && s.NumberAvailable == want && s.UpdatedNumberScheduled == want && s.NumberMisscheduled == 0
		var seen []string
		for n, ps := range by {
			seen = append(seen, fmt.Sprintf("%s:%v", n, podNames(ps)))
		}
		return ok, fmt.Sprintf("status %+v; pods %v; unbound %v", s, seen, podNames(podsWhere(tx, func(p *objects.Pod) bool { return p.Spec.NodeName == "" })))
	}
}

func readyWhenBound(e *env) { e.runNodeAgents() }

func TestDaemonSetOnePodPerMatchingNode(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1", nodeLabels("disk", "ssd")), newNode("n2", nodeLabels("disk", "ssd")),
		newNode("n3", nodeLabels("disk", "hdd")),
		newNode("n4", nodeLabels("disk", "ssd"), nodeTaint("dedicated", objects.TaintEffectNoSchedule)))
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	e.create(ds)
	e.waitFor("on n1 and n2", dsOn("agent", "agent:1", "n1", "n2"))
	viewT(t, e.s, func(tx store.ReadTx) {
		p := daemonPodsByNode(tx, "agent")["n1"][0]
		require.Equal(t, "n1", daemonPodNode(p))
		require.NotEmpty(t, p.Labels[objects.ControllerRevisionHashLabelKey])
		tol := p.Spec.Tolerations
		require.True(t, objects.TolerationsTolerateTaint(tol, &objects.Taint{Key: objects.TaintNodeUnreachable, Effect: objects.TaintEffectNoExecute}))
		require.True(t, objects.TolerationsTolerateTaint(tol, &objects.Taint{Key: objects.TaintNodeUnschedulable, Effect: objects.TaintEffectNoSchedule}))
		for _, tl := range tol {
			require.Nil(t, tl.TolerationSeconds)
		}
	})

	// A new matching node gets a pod; the tainted one once tolerated.
	e.create(newNode("n5", nodeLabels("disk", "ssd")))
	e.waitFor("on n5 too", dsOn("agent", "agent:1", "n1", "n2", "n5"))
	e.mutate(kindDaemonSet, dkey("agent"), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.Template.Spec.Tolerations = []objects.Toleration{{Key: "dedicated", Operator: objects.TolerationOpExists}}
	})
	e.waitFor("on n4 too", dsOn("agent", "agent:1", "n1", "n2", "n4", "n5"))

	// A node that stops matching loses its pod; a node removed too.
	e.mutate(kindNode, objects.Key{Name: "n2"}, func(o objects.Object) { o.GetObjectMeta().Labels["disk"] = "hdd" })
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		_, err := tx.Delete(kindNode, objects.Key{Name: "n5"}, store.DeleteOptions{})
		return err
	}))
	e.waitFor("on n1 and n4", dsOn("agent", "agent:1", "n1", "n4"))
}

func TestDaemonSetNoExecuteTaint(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1"), newNode("n2"))
	e.create(newDaemonSet("agent", "agent:1"))
	e.waitFor("on both", dsOn("agent", "agent:1", "n1", "n2"))
	// NoSchedule: the pod stays. NoExecute: it goes.
	e.mutate(kindNode, objects.Key{Name: "n2"}, func(o objects.Object) {
		o.(*objects.Node).Spec.Taints = []objects.Taint{{Key: "maint", Effect: objects.TaintEffectNoSchedule}}
	})
	e.waitFor("misscheduled seen", func(tx store.ReadTx) (bool, string) {
		ds := getDS(tx, "agent")
		return ds.Status.DesiredNumberScheduled == 1 && ds.Status.NumberMisscheduled == 1, fmt.Sprintf("%+v", ds.Status)
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.Len(t, daemonPodsByNode(tx, "agent")["n2"], 1) })
	e.mutate(kindNode, objects.Key{Name: "n2"}, func(o objects.Object) {
		o.(*objects.Node).Spec.Taints = []objects.Taint{{Key: "maint", Effect: objects.TaintEffectNoExecute}}
	})
	e.waitFor("only n1", dsOn("agent", "agent:1", "n1"))
}

func TestDaemonSetRollingUpdate(t *testing.T) {
	e, nodes := dsOnFourNodes(t)
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.UpdateStrategy = objects.DaemonSetUpdateStrategy{Type: objects.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &objects.RollingUpdateDaemonSet{MaxUnavailable: ptr(objects.FromInt32(1))}}
	e.create(ds)
	e.waitFor("on all", dsOn("agent", "agent:1", nodes...))
	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		ready := map[string]bool{}
		for _, p := range pods {
			if objects.IsPodReady(p) && !p.IsDeleting() && p.Spec.NodeName != "" {
				ready[p.Spec.NodeName] = true
			}
		}
		if len(ready) < len(nodes)-1 {
			return fmt.Sprintf("only %d nodes with a ready pod", len(ready))
		}
		return ""
	})
	e.mutate(kindDaemonSet, dkey("agent"), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.Template.Spec.Containers[0].Image = "agent:2"
	})
	e.waitFor("updated everywhere", dsOn("agent", "agent:2", nodes...))
	stop()
	require.Empty(t, pw.violations)
}

func TestDaemonSetSurge(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	nodes := []string{"n1", "n2", "n3"}
	for _, n := range nodes {
		e.create(newNode(n))
	}
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.UpdateStrategy = objects.DaemonSetUpdateStrategy{Type: objects.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &objects.RollingUpdateDaemonSet{MaxUnavailable: ptr(objects.FromInt32(0)), MaxSurge: ptr(objects.FromInt32(1))}}
	e.create(ds)
	e.waitFor("on all", dsOn("agent", "agent:1", nodes...))
	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		ready := map[string]bool{}
		perNode := map[string]int{}
		for _, p := range pods {
			if !isPodActive(p) {
				continue
			}
			perNode[daemonPodNode(p)]++
			if objects.IsPodReady(p) && p.Spec.NodeName != "" {
				ready[p.Spec.NodeName] = true
			}
		}
		if len(ready) < len(nodes) {
			return fmt.Sprintf("only %d nodes with a ready pod", len(ready))
		}
		two := 0
		for _, n := range perNode {
			if n > 1 {
				two++
			}
		}
		if two > 1 {
			return fmt.Sprintf("%d nodes surging", two)
		}
		return ""
	})
	e.mutate(kindDaemonSet, dkey("agent"), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.Template.Spec.Containers[0].Image = "agent:2"
	})
	e.waitFor("updated everywhere", dsOn("agent", "agent:2", nodes...))
	stop()
	require.Empty(t, pw.violations)
}

func TestNodeMatchesSelector(t *testing.T) {
	n := newNode("n1", nodeLabels("zone", "a", "cores", "8"))
	term := func(exprs ...objects.NodeSelectorRequirement) *objects.NodeSelector {
		return &objects.NodeSelector{NodeSelectorTerms: []objects.NodeSelectorTerm{{MatchExpressions: exprs}}}
	}
	req := func(k string, op objects.NodeSelectorOperator, v ...string) objects.NodeSelectorRequirement {
		return objects.NodeSelectorRequirement{Key: k, Operator: op, Values: v}
	}
	for _, tc := range []struct {
		sel  *objects.NodeSelector
		want bool
	}{
		{term(req("zone", objects.NodeSelectorOpIn, "a", "b")), true},
		{term(req("zone", objects.NodeSelectorOpNotIn, "a")), false},
		{term(req("gpu", objects.NodeSelectorOpNotIn, "x")), true},
		{term(req("gpu", objects.NodeSelectorOpExists)), false},
		{term(req("gpu", objects.NodeSelectorOpDoesNotExist)), true},
		{term(req("cores", objects.NodeSelectorOpGt, "4")), true},
		{term(req("cores", objects.NodeSelectorOpLt, "4")), false},
		{term(), false},
		{&objects.NodeSelector{NodeSelectorTerms: []objects.NodeSelectorTerm{
			{MatchExpressions: []objects.NodeSelectorRequirement{req("zone", objects.NodeSelectorOpIn, "b")}},
			{MatchFields: []objects.NodeSelectorRequirement{req("metadata.name", objects.NodeSelectorOpIn, "n1")}},
		}}, true},
	} {
		require.Equal(t, tc.want, nodeMatchesSelector(n, tc.sel), "%+v", tc.sel)
	}
}

// A required node affinity in the template picks the nodes, through the
// controller; nodes that come to match or stop matching are followed.
func TestDaemonSetRequiredNodeAffinity(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1", nodeLabels("zone", "a")), newNode("n2", nodeLabels("zone", "b")), newNode("n3", nodeLabels("zone", "c")))
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.Template.Spec.Affinity = &objects.Affinity{NodeAffinity: &objects.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &objects.NodeSelector{NodeSelectorTerms: []objects.NodeSelectorTerm{{
			MatchExpressions: []objects.NodeSelectorRequirement{{Key: "zone", Operator: objects.NodeSelectorOpIn, Values: []string{"a", "b"}}},
		}}},
	}}
	e.create(ds)
	e.waitFor("on n1 and n2", dsOn("agent", "agent:1", "n1", "n2"))
	viewT(t, e.s, func(tx store.ReadTx) {
		for node, ps := range daemonPodsByNode(tx, "agent") {
			// Each pod is pinned to its node by name, replacing the
			// template's terms, as Kubernetes does.
			terms := ps[0].Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			require.Len(t, terms, 1, node)
			require.Equal(t, []objects.NodeSelectorRequirement{{Key: "metadata.name", Operator: objects.NodeSelectorOpIn, Values: []string{node}}},
				terms[0].MatchFields, node)
		}
	})
	e.mutate(kindNode, objects.Key{Name: "n3"}, func(o objects.Object) { o.GetObjectMeta().Labels["zone"] = "a" })
	e.waitFor("on n3 too", dsOn("agent", "agent:1", "n1", "n2", "n3"))
	e.mutate(kindNode, objects.Key{Name: "n1"}, func(o objects.Object) { o.GetObjectMeta().Labels["zone"] = "z" })
	e.waitFor("off n1", dsOn("agent", "agent:1", "n2", "n3"))
}

// A percentage maxUnavailable is scaled to the desired number of nodes,
// rounding up as Kubernetes does: 30% of 4 nodes is 2 at a time.
func TestDaemonSetRollingUpdatePercentMaxUnavailable(t *testing.T) {
	e, nodes := dsOnFourNodes(t)
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.UpdateStrategy = objects.DaemonSetUpdateStrategy{Type: objects.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &objects.RollingUpdateDaemonSet{MaxUnavailable: ptr(objects.FromString("30%"))}}
	e.create(ds)
	e.waitFor("on all", dsOn("agent", "agent:1", nodes...))
	pw, stop := e.watchPodsT(func(map[objects.Key]*objects.Pod) string { return "" })
	e.mutate(kindDaemonSet, dkey("agent"), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.Template.Spec.Containers[0].Image = "agent:2"
	})
	e.waitFor("updated everywhere", dsOn("agent", "agent:2", nodes...))
	stop()
	require.Equal(t, 2, pw.minReady, "30%% of 4 is 2 unavailable at most, and the update uses both")
}

// dsOnFourNodes is a DaemonSet environment with nodes n1 to n4, whose pods
// become ready once bound.
func dsOnFourNodes(t *testing.T) (*env, []string) {
	e := dsEnv(t)
	readyWhenBound(e)
	nodes := []string{"n1", "n2", "n3", "n4"}
	for _, n := range nodes {
		e.create(newNode(n))
	}
	return e, nodes
}

// With maxSurge a node's readiness, availability and revision are those of
// one pod, its oldest, as Kubernetes counts them: a new pod surging beside
// the old one does not make the node updated while it is not ready, so the
// rollout is not reported done.
func TestDaemonSetSurgeStatus(t *testing.T) {
	e := dsEnv(t)
	e.runNodeAgentsReadying(func(p *objects.Pod) bool { return p.Spec.Containers[0].Image == "agent:1" })
	e.create(newNode("n1"))
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.UpdateStrategy = objects.DaemonSetUpdateStrategy{Type: objects.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &objects.RollingUpdateDaemonSet{MaxUnavailable: ptr(objects.FromInt32(0)), MaxSurge: ptr(objects.FromInt32(1))}}
	e.create(ds)
	e.waitFor("on n1", dsOn("agent", "agent:1", "n1"))
	e.clock.Advance(time.Second) // the new pod is younger
	e.mutate(kindDaemonSet, dkey("agent"), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.Template.Spec.Containers[0].Image = "agent:2"
	})
	var surging *objects.Pod
	e.waitFor("surging, the node not updated", func(tx store.ReadTx) (bool, string) {
		ds := getDS(tx, "agent")
		pods := daemonPodsByNode(tx, "agent")["n1"]
		s := ds.Status
		surging = nil
		for _, p := range pods {
			if p.Spec.Containers[0].Image == "agent:2" {
				surging = p
			}
		}
		return s.ObservedGeneration == ds.Generation && len(pods) == 2 && surging != nil &&
				s.CurrentNumberScheduled == 1 && s.UpdatedNumberScheduled == 0 && s.NumberReady == 1 && s.NumberAvailable == 1,
			fmt.Sprintf("status %+v; pods %v", s, podNames(pods))
	})
	e.mutateStatusPod(surging.Key(), func(p *objects.Pod) { makeReady(p, e.clock.Now()) })
	e.waitFor("updated", dsOn("agent", "agent:2", "n1"))
}

// A failed daemon pod is deleted with a backoff per node, 1s doubling, and
// replaced once it is gone, as in Kubernetes: a node agent that fails
// every pod does not make the controller recreate pods in a hot loop.
func TestDaemonSetFailedPodBackoff(t *testing.T) {
	e := dsEnv(t)
	e.runPodActions(func(p *objects.Pod) podAction {
		switch {
		case p.Spec.NodeName == "" || p.IsTerminal():
			return noAction
		case p.IsDeleting():
			return removePod
		}
		finishPod(p, objects.PodFailed, e.clock.Now())
		return updateStatus
	})
	e.create(newNode("n1"))
	e.create(newDaemonSet("agent", "agent:1"))
	// failedAgain waits for a pod other than last to have failed, and for
	// the controller to wait for its backoff.
	failedAgain := func(last *objects.Pod) *objects.Pod {
		t.Helper()
		var p *objects.Pod
		e.waitFor("a new pod failed", func(tx store.ReadTx) (bool, string) {
			pods := podsWhere(tx, nil)
			p = nil
			if len(pods) == 1 && pods[0].UID != last.UID && pods[0].Status.Phase == objects.PodFailed {
				p = pods[0]
			}
			return p != nil, fmt.Sprint(podNames(pods))
		})
		e.waitDelayed("daemonset")
		return p
	}
	failures := func() int {
		e.events.mu.Lock()
		defer e.events.mu.Unlock()
		n := 0
		for _, ev := range e.events.evs {
			if strings.Contains(ev, "FailedDaemonPod") {
				n++
			}
		}
		return n
	}
	// failedPod returns the one pod, failed and left for its backoff.
	failedPod := func() *objects.Pod {
		t.Helper()
		var p *objects.Pod
		viewT(t, e.s, func(tx store.ReadTx) {
			pods := podsWhere(tx, nil)
			require.Len(t, pods, 1, podNames(pods))
			p = pods[0]
		})
		require.Equal(t, objects.PodFailed, p.Status.Phase)
		require.False(t, p.IsDeleting(), "left for its backoff")
		return p
	}

	// The first failed pod is deleted at once, the second left for 1s.
	e.waitDelayed("daemonset")
	p := failedPod()
	require.Equal(t, 1, failures(), e.events.String())
	e.clock.Advance(time.Second)
	p = failedAgain(p)
	require.Equal(t, 2, failures(), e.events.String())
	e.clock.Advance(time.Second) // the delay is now 2s
	require.Equal(t, p.UID, failedPod().UID)
	e.clock.Advance(time.Second)
	failedAgain(p)
	require.Equal(t, 3, failures(), e.events.String())
}

func TestFailedPodsBackoff(t *testing.T) {
	var b failedPodsBackoff
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.Zero(t, b.wait("k", now))
	b.next("k", now)
	require.Equal(t, time.Second, b.wait("k", now))
	require.Equal(t, 400*time.Millisecond, b.wait("k", now.Add(600*time.Millisecond)))
	require.Zero(t, b.wait("other", now))
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		now = now.Add(b.wait("k", now))
		require.Zero(t, b.wait("k", now))
		b.next("k", now)
		require.Equal(t, want, b.wait("k", now))
	}
	for range 10 {
		now = now.Add(b.wait("k", now))
		b.next("k", now)
	}
	require.Equal(t, 15*time.Minute, b.wait("k", now), "at most 15m")
	now = now.Add(30*time.Minute + time.Second)
	require.Zero(t, b.wait("k", now))
	b.next("k", now)
	require.Equal(t, time.Second, b.wait("k", now), "from 1s again after 2*15m without a failure")
}

func setImageDS(e *env, name, image string) {
	e.mutate(kindDaemonSet, dkey(name), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.Template.Spec.Containers[0].Image = image
	})
}

// dsRevisions holds when the DaemonSet's revisions are want, each
// "<number>:<image>", oldest first.
func dsRevisions(t *testing.T, name string, want ...string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		got := revisionImages(t, revisionsOf(tx, getDS(tx, name)))
		return slices.Equal(got, want), fmt.Sprint(got)
	}
}

// A DaemonSet keeps its templates as ControllerRevisions, as Kubernetes'
// daemon controller does: named after the hash its pods carry (the hash
// they carried before revisions were kept), owned by it, labelled like
// its template; a template that comes back reuses its revision with the
// next number.
func TestDaemonSetRevisionHistory(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1"), newNode("n2"))
	e.create(newDaemonSet("agent", "agent:1"))
	e.waitFor("agent:1", dsOn("agent", "agent:1", "n1", "n2"))
	e.waitFor("one revision", dsRevisions(t, "agent", "1:agent:1"))
	var rev1 string
	viewT(t, e.s, func(tx store.ReadTx) {
		ds := getDS(tx, "agent")
		r := revisionsOf(tx, ds)[0]
		rev1 = r.Name
		hash := r.Labels[objects.ControllerRevisionHashLabelKey]
		require.Equal(t, templateHash(&ds.Spec.Template, nil), hash, "the hash pods have always carried")
		require.Equal(t, "agent-"+hash, r.Name)
		require.Equal(t, "agent", r.Labels["app"], "the template's labels")
		ref := r.ControllerRef()
		require.NotNil(t, ref)
		require.Equal(t, ds.UID, ref.UID)
		require.Equal(t, kindDaemonSet, ref.Kind)
		require.Contains(t, string(r.Data.Raw), `"$patch":"replace"`)
		require.Nil(t, ds.Status.CollisionCount, "no collision, none recorded")
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, hash, p.Labels[objects.ControllerRevisionHashLabelKey], p.Name)
		}
	})

	setImageDS(e, "agent", "agent:2")
	e.waitFor("agent:2", dsOn("agent", "agent:2", "n1", "n2"))
	e.waitFor("two revisions", dsRevisions(t, "agent", "1:agent:1", "2:agent:2"))

	setImageDS(e, "agent", "agent:1")
	e.waitFor("agent:1 again", dsOn("agent", "agent:1", "n1", "n2"))
	e.waitFor("agent:1's revision renumbered", dsRevisions(t, "agent", "2:agent:2", "3:agent:1"))
	viewT(t, e.s, func(tx store.ReadTx) {
		revs := revisionsOf(tx, getDS(tx, "agent"))
		require.Equal(t, rev1, revs[1].Name, "the revision is reused, not made again")
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, revs[1].Labels[objects.ControllerRevisionHashLabelKey], p.Labels[objects.ControllerRevisionHashLabelKey], p.Name)
		}
	})
}

// revisionHistoryLimit bounds the old revisions, as Kubernetes'
// cleanupHistory does: the oldest go first, but never one whose hash a pod
// still carries.
func TestDaemonSetRevisionHistoryLimit(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1"), newNode("n2"))
	ds := newDaemonSet("agent", "agent:1")
	ds.Spec.RevisionHistoryLimit = ptr[int32](1)
	e.create(ds)
	e.waitFor("agent:1", dsOn("agent", "agent:1", "n1", "n2"))
	for _, img := range []string{"agent:2", "agent:3"} {
		setImageDS(e, "agent", img)
		e.waitFor(img, dsOn("agent", img, "n1", "n2"))
	}
	e.waitFor("one old revision", dsRevisions(t, "agent", "2:agent:2", "3:agent:3"))

	// OnDelete: the pods keep agent:3 through two template changes.
	e.mutate(kindDaemonSet, dkey("agent"), func(o objects.Object) {
		o.(*objects.DaemonSet).Spec.UpdateStrategy = objects.DaemonSetUpdateStrategy{Type: objects.OnDeleteDaemonSetStrategyType}
	})
	setImageDS(e, "agent", "agent:4")
	e.waitFor("agent:4's revision", dsRevisions(t, "agent", "3:agent:3", "4:agent:4"))
	setImageDS(e, "agent", "agent:5")
	e.waitFor("agent:3 kept for its pods, agent:4 gone", dsRevisions(t, "agent", "3:agent:3", "5:agent:5"))
	viewT(t, e.s, func(tx store.ReadTx) {
		for _, ps := range daemonPodsByNode(tx, "agent") {
			require.Equal(t, "agent:3", ps[0].Spec.Containers[0].Image)
		}
	})

	// Once no pod carries agent:3 it is history like any other.
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		for _, p := range podsWhere(tx, nil) {
			if _, err := tx.Delete(kindPod, p.Key(), store.DeleteOptions{}); err != nil {
				return err
			}
		}
		return nil
	}))
	e.waitFor("agent:5", dsOn("agent", "agent:5", "n1", "n2"))
	setImageDS(e, "agent", "agent:6")
	e.waitFor("agent:3 gone", dsRevisions(t, "agent", "5:agent:5", "6:agent:6"))
}

// Revisions holding the same template (made under different collision
// counts) are merged into the newest, and the pods of the others carry its
// hash, as Kubernetes' dedupCurHistories does.
func TestDaemonSetDedupRevisions(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1"))
	e.create(newDaemonSet("agent", "agent:1"))
	e.waitFor("agent:1", dsOn("agent", "agent:1", "n1"))
	var ds *objects.DaemonSet
	var first *objects.ControllerRevision
	viewT(t, e.s, func(tx store.ReadTx) {
		ds = getDS(tx, "agent")
		first = revisionsOf(tx, ds)[0]
	})
	dup := first.DeepCopy()
	dup.ResourceVersion, dup.UID = "", ""
	dup.Revision = 2
	nameRevision(dup, "agent", templateHash(&ds.Spec.Template, ptr[int32](7)))
	e.create(dup)
	e.waitFor("merged into the newest", func(tx store.ReadTx) (bool, string) {
		revs := revisionsOf(tx, getDS(tx, "agent"))
		var names []string
		for _, r := range revs {
			names = append(names, r.Name)
		}
		pods := podsWhere(tx, nil)
		ok := len(revs) == 1 && revs[0].Name == dup.Name && len(pods) == 1 &&
			pods[0].Labels[objects.ControllerRevisionHashLabelKey] == dup.Labels[objects.ControllerRevisionHashLabelKey]
		return ok, fmt.Sprintf("revisions %v, pods %v", names, podNames(pods))
	})
	e.waitFor("still updated", dsOn("agent", "agent:1", "n1"))
}
