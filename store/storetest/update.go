package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func testUpdate(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	w.Status.Count = 1
	create(t, s, w)
	created := w.DeepCopyObject().(*widget)

	// Spec and metadata come from the caller; status and server fields stay.
	e.clock.Advance(time.Minute)
	w.Spec.Color = "blue"
	w.Status.Count = 99
	w.Labels["tier"] = "fe"
	w.UID = ""
	w.CreationTimestamp = objects.Time{}
	w.Generation = 42
	require.NoError(t, update(t, s, w))
	got := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, got, w, "the caller sees what was stored")
	require.Equal(t, "blue", got.Spec.Color)
	require.Equal(t, map[string]string{"app": "web", "tier": "fe"}, got.Labels)
	require.Equal(t, 1, got.Status.Count, "Update keeps the stored status")
	require.Equal(t, created.UID, got.UID)
	require.Equal(t, created.CreationTimestamp, got.CreationTimestamp)
	require.Equal(t, int64(2), got.Generation, "a spec change increases generation")
	require.Equal(t, strconv.FormatInt(s.Revision(), 10), got.ResourceVersion)

	// An empty resourceVersion updates unconditionally.
	stale := got.DeepCopyObject().(*widget)
	stale.ResourceVersion = ""
	stale.Spec.Size = 3
	require.NoError(t, update(t, s, stale))
	require.Equal(t, 3, get[*widget](t, s, kindWidget, key("default", "w1")).Spec.Size)

	// A write that changes nothing is no write: no revision, no event.
	cur := get[*widget](t, s, kindWidget, key("default", "w1"))
	rev := s.Revision()
	same := cur.DeepCopyObject().(*widget)
	require.NoError(t, update(t, s, same))
	require.Equal(t, rev, s.Revision(), "a no-op update must not commit")
	require.Equal(t, cur, same)
	same.Status.Count = 1000 // status is not Update's business
	require.NoError(t, update(t, s, same))
	require.Equal(t, rev, s.Revision(), "a status-only change through Update must not commit")
	require.Equal(t, 1, same.Status.Count, "the caller sees the stored status")

	// A different uid is a precondition that fails.
	cur.UID = "someone-else"
	err := update(t, s, cur)
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), "Precondition failed: UID in precondition: someone-else")
}

func testUpdateConflict(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "web-1", nil, "red")
	create(t, s, w)
	a := get[*widget](t, s, kindWidget, key("default", "web-1"))
	b := get[*widget](t, s, kindWidget, key("default", "web-1"))
	a.Spec.Size = 1
	require.NoError(t, update(t, s, a))
	b.Spec.Size = 2
	rev := s.Revision()
	err := update(t, s, b)
	require.ErrorIs(t, err, store.ErrConflict)
	require.EqualError(t, err, `Operation cannot be fulfilled on widgets.example.com "web-1": the object has been modified; please apply your changes to the latest version and try again`)
	require.Equal(t, rev, s.Revision())
	require.Equal(t, 1, get[*widget](t, s, kindWidget, key("default", "web-1")).Spec.Size, "a stale write is never a lost update")
	b.Status.Count = 5
	require.ErrorIs(t, updateStatus(t, s, b), store.ErrConflict, "UpdateStatus checks resourceVersion too")

	p := newPod("default", "web-1", "")
	create(t, s, p)
	p.ResourceVersion = "1"
	require.EqualError(t, update(t, s, p), `Operation cannot be fulfilled on pods "web-1": the object has been modified; please apply your changes to the latest version and try again`)
}

func testUpdateStatus(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	create(t, s, w)

	w.Status = widgetStatus{Ready: true, Count: 5, Notes: []string{"up"}}
	w.Spec.Color = "green"
	w.Labels["app"] = "changed"
	require.NoError(t, updateStatus(t, s, w))
	got := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, got, w, "the caller sees what was stored")
	require.Equal(t, widgetStatus{Ready: true, Count: 5, Notes: []string{"up"}}, got.Status)
	require.Equal(t, "red", got.Spec.Color, "UpdateStatus writes only the status")
	require.Equal(t, "web", got.Labels["app"], "UpdateStatus writes only the status")
	require.Equal(t, int64(1), got.Generation, "a status change keeps generation")

	rev := s.Revision()
	require.NoError(t, updateStatus(t, s, got))
	require.Equal(t, rev, s.Revision(), "an unchanged status is no write")

	p := newPod("default", "p1", "n1")
	create(t, s, p)
	p.Status.Phase = objects.PodRunning
	require.NoError(t, updateStatus(t, s, p))
	require.Equal(t, objects.PodRunning, get[*objects.Pod](t, s, kindPod, key("default", "p1")).Status.Phase)

	// Kinds without a status have no status to write.
	n := &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n1"}, Text: "a"}
	create(t, s, n)
	require.ErrorIs(t, updateStatus(t, s, n), objects.ErrInvalid)
	r := &rack{ObjectMeta: objects.ObjectMeta{Name: "r1"}}
	create(t, s, r)
	require.ErrorIs(t, updateStatus(t, s, r), objects.ErrInvalid)
}

