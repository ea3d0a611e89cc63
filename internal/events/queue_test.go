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
