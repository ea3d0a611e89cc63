package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func testList(t *testing.T, e *env) {
	s := e.open()
	create(t, s,
		newWidget("b", "w4", map[string]string{"app": "web"}, "red"),
		newWidget("a", "w2", map[string]string{"app": "web", "tier": "be"}, "blue"),
		newWidget("a", "w1", map[string]string{"app": "web", "tier": "fe"}, "red"),
		newWidget("a", "w3", map[string]string{"app": "db"}, "red"),
		newWidget("b", "w0", nil, "green"),
		newWidget("a-b", "w5", map[string]string{"app": "web"}, "red"), // sorts after a, before b
		&note{ObjectMeta: objects.ObjectMeta{Namespace: "a", Name: "n1", Labels: map[string]string{"app": "web"}}},
	)
	for _, tc := range []struct {
		name string
		opts store.ListOptions
		want []string
	}{
		{"all", store.ListOptions{}, []string{"a/w1", "a/w2", "a/w3", "a-b/w5", "b/w0", "b/w4"}},
		{"namespace", store.ListOptions{Namespace: "a"}, []string{"a/w1", "a/w2", "a/w3"}},
		{"empty namespace", store.ListOptions{Namespace: "none"}, []string{}},
		{"label", store.ListOptions{Labels: selector(t, "app=web")}, []string{"a/w1", "a/w2", "a-b/w5", "b/w4"}},
		{"label in namespace", store.ListOptions{Namespace: "a", Labels: selector(t, "app=web")}, []string{"a/w1", "a/w2"}},
		{"label set", store.ListOptions{Labels: selector(t, "app in (web,db),!tier")}, []string{"a/w3", "a-b/w5", "b/w4"}},
		{"two exact labels", store.ListOptions{Labels: selector(t, "tier=fe,app=web")}, []string{"a/w1"}},
		{"not equal", store.ListOptions{Labels: selector(t, "app=web,tier!=be")}, []string{"a/w1", "a-b/w5", "b/w4"}},
		{"exists", store.ListOptions{Labels: selector(t, "tier")}, []string{"a/w1", "a/w2"}},
		{"in one value", store.ListOptions{Labels: selector(t, "app in (db)")}, []string{"a/w3"}},
		{"no match", store.ListOptions{Labels: selector(t, "app=none")}, []string{}},
		{"everything", store.ListOptions{Labels: objects.Everything()}, []string{"a/w1", "a/w2", "a/w3", "a-b/w5", "b/w0", "b/w4"}},
		{"set", store.ListOptions{Labels: objects.SelectorFromSet(map[string]string{"app": "web", "tier": "be"})}, []string{"a/w2"}},
		{"host index", store.ListOptions{Fields: map[string]string{fieldColor: "red"}}, []string{"a/w1", "a/w3", "a-b/w5", "b/w4"}},
		{"host index in namespace", store.ListOptions{Namespace: "b", Fields: map[string]string{fieldColor: "red"}}, []string{"b/w4"}},
		{"host index and labels", store.ListOptions{Fields: map[string]string{fieldColor: "red"}, Labels: selector(t, "app=web,tier")}, []string{"a/w1"}},
		{"name", store.ListOptions{Fields: map[string]string{"metadata.name": "w1"}}, []string{"a/w1"}},
		{"name and namespace", store.ListOptions{Namespace: "a", Fields: map[string]string{"metadata.name": "w3"}}, []string{"a/w3"}},
		{"namespace field", store.ListOptions{Fields: map[string]string{"metadata.namespace": "b"}}, []string{"b/w0", "b/w4"}},
	} {
		got := list(t, s, kindWidget, tc.opts)
		require.Equal(t, tc.want, keys(got), tc.name)
		for _, o := range got {
			require.IsType(t, &widget{}, o, tc.name)
		}
	}

	_, err := tryList(t, s, kindWidget, store.ListOptions{Fields: map[string]string{"spec.size": "1"}})
	require.ErrorIs(t, err, store.ErrUnknownIndex)
	_, err = tryList(t, s, kindNote, store.ListOptions{Fields: map[string]string{fieldColor: "red"}})
	require.ErrorIs(t, err, store.ErrUnknownIndex, "an index of one kind is not an index of another")
	_, err = tryList(t, s, kindWidget, store.ListOptions{Fields: map[string]string{store.IndexNodeName: "n1"}})
	require.ErrorIs(t, err, store.ErrUnknownIndex, "spec.nodeName is indexed for pods only")
}

