package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

func TestNodeReady(t *testing.T) {
	notReady := makeNode("down", "1", "1Gi", withReady(objects.ConditionFalse))
	unknown := makeNode("lost", "1", "1Gi", withReady(objects.ConditionUnknown))
	ready := makeNode("up", "1", "1Gi", withReady(objects.ConditionTrue))
	fresh := makeNode("new", "1", "1Gi")
	all := []*objects.Node{notReady, unknown, ready, fresh}
	runPluginCases(t, NewNodeReady(), []pluginCase{
		{name: "not ready and unreachable nodes are rejected as their taints would; a node without a Ready condition yet is not",
			pod: pod("p"), nodes: all, wantCode: UnschedulableAndUnresolvable,
			wantFilter: map[string]string{
				"down": "node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
				"lost": "node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
				"up":   "", "new": "",
			}},
		{name: "a pod tolerating the not-ready taint fits a not-ready node",
			pod:        tolerations(objects.Toleration{Key: objects.TaintNodeNotReady, Operator: objects.TolerationOpExists, Effect: objects.TaintEffectNoSchedule}),
			nodes:      all,
			wantFilter: map[string]string{"down": "", "lost": "node(s) had untolerated taint {node.kubernetes.io/unreachable: }", "up": "", "new": ""}},
		{name: "a pod tolerating everything fits everywhere",
			pod:        tolerations(objects.Toleration{Operator: objects.TolerationOpExists}),
			nodes:      all,
			wantFilter: fits("down", "lost", "up", "new")},
	})
}
