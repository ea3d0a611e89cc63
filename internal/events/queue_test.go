package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

type sliceSink struct {
	mu   sync.Mutex
	seen map[string][]string // by pod name: messages in order
	n    int
}

func (s *sliceSink) Event(_ context.Context, obj objects.Object, _, _, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := obj.GetObjectMeta().Name
	s.seen[name] = append(s.seen[name], message)
	s.n++
}

// Every queued event is recorded, those of one object in order; past the
// limit Push drops and says so.
func TestQueueRecordsInOrderPerObject(t *testing.T) {
	q := NewQueue(slog.New(slog.DiscardHandler), 1000)
	sink := &sliceSink{seen: map[string][]string{}}
	pods := make([]*objects.Pod, 10)
	for i := range pods {
		pods[i] = &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("u%d", i)}}
	}
	for m := range 100 {
		for _, p := range pods {
			require.True(t, q.Push(sink, p, Normal, "R", fmt.Sprint(m)))
		}
	}
	assert.False(t, q.Push(sink, pods[0], Normal, "R", "dropped"), "the queue is full")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.n == 1000
	}, 10*time.Second, time.Millisecond, "not all 1000 events were recorded")
	for _, p := range pods {
		want := make([]string, 100)
		for m := range want {
			want[m] = fmt.Sprint(m)
		}
		assert.Equal(t, want, sink.seen[p.Name], p.Name)
	}
}

// A round whose sinks are recorders sharing transactions (WithSource
// copies) is written in few transactions, each event with its own source,
// repeats counted in order.
func TestQueueRecordsRoundsThroughRecorder(t *testing.T) {
	r, s := newRecorder(t)
	kubelets := []*Recorder{r.WithSource(Source{Component: "kubelet", Host: "n1"}), r.WithSource(Source{Component: "kubelet", Host: "n2"})}
	q := NewQueue(slog.New(slog.DiscardHandler), 10000)
	const pods = 300
	for i := range pods {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("u%d", i)}}
		k := kubelets[i%2]
		require.True(t, q.Push(k, p, Normal, "Created", "Created container app"))
		require.True(t, q.Push(k, p, Normal, "Started", "Started container app"))
		require.True(t, q.Push(k, p, Normal, "Started", "Started container app"))
	}
	rev0 := s.Revision()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var evs []*objects.Event
	require.Eventually(t, func() bool {
		evs = listEvents(t, s)
		n := 0
		for _, ev := range evs {
			n += int(ev.Count)
		}
		return n == 3*pods
	}, 10*time.Second, time.Millisecond, "not every event was recorded")
	require.Len(t, evs, 2*pods)
	for _, ev := range evs {
		var i int
		_, err := fmt.Sscanf(ev.InvolvedObject.Name, "p%d", &i)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("n%d", i%2+1), ev.Source.Host, ev.Name)
		if ev.Reason == "Started" {
			assert.Equal(t, int32(2), ev.Count, ev.Name)
		}
	}
	commits := s.Revision() - rev0
	t.Logf("%d events in %d transactions", 3*pods, commits)
	require.Less(t, commits, int64(3*pods)/10)
}

// Repeats within one transaction are folded into one write: a
// ReplicaSet's burst of 30 SuccessfulCreate events is 9 events and a
// combined one counting 21, each written once.
func TestRepeatsInOneRoundAreOneWrite(t *testing.T) {
	r, s := newRecorder(t)
	w, err := s.Watch(t.Context(), store.WatchOptions{Kind: "Event"})
	require.NoError(t, err)
	defer w.Stop()
	q := NewQueue(slog.New(slog.DiscardHandler), 100)
	rs := &objects.ReplicaSet{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web", UID: "u"}}
	for i := range 30 {
		require.True(t, q.Push(r, rs, Normal, "SuccessfulCreate", fmt.Sprintf("Created pod: web-%d", i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	defer func() { cancel(); <-done }()
	writes := 0
	for writes < maxSimilar {
		select {
		case <-w.Events():
			writes++
		case <-time.After(10 * time.Second):
			t.Fatalf("%d event writes, want %d", writes, maxSimilar)
		}
	}
	evs := listEvents(t, s)
	require.Len(t, evs, maxSimilar)
	total := 0
	for _, ev := range evs {
		total += int(ev.Count)
		if ev.Count > 1 {
			assert.Equal(t, int32(30-maxSimilar+1), ev.Count)
			assert.Equal(t, combinedPrefix+"Created pod: web-29", ev.Message)
		}
	}
	assert.Equal(t, 30, total)
	select {
	case ev := <-w.Events():
		t.Fatalf("a write more: %v %s", ev.Type, ev.Key())
	default:
	}
}

// Under a steady stream the queue is never empty; its room follows what is
// pending, not everything that went through it.
func TestQueueRoomFollowsPending(t *testing.T) {
	q := NewQueue(slog.New(slog.DiscardHandler), 10000)
	sink := &sliceSink{seen: map[string][]string{}}
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p", UID: "u"}}
	push := func(n int) {
		for range n {
			require.True(t, q.Push(sink, p, Normal, "R", "m"))
		}
	}
	push(100)
	var room []queuedEvent
	for range 1000 {
		push(maxBatch)
		round, _ := q.take(room[:0])
		require.Len(t, round, maxBatch)
		room = round
	}
	require.Equal(t, 100, q.q.len())
	require.LessOrEqual(t, len(q.q.buf), 1024, "%d events went through", 1000*maxBatch)
}
