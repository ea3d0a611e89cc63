package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func testWatchOrder(t *testing.T, e *env) {
	s := e.open()
	create(t, s, newWidget("default", "before", nil, "red"))
	ww := watch(t, s, store.WatchOptions{}) // from now: "before" is not seen

	const n = 200
	for i := range n {
		w := newWidget("default", fmt.Sprint("w", i%20), nil, "red")
		switch {
		case i < 20:
			create(t, s, w)
		case i < 180:
			w.Spec.Size = i
			require.NoError(t, update(t, s, w))
		default:
			_, err := del(t, s, kindWidget, key("default", w.Name), store.DeleteOptions{})
			require.NoError(t, err)
		}
	}
	evs := collect(t, ww, n)
	for i, ev := range evs {
		if i > 0 {
			require.Greater(t, ev.Revision, evs[i-1].Revision, "revision order; seen:%s", describe(evs[:i+1]))
		}
		want := store.Added
		switch {
		case i >= 180:
			want = store.Deleted
		case i >= 20:
			want = store.Modified
			require.Equal(t, i, ev.Peek().(*widget).Spec.Size)
		}
		require.Equal(t, want, ev.Type, "event %d", i)
		require.Equal(t, fmt.Sprint("w", i%20), ev.Key().Name)
		require.Equal(t, strconv.FormatInt(ev.Revision, 10), ev.Peek().GetObjectMeta().ResourceVersion)
	}
	marker(t, s, newWidget("default", "marker", nil, "red"), ww)
}

func testWatchFilters(t *testing.T, e *env) {
	s := e.open()
	all := watch(t, s, store.WatchOptions{})
	widgets := watch(t, s, store.WatchOptions{Kind: kindWidget})
	inA := watch(t, s, store.WatchOptions{Kind: kindWidget, ListOptions: store.ListOptions{Namespace: "a"}})
	web := watch(t, s, store.WatchOptions{Kind: kindWidget, ListOptions: store.ListOptions{Labels: selector(t, "app=web")}})
	anyA := watch(t, s, store.WatchOptions{ListOptions: store.ListOptions{Namespace: "a"}})
	racks := watch(t, s, store.WatchOptions{Kind: kindRack, ListOptions: store.ListOptions{Namespace: "a"}})

	w1 := newWidget("a", "w1", map[string]string{"app": "web"}, "red")
	w2 := newWidget("b", "w2", map[string]string{"app": "db"}, "red")
	n1 := &note{ObjectMeta: objects.ObjectMeta{Namespace: "a", Name: "n1"}}
	create(t, s, w1)                                                       // 1
	create(t, s, w2)                                                       // 2
	create(t, s, n1)                                                       // 3
	create(t, s, &rack{ObjectMeta: objects.ObjectMeta{Name: "r1"}})        // 4
	w1.Labels["app"] = "db"                                                //
	require.NoError(t, update(t, s, w1))                                   // 5: w1 leaves app=web
	w2.Labels["app"] = "web"                                               //
	require.NoError(t, update(t, s, w2))                                   // 6: w2 enters app=web
	w2.Spec.Size = 1                                                       //
	require.NoError(t, update(t, s, w2))                                   // 7
	_, err := del(t, s, kindWidget, key("b", "w2"), store.DeleteOptions{}) // 8
	require.NoError(t, err)                                                //
	_, err = del(t, s, kindWidget, key("a", "w1"), store.DeleteOptions{})  // 9
	require.NoError(t, err)                                                //

	ev := func(typ store.EventType, kind, key string) eventSummary { return eventSummary{typ, kind, key} }
	require.Equal(t, []eventSummary{
		ev(store.Added, kindWidget, "a/w1"), ev(store.Added, kindWidget, "b/w2"), ev(store.Added, kindNote, "a/n1"),
		ev(store.Added, kindRack, "r1"), ev(store.Modified, kindWidget, "a/w1"), ev(store.Modified, kindWidget, "b/w2"),
		ev(store.Modified, kindWidget, "b/w2"), ev(store.Deleted, kindWidget, "b/w2"), ev(store.Deleted, kindWidget, "a/w1"),
	}, summarize(collect(t, all, 9)), "every kind")
	require.Equal(t, []eventSummary{
		ev(store.Added, kindWidget, "a/w1"), ev(store.Added, kindWidget, "b/w2"), ev(store.Modified, kindWidget, "a/w1"),
		ev(store.Modified, kindWidget, "b/w2"), ev(store.Modified, kindWidget, "b/w2"), ev(store.Deleted, kindWidget, "b/w2"),
		ev(store.Deleted, kindWidget, "a/w1"),
	}, summarize(collect(t, widgets, 7)), "one kind")
	require.Equal(t, []eventSummary{
		ev(store.Added, kindWidget, "a/w1"), ev(store.Modified, kindWidget, "a/w1"), ev(store.Deleted, kindWidget, "a/w1"),
	}, summarize(collect(t, inA, 3)), "one namespace")
	webEvs := collect(t, web, 5)
	require.Equal(t, []eventSummary{
		ev(store.Added, kindWidget, "a/w1"),
		ev(store.Deleted, kindWidget, "a/w1"), // left the selector
		ev(store.Added, kindWidget, "b/w2"),   // entered it
		ev(store.Modified, kindWidget, "b/w2"),
		ev(store.Deleted, kindWidget, "b/w2"),
	}, summarize(webEvs), "label selector: entering is Added, leaving is Deleted")
	left := webEvs[1].Peek().GetObjectMeta()
	require.Equal(t, "web", left.Labels["app"], "leaving is Deleted with the state the watcher last matched, as Kubernetes' watch cache sends it")
	require.Equal(t, strconv.FormatInt(webEvs[1].Revision, 10), left.ResourceVersion, "at the change's resourceVersion")
	require.Equal(t, "web", webEvs[2].Peek().GetObjectMeta().Labels["app"], "entering is Added with the new state")
	require.Equal(t, []eventSummary{
		ev(store.Added, kindWidget, "a/w1"), ev(store.Added, kindNote, "a/n1"), ev(store.Modified, kindWidget, "a/w1"),
		ev(store.Deleted, kindWidget, "a/w1"),
	}, summarize(collect(t, anyA, 4)), "one namespace, every kind")
	require.Equal(t, []eventSummary{ev(store.Added, kindRack, "r1")}, summarize(collect(t, racks, 1)),
		"the namespace of a watch of a cluster-scoped kind is ignored")

	marker(t, s, newWidget("a", "marker", map[string]string{"app": "web"}, "red"), inA, anyA, web, widgets, all)
	marker(t, s, &rack{ObjectMeta: objects.ObjectMeta{Name: "marker"}}, racks)
}

