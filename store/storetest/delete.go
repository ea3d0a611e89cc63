package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func testDelete(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	create(t, s, w)
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget})

	last, err := del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{})
	require.NoError(t, err)
	require.Equal(t, "red", last.(*widget).Spec.Color, "Delete returns the last state")
	require.Equal(t, w.UID, last.GetObjectMeta().UID)
	_, err = tryGet(t, s, kindWidget, key("default", "w1"))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Empty(t, list(t, s, kindWidget, store.ListOptions{Labels: selector(t, "app=web")}), "the label index forgets deleted objects")
	require.Empty(t, list(t, s, kindWidget, store.ListOptions{Fields: map[string]string{fieldColor: "red"}}), "field indexes forget deleted objects")

	evs := collect(t, ww, 1)
	require.Equal(t, store.Deleted, evs[0].Type)
	require.Equal(t, s.Revision(), evs[0].Revision)
	require.Equal(t, strconv.FormatInt(s.Revision(), 10), evs[0].Peek().GetObjectMeta().ResourceVersion,
		"a Deleted event carries the revision of the deletion")

	_, err = del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{})
	require.EqualError(t, err, `widgets.example.com "w1" not found`)

	// The name can be used again, by a new object.
	w2 := newWidget("default", "w1", nil, "blue")
	create(t, s, w2)
	require.NotEqual(t, w.UID, w2.UID)
	require.Equal(t, int64(1), w2.Generation)
}

func testDeletePreconditions(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", nil, "red")
	create(t, s, w)
	_, err := del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{Preconditions: &store.Preconditions{UID: "other"}})
	require.ErrorIs(t, err, store.ErrConflict)
	require.EqualError(t, err, `Operation cannot be fulfilled on widgets.example.com "w1": Precondition failed: UID in precondition: other, UID in object meta: `+w.UID)
	_, err = del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{Preconditions: &store.Preconditions{ResourceVersion: "999999"}})
	require.ErrorIs(t, err, store.ErrConflict)
	_, err = tryGet(t, s, kindWidget, key("default", "w1"))
	require.NoError(t, err, "a failed precondition deletes nothing")
	_, err = del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{Preconditions: &store.Preconditions{UID: w.UID, ResourceVersion: w.ResourceVersion}})
	require.NoError(t, err)
}

func testFinalizers(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", nil, "red")
	w.Finalizers = []string{"example.com/hold", "example.com/other"}
	create(t, s, w)
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget})

	e.clock.Advance(time.Hour)
	last, err := del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{})
	require.NoError(t, err)
	lm := last.GetObjectMeta()
	require.NotNil(t, lm.DeletionTimestamp, "an object with finalizers is kept, marked for deletion")
	require.Equal(t, e.now(), *lm.DeletionTimestamp)
	require.Equal(t, ptr(int64(0)), lm.DeletionGracePeriodSeconds)
	require.Equal(t, int64(2), lm.Generation, "generation increases as deletion starts, as Kubernetes marks the object")
	got := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, last, got)
	evs := collect(t, ww, 1)
	require.Equal(t, store.Modified, evs[0].Type)

	// Deleting again changes nothing.
	rev := s.Revision()
	_, err = del(t, s, kindWidget, key("default", "w1"), store.DeleteOptions{})
	require.NoError(t, err)
	require.Equal(t, rev, s.Revision())

	// No new finalizer on an object being deleted; the spec may still change.
	got.Finalizers = append(got.Finalizers, "example.com/late")
	require.ErrorIs(t, update(t, s, got), objects.ErrInvalid)
	got = get[*widget](t, s, kindWidget, key("default", "w1"))
	got.Finalizers = []string{"example.com/other"}
	got.DeletionTimestamp = nil // server fields cannot be cleared by the client
	require.NoError(t, update(t, s, got))
	require.NotNil(t, got.DeletionTimestamp)
	evs = collect(t, ww, 1)
	require.Equal(t, store.Modified, evs[0].Type)

	// The last finalizer going removes the object.
	got.Finalizers = nil
	require.NoError(t, update(t, s, got))
	_, err = tryGet(t, s, kindWidget, key("default", "w1"))
	require.ErrorIs(t, err, store.ErrNotFound)
	evs = collect(t, ww, 1)
	require.Equal(t, store.Deleted, evs[0].Type)
	require.Equal(t, s.Revision(), evs[0].Revision)
}

