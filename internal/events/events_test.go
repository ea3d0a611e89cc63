package events

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

func newRecorder(t *testing.T) (*Recorder, store.Store) {
	t.Helper()
	s, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return New(s, clockwork.NewRealClock(), slog.New(slog.DiscardHandler), Source{Component: "test"}, time.Hour), s
}

func listEvents(t *testing.T, s store.Store) []*objects.Event {
	t.Helper()
	var out []*objects.Event
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		objs, err := tx.List("Event", store.ListOptions{})
		for _, o := range objs {
			out = append(out, o.(*objects.Event))
		}
		return err
	}))
	return out
}

// Events recorded at once from many goroutines are each stored when Event
// returns, in fewer transactions than events, and repeats of one event are
// counted on one object.
func TestConcurrentEventsShareTransactions(t *testing.T) {
	r, s := newRecorder(t)
	const n = 200
	pods := make([]*objects.Pod, n)
	for i := range pods {
		pods[i] = &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("uid-%d", i)}}
	}
	rev0 := s.Revision()
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Event(context.Background(), p, Normal, "Started", "Started container app")
			// Stored by the time Event returns.
			assert.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
				objs, err := tx.List("Event", store.ListOptions{Namespace: "default"})
				for _, o := range objs {
					if o.(*objects.Event).InvolvedObject.UID == p.UID {
						return err
					}
				}
				return fmt.Errorf("event of pod %d not stored when Event returned (err %v)", i, err)
			}))
		}()
	}
	wg.Wait()
	evs := listEvents(t, s)
	require.Len(t, evs, n)
	commits := s.Revision() - rev0
	require.LessOrEqual(t, commits, int64(n), "one transaction at most per event")
	t.Logf("%d events in %d transactions", n, commits)

	// Repeats, concurrent or not, count on the first event.
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Event(context.Background(), pods[0], Normal, "Started", "Started container app")
		}()
	}
	wg.Wait()
	evs = listEvents(t, s)
	require.Len(t, evs, n)
	for _, ev := range evs {
		if ev.InvolvedObject.UID == pods[0].UID {
			require.Equal(t, int32(4), ev.Count)
		}
	}
}

// An event whose caller's context has ended is not recorded; the next one
// is.
func TestEventOfCanceledCaller(t *testing.T) {
	r, s := newRecorder(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "p", UID: "u"}}
	r.Event(ctx, p, Normal, "Started", "x") // dropped: its context has ended
	r.Event(context.Background(), p, Warning, "Failed", "y")
	evs := listEvents(t, s)
	require.Len(t, evs, 1)
	require.Equal(t, "Failed", evs[0].Reason)
}

// Many events of one reason with distinct messages about one object are
// combined past the tenth, as Kubernetes' event aggregator does.
func TestSimilarEventsCombined(t *testing.T) {
	r, s := newRecorder(t)
	rs := &objects.ReplicaSet{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web", UID: "u"}}
	for i := range 30 {
		r.Event(context.Background(), rs, Normal, "SuccessfulCreate", fmt.Sprintf("Created pod: web-%d", i))
	}
	r.Event(context.Background(), rs, Warning, "FailedCreate", "quota")
	evs := listEvents(t, s)
	require.Len(t, evs, maxSimilar+1)
	var combined *objects.Event
	for _, ev := range evs {
		if ev.Reason == "SuccessfulCreate" && ev.Count > 1 {
			require.Nil(t, combined, "one combined event")
			combined = ev
		}
	}
	require.NotNil(t, combined)
	require.Equal(t, int32(30-maxSimilar+1), combined.Count)
	require.Equal(t, combinedPrefix+"Created pod: web-29", combined.Message)
}

// Past its limit the recorder deletes the events seen least recently: an
// old event seen again stays, the others go oldest first.
func TestEventLimit(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clk := clockwork.NewFakeClock()
	r := New(s, clk, slog.New(slog.DiscardHandler), Source{Component: "test"}, time.Hour, WithLimit(5))
	pod := func(i int) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("u%d", i)}}
	}
	for i := range 5 {
		r.Event(t.Context(), pod(i), Normal, "Started", "Started container app")
		clk.Advance(time.Second)
	}
	r.Event(t.Context(), pod(0), Normal, "Started", "Started container app") // seen again: the most recent
	clk.Advance(time.Second)
	for i := 5; i < 8; i++ {
		r.Event(t.Context(), pod(i), Normal, "Started", "Started container app")
		clk.Advance(time.Second)
	}
	var names []string
	for _, ev := range listEvents(t, s) {
		names = append(names, ev.InvolvedObject.Name)
	}
	require.ElementsMatch(t, []string{"p0", "p4", "p5", "p6", "p7"}, names)
}

