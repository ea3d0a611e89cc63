package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

// Kubernetes' node_unschedulable_test.go.
func TestNodeUnschedulable(t *testing.T) {
	tolerating := makePod("p", "", "", tolerate(objects.Toleration{Key: objects.TaintNodeUnschedulable,
		Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule}))
	cordon := makeNode("n", "1", "1Gi", cordoned())
	runPluginCases(t, NewNodeUnschedulable(), []pluginCase{
		{name: "Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)", pod: pod("p"),
			nodes: []*objects.Node{cordon}, wantFilter: map[string]string{"n": "node(s) were unschedulable"}, wantCode: UnschedulableAndUnresolvable},
		{name: "Schedule pod to normal node", pod: pod("p"), nodes: []*objects.Node{node("n")}, wantFilter: fits("n")},
		{name: "Schedule pod with toleration to unschedulable node (node.Spec.Unschedulable==true)", pod: tolerating,
			nodes: []*objects.Node{cordon}, wantFilter: fits("n")},
	})
}
