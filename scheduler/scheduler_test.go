package scheduler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func TestBindsPodWithConditionAndEvent(t *testing.T) {
	s := newStore(t)
	rec := &recorder{}
	create(t, s, makeNode("n1", "1", "1Gi"), makeNode("n2", "4", "8Gi"), makeNode("n3", "2", "2Gi"))
	run(t, s, WithEventRecorder(rec))
	create(t, s, makePod("web-1", "2", "1Gi"))

	p := waitBound(t, s, "web-1")
	require.Equal(t, "n2", p.Spec.NodeName, "least allocated: the node with the most room left")
	c := objects.GetPodCondition(&p.Status, objects.PodScheduled)
	require.NotNil(t, c)
	require.Equal(t, objects.ConditionTrue, c.Status)
	require.Eventually(t, func() bool { return len(rec.find(ReasonScheduled, key("web-1"))) == 1 }, 5*time.Second, time.Millisecond)
	ev := rec.find(ReasonScheduled, key("web-1"))[0]
	require.Equal(t, "Successfully assigned default/web-1 to n2", ev.message)
	require.Equal(t, "Normal", ev.typ)
	require.Equal(t, "Pod", ev.kind)
}

func TestUnschedulableMessageAndEvent(t *testing.T) {
	s := newStore(t)
	rec := &recorder{}
	create(t, s,
		makeNode("n1", "1", "4Gi"), makeNode("n2", "1", "4Gi"),
		makeNode("n3", "8", "16Gi", withTaint("dedicated", "gpu", objects.TaintEffectNoSchedule)))
	run(t, s, WithEventRecorder(rec))
	create(t, s, makePod("web-1", "2", "1Gi"))

	const want = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
	p := waitUnschedulable(t, s, "web-1", want)
	require.Empty(t, p.Spec.NodeName)
	require.Eventually(t, func() bool { return len(rec.find(ReasonFailedScheduling, key("web-1"))) > 0 }, 5*time.Second, time.Millisecond)
	ev := rec.find(ReasonFailedScheduling, key("web-1"))[0]
	require.Equal(t, "Warning", ev.typ)
	require.Equal(t, want, ev.message)
}

func TestNoNodes(t *testing.T) {
	s := newStore(t)
	run(t, s)
	create(t, s, makePod("web-1", "100m", ""))
	waitUnschedulable(t, s, "web-1", "no nodes available to schedule pods")
}

// A pod that fits nowhere stays Pending with the explaining message, and
// binds within 1 s of a fitting node being registered. The backoff is a
// minute long here, so only the node's arrival can explain the retry.
func TestBindsSoonAfterFittingNodeRegistered(t *testing.T) {
	for _, backoff := range []time.Duration{DefaultMaxBackoff, time.Minute} {
		t.Run(backoff.String(), func(t *testing.T) {
			s := newStore(t)
			create(t, s, makeNode("small", "1", "1Gi"))
			run(t, s, WithBackoff(backoff, backoff))
			create(t, s, makePod("big", "4", "1Gi"))
			waitUnschedulable(t, s, "big", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
			require.Empty(t, getPod(t, s, key("big")).Spec.NodeName, "stays Pending")

			registered := time.Now()
			create(t, s, makeNode("large", "8", "16Gi"))
			p := waitBound(t, s, "big")
			took := time.Since(registered)
			require.Equal(t, "large", p.Spec.NodeName)
			require.Less(t, took, time.Second, "bound %v after the node was registered", took)
		})
	}
}

func TestIgnoresPodsOfOtherSchedulersAndBoundPods(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "4", "4Gi"))
	run(t, s)
	other := makePod("other", "100m", "", func(p *objects.Pod) { p.Spec.SchedulerName = "my-scheduler" })
	bound := makePod("bound", "100m", "", onNode("elsewhere"))
	mine := makePod("mine", "100m", "")
	create(t, s, other, bound, mine)
	waitBound(t, s, "mine")
	require.Empty(t, getPod(t, s, key("other")).Spec.NodeName)
	require.Equal(t, "elsewhere", getPod(t, s, key("bound")).Spec.NodeName)
	require.Nil(t, objects.GetPodCondition(&getPod(t, s, key("other")).Status, objects.PodScheduled))
}

