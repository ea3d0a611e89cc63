package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// stopTerminating plays the node agent: it finishes the graceful deletion
// of pods being deleted, once release is closed.
func stopTerminating(t *testing.T, s store.Store, release <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Watch(ctx, store.WatchOptions{Kind: "Pod"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var pending []objects.Key
		flush := func() {
			for _, k := range pending {
				_ = s.Update(ctx, func(tx store.Tx) error {
					zero := int64(0)
					_, err := tx.Delete("Pod", k, store.DeleteOptions{GracePeriodSeconds: &zero})
					return err
				})
			}
			pending = nil
		}
		released := false
		for {
			select {
			case ev, ok := <-w.Events():
				if !ok {
					return
				}
				if ev.Type != store.Deleted && ev.Peek().GetObjectMeta().DeletionTimestamp != nil {
					pending = append(pending, ev.Key())
				}
			case <-release:
				released, release = true, nil
			}
			if released {
				flush()
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func startedAt(sec int64) podOpt {
	return func(p *objects.Pod) { p.Status.StartTime = objects.NewTimePtr(time.Unix(sec, 0)) }
}

func grace(sec int64) podOpt {
	return func(p *objects.Pod) { p.Spec.TerminationGracePeriodSeconds = &sec }
}

func TestPreemptionEvictsFewestLowerPriorityPodsGracefully(t *testing.T) {
	s := newStore(t)
	rec := &recorder{}
	create(t, s, makeNode("n1", "2", "4Gi"))
	create(t, s,
		makePod("old", "1", "", onNode("n1"), priority(0), startedAt(1000)),
		makePod("new", "1", "", onNode("n1"), priority(0), startedAt(2000), grace(45)))
	release := make(chan struct{})
	stopTerminating(t, s, release)
	run(t, s, WithEventRecorder(rec))
	create(t, s, makePod("vip", "1", "", priority(100)))

	// The victim is the later started of two equal pods; it is kept, being
	// deleted with its own grace period, for its node agent to stop it.
	victim := waitPod(t, s, key("new"), "being deleted", func(p *objects.Pod) bool { return p.DeletionTimestamp != nil })
	require.Equal(t, int64(45), *victim.DeletionGracePeriodSeconds)
	dt := objects.GetPodCondition(&victim.Status, objects.DisruptionTarget)
	require.NotNil(t, dt)
	require.Equal(t, ReasonPreemptionByScheduler, dt.Reason)
	require.Nil(t, getPod(t, s, key("old")).DeletionTimestamp, "one victim is enough")

	vip := waitPod(t, s, key("vip"), "nominated", func(p *objects.Pod) bool { return p.Status.NominatedNodeName == "n1" })
	require.Empty(t, vip.Spec.NodeName, "it waits for its victim to stop")
	require.Eventually(t, func() bool { return len(rec.find(ReasonPreempted, key("new"))) == 1 }, 5*time.Second, time.Millisecond)
	require.Equal(t, fmt.Sprintf("Preempted by pod %s on node n1", vip.UID), rec.find(ReasonPreempted, key("new"))[0].message)

	close(release)
	require.Equal(t, "n1", waitBound(t, s, "vip").Spec.NodeName)
	require.Nil(t, getPod(t, s, key("new")))
	require.NotNil(t, getPod(t, s, key("old")))
}

func TestEqualPriorityNeverPreempts(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("running", "1", "", onNode("n1"), priority(10)))
	run(t, s)
	create(t, s, makePod("same", "1", "", priority(10)))
	waitUnschedulable(t, s, "same", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
	require.Nil(t, getPod(t, s, key("running")).DeletionTimestamp)
}

func TestPreemptionPolicyNever(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("running", "1", "", onNode("n1"), priority(0)))
	run(t, s)
	never := objects.PreemptNever
	create(t, s, makePod("polite", "1", "", priority(1000), func(p *objects.Pod) { p.Spec.PreemptionPolicy = &never }))
	waitUnschedulable(t, s, "polite", "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")
	require.Nil(t, getPod(t, s, key("running")).DeletionTimestamp)
}

func TestPreemptionNotHelpful(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi", withTaint("dedicated", "gpu", objects.TaintEffectNoSchedule)),
		makePod("running", "1", "", onNode("n1"), priority(0)))
	run(t, s)
	create(t, s, makePod("vip", "1", "", priority(1000)))
	waitUnschedulable(t, s, "vip", "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
}

// PriorityClass resolution: spec.priority, else the named class, else the
// global default class.
func TestPriorityClassResolutionAndNodeChoice(t *testing.T) {
	s := newStore(t)
	create(t, s,
		&objects.PriorityClass{ObjectMeta: objects.ObjectMeta{Name: "batch"}, Value: 10, GlobalDefault: true},
		&objects.PriorityClass{ObjectMeta: objects.ObjectMeta{Name: "important"}, Value: 1000},
		&objects.PriorityClass{ObjectMeta: objects.ObjectMeta{Name: "medium"}, Value: 100},
		makeNode("n1", "1", "4Gi"), makeNode("n2", "1", "4Gi"))
	// n1 runs a pod of the medium class, n2 one of the default class (10).
	create(t, s,
		makePod("medium", "1", "", onNode("n1"), func(p *objects.Pod) { p.Spec.PriorityClassName = "medium" }),
		makePod("default", "1", "", onNode("n2")))
	release := make(chan struct{})
	close(release)
	stopTerminating(t, s, release)
	run(t, s)

	// A pod of the default class cannot preempt anything.
	create(t, s, makePod("peer", "1", ""))
	waitUnschedulable(t, s, "peer", "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")

	// An important pod evicts the lowest-priority victim it can: on n2.
	create(t, s, makePod("vip", "1", "", func(p *objects.Pod) { p.Spec.PriorityClassName = "important" }))
	require.Equal(t, "n2", waitBound(t, s, "vip").Spec.NodeName)
	require.Nil(t, getPod(t, s, key("default")))
	require.Nil(t, getPod(t, s, key("medium")).DeletionTimestamp)
}

// A victim with terminationGracePeriodSeconds 0 goes at once.
func TestPreemptionWithoutGrace(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("low", "1", "", onNode("n1"), priority(0), grace(0)))
	run(t, s)
	create(t, s, makePod("vip", "1", "", priority(5)))
	require.Equal(t, "n1", waitBound(t, s, "vip").Spec.NodeName)
	require.Nil(t, getPod(t, s, key("low")))
}

// Unit test of victim selection on a snapshot: reprieve keeps the most
// important pods that the preemptor still fits beside.
func TestSelectVictimsReprieves(t *testing.T) {
	fw, err := compileProfile(DefaultProfile())
	require.NoError(t, err)
	snap := newSnapshot()
	a := newAlgorithm(fw, snap, 1)
	snap.setNode(makeNode("n1", "4", "16Gi"))
	for i, spec := range []struct {
		cpu  string
		prio int32
	}{{"1", 1}, {"1", 2}, {"2", 3}} {
		p := makePod(fmt.Sprintf("p%d", i), spec.cpu, "", priority(spec.prio), onNode("n1"))
		p.UID = fmt.Sprint(i)
		pi, err := snap.newPodInfo(p, false)
		require.NoError(t, err)
		snap.addPod(pi, "n1")
	}
	vip := makePod("vip", "2", "", priority(10))
	vip.UID = "vip"
	pi, err := snap.newPodInfo(vip, true)
	require.NoError(t, err)
	g := &group{pod: pi, heapIndex: -1}
	require.Nil(t, a.prepare(g))
	c, st := a.selectVictims(g, snap.Node("n1"))
	require.Nil(t, st)
	// Removing all frees 4 cpu; keeping p2 (2 cpu, priority 3) leaves 2:
	// enough. Then p1 (1 cpu) does not fit back, nor p0.
	var names []string
	for _, v := range c.victims {
		names = append(names, v.name)
	}
	require.ElementsMatch(t, []string{"p0", "p1"}, names)
	require.Len(t, snap.Node("n1").pods, 3, "the snapshot is restored")
}

// A pod nominated to a node holds no room there against a pod of higher
// priority: Kubernetes counts only nominated pods of equal or higher
// priority. The higher pod binds on its first attempt (the clock never
// moves), and the lower one loses its nomination.
func TestLowerPriorityNominationHoldsNoRoom(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	create(t, s, makeNode("n1", "1", "4Gi"))
	low := makePod("low", "1", "", priority(0))
	low.Status.NominatedNodeName = "n1"
	create(t, s, low, makePod("high", "1", "", priority(100)))
	run(t, s, WithClock(clk))
	require.Equal(t, "n1", waitBound(t, s, "high").Spec.NodeName)
	waitPod(t, s, key("low"), "unschedulable, not nominated", func(p *objects.Pod) bool {
		c := objects.GetPodCondition(&p.Status, objects.PodScheduled)
		return c != nil && c.Status == objects.ConditionFalse && p.Status.NominatedNodeName == ""
	})
}

// A pod that preempts on a node clears the nominations of the pods of
// lower priority nominated there, as Kubernetes' preemption does.
func TestPreemptionClearsLowerNominations(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("victim", "1", "", onNode("n1"), priority(0)))
	release := make(chan struct{})
	stopTerminating(t, s, release)
	run(t, s)
	create(t, s, makePod("low", "1", "", priority(10)))
	waitPod(t, s, key("low"), "nominated", func(p *objects.Pod) bool { return p.Status.NominatedNodeName == "n1" })

	// The victim is still stopping when a pod of higher priority comes.
	create(t, s, makePod("high", "1", "", priority(100)))
	waitPod(t, s, key("high"), "nominated", func(p *objects.Pod) bool { return p.Status.NominatedNodeName == "n1" })
	waitPod(t, s, key("low"), "no longer nominated", func(p *objects.Pod) bool { return p.Status.NominatedNodeName == "" })

	close(release)
	require.Equal(t, "n1", waitBound(t, s, "high").Spec.NodeName)
	require.Empty(t, getPod(t, s, key("low")).Spec.NodeName)
}

// makeBudget is a PodDisruptionBudget of the default namespace over the
// pods labelled app=<app>, its status allowing that many disruptions.
func makeBudget(app string, allowed int32) *objects.PodDisruptionBudget {
	return &objects.PodDisruptionBudget{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: app},
		Spec:       objects.PodDisruptionBudgetSpec{Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": app}}},
		Status:     objects.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: allowed},
	}
}

// Of two nodes, the one whose victims violate no budget wins, although its
// victim has the higher priority.
func TestPreemptionAvoidsViolatingBudgets(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makeNode("n2", "1", "4Gi"), makeBudget("guarded", 0),
		makePod("guarded", "1", "", onNode("n1"), priority(1), podLabels("app", "guarded")),
		makePod("spare", "1", "", onNode("n2"), priority(2), podLabels("app", "spare")))
	release := make(chan struct{})
	close(release)
	stopTerminating(t, s, release)
	run(t, s)
	create(t, s, makePod("vip", "1", "", priority(100)))
	require.Equal(t, "n2", waitBound(t, s, "vip").Spec.NodeName)
	require.Nil(t, getPod(t, s, key("spare")))
	require.Nil(t, getPod(t, s, key("guarded")).DeletionTimestamp)
}