// testWatchFieldFilter: a node agent's watch of the pods of its node sees a
// pod bound to it as Added.
func testWatchFieldFilter(t *testing.T, e *env) {
	s := e.open()
	onNode := func(node string) store.Watcher {
		return watch(t, s, store.WatchOptions{Kind: kindPod, ListOptions: store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}}})
	}
	node1, node2, unbound := onNode("n1"), onNode("n2"), onNode("")
	node1b := onNode("n1") // two watchers of one value
	p := newPod("default", "p1", "")
	create(t, s, p)
	create(t, s, newPod("default", "p2", "n2"))
	p.Spec.NodeName = "n1"
	require.NoError(t, update(t, s, p))
	p.Status.Phase = objects.PodRunning
	require.NoError(t, updateStatus(t, s, p))
	p.Spec.NodeName = "n2" // moves: leaves n1's watchers, enters n2's
	require.NoError(t, update(t, s, p))
	_, err := del(t, s, kindPod, key("default", "p1"), store.DeleteOptions{})
	require.NoError(t, err)

	ev := func(typ store.EventType, name string) eventSummary {
		return eventSummary{typ, kindPod, "default/" + name}
	}
	for _, w := range []store.Watcher{node1, node1b} {
		require.Equal(t, []eventSummary{ev(store.Added, "p1"), ev(store.Modified, "p1"), ev(store.Deleted, "p1")},
			summarize(collect(t, w, 3)), "bound to n1 is Added, moved away is Deleted")
	}
	require.Equal(t, []eventSummary{ev(store.Added, "p2"), ev(store.Added, "p1"), ev(store.Deleted, "p1")},
		summarize(collect(t, node2, 3)))
	require.Equal(t, []eventSummary{ev(store.Added, "p1"), ev(store.Deleted, "p1")},
		summarize(collect(t, unbound, 2)), "the scheduler's view: created unbound, then bound")
	marker(t, s, newPod("default", "marker", "n1"), node1, node1b)
	marker(t, s, newPod("default", "marker2", "n2"), node2)
	marker(t, s, newPod("default", "marker3", ""), unbound)

	// Several fields: all must match.
	owner := newWidget("default", "owner", nil, "red")
	create(t, s, owner)
	both := watch(t, s, store.WatchOptions{Kind: kindPod, ListOptions: store.ListOptions{Fields: map[string]string{
		store.IndexNodeName: "n3", store.IndexOwner: owner.UID}}})
	plain := newPod("default", "plain", "n3")
	owned := newPod("default", "owned", "n3")
	owned.OwnerReferences = []objects.OwnerReference{{APIVersion: groupVersion, Kind: kindWidget, Name: "owner", UID: owner.UID}}
	create(t, s, plain, owned)
	require.Equal(t, []eventSummary{ev(store.Added, "owned")}, summarize(collect(t, both, 1)))
	m := newPod("default", "marker4", "n3")
	m.OwnerReferences = owned.OwnerReferences
	marker(t, s, m, both)

	_, err = s.Watch(ctx(t), store.WatchOptions{Kind: kindPod, ListOptions: store.ListOptions{Fields: map[string]string{"spec.unindexed": "x"}}})
	require.ErrorIs(t, err, store.ErrUnknownIndex)
	_, err = s.Watch(ctx(t), store.WatchOptions{ListOptions: store.ListOptions{Fields: map[string]string{store.IndexNodeName: "n1"}}})
	require.ErrorIs(t, err, store.ErrUnknownIndex, "a watch of every kind can filter only on fields indexed for every kind")
	ownedAnyKind := watch(t, s, store.WatchOptions{ListOptions: store.ListOptions{Fields: map[string]string{store.IndexOwner: owner.UID}}})
	n := &note{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n1", OwnerReferences: owned.OwnerReferences}}
	marker(t, s, n, ownedAnyKind)
}

