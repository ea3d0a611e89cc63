package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

func tolerations(ts ...objects.Toleration) *objects.Pod {
	p := pod("p")
	p.Spec.Tolerations = ts
	return p
}

func tainted(name string, ts ...objects.Taint) *objects.Node {
	n := node(name)
	n.Spec.Taints = ts
	return n
}

// Kubernetes' taint_toleration_test.go (TestTaintTolerationFilter).
func TestTaintTolerationFilter(t *testing.T) {
	ns := objects.TaintEffectNoSchedule
	cases := []pluginCase{
		{name: "A pod having no tolerations can't be scheduled onto a node with nonempty taints", pod: pod("p"),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "dedicated", Value: "user1", Effect: ns})},
			wantFilter: map[string]string{"n": "node(s) had untolerated taint {dedicated: user1}"}, wantCode: UnschedulableAndUnresolvable},
		{name: "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
			pod:        tolerations(objects.Toleration{Key: "dedicated", Value: "user1", Effect: ns}),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "dedicated", Value: "user1", Effect: ns})},
			wantFilter: fits("n")},
		{name: "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
			pod:        tolerations(objects.Toleration{Key: "dedicated", Operator: objects.TolerationOpEqual, Value: "user2", Effect: ns}),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "dedicated", Value: "user1", Effect: ns})},
			wantFilter: map[string]string{"n": "node(s) had untolerated taint {dedicated: user1}"}},
		{name: "A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints on the node",
			pod:        tolerations(objects.Toleration{Key: "foo", Operator: objects.TolerationOpExists, Effect: ns}),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "foo", Value: "bar", Effect: ns})},
			wantFilter: fits("n")},
		{name: "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, pod can be scheduled onto the node",
			pod: tolerations(
				objects.Toleration{Key: "dedicated", Operator: objects.TolerationOpEqual, Value: "user2", Effect: ns},
				objects.Toleration{Key: "foo", Operator: objects.TolerationOpExists, Effect: ns}),
			nodes: []*objects.Node{tainted("n",
				objects.Taint{Key: "dedicated", Value: "user2", Effect: ns},
				objects.Taint{Key: "foo", Value: "bar", Effect: ns})},
			wantFilter: fits("n")},
		{name: "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match, can't be scheduled onto the node",
			pod:        tolerations(objects.Toleration{Key: "foo", Operator: objects.TolerationOpEqual, Value: "bar", Effect: objects.TaintEffectPreferNoSchedule}),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "foo", Value: "bar", Effect: ns})},
			wantFilter: map[string]string{"n": "node(s) had untolerated taint {foo: bar}"}},
		{name: "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty, and the effect of taint is NoSchedule. Pod can be scheduled onto the node",
			pod:        tolerations(objects.Toleration{Key: "foo", Operator: objects.TolerationOpEqual, Value: "bar"}),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "foo", Value: "bar", Effect: ns})},
			wantFilter: fits("n")},
		{name: "The pod has a toleration that key and value don't match the taint on the node, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
			pod:        tolerations(objects.Toleration{Key: "dedicated", Operator: objects.TolerationOpEqual, Value: "user2", Effect: ns}),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "dedicated", Value: "user1", Effect: objects.TaintEffectPreferNoSchedule})},
			wantFilter: fits("n")},
		{name: "The pod has no toleration, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
			pod:        pod("p"),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "dedicated", Value: "user1", Effect: objects.TaintEffectPreferNoSchedule})},
			wantFilter: fits("n")},
		{name: "NoExecute taints reject too, and the message shows an empty value", pod: pod("p"),
			nodes:      []*objects.Node{tainted("n", objects.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: objects.TaintEffectNoExecute})},
			wantFilter: map[string]string{"n": "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"}},
	}
	runPluginCases(t, NewTaintToleration(), cases)
}

// Kubernetes' taint_toleration_test.go (TestTaintTolerationScore).
func TestTaintTolerationScore(t *testing.T) {
	pref := objects.TaintEffectPreferNoSchedule
	runPluginCases(t, NewTaintToleration(), []pluginCase{
		{name: "node with taints tolerated by the pod, gets a higher score than those node with intolerable taints",
			pod: tolerations(objects.Toleration{Key: "foo", Operator: objects.TolerationOpEqual, Value: "bar", Effect: pref}),
			nodes: []*objects.Node{
				tainted("nodeA", objects.Taint{Key: "foo", Value: "bar", Effect: pref}),
				tainted("nodeB", objects.Taint{Key: "foo", Value: "blah", Effect: pref}),
			},
			wantScore: map[string]int64{"nodeA": 100, "nodeB": 0}},
		{name: "the nodes that all of their taints are tolerated by the pod, get the same score, no matter how many tolerable taints a node has",
			pod: tolerations(
				objects.Toleration{Key: "cpu-type", Operator: objects.TolerationOpEqual, Value: "arm64", Effect: pref},
				objects.Toleration{Key: "disk-type", Operator: objects.TolerationOpEqual, Value: "ssd", Effect: pref}),
			nodes: []*objects.Node{
				tainted("nodeA"),
				tainted("nodeB", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: pref}),
				tainted("nodeC", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: pref}, objects.Taint{Key: "disk-type", Value: "ssd", Effect: pref}),
			},
			wantScore: map[string]int64{"nodeA": 100, "nodeB": 100, "nodeC": 100}},
		{name: "the more intolerable taints a node has, the lower score it gets",
			pod: tolerations(objects.Toleration{Key: "foo", Operator: objects.TolerationOpEqual, Value: "bar", Effect: pref}),
			nodes: []*objects.Node{
				tainted("nodeA"),
				tainted("nodeB", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: pref}),
				tainted("nodeC", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: pref}, objects.Taint{Key: "disk-type", Value: "ssd", Effect: pref}),
			},
			wantScore: map[string]int64{"nodeA": 100, "nodeB": 50, "nodeC": 0}},
		{name: "only taints and tolerations that have effect PreferNoSchedule are checked by prioritize function",
			pod: tolerations(
				objects.Toleration{Key: "cpu-type", Operator: objects.TolerationOpEqual, Value: "arm64", Effect: objects.TaintEffectNoSchedule},
				objects.Toleration{Key: "disk-type", Operator: objects.TolerationOpEqual, Value: "ssd", Effect: objects.TaintEffectNoSchedule}),
			nodes: []*objects.Node{
				tainted("nodeA"),
				tainted("nodeB", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: objects.TaintEffectNoSchedule}),
				tainted("nodeC", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: pref}, objects.Taint{Key: "disk-type", Value: "ssd", Effect: pref}),
			},
			wantScore: map[string]int64{"nodeA": 100, "nodeB": 100, "nodeC": 0}},
		{name: "Default behaviour No taints and tolerations, lands on node with no taints",
			pod: pod("p"),
			nodes: []*objects.Node{
				tainted("nodeA"),
				tainted("nodeB", objects.Taint{Key: "cpu-type", Value: "arm64", Effect: pref}),
			},
			wantScore: map[string]int64{"nodeA": 100, "nodeB": 0}},
	})
}
