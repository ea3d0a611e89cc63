package storetest

import (
	"errors"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func testCreate(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	w.UID = "chosen-by-client"
	w.Generation = 7
	w.CreationTimestamp = objects.NewTime(epoch.AddDate(-1, 0, 0))
	w.DeletionTimestamp = ptr(e.now())
	w.Status.Count = 3
	e.clock.Advance(90 * 1e9)
	create(t, s, w)

	require.Equal(t, objects.TypeMeta{APIVersion: groupVersion, Kind: kindWidget}, w.TypeMeta, "TypeMeta filled from the scheme")
	require.Regexp(t, uuidRe, w.UID, "uid set by the store")
	require.Equal(t, strconv.FormatInt(s.Revision(), 10), w.ResourceVersion, "resourceVersion is the commit's revision")
	require.Equal(t, int64(1), w.Generation)
	require.Equal(t, e.now(), w.CreationTimestamp, "creationTimestamp from the store's clock")
	require.Nil(t, w.DeletionTimestamp)
	require.Equal(t, 3, w.Status.Count, "status given on create is kept, by a kind whose preparation keeps it")
	require.Equal(t, "uid="+w.UID, w.Spec.Owner, "PrepareForCreate ran after the uid was set, and the caller sees its result")

	got := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, w, got, "Get returns what Create stored and reported")

	// Pods are built in; the same rules hold. Their kind prepares them as
	// Kubernetes' pod strategy does: whatever status was sent, a new pod is
	// Pending, with its QoS class.
	p := newPod("default", "p1", "")
	p.Status = objects.PodStatus{Phase: objects.PodSucceeded, PodIP: "10.0.0.1"}
	create(t, s, p)
	require.Equal(t, "v1", p.APIVersion)
	require.Equal(t, kindPod, p.Kind)
	require.Equal(t, objects.PodStatus{Phase: objects.PodPending, QOSClass: objects.PodQOSBestEffort}, p.Status)
	require.Equal(t, p, get[*objects.Pod](t, s, kindPod, key("default", "p1")))
}

