// Package storetest is the conformance suite every store.Store backend
// passes: store/memdb, store/bolt, store/etcd, and a host program's own.
// A durable backend runs RunDurable too, and BenchUpdateStatus measures
// its commits.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
//			s, err := mybackend.New(o.Scheme, o.Clock, o.Indexes, o.History, o.WatchBuffer)
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// The suite covers create, get and list (namespace, label selector, field
// indexes including owner and node name), optimistic concurrency, status
// and spec updates and generation, finalizers, propagation and graceful
// deletion, atomic transactions, the global revision, and watches:
// ordering, filters, list-then-watch, resuming, too-old revisions, slow
// watchers and Close. Run it under -race.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Options describe the store a test needs. A backend must honour every
// field.
type Options struct {
	// Scheme holds the built-in kinds and the suite's own; the store holds
	// exactly its kinds.
	Scheme *objects.Scheme
	// Clock is a fake clock: creationTimestamp and deletionTimestamp come
	// from it.
	Clock clockwork.Clock
	// Indexes are field indexes the store keeps in addition to
	// store.DefaultIndexes().
	Indexes []store.FieldIndex
	// History, when positive, is the number of events kept for resuming
	// watches: a watch from a revision older than the last History events
	// fails with store.ErrRevisionTooOld. 0: the backend's default.
	History int
	// WatchBuffer, when positive, is a watcher's queue length when the
	// watch asks for none. 0: the backend's default.
	WatchBuffer int
}

// NewStore returns a new, empty store built with o. The suite closes it
// when the test ends.
type NewStore func(t *testing.T, o Options) store.Store

// timeout bounds every wait of the suite.
const timeout = 10 * time.Second

// Run runs the conformance suite against the stores newStore makes.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Create", testCreate},
		{"CreateAlreadyExists", testCreateAlreadyExists},
		{"CreateInvalid", testCreateInvalid},
		{"UnknownKind", testUnknownKind},
		{"ClusterScoped", testClusterScoped},
		{"GenerateName", testGenerateName},
		{"GetNotFound", testGetNotFound},
		{"Peek", testPeek},
		{"CopyOnReadAndWrite", testCopies},
		{"List", testList},
		{"ListFieldIndexes", testListFieldIndexes},
		{"ListOwner", testListOwner},
		{"Update", testUpdate},
		{"UpdateConflict", testUpdateConflict},
		{"UpdateStatus", testUpdateStatus},
		{"UpdateWithStatus", testUpdateWithStatus},
		{"AdoptWithStatus", testAdoptWithStatus},
		{"Generation", testGeneration},
		{"Delete", testDelete},
		{"DeletePreconditions", testDeletePreconditions},
		{"Remove", testRemove},
		{"Adopt", testAdopt},
		{"Finalizers", testFinalizers},
		{"Propagation", testPropagation},
		{"GracefulDelete", testGracefulDelete},
		{"Revision", testRevision},
		{"Transaction", testTransaction},
		{"TransactionAbort", testTransactionAbort},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentAborts", testConcurrentAborts},
		{"WatchOrder", testWatchOrder},
		{"WatchFilters", testWatchFilters},
		{"WatchFieldFilter", testWatchFieldFilter},
		{"WatchEvent", testWatchEvent},
		{"WatchResume", testWatchResume},
		{"WatchTooOld", testWatchTooOld},
		{"ListThenWatch", testListThenWatch},
		{"ListEmptyThenWatch", testListEmptyThenWatch},
		{"WatchFellBehind", testWatchFellBehind},
		{"WatchStop", testWatchStop},
		{"Close", testClose},
		{"Context", testContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &env{t: t, newStore: newStore})
		})
	}
}

// env opens the stores of one test.
type env struct {
	t        *testing.T
	newStore NewStore
	clock    *clockwork.FakeClock
}

// epoch is the fake clock's start; whole seconds, as objects.Time keeps.
var epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func (e *env) open(mods ...func(*Options)) store.Store {
	e.t.Helper()
	e.clock = clockwork.NewFakeClockAt(epoch)
	o := Options{
		Scheme:  newScheme(),
		Clock:   e.clock,
		Indexes: []store.FieldIndex{{Kind: kindWidget, Field: fieldColor, Func: widgetColor}},
	}
	for _, m := range mods {
		m(&o)
	}
	s := e.newStore(e.t, o)
	require.NotNil(e.t, s, "newStore returned nil")
	e.t.Cleanup(func() { s.Close() })
	return s
}

func (e *env) now() objects.Time { return objects.NewTime(e.clock.Now()) }

func ctx(t *testing.T) context.Context { return t.Context() }

func create(t *testing.T, s store.Store, objs ...objects.Object) {
	t.Helper()
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		for _, o := range objs {
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	}))
}

func tryCreate(t *testing.T, s store.Store, obj objects.Object) error {
	return s.Update(ctx(t), func(tx store.Tx) error { return tx.Create(obj) })
}

func update(t *testing.T, s store.Store, obj objects.Object) error {
	return s.Update(ctx(t), func(tx store.Tx) error { return tx.Update(obj) })
}