// On a node, the pod a budget protects is kept back first: another pod,
// of higher priority, is evicted in its place.
func TestPreemptionReprievesProtectedPodsFirst(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "2", "4Gi"), makeBudget("guarded", 0),
		makePod("guarded", "1", "", onNode("n1"), priority(1), podLabels("app", "guarded")),
		makePod("other", "1", "", onNode("n1"), priority(2), podLabels("app", "other")))
	release := make(chan struct{})
	close(release)
	stopTerminating(t, s, release)
	run(t, s)
	create(t, s, makePod("vip", "1", "", priority(100)))
	require.Equal(t, "n1", waitBound(t, s, "vip").Spec.NodeName)
	require.Nil(t, getPod(t, s, key("other")))
	require.Nil(t, getPod(t, s, key("guarded")).DeletionTimestamp)
}

// When every node's victims violate a budget, the pod still preempts, on
// the node with the fewest violations. The budgets come after the
// scheduler started: it follows them.
func TestPreemptionViolatesFewestBudgets(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "2", "4Gi"), makeNode("n2", "2", "4Gi"),
		makePod("a1", "1", "", onNode("n1"), priority(1), podLabels("app", "a")),
		makePod("a2", "1", "", onNode("n1"), priority(1), podLabels("app", "a")),
		makePod("b", "2", "", onNode("n2"), priority(2), podLabels("app", "b")))
	release := make(chan struct{})
	close(release)
	stopTerminating(t, s, release)
	run(t, s)
	create(t, s, makeBudget("a", 0), makeBudget("b", 0))
	create(t, s, makePod("vip", "2", "", priority(100)))
	require.Equal(t, "n2", waitBound(t, s, "vip").Spec.NodeName)
	require.Nil(t, getPod(t, s, key("b")))
	for _, name := range []string{"a1", "a2"} {
		require.Nil(t, getPod(t, s, key(name)).DeletionTimestamp, name)
	}
}

