package scheduler

import (
	"maps"

	"github.com/podkit/podkit/objects"
)

// Kubernetes' well-known topology labels.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelZone     = "topology.kubernetes.io/zone"
	LabelRegion   = "topology.kubernetes.io/region"
)

// What a container without a cpu or memory request counts as when nodes
// are scored, as in Kubernetes: scoring would otherwise pile such pods onto
// one node.
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// defaultMaxPods is what a node whose allocatable names no pod count
// allows: a kubelet's default.
const defaultMaxPods = 110

// Resources are amounts of resources as the scheduler compares them: cpu
// in millicores, the others in their base unit (bytes for memory and
// storage, a count for extended resources).
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Pods is a number of pods: the pods on a node in requested amounts,
	// the pods allowed in allocatable ones.
	Pods int64
	// Scalar holds extended resources ("example.com/gpu") and hugepages.
	Scalar map[objects.ResourceName]int64
}

func (r *Resources) add(o *Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	for name, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[objects.ResourceName]int64{}
		}
		r.Scalar[name] += v
	}
}

func (r *Resources) sub(o *Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
	for name, v := range o.Scalar {
		if r.Scalar != nil {
			r.Scalar[name] -= v
		}
	}
}

// Get returns the amount of one resource.
func (r *Resources) Get(name objects.ResourceName) int64 {
	switch name {
	case objects.ResourceCPU:
		return r.MilliCPU
	case objects.ResourceMemory:
		return r.Memory
	case objects.ResourceEphemeralStorage:
		return r.EphemeralStorage
	case objects.ResourcePods:
		return r.Pods
	}
	return r.Scalar[name]
}

func (r *Resources) set(name objects.ResourceName, v int64) {
	switch name {
	case objects.ResourceCPU:
		r.MilliCPU = v
	case objects.ResourceMemory:
		r.Memory = v
	case objects.ResourceEphemeralStorage:
		r.EphemeralStorage = v
	case objects.ResourcePods:
		r.Pods = v
	default:
		if r.Scalar == nil {
			r.Scalar = map[objects.ResourceName]int64{}
		}
		r.Scalar[name] = v
	}
}

// quantityValue converts a quantity to the scheduler's unit for name.
func quantityValue(name objects.ResourceName, q objects.Quantity) int64 {
	if name == objects.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// resourcesOf converts a resource list.
func resourcesOf(l objects.ResourceList) Resources {
	var r Resources
	for name, q := range l {
		r.set(name, quantityValue(name, q))
	}
	return r
}

// podRequests computes a pod's requests as Kubernetes does: for each
// resource the larger of what runs for the pod's life, the containers and
// sidecars summed, and the most an init container needs beside the
// sidecars started before it, or the pod-level requests (spec.resources)
// of the resources they set, plus the pod's overhead (spec.overhead, from
// its RuntimeClass); Pods is 1. nonZeroCPU and nonZeroMem count a
// container that requests no cpu or memory as DefaultMilliCPURequest and
// DefaultMemoryRequest, for scoring.
func podRequests(spec *objects.PodSpec) (req Resources, nonZeroCPU, nonZeroMem int64) {
	for i := range spec.Containers {
		nonZeroCPU, nonZeroMem = addRequests(&req, &spec.Containers[i], nonZeroCPU, nonZeroMem)
	}
	if len(spec.InitContainers) > 0 {
		var sidecars, most Resources
		var sideCPU, sideMem, mostCPU, mostMem int64
		for i := range spec.InitContainers {
			c := &spec.InitContainers[i]
			need, cpu, mem := &sidecars, int64(0), int64(0)
			if c.IsSidecar() {
				nonZeroCPU, nonZeroMem = addRequests(&req, c, nonZeroCPU, nonZeroMem)
				sideCPU, sideMem = addRequests(&sidecars, c, sideCPU, sideMem)
				cpu, mem = sideCPU, sideMem
			} else {
				r := sidecars
				r.Scalar = maps.Clone(sidecars.Scalar)
				cpu, mem = addRequests(&r, c, sideCPU, sideMem)
				need = &r
			}
			most.atLeast(need)
			mostCPU, mostMem = max(mostCPU, cpu), max(mostMem, mem)
		}
		req.atLeast(&most)
		nonZeroCPU, nonZeroMem = max(nonZeroCPU, mostCPU), max(nonZeroMem, mostMem)
	}
	if pr := spec.Resources; pr != nil {
		// Pod-level requests replace the containers' sums (PodRequests).
		for name, q := range pr.Requests {
			if !objects.IsSupportedPodLevelResource(name) {
				continue
			}
			v := quantityValue(name, q)
			req.set(name, v)
			switch name {
			case objects.ResourceCPU:
				nonZeroCPU = v
			case objects.ResourceMemory:
				nonZeroMem = v
			}
		}
	}
	for name, q := range spec.Overhead {
		v := quantityValue(name, q)
		req.set(name, req.Get(name)+v)
		switch name {
		case objects.ResourceCPU:
			nonZeroCPU += v
		case objects.ResourceMemory:
			nonZeroMem += v
		}
	}
	req.Pods = 1
	return req, nonZeroCPU, nonZeroMem
}

// addRequests adds c's requests to r, and to the non-zero cpu and memory
// counts it returns.
func addRequests(r *Resources, c *objects.Container, nonZeroCPU, nonZeroMem int64) (int64, int64) {
	cpuSet, memSet := false, false
	for name, q := range c.Resources.Requests {
		v := quantityValue(name, q)
		switch name {
		case objects.ResourceCPU:
			cpuSet = true
			nonZeroCPU += v
		case objects.ResourceMemory:
			memSet = true
			nonZeroMem += v
		}
		r.set(name, r.Get(name)+v)
	}
	if !cpuSet {
		nonZeroCPU += DefaultMilliCPURequest
	}
	if !memSet {
		nonZeroMem += DefaultMemoryRequest
	}
	return nonZeroCPU, nonZeroMem
}

// atLeast raises each amount of r to o's where o's is larger.
func (r *Resources) atLeast(o *Resources) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.Pods = max(r.Pods, o.Pods)
	for name, v := range o.Scalar {
		if v > r.Scalar[name] {
			r.set(name, v)
		}
	}
}

