package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

func sel(key string, op objects.LabelSelectorOperator, values ...string) *objects.LabelSelector {
	return &objects.LabelSelector{MatchExpressions: []objects.LabelSelectorRequirement{{Key: key, Operator: op, Values: values}}}
}

func aterm(s *objects.LabelSelector, topology string, namespaces ...string) objects.PodAffinityTerm {
	return objects.PodAffinityTerm{LabelSelector: s, TopologyKey: topology, Namespaces: namespaces}
}

// withAffinity adds required affinity and anti-affinity terms to p.
func withAffinity(p *objects.Pod, affinity, anti []objects.PodAffinityTerm) *objects.Pod {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &objects.Affinity{}
	}
	if affinity != nil {
		p.Spec.Affinity.PodAffinity = &objects.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: affinity}
	}
	if anti != nil {
		p.Spec.Affinity.PodAntiAffinity = &objects.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: anti}
	}
	return p
}

func withPreferred(p *objects.Pod, affinity, anti []objects.WeightedPodAffinityTerm) *objects.Pod {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &objects.Affinity{}
	}
	if affinity != nil {
		p.Spec.Affinity.PodAffinity = &objects.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: affinity}
	}
	if anti != nil {
		p.Spec.Affinity.PodAntiAffinity = &objects.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: anti}
	}
	return p
}

func terms(ts ...objects.PodAffinityTerm) []objects.PodAffinityTerm { return ts }

