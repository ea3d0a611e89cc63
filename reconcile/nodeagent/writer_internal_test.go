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