func testWatchEvent(t *testing.T, e *env) {
	s := e.open()
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget})
	w := newWidget("default", "w1", map[string]string{"app": "web"}, "red")
	create(t, s, w)
	ev := collect(t, ww, 1)[0]
	require.Equal(t, kindWidget, ev.Kind())
	require.Equal(t, key("default", "w1"), ev.Key())
	require.Equal(t, w, ev.Object(), "the event holds the object as stored")

	o := ev.Object()
	o.GetObjectMeta().Labels["app"] = "changed"
	require.Equal(t, "web", ev.Peek().GetObjectMeta().Labels["app"], "Object returns a copy")
	require.Equal(t, "web", ev.Object().GetObjectMeta().Labels["app"])
	require.Equal(t, "web", get[*widget](t, s, kindWidget, key("default", "w1")).Labels["app"])
}

func testWatchResume(t *testing.T, e *env) {
	s := e.open()
	for i := range 10 {
		create(t, s, newWidget("default", fmt.Sprint("w", i), nil, "red"))
	}
	base := s.Revision() - 10
	from := base + 3
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget, Revision: from})
	evs := collect(t, ww, 7)
	for i, ev := range evs {
		require.Equal(t, from+int64(i)+1, ev.Revision, "resumed after revision %d; seen:%s", from, describe(evs))
		require.Equal(t, fmt.Sprint("w", i+3), ev.Key().Name)
	}
	create(t, s, newWidget("default", "after", nil, "red"))
	require.Equal(t, "after", collect(t, ww, 1)[0].Key().Name, "a resumed watch goes on live")

	// Resuming at the current revision replays nothing.
	cur := watch(t, s, store.WatchOptions{Kind: kindWidget, Revision: s.Revision()})
	marker(t, s, newWidget("default", "marker", nil, "red"), cur)
}

func testWatchTooOld(t *testing.T, e *env) {
	const history = 5
	s := e.open(func(o *Options) { o.History = history })
	base := s.Revision()
	for i := range 10 * history {
		create(t, s, newWidget("default", fmt.Sprint("w", i), nil, "red"))
	}
	_, err := s.Watch(ctx(t), store.WatchOptions{Revision: base + 1})
	require.ErrorIs(t, err, store.ErrRevisionTooOld)
	require.Contains(t, err.Error(), "list again")

	// The last events are still there.
	ww := watch(t, s, store.WatchOptions{Revision: s.Revision() - 2})
	evs := collect(t, ww, 2)
	require.Equal(t, s.Revision(), evs[1].Revision)
}