// Kubernetes' interpodaffinity filtering_test.go (TestRequiredAffinitySingleNode):
// one node in region r1, zone z11; an existing pod labelled
// service=securityscan runs there unless the case says otherwise.
func TestInterPodAffinityFilterSingleNode(t *testing.T) {
	const (
		noAffinity = reasonAffinityRules
		noAnti     = reasonAntiAffinityRules
		existing   = reasonExistingAntiAffinity
	)
	nodes := []*objects.Node{node("n", "region", "r1", "zone", "z11")}
	secScan := func() []*objects.Pod { return []*objects.Pod{on(pod("e", "service", "securityscan"), "n")} }
	incoming := func() *objects.Pod { return pod("p", "service", "securityscan") }
	in := objects.LabelSelectorOpIn
	cases := []pluginCase{
		{name: "A pod that has no required pod affinity scheduling rules can schedule onto a node with no existing pods",
			pod: pod("p"), nodes: nodes, wantFilter: fits("n")},
		{name: "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator that matches the existing pod",
			pod: withAffinity(pod("p"), terms(aterm(sel("service", in, "securityscan", "value2"), "region")), nil), nodes: nodes, existing: secScan(), wantFilter: fits("n")},
		{name: "satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using not in operator in labelSelector that matches the existing pod",
			pod: withAffinity(pod("p"), terms(aterm(sel("service", objects.LabelSelectorOpNotIn, "securityscan3", "value3"), "region")), nil), nodes: nodes, existing: secScan(), wantFilter: fits("n")},
		{name: "Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
			pod: withAffinity(pod("p"), terms(aterm(sel("service", in, "securityscan", "value2"), "region", "DiffNameSpace")), nil), nodes: nodes, existing: secScan(),
			wantFilter: map[string]string{"n": noAffinity}, wantCode: UnschedulableAndUnresolvable},
		{name: "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
			pod: withAffinity(pod("p"), terms(aterm(sel("service", in, "antivirusscan", "value2"), "region")), nil), nodes: nodes, existing: secScan(),
			wantFilter: map[string]string{"n": noAffinity}},
		{name: "satisfies the PodAffinity with different label Operators in multiple RequiredDuringSchedulingIgnoredDuringExecution",
			pod: withAffinity(pod("p"), terms(
				aterm(&objects.LabelSelector{MatchExpressions: []objects.LabelSelectorRequirement{
					{Key: "service", Operator: objects.LabelSelectorOpExists},
					{Key: "wrongkey", Operator: objects.LabelSelectorOpDoesNotExist}}}, "region"),
				aterm(&objects.LabelSelector{MatchExpressions: []objects.LabelSelectorRequirement{
					{Key: "service", Operator: in, Values: []string{"securityscan"}},
					{Key: "service", Operator: objects.LabelSelectorOpNotIn, Values: []string{"WrongValue"}}}}, "region")), nil),
			nodes: nodes, existing: secScan(), wantFilter: fits("n")},
		{name: "The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot schedule onto the node because one of the matchExpression item don't match",
			pod: withAffinity(pod("p"), terms(
				aterm(&objects.LabelSelector{MatchExpressions: []objects.LabelSelectorRequirement{
					{Key: "service", Operator: objects.LabelSelectorOpExists},
					{Key: "wrongkey", Operator: objects.LabelSelectorOpDoesNotExist}}}, "region"),
				aterm(&objects.LabelSelector{MatchExpressions: []objects.LabelSelectorRequirement{
					{Key: "service", Operator: in, Values: []string{"securityscan2"}},
					{Key: "service", Operator: objects.LabelSelectorOpNotIn, Values: []string{"WrongValue"}}}}, "region")), nil),
			nodes: nodes, existing: secScan(), wantFilter: map[string]string{"n": noAffinity}},
		{name: "satisfies the PodAffinity and PodAntiAffinity with the existing pod",
			pod: withAffinity(pod("p"), terms(aterm(sel("service", in, "securityscan", "value2"), "region")),
				terms(aterm(sel("service", in, "antivirusscan", "value2"), "node"))),
			nodes: nodes, existing: secScan(), wantFilter: fits("n")},
		{name: "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
			pod: withAffinity(pod("p"), terms(aterm(sel("service", in, "securityscan", "value2"), "region")),
				terms(aterm(sel("service", in, "securityscan", "value2"), "zone"))),
			nodes: nodes, existing: secScan(), wantFilter: map[string]string{"n": noAnti}, wantCode: Unschedulable},
		{name: "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity symmetry with the existing pod",
			pod: withAffinity(incoming(), terms(aterm(sel("service", in, "securityscan", "value2"), "region")),
				terms(aterm(sel("service", in, "antivirusscan", "value2"), "node"))),
			nodes: nodes,
			existing: []*objects.Pod{on(withAffinity(pod("e", "service", "securityscan"), nil,
				terms(aterm(sel("service", in, "securityscan", "value2"), "zone"))), "n")},
			wantFilter: map[string]string{"n": existing}, wantCode: Unschedulable},
		{name: "pod matches its own Label in PodAffinity and that matches the existing pod Labels",
			pod:   withAffinity(incoming(), terms(aterm(sel("service", objects.LabelSelectorOpNotIn, "securityscan", "value2"), "region")), nil),
			nodes: []*objects.Node{node("n", "region", "r1", "zone", "z11")}, existing: []*objects.Pod{on(pod("e", "service", "securityscan"), "n")},
			wantFilter: map[string]string{"n": noAffinity}},
		{name: "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. doesn't satisfy PodAntiAffinity symmetry with the existing pod",
			pod:   incoming(),
			nodes: nodes,
			existing: []*objects.Pod{on(withAffinity(pod("e", "service", "securityscan"), nil,
				terms(aterm(sel("service", in, "securityscan", "value2"), "zone"))), "n")},
			wantFilter: map[string]string{"n": existing}},
		{name: "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. satisfy PodAntiAffinity symmetry with the existing pod",
			pod:   incoming(),
			nodes: nodes,
			existing: []*objects.Pod{on(withAffinity(pod("e", "service", "securityscan"), nil,
				terms(aterm(sel("service", objects.LabelSelectorOpNotIn, "securityscan", "value2"), "zone"))), "n")},
			wantFilter: fits("n")},
		{name: "the first pod of a group with affinity to itself may start it where no pod matches",
			pod:   withAffinity(pod("p", "app", "db"), terms(aterm(sel("app", in, "db"), "zone")), nil),
			nodes: nodes, wantFilter: fits("n")},
		{name: "a pod that does not match its own affinity cannot start a group",
			pod:   withAffinity(pod("p", "app", "web"), terms(aterm(sel("app", in, "db"), "zone")), nil),
			nodes: nodes, wantFilter: map[string]string{"n": noAffinity}},
		{name: "a node without the topology key fails required affinity",
			pod:   withAffinity(pod("p", "app", "db"), terms(aterm(sel("app", in, "db"), "rack")), nil),
			nodes: nodes, wantFilter: map[string]string{"n": noAffinity}},
		{name: "anti-affinity ignores a node without the topology key",
			pod:   withAffinity(pod("p"), nil, terms(aterm(sel("service", in, "securityscan"), "rack"))),
			nodes: nodes, existing: secScan(), wantFilter: fits("n")},
		{name: "a nil label selector selects nothing",
			pod:   withAffinity(pod("p"), nil, terms(aterm(nil, "zone"))),
			nodes: nodes, existing: secScan(), wantFilter: fits("n")},
		{name: "an empty label selector selects everything",
			pod:   withAffinity(pod("p"), nil, terms(aterm(&objects.LabelSelector{}, "zone"))),
			nodes: nodes, existing: secScan(), wantFilter: map[string]string{"n": noAnti}},
	}
	runPluginCases(t, NewInterPodAffinity(), cases)
}

