package scheduler

import "github.com/podkit/podkit/objects"

// NewNodeUnschedulable returns the NodeUnschedulable filter: a cordoned node
// (spec.unschedulable) takes only pods that tolerate the
// node.kubernetes.io/unschedulable:NoSchedule taint.
func NewNodeUnschedulable() Plugin { return nodeUnschedulable{} }

type nodeUnschedulable struct{}

var (
	statusUnschedulable = NewStatus(UnschedulableAndUnresolvable, reasonUnschedulable)
	unschedulableTaint  = objects.Taint{Key: objects.TaintNodeUnschedulable, Effect: objects.TaintEffectNoSchedule}
)

func (nodeUnschedulable) Name() string { return "NodeUnschedulable" }

func (nodeUnschedulable) Locality() Locality { return LocalityNodeObject }

func (nodeUnschedulable) Filter(_ any, pod *PodInfo, node *NodeInfo) *Status {
	if !node.node.Spec.Unschedulable {
		return nil
	}
	if objects.TolerationsTolerateTaint(pod.pod.Spec.Tolerations, &unschedulableTaint) {
		return nil
	}
	return statusUnschedulable
}
