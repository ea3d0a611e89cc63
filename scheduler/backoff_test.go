package scheduler

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
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

// A pod that fits nowhere is tried again after 1s, 2s, 4s, 8s, then every
// 10s, and not in between.
func TestBackoffDoublesToMax(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("small", "1", "1Gi", withReady(objects.ConditionTrue)))
	run(t, s, WithClock(clk), WithEventRecorder(rec))
	create(t, s, makePod("big", "2", ""))
	settle(t, clk, rec, "big", 1)
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		clk.Advance(wait - time.Millisecond)
		settle(t, clk, rec, "big", i+1)
		clk.Advance(time.Millisecond)
		settle(t, clk, rec, "big", i+2)
	}
}

func TestWithBackoffOption(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("small", "1", "1Gi"))
	run(t, s, WithClock(clk), WithEventRecorder(rec), WithBackoff(100*time.Millisecond, 300*time.Millisecond))
	create(t, s, makePod("big", "2", ""))
	settle(t, clk, rec, "big", 1)
	for i, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond} {
		clk.Advance(wait)
		settle(t, clk, rec, "big", i+2)
	}
}

// A change that could help (a node added) retries the pod before its
// backoff ends; one that could not (another pod's node heartbeat) does
// not.
func TestChangeThatHelpsRetriesBeforeBackoff(t *testing.T) {
	s := newStore(t)
	clk := clockwork.NewFakeClock()
	rec := &recorder{}
	create(t, s, makeNode("small", "1", "1Gi", withReady(objects.ConditionTrue)))
	run(t, s, WithClock(clk), WithEventRecorder(rec))
	create(t, s, makePod("big", "2", ""))
	settle(t, clk, rec, "big", 1)
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		clk.Advance(wait)
		settle(t, clk, rec, "big", i+2)
	} // the backoff is now 8s

	// A heartbeat changes nothing placement reads.
	heartbeat := makeNode("small", "1", "1Gi", withReady(objects.ConditionTrue))
	heartbeat.Status.Conditions[0].LastHeartbeatTime = objects.NewTime(clk.Now())
	update(t, s, heartbeat)
	clk.Advance(flushInterval)
	settle(t, clk, rec, "big", 4)

	// A node that fits does, long before the 8s backoff ends.
	create(t, s, makeNode("large", "4", "4Gi"))
	clk.Advance(flushInterval)
	require.Equal(t, "large", waitBound(t, s, "big").Spec.NodeName)
}