// Kubernetes' TestRequiredAffinityMultipleNodes.
func TestInterPodAffinityFilterMultipleNodes(t *testing.T) {
	in := objects.LabelSelectorOpIn
	china := func(n string) *objects.Node { return node(n, "region", "China") }
	india := node("machine3", "region", "India")
	cases := []pluginCase{
		{name: "A pod can be scheduled onto all the nodes that have the same topology key & label value with one of them has an existing pod that matches the affinity rules",
			pod:        withAffinity(pod("p"), terms(aterm(sel("foo", in, "bar"), "region")), nil),
			nodes:      []*objects.Node{china("machine1"), china("machine2"), india},
			existing:   []*objects.Pod{on(pod("e", "foo", "bar"), "machine1")},
			wantFilter: map[string]string{"machine1": "", "machine2": "", "machine3": reasonAffinityRules}},
		{name: "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB.",
			pod:        withAffinity(pod("p", "foo", "bar"), nil, terms(aterm(sel("foo", in, "abc"), "region"))),
			nodes:      []*objects.Node{china("nodeA"), china("nodeB")},
			existing:   []*objects.Pod{on(pod("e", "foo", "abc"), "nodeA")},
			wantFilter: map[string]string{"nodeA": reasonAntiAffinityRules, "nodeB": reasonAntiAffinityRules}},
		{name: "This test ensures that anti-affinity matches a pod when any term of the anti-affinity rule matches a pod.",
			pod: withAffinity(pod("p"), nil, terms(
				aterm(sel("foo", in, "bar"), "region"),
				aterm(sel("service", in, "securityscan"), "zone"))),
			nodes:      []*objects.Node{node("nodeA", "region", "r1", "zone", "z1"), node("nodeB", "region", "r1", "zone", "z2"), node("nodeC", "region", "r2", "zone", "z3")},
			existing:   []*objects.Pod{on(pod("e", "service", "securityscan"), "nodeA")},
			wantFilter: map[string]string{"nodeA": reasonAntiAffinityRules, "nodeB": "", "nodeC": ""}},
		{name: "one pod per hostname: anti-affinity on kubernetes.io/hostname",
			pod:        withAffinity(pod("p", "app", "web"), nil, terms(aterm(sel("app", in, "web"), LabelHostname))),
			nodes:      []*objects.Node{node("a"), node("b")},
			existing:   []*objects.Pod{on(pod("e", "app", "web"), "a")},
			wantFilter: map[string]string{"a": reasonAntiAffinityRules, "b": ""}},
		{name: "namespace selector: a term selecting namespaces by label",
			pod: withAffinity(pod("p"), nil, terms(objects.PodAffinityTerm{LabelSelector: sel("app", objects.LabelSelectorOpExists),
				TopologyKey: LabelHostname, NamespaceSelector: &objects.LabelSelector{MatchLabels: map[string]string{"team": "red"}}})),
			nodes:      []*objects.Node{node("a"), node("b"), node("c")},
			namespaces: []*objects.Namespace{{ObjectMeta: objects.ObjectMeta{Name: "red", Labels: map[string]string{"team": "red"}}}, {ObjectMeta: objects.ObjectMeta{Name: "blue"}}},
			existing:   []*objects.Pod{on(inNamespace(pod("e1", "app", "x"), "red"), "a"), on(inNamespace(pod("e2", "app", "x"), "blue"), "b")},
			wantFilter: map[string]string{"a": reasonAntiAffinityRules, "b": "", "c": ""}},
	}
	runPluginCases(t, NewInterPodAffinity(), cases)
}