func testListFieldIndexes(t *testing.T, e *env) {
	s := e.open()
	create(t, s,
		newPod("default", "p1", "n1"),
		newPod("default", "p2", "n2"),
		newPod("other", "p3", "n1"),
		newPod("default", "p4", ""),
		newPod("default", "p5", "n1"),
	)
	byNode := func(node, ns string) []string {
		return keys(list(t, s, kindPod, store.ListOptions{Namespace: ns, Fields: map[string]string{store.IndexNodeName: node}}))
	}
	require.Equal(t, []string{"default/p1", "default/p5", "other/p3"}, byNode("n1", ""))
	require.Equal(t, []string{"default/p1", "default/p5"}, byNode("n1", "default"))
	require.Equal(t, []string{"default/p4"}, byNode("", ""), "unbound pods are indexed too")
	require.Equal(t, []string{}, byNode("n9", ""))

	// The index follows updates: bind p4, move p5.
	p4 := get[*objects.Pod](t, s, kindPod, key("default", "p4"))
	p4.Spec.NodeName = "n2"
	require.NoError(t, update(t, s, p4))
	p5 := get[*objects.Pod](t, s, kindPod, key("default", "p5"))
	p5.Spec.NodeName = "n2"
	require.NoError(t, update(t, s, p5))
	require.Equal(t, []string{"default/p1", "other/p3"}, byNode("n1", ""))
	require.Equal(t, []string{"default/p2", "default/p4", "default/p5"}, byNode("n2", ""))
	require.Equal(t, []string{}, byNode("", ""))

	// And deletes.
	_, err := del(t, s, kindPod, key("default", "p2"), store.DeleteOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"default/p4", "default/p5"}, byNode("n2", ""))

	// Labels and index together.
	p1 := get[*objects.Pod](t, s, kindPod, key("default", "p1"))
	p1.Labels = map[string]string{"app": "web"}
	require.NoError(t, update(t, s, p1))
	require.Equal(t, []string{"default/p1"}, keys(list(t, s, kindPod, store.ListOptions{
		Labels: selector(t, "app=web"), Fields: map[string]string{store.IndexNodeName: "n1"}})))
}

func testListOwner(t *testing.T, e *env) {
	s := e.open()
	owner := newWidget("default", "owner", nil, "red")
	other := newWidget("default", "other", nil, "red")
	create(t, s, owner, other)
	ref := func(o *widget) []objects.OwnerReference {
		return []objects.OwnerReference{{APIVersion: groupVersion, Kind: kindWidget, Name: o.Name, UID: o.UID, Controller: ptr(true)}}
	}
	p1, p2, p3 := newPod("default", "p1", ""), newPod("default", "p2", ""), newPod("default", "p3", "")
	p1.OwnerReferences, p2.OwnerReferences, p3.OwnerReferences = ref(owner), ref(other), ref(owner)
	n1 := &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n1", OwnerReferences: ref(owner)}}
	both := &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n2", OwnerReferences: append(ref(other), ref(owner)...)}}
	create(t, s, p1, p2, p3, n1, both)

	owned := func(kind string, o *widget) []string {
		return keys(list(t, s, kind, store.ListOptions{Fields: map[string]string{store.IndexOwner: o.UID}}))
	}
	require.Equal(t, []string{"default/p1", "default/p3"}, owned(kindPod, owner))
	require.Equal(t, []string{"default/p2"}, owned(kindPod, other))
	require.Equal(t, []string{"default/n1", "default/n2"}, owned(kindNote, owner), "every kind is indexed by owner")
	require.Equal(t, []string{"default/n2"}, owned(kindNote, other))

	// Orphaning: dropping the reference drops the entry.
	p3.OwnerReferences = nil
	require.NoError(t, update(t, s, p3))
	require.Equal(t, []string{"default/p1"}, owned(kindPod, owner))
}