// hostPort is a port a pod binds on its node.
type hostPort struct {
	ip       string // "" and "0.0.0.0" mean every address
	protocol objects.Protocol
	port     int32
}

func (p hostPort) conflicts(o hostPort) bool {
	if p.port != o.port || p.protocol != o.protocol {
		return false
	}
	return p.ip == o.ip || isWildcard(p.ip) || isWildcard(o.ip)
}

func isWildcard(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }

func podHostPorts(spec *objects.PodSpec) []hostPort {
	var out []hostPort
	for i := range spec.Containers {
		for _, p := range spec.Containers[i].Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = objects.ProtocolTCP
			}
			out = append(out, hostPort{ip: p.HostIP, protocol: proto, port: p.HostPort})
		}
	}
	return out
}

// PodInfo is what the scheduler knows of a pod: for the pod being scheduled
// its whole object, for pods in the snapshot only the fields placement
// depends on. It is read-only for plugins.
type PodInfo struct {
	pod       *objects.Pod
	namespace string
	name      string
	uid       string
	labels    map[string]string // shared with other pods with the same labels; never modified

	requests   Resources
	nonZeroCPU int64
	nonZeroMem int64
	ports      []hostPort
	claims     []string  // names of the persistentVolumeClaims it uses
	terms      *podTerms // nil when the pod has no pod (anti-)affinity

	// The small fields side by side: a snapshot holds a PodInfo per pod.
	priority         int32
	preemptNever     bool
	terminating      bool
	evicting         bool // a preemption's victim, not yet seen leaving in the store
	schedulerManaged bool // scheduled by this scheduler, so preemption may pick it
	gracePeriod      int64
	startTime        int64 // unix seconds: status.startTime, else creation
	generation       int64 // metadata.generation: changes with the spec
	// resizing: a resize of the placed pod is in flight, so its requests
	// change with its status too (see objects.ResizeFitSpec).
	resizing bool

	// Where the pod sits in the snapshot.
	node     *NodeInfo
	index    int32 // in node.pods
	assumed  bool  // placed by this scheduler, binding not yet seen in the store
	reserved bool  // a preemptor's reservation on its nominated node, not a running pod
}

// Pod returns the pod's object for the pod being scheduled (one pod of a
// group of identical pods), and nil for pods in the snapshot.
// It may be the store's own object (store.Peeker): read it, never modify
// it.
func (p *PodInfo) Pod() *objects.Pod { return p.pod }

// Namespace returns the pod's namespace.
func (p *PodInfo) Namespace() string { return p.namespace }

// Name returns the pod's name.
func (p *PodInfo) Name() string { return p.name }

// UID returns the pod's uid.
func (p *PodInfo) UID() string { return p.uid }

// Labels returns the pod's labels; the caller must not modify them.
func (p *PodInfo) Labels() map[string]string { return p.labels }

// Requests returns what the pod requests; Pods is 1.
func (p *PodInfo) Requests() *Resources { return &p.requests }

// Priority returns the pod's priority (spec.priority, or its
// PriorityClass's value).
func (p *PodInfo) Priority() int32 { return p.priority }

// Terminating reports whether the pod is being deleted.
func (p *PodInfo) Terminating() bool { return p.terminating }

// NodeName returns the node the pod is on in the snapshot, or "".
func (p *PodInfo) NodeName() string {
	if p.node == nil {
		return ""
	}
	return p.node.name
}

