package watchcache

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func nodeOf(o objects.Object) []string { return []string{o.(*objects.Pod).Spec.NodeName} }

func pod(name, node string) *objects.Pod {
	return &objects.Pod{TypeMeta: objects.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name}, Spec: objects.PodSpec{NodeName: node}}
}

// TestRouting: routed watchers are found by value, and ending them leaves
// no empty bucket behind.
func TestRouting(t *testing.T) {
	h := New(Options{History: 10, Buffer: 10})
	ctx := context.Background()
	var ws []store.Watcher
	for _, node := range []string{"n1", "n1", "n2"} {
		w, err := h.Watch(ctx, Filter{Kind: "Pod", Fields: []FieldMatch{{Field: "spec.nodeName", Func: nodeOf, Value: node}}}, 0, 0)
		require.NoError(t, err)
		ws = append(ws, w)
	}
	all, err := h.Watch(ctx, Filter{}, 0, 0)
	require.NoError(t, err)
	require.Equal(t, 4, h.Watchers())

	h.Publish(1, []Change{{Type: store.Added, Obj: pod("a", "n1")}})
	h.Publish(2, []Change{{Type: store.Modified, Obj: pod("a", "n2"), Prev: pod("a", "n1")}})
	require.Len(t, ws[0].Events(), 2)
	require.Len(t, ws[1].Events(), 2)
	require.Len(t, ws[2].Events(), 1)
	require.Len(t, all.Events(), 2)
	require.Equal(t, store.Deleted, drain(ws[0])[1].Type)
	require.Equal(t, store.Added, drain(ws[2])[0].Type)

	for _, w := range ws {
		w.Stop()
	}
	require.Equal(t, 1, h.Watchers())
	kw := h.byKind["Pod"]
	require.Empty(t, kw.routed, "empty buckets and routes are dropped")
	h.Close()
	require.ErrorIs(t, all.Err(), store.ErrClosed)
	require.Equal(t, 0, h.Watchers())
}

func drain(w store.Watcher) []store.Event {
	var out []store.Event
	for len(w.Events()) > 0 {
		out = append(out, <-w.Events())
	}
	return out
}

// TestHistoryRing: the ring keeps the last events; resuming before them is
// too old; no history at all still allows watching from now.
func TestHistoryRing(t *testing.T) {
	h := New(Options{History: 3, Buffer: 10})
	ctx := context.Background()
	for rev := int64(1); rev <= 5; rev++ {
		h.Publish(rev, []Change{{Type: store.Added, Obj: pod("p", "")}})
	}
	_, err := h.Watch(ctx, Filter{}, 1, 0)
	require.ErrorIs(t, err, store.ErrRevisionTooOld)
	w, err := h.Watch(ctx, Filter{}, 2, 0)
	require.NoError(t, err)
	evs := drain(w)
	require.Len(t, evs, 3)
	require.Equal(t, int64(3), evs[0].Revision)
	w.Stop()

	none := New(Options{Buffer: 1})
	none.Publish(1, []Change{{Type: store.Added, Obj: pod("p", "")}})
	_, err = none.Watch(ctx, Filter{}, 0, 0)
	require.NoError(t, err)
	_, err = none.Watch(ctx, Filter{}, 1, 0)
	require.NoError(t, err, "resuming at the last revision needs no history")
	none.Close()
	h.Close()
}
