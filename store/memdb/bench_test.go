package memdb_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// The reference scale: 150,000 pods on 5,000 nodes (30 per node), made by
// 5,000 Deployments of 30 replicas.
const (
	scalePods  = 150_000
	scaleNodes = 5_000
	perDeploy  = 30
)

// podFactory makes pods the way a ReplicaSet controller does: a deep copy
// of its template (so image and other strings are shared, as they are in a
// real controller), a generated name, labels app and pod-template-hash, a
// controller owner reference, one container with image, ports and resource
// requests.
type podFactory struct {
	template objects.PodTemplateSpec
}

func newPodFactory() *podFactory {
	return &podFactory{template: objects.PodTemplateSpec{
		ObjectMeta: objects.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: objects.PodSpec{
			Containers: []objects.Container{{
				Name:  "app",
				Image: "registry.example.com/team/web:1.24.3",
				Ports: []objects.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: objects.ProtocolTCP}},
				Resources: objects.ResourceRequirements{Requests: objects.ResourceList{
					objects.ResourceCPU:    objects.MustParseQuantity("100m"),
					objects.ResourceMemory: objects.MustParseQuantity("128Mi"),
				}},
				TerminationMessagePath:   "/dev/termination-log",
				TerminationMessagePolicy: objects.TerminationMessageReadFile,
				ImagePullPolicy:          objects.PullIfNotPresent,
			}},
			RestartPolicy:                 objects.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr(int64(30)),
			DNSPolicy:                     objects.DNSClusterFirst,
			SchedulerName:                 objects.DefaultSchedulerName,
		},
	}}
}

