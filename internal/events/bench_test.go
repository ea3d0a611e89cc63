package events

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store/memdb"
)

// BenchmarkQueueRounds records what starting pods records: three events
// about each pod, through a Queue, past the Recorder's limit, as
// node agents report them while thousands of pods start.
func BenchmarkQueueRounds(b *testing.B) {
	const limit = 20000
	s, err := memdb.New()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	log := slog.New(slog.DiscardHandler)
	r := New(s, clockwork.NewRealClock(), log, Source{Component: "kubelet"}, time.Hour, WithLimit(limit))
	pods := make([]*objects.Pod, b.N/3+1)
	for i := range pods {
		pods[i] = &objects.Pod{
			TypeMeta:   objects.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("web-%05d-7d9f8b6c5d-x%04d", i/30, i), UID: fmt.Sprintf("uid-%d", i)},
		}
	}
	node := r.WithSource(Source{Component: "kubelet", Host: "node-1"})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		round := make([]queuedEvent, 0, maxBatch)
		for len(round) < maxBatch && n < b.N {
			p := pods[n/3]
			reason := [...]string{"Pulled", "Created", "Started"}[n%3]
			round = append(round, queuedEvent{sink: node, obj: p, typ: Normal, reason: reason, message: reason + " container web"})
			n++
		}
		record(ctx, round)
	}
}
