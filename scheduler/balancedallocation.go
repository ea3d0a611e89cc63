package scheduler

import "math"

// NewBalancedAllocation returns the NodeResourcesBalancedAllocation score:
// it prefers nodes where, with the pod, the fractions of each resource in
// use (default cpu and memory) are closest to each other, so no resource
// runs out while others sit idle. A pod that requests none of them is not
// scored.
func NewBalancedAllocation(resources ...ResourceWeight) Plugin {
	if len(resources) == 0 {
		resources = defaultResources
	}
	return &balancedAllocation{resources: resources}
}

type balancedAllocation struct {
	resources []ResourceWeight
}

func (*balancedAllocation) Name() string { return "NodeResourcesBalancedAllocation" }

func (*balancedAllocation) Locality() Locality { return LocalityNode }

// PreFilter skips a pod that requests none of the resources, as
// Kubernetes' PreScore does: such a pod changes no node's balance, so
// every one of them would go to the node that is best balanced already
// (Kubernetes issue 129138).
func (b *balancedAllocation) PreFilter(_ *Snapshot, pod *PodInfo) (any, *Status) {
	for _, rw := range b.resources {
		if pod.requests.Get(rw.Name) != 0 {
			return nil, nil
		}
	}
	return nil, statusSkip
}

func (b *balancedAllocation) Score(_ any, pod *PodInfo, node *NodeInfo) int64 {
	var fractions [8]float64
	n := 0
	var total float64
	for _, rw := range b.resources {
		alloc := node.allocatable.Get(rw.Name)
		if alloc == 0 {
			continue
		}
		f := float64(node.requested.Get(rw.Name)+pod.requests.Get(rw.Name)) / float64(alloc)
		f = min(f, 1)
		total += f
		if n < len(fractions) {
			fractions[n] = f
			n++
		}
	}
	var std float64
	switch {
	case n == 2:
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	case n > 2:
		mean := total / float64(n)
		var sum float64
		for _, f := range fractions[:n] {
			sum += (f - mean) * (f - mean)
		}
		std = math.Sqrt(sum / float64(n))
	}
	return int64((1 - std) * float64(MaxNodeScore))
}
