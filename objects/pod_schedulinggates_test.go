package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSchedulingGatesValidation(t *testing.T) {
	p := testPod()
	p.Spec.SchedulingGates = []PodSchedulingGate{{Name: "example.com/quota"}, {Name: "bad name"}, {Name: "example.com/quota"}}
	p.Default()
	assertFieldErrors(t, []string{
		`spec.schedulingGates[1].name: Invalid value: "bad name": name part must consist of*`,
		`spec.schedulingGates[2].name: Duplicate value: "example.com/quota"`,
	}, p.Validate())

	p.Spec.SchedulingGates = []PodSchedulingGate{{Name: "example.com/quota"}}
	p.Spec.NodeName = "n1"
	assertFieldErrors(t, []string{"spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"}, p.Validate())

	// Created gated: Pending, with Kubernetes' condition.
	p.Spec.NodeName = ""
	p.PrepareForCreate()
	c := GetPodCondition(&p.Status, PodScheduled)
	if assert.NotNil(t, c) {
		assert.Equal(t, ConditionFalse, c.Status)
		assert.Equal(t, "SchedulingGated", c.Reason)
		assert.Equal(t, "Scheduling is blocked due to non-empty scheduling gates", c.Message)
	}
	assert.True(t, p.IsSchedulingGated())
}

func TestSchedulingGatesUpdate(t *testing.T) {
	gated := func() *Pod {
		p := testPod()
		p.Spec.SchedulingGates = []PodSchedulingGate{{Name: "a"}, {Name: "b"}}
		p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
		p.Default()
		return p
	}
	cases := []struct {
		name   string
		old    func() *Pod
		mutate func(p *Pod)
		want   []string
	}{
		{"remove a gate", gated, func(p *Pod) { p.Spec.SchedulingGates = p.Spec.SchedulingGates[1:] }, nil},
		{"remove every gate", gated, func(p *Pod) { p.Spec.SchedulingGates = nil }, nil},
		{"add a gate", gated, func(p *Pod) { p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, PodSchedulingGate{Name: "c"}) },
			[]string{"spec.schedulingGates.c: Forbidden: only deletion is allowed, but found new scheduling gate"}},
		{"gate a pod that has none", testPod, func(p *Pod) { p.Spec.SchedulingGates = []PodSchedulingGate{{Name: "a"}} },
			[]string{"spec.schedulingGates.a: Forbidden: only deletion is allowed, but found new scheduling gate"}},
		{"add a nodeSelector term while gated", gated, func(p *Pod) { p.Spec.NodeSelector["zone"] = "a" }, nil},
		{"change a nodeSelector term while gated", gated, func(p *Pod) { p.Spec.NodeSelector["disk"] = "hdd" },
			[]string{`spec.nodeSelector: Invalid value: "map[disk:hdd]": only additions to spec.nodeSelector are allowed (no mutations or deletions)`}},
		{"add a nodeSelector term when not gated", testPod, func(p *Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a"} },
			[]string{"spec: Forbidden: pod updates may not change fields other than*"}},
		{"bind while gated", gated, func(p *Pod) { p.Spec.NodeName = "n1" },
			[]string{"spec.nodeName: Forbidden: cannot be set until all schedulingGates have been cleared"}},
		{"bind once ungated", gated, func(p *Pod) { p.Spec.SchedulingGates, p.Spec.NodeName = nil, "n1" }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := tc.old()
			old.Default()
			p := old.DeepCopy()
			tc.mutate(p)
			assertFieldErrors(t, tc.want, p.ValidateUpdate(old))
		})
	}
}