func testPropagation(t *testing.T, e *env) {
	s := e.open()
	for _, tc := range []struct {
		policy store.PropagationPolicy
		want   []string
	}{
		{store.DeletePropagationForeground, []string{objects.FinalizerForeground}},
		{store.DeletePropagationOrphan, []string{objects.FinalizerOrphan}},
	} {
		w := newWidget("default", "w-"+string(tc.policy), nil, "red")
		create(t, s, w)
		last, err := del(t, s, kindWidget, key("default", w.Name), store.DeleteOptions{PropagationPolicy: tc.policy})
		require.NoError(t, err)
		require.Equal(t, tc.want, last.GetObjectMeta().Finalizers, tc.policy)
		require.NotNil(t, last.GetObjectMeta().DeletionTimestamp)
		got := get[*widget](t, s, kindWidget, key("default", w.Name))
		// The garbage collector finishes by removing its finalizer.
		got.Finalizers = nil
		require.NoError(t, update(t, s, got))
		_, err = tryGet(t, s, kindWidget, key("default", w.Name))
		require.ErrorIs(t, err, store.ErrNotFound, tc.policy)
	}

	// Background is the default and adds nothing; a later Background request
	// drops the finalizers an earlier policy added.
	w := newWidget("default", "bg", nil, "red")
	create(t, s, w)
	_, err := del(t, s, kindWidget, key("default", "bg"), store.DeleteOptions{PropagationPolicy: store.DeletePropagationOrphan})
	require.NoError(t, err)
	_, err = del(t, s, kindWidget, key("default", "bg"), store.DeleteOptions{PropagationPolicy: store.DeletePropagationBackground})
	require.NoError(t, err)
	_, err = tryGet(t, s, kindWidget, key("default", "bg"))
	require.ErrorIs(t, err, store.ErrNotFound)

	// Switching policy swaps the finalizer; other finalizers stay.
	w = newWidget("default", "sw", nil, "red")
	w.Finalizers = []string{"example.com/hold"}
	create(t, s, w)
	_, err = del(t, s, kindWidget, key("default", "sw"), store.DeleteOptions{PropagationPolicy: store.DeletePropagationOrphan})
	require.NoError(t, err)
	last, err := del(t, s, kindWidget, key("default", "sw"), store.DeleteOptions{PropagationPolicy: store.DeletePropagationForeground})
	require.NoError(t, err)
	require.Equal(t, []string{"example.com/hold", objects.FinalizerForeground}, last.GetObjectMeta().Finalizers)

	_, err = del(t, s, kindWidget, key("default", "sw"), store.DeleteOptions{PropagationPolicy: "Sideways"})
	require.ErrorIs(t, err, objects.ErrInvalid)
}

