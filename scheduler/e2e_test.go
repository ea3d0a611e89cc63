package scheduler

import (
	"context"
	"fmt"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func listPods(t *testing.T, s store.Store) []*objects.Pod {
	t.Helper()
	var out []*objects.Pod
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		l, err := tx.List("Pod", store.ListOptions{})
		for _, o := range l {
			out = append(out, o.(*objects.Pod))
		}
		return err
	}))
	return out
}

// Pods with anti-affinity on hostname and a zone spread constraint land one
// per node, evenly over zones; one more fits nowhere and says why.
func TestAntiAffinityAndSpreadEndToEnd(t *testing.T) {
	s := newStore(t)
	for i := range 6 {
		create(t, s, makeNode(fmt.Sprintf("n%d", i), "4", "4Gi", withLabels(LabelZone, fmt.Sprintf("z%d", i%3))))
	}
	run(t, s)
	mk := func(name string) *objects.Pod {
		p := pod(name, "app", "web")
		s := &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		withAffinity(p, nil, terms(aterm(s, LabelHostname)))
		return spread(p, 1, LabelZone, objects.DoNotSchedule, s)
	}
	for i := range 6 {
		create(t, s, mk(fmt.Sprintf("web-%d", i)))
	}
	nodes := map[string]bool{}
	zones := map[string]int{}
	for i := range 6 {
		n := waitBound(t, s, fmt.Sprintf("web-%d", i)).Spec.NodeName
		require.False(t, nodes[n], "two pods on %s", n)
		nodes[n] = true
		var idx int
		fmt.Sscanf(n, "n%d", &idx)
		zones[fmt.Sprintf("z%d", idx%3)]++
	}
	require.Equal(t, map[string]int{"z0": 2, "z1": 2, "z2": 2}, zones)
	create(t, s, mk("web-6"))
	waitUnschedulable(t, s, "web-6", "0/6 nodes are available: 6 node(s) didn't match pod anti-affinity rules. "+
		"preemption: 0/6 nodes are available: 6 No preemption victims found for incoming pod.")
}

// Required pod affinity: the pods follow the pod they need.
func TestPodAffinityEndToEnd(t *testing.T) {
	s := newStore(t)
	for i := range 4 {
		create(t, s, makeNode(fmt.Sprintf("n%d", i), "4", "4Gi", withLabels(LabelZone, fmt.Sprintf("z%d", i%2))))
	}
	create(t, s, on(pod("db", "app", "db"), "n3"))
	run(t, s)
	for i := range 3 {
		create(t, s, withAffinity(pod(fmt.Sprintf("cache-%d", i)), terms(aterm(sel("app", objects.LabelSelectorOpIn, "db"), LabelZone)), nil))
	}
	for i := range 3 {
		n := waitBound(t, s, fmt.Sprintf("cache-%d", i)).Spec.NodeName
		require.Contains(t, []string{"n1", "n3"}, n, "zone z1 only")
	}
	create(t, s, withAffinity(pod("orphan"), terms(aterm(sel("app", objects.LabelSelectorOpIn, "queue"), LabelZone)), nil))
	waitUnschedulable(t, s, "orphan", "0/4 nodes are available: 4 node(s) didn't match pod affinity rules. "+
		"preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")
	// The pod it needs appears: it follows.
	create(t, s, on(pod("queue", "app", "queue"), "n0"))
	require.Contains(t, []string{"n0", "n2"}, waitBound(t, s, "orphan").Spec.NodeName)
}

// A pod waiting for the pod its affinity needs is tried again as soon as
// the scheduler itself places that pod, as Kubernetes tries it again on
// the bound pod's event, not after a backoff (the clock moves by the flush
// interval only).
func TestAffinityRetriedWhenSchedulerPlacesItsPod(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("n0", "4", "4Gi", withLabels(LabelZone, "z0")), makeNode("n1", "4", "4Gi", withLabels(LabelZone, "z1")))
	run(t, s, WithClock(clk), WithEventRecorder(rec))
	create(t, s, withAffinity(pod("cache"), terms(aterm(sel("app", objects.LabelSelectorOpIn, "db"), LabelZone)), nil))
	settle(t, clk, rec, "cache", 1)
	clk.Advance(flushInterval) // no retry is held back by the last one
	create(t, s, pod("db", "app", "db"))
	db := waitBound(t, s, "db").Spec.NodeName
	require.Equal(t, db, waitBound(t, s, "cache").Spec.NodeName, "the one node of db's zone")
}

