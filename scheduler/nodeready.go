package scheduler

import "github.com/podkit/podkit/objects"

// NewNodeReady returns the NodeReady filter. A node whose Ready condition
// is False takes only pods that tolerate the
// node.kubernetes.io/not-ready:NoSchedule taint, and one whose Ready
// condition is Unknown only pods that tolerate
// node.kubernetes.io/unreachable:NoSchedule: the taints Kubernetes' node
// lifecycle controller puts on such nodes, so the message is the same
// ("node(s) had untolerated taint {node.kubernetes.io/not-ready: }"). A
// node that has not reported a Ready condition yet is not rejected: its node
// agent has just registered it.
func NewNodeReady() Plugin { return nodeReady{} }

type nodeReady struct{}

var (
	notReadyTaint    = objects.Taint{Key: objects.TaintNodeNotReady, Effect: objects.TaintEffectNoSchedule}
	unreachableTaint = objects.Taint{Key: objects.TaintNodeUnreachable, Effect: objects.TaintEffectNoSchedule}
	statusNotReady   = untoleratedTaint(objects.TaintNodeNotReady, "")
	statusUnreach    = untoleratedTaint(objects.TaintNodeUnreachable, "")
)

func (nodeReady) Name() string { return "NodeReady" }

func (nodeReady) Locality() Locality { return LocalityNodeObject }

func (nodeReady) Filter(_ any, pod *PodInfo, node *NodeInfo) *Status {
	switch nodeReadiness(node.node) {
	case objects.ConditionFalse:
		if !objects.TolerationsTolerateTaint(pod.pod.Spec.Tolerations, &notReadyTaint) {
			return statusNotReady
		}
	case objects.ConditionUnknown:
		if !objects.TolerationsTolerateTaint(pod.pod.Spec.Tolerations, &unreachableTaint) {
			return statusUnreach
		}
	}
	return nil
}
