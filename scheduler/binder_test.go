package scheduler

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func newTestWriter(t *testing.T, s store.Store, rec EventRecorder) *writer {
	log := slog.New(slog.DiscardHandler)
	return newWriter(s, clockwork.NewFakeClock(), log, newEventSink(rec, log), objects.DefaultSchedulerName)
}

// A binding written from a stale resourceVersion conflicts, reads the pod
// again and binds it; spec.nodeName and PodScheduled=True commit together.
func TestBindAfterConflictAndGone(t *testing.T) {
	s := newStore(t)
	create(t, s, makePod("p", "", ""), makePod("q", "", ""), makePod("r", "", ""))
	p := getPod(t, s, key("p"))
	stale := p.DeepCopy()
	// Someone writes the pod's status: the resourceVersion moves on.
	p.Status.Message = "changed"
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error { return tx.UpdateStatus(p) }))
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Pod", key("q"), store.DeleteOptions{})
		return err
	}))

	w := newTestWriter(t, s, nil)
	res := w.write(context.Background(), []*writeOp{
		{kind: opBind, qp: &qpod{}, key: key("p"), uid: getPod(t, s, key("p")).UID, node: "n1", pod: stale},
		{kind: opBind, qp: &qpod{}, key: key("q"), uid: "gone", node: "n1"},
		{kind: opBind, qp: &qpod{}, key: key("r"), uid: "replaced", node: "n1"},
	})
	require.NoError(t, res[0].err)
	require.False(t, res[0].gone)
	require.True(t, res[1].gone, "deleted")
	require.True(t, res[2].gone, "another pod of that name")

	got := getPod(t, s, key("p"))
	require.Equal(t, "n1", got.Spec.NodeName)
	require.Equal(t, "changed", got.Status.Message, "the status written meanwhile is kept")
	c := objects.GetPodCondition(&got.Status, objects.PodScheduled)
	require.NotNil(t, c)
	require.Equal(t, objects.ConditionTrue, c.Status)
	require.Empty(t, getPod(t, s, key("r")).Spec.NodeName)
}

// plainTxStore hides the optional capabilities of its store's
// transactions, as a backend without them would have none.
type plainTxStore struct{ store.Store }

func (s plainTxStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(struct{ store.Tx }{tx}) })
}

// Without store.StatusUpdater a binding is a status write and a spec write
// in one transaction, from the pod as seen or, after a conflict, as read.
func TestBindWithoutStatusUpdater(t *testing.T) {
	s := newStore(t)
	create(t, s, makePod("p", "", ""), makePod("q", "", ""))
	seen := getPod(t, s, key("p"))
	staleSeen := getPod(t, s, key("q"))
	stale := staleSeen.DeepCopy()
	stale.Status.Message = "changed"
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error { return tx.UpdateStatus(stale) }))

	w := newTestWriter(t, plainTxStore{s}, nil)
	res := w.write(context.Background(), []*writeOp{
		{kind: opBind, qp: &qpod{}, key: key("p"), uid: seen.UID, node: "n1", pod: seen},
		{kind: opBind, qp: &qpod{}, key: key("q"), uid: stale.UID, node: "n2", pod: staleSeen},
	})
	for i, node := range []string{"n1", "n2"} {
		require.NoError(t, res[i].err)
		require.False(t, res[i].gone)
		got := getPod(t, s, key([]string{"p", "q"}[i]))
		require.Equal(t, node, got.Spec.NodeName)
		c := objects.GetPodCondition(&got.Status, objects.PodScheduled)
		require.NotNil(t, c)
		require.Equal(t, objects.ConditionTrue, c.Status)
	}
	require.Equal(t, "changed", getPod(t, s, key("q")).Status.Message)
}

// The unschedulable status is written only when it changes; the event is
// recorded every time.
func TestUnschedulableStatusWrittenOnChange(t *testing.T) {
	s := newStore(t)
	create(t, s, makePod("p", "", ""))
	uid := getPod(t, s, key("p")).UID
	rec := &recorder{}
	w := newTestWriter(t, s, rec)
	op := func(msg string) *writeOp {
		return &writeOp{kind: opUnschedulable, qp: &qpod{}, key: key("p"), uid: uid, message: msg, event: true}
	}
	require.NoError(t, w.write(context.Background(), []*writeOp{op("a")})[0].err)
	rv := getPod(t, s, key("p")).ResourceVersion
	require.NoError(t, w.write(context.Background(), []*writeOp{op("a")})[0].err)
	require.Equal(t, rv, getPod(t, s, key("p")).ResourceVersion, "no write for the same message")
	require.NoError(t, w.write(context.Background(), []*writeOp{op("b")})[0].err)
	c := objects.GetPodCondition(&getPod(t, s, key("p")).Status, objects.PodScheduled)
	require.Equal(t, "b", c.Message)
	require.Equal(t, objects.PodReasonUnschedulable, c.Reason)
}

// A binding builds the bound pod from the stored pending one, sharing
// what it does not change: the stored object the scheduler saw pending is
// left as it was.
func TestBindLeavesStoredPodUntouched(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "4", "8Gi", withLabels("disk", "ssd")))
	p := makePod("p", "100m", "64Mi", podLabels("app", "web"), nodeSelector("disk", "ssd"),
		tolerate(objects.Toleration{Key: "k", Operator: objects.TolerationOpExists}))
	p.Annotations = map[string]string{"a": "b"}
	p.Status.Conditions = []objects.PodCondition{{Type: objects.PodScheduled, Status: objects.ConditionFalse,
		Reason: objects.PodReasonUnschedulable, Message: "earlier"}}
	create(t, s, p)
	var stored *objects.Pod
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.(store.Peeker).Peek("Pod", key("p"))
		stored, _ = o.(*objects.Pod)
		return err
	}))
	before := stored.DeepCopy()

	run(t, s)
	got := waitBound(t, s, "p")
	require.Equal(t, "n1", got.Spec.NodeName)
	c := objects.GetPodCondition(&got.Status, objects.PodScheduled)
	require.NotNil(t, c)
	require.Equal(t, objects.ConditionTrue, c.Status)
	require.Equal(t, before, stored, "the stored pending pod was modified")
}