// The rules of Kubernetes' filterPodsWithPDBViolation.
func TestViolatingFirst(t *testing.T) {
	pdb := func(ns, name string, allowed int32, sel *objects.LabelSelector, disrupted ...string) *objects.PodDisruptionBudget {
		b := &objects.PodDisruptionBudget{ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name, Generation: 1},
			Spec: objects.PodDisruptionBudgetSpec{Selector: sel}, Status: objects.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed}}
		for _, p := range disrupted {
			if b.Status.DisruptedPods == nil {
				b.Status.DisruptedPods = map[string]objects.Time{}
			}
			b.Status.DisruptedPods[p] = objects.NewTime(time.Unix(0, 0))
		}
		return b
	}
	app := func(v string) *objects.LabelSelector {
		return &objects.LabelSelector{MatchLabels: map[string]string{"app": v}}
	}
	web := []string{"app", "web"}
	for _, tc := range []struct {
		name      string
		budgets   []*objects.PodDisruptionBudget
		pods      [][]string // labels of p0, p1, … (most important first)
		violating []string
	}{
		{name: "no budget", pods: [][]string{web, web}},
		{name: "one disruption allowed: the second pod violates",
			budgets: []*objects.PodDisruptionBudget{pdb("default", "web", 1, app("web"))},
			pods:    [][]string{web, web, web}, violating: []string{"p1", "p2"}},
		{name: "status never computed allows nothing",
			budgets: []*objects.PodDisruptionBudget{pdb("default", "web", 0, app("web"))},
			pods:    [][]string{web, nil}, violating: []string{"p0"}},
		{name: "disrupted pods spend nothing",
			budgets: []*objects.PodDisruptionBudget{pdb("default", "web", 1, app("web"), "p0", "p1")},
			pods:    [][]string{web, web, web, web}, violating: []string{"p3"}},
		{name: "nil, empty and invalid selectors match nothing",
			budgets: []*objects.PodDisruptionBudget{
				pdb("default", "nil", 0, nil),
				pdb("default", "empty", 0, &objects.LabelSelector{}),
				pdb("default", "invalid", 0, &objects.LabelSelector{MatchExpressions: []objects.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}),
			},
			pods: [][]string{web}},
		{name: "pods without labels match nothing",
			budgets: []*objects.PodDisruptionBudget{pdb("default", "all", 0, &objects.LabelSelector{
				MatchExpressions: []objects.LabelSelectorRequirement{{Key: "app", Operator: objects.LabelSelectorOpDoesNotExist}}})},
			pods: [][]string{nil, {"tier", "db"}}, violating: []string{"p1"}},
		{name: "budgets of other namespaces",
			budgets: []*objects.PodDisruptionBudget{pdb("other", "web", 0, app("web"))},
			pods:    [][]string{web}},
		{name: "each matching budget is spent",
			budgets: []*objects.PodDisruptionBudget{
				pdb("default", "web", 5, app("web")),
				pdb("default", "tier", 1, &objects.LabelSelector{MatchLabels: map[string]string{"tier": "front"}}),
			},
			pods: [][]string{{"app", "web", "tier", "front"}, web, {"app", "web", "tier", "front"}}, violating: []string{"p2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := newSnapshot()
			for _, b := range tc.budgets {
				snap.setBudget(b)
			}
			var pods []*PodInfo
			for i, l := range tc.pods {
				p := makePod(fmt.Sprintf("p%d", i), "1", "", podLabels(l...))
				pi, err := snap.newPodInfo(p, false)
				require.NoError(t, err)
				pods = append(pods, pi)
			}
			ordered, n := snap.violatingFirst(pods)
			var names []string
			for _, p := range ordered {
				names = append(names, p.name)
			}
			var want []string
			want = append(want, tc.violating...)
			for _, p := range pods {
				if !slices.Contains(tc.violating, p.name) {
					want = append(want, p.name)
				}
			}
			require.Equal(t, want, names)
			require.Equal(t, len(tc.violating), n)
		})
	}
}

