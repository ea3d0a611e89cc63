package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Reopen opens the durable store kept in one place (a file, a key prefix)
// with o, as it is now: the store of an earlier call is closed first. The
// error is the one the store's open returned.
type Reopen func(o Options) (store.Store, error)

// NewPlace returns the Reopen of a new, empty place for t.
type NewPlace func(t *testing.T) Reopen

// RunDurable checks what a durable store keeps: every object committed,
// and the revision, outlive the store that committed them, and are there
// for the next store opened in the same place. Run it besides Run.
func RunDurable(t *testing.T, newPlace NewPlace) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(o Options) store.Store, reopen Reopen)
	}{
		{"Reopen", testReopen},
		{"ReopenUnknownKind", testReopenUnknownKind},
		{"ReopenConcurrentCommits", testReopenConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reopen := newPlace(t)
			open := func(o Options) store.Store {
				t.Helper()
				s, err := reopen(o)
				require.NoError(t, err)
				require.NotNil(t, s, "Reopen returned nil")
				t.Cleanup(func() { s.Close() })
				return s
			}
			tc.fn(t, open, reopen)
		})
	}
}

// durableOptions are the options of the durable suite's stores.
func durableOptions() Options {
	return Options{Scheme: newScheme(), Clock: clockwork.NewFakeClockAt(epoch)}
}

func write(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(ctx(t), fn))
}

// snapshot renders every object of kinds as JSON by kind and key, and the
// revision, as the store hands them out.
func snapshot(t *testing.T, s store.Store, kinds ...string) (map[string]string, int64) {
	t.Helper()
	out := map[string]string{}
	var rev int64
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		rev = tx.Revision()
		for _, kind := range kinds {
			objs, err := tx.List(kind, store.ListOptions{})
			if err != nil {
				return err
			}
			for _, o := range objs {
				b, err := json.Marshal(o)
				if err != nil {
					return err
				}
				out[kind+" "+o.GetObjectMeta().Key().String()] = string(b)
			}
		}
		return nil
	}))
	return out, rev
}

func names(t *testing.T, s store.Store, kind string, opts store.ListOptions) []string {
	t.Helper()
	var out []string
	for _, o := range list(t, s, kind, opts) {
		out = append(out, o.GetObjectMeta().Name)
	}
	return out
}

// BoundPod returns a pod of one container requesting 100m CPU, labelled
// app=app, bound to node, and owned by the ReplicaSet of uid owner unless
// owner is empty: what the durable suite and the benchmarks store.
func BoundPod(name, node, app string, owner string) *objects.Pod {
	p := &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": app}},
		Spec: objects.PodSpec{NodeName: node, Containers: []objects.Container{{Name: "c", Image: "demo:v1",
			Resources: objects.ResourceRequirements{Requests: objects.ResourceList{"cpu": objects.MustParseQuantity("100m")}}}}},
	}
	if owner != "" {
		p.OwnerReferences = []objects.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: owner, Controller: ptr(true)}}
	}
	return p
}

