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