// Updates and deletions of budgets reach the snapshot; a selector change
// moves the generation.
func TestSnapshotBudgets(t *testing.T) {
	snap := newSnapshot()
	b := makeBudget("web", 0)
	b.Generation = 1
	snap.setBudget(b)
	pi, err := snap.newPodInfo(makePod("p", "1", "", podLabels("app", "web")), false)
	require.NoError(t, err)
	_, n := snap.violatingFirst([]*PodInfo{pi})
	require.Equal(t, 1, n)

	b = b.DeepCopy()
	b.Status.DisruptionsAllowed = 1
	snap.setBudget(b)
	_, n = snap.violatingFirst([]*PodInfo{pi})
	require.Equal(t, 0, n, "status update seen")

	b = b.DeepCopy()
	b.Generation = 2
	b.Status.DisruptionsAllowed = 0
	b.Spec.Selector = &objects.LabelSelector{MatchLabels: map[string]string{"app": "db"}}
	snap.setBudget(b)
	_, n = snap.violatingFirst([]*PodInfo{pi})
	require.Equal(t, 0, n, "selector change seen")
	require.Len(t, snap.budgets["default"], 1)

	b.Spec.Selector = nil
	snap.deleteBudget(b)
	require.Empty(t, snap.budgets)
}

// With more than 100 nodes where eviction could help, the dry runs go on
// past the wanted number of candidates until one violates no budget, as
// Kubernetes' DryRunPreemption does: whatever the random offset, the one
// node without a budget is found.
func TestPreemptionSearchesForNodeWithoutViolation(t *testing.T) {
	fw, err := compileProfile(DefaultProfile())
	require.NoError(t, err)
	const nodes = 150
	for seed := uint64(1); seed <= 16; seed++ {
		snap := newSnapshot()
		a := newAlgorithm(fw, snap, seed)
		snap.setBudget(makeBudget("guarded", 0))
		for i := range nodes {
			name := fmt.Sprintf("n%03d", i)
			snap.setNode(makeNode(name, "1", "4Gi"))
			app := "guarded"
			if i == nodes-1 {
				app = "free"
			}
			p := makePod("p-"+name, "1", "", onNode(name), priority(1), podLabels("app", app))
			p.UID = name
			pi, err := snap.newPodInfo(p, false)
			require.NoError(t, err)
			snap.addPod(pi, name)
		}
		vip := makePod("vip", "1", "", priority(10))
		vip.UID = "vip"
		pi, err := snap.newPodInfo(vip, true)
		require.NoError(t, err)
		g := &group{pod: pi, heapIndex: -1}
		require.Nil(t, a.prepare(g))
		d, node := a.diagnose(g)
		require.Nil(t, node)
		pre, why := a.preempt(g, "", d)
		require.NotNil(t, pre, why)
		require.Equal(t, fmt.Sprintf("n%03d", nodes-1), pre.node.name, "seed %d", seed)
		require.Zero(t, pre.violations)
	}
}