func testCreateAlreadyExists(t *testing.T, e *env) {
	s := e.open()
	create(t, s, newWidget("default", "w1", nil, "red"))
	rev := s.Revision()
	err := tryCreate(t, s, newWidget("default", "w1", nil, "blue"))
	require.ErrorIs(t, err, store.ErrAlreadyExists)
	require.EqualError(t, err, `widgets.example.com "w1" already exists`)
	require.Equal(t, rev, s.Revision(), "a failed create commits nothing")
	require.Equal(t, "red", get[*widget](t, s, kindWidget, key("default", "w1")).Spec.Color)

	// The same name in another namespace, or of another kind, is another object.
	create(t, s, newWidget("other", "w1", nil, "blue"), &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w1"}})

	create(t, s, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c1"}})
	err = tryCreate(t, s, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c1"}})
	require.EqualError(t, err, `configmaps "c1" already exists`)
}

func testCreateInvalid(t *testing.T, e *env) {
	s := e.open()
	rev := s.Revision()
	for name, obj := range map[string]objects.Object{
		"no name":           newWidget("default", "", nil, "red"),
		"no namespace":      newWidget("", "w1", nil, "red"),
		"resourceVersion":   &widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w1", ResourceVersion: "5"}},
		"kind of another":   &widget{TypeMeta: objects.TypeMeta{Kind: "Pod"}, ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w1"}},
		"apiVersion wrong":  &widget{TypeMeta: objects.TypeMeta{APIVersion: "v1"}, ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w1"}},
		"pod without name":  newPod("default", "", "n1"),
		"pod without ns":    newPod("", "p1", "n1"),
		"config without ns": &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c1"}},
	} {
		err := tryCreate(t, s, obj)
		require.ErrorIs(t, err, objects.ErrInvalid, name)
	}
	require.Equal(t, rev, s.Revision(), "nothing committed")
	require.Empty(t, list(t, s, kindWidget, store.ListOptions{}))
}

func testUnknownKind(t *testing.T, e *env) {
	s := e.open()
	err := tryCreate(t, s, &stranger{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "x"}})
	require.ErrorIs(t, err, store.ErrUnknownKind)
	err = update(t, s, &stranger{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "x"}})
	require.ErrorIs(t, err, store.ErrUnknownKind)
	_, err = tryGet(t, s, "Stranger", key("default", "x"))
	require.ErrorIs(t, err, store.ErrUnknownKind)
	_, err = tryList(t, s, "Stranger", store.ListOptions{})
	require.ErrorIs(t, err, store.ErrUnknownKind)
	_, err = del(t, s, "Stranger", key("default", "x"), store.DeleteOptions{})
	require.ErrorIs(t, err, store.ErrUnknownKind)
	_, err = s.Watch(ctx(t), store.WatchOptions{Kind: "Stranger"})
	require.ErrorIs(t, err, store.ErrUnknownKind)
}

func testClusterScoped(t *testing.T, e *env) {
	s := e.open()
	r := &rack{ObjectMeta: objects.ObjectMeta{Namespace: "ignored", Name: "r1"}, Spec: rackSpec{Slots: 4}}
	create(t, s, r)
	require.Empty(t, r.Namespace, "a cluster-scoped object has no namespace")
	require.Equal(t, r, get[*rack](t, s, kindRack, key("", "r1")))
	require.Equal(t, r, get[*rack](t, s, kindRack, key("any", "r1")), "the namespace of a cluster-scoped key is ignored")
	require.Equal(t, []string{"r1"}, keys(list(t, s, kindRack, store.ListOptions{})))
	require.Equal(t, []string{"r1"}, keys(list(t, s, kindRack, store.ListOptions{Namespace: "any"})),
		"listing a cluster-scoped kind ignores the namespace, as kubectl does")
	err := tryCreate(t, s, &rack{ObjectMeta: objects.ObjectMeta{Name: "r1"}})
	require.EqualError(t, err, `racks.example.com "r1" already exists`)
}

func testGenerateName(t *testing.T, e *env) {
	s := e.open()
	nameRe := regexp.MustCompile(`^web-[a-z0-9]{5}$`)
	seen := map[string]bool{}
	var batch []objects.Object
	for range 100 {
		batch = append(batch, &widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", GenerateName: "web-"}})
	}
	create(t, s, batch...) // one transaction: names unique against its own writes too
	for range 100 {
		w := &widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", GenerateName: "web-"}}
		create(t, s, w)
		batch = append(batch, w)
	}
	for _, o := range batch {
		m := o.GetObjectMeta()
		require.Regexp(t, nameRe, m.Name)
		require.Equal(t, "web-", m.GenerateName, "generateName is kept")
		require.False(t, seen[m.Name], "name %s generated twice", m.Name)
		seen[m.Name] = true
	}
	require.Len(t, list(t, s, kindWidget, store.ListOptions{Namespace: "default"}), 200)

	// A name given wins over generateName.
	w := &widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "fixed", GenerateName: "web-"}}
	create(t, s, w)
	require.Equal(t, "fixed", w.Name)

	// A long base is cut so that the name stays a DNS label.
	long := &widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", GenerateName: "a123456789b123456789c123456789d123456789e123456789f123456789g-"}}
	create(t, s, long)
	require.LessOrEqual(t, len(long.Name), 63)
}

func testGetNotFound(t *testing.T, e *env) {
	s := e.open()
	_, err := tryGet(t, s, kindPod, key("default", "web-1"))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.EqualError(t, err, `pods "web-1" not found`)
	_, err = tryGet(t, s, kindWidget, key("default", "w1"))
	require.EqualError(t, err, `widgets.example.com "w1" not found`)
	err = update(t, s, newWidget("default", "w1", nil, "red"))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.EqualError(t, err, `widgets.example.com "w1" not found`)
	err = updateStatus(t, s, newWidget("default", "w1", nil, "red"))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = del(t, s, kindConfigMap, key("default", "c1"), store.DeleteOptions{})
	require.EqualError(t, err, `configmaps "c1" not found`)
	require.True(t, errors.Is(err, store.ErrNotFound))
}

// testCopies: the store never shares memory with its callers.
func testCopies(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	w.Spec.Tags = []string{"a"}
	create(t, s, w)
	w.Labels["app"] = "changed"
	w.Spec.Tags[0] = "changed"

	got := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, "web", got.Labels["app"], "changing the created object changed the store")
	require.Equal(t, "a", got.Spec.Tags[0])
	got.Labels["app"] = "changed"
	got.Spec.Tags[0] = "changed"
	got2 := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.Equal(t, "web", got2.Labels["app"], "changing a read object changed the store")

	listed := list(t, s, kindWidget, store.ListOptions{})
	listed[0].GetObjectMeta().Labels["app"] = "changed"
	require.Equal(t, "web", get[*widget](t, s, kindWidget, key("default", "w1")).Labels["app"], "changing a listed object changed the store")

	got2.Spec.Tags = []string{"b"}
	require.NoError(t, update(t, s, got2))
	got2.Spec.Tags[0] = "changed"
	require.Equal(t, []string{"b"}, get[*widget](t, s, kindWidget, key("default", "w1")).Spec.Tags, "changing an updated object changed the store")
}

// testPeek: a Peeker hands out the stored object, inside View and Update,
// and sees the transaction's own writes.
func testPeek(t *testing.T, e *env) {
	s := e.open()
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	create(t, s, w)
	peek := func(tx store.ReadTx, k objects.Key) (objects.Object, error) {
		p, ok := tx.(store.Peeker)
		if !ok {
			t.Skip("the backend's transactions are no store.Peeker")
		}
		return p.Peek(kindWidget, k)
	}
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		got, err := peek(tx, key("default", "w1"))
		require.NoError(t, err)
		require.Equal(t, w, got)
		_, err = peek(tx, key("default", "nope"))
		require.ErrorIs(t, err, store.ErrNotFound)
		list, err := tx.(store.Peeker).PeekList(kindWidget, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Same(t, got, list[0], "PeekList hands out the stored object Peek does")
		return nil
	}))
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		cur := w.DeepCopyObject().(*widget)
		cur.Spec.Color = "blue"
		require.NoError(t, tx.Update(cur))
		got, err := peek(tx, key("default", "w1"))
		require.NoError(t, err)
		require.Equal(t, "blue", got.(*widget).Spec.Color, "the transaction's own write")
		list, err := tx.(store.Peeker).PeekList(kindWidget, store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Same(t, got, list[0], "PeekList sees the transaction's own write")
		require.NoError(t, tx.Create(newWidget("default", "w2", nil, "green")))
		_, err = peek(tx, key("default", "w2"))
		require.NoError(t, err)
		_, err = tx.Delete(kindWidget, key("default", "w2"), store.DeleteOptions{})
		require.NoError(t, err)
		_, err = peek(tx, key("default", "w2"))
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	}))
}

