package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

func withSelector(kv ...string) *objects.Pod { return makePod("p", "", "", nodeSelector(kv...)) }

// required returns a pod whose required node affinity has these terms.
func required(terms ...objects.NodeSelectorTerm) *objects.Pod {
	p := pod("p")
	p.Spec.Affinity = &objects.Affinity{NodeAffinity: &objects.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &objects.NodeSelector{NodeSelectorTerms: terms}}}
	return p
}

func expr(key string, op objects.NodeSelectorOperator, values ...string) objects.NodeSelectorRequirement {
	return objects.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func term(exprs ...objects.NodeSelectorRequirement) objects.NodeSelectorTerm {
	return objects.NodeSelectorTerm{MatchExpressions: exprs}
}

// Kubernetes' node_affinity_test.go (TestNodeAffinity).
func TestNodeAffinityFilter(t *testing.T) {
	const no = reasonNodeAffinity
	foo := node("n", "foo", "bar")
	cases := []pluginCase{
		{name: "no selector", pod: pod("p"), nodes: []*objects.Node{foo}, wantFilter: fits("n")},
		{name: "missing labels", pod: withSelector("foo", "bar"), nodes: []*objects.Node{node("n")},
			wantFilter: map[string]string{"n": no}, wantCode: UnschedulableAndUnresolvable},
		{name: "same labels", pod: withSelector("foo", "bar"), nodes: []*objects.Node{foo}, wantFilter: fits("n")},
		{name: "node labels are superset", pod: withSelector("foo", "bar"), nodes: []*objects.Node{node("n", "foo", "bar", "baz", "blah")}, wantFilter: fits("n")},
		{name: "node labels are subset", pod: withSelector("foo", "bar", "baz", "blah"), nodes: []*objects.Node{foo}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with matchExpressions using In operator that matches the existing node",
			pod: required(term(expr("foo", objects.NodeSelectorOpIn, "bar", "value2"))), nodes: []*objects.Node{foo}, wantFilter: fits("n")},
		{name: "Pod with matchExpressions using Gt operator that matches the existing node",
			pod: required(term(expr("kernel-version", objects.NodeSelectorOpGt, "0204"))), nodes: []*objects.Node{node("n", "kernel-version", "0206")}, wantFilter: fits("n")},
		{name: "Pod with matchExpressions using NotIn operator that matches the existing node",
			pod: required(term(expr("mem-type", objects.NodeSelectorOpNotIn, "DDR", "DDR2"))), nodes: []*objects.Node{node("n", "mem-type", "DDR3")}, wantFilter: fits("n")},
		{name: "Pod with matchExpressions using Exists operator that matches the existing node",
			pod: required(term(expr("GPU", objects.NodeSelectorOpExists))), nodes: []*objects.Node{node("n", "GPU", "NVIDIA-GRID-K1")}, wantFilter: fits("n")},
		{name: "Pod with affinity that don't match node's labels won't schedule onto the node",
			pod: required(term(expr("foo", objects.NodeSelectorOpIn, "value1", "value2"))), nodes: []*objects.Node{foo}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with a nil []NodeSelectorTerm in affinity, can't match the node's labels and won't schedule onto the node",
			pod: required(), nodes: []*objects.Node{foo}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with an empty []NodeSelectorTerm in affinity, can't match the node's labels and won't schedule onto the node",
			pod: required(term()), nodes: []*objects.Node{foo}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with no Affinity will schedule onto a node", pod: pod("p"), nodes: []*objects.Node{foo}, wantFilter: fits("n")},
		{name: "Pod with multiple matchExpressions ANDed that matches the existing node",
			pod:   required(term(expr("GPU", objects.NodeSelectorOpExists), expr("GPU", objects.NodeSelectorOpNotIn, "AMD", "INTER"))),
			nodes: []*objects.Node{node("n", "GPU", "NVIDIA-GRID-K1")}, wantFilter: fits("n")},
		{name: "Pod with multiple matchExpressions ANDed that doesn't match the existing node",
			pod:   required(term(expr("GPU", objects.NodeSelectorOpExists), expr("GPU", objects.NodeSelectorOpIn, "AMD", "INTER"))),
			nodes: []*objects.Node{node("n", "GPU", "NVIDIA-GRID-K1")}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will schedule onto the node",
			pod: required(term(expr("foo", objects.NodeSelectorOpIn, "bar", "value2")),
				term(expr("diffkey", objects.NodeSelectorOpIn, "wrong", "value2"))),
			nodes: []*objects.Node{foo}, wantFilter: fits("n")},
		{name: "Pod with an Affinity and a PodSpec.NodeSelector(the old thing that we are deprecating) both are satisfied, will schedule onto the node",
			pod: func() *objects.Pod {
				p := required(term(expr("foo", objects.NodeSelectorOpExists)))
				p.Spec.NodeSelector = map[string]string{"foo": "bar"}
				return p
			}(), nodes: []*objects.Node{foo}, wantFilter: fits("n")},
		{name: "Pod with an Affinity matches node's labels but the PodSpec.NodeSelector(the old thing that we are deprecating) is not satisfied, won't schedule onto the node",
			pod: func() *objects.Pod {
				p := required(term(expr("foo", objects.NodeSelectorOpExists)))
				p.Spec.NodeSelector = map[string]string{"foo": "bar"}
				return p
			}(), nodes: []*objects.Node{node("n", "foo", "barrrrrr")}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with Lt requirement and a label that is not a number does not match",
			pod: required(term(expr("kernel-version", objects.NodeSelectorOpLt, "3"))), nodes: []*objects.Node{node("n", "kernel-version", "v2")}, wantFilter: map[string]string{"n": no}},
		{name: "Pod with matchFields using In operator that matches the existing node",
			pod:   required(objects.NodeSelectorTerm{MatchFields: []objects.NodeSelectorRequirement{expr("metadata.name", objects.NodeSelectorOpIn, "node1")}}),
			nodes: []*objects.Node{node("node1"), node("node2")}, wantFilter: map[string]string{"node1": "", "node2": no}},
		{name: "Pod with two terms: both matchFields and matchExpressions do not match all requirements",
			pod: required(objects.NodeSelectorTerm{
				MatchFields:      []objects.NodeSelectorRequirement{expr("metadata.name", objects.NodeSelectorOpIn, "node1")},
				MatchExpressions: []objects.NodeSelectorRequirement{expr("foo", objects.NodeSelectorOpIn, "bar")}}),
			nodes: []*objects.Node{node("node1"), node("node2", "foo", "bar")}, wantFilter: map[string]string{"node1": no, "node2": no}},
		{name: "DoesNotExist operator",
			pod: required(term(expr("GPU", objects.NodeSelectorOpDoesNotExist))), nodes: []*objects.Node{node("a", "GPU", "x"), node("b")},
			wantFilter: map[string]string{"a": no, "b": ""}},
		{name: "the hostname label is there even when the node does not carry it",
			pod: withSelector(LabelHostname, "bare"), nodes: []*objects.Node{func() *objects.Node { n := node("bare"); delete(n.Labels, LabelHostname); return n }()},
			wantFilter: fits("bare")},
	}
	runPluginCases(t, NewNodeAffinity(), cases)
}

func preferred(terms ...objects.PreferredSchedulingTerm) *objects.Pod {
	p := pod("p")
	p.Spec.Affinity = &objects.Affinity{NodeAffinity: &objects.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}}
	return p
}

// Kubernetes' node_affinity_test.go (TestNodeAffinityPriority).
func TestNodeAffinityScore(t *testing.T) {
	affinity1 := []objects.PreferredSchedulingTerm{{Weight: 2, Preference: term(expr("foo", objects.NodeSelectorOpIn, "bar"))}}
	affinity2 := []objects.PreferredSchedulingTerm{
		{Weight: 2, Preference: term(expr("foo", objects.NodeSelectorOpIn, "bar"))},
		{Weight: 4, Preference: term(expr("key", objects.NodeSelectorOpIn, "value"))},
		{Weight: 5, Preference: term(
			expr("foo", objects.NodeSelectorOpIn, "bar"),
			expr("key", objects.NodeSelectorOpIn, "value"),
			expr("az", objects.NodeSelectorOpIn, "az1"))},
	}
	label1 := []string{"foo", "bar"}
	label2 := []string{"key", "value"}
	label3 := []string{"az", "az1"}
	label4 := []string{"abc", "az11", "def", "az22"}
	label5 := []string{"foo", "bar", "key", "value", "az", "az1"}
	runPluginCases(t, NewNodeAffinity(), []pluginCase{
		{name: "all nodes are same priority as NodeAffinity is nil", pod: pod("p"),
			nodes:     []*objects.Node{node("node1", label1...), node("node2", label2...), node("node3", label3...)},
			wantScore: map[string]int64{"node1": 0, "node2": 0, "node3": 0}},
		{name: "no node matches preferred scheduling requirements in NodeAffinity of pod so all nodes' priority is zero",
			pod:       preferred(affinity1...),
			nodes:     []*objects.Node{node("node1", label4...), node("node2", label2...), node("node3", label3...)},
			wantScore: map[string]int64{"node1": 0, "node2": 0, "node3": 0}},
		{name: "only node1 matches the preferred scheduling requirements of pod",
			pod:       preferred(affinity1...),
			nodes:     []*objects.Node{node("node1", label1...), node("node2", label2...), node("node3", label3...)},
			wantScore: map[string]int64{"node1": 100, "node2": 0, "node3": 0}},
		{name: "all nodes matches the preferred scheduling requirements of pod but with different priorities",
			pod:       preferred(affinity2...),
			nodes:     []*objects.Node{node("node1", label1...), node("node5", label5...), node("node2", label2...)},
			wantScore: map[string]int64{"node1": 18, "node5": 100, "node2": 36}},
	})
}