// A pod rejected by its spread constraint is tried again when a node goes:
// the domain with the fewest matching pods may go with it.
func TestSpreadRetriedWhenNodeRemoved(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	// z1's node takes no pods, but counts as a domain with none.
	create(t, s, makeNode("n0", "4", "4Gi", withLabels(LabelZone, "z0")), makeNode("n1", "4", "4Gi", withLabels(LabelZone, "z1"), cordoned()),
		on(pod("web-0", "app", "web"), "n0"))
	run(t, s, WithClock(clk), WithEventRecorder(rec))
	create(t, s, spread(pod("web-1", "app", "web"), 1, LabelZone, objects.DoNotSchedule, sel("app", objects.LabelSelectorOpIn, "web")))
	settle(t, clk, rec, "web-1", 1)
	clk.Advance(flushInterval) // no retry is held back by the last one
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Node", objects.Key{Name: "n1"}, store.DeleteOptions{})
		return err
	}))
	require.Equal(t, "n0", waitBound(t, s, "web-1").Spec.NodeName)
}

// A group of identical pods fills the nodes exactly to capacity.
func TestGroupFillsToCapacity(t *testing.T) {
	s := newStore(t)
	for i := range 10 {
		create(t, s, makeNode(fmt.Sprintf("n%d", i), "1", "4Gi"))
	}
	run(t, s, WithBatchSize(7))
	for i := range 100 {
		create(t, s, makePod(fmt.Sprintf("w-%03d", i), "100m", "", podLabels("app", "w")))
	}
	perNode := map[string]int{}
	for i := range 100 {
		perNode[waitBound(t, s, fmt.Sprintf("w-%03d", i)).Spec.NodeName]++
	}
	for n, c := range perNode {
		require.Equal(t, 10, c, "node %s", n)
	}
	create(t, s, makePod("w-100", "100m", "", podLabels("app", "w")))
	waitUnschedulable(t, s, "w-100", "0/10 nodes are available: 10 Insufficient cpu. preemption: 0/10 nodes are available: 10 No preemption victims found for incoming pod.")
}

// Bin packing fills one node before the next.
func TestBinPackingProfile(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("a", "4", "8Gi"), makeNode("b", "4", "8Gi"), makeNode("c", "4", "8Gi"))
	run(t, s, WithProfile(BinPackingProfile()))
	for i := range 4 {
		create(t, s, makePod(fmt.Sprintf("p%d", i), "1", "1Gi"))
	}
	nodes := map[string]int{}
	for i := range 4 {
		nodes[waitBound(t, s, fmt.Sprintf("p%d", i)).Spec.NodeName]++
	}
	require.Len(t, nodes, 1, "all on one node: %v", nodes)
}

// A cordoned node takes no new pod; uncordoned, it does.
func TestCordonAndUncordon(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "4", "4Gi", cordoned()))
	run(t, s)
	create(t, s, makePod("p", "100m", ""))
	waitUnschedulable(t, s, "p", "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
	update(t, s, makeNode("n1", "4", "4Gi"))
	require.Equal(t, "n1", waitBound(t, s, "p").Spec.NodeName)
}

// oddNodes is a host's filter: it rejects nodes labelled parity=odd.
type oddNodes struct{}

func (oddNodes) Name() string { return "OddNodes" }

func (oddNodes) Locality() Locality { return LocalityNodeObject }

func (oddNodes) Filter(_ any, _ *PodInfo, n *NodeInfo) *Status {
	if n.Labels()["parity"] == "odd" {
		return NewStatus(UnschedulableAndUnresolvable, "node(s) are odd")
	}
	return nil
}

// preferLabel is a host's score: nodes labelled tier=gold score 100.
type preferLabel struct{}

func (preferLabel) Name() string { return "PreferGold" }

func (preferLabel) Score(_ any, _ *PodInfo, n *NodeInfo) int64 {
	if n.Labels()["tier"] == "gold" {
		return MaxNodeScore
	}
	return 0
}