// newLoopFor is a scheduling loop over what s holds, to be driven by hand:
// nothing watches the store or writes the loop's decisions.
func newLoopFor(t *testing.T, s store.Store, opts ...Option) *loop {
	t.Helper()
	sch, err := New(s, opts...)
	require.NoError(t, err)
	l := newLoop(sch)
	_, err = l.list(context.Background())
	require.NoError(t, err)
	return l
}

// takeOps returns the writes the loop queued, as the writer would take
// them, without writing them.
func takeOps(l *loop) []*writeOp {
	l.writer.mu.Lock()
	defer l.writer.mu.Unlock()
	ops := l.writer.ops
	l.writer.ops = nil
	return ops
}

// fullNodes returns n nodes of one CPU, n0 to n(n-1), each filled by a
// pod of priority 0 ("low-n0", ...) that leaves at once when evicted.
func fullNodes(n int) []objects.Object {
	var objs []objects.Object
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		objs = append(objs, makeNode(name, "1", "4Gi"), makePod("low-"+name, "1", "", onNode(name), priority(0), grace(0)))
	}
	return objs
}

// A preemptor whose preemption is still being written, its victim not
// yet seen leaving, is not tried again when something else changes, as
// Kubernetes keeps a pod out of the scheduling cycle while it preempts;
// tried again all the same (its wait ended), it waits for its victim, as
// Kubernetes' PodEligibleToPreemptOthers has it, instead of evicting
// another pod elsewhere. The loop is driven by hand so that the store
// tells it about one preemption before the other is written, as happens
// when the writer is behind.
func TestPreemptorWaitsForVictimsBeingEvicted(t *testing.T) {
	s := newStore(t)
	objs := fullNodes(4)
	objs = append(objs, makePod("a", "1", "", priority(100)), makePod("b", "1", "", priority(100)))
	create(t, s, objs...)
	l := newLoopFor(t, s)
	ctx := context.Background()
	w, err := s.Watch(ctx, store.WatchOptions{Kind: "Pod"})
	require.NoError(t, err)
	defer w.Stop()

	now := l.clock.Now()
	l.scheduleBatch(now)
	first := map[string]*writeOp{}
	for _, op := range takeOps(l) {
		require.Equal(t, opPreempt, op.kind, op.key)
		require.Len(t, op.victims, 1, op.key)
		first[op.key.Name] = op
	}
	opA, opB := first["a"], first["b"]
	require.NotNil(t, opA)
	require.NotNil(t, opB)
	require.NotEqual(t, opA.node, opB.node)

	// a's preemption is written and seen: its victim is gone, which
	// retries the waiting pods, before b's is written.
	for _, r := range l.writer.write(ctx, []*writeOp{opA}) {
		require.NoError(t, r.err)
	}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case ev := <-w.Events():
			l.apply(ev.Type, ev.Peek())
			seen = ev.Type == store.Deleted && ev.Key() == opA.victims[0].key
		case <-deadline:
			t.Fatal("the deletion of a's victim was not delivered")
		}
	}
	later := now.Add(time.Second)
	l.maybeFlush(later)
	l.scheduleBatch(later)
	retried := takeOps(l)
	require.Len(t, retried, 1, "only a was tried again")
	require.Equal(t, "a", retried[0].key.Name)
	require.Equal(t, opBind, retried[0].kind)
	require.Equal(t, opA.node, retried[0].node, "a binds where it preempted")

	// b's wait ends before its victim is seen leaving.
	expired := now.Add(maxUnschedulable + time.Second)
	l.q.expire(expired)
	l.scheduleBatch(expired)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, "b", ops[0].key.Name)
	require.Equal(t, opUnschedulable, ops[0].kind, "b does not preempt again: victims %v", ops[0].victims)
	require.Equal(t, opB.node, ops[0].nominate, "b keeps its node")
	require.Contains(t, ops[0].message, msgTerminatingOnNominated)

	// Once everything is written, two pods were evicted for two pods.
	for _, r := range l.writer.write(ctx, append([]*writeOp{opB}, append(retried, ops...)...)) {
		require.NoError(t, r.err)
	}
	left := 0
	for _, p := range listPods(t, s) {
		if p.Spec.Priority != nil && *p.Spec.Priority == 0 {
			left++
		}
	}
	require.Equal(t, 2, left, "pods of priority 0 left")
}