// A store opened again holds what was committed, at the same revision:
// objects of every scope with their server fields and status, no deleted
// one, a deletion that waits for a finalizer, and the indexes that List
// uses. Writes continue at the next revision, and a watch can resume from
// the loaded revision but not from before it.
func testReopen(t *testing.T, open func(o Options) store.Store, _ Reopen) {
	s := open(durableOptions())
	write(t, s, func(tx store.Tx) error {
		return errors.Join(
			tx.Create(&objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a"}}}),
			tx.Create(BoundPod("web-1", "n1", "web", "u1")),
			tx.Create(BoundPod("web-2", "n2", "web", "u1")),
			tx.Create(BoundPod("db-0", "n1", "db", "")),
			tx.Create(BoundPod("gone", "n1", "web", "u1")),
			tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "kube-system", Name: "cfg", Finalizers: []string{"example.com/keep"}},
				Data: map[string]string{"k": "v"}}),
			tx.Create(&widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w1"}, Spec: widgetSpec{Color: "red", Tags: []string{"a"}}}),
		)
	})
	write(t, s, func(tx store.Tx) error {
		p, err := tx.Get("Pod", key("default", "web-1"))
		if err != nil {
			return err
		}
		p.(*objects.Pod).Status.Phase = objects.PodRunning
		p.(*objects.Pod).Status.PodIP = "10.1.0.5"
		return tx.UpdateStatus(p)
	})
	write(t, s, func(tx store.Tx) error {
		_, err := tx.Delete("Pod", key("default", "gone"), store.DeleteOptions{})
		return err
	})
	write(t, s, func(tx store.Tx) error {
		_, err := tx.Delete("ConfigMap", key("kube-system", "cfg"), store.DeleteOptions{})
		return err
	})
	kinds := []string{"Node", "Pod", "ConfigMap", kindWidget}
	before, rev := snapshot(t, s, kinds...)
	require.NoError(t, s.Close())

	s = open(durableOptions())
	after, rev2 := snapshot(t, s, kinds...)
	require.Equal(t, rev, rev2, "revision")
	require.Equal(t, before, after)
	require.NotContains(t, after, "Pod default/gone")
	require.Contains(t, after["Pod default/web-1"], `"podIP":"10.1.0.5"`)
	require.Contains(t, after["ConfigMap kube-system/cfg"], `"deletionTimestamp"`)
	require.Contains(t, after[kindWidget+" default/w1"], `"owner":"uid=`)

	require.Equal(t, []string{"web-1", "web-2"}, names(t, s, "Pod", store.ListOptions{Labels: objects.SelectorFromSet(map[string]string{"app": "web"})}))
	require.Equal(t, []string{"db-0", "web-1"}, names(t, s, "Pod", store.ListOptions{Fields: map[string]string{store.IndexNodeName: "n1"}}))
	require.Equal(t, []string{"web-1", "web-2"}, names(t, s, "Pod", store.ListOptions{Fields: map[string]string{store.IndexOwner: "u1"}}))

	_, err := s.Watch(ctx(t), store.WatchOptions{Revision: rev - 1})
	require.ErrorIs(t, err, store.ErrRevisionTooOld)
	w := watch(t, s, store.WatchOptions{Revision: rev})

	// The finalizer goes: the object is removed, at the next revision.
	write(t, s, func(tx store.Tx) error {
		cm, err := tx.Get("ConfigMap", key("kube-system", "cfg"))
		if err != nil {
			return err
		}
		cm.GetObjectMeta().Finalizers = nil
		return tx.Update(cm)
	})
	ev := collect(t, w, 1)[0]
	require.Equal(t, store.Deleted, ev.Type)
	require.Equal(t, rev+1, ev.Revision)
	require.Equal(t, "cfg", ev.Key().Name)
	require.NoError(t, s.Close())

	s = open(durableOptions())
	require.Equal(t, rev+1, s.Revision())
	require.Empty(t, names(t, s, "ConfigMap", store.ListOptions{}))
}

// A store holding a kind the scheme it is opened with does not know is
// refused, naming the kind; opened with that kind registered, it holds it.
func testReopenUnknownKind(t *testing.T, open func(o Options) store.Store, reopen Reopen) {
	s := open(durableOptions())
	create(t, s, &widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w1"}, Spec: widgetSpec{Color: "blue"}})
	require.NoError(t, s.Close())

	o := durableOptions()
	o.Scheme = objects.NewScheme()
	_, err := reopen(o)
	require.ErrorIs(t, err, store.ErrUnknownKind)
	require.ErrorContains(t, err, fmt.Sprintf("kind %q", kindWidget))

	s = open(durableOptions())
	require.Equal(t, "blue", get[*widget](t, s, kindWidget, key("default", "w1")).Spec.Color)
}

// Many concurrent commits, which a store may group, all outlive it.
func testReopenConcurrent(t *testing.T, open func(o Options) store.Store, _ Reopen) {
	s := open(durableOptions())
	const n = 400
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			return s.Update(ctx(t), func(tx store.Tx) error {
				return tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("cm-%03d", i)},
					Data: map[string]string{"i": fmt.Sprint(i)}})
			})
		})
	}
	require.NoError(t, g.Wait())
	before, rev := snapshot(t, s, "ConfigMap")
	require.Len(t, before, n)
	require.NoError(t, s.Close())

	s = open(durableOptions())
	after, rev2 := snapshot(t, s, "ConfigMap")
	require.Equal(t, rev, rev2)
	require.Equal(t, before, after)
}
