package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/events"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// The benchmarks place pods stored before the scheduler starts, and time
// from Run until the last binding has committed: the initial list, the
// snapshot, every placement and every binding written through the memdb
// store (one Update and one UpdateStatus per pod, batched in
// transactions). Scheduled events go to internal/events.Recorder, as in
// the Orchestrator, unless the name says events=off.

// benchNode is kube-scheduler's scheduler_perf node: 4 cpu, 32Gi, 110 pods.
func benchNode(name string, labels ...string) *objects.Node {
	n := makeNode(name, "4", "32Gi")
	for i := 0; i+1 < len(labels); i += 2 {
		n.Labels[labels[i]] = labels[i+1]
	}
	return n
}

func benchPod(name, cpu, mem string) *objects.Pod {
	return makePod(name, cpu, mem)
}

// ownedBy makes p a pod of ReplicaSet rs (uid and template hash).
func ownedBy(p *objects.Pod, app string, rs int) {
	hash := fmt.Sprintf("%08x", uint32(rs)*2654435761)
	p.Labels["app"] = app
	p.Labels["pod-template-hash"] = hash
	p.OwnerReferences = []objects.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-" + hash,
		UID: fmt.Sprintf("00000000-0000-4000-8000-%012d", rs), Controller: ptr(true)}}
}

type benchCase struct {
	nodes    []*objects.Node
	existing []*objects.Pod // bound already
	others   []objects.Object
	pending  []*objects.Pod
	opts     []Option
	events   bool
	check    func(b *testing.B, s store.Store)
}

func fill(b *testing.B, s store.Store, objs []objects.Object) {
	for start := 0; start < len(objs); start += 1000 {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			for _, o := range objs[start:min(start+1000, len(objs))] {
				if err := tx.Create(o.DeepCopyObject()); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(b, err)
	}
}

func asObjects[T objects.Object](in []T) []objects.Object {
	out := make([]objects.Object, len(in))
	for i, o := range in {
		out[i] = o
	}
	return out
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBench reports pods/s (wall clock) and CPU µs per pod (all the
// process's CPU while the scheduler ran: scheduler, store, event recorder
// and garbage collector), which does not depend on what else the machine
// runs.
func runBench(b *testing.B, bc benchCase) {
	var elapsed, cpu time.Duration
	placed := 0
	for i := 0; i < b.N; i++ {
		s, err := memdb.New(memdb.WithHistory(1000))
		require.NoError(b, err)
		fill(b, s, bc.others)
		fill(b, s, asObjects(bc.nodes))
		fill(b, s, asObjects(bc.existing))
		fill(b, s, asObjects(bc.pending))
		opts := append([]Option{}, bc.opts...)
		if bc.events {
			rec := events.New(s, clockwork.NewRealClock(), slog.New(slog.DiscardHandler), events.Source{Component: "default-scheduler"}, time.Hour)
			opts = append(opts, WithEventRecorder(rec))
		}
		sch, err := New(s, opts...)
		require.NoError(b, err)
		bound := 0
		done := make(chan struct{})
		sch.afterWrite = func(res []writeResult) {
			for _, r := range res {
				if r.op.kind == opBind && r.err == nil && !r.gone {
					bound++
				}
			}
			if bound == len(bc.pending) {
				close(done)
			}
		}
		runtime.GC()
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		start, cpu0 := time.Now(), cpuTime()
		go func() { ran <- sch.Run(ctx) }()
		select {
		case <-done:
		case <-time.After(5 * time.Minute):
			b.Fatalf("%d of %d pods bound after 5 minutes", bound, len(bc.pending))
		}
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		placed += len(bc.pending)
		cancel()
		require.NoError(b, <-ran)
		if bc.check != nil {
			bc.check(b, s)
		}
		if testing.Verbose() && bc.events {
			var n int
			require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
				evs, err := tx.List("Event", store.ListOptions{})
				n = len(evs)
				return err
			}))
			b.Logf("iteration %d: %d events recorded", i, n)
		}
		s.Close()
		if testing.Verbose() {
			var m runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m)
			b.Logf("iteration %d: %v, heap after %d MiB", i, time.Since(start), m.HeapAlloc>>20)
		}
	}
	b.ReportMetric(float64(placed)/elapsed.Seconds(), "pods/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(placed), "cpu-µs/pod")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSchedulingBasic is kube-scheduler's scheduler_perf
// SchedulingBasic at 5000 nodes: 1,000 pods already bound, then 10,000
// identical pods of 100m cpu and 500Mi without owner.
func BenchmarkSchedulingBasic(b *testing.B) {
	bc := benchCase{}
	for i := range 5000 {
		bc.nodes = append(bc.nodes, benchNode(fmt.Sprintf("node-%04d", i)))
	}
	for i := range 1000 {
		bc.existing = append(bc.existing, benchPod(fmt.Sprintf("init-%05d", i), "100m", "500Mi"))
		bc.existing[i].Spec.NodeName = fmt.Sprintf("node-%04d", i%5000)
	}
	for i := range 10000 {
		bc.pending = append(bc.pending, benchPod(fmt.Sprintf("pod-%05d", i), "100m", "500Mi"))
	}
	for _, ev := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%s", onOff(ev)), func(b *testing.B) {
			bc.events = ev
			runBench(b, bc)
		})
	}
}