func testGracefulDelete(t *testing.T, e *env) {
	s := e.open()
	p := newPod("default", "p1", "n1")
	create(t, s, p)
	start := e.now()
	last, err := del(t, s, kindPod, key("default", "p1"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(30))})
	require.NoError(t, err)
	m := last.GetObjectMeta()
	require.Equal(t, objects.NewTime(start.Add(30*time.Second)), *m.DeletionTimestamp, "deletionTimestamp is when the grace period ends")
	require.Equal(t, ptr(int64(30)), m.DeletionGracePeriodSeconds)
	require.Equal(t, int64(2), m.Generation, "generation increases as deletion starts")
	require.True(t, get[*objects.Pod](t, s, kindPod, key("default", "p1")).IsDeleting(), "kept for the node agent to stop it")

	// A longer or unspecified grace period changes nothing.
	rev := s.Revision()
	_, err = del(t, s, kindPod, key("default", "p1"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(60))})
	require.NoError(t, err)
	_, err = del(t, s, kindPod, key("default", "p1"), store.DeleteOptions{})
	require.NoError(t, err)
	require.Equal(t, rev, s.Revision())

	// A shorter one shortens it, counted from the first request.
	e.clock.Advance(5 * time.Second)
	last, err = del(t, s, kindPod, key("default", "p1"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(10))})
	require.NoError(t, err)
	m = last.GetObjectMeta()
	require.Equal(t, objects.NewTime(start.Add(10*time.Second)), *m.DeletionTimestamp)
	require.Equal(t, ptr(int64(10)), m.DeletionGracePeriodSeconds)
	require.Equal(t, int64(2), m.Generation, "only the start of deletion increases generation")

	// Grace 0 removes it: the node agent's final delete.
	_, err = del(t, s, kindPod, key("default", "p1"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	require.NoError(t, err)
	_, err = tryGet(t, s, kindPod, key("default", "p1"))
	require.ErrorIs(t, err, store.ErrNotFound)

	// Grace and finalizers: grace 0 ends the grace period, the finalizer
	// still holds the object; removing it then removes the object.
	p2 := newPod("default", "p2", "n1")
	p2.Finalizers = []string{"example.com/hold"}
	create(t, s, p2)
	_, err = del(t, s, kindPod, key("default", "p2"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(30))})
	require.NoError(t, err)
	got := get[*objects.Pod](t, s, kindPod, key("default", "p2"))
	got.Finalizers = nil
	require.NoError(t, update(t, s, got))
	require.True(t, get[*objects.Pod](t, s, kindPod, key("default", "p2")).IsDeleting(),
		"without finalizers but with its grace period pending, the object waits for a delete with grace 0")
	last, err = del(t, s, kindPod, key("default", "p2"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(0))})
	require.NoError(t, err)
	require.Equal(t, "p2", last.GetObjectMeta().Name)
	_, err = tryGet(t, s, kindPod, key("default", "p2"))
	require.ErrorIs(t, err, store.ErrNotFound)

	create(t, s, newPod("default", "p3", "n1"))
	_, err = del(t, s, kindPod, key("default", "p3"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(-1))})
	require.ErrorIs(t, err, objects.ErrInvalid)

	// Only a pod bound to a node and not terminated is deleted gracefully
	// (store.GracefulDeleter), as in Kubernetes: another pod, or an object
	// of another kind, goes at once, whatever the grace period.
	unbound := newPod("default", "unbound", "")
	done := newPod("default", "done", "n1")
	create(t, s, unbound, done, newWidget("default", "w1", nil, "red"))
	done.Status.Phase = objects.PodSucceeded
	require.NoError(t, updateStatus(t, s, done))
	for _, k := range []struct {
		kind string
		key  objects.Key
	}{{kindPod, key("default", "unbound")}, {kindPod, key("default", "done")}, {kindWidget, key("default", "w1")}} {
		_, err = del(t, s, k.kind, k.key, store.DeleteOptions{GracePeriodSeconds: ptr(int64(30))})
		require.NoError(t, err)
		_, err = tryGet(t, s, k.kind, k.key)
		require.ErrorIs(t, err, store.ErrNotFound, "%s %s is deleted at once", k.kind, k.key)
	}
	// Its finalizers still keep it, without a grace period.
	held := newWidget("default", "held", nil, "red")
	held.Finalizers = []string{"example.com/hold"}
	create(t, s, held)
	last, err = del(t, s, kindWidget, key("default", "held"), store.DeleteOptions{GracePeriodSeconds: ptr(int64(30))})
	require.NoError(t, err)
	require.Equal(t, e.now(), *last.GetObjectMeta().DeletionTimestamp)
	require.Equal(t, ptr(int64(0)), last.GetObjectMeta().DeletionGracePeriodSeconds)
	w := get[*widget](t, s, kindWidget, key("default", "held"))
	w.Finalizers = nil
	require.NoError(t, update(t, s, w))
	_, err = tryGet(t, s, kindWidget, key("default", "held"))
	require.ErrorIs(t, err, store.ErrNotFound, "the last finalizer going removes it: no grace period is pending")
}

// testRemove: a store.Remover's Remove is Delete without the last state:
// the same rules (finalizers keep the object, marked) and events.
func testRemove(t *testing.T, e *env) {
	s := e.open()
	remove := func(k objects.Key) error {
		return writeThrough(t, s, func(r store.Remover) error { return r.Remove(kindWidget, k, store.DeleteOptions{}) })
	}
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	held := newWidget("default", "w2", nil, "blue")
	held.Finalizers = []string{"example.com/hold"}
	create(t, s, w, held)
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget})

	require.NoError(t, remove(key("default", "w1")))
	_, err := tryGet(t, s, kindWidget, key("default", "w1"))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Empty(t, list(t, s, kindWidget, store.ListOptions{Labels: selector(t, "app=web")}), "the label index forgets removed objects")
	evs := collect(t, ww, 1)
	require.Equal(t, store.Deleted, evs[0].Type)
	require.Equal(t, strconv.FormatInt(s.Revision(), 10), evs[0].Peek().GetObjectMeta().ResourceVersion)
	require.ErrorIs(t, remove(key("default", "w1")), store.ErrNotFound)

	require.NoError(t, remove(key("default", "w2")))
	got := get[*widget](t, s, kindWidget, key("default", "w2"))
	require.NotNil(t, got.DeletionTimestamp, "an object with finalizers is kept, marked for deletion")
	evs = collect(t, ww, 1)
	require.Equal(t, store.Modified, evs[0].Type)
}
