package informer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 10 * time.Second

func newPod(ns, name string, labels map[string]string, owner string) *objects.Pod {
	p := &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}}},
	}
	if owner != "" {
		p.OwnerReferences = []objects.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: owner}}
	}
	return p
}

func create(t *testing.T, s store.Store, objs ...objects.Object) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	}))
}

// recorder collects handler calls.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) handle(old, new objects.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case old == nil:
		r.got = append(r.got, "add "+new.GetObjectMeta().Name)
	case new == nil:
		r.got = append(r.got, "delete "+old.GetObjectMeta().Name)
	default:
		r.got = append(r.got, "update "+new.GetObjectMeta().Name)
	}
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// waitSeen waits until the handler has been told of n changes at least:
// an informer calls its handlers after its cache holds the changes, so a
// caller that saw the cache change may still have to wait for them.
func (r *recorder) waitSeen(t *testing.T, n int) []string {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.seen()) >= n }, wait, time.Millisecond, "handler calls: %v", r.seen())
	return r.seen()
}

func run(t *testing.T, inf *Informer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(context.Background(), wait)
	defer wcancel()
	require.NoError(t, inf.WaitForSync(wctx))
	return func() error {
		cancel()
		return <-done
	}
}

func TestListThenWatch(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	defer s.Close()
	create(t, s, newPod("a", "p1", map[string]string{"app": "web"}, "u1"), newPod("b", "p2", nil, ""))

	inf := New(s, "Pod", Options{})
	var r recorder
	inf.AddHandler(r.handle)
	stop := run(t, inf)
	require.ElementsMatch(t, []string{"add p1", "add p2"}, r.waitSeen(t, 2))

	p3 := newPod("a", "p3", map[string]string{"app": "web"}, "u1")
	create(t, s, p3)
	rev := mustRev(t, p3)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, inf.WaitFor(ctx, func(v Locked) bool { return v.Observed(p3.Key(), rev, false) }))

	sel, err := objects.ParseSelector("app=web")
	require.NoError(t, err)
	got, err := inf.List(store.ListOptions{Namespace: "a", Labels: sel}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"p1", "p3"}, names(got))
	got, err = inf.List(store.ListOptions{Fields: map[string]string{store.IndexOwner: "u1"}}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"p1", "p3"}, names(got))
	got, err = inf.List(store.ListOptions{Fields: map[string]string{store.IndexNodeName: ""}}, func(o objects.Object) bool {
		return o.GetObjectMeta().Namespace == "b"
	})
	require.NoError(t, err)
	require.Equal(t, []string{"p2"}, names(got))
	_, err = inf.List(store.ListOptions{Fields: map[string]string{"spec.color": "x"}}, nil)
	require.ErrorIs(t, err, store.ErrUnknownIndex)

	var last objects.Object
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		var err error
		last, err = tx.Delete("Pod", objects.Key{Namespace: "a", Name: "p1"}, store.DeleteOptions{})
		return err
	}))
	rev = mustRev(t, last)
	require.NoError(t, inf.WaitFor(ctx, func(v Locked) bool { return v.Observed(last.GetObjectMeta().Key(), rev, true) }))
	_, ok := inf.Get(objects.Key{Namespace: "a", Name: "p1"})
	require.False(t, ok)
	got, err = inf.List(store.ListOptions{Fields: map[string]string{store.IndexOwner: "u1"}}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"p3"}, names(got))
	require.NoError(t, stop())
	require.Equal(t, []string{"add p3", "delete p1"}, r.seen()[2:])
}

// The cache keeps the store's own objects, from the list as from the
// watch: a relist copies nothing.
func TestCacheKeepsStoredObjects(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	defer s.Close()
	create(t, s, newPod("a", "listed", nil, ""))
	inf := New(s, "Pod", Options{})
	stop := run(t, inf)
	defer stop()
	watched := newPod("a", "watched", nil, "")
	create(t, s, watched)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, inf.WaitFor(ctx, func(v Locked) bool { return v.Observed(watched.Key(), mustRev(t, watched), false) }))
	for _, name := range []string{"listed", "watched"} {
		key := objects.Key{Namespace: "a", Name: name}
		var stored objects.Object
		require.NoError(t, s.View(ctx, func(tx store.ReadTx) error {
			stored, err = tx.(store.Peeker).Peek("Pod", key)
			return err
		}))
		cached, ok := inf.Get(key)
		require.True(t, ok, name)
		require.Same(t, stored, cached, name)
	}
}

// A commit that writes several objects is observed only when all are.
func TestObservedWholeCommit(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	defer s.Close()
	create(t, s, newPod("a", "seed", nil, ""))
	inf := New(s, "Pod", Options{})
	stop := run(t, inf)
	defer stop()
	pods := []objects.Object{newPod("a", "x1", nil, ""), newPod("a", "x2", nil, ""), newPod("a", "x3", nil, "")}
	create(t, s, pods...)
	rev := mustRev(t, pods[2])
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, inf.WaitFor(ctx, func(v Locked) bool {
		for _, p := range pods {
			if !v.Observed(p.GetObjectMeta().Key(), rev, false) {
				return false
			}
		}
		return true
	}))
	require.Equal(t, 4, inf.Len())
}

// A watcher that falls behind lists again and reports what it missed.
func TestRelistAfterFallingBehind(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	defer s.Close()
	create(t, s, newPod("a", "keep", nil, ""), newPod("a", "gone", nil, ""))
	inf := New(s, "Pod", Options{WatchBuffer: 1})
	block := make(chan struct{})
	var r recorder
	first := true
	inf.AddHandler(func(old, new objects.Object) {
		if old == nil && new.GetObjectMeta().Name == "n0" && first {
			first = false
			<-block // hold the informer so that its watch queue fills
		}
		r.handle(old, new)
	})
	stop := run(t, inf)
	defer stop()
	create(t, s, newPod("a", "n0", nil, ""))
	for i := 1; i < 20; i++ {
		create(t, s, newPod("a", fmt.Sprintf("n%d", i), nil, ""))
	}
	var last objects.Object
	require.NoError(t, s.Update(context.Background(), func(tx store.Tx) error {
		last, err = tx.Delete("Pod", objects.Key{Namespace: "a", Name: "gone"}, store.DeleteOptions{})
		return err
	}))
	close(block)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, inf.WaitFor(ctx, func(v Locked) bool { return v.Revision() >= mustRev(t, last) }))
	require.Equal(t, 21, inf.Len())
	// The two listed, the twenty created, the one deleted; the ones
	// missed while the watch was full among them, from the relist.
	seen := r.waitSeen(t, 23)
	require.Contains(t, seen, "delete gone")
	require.Contains(t, seen, "add n19")
}

func TestStoreClosed(t *testing.T) {
	s, err := memdb.New()
	require.NoError(t, err)
	inf := New(s, "Pod", Options{})
	done := make(chan error, 1)
	go func() { done <- inf.Run(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, inf.WaitForSync(ctx))
	require.NoError(t, s.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, store.ErrClosed)
	case <-ctx.Done():
		t.Fatal("informer did not stop when the store closed")
	}
}

func mustRev(t *testing.T, obj objects.Object) int64 {
	t.Helper()
	var rev int64
	_, err := fmt.Sscan(obj.GetObjectMeta().ResourceVersion, &rev)
	require.NoError(t, err)
	return rev
}

func names(objs []objects.Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.GetObjectMeta().Name
	}
	return out
}