// Preemptors coming faster than their preemptions are written evict one
// pod each, no more, as Kubernetes would: each waits for its own victims
// rather than preempting again, and the room freed for one is held for it.
func TestPreemptorsEvictOnlyWhatTheyNeed(t *testing.T) {
	const nodes, preemptors = 300, 150
	s := newStore(t)
	var objs []objects.Object
	for i := range nodes {
		n := fmt.Sprintf("n%03d", i)
		objs = append(objs, makeNode(n, "4", "32Gi"))
		for j := range 4 {
			objs = append(objs, makePod(fmt.Sprintf("low-%03d-%d", i, j), "1", "1Gi", onNode(n), priority(0), grace(0)))
		}
	}
	for i := range preemptors {
		objs = append(objs, makePod(fmt.Sprintf("vip-%03d", i), "1", "1Gi", priority(100)))
	}
	create(t, s, objs...)
	run(t, s, WithBatchSize(64))
	var low, bound int
	require.Eventually(t, func() bool {
		low, bound = 0, 0
		for _, p := range listPods(t, s) {
			switch {
			case *p.Spec.Priority == 0:
				low++
			case p.Spec.NodeName != "":
				bound++
			}
		}
		return bound == preemptors
	}, 20*time.Second, 5*time.Millisecond, "preemptors bound: %d of %d", bound, preemptors)
	require.Equal(t, preemptors, nodes*4-low, "victims")
}

