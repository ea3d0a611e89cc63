package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// commit writes ops as the writer would and hands the loop their results.
func commit(t *testing.T, l *loop, ops ...*writeOp) {
	t.Helper()
	res := l.writer.write(context.Background(), ops)
	for _, r := range res {
		require.NoError(t, r.err, r.op.key)
	}
	l.writer.mu.Lock()
	l.writer.results = append(l.writer.results, res...)
	l.writer.mu.Unlock()
	l.collect()
}

// deliver applies the events of w to l up to and including the first for
// which last is true.
func deliver(t *testing.T, l *loop, w store.Watcher, last func(store.Event) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-w.Events():
			require.True(t, ok, "the watch ended: %v", w.Err())
			l.apply(ev.Type, ev.Peek())
			if last(ev) {
				return
			}
		case <-deadline:
			t.Fatal("the awaited event was not delivered")
		}
	}
}

// annotate has the host annotate a pod, and returns the revision written.
func annotate(t *testing.T, s store.Store, name string) int64 {
	t.Helper()
	var rev int64
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", key(name))
		if err != nil {
			return err
		}
		p := o.(*objects.Pod)
		p.Annotations = map[string]string{"example.com/touched": "yes"}
		rev = tx.Revision()
		return tx.Update(p)
	}))
	return rev
}

func lowPodsLeft(t *testing.T, s store.Store) int {
	left := 0
	for _, p := range listPods(t, s) {
		if p.Spec.Priority != nil && *p.Spec.Priority == 0 {
			left++
		}
	}
	return left
}

// A relist while a preemption is under way, its eviction not written yet,
// keeps what the scheduler decided: the victim still counts as leaving,
// and the preemptor keeps its node and waits for its victim, as
// Kubernetes keeps its nominations and preemptions in flight across a
// relist of its informers. Tried again meanwhile, it does not evict
// another pod elsewhere.
func TestRelistKeepsPreemptionUnderWay(t *testing.T) {
	s := newStore(t)
	create(t, s, append(fullNodes(4), makePod("vip", "1", "", priority(100)))...)
	l := newLoopFor(t, s)
	ctx := context.Background()
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	require.Len(t, ops[0].victims, 1)
	victim, node := ops[0].victims[0], ops[0].node

	// The watch fell behind before the preemption was written: the loop
	// lists again.
	_, err := l.list(ctx)
	require.NoError(t, err)
	require.True(t, l.snap.pods[victim.key].evicting, "the victim still counts as leaving")
	require.Equal(t, node, l.pods[key("vip")].nominated)
	l.maybeFlush(now.Add(time.Second))
	l.scheduleBatch(now.Add(time.Second))
	require.Empty(t, takeOps(l), "vip waits for its victim")

	// Its wait ends before the store shows its victim leaving.
	later := now.Add(maxUnschedulable + time.Second)
	l.q.expire(later)
	l.scheduleBatch(later)
	retried := takeOps(l)
	require.Len(t, retried, 1)
	require.Equal(t, opUnschedulable, retried[0].kind, "vip preempts again: victims %v", retried[0].victims)
	require.Equal(t, node, retried[0].nominate, "vip keeps its node")
	require.Contains(t, retried[0].message, msgTerminatingOnNominated)

	for _, r := range l.writer.write(ctx, append(ops, retried...)) {
		require.NoError(t, r.err)
	}
	require.Equal(t, 3, lowPodsLeft(t, s), "one pod evicted for one")
}

// The marks a relist keeps are those of the victims as chosen: a victim
// deleted and made again under its name (another uid) before the eviction
// is written is not leaving, and its preemptor, whose victim is gone,
// preempts again.
func TestRelistDropsMarksOfReplacedVictims(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("low", "1", "", onNode("n1"), priority(0)),
		makePod("vip", "1", "", priority(100)))
	l := newLoopFor(t, s)
	ctx := context.Background()
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	old := ops[0].victims[0]

	require.NoError(t, s.Update(ctx, func(tx store.Tx) error {
		zero := int64(0)
		_, err := tx.Delete("Pod", key("low"), store.DeleteOptions{GracePeriodSeconds: &zero})
		return err
	}))
	create(t, s, makePod("low", "1", "", onNode("n1"), priority(0)))
	_, err := l.list(ctx)
	require.NoError(t, err)
	low := l.snap.pods[key("low")]
	require.NotEqual(t, old.uid, low.uid)
	require.False(t, low.evicting, "a pod of the victim's name is no victim")

	l.scheduleBatch(now)
	ops = takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind, ops[0].message)
	require.Equal(t, []victim{{key: key("low"), uid: low.uid, grace: low.gracePeriod}}, ops[0].victims)
}

