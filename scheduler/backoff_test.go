package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// attempts counts the scheduling attempts of a pod by its FailedScheduling
// events.
func attempts(rec *recorder, name string) int {
	return len(rec.find(ReasonFailedScheduling, key(name)))
}

// settle waits until the pod has been tried n times and the scheduler is
// idle, waiting on its one timer.
func settle(t *testing.T, clk *clockwork.FakeClock, rec *recorder, name string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return attempts(rec, name) >= n }, 10*time.Second, time.Millisecond,
		"attempt %d of %s not seen", n, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, clk.BlockUntilContext(ctx, 1), "the scheduler is not waiting on its timer")
	require.Equal(t, n, attempts(rec, name), "tried again without cause")
}

// failing is a host's filter that fails (code Error) for the pods
// labelled fail=yes.
type failing struct{}

func (failing) Name() string { return "Failing" }

func (failing) Filter(_ any, pod *PodInfo, _ *NodeInfo) *Status {
	if pod.Labels()["fail"] == "yes" {
		return NewStatus(Error, "lost its state")
	}
	return nil
}

// A pod that fits nowhere waits for a change that could help, as in
// Kubernetes' unschedulablePods: without one it is tried again only 5
// minutes (podMaxInUnschedulablePodsDuration) after its last attempt, not
// after its backoff.
func TestUnschedulablePodWaitsForChange(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("small", "1", "1Gi", withReady(objects.ConditionTrue)))
	run(t, s, WithClock(clk), WithEventRecorder(rec))
	create(t, s, makePod("big", "2", ""))
	settle(t, clk, rec, "big", 1)
	for i := range 2 {
		clk.Advance(DefaultMaxBackoff)
		settle(t, clk, rec, "big", i+1)
		clk.Advance(maxUnschedulable - DefaultMaxBackoff - time.Millisecond)
		settle(t, clk, rec, "big", i+1)
		clk.Advance(time.Millisecond)
		settle(t, clk, rec, "big", i+2)
	}
}

// A pod whose attempt failed for an error (a plugin's) is tried again,
// without a change, after 1s, 2s, 4s, 8s, then every 10s, and not in
// between, as Kubernetes retries it from its backoff queue.
func TestBackoffDoublesToMax(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("n1", "1", "1Gi", withReady(objects.ConditionTrue)))
	run(t, s, WithClock(clk), WithEventRecorder(rec), WithPlugins(failing{}))
	create(t, s, makePod("p", "", "", podLabels("fail", "yes")))
	settle(t, clk, rec, "p", 1)
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		clk.Advance(wait - time.Millisecond)
		settle(t, clk, rec, "p", i+1)
		clk.Advance(time.Millisecond)
		settle(t, clk, rec, "p", i+2)
	}
}

func TestWithBackoffOption(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("n1", "1", "1Gi"))
	run(t, s, WithClock(clk), WithEventRecorder(rec), WithBackoff(100*time.Millisecond, 300*time.Millisecond), WithPlugins(failing{}))
	create(t, s, makePod("p", "", "", podLabels("fail", "yes")))
	settle(t, clk, rec, "p", 1)
	for i, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond} {
		clk.Advance(wait)
		settle(t, clk, rec, "p", i+2)
	}
}

// Editing a waiting pod does not restart its backoff: it is tried again
// when the backoff of its last attempt ends, as Kubernetes requeues it.
func TestPodUpdateKeepsBackoff(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("n1", "4", "4Gi", withTaint("dedicated", "x", objects.TaintEffectNoSchedule)))
	run(t, s, WithClock(clk), WithEventRecorder(rec), WithPlugins(failing{}))
	// q fails for an error and is tried again 1s after its attempt, when
	// p's backoff ends too: the scheduler's one timer is set for that
	// moment before p comes, and stays so whenever it sees p's update.
	create(t, s, makePod("q", "1", "", podLabels("fail", "yes"),
		tolerate(objects.Toleration{Key: "dedicated", Operator: objects.TolerationOpExists})))
	settle(t, clk, rec, "q", 1)
	create(t, s, makePod("p", "1", ""))
	settle(t, clk, rec, "p", 1)

	clk.Advance(900 * time.Millisecond)
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", key("p"))
		if err != nil {
			return err
		}
		p := o.(*objects.Pod)
		p.Spec.Tolerations = append(p.Spec.Tolerations, objects.Toleration{Key: "dedicated", Operator: objects.TolerationOpExists})
		return tx.Update(p)
	}))
	clk.Advance(100 * time.Millisecond)
	require.Equal(t, "n1", waitBound(t, s, "p").Spec.NodeName)
}

// A change that could help (a node added) retries a waiting pod before its
// backoff ends when no other pod is ready (Kubernetes'
// SchedulerPopFromBackoffQ); one that could not (a node's heartbeat) does
// not.
func TestChangeThatHelpsRetriesBeforeBackoff(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("small", "1", "1Gi", withReady(objects.ConditionTrue)))
	run(t, s, WithClock(clk), WithEventRecorder(rec))
	create(t, s, makePod("big", "2", ""))
	settle(t, clk, rec, "big", 1) // its backoff: 1s

	// A heartbeat changes nothing placement reads.
	heartbeat := makeNode("small", "1", "1Gi", withReady(objects.ConditionTrue))
	heartbeat.Status.Conditions[0].LastHeartbeatTime = objects.NewTime(clk.Now())
	update(t, s, heartbeat)
	clk.Advance(flushInterval)
	settle(t, clk, rec, "big", 1)

	// A node that fits does, long before the 1s backoff ends.
	create(t, s, makeNode("large", "4", "4Gi"))
	clk.Advance(flushInterval)
	require.Equal(t, "large", waitBound(t, s, "big").Spec.NodeName)
}

// A change that could help a pod that fits nowhere, coming during the
// backoff of its last attempt, does not make it ready: as Kubernetes moves
// such a pod to its backoffQ, it waits for its backoff to end behind the
// pods that are ready (here one of lower priority), and is tried early
// only when no pod is ready (Kubernetes' SchedulerPopFromBackoffQ).
func TestChangeDuringBackoffWaitsBehindReadyPods(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("small", "1", "1Gi"), makePod("big", "2", "", priority(100)))
	l := newLoopFor(t, s)
	now := l.clock.Now()
	l.scheduleBatch(now)
	ops := takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, opUnschedulable, ops[0].kind) // its backoff: 1s

	l.apply(store.Added, makeNode("large", "4", "4Gi"))
	next := makePod("next", "100m", "", priority(0))
	next.UID = "next"
	l.apply(store.Added, next)
	later := now.Add(100 * time.Millisecond)
	l.maybeFlush(later)
	l.scheduleBatch(later)
	ops = takeOps(l)
	require.Len(t, ops, 1)
	require.Equal(t, "next", ops[0].key.Name, "big was made ready during its backoff")
	require.Equal(t, opBind, ops[0].kind)

	l.scheduleBatch(later)
	ops = takeOps(l)
	require.Len(t, ops, 1, "big is tried when no pod is ready")
	require.Equal(t, "big", ops[0].key.Name)
	require.Equal(t, opBind, ops[0].kind)
	require.Equal(t, "large", ops[0].node)
}