// BenchmarkSchedulingPodAntiAffinity is kube-scheduler's scheduler_perf
// SchedulingPodAntiAffinity at 5000 nodes: 1,000 pods bound in namespace
// sched-0, then 2,000 pending in sched-1, all of 100m cpu and 500Mi,
// labelled color=green and each repelling color=green pods of both
// namespaces from its node (required, kubernetes.io/hostname). The check
// requires every node to hold at most one of them.
func BenchmarkSchedulingPodAntiAffinity(b *testing.B) {
	bc := benchCase{events: true}
	for i := range 5000 {
		bc.nodes = append(bc.nodes, benchNode(fmt.Sprintf("node-%04d", i)))
	}
	anti := func(ns, name string) *objects.Pod {
		p := benchPod(name, "100m", "500Mi")
		p.Namespace = ns
		p.Labels["color"] = "green"
		p.Spec.Affinity = &objects.Affinity{PodAntiAffinity: &objects.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []objects.PodAffinityTerm{{
				LabelSelector: &objects.LabelSelector{MatchLabels: map[string]string{"color": "green"}},
				TopologyKey:   LabelHostname, Namespaces: []string{"sched-1", "sched-0"}}}}}
		return p
	}
	for i := range 1000 {
		p := anti("sched-0", fmt.Sprintf("init-%04d", i))
		p.Spec.NodeName = fmt.Sprintf("node-%04d", i*5)
		bc.existing = append(bc.existing, p)
	}
	for i := range 2000 {
		bc.pending = append(bc.pending, anti("sched-1", fmt.Sprintf("anti-affinity-pod-%04d", i)))
	}
	bc.check = func(b *testing.B, s store.Store) {
		perNode := map[string]int{}
		require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
			pods, err := tx.List("Pod", store.ListOptions{})
			for _, o := range pods {
				perNode[o.(*objects.Pod).Spec.NodeName]++
			}
			return err
		}))
		for n, c := range perNode {
			require.Equal(b, 1, c, "node %s holds %d green pods", n, c)
		}
		require.Len(b, perNode, 3000)
	}
	runBench(b, bc)
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// BenchmarkConstraints1kNodes10kPods is SwarmKit's
// SchedulerConstraints1kNodes10kTasks: 1,000 nodes, one in three labelled,
// 10,000 pods without owner, each requiring the label and each placed alone
// (a label of its own makes every pod its own group).
func BenchmarkConstraints1kNodes10kPods(b *testing.B) {
	bc := benchCase{events: true}
	for i := range 1000 {
		if i%3 == 0 {
			bc.nodes = append(bc.nodes, benchNode(fmt.Sprintf("node-%04d", i), "special", "true"))
		} else {
			bc.nodes = append(bc.nodes, benchNode(fmt.Sprintf("node-%04d", i)))
		}
	}
	for i := range 10000 {
		p := benchPod(fmt.Sprintf("task-%05d", i), "10m", "16Mi")
		p.Labels["task"] = fmt.Sprint(i)
		p.Spec.NodeSelector = map[string]string{"special": "true"}
		bc.pending = append(bc.pending, p)
	}
	bc.check = func(b *testing.B, s store.Store) {
		require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
			pods, err := tx.List("Pod", store.ListOptions{})
			for _, o := range pods {
				n := o.(*objects.Pod).Spec.NodeName
				var idx int
				fmt.Sscanf(n, "node-%d", &idx)
				require.Zero(b, idx%3, "pod on an unlabelled node %s", n)
			}
			return err
		}))
	}
	runBench(b, bc)
}