// EventEach stores a burst in one transaction, repeats folded into one
// write.
func TestEventEachIsOneTransaction(t *testing.T) {
	r, s := newRecorder(t)
	rs := &objects.ReplicaSet{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web", UID: "u"}}
	msgs := make([]string, 30)
	for i := range msgs {
		msgs[i] = fmt.Sprintf("Created pod: web-%d", i)
	}
	rev0 := s.Revision()
	r.EventEach(t.Context(), rs, Normal, "SuccessfulCreate", msgs)
	require.Equal(t, rev0+1, s.Revision(), "one transaction")
	evs := listEvents(t, s)
	require.Len(t, evs, maxSimilar)
	for _, ev := range evs {
		if ev.Count > 1 {
			require.Equal(t, int32(30-maxSimilar+1), ev.Count)
		}
	}
}

// An event changed since it was recorded, but not seen again (its last
// timestamp is as recorded), is still the least recently seen.
func TestEventLimitChangedEvent(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clk := clockwork.NewFakeClock()
	r := New(s, clk, slog.New(slog.DiscardHandler), Source{Component: "test"}, time.Hour, WithLimit(2))
	pod := func(i int) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("u%d", i)}}
	}
	r.Event(t.Context(), pod(0), Normal, "Started", "Started container app")
	clk.Advance(time.Second)
	evs := listEvents(t, s)
	require.Len(t, evs, 1)
	evs[0].Labels = map[string]string{"seen-by": "someone"}
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error { return tx.Update(evs[0]) }))
	for i := 1; i < 3; i++ {
		r.Event(t.Context(), pod(i), Normal, "Started", "Started container app")
		clk.Advance(time.Second)
	}
	var names []string
	for _, ev := range listEvents(t, s) {
		names = append(names, ev.InvolvedObject.Name)
	}
	require.ElementsMatch(t, []string{"p1", "p2"}, names)
}

// Recorders made apart for one source (as Orchestrator.EventFrom makes one
// per event) count each other's repeats; another source's event is its own.
func TestRepeatsAcrossWithSourceCopies(t *testing.T) {
	r, s := newRecorder(t)
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "p", UID: "u"}}
	for range 3 {
		r.WithSource(Source{Component: "kubelet", Host: "n1"}).Event(t.Context(), p, Normal, "Started", "Started container app")
	}
	r.WithSource(Source{Component: "kubelet", Host: "n2"}).Event(t.Context(), p, Normal, "Started", "Started container app")
	counts := map[string]int32{}
	for _, ev := range listEvents(t, s) {
		counts[ev.Source.Host] += ev.Count
		require.Equal(t, ev.Source.Host, ev.ReportingInstance)
	}
	require.Equal(t, map[string]int32{"n1": 3, "n2": 1}, counts)
	require.Len(t, listEvents(t, s), 2)
}

// Events a store held before the recorder was made, as a durable store
// holds an earlier process's, count against the limit, least recently
// seen deleted first.
func TestEventLimitCountsStoredEvents(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	clk := clockwork.NewFakeClock()
	pod := func(i int) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("p%d", i), UID: fmt.Sprintf("u%d", i)}}
	}
	earlier := New(s, clk, slog.New(slog.DiscardHandler), Source{Component: "test"}, time.Hour)
	for _, i := range []int{2, 0, 1} { // stored out of the order they were seen in
		clk.Advance(time.Second)
		earlier.Event(t.Context(), pod(i), Normal, "Started", "Started container app")
	}
	r := New(s, clk, slog.New(slog.DiscardHandler), Source{Component: "test"}, time.Hour, WithLimit(3))
	for i := 3; i < 5; i++ {
		clk.Advance(time.Second)
		r.Event(t.Context(), pod(i), Normal, "Started", "Started container app")
	}
	var names []string
	for _, ev := range listEvents(t, s) {
		names = append(names, ev.InvolvedObject.Name)
	}
	require.ElementsMatch(t, []string{"p1", "p3", "p4"}, names)
}
