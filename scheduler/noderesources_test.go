package scheduler

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

// res makes a pod with one container per request pair (cpu millis, memory
// bytes; a negative value leaves the request out) and optional init
// containers.
func res(name string, containers [][2]int64, inits ...[2]int64) *objects.Pod {
	p := pod(name)
	p.Spec.Containers = nil
	mk := func(i int, r [2]int64) objects.Container {
		req := objects.ResourceList{}
		if r[0] >= 0 {
			req[objects.ResourceCPU] = objects.NewMilliQuantity(r[0], objects.DecimalSI)
		}
		if r[1] >= 0 {
			req[objects.ResourceMemory] = objects.NewQuantity(r[1], objects.BinarySI)
		}
		return objects.Container{Name: fmt.Sprintf("c%d", i), Image: "i", Resources: objects.ResourceRequirements{Requests: req}}
	}
	for i, r := range containers {
		p.Spec.Containers = append(p.Spec.Containers, mk(i, r))
	}
	for i, r := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, mk(i, r))
	}
	return p
}

// sidecars makes p's init containers at the indexes sidecars.
func sidecars(p *objects.Pod, idx ...int) *objects.Pod {
	always := objects.ContainerRestartPolicyAlways
	for _, i := range idx {
		p.Spec.InitContainers[i].RestartPolicy = &always
	}
	return p
}

// sized is a node with milli-cpu, memory bytes and pod count allocatable.
func sized(name string, cpu, mem, pods int64) *objects.Node {
	n := node(name)
	n.Status.Allocatable = objects.ResourceList{
		objects.ResourceCPU:    objects.NewMilliQuantity(cpu, objects.DecimalSI),
		objects.ResourceMemory: objects.NewQuantity(mem, objects.BinarySI),
		objects.ResourcePods:   objects.NewQuantity(pods, objects.DecimalSI),
	}
	return n
}

func c(cpu, mem int64) [2]int64 { return [2]int64{cpu, mem} }

// podLevel gives p pod-level requests of cpu millis and memory bytes (a
// negative value leaves one out).
func podLevel(p *objects.Pod, cpu, mem int64) *objects.Pod {
	req := objects.ResourceList{}
	if cpu >= 0 {
		req[objects.ResourceCPU] = objects.NewMilliQuantity(cpu, objects.DecimalSI)
	}
	if mem >= 0 {
		req[objects.ResourceMemory] = objects.NewQuantity(mem, objects.BinarySI)
	}
	p.Spec.Resources = &objects.ResourceRequirements{Requests: req}
	return p
}