// BenchmarkDeployments5kNodes100kPods is SwarmKit's grouped-task benchmark
// at 5,000 nodes: 100,000 pods of 10 Deployments.
func BenchmarkDeployments5kNodes100kPods(b *testing.B) {
	bc := benchCase{events: true}
	for i := range 5000 {
		bc.nodes = append(bc.nodes, benchNode(fmt.Sprintf("node-%04d", i)))
	}
	for i := range 100000 {
		d := i % 10
		p := benchPod(fmt.Sprintf("web-%d-%06d", d, i), "100m", "128Mi")
		ownedBy(p, fmt.Sprintf("web-%d", d), d)
		bc.pending = append(bc.pending, p)
	}
	for _, ev := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%s", onOff(ev)), func(b *testing.B) {
			bc.events = ev
			runBench(b, bc)
		})
	}
}

// BenchmarkAntiAffinitySpread places 30,000 pods of 10 Deployments on
// 5,000 nodes in 3 zones: each pod repels the pods of its Deployment from
// its node (required anti-affinity on kubernetes.io/hostname) and spreads
// them over zones with maxSkew 1 (DoNotSchedule). The resulting skew and
// one-per-node rule are checked.
func BenchmarkAntiAffinitySpread(b *testing.B) {
	const deployments, replicas = 10, 3000
	bc := benchCase{events: true}
	for i := range 5000 {
		bc.nodes = append(bc.nodes, benchNode(fmt.Sprintf("node-%04d", i), LabelZone, fmt.Sprintf("zone-%d", i%3)))
	}
	for i := range deployments * replicas {
		d := i % deployments
		app := fmt.Sprintf("web-%d", d)
		p := benchPod(fmt.Sprintf("%s-%05d", app, i), "100m", "128Mi")
		ownedBy(p, app, d)
		sel := &objects.LabelSelector{MatchLabels: map[string]string{"app": app}}
		p.Spec.Affinity = &objects.Affinity{PodAntiAffinity: &objects.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []objects.PodAffinityTerm{{LabelSelector: sel, TopologyKey: LabelHostname}}}}
		p.Spec.TopologySpreadConstraints = []objects.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: LabelZone,
			WhenUnsatisfiable: objects.DoNotSchedule, LabelSelector: sel}}
		bc.pending = append(bc.pending, p)
	}
	bc.check = func(b *testing.B, s store.Store) {
		zoneOf := map[string]string{}
		for _, n := range bc.nodes {
			zoneOf[n.Name] = n.Labels[LabelZone]
		}
		perZone := map[string]map[string]int{}
		perNode := map[string]bool{}
		require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
			pods, err := tx.List("Pod", store.ListOptions{})
			for _, o := range pods {
				p := o.(*objects.Pod)
				app := p.Labels["app"]
				k := app + "/" + p.Spec.NodeName
				require.False(b, perNode[k], "two pods of %s on %s", app, p.Spec.NodeName)
				perNode[k] = true
				if perZone[app] == nil {
					perZone[app] = map[string]int{}
				}
				perZone[app][zoneOf[p.Spec.NodeName]]++
			}
			return err
		}))
		for app, zones := range perZone {
			lo, hi := replicas, 0
			for _, z := range []string{"zone-0", "zone-1", "zone-2"} {
				lo, hi = min(lo, zones[z]), max(hi, zones[z])
			}
			require.LessOrEqual(b, hi-lo, 1, "%s: skew over zones %v", app, zones)
		}
	}
	runBench(b, bc)
}