// NodeInfo is a node in the snapshot with the pods placed on it. It is
// read-only for plugins.
type NodeInfo struct {
	node   *objects.Node // nil for a node not (or no longer) stored that still has pods
	name   string
	idx    int               // position in the snapshot's node list; -1 when not listed
	labels map[string]string // the node's labels, with kubernetes.io/hostname defaulted to its name

	allocatable      Resources
	requested        Resources
	nonZeroCPU       int64 // requested, counting containers without requests at the defaults
	nonZeroMem       int64
	pods             []*PodInfo
	ports            []hostPort
	withAffinity     int // pods with pod (anti-)affinity terms
	minPriorityDirty bool
	minPriority      int32

	// generation changes whenever the node or its pods change.
	generation uint64
}

// Node returns the Node object. The caller must not modify it.
func (n *NodeInfo) Node() *objects.Node { return n.node }

// Name returns the node's name.
func (n *NodeInfo) Name() string { return n.name }

// Labels returns the node's labels, with kubernetes.io/hostname set to the
// node's name when the node does not carry it, as a kubelet sets it.
func (n *NodeInfo) Labels() map[string]string { return n.labels }

// Allocatable returns what pods may use on the node.
func (n *NodeInfo) Allocatable() *Resources { return &n.allocatable }

// Requested returns the sum of the requests of the pods on the node.
func (n *NodeInfo) Requested() *Resources { return &n.requested }

// NonZeroRequested returns the cpu and memory requested on the node,
// counting containers without requests at DefaultMilliCPURequest and
// DefaultMemoryRequest, as scores count them.
func (n *NodeInfo) NonZeroRequested() (milliCPU, memory int64) { return n.nonZeroCPU, n.nonZeroMem }

// Pods returns the pods on the node; the caller must not modify the slice.
func (n *NodeInfo) Pods() []*PodInfo { return n.pods }

// Generation changes whenever the node or the pods on it change.
func (n *NodeInfo) Generation() uint64 { return n.generation }

// setNode fills the node-derived fields from a Node object.
func (n *NodeInfo) setNode(node *objects.Node) {
	n.node = node
	if _, ok := node.Labels[LabelHostname]; ok {
		n.labels = node.Labels
	} else {
		n.labels = maps.Clone(node.Labels)
		if n.labels == nil {
			n.labels = make(map[string]string, 1)
		}
		n.labels[LabelHostname] = node.Name
	}
	alloc := node.Status.Allocatable
	if alloc == nil {
		alloc = node.Status.Capacity
	}
	n.allocatable = resourcesOf(alloc)
	if _, ok := alloc[objects.ResourcePods]; !ok {
		n.allocatable.Pods = defaultMaxPods
	}
	n.generation++
}

func (n *NodeInfo) addPod(p *PodInfo) {
	p.node = n
	p.index = int32(len(n.pods))
	n.pods = append(n.pods, p)
	n.requested.add(&p.requests)
	n.nonZeroCPU += p.nonZeroCPU
	n.nonZeroMem += p.nonZeroMem
	n.ports = append(n.ports, p.ports...)
	if p.terms != nil {
		n.withAffinity++
	}
	if len(n.pods) == 1 {
		n.minPriority, n.minPriorityDirty = p.priority, false
	} else if p.priority < n.minPriority {
		n.minPriority = p.priority
	}
	n.generation++
}

func (n *NodeInfo) removePod(p *PodInfo) {
	last := len(n.pods) - 1
	n.pods[p.index] = n.pods[last]
	n.pods[p.index].index = p.index
	n.pods[last] = nil
	n.pods = n.pods[:last]
	n.requested.sub(&p.requests)
	n.nonZeroCPU -= p.nonZeroCPU
	n.nonZeroMem -= p.nonZeroMem
	for _, hp := range p.ports {
		for i, have := range n.ports {
			if have == hp {
				n.ports = append(n.ports[:i], n.ports[i+1:]...)
				break
			}
		}
	}
	if p.terms != nil {
		n.withAffinity--
	}
	if p.priority == n.minPriority {
		n.minPriorityDirty = true
	}
	p.node = nil
	n.generation++
}

// lowestPriority returns the lowest priority of the pods on the node, and
// false when it has none.
func (n *NodeInfo) lowestPriority() (int32, bool) {
	if len(n.pods) == 0 {
		return 0, false
	}
	if n.minPriorityDirty {
		n.minPriority = n.pods[0].priority
		for _, p := range n.pods[1:] {
			n.minPriority = min(n.minPriority, p.priority)
		}
		n.minPriorityDirty = false
	}
	return n.minPriority, true
}

func objectsKey(p *PodInfo) objects.Key { return objects.Key{Namespace: p.namespace, Name: p.name} }
