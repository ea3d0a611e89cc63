package fake_test

import (
	"context"
	goruntime "runtime"
	"strconv"
	"testing"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

const benchImage = "registry.local/bench/app:1"

// benchPod is what a node agent hands the runtime for a pod of one
// container: its labels, and a spec every replica shares.
type benchPod struct {
	uid, name, hash string
}

func benchPods(n int) []benchPod {
	ps := make([]benchPod, n)
	for i := range ps {
		s := strconv.Itoa(i)
		ps[i] = benchPod{uid: "uid-" + s, name: "app-" + s, hash: strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 16)}
	}
	return ps
}

// start runs p as a node agent does: a sandbox, then one container
// created and started in it, each with a fresh labels map.
func (p *benchPod) start(ctx context.Context, b *testing.B, rt *fake.Runtime) {
	sb, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: p.uid, PodName: p.name, PodNamespace: "default",
		Hostname: p.name, Labels: map[string]string{runtime.LabelPodUID: p.uid, runtime.LabelPodName: p.name,
			runtime.LabelPodNamespace: "default", runtime.LabelNode: "node-1"}})
	if err != nil {
		b.Fatal(err)
	}
	id, err := rt.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: "app", Image: benchImage,
		Resources: runtime.Resources{CPUShares: 102, MemoryLimitBytes: 128 << 20},
		Labels: map[string]string{runtime.LabelPodUID: p.uid, runtime.LabelPodName: p.name,
			runtime.LabelPodNamespace: "default", runtime.LabelNode: "node-1",
			runtime.LabelContainerName: "app", runtime.LabelContainerHash: p.hash}})
	if err != nil {
		b.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		b.Fatal(err)
	}
}

func newBenchRuntime(b *testing.B, opts ...fake.Option) *fake.Runtime {
	rt, err := fake.New(append([]fake.Option{fake.WithImages(benchImage), fake.WithPodCIDR("10.0.0.0/8")}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	return rt
}

func heapAlloc() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkStartPod starts pods of one container, 30 to a runtime as at
// the reference scale (5,000 nodes, 150,000 pods) or all in one, and
// reports the heap they keep (retained-B/pod) besides what starting them
// allocates. The labels' strings are the caller's and not counted; the
// maps holding them are.
func BenchmarkStartPod(b *testing.B) {
	for _, bc := range []struct {
		name    string
		perNode int
		opts    []fake.Option
	}{
		{"node=30", 30, []fake.Option{fake.WithHistoryLimit(0)}},
		{"node=all", 0, []fake.Option{fake.WithHistoryLimit(0)}},
		{"node=30/history", 30, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			pods := benchPods(b.N)
			var rts []*fake.Runtime
			before := heapAlloc()
			b.ReportAllocs()
			b.ResetTimer()
			var rt *fake.Runtime
			for i := range pods {
				if rt == nil || bc.perNode > 0 && i%bc.perNode == 0 {
					rt = newBenchRuntime(b, bc.opts...)
					rts = append(rts, rt)
				}
				pods[i].start(ctx, b, rt)
			}
			b.StopTimer()
			b.ReportMetric(float64(heapAlloc()-before)/float64(b.N), "retained-B/pod")
			goruntime.KeepAlive(rts)
			goruntime.KeepAlive(pods)
		})
	}
}

// BenchmarkListPod lists the sandboxes and containers of one pod, as a node
// agent does at every sync of it, in a runtime of 30 pods.
func BenchmarkListPod(b *testing.B) {
	ctx := context.Background()
	rt, pods := startedNode(ctx, b, 30)
	filters := make([]runtime.Filter, len(pods))
	for i, p := range pods {
		filters[i] = runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: p.uid, runtime.LabelNode: "node-1"}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := filters[i%len(filters)]
		sbs, err := rt.ListSandboxes(ctx, f)
		if err != nil || len(sbs) != 1 {
			b.Fatal(sbs, err)
		}
		cs, err := rt.ListContainers(ctx, f)
		if err != nil || len(cs) != 1 {
			b.Fatal(cs, err)
		}
	}
}

// BenchmarkListNode lists every sandbox and container of a node of 30 pods
// by the node's label, as a node agent's relist does.
func BenchmarkListNode(b *testing.B) {
	ctx := context.Background()
	rt, pods := startedNode(ctx, b, 30)
	f := runtime.Filter{Labels: map[string]string{runtime.LabelNode: "node-1"}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cs, err := rt.ListContainers(ctx, f)
		if err != nil || len(cs) != len(pods) {
			b.Fatal(len(cs), err)
		}
		sbs, err := rt.ListSandboxes(ctx, f)
		if err != nil || len(sbs) != len(pods) {
			b.Fatal(len(sbs), err)
		}
	}
}

// startedNode returns a runtime without history running n started pods on
// node-1.
func startedNode(ctx context.Context, b *testing.B, n int) (*fake.Runtime, []benchPod) {
	rt := newBenchRuntime(b, fake.WithHistoryLimit(0))
	pods := benchPods(n)
	for i := range pods {
		pods[i].start(ctx, b, rt)
	}
	return rt, pods
}