// BenchmarkSnapshotMemory reports the heap the snapshot takes per node and
// per pod at the reference scale: 5,000 nodes, 150,000 pods of 5,000
// ReplicaSets (30 each), one container, requests and labels as a
// Deployment gives them.
func BenchmarkSnapshotMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		nodes := make([]*objects.Node, 5000)
		for j := range nodes {
			nodes[j] = benchNode(fmt.Sprintf("node-%04d", j), LabelZone, fmt.Sprintf("zone-%d", j%3))
		}
		pods := make([]*objects.Pod, 150000)
		for j := range pods {
			p := benchPod(fmt.Sprintf("web-%d-%05d", j/30, j), "100m", "128Mi")
			ownedBy(p, fmt.Sprintf("web-%d", j/30), j/30)
			p.UID = fmt.Sprintf("00000000-0000-4000-9000-%012d", j)
			p.Spec.NodeName = nodes[j%5000].Name
			pods[j] = p
		}
		var m0, m1, m2 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		snap := newSnapshot()
		for _, n := range nodes {
			snap.setNode(n.DeepCopy()) // the scheduler keeps its own copy
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		for _, p := range pods {
			pi, err := snap.newPodInfo(p, false)
			require.NoError(b, err)
			snap.addPod(pi, p.Spec.NodeName)
		}
		runtime.GC()
		runtime.ReadMemStats(&m2)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(len(nodes)), "B/node")
		b.ReportMetric(float64(m2.HeapAlloc-m1.HeapAlloc)/float64(len(pods)), "B/pod")
		runtime.KeepAlive(snap)
		runtime.KeepAlive(pods)
		runtime.KeepAlive(nodes)
	}
}

// BenchmarkServiceJob is Nomad's BenchmarkServiceScheduler
// (scheduler/benchmarks): one Deployment's 1,200 pods of 6 cpu and 6,000Mi
// on nodes of 13.9 cpu and 31,744Mi allocatable (Nomad's mock node: 4 cores
// of 3,500 MHz and 32,000 MB, less its reservation), so that two fit on a
// node; nodes carry one of 25 rack labels. With spread=on the pods spread
// over the racks as Nomad's spread block asks, a preference
// (topologySpreadConstraints, ScheduleAnyway); the check requires every
// rack to hold 48 pods, as an even spread gives.
func BenchmarkServiceJob(b *testing.B) {
	const racks, pods = 25, 1200
	for _, nodes := range []int{1000, 5000, 10000} {
		for _, spread := range []bool{true, false} {
			b.Run(fmt.Sprintf("nodes=%d/spread=%s", nodes, onOff(spread)), func(b *testing.B) {
				bc := benchCase{events: true}
				for i := range nodes {
					bc.nodes = append(bc.nodes, makeNode(fmt.Sprintf("node-%05d", i), "13900m", "31744Mi",
						withLabels("rack", fmt.Sprintf("r%d", i%racks))))
				}
				sel := &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
				for i := range pods {
					p := benchPod(fmt.Sprintf("web-%05d", i), "6", "6000Mi")
					ownedBy(p, "web", 0)
					if spread {
						p.Spec.TopologySpreadConstraints = []objects.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "rack",
							WhenUnsatisfiable: objects.ScheduleAnyway, LabelSelector: sel}}
					}
					bc.pending = append(bc.pending, p)
				}
				bc.check = func(b *testing.B, s store.Store) {
					perRack, perNode := map[string]int{}, map[string]int{}
					require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
						list, err := tx.List("Pod", store.ListOptions{})
						for _, o := range list {
							n := o.(*objects.Pod).Spec.NodeName
							perNode[n]++
							var idx int
							fmt.Sscanf(n, "node-%d", &idx)
							perRack[fmt.Sprintf("r%d", idx%racks)]++
						}
						return err
					}))
					for n, c := range perNode {
						require.LessOrEqual(b, c, 2, "node %s holds %d pods", n, c)
					}
					if spread {
						for r := range racks {
							require.Equal(b, pods/racks, perRack[fmt.Sprintf("r%d", r)], "pods per rack: %v", perRack)
						}
					}
				}
				runBench(b, bc)
			})
		}
	}
}