func testAdopt(t *testing.T, e *env) {
	s := e.open()
	adopt := func(obj objects.Object) error {
		return writeThrough(t, s, func(a store.Adopter) error { return a.Adopt(obj) })
	}
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget})
	w := newWidget("default", "", map[string]string{"app": "web"}, "red")
	w.GenerateName = "w-"
	require.NoError(t, adopt(w))
	require.NotEmpty(t, w.Name, "generateName is honoured")
	require.NotEmpty(t, w.UID)
	require.Equal(t, strconv.FormatInt(s.Revision(), 10), w.ResourceVersion, "the object adopted has the server fields")

	got := get[*widget](t, s, kindWidget, key("default", w.Name))
	require.Equal(t, w, got, "what was stored is what was adopted")
	require.Equal(t, []string{"default/" + w.Name}, keys(list(t, s, kindWidget, store.ListOptions{Labels: selector(t, "app=web")})))
	evs := collect(t, ww, 1)
	require.Equal(t, store.Added, evs[0].Type)
	require.Equal(t, w.UID, evs[0].Peek().GetObjectMeta().UID)

	// Create's rules hold.
	dup := newWidget("default", w.Name, nil, "blue")
	require.ErrorIs(t, adopt(dup), store.ErrAlreadyExists)
	require.Equal(t, "red", get[*widget](t, s, kindWidget, key("default", w.Name)).Spec.Color)
	bad := newWidget("default", "", nil, "red")
	require.ErrorIs(t, adopt(bad), objects.ErrInvalid, "a name or generateName is required")
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error { return store.Adopt(tx, newWidget("default", "w2", nil, "red")) }))
	get[*widget](t, s, kindWidget, key("default", "w2"))
}
