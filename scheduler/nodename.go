package scheduler

// Reasons of NodeName and NodeUnschedulable, as Kubernetes words them.
const (
	reasonNodeName      = "node(s) didn't match the requested node name"
	reasonUnschedulable = "node(s) were unschedulable"
)

// NewNodeName returns the NodeName filter: a pod naming a node in
// spec.nodeName fits only there.
func NewNodeName() Plugin { return nodeName{} }

type nodeName struct{}

var statusNodeName = NewStatus(UnschedulableAndUnresolvable, reasonNodeName)

func (nodeName) Name() string { return "NodeName" }

func (nodeName) Locality() Locality { return LocalityNodeObject }

func (nodeName) Filter(_ any, pod *PodInfo, node *NodeInfo) *Status {
	if want := pod.pod.Spec.NodeName; want != "" && want != node.name {
		return statusNodeName
	}
	return nil
}