// An update event that the store wrote before a pod's nomination (here
// the host annotating the pod while its preemption is being written)
// does not take away the room held for it: the scheduler's own
// nomination wins over an older view of the pod, as Kubernetes' nominator
// keeps it. A pod of equal priority coming meanwhile does not get that
// room.
func TestStaleEventKeepsNomination(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("low", "1", "", onNode("n1"), priority(0), grace(0)),
		makePod("vip", "1", "", priority(100)))
	l := newLoopFor(t, s)
	ctx := context.Background()
	w, err := s.Watch(ctx, store.WatchOptions{Kind: "Pod"})
	require.NoError(t, err)
	defer w.Stop()

	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	require.Equal(t, "n1", ops[0].node)

	annotate(t, s, "vip")
	commit(t, l, ops...)
	require.Equal(t, revisionOf(getPod(t, s, key("vip"))), l.pods[key("vip")].nominatedAt)
	// The loop sees vip annotated, as it was before its nomination, and
	// its victim leave; vip's nomination comes in a later event.
	deliver(t, l, w, func(ev store.Event) bool { return ev.Type == store.Deleted && ev.Key() == key("low") })
	require.Equal(t, "n1", l.pods[key("vip")].nominated)
	r := l.snap.pods[key("vip")]
	require.True(t, r != nil && r.reserved && r.NodeName() == "n1", "room held for vip on n1")

	rival := makePod("rival", "1", "", priority(100))
	rival.UID = "rival"
	l.apply(store.Added, rival)
	later := now.Add(100 * time.Millisecond)
	l.maybeFlush(later)
	byPod := map[string]*writeOp{}
	for range 3 {
		l.scheduleBatch(later)
		for _, op := range takeOps(l) {
			byPod[op.key.Name] = op
		}
	}
	require.NotNil(t, byPod["rival"])
	require.Equal(t, opUnschedulable, byPod["rival"].kind, "rival took vip's room on %s", byPod["rival"].node)
	require.NotNil(t, byPod["vip"])
	require.Equal(t, opBind, byPod["vip"].kind, byPod["vip"].message)
	require.Equal(t, "n1", byPod["vip"].node)
}

// A nomination the scheduler cleared (a pod of higher priority preempted
// on its node) is not brought back by an event the store wrote before the
// clearing.
func TestStaleEventDoesNotRestoreClearedNomination(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"), makePod("victim", "1", "", onNode("n1"), priority(0)),
		makePod("low", "1", "", priority(10)))
	l := newLoopFor(t, s)
	ctx := context.Background()
	w, err := s.Watch(ctx, store.WatchOptions{Kind: "Pod"})
	require.NoError(t, err)
	defer w.Stop()

	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	commit(t, l, ops...)
	deliver(t, l, w, func(ev store.Event) bool {
		return ev.Key() == key("low") && ev.Peek().(*objects.Pod).Status.NominatedNodeName == "n1"
	})

	// The host annotates low, still nominated; before the loop sees it, a
	// pod of higher priority preempts on n1, clearing low's nomination.
	rev := annotate(t, s, "low")
	high := makePod("high", "1", "", priority(100))
	high.UID = "high"
	l.apply(store.Added, high)
	l.scheduleBatch(now)
	ops = takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opPreempt, ops[0].kind)
	require.Equal(t, []victim{{key: key("low"), uid: l.pods[key("low")].uid}}, ops[0].cleared)
	require.Empty(t, l.pods[key("low")].nominated)

	deliver(t, l, w, func(ev store.Event) bool { return ev.Revision >= rev })
	require.Empty(t, l.pods[key("low")].nominated, "the clearing is pending")
	require.Nil(t, l.snap.pods[key("low")], "no room held for low")
	commit(t, l, ops...)
	require.Empty(t, l.pods[key("low")].nominated, "the event predates the clearing")
	require.Nil(t, l.snap.pods[key("low")], "no room held for low")
}