// BenchmarkPreemption places 500 pods of priority 100 and 1 cpu on 1,000
// full nodes, each running four pods of priority 0 and 1 cpu that go at
// once (terminationGracePeriodSeconds 0): every pod preempts. With
// pdbs=on the pods of every other node are selected by one of 20
// PodDisruptionBudgets allowing no disruption. Per run, victims is how
// many pods preemption evicted, protected-evicted how many of those a
// budget selected.
func BenchmarkPreemption(b *testing.B) {
	for _, pdbs := range []bool{false, true} {
		b.Run(fmt.Sprintf("pdbs=%s", onOff(pdbs)), func(b *testing.B) {
			bc := benchCase{events: true}
			for i := range 1000 {
				node := fmt.Sprintf("node-%04d", i)
				bc.nodes = append(bc.nodes, benchNode(node))
				for j := range 4 {
					p := makePod(fmt.Sprintf("low-%04d-%d", i, j), "1", "1Gi", onNode(node), priority(0), grace(0))
					if pdbs && i%2 == 0 {
						p.Labels["app"] = fmt.Sprintf("guarded-%d", i%20)
					}
					bc.existing = append(bc.existing, p)
				}
			}
			for i := range 500 {
				bc.pending = append(bc.pending, makePod(fmt.Sprintf("vip-%03d", i), "1", "1Gi", priority(100)))
			}
			if pdbs {
				for i := range 20 {
					// Created without status: it allows no disruption.
					bc.others = append(bc.others, makeBudget(fmt.Sprintf("guarded-%d", i), 0))
				}
			}
			victims, evicted := 0, 0
			bc.check = func(b *testing.B, s store.Store) {
				low, guarded := 0, 0
				require.NoError(b, s.View(context.Background(), func(tx store.ReadTx) error {
					list, err := tx.List("Pod", store.ListOptions{})
					for _, o := range list {
						if p := o.(*objects.Pod); strings.HasPrefix(p.Name, "low-") {
							low++
							if p.Labels["app"] != "" {
								guarded++
							}
						}
					}
					return err
				}))
				victims += 4000 - low
				if pdbs {
					evicted += 2000 - guarded
				}
			}
			runBench(b, bc)
			b.ReportMetric(float64(victims)/float64(b.N), "victims")
			b.ReportMetric(float64(evicted)/float64(b.N), "protected-evicted")
		})
	}
}

// BenchmarkDryRunPreemption times one preemption's dry runs alone, on a
// snapshot of 1,000 full nodes (four pods of 1 cpu each, labelled), for a
// pod of 1 cpu: 100 nodes dry-run. With pdbs=on a budget allowing no
// disruption selects the pods of every other node.
func BenchmarkDryRunPreemption(b *testing.B) {
	for _, pdbs := range []bool{false, true} {
		b.Run(fmt.Sprintf("pdbs=%s", onOff(pdbs)), func(b *testing.B) {
			fw, err := compileProfile(DefaultProfile())
			require.NoError(b, err)
			snap := newSnapshot()
			a := newAlgorithm(fw, snap, 1)
			if pdbs {
				snap.setBudget(makeBudget("guarded", 0))
			}
			for i := range 1000 {
				node := fmt.Sprintf("node-%04d", i)
				snap.setNode(benchNode(node))
				app := "free"
				if i%2 == 0 {
					app = "guarded"
				}
				for j := range 4 {
					p := makePod(fmt.Sprintf("low-%04d-%d", i, j), "1", "1Gi", onNode(node), priority(0), podLabels("app", app))
					p.UID = p.Name
					pi, err := snap.newPodInfo(p, false)
					require.NoError(b, err)
					snap.addPod(pi, node)
				}
			}
			vip := makePod("vip", "1", "1Gi", priority(100))
			vip.UID = "vip"
			pi, err := snap.newPodInfo(vip, true)
			require.NoError(b, err)
			g := &group{pod: pi, heapIndex: -1}
			require.Nil(b, a.prepare(g))
			d, node := a.diagnose(g)
			require.Nil(b, node)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if pre, why := a.preempt(g, "", d); pre == nil {
					b.Fatal(why)
				}
			}
		})
	}
}
