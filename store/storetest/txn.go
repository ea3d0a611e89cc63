package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func testRevision(t *testing.T, e *env) {
	s := e.open()
	r0 := s.Revision()
	var viewRev int64
	require.NoError(t, s.View(ctx(t), func(tx store.ReadTx) error { viewRev = tx.Revision(); return nil }))
	require.Equal(t, r0, viewRev)

	for i := 1; i <= 5; i++ {
		create(t, s, newWidget("default", fmt.Sprint("w", i), nil, "red"))
		require.Equal(t, r0+int64(i), s.Revision(), "one revision per committed transaction")
	}
	// Reads only, failures and no-op writes commit nothing.
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		_, err := tx.List(kindWidget, store.ListOptions{})
		return err
	}))
	require.Error(t, tryCreate(t, s, newWidget("default", "w1", nil, "red")))
	w := get[*widget](t, s, kindWidget, key("default", "w1"))
	require.NoError(t, update(t, s, w))
	require.Equal(t, r0+5, s.Revision())

	// Inside Update, Revision is the revision the transaction commits at.
	var inTx int64
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		inTx = tx.Revision()
		return tx.Create(newWidget("default", "w6", nil, "red"))
	}))
	require.Equal(t, s.Revision(), inTx)
}

func testTransaction(t *testing.T, e *env) {
	s := e.open()
	old := newWidget("default", "old", nil, "red")
	create(t, s, old)
	ww := watch(t, s, store.WatchOptions{})
	before := s.Revision()

	a, b := newWidget("default", "a", nil, "red"), newWidget("default", "b", nil, "red")
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c"}}
	require.NoError(t, s.Update(ctx(t), func(tx store.Tx) error {
		for _, o := range []objects.Object{a, b, cm} {
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		// Reads see the transaction's own writes.
		got, err := tx.Get(kindWidget, key("default", "a"))
		if err != nil {
			return err
		}
		if got.GetObjectMeta().UID != a.UID {
			return errors.New("Get inside the transaction did not return its own write")
		}
		if l, err := tx.List(kindWidget, store.ListOptions{}); err != nil || len(l) != 3 {
			return fmt.Errorf("List inside the transaction: %d objects, %v", len(l), err)
		}
		// ... through the label and field indexes too, as they change.
		a.Labels = map[string]string{"app": "x"}
		if err := tx.Update(a); err != nil {
			return err
		}
		for _, step := range []struct {
			label, color string
			want         int
		}{{"x", "red", 1}, {"y", "", 0}} {
			l, err := tx.List(kindWidget, store.ListOptions{Labels: objects.SelectorFromSet(map[string]string{"app": step.label})})
			if err != nil || len(l) != step.want {
				return fmt.Errorf("List app=%s inside the transaction: %d objects, %v", step.label, len(l), err)
			}
		}
		a.Labels = map[string]string{"app": "y"}
		a.Spec.Color = "blue"
		if err := tx.Update(a); err != nil {
			return err
		}
		for sel, want := range map[string]int{"app=x": 0, "app=y": 1} {
			l, err := tx.List(kindWidget, store.ListOptions{Labels: selectorOrPanic(sel)})
			if err != nil || len(l) != want {
				return fmt.Errorf("List %s inside the transaction after relabelling: %d objects, %v", sel, len(l), err)
			}
		}
		if l, err := tx.List(kindWidget, store.ListOptions{Fields: map[string]string{fieldColor: "blue"}}); err != nil || len(l) != 1 {
			return fmt.Errorf("List by color inside the transaction: %d objects, %v", len(l), err)
		}
		o := get[*widget](t, s, kindWidget, key("default", "old")) // a View sees the last commit only
		o.Spec.Size = 1
		if err := tx.Update(o); err != nil {
			return err
		}
		_, err = tx.Delete(kindWidget, key("default", "b"), store.DeleteOptions{})
		return err
	}))
	rev := s.Revision()
	require.Equal(t, before+1, rev)
	rv := strconv.FormatInt(rev, 10)
	for _, o := range []objects.Object{a, cm} {
		require.Equal(t, rv, o.GetObjectMeta().ResourceVersion, "every object of a commit gets its revision")
	}
	require.Equal(t, rv, get[*widget](t, s, kindWidget, key("default", "old")).ResourceVersion)

	require.Equal(t, []string{"default/a"}, keys(list(t, s, kindWidget, store.ListOptions{Labels: selector(t, "app=y")})))
	require.Empty(t, list(t, s, kindWidget, store.ListOptions{Labels: selector(t, "app=x")}))

	evs := collect(t, ww, 7)
	require.Equal(t, []eventSummary{
		{store.Added, kindWidget, "default/a"},
		{store.Added, kindWidget, "default/b"},
		{store.Added, kindConfigMap, "default/c"},
		{store.Modified, kindWidget, "default/a"},
		{store.Modified, kindWidget, "default/a"},
		{store.Modified, kindWidget, "default/old"},
		{store.Deleted, kindWidget, "default/b"},
	}, summarize(evs), "events of a transaction, in the order of its writes")
	for i, ev := range evs {
		require.Equal(t, rev, ev.Revision, "one revision for a transaction's events")
		require.Equal(t, i < len(evs)-1, ev.More(), "event %d: More tells whether the transaction's events go on", i)
	}
	// A watch resumed from before the transaction sees the same.
	resumed := watch(t, s, store.WatchOptions{Revision: before})
	for i, ev := range collect(t, resumed, 7) {
		require.Equal(t, i < 6, ev.More(), "replayed event %d", i)
	}
	// So does a filtered watch, of the events it sees.
	filtered := watch(t, s, store.WatchOptions{Revision: before, Kind: kindWidget, ListOptions: store.ListOptions{Labels: selector(t, "app=y")}})
	evs = collect(t, filtered, 1)
	require.False(t, evs[0].More())
}

func selectorOrPanic(s string) objects.Selector {
	sel, err := objects.ParseSelector(s)
	if err != nil {
		panic(err)
	}
	return sel
}

func testTransactionAbort(t *testing.T, e *env) {
	s := e.open()
	create(t, s, newWidget("default", "keep", nil, "red"))
	ww := watch(t, s, store.WatchOptions{})
	before := s.Revision()
	boom := errors.New("boom")

	err := s.Update(ctx(t), func(tx store.Tx) error {
		if err := tx.Create(newWidget("default", "a", nil, "red")); err != nil {
			return err
		}
		k := get[*widget](t, s, kindWidget, key("default", "keep"))
		k.Spec.Color = "blue"
		if err := tx.Update(k); err != nil {
			return err
		}
		if _, err := tx.Delete(kindWidget, key("default", "keep"), store.DeleteOptions{}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom, "Update returns fn's error")

	// A store error inside fn, returned by it, aborts the same way.
	err = s.Update(ctx(t), func(tx store.Tx) error {
		if err := tx.Create(newWidget("default", "b", nil, "red")); err != nil {
			return err
		}
		return tx.Create(newWidget("default", "keep", nil, "red"))
	})
	require.ErrorIs(t, err, store.ErrAlreadyExists)

	// A panic in fn leaves the store usable and unchanged.
	func() {
		defer func() { require.Equal(t, "boom", recover()) }()
		_ = s.Update(ctx(t), func(tx store.Tx) error {
			if err := tx.Create(newWidget("default", "c", nil, "red")); err != nil {
				return err
			}
			panic("boom")
		})
	}()

	require.Equal(t, before, s.Revision())
	require.Equal(t, []string{"default/keep"}, keys(list(t, s, kindWidget, store.ListOptions{})))
	require.Equal(t, "red", get[*widget](t, s, kindWidget, key("default", "keep")).Spec.Color)
	marker(t, s, newWidget("default", "marker", nil, "red"), ww)
}

// testConcurrentUpdates: 50 goroutines make 1,000 read-modify-write attempts
// on one object. Each attempt commits or fails with a conflict; the object
// counts exactly the commits; a watcher sees one revision per commit.
func testConcurrentUpdates(t *testing.T, e *env) {
	const (
		workers  = 50
		attempts = 1000
	)
	s := e.open()
	create(t, s, newWidget("default", "counter", nil, "red"))
	start := s.Revision()
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget, Buffer: attempts + 10})

	var (
		tries, commits, conflicts atomic.Int64
		mu                        sync.Mutex
		unexpected                []error
		wg                        sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tries.Add(1) <= attempts {
				var w *widget
				err := s.View(ctx(t), func(tx store.ReadTx) error {
					o, err := tx.Get(kindWidget, key("default", "counter"))
					if err == nil {
						w = o.(*widget)
					}
					return err
				})
				if err == nil {
					w.Spec.Size++
					err = s.Update(ctx(t), func(tx store.Tx) error { return tx.Update(w) })
				}
				switch {
				case err == nil:
					commits.Add(1)
				case errors.Is(err, store.ErrConflict):
					conflicts.Add(1)
				default:
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, unexpected, "every attempt commits or conflicts")
	n := commits.Load()
	require.Equal(t, int64(attempts), n+conflicts.Load())
	require.Positive(t, n)
	t.Logf("%d commits, %d conflicts", n, conflicts.Load())

	final := get[*widget](t, s, kindWidget, key("default", "counter"))
	require.Equal(t, int(n), final.Spec.Size, "the object counts exactly the commits: no lost update")
	require.Equal(t, start+n, s.Revision(), "one revision per commit")

	evs := collect(t, ww, int(n))
	for i, ev := range evs {
		require.Equal(t, store.Modified, ev.Type)
		require.Equal(t, start+int64(i)+1, ev.Revision, "revisions seen: consecutive, one per commit")
		require.Equal(t, i+1, ev.Peek().(*widget).Spec.Size, "each commit built on the one before")
	}
	marker(t, s, newWidget("default", "marker", nil, "red"), ww)
}

// testConcurrentAborts runs transactions at once, some of which fail or
// panic after writing (and after a List has read their writes back): a
// backend that commits concurrent transactions together must leave no
// trace of the failed ones, and give each one that succeeds its own
// revision and event.
func testConcurrentAborts(t *testing.T, e *env) {
	const (
		workers = 20
		each    = 30
	)
	s := e.open()
	start := s.Revision()
	ww := watch(t, s, store.WatchOptions{Kind: kindWidget, Buffer: workers*each + 10})
	boom := errors.New("boom")

	// outcome of transaction i: it commits, returns an error or panics.
	outcome := func(i int) string {
		switch {
		case i%5 == 1:
			return "error"
		case i%7 == 2:
			return "panic"
		}
		return "commit"
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		unexpected []string
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				i := w*each + j
				name := fmt.Sprintf("w%03d", i)
				err, val := func() (err error, val any) {
					defer func() { val = recover() }()
					return s.Update(ctx(t), func(tx store.Tx) error {
						if err := tx.Create(newWidget("default", name, map[string]string{"app": "x"}, "red")); err != nil {
							return err
						}
						l, err := tx.List(kindWidget, store.ListOptions{Labels: selectorOrPanic("app=x"), Fields: map[string]string{fieldColor: "red"}})
						if err != nil {
							return err
						}
						if !slices.ContainsFunc(l, func(o objects.Object) bool { return o.GetObjectMeta().Name == name }) {
							return fmt.Errorf("%s: List inside the transaction misses its own write", name)
						}
						switch outcome(i) {
						case "error":
							return boom
						case "panic":
							panic(name)
						}
						return nil
					}), nil
				}()
				var bad string
				switch outcome(i) {
				case "error":
					if !errors.Is(err, boom) {
						bad = fmt.Sprintf("%s: got %v, want boom", name, err)
					}
				case "panic":
					if val != name {
						bad = fmt.Sprintf("%s: panic %v raised in the caller, want %s", name, val, name)
					}
				default:
					if err != nil || val != nil {
						bad = fmt.Sprintf("%s: %v %v", name, err, val)
					}
				}
				if bad != "" {
					mu.Lock()
					unexpected = append(unexpected, bad)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, unexpected)

	var want []string
	for i := range workers * each {
		if outcome(i) == "commit" {
			want = append(want, fmt.Sprintf("default/w%03d", i))
		}
	}
	require.Equal(t, want, keys(list(t, s, kindWidget, store.ListOptions{})))
	require.Equal(t, want, keys(list(t, s, kindWidget, store.ListOptions{Labels: selector(t, "app=x")})), "label rows hold the commits only")
	require.Equal(t, want, keys(list(t, s, kindWidget, store.ListOptions{Fields: map[string]string{fieldColor: "red"}})), "field rows hold the commits only")
	require.Equal(t, start+int64(len(want)), s.Revision(), "one revision per commit")

	evs := collect(t, ww, len(want))
	seen := map[string]bool{}
	for i, ev := range evs {
		require.Equal(t, store.Added, ev.Type)
		require.Equal(t, start+int64(i)+1, ev.Revision, "revisions seen: consecutive, one per commit")
		obj := ev.Peek()
		require.Equal(t, strconv.FormatInt(ev.Revision, 10), obj.GetObjectMeta().ResourceVersion)
		seen[obj.GetObjectMeta().Name] = true
	}
	require.Len(t, seen, len(want))
	marker(t, s, newWidget("default", "marker", nil, "red"), ww)
}