// A preemption whose write failed evicted nothing: its victims are not
// leaving, and its preemptor, tried again, preempts again.
func TestFailedPreemptionWriteLeavesVictims(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("low", "1", "", onNode("n1"), priority(0)),
		makePod("vip", "1", "", priority(100)))
	l := newLoopFor(t, s)
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	low := l.snap.pods[key("low")]
	require.True(t, low.evicting)

	l.writer.results = []writeResult{{op: ops[0], err: errors.New("disk full")}}
	l.collect()
	require.False(t, low.evicting)
	later := now.Add(time.Minute) // past its backoff
	l.q.expire(later)
	l.scheduleBatch(later)
	ops = takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind, "preempts again: %s", ops[0].message)
	require.Equal(t, "n1", ops[0].node)
}

// A pod nominated to a node is looked at on its own in a batch: when it
// may not preempt while its victims leave, the next pod of its group,
// nominated nowhere, still preempts.
func TestBatchTriesNominatedPodsOneByOne(t *testing.T) {
	s := newStore(t)
	for i := range 3 {
		n := fmt.Sprintf("n%d", i)
		create(t, s, makeNode(n, "1", "4Gi"), makePod("low-"+n, "1", "", onNode(n), priority(0)))
	}
	create(t, s, makePod("b", "1", "", priority(100)))
	l := newLoopFor(t, s)
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	nominated := ops[0].node

	// Before b's preemption is written, its wait ends, and a pod like it
	// comes: both are placed in one batch, b first.
	later := now.Add(maxUnschedulable + time.Second)
	l.q.expire(later)
	c := makePod("c", "1", "", priority(100))
	c.UID = "c"
	l.apply(store.Added, c)
	require.Same(t, l.pods[key("b")].group, l.pods[key("c")].group)
	l.scheduleBatch(later)
	byPod := map[string]*writeOp{}
	for _, op := range takeOps(l) {
		byPod[op.key.Name] = op
	}
	require.Equal(t, opUnschedulable, byPod["b"].kind)
	require.Equal(t, nominated, byPod["b"].nominate)
	require.Equal(t, opPreempt, byPod["c"].kind, "c preempts: %s", byPod["c"].message)
	require.NotEqual(t, nominated, byPod["c"].node)
	require.Len(t, byPod["c"].victims, 1)
}

// A preemptor binds on the node it freed, tried first, as Kubernetes
// tries the nominated node first, even before the store shows its
// nomination and though another node now scores better.
func TestPreemptorBindsOnNominatedNodeFirst(t *testing.T) {
	s := newStore(t)
	low := makePod("low", "1", "", onNode("n1"), priority(0))
	big := makePod("big", "4", "", onNode("n2"), priority(1000))
	create(t, s, makeNode("n1", "1", "4Gi"), makeNode("n2", "4", "4Gi"), low, big, makePod("a", "1", "", priority(100)))
	l := newLoopFor(t, s)
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	require.Equal(t, "n1", ops[0].node)

	// The victim is gone, and so is the pod filling n2, which now scores
	// better; a's nomination is not seen in the store yet.
	l.apply(store.Deleted, getPod(t, s, key("low")))
	l.apply(store.Deleted, getPod(t, s, key("big")))
	later := now.Add(time.Second)
	l.maybeFlush(later)
	l.scheduleBatch(later)
	ops = takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opBind, ops[0].kind)
	require.Equal(t, "n1", ops[0].node)
}

// A victim that changes before its eviction is written is still leaving:
// its preemptor waits for it, and is tried again once it is gone.
func TestVictimChangedWhileEvicted(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("low", "1", "", onNode("n1"), priority(0)),
		makePod("vip", "1", "", priority(100)))
	l := newLoopFor(t, s)
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)

	low := getPod(t, s, key("low"))
	changed := low.DeepCopy()
	changed.Labels = map[string]string{"tier": "batch"}
	l.apply(store.Modified, changed)
	require.True(t, l.snap.pods[key("low")].evicting)
	later := now.Add(time.Second)
	l.wantFlush(^uint64(0))
	l.maybeFlush(later)
	l.scheduleBatch(later)
	require.Empty(t, takeOps(l), "vip waits for its victim")

	l.apply(store.Deleted, changed)
	later = later.Add(time.Second)
	l.maybeFlush(later)
	l.scheduleBatch(later)
	ops = takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opBind, ops[0].kind)
	require.Equal(t, "n1", ops[0].node)
}