func updateStatus(t *testing.T, s store.Store, obj objects.Object) error {
	return s.Update(ctx(t), func(tx store.Tx) error { return tx.UpdateStatus(obj) })
}

func del(t *testing.T, s store.Store, kind string, key objects.Key, opts store.DeleteOptions) (objects.Object, error) {
	var out objects.Object
	err := s.Update(ctx(t), func(tx store.Tx) error {
		var err error
		out, err = tx.Delete(kind, key, opts)
		return err
	})
	return out, err
}

// writeThrough runs write in a transaction through its optional interface
// I, skipping the test when the backend's transactions do not have it.
func writeThrough[I any](t *testing.T, s store.Store, write func(I) error) error {
	t.Helper()
	return s.Update(ctx(t), func(tx store.Tx) error {
		i, ok := tx.(I)
		if !ok {
			t.Skipf("the backend's Tx is no %s", reflect.TypeFor[I]())
		}
		return write(i)
	})
}

func tryGet(t *testing.T, s store.Store, kind string, key objects.Key) (objects.Object, error) {
	var out objects.Object
	err := s.View(ctx(t), func(tx store.ReadTx) error {
		var err error
		out, err = tx.Get(kind, key)
		return err
	})
	return out, err
}

func get[T objects.Object](t *testing.T, s store.Store, kind string, key objects.Key) T {
	t.Helper()
	obj, err := tryGet(t, s, kind, key)
	require.NoError(t, err)
	out, ok := obj.(T)
	require.True(t, ok, "Get(%s %s) returned %T", kind, key, obj)
	return out
}

func tryList(t *testing.T, s store.Store, kind string, opts store.ListOptions) ([]objects.Object, error) {
	var out []objects.Object
	err := s.View(ctx(t), func(tx store.ReadTx) error {
		var err error
		out, err = tx.List(kind, opts)
		return err
	})
	return out, err
}

func list(t *testing.T, s store.Store, kind string, opts store.ListOptions) []objects.Object {
	t.Helper()
	out, err := tryList(t, s, kind, opts)
	require.NoError(t, err)
	return out
}

// keys renders objects as "namespace/name", in the order given.
func keys(objs []objects.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetObjectMeta().Key().String()
	}
	return out
}

func key(ns, name string) objects.Key { return objects.Key{Namespace: ns, Name: name} }

func selector(t *testing.T, s string) objects.Selector {
	t.Helper()
	sel, err := objects.ParseSelector(s)
	require.NoError(t, err)
	return sel
}

func ptr[T any](v T) *T { return &v }

// watch starts a watcher stopped when the test ends.
func watch(t *testing.T, s store.Store, opts store.WatchOptions) store.Watcher {
	t.Helper()
	w, err := s.Watch(ctx(t), opts)
	require.NoError(t, err)
	t.Cleanup(w.Stop)
	return w
}

func describe(evs []store.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %s %s %s rev=%d rv=%s", ev.Type, ev.Kind(), ev.Key(), ev.Revision, ev.Peek().GetObjectMeta().ResourceVersion)
	}
	if b.Len() == 0 {
		return " none"
	}
	return b.String()
}

// collect waits for n events, failing with what it saw when they do not
// come in time or the watch ends early.
func collect(t *testing.T, w store.Watcher, n int) []store.Event {
	t.Helper()
	var seen []store.Event
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for len(seen) < n {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended (err %v) after %d of %d events; seen:%s", w.Err(), len(seen), n, describe(seen))
			}
			seen = append(seen, ev)
		case <-deadline.C:
			t.Fatalf("%d of %d events after %s; seen:%s", len(seen), n, timeout, describe(seen))
		}
	}
	return seen
}

// waitClosed drains w until its channel closes and returns what it read.
func waitClosed(t *testing.T, w store.Watcher) []store.Event {
	t.Helper()
	var seen []store.Event
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return seen
			}
			seen = append(seen, ev)
		case <-deadline.C:
			t.Fatalf("watch still open after %s; seen:%s", timeout, describe(seen))
		}
	}
}

// marker creates obj and waits until each watcher delivers it, failing if
// anything else comes first: how the suite shows that a watcher received
// nothing else, without sleeping. obj must pass every watcher's filter.
func marker(t *testing.T, s store.Store, obj objects.Object, ws ...store.Watcher) {
	t.Helper()
	create(t, s, obj)
	m := obj.GetObjectMeta()
	for _, w := range ws {
		evs := collect(t, w, 1)
		require.Equal(t, obj.GetTypeMeta().Kind+" "+m.Key().String(), evs[0].Kind()+" "+evs[0].Key().String(),
			"expected only the marker next; seen:%s", describe(evs))
	}
}

type eventSummary struct {
	Type store.EventType
	Kind string
	Key  string
}

func summarize(evs []store.Event) []eventSummary {
	out := make([]eventSummary, len(evs))
	for i, ev := range evs {
		out[i] = eventSummary{ev.Type, ev.Kind(), ev.Key().String()}
	}
	return out
}