// pod i belongs to deployment i/30 and runs on node i%5000.
func (f *podFactory) pod(i int) *objects.Pod {
	dep := i / perDeploy
	hash := fmt.Sprintf("%08x", uint32(dep)*2654435761)[:8]
	rs := fmt.Sprintf("web-%d-%s", dep, hash)
	tpl := f.template.DeepCopy()
	tpl.Labels["app"] = fmt.Sprintf("web-%d", dep)
	tpl.Labels["pod-template-hash"] = hash
	return &objects.Pod{
		ObjectMeta: objects.ObjectMeta{
			Namespace: "default",
			Name:      fmt.Sprintf("%s-%05d", rs, i%100000),
			Labels:    tpl.Labels,
			OwnerReferences: []objects.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs,
				UID:        fmt.Sprintf("00000000-0000-4000-8000-%012d", dep),
				Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: tpl.Spec,
	}
}

func nodeName(i int) string { return fmt.Sprintf("node-%04d", i%scaleNodes) }

func ptr[T any](v T) *T { return &v }

func newBenchStore(b *testing.B, opts ...memdb.Option) *memdb.Store {
	s, err := memdb.New(opts...)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

// fill stores n pods of f, bound to their nodes, in transactions of batch.
func fill(b testing.TB, s store.Store, f *podFactory, n, batch int) {
	ctx := context.Background()
	for start := 0; start < n; start += batch {
		err := s.Update(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+batch, n); i++ {
				p := f.pod(i)
				p.Spec.NodeName = nodeName(i)
				if err := tx.Create(p); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(b, err)
	}
}

func BenchmarkCreate(b *testing.B) {
	for _, batch := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := newBenchStore(b)
			f := newPodFactory()
			pods := make([]*objects.Pod, b.N)
			for i := range pods {
				pods[i] = f.pod(i)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for start := 0; start < b.N; start += batch {
				err := s.Update(ctx, func(tx store.Tx) error {
					for _, p := range pods[start:min(start+batch, b.N)] {
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
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}

func BenchmarkUpdate(b *testing.B) {
	const stored = 10_000
	for _, mode := range []string{"spec", "status"} {
		b.Run(mode, func(b *testing.B) {
			s := newBenchStore(b)
			f := newPodFactory()
			fill(b, s, f, stored, 1000)
			pods := make([]*objects.Pod, stored)
			require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
				l, err := tx.List("Pod", store.ListOptions{})
				for i, o := range l {
					pods[i] = o.(*objects.Pod)
				}
				return err
			}))
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p := pods[i%stored]
				err := s.Update(ctx, func(tx store.Tx) error {
					if mode == "spec" {
						p.Spec.ActiveDeadlineSeconds = ptr(int64(i))
						return tx.Update(p)
					}
					p.Status.Phase = objects.PodRunning
					p.Status.Message = strconv.Itoa(i)
					return tx.UpdateStatus(p)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

var (
	scaleOnce  sync.Once
	scaleStore *memdb.Store
)

// scaled returns a store holding the reference 150,000 pods, shared by the
// list benchmarks.
func scaled(b *testing.B) *memdb.Store {
	scaleOnce.Do(func() {
		s, err := memdb.New()
		require.NoError(b, err)
		fill(b, s, newPodFactory(), scalePods, 1000)
		scaleStore = s
	})
	return scaleStore
}

func BenchmarkList150k(b *testing.B) {
	s := scaled(b)
	for _, tc := range []struct {
		name string
		opts func(i int) store.ListOptions
		want int
	}{
		{"node", func(i int) store.ListOptions {
			return store.ListOptions{Fields: map[string]string{store.IndexNodeName: nodeName(i)}}
		}, perDeploy},
		{"node-in-namespace", func(i int) store.ListOptions {
			return store.ListOptions{Namespace: "default", Fields: map[string]string{store.IndexNodeName: nodeName(i)}}
		}, perDeploy},
		{"label", func(i int) store.ListOptions {
			return store.ListOptions{Namespace: "default", Labels: objects.SelectorFromSet(map[string]string{"app": fmt.Sprintf("web-%d", i%(scalePods/perDeploy))})}
		}, perDeploy},
		{"replicaset-selector", func(i int) store.ListOptions {
			dep := i % (scalePods / perDeploy)
			hash := fmt.Sprintf("%08x", uint32(dep)*2654435761)[:8]
			return store.ListOptions{Namespace: "default", Labels: objects.SelectorFromSet(map[string]string{"app": fmt.Sprintf("web-%d", dep), "pod-template-hash": hash})}
		}, perDeploy},
		{"owner", func(i int) store.ListOptions {
			return store.ListOptions{Fields: map[string]string{store.IndexOwner: fmt.Sprintf("00000000-0000-4000-8000-%012d", i%(scalePods/perDeploy))}}
		}, perDeploy},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				opts := tc.opts(i)
				err := s.View(ctx, func(tx store.ReadTx) error {
					l, err := tx.List("Pod", opts)
					if err == nil && len(l) != tc.want {
						err = fmt.Errorf("%d pods, want %d", len(l), tc.want)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// Selectors the index cannot serve, and the whole list: every pod is
	// read and copied.
	for _, tc := range []struct {
		name string
		sel  string
		want int
	}{
		{"label-scan", "app in (web-1,web-2)", 2 * perDeploy},
		{"all", "", scalePods},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sel, err := objects.ParseSelector(tc.sel)
			require.NoError(b, err)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				err := s.View(ctx, func(tx store.ReadTx) error {
					l, err := tx.List("Pod", store.ListOptions{Labels: sel})
					if err == nil && len(l) != tc.want {
						err = fmt.Errorf("%d pods, want %d", len(l), tc.want)
					}
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWatchFanout delivers pod events to 5,000 watchers, each drained
// by its own goroutine. "all": every watcher gets every event (ns/op is per
// event delivered to all 5,000); "per-node": each watcher filters on
// spec.nodeName as a node agent would, so each event reaches one watcher.
func BenchmarkWatchFanout(b *testing.B) {
	const watchers = 5_000
	for _, mode := range []string{"all", "per-node"} {
		b.Run(mode, func(b *testing.B) {
			s := newBenchStore(b)
			f := newPodFactory()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var received atomic.Int64
			var wg sync.WaitGroup
			for w := range watchers {
				opts := store.WatchOptions{Kind: "Pod", Buffer: 256}
				if mode == "per-node" {
					opts.Fields = map[string]string{store.IndexNodeName: nodeName(w)}
				}
				wt, err := s.Watch(ctx, opts)
				require.NoError(b, err)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range wt.Events() {
						received.Add(1)
					}
					if err := wt.Err(); err != nil {
						b.Error(err)
					}
				}()
			}
			perEvent := int64(watchers)
			if mode == "per-node" {
				perEvent = 1
			}
			const step = 100 // events between waits, well under the buffer
			b.ResetTimer()
			for start := 0; start < b.N; start += step {
				n := min(step, b.N-start)
				for i := start; i < start+n; i++ {
					p := f.pod(i)
					p.Spec.NodeName = nodeName(i)
					if err := s.Update(ctx, func(tx store.Tx) error { return tx.Create(p) }); err != nil {
						b.Fatal(err)
					}
				}
				want := int64(start+n) * perEvent
				for received.Load() < want {
					runtime.Gosched()
				}
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			b.ReportMetric(float64(b.N)*float64(perEvent)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkHeapPerPod stores the reference 150,000 pods and reports the
// live heap they take, per pod.
func BenchmarkHeapPerPod(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := memdb.New()
		require.NoError(b, err)
		fill(b, s, newPodFactory(), scalePods, 1000)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/scalePods, "bytes/pod")
		runtime.KeepAlive(s)
		s.Close()
	}
}

// TestBenchFixture keeps the fixture honest: a pod as a ReplicaSet creates
// it, valid, with what the benchmarks count on.
func TestBenchFixture(t *testing.T) {
	p := newPodFactory().pod(31)
	require.Equal(t, "web-1", p.Labels["app"])
	require.Len(t, p.Labels["pod-template-hash"], 8)
	require.NotNil(t, p.ControllerRef())
	s, err := memdb.New()
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Scheme().Validate(p))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.Update(ctx, func(tx store.Tx) error { return tx.Create(p) }))
}
