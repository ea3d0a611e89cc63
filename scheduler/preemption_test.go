package scheduler

import (
	"context"
	"fmt"
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
