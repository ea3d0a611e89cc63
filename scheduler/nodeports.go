package scheduler

const reasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// NewNodePorts returns the NodePorts filter: a pod asking for host ports
// fits only on a node where no pod binds them already (same port and
// protocol, and the same address or either one a wildcard).
func NewNodePorts() Plugin { return nodePorts{} }

type nodePorts struct{}

var statusNodePorts = monotoneStatus(Unschedulable, reasonNodePorts)

func (nodePorts) Name() string { return "NodePorts" }

func (nodePorts) Locality() Locality { return LocalityNode }

func (nodePorts) PreFilter(_ *Snapshot, pod *PodInfo) (any, *Status) {
	if len(pod.ports) == 0 {
		return nil, statusSkip
	}
	return nil, nil
}

var statusSkip = NewStatus(Skip)

func (nodePorts) Filter(_ any, pod *PodInfo, node *NodeInfo) *Status {
	for _, want := range pod.ports {
		for _, have := range node.ports {
			if want.conflicts(have) {
				return statusNodePorts
			}
		}
	}
	return nil
}