// updateWithStatus writes through store.StatusUpdater.
func updateWithStatus(t *testing.T, s store.Store, obj objects.Object) error {
	return writeThrough(t, s, func(u store.StatusUpdater) error { return u.UpdateWithStatus(obj) })
}

// adoptWithStatus writes through store.StatusAdopter.
func adoptWithStatus(t *testing.T, s store.Store, obj objects.Object) error {
	return writeThrough(t, s, func(a store.StatusAdopter) error { return a.AdoptWithStatus(obj) })
}

func testUpdateWithStatus(t *testing.T, e *env) { testWithStatus(t, e, updateWithStatus, false) }

// testAdoptWithStatus: AdoptWithStatus follows UpdateWithStatus' rules,
// and what it stores is the caller's object itself.
func testAdoptWithStatus(t *testing.T, e *env) { testWithStatus(t, e, adoptWithStatus, true) }

func testWithStatus(t *testing.T, e *env, updateWithStatus func(*testing.T, store.Store, objects.Object) error, adopts bool) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	w.Status.Count = 1
	create(t, s, w)
	created := w.DeepCopyObject().(*widget)
	wt := watch(t, s, store.WatchOptions{Kind: kindWidget})

	// Spec, metadata and status come from the caller, in one write.
	e.clock.Advance(time.Minute)
	rev := s.Revision()
	w.Spec.Color = "blue"
	w.Status = widgetStatus{Ready: true, Count: 7, Notes: []string{"up"}}
	w.Labels["tier"] = "fe"
	w.UID = ""
	w.CreationTimestamp = objects.Time{}
	w.Generation = 42
	require.NoError(t, updateWithStatus(t, s, w))
	require.Equal(t, rev+1, s.Revision(), "one write, one revision")
	got := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, got, w, "the caller sees what was stored")
	require.Equal(t, "blue", got.Spec.Color)
	require.Equal(t, widgetStatus{Ready: true, Count: 7, Notes: []string{"up"}}, got.Status)
	require.Equal(t, map[string]string{"app": "web", "tier": "fe"}, got.Labels)
	require.Equal(t, created.UID, got.UID)
	require.Equal(t, created.CreationTimestamp, got.CreationTimestamp)
	require.Equal(t, int64(2), got.Generation, "a spec change increases generation")
	evs := collect(t, wt, 1)
	require.Equal(t, store.Modified, evs[0].Type)
	require.Equal(t, got, evs[0].Object(), "one event with spec and status")
	if adopts {
		require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
			stored, err := tx.(store.Peeker).Peek(kindWidget, key("default", "w1"))
			require.Same(t, w, stored, "the store keeps the object itself")
			return err
		}))
		require.Same(t, w, evs[0].Peek(), "and hands it out in the event")
	} else {
		w.Status.Notes[0] = "changed by the caller"
		require.Equal(t, "up", get[*widget](t, s, kindWidget, key("default", "w1")).Status.Notes[0], "the store keeps its own copy")
	}

	// A status change alone keeps generation; nothing changed is no write.
	cur := get[*widget](t, s, kindWidget, key("default", "w1"))
	cur.Status.Count = 8
	require.NoError(t, updateWithStatus(t, s, cur))
	require.Equal(t, int64(2), get[*widget](t, s, kindWidget, key("default", "w1")).Generation)
	rev = s.Revision()
	same := cur.DeepCopyObject().(*widget)
	require.NoError(t, updateWithStatus(t, s, same))
	require.Equal(t, rev, s.Revision(), "a no-op write must not commit")
	require.Equal(t, cur, same)

	// The resourceVersion and uid are preconditions.
	stale := cur.DeepCopyObject().(*widget)
	stale.ResourceVersion = created.ResourceVersion
	stale.Status.Count = 9
	require.ErrorIs(t, updateWithStatus(t, s, stale), store.ErrConflict)
	stale.ResourceVersion, stale.UID = "", "someone-else"
	require.ErrorIs(t, updateWithStatus(t, s, stale), store.ErrConflict)
	require.Equal(t, 8, get[*widget](t, s, kindWidget, key("default", "w1")).Status.Count)

	// Binding a pod: spec.nodeName and a condition at once; the node index
	// follows.
	p := newPod("default", "p1", "")
	create(t, s, p)
	p.Spec.NodeName = "n1"
	p.Status.Conditions = []objects.PodCondition{{Type: objects.PodScheduled, Status: objects.ConditionTrue}}
	require.NoError(t, updateWithStatus(t, s, p))
	bound := get[*objects.Pod](t, s, kindPod, key("default", "p1"))
	require.Equal(t, bound, p)
	require.Equal(t, "n1", bound.Spec.NodeName)
	require.Len(t, bound.Status.Conditions, 1)
	require.Equal(t, []string{"default/p1"}, keys(list(t, s, kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: "n1"}})))
	require.Empty(t, list(t, s, kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: ""}}))

	// Removing the last finalizer of an object being deleted removes it.
	f := newWidget("default", "w2", nil, "red")
	f.Finalizers = []string{"example.com/hold"}
	create(t, s, f)
	_, err := del(t, s, kindWidget, key("default", "w2"), store.DeleteOptions{})
	require.NoError(t, err)
	f = get[*widget](t, s, kindWidget, key("default", "w2"))
	f.Finalizers = nil
	f.Status.Count = 3
	require.NoError(t, updateWithStatus(t, s, f))
	_, err = tryGet(t, s, kindWidget, key("default", "w2"))
	require.ErrorIs(t, err, store.ErrNotFound)

	// Kinds without a status have no status to write.
	n := &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n1"}, Text: "a"}
	create(t, s, n)
	require.ErrorIs(t, updateWithStatus(t, s, n), objects.ErrInvalid)
}