// Kubernetes' fit_test.go (TestEnoughRequests): a node of 10 milli-cpu,
// 20 bytes and 32 pods with used (cpu, memory) already requested.
func TestNodeResourcesFitFilter(t *testing.T) {
	used := func(cpu, mem int64) []*objects.Pod {
		return []*objects.Pod{on(res("used", [][2]int64{c(cpu, mem)}), "n")}
	}
	n := []*objects.Node{sized("n", 10, 20, 32)}
	cases := []pluginCase{
		{name: "no resources requested always fits", pod: res("p", nil), nodes: n, existing: used(10, 20), wantFilter: fits("n")},
		{name: "too many resources fails", pod: res("p", [][2]int64{c(1, 1)}), nodes: n, existing: used(10, 20),
			wantFilter: map[string]string{"n": "Insufficient cpu; Insufficient memory"}, wantCode: Unschedulable},
		{name: "too many resources fails due to init container cpu", pod: res("p", [][2]int64{c(1, 1)}, c(3, 1)), nodes: n, existing: used(8, 19),
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "too many resources fails due to highest init container cpu", pod: res("p", [][2]int64{c(1, 1)}, c(3, 1), c(2, 1)), nodes: n, existing: used(8, 19),
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "too many resources fails due to init container memory", pod: res("p", [][2]int64{c(1, 1)}, c(1, 3)), nodes: n, existing: used(9, 19),
			wantFilter: map[string]string{"n": "Insufficient memory"}},
		{name: "init container fits because it's the max, not sum, of containers and init containers", pod: res("p", [][2]int64{c(1, 1)}, c(1, 1)), nodes: n, existing: used(9, 19),
			wantFilter: fits("n")},
		{name: "both resources fit", pod: res("p", [][2]int64{c(1, 1)}), nodes: n, existing: used(5, 5), wantFilter: fits("n")},
		{name: "one resource memory fits", pod: res("p", [][2]int64{c(2, 1)}), nodes: n, existing: used(9, 5),
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "one resource cpu fits", pod: res("p", [][2]int64{c(1, 2)}), nodes: n, existing: used(5, 19),
			wantFilter: map[string]string{"n": "Insufficient memory"}},
		{name: "equal edge case", pod: res("p", [][2]int64{c(5, 1)}), nodes: n, existing: used(5, 19), wantFilter: fits("n")},
		{name: "equal edge case for init container", pod: res("p", [][2]int64{c(4, 1)}, c(5, 1)), nodes: n, existing: used(5, 19), wantFilter: fits("n")},
		{name: "a sidecar adds to the containers", pod: sidecars(res("p", [][2]int64{c(1, 1)}, c(2, 1)), 0), nodes: n, existing: used(8, 18),
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "an init container runs beside the sidecars before it", pod: sidecars(res("p", [][2]int64{c(1, 1)}, c(1, 1), c(2, 1)), 0), nodes: n, existing: used(7, 17),
			wantFilter: fits("n")},
		{name: "an init container does not fit beside the sidecars before it", pod: sidecars(res("p", [][2]int64{c(1, 1)}, c(1, 1), c(3, 1)), 0), nodes: n, existing: used(7, 17),
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "pod-level requests replace the containers'", pod: podLevel(res("p", [][2]int64{c(1, 1)}), 6, -1), nodes: n, existing: used(5, 5),
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "pod-level requests below the node's room fit", pod: podLevel(res("p", [][2]int64{c(1, 1)}), 5, 15), nodes: n, existing: used(5, 5),
			wantFilter: fits("n")},
		{name: "resources + pod overhead fits", pod: withOverhead(res("p", [][2]int64{c(1, 1)}), 3, 13), nodes: n, existing: used(5, 5),
			wantFilter: fits("n")},
		{name: "requests + overhead does not fit for memory", pod: withOverhead(res("p", [][2]int64{c(1, 1)}), 1, 15), nodes: n, existing: used(5, 5),
			wantFilter: map[string]string{"n": "Insufficient memory"}},
		{name: "the overhead of the pods on the node counts", pod: res("p", [][2]int64{c(3, 1)}), nodes: n,
			existing:   []*objects.Pod{on(withOverhead(res("used", [][2]int64{c(5, 5)}), 3, 0), "n")},
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "even without specified resources, predicate fails when there's no space for additional pod",
			pod: res("p", nil), nodes: []*objects.Node{sized("n", 10, 20, 1)}, existing: used(5, 5),
			wantFilter: map[string]string{"n": "Too many pods"}},
		{name: "even if both resources fit, predicate fails when there's no space for additional pod",
			pod: res("p", [][2]int64{c(1, 1)}), nodes: []*objects.Node{sized("n", 10, 20, 1)}, existing: used(5, 5),
			wantFilter: map[string]string{"n": "Too many pods"}},
		{name: "even for equal edge case, predicate fails when there's no space for additional pod",
			pod: res("p", [][2]int64{c(5, 1)}), nodes: []*objects.Node{sized("n", 10, 20, 1)}, existing: used(5, 19),
			wantFilter: map[string]string{"n": "Too many pods"}},
		{name: "too many pods and too little cpu: every reason, pods first",
			pod: res("p", [][2]int64{c(6, 1)}), nodes: []*objects.Node{sized("n", 10, 20, 1)}, existing: used(5, 5),
			wantFilter: map[string]string{"n": "Too many pods; Insufficient cpu"}},
		{name: "extended resource fits", pod: withExtended(res("p", [][2]int64{c(1, 1)}), "example.com/aaa", 1),
			nodes: []*objects.Node{withScalar(sized("n", 10, 20, 32), "example.com/aaa", 5)}, existing: used(0, 0), wantFilter: fits("n")},
		{name: "extended resource capacity enforced", pod: withExtended(res("p", [][2]int64{c(1, 1)}), "example.com/aaa", 10),
			nodes: []*objects.Node{withScalar(sized("n", 10, 20, 32), "example.com/aaa", 5)}, existing: used(0, 0),
			wantFilter: map[string]string{"n": "Insufficient example.com/aaa"}},
		{name: "extended resource missing on the node", pod: withExtended(res("p", [][2]int64{c(1, 1)}), "example.com/aaa", 1),
			nodes: []*objects.Node{sized("n", 10, 20, 32)}, existing: used(0, 0),
			wantFilter: map[string]string{"n": "Insufficient example.com/aaa"}},
		{name: "ephemeral storage", pod: withExtended(res("p", [][2]int64{c(1, 1)}), objects.ResourceEphemeralStorage, 30),
			nodes: []*objects.Node{withScalar(sized("n", 10, 20, 32), objects.ResourceEphemeralStorage, 20)}, existing: used(0, 0),
			wantFilter: map[string]string{"n": "Insufficient ephemeral-storage"}},
		{name: "a pod resized down holds its allocated requests until its node agent applies the resize",
			pod: res("p", [][2]int64{c(3, 1)}), nodes: n, existing: []*objects.Pod{resizedFrom(on(res("used", [][2]int64{c(2, 5)}), "n"), 8, "")},
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "a pod resized up holds its new requests", pod: res("p", [][2]int64{c(3, 1)}), nodes: n,
			existing:   []*objects.Pod{resizedFrom(on(res("used", [][2]int64{c(8, 5)}), "n"), 2, objects.PodReasonDeferred)},
			wantFilter: map[string]string{"n": "Insufficient cpu"}},
		{name: "an Infeasible resize holds only what is allocated", pod: res("p", [][2]int64{c(3, 1)}), nodes: n,
			existing:   []*objects.Pod{resizedFrom(on(res("used", [][2]int64{c(20, 5)}), "n"), 2, objects.PodReasonInfeasible)},
			wantFilter: fits("n")},
	}
	runPluginCases(t, NewNodeResourcesFit(LeastAllocated), cases)
}