// testListEmptyThenWatch: a list of a store nothing was ever written to,
// then a commit, then a watch from the list's revision: the watch delivers
// the commit. (A revision of 0 would mean "from now" and lose it.)
func testListEmptyThenWatch(t *testing.T, e *env) {
	s := e.open()
	var rev int64
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		rev = tx.Revision()
		objs, err := tx.List(kindWidget, store.ListOptions{})
		require.Empty(t, objs)
		return err
	}))
	require.Positive(t, rev, "an empty store's snapshot has a positive revision")
	create(t, s, newWidget("default", "between", nil, "red"))
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget, Revision: rev})
	require.Equal(t, "between", collect(t, ww, 1)[0].Key().Name, "the commit after the list is delivered")
}

// testListThenWatch: a list at revision R and a watch from R together see
// every commit exactly once, while writers keep committing.
func testListThenWatch(t *testing.T, e *env) {
	s := e.open()
	const (
		writers = 4
		ops     = 150
		objs    = 10
	)
	base := s.Revision()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var writeErrs []error
	listed := make(chan struct{})
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range ops {
				if i == ops/3 && g == 0 {
					<-listed // let the list land in the middle of the writes
				}
				name := fmt.Sprintf("g%d-%d", g, r.IntN(objs))
				err := s.Update(ctx(t), func(tx store.Tx) error {
					cur, err := tx.Get(kindWidget, key("default", name))
					switch {
					case errors.Is(err, store.ErrNotFound):
						return tx.Create(newWidget("default", name, map[string]string{"g": fmt.Sprint(g)}, "red"))
					case err != nil:
						return err
					case r.IntN(4) == 0:
						_, err := tx.Delete(kindWidget, key("default", name), store.DeleteOptions{})
						return err
					}
					w := cur.(*widget)
					w.Spec.Size++
					w.Spec.Color = []string{"red", "blue"}[w.Spec.Size%2]
					return tx.Update(w)
				})
				if err != nil {
					mu.Lock()
					writeErrs = append(writeErrs, err)
					mu.Unlock()
				}
			}
		}()
	}

	// List at R, then watch from R.
	// Readers of the indexes run beside the writers (for -race).
	stopReaders := make(chan struct{})
	var readers sync.WaitGroup
	for g := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stopReaders:
					return
				default:
				}
				err := s.View(ctx(t), func(tx store.ReadTx) error {
					l, err := tx.List(kindWidget, store.ListOptions{Labels: objects.SelectorFromSet(map[string]string{"g": fmt.Sprint(g)}), Fields: map[string]string{fieldColor: "blue"}})
					for _, o := range l {
						if o.(*widget).Spec.Color != "blue" || o.GetObjectMeta().Labels["g"] != fmt.Sprint(g) {
							return fmt.Errorf("List returned %s, which does not match", o.GetObjectMeta().Key())
						}
					}
					return err
				})
				if err != nil {
					mu.Lock()
					writeErrs = append(writeErrs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	defer func() {
		close(stopReaders)
		readers.Wait()
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, writeErrs)
	}()
	require.Eventually(t, func() bool { return s.Revision() >= base+writers*ops/10 }, timeout, time.Millisecond,
		"writers made no progress")
	state := map[string]string{} // key → resourceVersion
	var rev int64
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error {
		rev = tx.Revision()
		l, err := tx.List(kindWidget, store.ListOptions{})
		for _, o := range l {
			state[o.GetObjectMeta().Key().String()] = o.GetObjectMeta().ResourceVersion
		}
		return err
	}))
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget, Revision: rev, Buffer: writers*ops + 10})
	close(listed)
	wg.Wait()
	mu.Lock()
	require.Empty(t, writeErrs)
	mu.Unlock()

	final := s.Revision()
	seenRevs := map[int64]bool{}
	var evs []store.Event
	for len(evs) == 0 || evs[len(evs)-1].Revision < final {
		ev := collect(t, ww, 1)[0]
		evs = append(evs, ev)
		require.Greater(t, ev.Revision, rev, "an event at or before the list's revision; seen:%s", describe(evs))
		seenRevs[ev.Revision] = true
		k := ev.Key().String()
		switch ev.Type {
		case store.Added:
			require.NotContains(t, state, k, "Added twice: %s", k)
			state[k] = ev.Peek().GetObjectMeta().ResourceVersion
		case store.Modified:
			require.Contains(t, state, k, "Modified before Added: %s", k)
			state[k] = ev.Peek().GetObjectMeta().ResourceVersion
		case store.Deleted:
			require.Contains(t, state, k, "Deleted unknown: %s", k)
			delete(state, k)
		}
	}
	require.Len(t, seenRevs, int(final-rev), "every commit after the list's revision seen once (each commit wrote one widget)")

	want := map[string]string{}
	for _, o := range list(t, s, kindWidget, store.ListOptions{}) {
		want[o.GetObjectMeta().Key().String()] = o.GetObjectMeta().ResourceVersion
	}
	require.Equal(t, want, state, "list + watch rebuilds exactly the store's state")
}