func testGeneration(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", nil, "red")
	create(t, s, w)
	step := func(change func(), wantGen int64, why string) {
		t.Helper()
		change()
		require.NoError(t, update(t, s, w))
		require.Equal(t, wantGen, w.Generation, why)
	}
	step(func() { w.Spec.Size = 1 }, 2, "spec change")
	step(func() { w.Labels = map[string]string{"a": "b"} }, 2, "labels are metadata")
	step(func() { w.Annotations = map[string]string{"a": "b"} }, 2, "annotations are metadata")
	step(func() { w.Finalizers = []string{"example.com/f"} }, 2, "finalizers are metadata")
	step(func() { w.Spec.Tags = []string{"x"} }, 3, "spec change")
	w.Status.Count = 3
	require.NoError(t, updateStatus(t, s, w))
	require.Equal(t, int64(3), w.Generation, "status")

	// Kinds without a spec: every field outside metadata and status counts.
	n := &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n1"}, Text: "a"}
	create(t, s, n)
	n.Text = "b"
	require.NoError(t, update(t, s, n))
	require.Equal(t, int64(2), n.Generation)
	n.Labels = map[string]string{"x": "y"}
	require.NoError(t, update(t, s, n))
	require.Equal(t, int64(2), n.Generation)

	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c1"}, Data: map[string]string{"k": "v"}}
	create(t, s, cm)
	cm.Data["k"] = "w"
	require.NoError(t, update(t, s, cm))
	require.Equal(t, int64(2), cm.Generation)

	r := &rack{ObjectMeta: objects.ObjectMeta{Name: "r1"}}
	create(t, s, r)
	r.Spec.Slots = 8
	require.NoError(t, update(t, s, r))
	require.Equal(t, int64(2), r.Generation)

	// A kind that is a store.GenerationKeeper keeps its generation where
	// it says so: a pod's binding to a node.
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "p1"},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "a", Image: "a:1"}}}}
	create(t, s, p)
	p.Spec.NodeName = "n1"
	require.NoError(t, update(t, s, p))
	require.Equal(t, int64(1), p.Generation, "a binding")
	p.Spec.ActiveDeadlineSeconds = new(int64(60))
	require.NoError(t, update(t, s, p))
	require.Equal(t, int64(2), p.Generation, "spec change")
}