// resizedFrom makes p a pod being resized from cpu milli-cpu (its status'
// allocated request) to its spec's, PodResizePending with reason pending
// when set.
func resizedFrom(p *objects.Pod, cpu int64, pending string) *objects.Pod {
	c := &p.Spec.Containers[0]
	alloc := objects.ResourceList{objects.ResourceCPU: objects.NewMilliQuantity(cpu, objects.DecimalSI),
		objects.ResourceMemory: c.Resources.Requests[objects.ResourceMemory]}
	p.Status.ContainerStatuses = []objects.ContainerStatus{{Name: c.Name, AllocatedResources: alloc,
		Resources: &objects.ResourceRequirements{Requests: alloc}}}
	if pending != "" {
		p.Status.Conditions = append(p.Status.Conditions, objects.PodCondition{Type: objects.PodResizePending, Status: objects.ConditionTrue, Reason: pending})
	}
	return p
}

// withOverhead gives p an overhead of milli-cpu and memory bytes, as its
// RuntimeClass's admission would.
func withOverhead(p *objects.Pod, cpu, mem int64) *objects.Pod {
	p.Spec.Overhead = objects.ResourceList{
		objects.ResourceCPU:    objects.NewMilliQuantity(cpu, objects.DecimalSI),
		objects.ResourceMemory: objects.NewQuantity(mem, objects.BinarySI),
	}
	return p
}

func withExtended(p *objects.Pod, name objects.ResourceName, v int64) *objects.Pod {
	p.Spec.Containers[0].Resources.Requests[name] = objects.NewQuantity(v, objects.DecimalSI)
	return p
}

func withScalar(n *objects.Node, name objects.ResourceName, v int64) *objects.Node {
	n.Status.Allocatable[name] = objects.NewQuantity(v, objects.DecimalSI)
	return n
}

// Kubernetes' least_allocated_test.go.
func TestLeastAllocatedScore(t *testing.T) {
	two := []*objects.Node{sized("node1", 4000, 10000, 110), sized("node2", 4000, 10000, 110)}
	diff := []*objects.Node{sized("node1", 4000, 10000, 110), sized("node2", 6000, 10000, 110)}
	runPluginCases(t, NewNodeResourcesFit(LeastAllocated), []pluginCase{
		// Node1 and node2: cpu 100% free, memory 100% free: 100.
		{name: "nothing scheduled, nothing requested", pod: res("p", nil), nodes: two,
			wantScore: map[string]int64{"node1": 100, "node2": 100}},
		// A container without requests counts as 100m and 200Mi when
		// scoring: cpu (4000-100)*100/4000=97, and 200Mi is more than these
		// nodes' 10000 bytes: 0. (97+0)/2=48.
		{name: "a container without requests counts at the defaults", pod: res("p", [][2]int64{c(-1, -1)}), nodes: two,
			wantScore: map[string]int64{"node1": 48, "node2": 48}},
		// Node1 cpu (4000-3000)*100/4000=25, memory (10000-5000)*100/10000=50 -> 37.
		// Node2 cpu (6000-3000)*100/6000=50, memory 50 -> 50.
		{name: "nothing scheduled, resources requested, differently sized nodes", pod: res("p", [][2]int64{c(1000, 2000), c(2000, 3000)}), nodes: diff,
			wantScore: map[string]int64{"node1": 37, "node2": 50}},
		// Node1: cpu (10000-6000)*100/10000=40, memory (20000-5000)*100/20000=75 -> 57.
		// Node2: cpu 40, memory (50000-10000)*100/50000=80 -> 60.
		{name: "resources requested, pods scheduled with resources", pod: res("p", [][2]int64{c(1000, 2000), c(2000, 3000)}),
			nodes:     []*objects.Node{sized("node1", 10000, 20000, 110), sized("node2", 10000, 50000, 110)},
			existing:  []*objects.Pod{on(res("e1", [][2]int64{c(1000, 0), c(2000, 0)}), "node1"), on(res("e2", [][2]int64{c(1000, 2000), c(2000, 3000)}), "node2")},
			wantScore: map[string]int64{"node1": 57, "node2": 60}},
	})
}