// Kubernetes' interpodaffinity scoring_test.go.
func TestInterPodAffinityScore(t *testing.T) {
	in := objects.LabelSelectorOpIn
	s1 := func(name, node string) *objects.Pod { return on(pod(name, "security", "S1"), node) }
	w := func(weight int32, s *objects.LabelSelector, topology string) []objects.WeightedPodAffinityTerm {
		return []objects.WeightedPodAffinityTerm{{Weight: weight, PodAffinityTerm: aterm(s, topology)}}
	}
	runPluginCases(t, NewInterPodAffinity(), []pluginCase{
		{name: "all nodes have same priority as the pod has no inter-pod affinity", pod: pod("p"),
			nodes:     []*objects.Node{node("node1", "region", "China"), node("node2", "region", "India"), node("node3", "az", "az1")},
			existing:  []*objects.Pod{s1("e1", "node1")},
			wantScore: map[string]int64{"node1": 0, "node2": 0, "node3": 0}},
		{name: "Affinity: pod that matches topology key & pods in nodes will get high score comparing to others which doesn't match either pods in nodes or in topology key",
			pod:       withPreferred(pod("p"), w(5, sel("security", in, "S1"), "region"), nil),
			nodes:     []*objects.Node{node("node1", "region", "China"), node("node2", "region", "China"), node("node3", "az", "az1")},
			existing:  []*objects.Pod{s1("e1", "node1")},
			wantScore: map[string]int64{"node1": 100, "node2": 100, "node3": 0}},
		{name: "Anti Affinity: pod that doesnot match existing pods in node will get high score",
			pod:       withPreferred(pod("p"), nil, w(5, sel("security", in, "S1"), "region")),
			nodes:     []*objects.Node{node("node1", "region", "China"), node("node2", "region", "India")},
			existing:  []*objects.Pod{s1("e1", "node1")},
			wantScore: map[string]int64{"node1": 0, "node2": 100}},
		{name: "Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution in pod affinity symmetry",
			pod:   pod("p", "security", "S1"),
			nodes: []*objects.Node{node("node1", "region", "China"), node("node2", "region", "India"), node("node3", "az", "az1")},
			existing: []*objects.Pod{
				on(withPreferred(pod("e1"), w(5, sel("security", in, "S1"), "region"), nil), "node1"),
				on(withPreferred(pod("e2"), w(5, sel("security", in, "S2"), "region"), nil), "node2"),
			},
			wantScore: map[string]int64{"node1": 100, "node2": 0, "node3": 0}},
		{name: "Affinity symmetry: required affinity of an existing pod counts with the hard weight",
			pod:   pod("p", "security", "S1"),
			nodes: []*objects.Node{node("node1", "region", "China"), node("node2", "region", "India")},
			existing: []*objects.Pod{
				on(withAffinity(pod("e1"), terms(aterm(sel("security", in, "S1"), "region")), nil), "node1"),
			},
			wantScore: map[string]int64{"node1": 100, "node2": 0}},
		{name: "Anti Affinity symmetry: the existing pods in node which has anti affinity match will get high score",
			pod:   pod("p", "security", "S1"),
			nodes: []*objects.Node{node("node1", "region", "China"), node("node2", "region", "India")},
			existing: []*objects.Pod{
				on(withPreferred(pod("e1"), nil, w(5, sel("security", in, "S1"), "region")), "node1"),
			},
			wantScore: map[string]int64{"node1": 0, "node2": 100}},
		{name: "Affinity and anti affinity: the node with the matching pod in the region wins; others are scaled between",
			pod:      withPreferred(pod("p"), w(8, sel("security", in, "S1"), "region"), w(5, sel("security", in, "S2"), "region")),
			nodes:    []*objects.Node{node("node1", "region", "China"), node("node2", "region", "India"), node("node3", "region", "Peru")},
			existing: []*objects.Pod{s1("e1", "node1"), on(pod("e2", "security", "S2"), "node2")},
			// Raw: node1 8, node2 -5, node3 0; min-max onto 0..100.
			wantScore: map[string]int64{"node1": 100, "node2": 0, "node3": 38}},
	})
}
