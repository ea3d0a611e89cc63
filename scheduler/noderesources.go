package scheduler

import (
	"github.com/podkit/podkit/objects"
)

// ScoringStrategy chooses how NodeResourcesFit ranks the nodes a pod fits
// on.
type ScoringStrategy string

// Scoring strategies, as Kubernetes names them.
const (
	// LeastAllocated prefers the nodes with the most free resources left:
	// pods spread out. The default.
	LeastAllocated ScoringStrategy = "LeastAllocated"
	// MostAllocated prefers the fullest nodes that still fit: pods are
	// packed onto few nodes (bin packing).
	MostAllocated ScoringStrategy = "MostAllocated"
)

// ResourceWeight is a resource a score looks at and its weight.
type ResourceWeight struct {
	Name   objects.ResourceName
	Weight int64
}

// defaultResources are the resources scores weigh unless told otherwise.
var defaultResources = []ResourceWeight{{objects.ResourceCPU, 1}, {objects.ResourceMemory, 1}}

// NewNodeResourcesFit returns the NodeResourcesFit plugin. As a filter it
// keeps the nodes whose allocatable resources minus the requests of their
// pods cover the pod's requests ("Insufficient cpu"), with room for one
// more pod ("Too many pods"). As a score it ranks them by strategy over the
// given resources (default cpu and memory, weight 1 each). Containers
// without a cpu or memory request count as DefaultMilliCPURequest and
// DefaultMemoryRequest when scoring.
func NewNodeResourcesFit(strategy ScoringStrategy, resources ...ResourceWeight) Plugin {
	if len(resources) == 0 {
		resources = defaultResources
	}
	if strategy == "" {
		strategy = LeastAllocated
	}
	return &nodeResourcesFit{strategy: strategy, resources: resources}
}

type nodeResourcesFit struct {
	strategy  ScoringStrategy
	resources []ResourceWeight
}

var statusTooManyPods = monotoneStatus(Unschedulable, "Too many pods")

func (*nodeResourcesFit) Name() string { return "NodeResourcesFit" }

func (*nodeResourcesFit) Locality() Locality { return LocalityNode }

func (*nodeResourcesFit) Filter(_ any, pod *PodInfo, node *NodeInfo) *Status {
	return fitsRequest(&pod.requests, node)
}

// fitsRequest is Kubernetes' fitsRequest: every resource that falls short,
// in a fixed order.
func fitsRequest(req *Resources, node *NodeInfo) *Status {
	alloc, used := &node.allocatable, &node.requested
	tooMany := int64(len(node.pods))+1 > alloc.Pods
	if req.MilliCPU == 0 && req.Memory == 0 && req.EphemeralStorage == 0 && len(req.Scalar) == 0 {
		if tooMany {
			return statusTooManyPods
		}
		return nil
	}
	cpu := req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU
	mem := req.Memory > 0 && req.Memory > alloc.Memory-used.Memory
	eph := req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage
	var scalars []objects.ResourceName
	for name, v := range req.Scalar {
		if v > 0 && v > alloc.Scalar[name]-used.Scalar[name] {
			scalars = append(scalars, name)
		}
	}
	if !tooMany && !cpu && !mem && !eph && len(scalars) == 0 {
		return nil
	}
	if tooMany && !cpu && !mem && !eph && len(scalars) == 0 {
		return statusTooManyPods
	}
	reasons := make([]string, 0, 4)
	if tooMany {
		reasons = append(reasons, "Too many pods")
	}
	if cpu {
		reasons = append(reasons, "Insufficient cpu")
	}
	if mem {
		reasons = append(reasons, "Insufficient memory")
	}
	if eph {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for _, name := range scalars {
		reasons = append(reasons, "Insufficient "+string(name))
	}
	return monotoneStatus(Unschedulable, reasons...)
}

func (f *nodeResourcesFit) Score(_ any, pod *PodInfo, node *NodeInfo) int64 {
	var score, weights int64
	for _, rw := range f.resources {
		alloc := node.allocatable.Get(rw.Name)
		if alloc == 0 {
			continue
		}
		var req int64
		switch rw.Name {
		case objects.ResourceCPU:
			req = node.nonZeroCPU + pod.nonZeroCPU
		case objects.ResourceMemory:
			req = node.nonZeroMem + pod.nonZeroMem
		default:
			req = node.requested.Get(rw.Name) + pod.requests.Get(rw.Name)
		}
		if f.strategy == MostAllocated {
			score += mostRequestedScore(req, alloc) * rw.Weight
		} else {
			score += leastRequestedScore(req, alloc) * rw.Weight
		}
		weights += rw.Weight
	}
	if weights == 0 {
		return 0
	}
	return score / weights
}

func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * MaxNodeScore / capacity
}

func mostRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	// Pods without requests count at defaults, so requested may exceed
	// capacity.
	requested = min(requested, capacity)
	return requested * MaxNodeScore / capacity
}