func TestSchedulerNameOption(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "4", "4Gi"))
	run(t, s, WithSchedulerName("my-scheduler"))
	create(t, s, makePod("other", "100m", "", func(p *objects.Pod) { p.Spec.SchedulerName = "my-scheduler" }), makePod("default", "100m", ""))
	waitBound(t, s, "other")
	require.Empty(t, getPod(t, s, key("default")).Spec.NodeName)
}

// Existing pods count: resources already used on a node are not offered
// twice, whether the pods were bound before the scheduler started or by it.
func TestCountsExistingAndOwnPods(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "2", "4Gi"), makeNode("n2", "2", "4Gi"))
	create(t, s, makePod("old", "1500m", "", onNode("n1")))
	run(t, s)
	for i := range 3 {
		create(t, s, makePod(fmt.Sprintf("p%d", i), "500m", ""))
	}
	nodes := map[string]int{}
	for i := range 3 {
		nodes[waitBound(t, s, fmt.Sprintf("p%d", i)).Spec.NodeName]++
	}
	// n1 has room for one more 500m pod, n2 for four; three pods: spread
	// puts them on n2 first, and n1 can hold at most one.
	require.LessOrEqual(t, nodes["n1"], 1)
	create(t, s, makePod("big", "2", ""))
	waitUnschedulable(t, s, "big", "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")
}

// A pod deleted frees its node's resources for a waiting pod.
func TestRetriesWhenPodDeleted(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "1", "4Gi"))
	create(t, s, makePod("hog", "1", "", onNode("n1")))
	run(t, s)
	create(t, s, makePod("waiter", "1", ""))
	waitUnschedulable(t, s, "waiter", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
	deleted := time.Now()
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Pod", key("hog"), store.DeleteOptions{})
		return err
	}))
	require.Equal(t, "n1", waitBound(t, s, "waiter").Spec.NodeName)
	require.Less(t, time.Since(deleted), time.Second)
}

func TestRunTwiceAndNoLeak(t *testing.T) {
	s := newStore(t)
	sch, err := New(s)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sch.Run(ctx) }()
	create(t, s, makeNode("n1", "1", "1Gi"), makePod("p", "", ""))
	waitBound(t, s, "p")
	require.Error(t, sch.Run(ctx), "a second concurrent Run is refused")
	cancel()
	require.NoError(t, <-done)
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestRunReturnsErrorWhenStoreCloses(t *testing.T) {
	s := newStore(t)
	sch, err := New(s)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- sch.Run(context.Background()) }()
	create(t, s, makeNode("n1", "1", "1Gi"), makePod("p", "", ""))
	waitBound(t, s, "p")
	require.NoError(t, s.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, store.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the store closed")
	}
}

// A watch that falls behind is replaced by a new list and watch; nothing
// is lost, nothing is counted twice: the 250 pods fill the nodes exactly.
func TestRelistsWhenWatchFallsBehind(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("n1", "12500m", "64Gi", withMaxPods("200")), makeNode("n2", "12500m", "64Gi", withMaxPods("200")))
	var logs syncBuffer
	sch, err := New(s, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	sch.watchBuffer = 1
	// The first watch is not read until the pods are stored: it overflows.
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sch.beforeFollow = func() {
		once.Do(func() {
			close(started)
			<-release
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sch.Run(ctx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	<-started
	released := false
	defer func() {
		if !released {
			close(release)
			released = true
		}
	}()
	for round := range 5 {
		var pods []objects.Object
		for i := range 50 {
			pods = append(pods, makePod(fmt.Sprintf("p-%d-%02d", round, i), "100m", ""))
		}
		create(t, s, pods...) // 50 events at once: more than the watch holds
	}
	close(release)
	released = true
	for round := range 5 {
		for i := range 50 {
			waitBound(t, s, fmt.Sprintf("p-%d-%02d", round, i))
		}
	}
	var cpu int64
	for _, p := range listPods(t, s) {
		cpu += p.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
	}
	require.Equal(t, int64(25000), cpu)
	require.Contains(t, logs.String(), "listing again")
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