// While gated, a pod's node affinity may narrow where it runs: required
// terms only gain requirements (or are set where there were none),
// preferred terms change freely; as Kubernetes' mutable pod scheduling
// directives allow.
func TestSchedulingGatesNodeAffinityUpdate(t *testing.T) {
	zone := NodeSelectorRequirement{Key: "zone", Operator: NodeSelectorOpIn, Values: []string{"a", "b"}}
	disk := NodeSelectorRequirement{Key: "disk", Operator: NodeSelectorOpIn, Values: []string{"ssd"}}
	name := NodeSelectorRequirement{Key: "metadata.name", Operator: NodeSelectorOpIn, Values: []string{"n1"}}
	gpu := NodeSelectorRequirement{Key: "gpu", Operator: NodeSelectorOpExists}
	pod := func(gated bool, na *NodeAffinity) func() *Pod {
		return func() *Pod {
			p := testPod()
			if gated {
				p.Spec.SchedulingGates = []PodSchedulingGate{{Name: "example.com/quota"}}
			}
			if na != nil {
				p.Spec.Affinity = &Affinity{NodeAffinity: na.DeepCopy()}
			}
			p.Default()
			return p
		}
	}
	required := func(terms ...NodeSelectorTerm) *NodeAffinity {
		return &NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &NodeSelector{NodeSelectorTerms: terms}}
	}
	twoTerms := required(NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{zone}},
		NodeSelectorTerm{MatchFields: []NodeSelectorRequirement{name}})
	twoTerms.PreferredDuringSchedulingIgnoredDuringExecution = []PreferredSchedulingTerm{
		{Weight: 10, Preference: NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{disk}}}}
	preferredOnly := &NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: twoTerms.PreferredDuringSchedulingIgnoredDuringExecution}

	gatedNone, gatedTwo, gatedPreferred := pod(true, nil), pod(true, twoTerms), pod(true, preferredOnly)
	na := func(p *Pod) *NodeAffinity { return p.Spec.Affinity.NodeAffinity }
	terms := func(p *Pod) []NodeSelectorTerm {
		return na(p).RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	const (
		termsPath     = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
		noAddOrDelete = ": no additions/deletions to non-empty NodeSelectorTerms list are allowed"
		onlyAdditions = ": only additions are allowed (no mutations or deletions)"
		forbidden     = "spec: Forbidden: pod updates may not change fields other than*"
	)
	cases := []struct {
		name   string
		old    func() *Pod
		mutate func(p *Pod)
		want   []string
	}{
		// Allowed.
		{"set required where there was no affinity", gatedNone,
			func(p *Pod) {
				p.Spec.Affinity = &Affinity{NodeAffinity: required(NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{zone}})}
			}, nil},
		{"set preferred where there was no affinity", gatedNone,
			func(p *Pod) { p.Spec.Affinity = &Affinity{NodeAffinity: preferredOnly.DeepCopy()} }, nil},
		{"set required where there were only preferences", gatedPreferred,
			func(p *Pod) {
				na(p).RequiredDuringSchedulingIgnoredDuringExecution = twoTerms.RequiredDuringSchedulingIgnoredDuringExecution.DeepCopy()
			}, nil},
		{"drop node affinity that had no required terms", gatedPreferred, func(p *Pod) { p.Spec.Affinity = nil }, nil},
		{"add a matchExpression to a term", gatedTwo,
			func(p *Pod) { terms(p)[0].MatchExpressions = append(terms(p)[0].MatchExpressions, gpu) }, nil},
		{"add matchFields to a term of matchExpressions", gatedTwo,
			func(p *Pod) { terms(p)[0].MatchFields = []NodeSelectorRequirement{name} }, nil},
		{"add matchExpressions to a term of matchFields", gatedTwo,
			func(p *Pod) { terms(p)[1].MatchExpressions = []NodeSelectorRequirement{disk, gpu} }, nil},
		{"add to every term", gatedTwo, func(p *Pod) {
			terms(p)[0].MatchExpressions = append(terms(p)[0].MatchExpressions, gpu)
			terms(p)[1].MatchFields = append(terms(p)[1].MatchFields, NodeSelectorRequirement{Key: "metadata.name", Operator: NodeSelectorOpNotIn, Values: []string{"n2"}})
		}, nil},
		{"change a preference's weight", gatedTwo, func(p *Pod) { na(p).PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 50 }, nil},
		{"change a preference", gatedTwo,
			func(p *Pod) {
				na(p).PreferredDuringSchedulingIgnoredDuringExecution[0].Preference.MatchExpressions[0] = gpu
			}, nil},
		{"add a preference", gatedTwo, func(p *Pod) {
			na(p).PreferredDuringSchedulingIgnoredDuringExecution = append(na(p).PreferredDuringSchedulingIgnoredDuringExecution,
				PreferredSchedulingTerm{Weight: 1, Preference: NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{gpu}}})
		}, nil},
		{"remove the preferences", gatedTwo, func(p *Pod) { na(p).PreferredDuringSchedulingIgnoredDuringExecution = nil }, nil},
		{"narrow and ungate at once", gatedTwo, func(p *Pod) {
			p.Spec.SchedulingGates = nil
			terms(p)[0].MatchExpressions = append(terms(p)[0].MatchExpressions, gpu)
		}, nil},
		{"narrow node affinity and nodeSelector together", gatedTwo, func(p *Pod) {
			p.Spec.NodeSelector = map[string]string{"rack": "r1"}
			terms(p)[1].MatchExpressions = []NodeSelectorRequirement{gpu}
		}, nil},

		// Refused.
		{"add a term", gatedTwo, func(p *Pod) {
			na(p).RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = append(terms(p), NodeSelectorTerm{MatchExpressions: []NodeSelectorRequirement{gpu}})
		}, []string{termsPath + `: Invalid value: [{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]},{"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]},{"matchExpressions":[{"key":"gpu","operator":"Exists"}]}]` + noAddOrDelete}},
		{"remove a term", gatedTwo, func(p *Pod) { na(p).RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = terms(p)[:1] },
			[]string{termsPath + `: Invalid value: [{"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}]` + noAddOrDelete}},
		{"unset required", gatedTwo, func(p *Pod) { na(p).RequiredDuringSchedulingIgnoredDuringExecution = nil },
			[]string{termsPath + ": Invalid value: null" + noAddOrDelete}},
		{"unset node affinity", gatedTwo, func(p *Pod) { p.Spec.Affinity = nil },
			[]string{termsPath + ": Invalid value: null" + noAddOrDelete}},
		{"change a requirement's values", gatedTwo, func(p *Pod) { terms(p)[0].MatchExpressions[0].Values = []string{"a", "b", "c"} },
			[]string{termsPath + `[0]: Invalid value: {"matchExpressions":[{"key":"zone","operator":"In","values":["a","b","c"]}]}` + onlyAdditions}},
		{"add a requirement before the others", gatedTwo,
			func(p *Pod) { terms(p)[0].MatchExpressions = []NodeSelectorRequirement{gpu, zone} },
			[]string{termsPath + `[0]: Invalid value: {"matchExpressions":[{"key":"gpu","operator":"Exists"},{"key":"zone","operator":"In","values":["a","b"]}]}` + onlyAdditions}},
		{"remove a requirement", gatedTwo, func(p *Pod) {
			terms(p)[1].MatchFields = nil
			terms(p)[1].MatchExpressions = []NodeSelectorRequirement{gpu}
		},
			[]string{termsPath + `[1]: Invalid value: {"matchExpressions":[{"key":"gpu","operator":"Exists"}]}` + onlyAdditions}},
		{"swap the terms", gatedTwo, func(p *Pod) { ts := terms(p); ts[0], ts[1] = ts[1], ts[0] }, []string{
			termsPath + `[0]: Invalid value: {"matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}]}` + onlyAdditions,
			termsPath + `[1]: Invalid value: {"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}` + onlyAdditions,
		}},
		{"an empty term stays empty", pod(true, required(NodeSelectorTerm{})),
			func(p *Pod) { terms(p)[0].MatchExpressions = []NodeSelectorRequirement{gpu} },
			[]string{termsPath + `[0]: Invalid value: {"matchExpressions":[{"key":"gpu","operator":"Exists"}]}` + onlyAdditions}},
		{"narrow when not gated", pod(false, twoTerms),
			func(p *Pod) { terms(p)[0].MatchExpressions = append(terms(p)[0].MatchExpressions, gpu) }, []string{forbidden}},
		{"set when not gated", pod(false, nil),
			func(p *Pod) { p.Spec.Affinity = &Affinity{NodeAffinity: preferredOnly.DeepCopy()} }, []string{forbidden}},
		{"pod anti-affinity stays immutable while gated", gatedTwo, func(p *Pod) {
			terms(p)[0].MatchExpressions = append(terms(p)[0].MatchExpressions, gpu)
			p.Spec.Affinity.PodAntiAffinity = &PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []PodAffinityTerm{{
				LabelSelector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: "kubernetes.io/hostname"}}}
		}, []string{forbidden}},
		{"a narrowing and a widening", gatedTwo, func(p *Pod) {
			terms(p)[0].MatchExpressions = append(terms(p)[0].MatchExpressions, gpu)
			p.Spec.NodeSelector = nil
			p.Spec.Tolerations = nil
			terms(p)[1].MatchFields[0].Operator = NodeSelectorOpNotIn
		}, []string{termsPath + `[1]: Invalid value: {"matchFields":[{"key":"metadata.name","operator":"NotIn","values":["n1"]}]}` + onlyAdditions}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := tc.old()
			p := old.DeepCopy()
			tc.mutate(p)
			assertFieldErrors(t, tc.want, p.ValidateUpdate(old))
			if tc.want == nil {
				assertFieldErrors(t, nil, p.Validate())
			}
		})
	}
}