func testWatchFellBehind(t *testing.T, e *env) {
	s := e.open()
	slow := watch(t, s, store.WatchOptions{Kind: kindWidget, Buffer: 4})
	fast := watch(t, s, store.WatchOptions{Kind: kindWidget, Buffer: 1000})

	// Writers never wait for the slow watcher: bound the writes in time.
	c, cancel := context.WithTimeout(ctx(t), timeout)
	defer cancel()
	const n = 100
	for i := range n {
		require.NoError(t, c.Err(), "writes stalled after %d", i)
		require.NoError(t, s.Update(c, func(tx store.Tx) error {
			return tx.Create(newWidget("default", fmt.Sprint("w", i), nil, "red"))
		}))
	}
	got := waitClosed(t, slow)
	require.ErrorIs(t, slow.Err(), store.ErrFellBehind)
	require.LessOrEqual(t, len(got), 4, "a full queue ends the watcher")
	for i, ev := range got {
		require.Equal(t, fmt.Sprint("w", i), ev.Key().Name, "what was queued is delivered in order")
	}

	require.Len(t, collect(t, fast, n), n, "other watchers are not affected")
	require.NoError(t, fast.Err())
	slow.Stop() // stopping an ended watcher is fine
	require.ErrorIs(t, slow.Err(), store.ErrFellBehind)
}

func testWatchStop(t *testing.T, e *env) {
	s := e.open()
	w1, err := s.Watch(ctx(t), store.WatchOptions{})
	require.NoError(t, err)
	w1.Stop()
	waitClosed(t, w1)
	require.NoError(t, w1.Err())
	w1.Stop()

	c, cancel := context.WithCancel(ctx(t))
	w2, err := s.Watch(c, store.WatchOptions{Kind: kindWidget})
	require.NoError(t, err)
	cancel()
	waitClosed(t, w2)
	require.NoError(t, w2.Err(), "a watch ended by its context has no error")
	w2.Stop()

	// A stopped watcher gets nothing and blocks no writer.
	for i := range 10 {
		create(t, s, newWidget("default", fmt.Sprint("w", i), nil, "red"))
	}
	_, err = s.Watch(c, store.WatchOptions{})
	require.Error(t, err, "a watch on an ended context fails")
}

func testClose(t *testing.T, e *env) {
	s := e.open()
	ww, err := s.Watch(ctx(t), store.WatchOptions{})
	require.NoError(t, err)
	create(t, s, newWidget("default", "w1", nil, "red"))
	require.NoError(t, s.Close())
	got := waitClosed(t, ww)
	require.LessOrEqual(t, len(got), 1)
	require.ErrorIs(t, ww.Err(), store.ErrClosed)

	require.ErrorIs(t, s.View(ctx(t), func(store.ReadTx) error { return nil }), store.ErrClosed)
	require.ErrorIs(t, s.Update(ctx(t), func(store.Tx) error { return nil }), store.ErrClosed)
	_, err = s.Watch(ctx(t), store.WatchOptions{})
	require.ErrorIs(t, err, store.ErrClosed)
	require.NoError(t, s.Close(), "Close twice")
	ww.Stop()
}

func testContext(t *testing.T, e *env) {
	s := e.open()
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	called := false
	err := s.View(c, func(store.ReadTx) error { called = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	err = s.Update(c, func(store.Tx) error { called = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, called)

	// An Update waiting for another one gives up when its context ends.
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx(t), func(tx store.Tx) error {
			close(inside)
			<-release
			return tx.Create(newWidget("default", "w1", nil, "red"))
		})
	}()
	<-inside
	c2, cancel2 := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel2()
	err = s.Update(c2, func(store.Tx) error { return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(release)
	require.NoError(t, <-done)
}