// Kubernetes' most_allocated_test.go.
func TestMostAllocatedScore(t *testing.T) {
	diff := []*objects.Node{sized("node1", 4000, 10000, 110), sized("node2", 6000, 10000, 110)}
	runPluginCases(t, NewNodeResourcesFit(MostAllocated), []pluginCase{
		// Node1 cpu 3000*100/4000=75, memory 5000*100/10000=50 -> 62.
		// Node2 cpu 3000*100/6000=50, memory 50 -> 50.
		{name: "nothing scheduled, resources requested, differently sized nodes", pod: res("p", [][2]int64{c(1000, 2000), c(2000, 3000)}), nodes: diff,
			wantScore: map[string]int64{"node1": 62, "node2": 50}},
		// Node1 cpu 6000*100/10000=60, memory 5000*100/20000=25 -> 42.
		// Node2 cpu 6000*100/10000=60, memory 8000*100/20000=40 -> 50.
		{name: "resources requested, pods scheduled with resources", pod: res("p", [][2]int64{c(1000, 2000), c(2000, 3000)}),
			nodes:     []*objects.Node{sized("node1", 10000, 20000, 110), sized("node2", 10000, 20000, 110)},
			existing:  []*objects.Pod{on(res("e1", [][2]int64{c(3000, 0)}), "node1"), on(res("e2", [][2]int64{c(3000, 3000)}), "node2")},
			wantScore: map[string]int64{"node1": 42, "node2": 50}},
		{name: "requested beyond capacity counts as full", pod: res("p", [][2]int64{c(5000, 5000)}), nodes: []*objects.Node{sized("node1", 4000, 10000, 110)},
			wantScore: map[string]int64{"node1": 75}},
	})
}

// Kubernetes' balanced_allocation_test.go.
func TestBalancedAllocationScore(t *testing.T) {
	diff := []*objects.Node{sized("node1", 4000, 10000, 110), sized("node2", 6000, 10000, 110)}
	runPluginCases(t, NewBalancedAllocation(), []pluginCase{
		// Node1 fractions 3000/4000=0.75, 5000/10000=0.5: std 0.125 -> 87.
		// Node2 0.5, 0.5: std 0 -> 100.
		{name: "nothing scheduled, resources requested, differently sized nodes", pod: res("p", [][2]int64{c(1000, 2000), c(2000, 3000)}), nodes: diff,
			wantScore: map[string]int64{"node1": 87, "node2": 100}},
		// Node1 fractions 6000/10000=0.6, 5000/20000=0.25: std 0.175 -> 82.
		// Node2 0.6, 8000/20000=0.4: std 0.1 -> 90.
		{name: "resources requested, pods scheduled with resources", pod: res("p", [][2]int64{c(1000, 2000), c(2000, 3000)}),
			nodes:     []*objects.Node{sized("node1", 10000, 20000, 110), sized("node2", 10000, 20000, 110)},
			existing:  []*objects.Pod{on(res("e1", [][2]int64{c(3000, 0)}), "node1"), on(res("e2", [][2]int64{c(3000, 3000)}), "node2")},
			wantScore: map[string]int64{"node1": 82, "node2": 90}},
		{name: "fractions above one count as one", pod: res("p", [][2]int64{c(8000, 5000)}), nodes: []*objects.Node{sized("node1", 4000, 10000, 110)},
			wantScore: map[string]int64{"node1": 75}},
		// A best-effort pod is skipped (Kubernetes issue 129138): scored, it
		// would give node2 100 and node1 (0.3, 0) 85.
		{name: "a pod requesting neither cpu nor memory is not scored", pod: res("p", [][2]int64{c(-1, -1)}),
			nodes:     []*objects.Node{sized("node1", 10000, 20000, 110), sized("node2", 10000, 20000, 110)},
			existing:  []*objects.Pod{on(res("e1", [][2]int64{c(3000, 0)}), "node1")},
			wantScore: map[string]int64{"node1": 0, "node2": 0}},
	})
}

// A best-effort pod goes where NodeResourcesFit alone sends it: to b, with
// more memory left, not to a, whose cpu and memory are equally used.
func TestBestEffortPodNotScoredByBalance(t *testing.T) {
	s := newStore(t)
	create(t, s, makeNode("a", "4", "4Gi"), makeNode("b", "4", "4Gi"))
	create(t, s, makePod("fa", "3", "3Gi", onNode("a")), makePod("fb", "3", "", onNode("b")))
	run(t, s)
	create(t, s, makePod("be", "", ""))
	require.Equal(t, "b", waitBound(t, s, "be").Spec.NodeName)
}