func TestHostPlugins(t *testing.T) {
	s := newStore(t)
	create(t, s,
		makeNode("n0", "4", "4Gi", withLabels("parity", "even")),
		makeNode("n1", "4", "4Gi", withLabels("parity", "odd", "tier", "gold")),
		makeNode("n2", "8", "8Gi", withLabels("parity", "even")),
		makeNode("n3", "4", "4Gi", withLabels("parity", "even", "tier", "gold")))
	// The host's filter first: a node it rejects is reported under it.
	p := DefaultProfile()
	p.Plugins = append([]WeightedPlugin{{Plugin: oddNodes{}}}, p.Plugins...)
	p.Plugins = append(p.Plugins, WeightedPlugin{Plugin: preferLabel{}, Weight: 10})
	run(t, s, WithProfile(p))
	create(t, s, makePod("p", "100m", ""))
	require.Equal(t, "n3", waitBound(t, s, "p").Spec.NodeName, "gold, and not odd")
	create(t, s, makePod("big", "9", ""))
	waitUnschedulable(t, s, "big", "0/4 nodes are available: 1 node(s) are odd, 3 Insufficient cpu. "+
		"preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, 3 No preemption victims found for incoming pod.")
}

func TestWithPluginsOption(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "4", "4Gi", withLabels("parity", "odd")))
	run(t, s, WithPlugins(oddNodes{}))
	create(t, s, makePod("p", "100m", ""))
	waitUnschedulable(t, s, "p", "0/1 nodes are available: 1 node(s) are odd. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
}

// A local volume pins its pod to its node; a WaitForFirstConsumer claim is
// marked with the node chosen.
func TestLocalVolumeEndToEnd(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("node-a", "4", "4Gi"), makeNode("node-b", "4", "4Gi"),
		storageClass("local", noProvisioner, objects.VolumeBindingWaitForFirstConsumer),
		localPV("pv-b", "local", "node-b"), claim("data", "local", ""))
	run(t, s)
	create(t, s, withClaim(pod("db"), "data"))
	require.Equal(t, "node-b", waitBound(t, s, "db").Spec.NodeName)
	var c *objects.PersistentVolumeClaim
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("PersistentVolumeClaim", key("data"))
		if err == nil {
			c = o.(*objects.PersistentVolumeClaim)
		}
		return err
	}))
	require.Equal(t, "node-b", c.Annotations[AnnotationSelectedNode])
}

// A pod deleted while it waits leaves the queue; one recreated under the
// same name is a new pod.
func TestPendingPodDeletedAndRecreated(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "1Gi"))
	run(t, s)
	create(t, s, makePod("p", "2", ""))
	waitUnschedulable(t, s, "p", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Pod", key("p"), store.DeleteOptions{})
		return err
	}))
	create(t, s, makePod("p", "500m", ""))
	require.Equal(t, "n1", waitBound(t, s, "p").Spec.NodeName)
}

// Pods bound to a node that is not registered yet count once it is.
func TestPodsOnUnregisteredNodeCount(t *testing.T) {
	s := newStore(t)
	create(t, s, makePod("early", "3", "", onNode("late")))
	run(t, s)
	create(t, s, makeNode("late", "4", "4Gi"))
	create(t, s, makePod("p", "2", ""))
	waitUnschedulable(t, s, "p", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
}

// Many identical pods with a host port spread one per node.
func TestHostPortsEndToEnd(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi"))
	run(t, s)
	for i := range 3 {
		create(t, s, makePod(fmt.Sprintf("p%d", i), "100m", "", withHostPort(8080)))
	}
	bound := 0
	for _, p := range listPodsEventually(t, s, 2) {
		if p.Spec.NodeName != "" {
			bound++
		}
	}
	require.Equal(t, 2, bound)
}

// listPodsEventually waits until n pods are bound and the rest report why
// they are not, then lists them.
func listPodsEventually(t *testing.T, s store.Store, n int) []*objects.Pod {
	t.Helper()
	var pods []*objects.Pod
	require.Eventually(t, func() bool {
		pods = listPods(t, s)
		b, u := 0, 0
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				b++
			} else if c := objects.GetPodCondition(&p.Status, objects.PodScheduled); c != nil && c.Status == objects.ConditionFalse {
				u++
			}
		}
		return b == n && b+u == len(pods)
	}, 10e9, 1e6)
	return pods
}
