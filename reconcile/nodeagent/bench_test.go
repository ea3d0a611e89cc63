package nodeagent_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// BenchmarkGroupStartsPods measures pods bound to nodes -> every pod
// Running and Ready, with one Group of agents over fake runtimes, 30 pods
// per node (Kubernetes' 150,000 pods on 5,000 nodes is nodes=5000).
func BenchmarkGroupStartsPods(b *testing.B) {
	sizes := []int{10, 100, 1000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	if os.Getenv("PODKIT_BENCH_5000") != "" {
		sizes = append(sizes, 5000) // 150,000 pods
	}
	for _, nodes := range sizes {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) { benchGroup(b, nodes, 30) })
	}
}

func benchGroup(b *testing.B, nodes, perNode int) {
	for range b.N {
		b.StopTimer()
		s, err := memdb.New(memdb.WithScheme(objects.NewScheme()))
		if err != nil {
			b.Fatal(err)
		}
		g, err := nodeagent.NewGroup(s, nodeagent.WithRootDir(b.TempDir()), nodeagent.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
		if err != nil {
			b.Fatal(err)
		}
		err = s.Update(context.Background(), func(tx store.Tx) error {
			for i := range nodes {
				n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("node-%d", i)}}
				if err := tx.Create(n); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for i := range nodes {
			rt, err := fake.New(fake.WithHistoryLimit(0), fake.WithImages("registry.local/web:1"))
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Add(context.Background(), fmt.Sprintf("node-%d", i), rt); err != nil {
				b.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		total := nodes * perNode
		pods := make([]*objects.Pod, 0, total)
		for i := range total {
			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("web-%06d", i), Namespace: "default"}}
			p.Spec.Containers = []objects.Container{{Name: "app", Image: "registry.local/web:1"}}
			p.Spec.NodeName = fmt.Sprintf("node-%d", i%nodes)
			s.Scheme().Default(p)
			pods = append(pods, p)
		}
		b.StartTimer()
		start := time.Now()
		for i := 0; i < total; i += 1000 {
			err := s.Update(context.Background(), func(tx store.Tx) error {
				for _, p := range pods[i:min(i+1000, total)] {
					if err := tx.Create(p); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		created := time.Since(start)
		waitReady(b, s, total)
		if testing.Verbose() {
			b.Logf("%d pods created in %v, all Running and Ready in %v", total, created, time.Since(start))
		}
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(total)/elapsed.Seconds(), "pods/s")
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/float64(total), "heapB/pod")
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// waitReady follows the pods' changes until total of them are Running and
// Ready, listing and then watching from the list's revision (again when the
// watch cannot keep up).
func waitReady(b *testing.B, s store.Store, total int) {
	for {
		ready := map[string]bool{}
		var rev int64
		s.View(context.Background(), func(tx store.ReadTx) error {
			pods, err := tx.List("Pod", store.ListOptions{})
			for _, o := range pods {
				ready[o.GetObjectMeta().Name] = running(o.(*objects.Pod))
			}
			rev = tx.Revision()
			return err
		})
		n := 0
		for _, r := range ready {
			if r {
				n++
			}
		}
		if n >= total {
			return
		}
		w, err := s.Watch(context.Background(), store.WatchOptions{Kind: "Pod", Revision: rev, Buffer: 1 << 20})
		if errors.Is(err, store.ErrRevisionTooOld) {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		last := time.Now()
		for n < total {
			if testing.Verbose() && time.Since(last) > time.Second {
				b.Logf("%d ready", n)
				last = time.Now()
			}
			ev, ok := <-w.Events()
			if !ok {
				break
			}
			p := ev.Peek().(*objects.Pod)
			r := running(p) && ev.Type != store.Deleted
			if r != ready[p.Name] {
				if r {
					n++
				} else {
					n--
				}
				ready[p.Name] = r
			}
		}
		w.Stop()
		if n >= total {
			return
		}
	}
}
