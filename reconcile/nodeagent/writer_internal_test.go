package nodeagent

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// Status writes of many pods and nodes share transactions.
func TestStatusWritesAreBatched(t *testing.T) {
	s, err := memdb.New(memdb.WithScheme(objects.NewScheme()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g, err := NewGroup(s, WithRootDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var txns, ops, biggest int
	g.writer.commit = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		txns++
		ops += n
		biggest = max(biggest, n)
	}
	for i := range 4 {
		rt, _ := fake.New()
		if err := g.Add(context.Background(), fmt.Sprintf("n%d", i), rt); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	const pods = 400
	err = s.Update(ctx, func(tx store.Tx) error {
		for i := range pods {
			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
				Spec: objects.PodSpec{NodeName: fmt.Sprintf("n%d", i%4), Containers: []objects.Container{{Name: "c", Image: "img:1"}}}}
			s.Scheme().Default(p)
			if err := tx.Create(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := 0
		s.View(ctx, func(tx store.ReadTx) error {
			list, err := tx.List("Pod", store.ListOptions{})
			for _, o := range list {
				if objects.IsPodReady(o.(*objects.Pod)) {
					n++
				}
			}
			return err
		})
		if n == pods {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pods ready", n, pods)
		}
		<-tick.C
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d writes in %d transactions (largest %d)", ops, txns, biggest)
	if biggest < 2 || txns >= ops {
		t.Errorf("%d writes in %d transactions, largest %d: not batched", ops, txns, biggest)
	}
}

// The version of a pod that the agent's own status write made needs no
// sync: a pod without probes that starts at once is synced once. It is
// known as the write's own object where the store keeps that
// (store.StatusAdopter), by comparison where it keeps a copy.
func TestOwnStatusWriteCausesNoSync(t *testing.T) {
	for _, adopting := range []bool{true, false} {
		t.Run(fmt.Sprintf("adopting=%v", adopting), func(t *testing.T) {
			mem, err := memdb.New(memdb.WithScheme(objects.NewScheme()))
			if err != nil {
				t.Fatal(err)
			}
			defer mem.Close()
			var s store.Store = mem
			if !adopting {
				s = copyingStore{mem}
			}
			testOwnStatusWriteCausesNoSync(t, s)
		})
	}
}

// copyingStore hides its transactions' store.StatusAdopter.
type copyingStore struct{ store.Store }

func (s copyingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error {
		return fn(copyingTx{tx, tx.(store.StatusUpdater)})
	})
}

type copyingTx struct {
	store.Tx
	store.StatusUpdater
}

func testOwnStatusWriteCausesNoSync(t *testing.T, s store.Store) {
	rt, _ := fake.New()
	a, err := New(s, "n1", rt, WithRootDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	syncs := 0
	a.syncHook = func(string) {
		mu.Lock()
		defer mu.Unlock()
		syncs++
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// Created at once: a sync before the heartbeat has learnt the
	// runtime's name learns it itself (see TestContainerIDsNameTheRuntime).
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: objects.PodSpec{NodeName: "n1", Containers: []objects.Container{{Name: "c", Image: "img:1"}}}}
	s.Scheme().Default(p)
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Create(p) }); err != nil {
		t.Fatal(err)
	}
	// Ready in the store, and that version handed to the pod's worker.
	for {
		var stored *objects.Pod
		s.View(ctx, func(tx store.ReadTx) error {
			o, err := tx.Get("Pod", p.Key())
			if err == nil {
				stored = o.(*objects.Pod)
			}
			return err
		})
		w := a.worker(p.UID)
		seen := false
		if w != nil && stored != nil && objects.IsPodReady(stored) {
			w.mu.Lock()
			seen = w.pod.ResourceVersion == stored.ResourceVersion && !w.active
			w.mu.Unlock()
		}
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not ready and seen by its worker: %+v", stored)
		}
		<-tick.C
	}
	mu.Lock()
	if syncs != 1 {
		t.Errorf("%d syncs, want 1", syncs)
	}
	mu.Unlock()

	// A later sync that finds nothing new writes nothing: the status the
	// agent wrote is compared with what the store holds.
	podRV := func() string {
		var rv string
		s.View(ctx, func(tx store.ReadTx) error {
			o, err := tx.Get("Pod", p.Key())
			if err == nil {
				rv = o.GetObjectMeta().ResourceVersion
			}
			return err
		})
		return rv
	}
	rv := podRV()
	w := a.worker(p.UID)
	a.enqueue(w)
	for {
		mu.Lock()
		n := syncs
		mu.Unlock()
		w.mu.Lock()
		idle := !w.active
		queued := w.st.sent != nil // read once the sync is done
		w.mu.Unlock()
		if n == 2 && idle {
			if queued {
				t.Error("a sync that found nothing new queued a status")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d syncs, want 2", n)
		}
		<-tick.C
	}
	if got := podRV(); got != rv {
		t.Errorf("a sync that found nothing new wrote the pod: resourceVersion %s, was %s", got, rv)
	}
}
