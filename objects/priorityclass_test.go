package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPriorityClassDefault(t *testing.T) {
	c := &PriorityClass{ObjectMeta: ObjectMeta{Name: "high"}, Value: 1000}
	c.Default()
	assert.Equal(t, PreemptLowerPriority, *c.PreemptionPolicy)

	c = &PriorityClass{ObjectMeta: ObjectMeta{Name: "batch"}, PreemptionPolicy: ptrTo(PreemptNever)}
	c.Default()
	assert.Equal(t, PreemptNever, *c.PreemptionPolicy)
}

func TestPriorityClassValidate(t *testing.T) {
	cases := []struct {
		name string
		pc   PriorityClass
		want []string
	}{
		{"valid", PriorityClass{ObjectMeta: ObjectMeta{Name: "high"}, Value: 1000000}, nil},
		{"valid negative", PriorityClass{ObjectMeta: ObjectMeta{Name: "low"}, Value: -10}, nil},
		{"valid highest", PriorityClass{ObjectMeta: ObjectMeta{Name: "top"}, Value: HighestUserDefinablePriority}, nil},
		{"too high", PriorityClass{ObjectMeta: ObjectMeta{Name: "top"}, Value: HighestUserDefinablePriority + 1},
			[]string{"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"}},
		{"system class", PriorityClass{ObjectMeta: ObjectMeta{Name: SystemNodeCritical}, Value: 2000001000}, nil},
		{"system class wrong value", PriorityClass{ObjectMeta: ObjectMeta{Name: SystemClusterCritical}, Value: 5},
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-cluster-critical PriorityClass must be 2000000000"}},
		{"unknown system class", PriorityClass{ObjectMeta: ObjectMeta{Name: "system-mine"}, Value: 5},
			[]string{"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"}},
		{"generated system class", PriorityClass{ObjectMeta: ObjectMeta{GenerateName: "system-"}, Value: 5},
			[]string{"metadata.generateName: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-xxxxx is not a known system priority class"}},
		{"bad preemption policy", PriorityClass{ObjectMeta: ObjectMeta{Name: "x"}, PreemptionPolicy: ptrTo(PreemptionPolicy("Always"))},
			[]string{`preemptionPolicy: Unsupported value: "Always": supported values: "Never", "PreemptLowerPriority"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range c.pc.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
	for _, s := range SystemPriorityClasses() {
		assert.NoError(t, validateThroughScheme(s), s.Name)
	}
}

func TestPriorityClassValidateUpdate(t *testing.T) {
	old := &PriorityClass{ObjectMeta: ObjectMeta{Name: "high"}, Value: 1000}
	old.Default()
	n := old.DeepCopy()
	n.Description = "now described"
	n.GlobalDefault = true
	assert.Empty(t, n.ValidateUpdate(old))
	n.Value = 2000
	n.PreemptionPolicy = ptrTo(PreemptNever)
	assert.Equal(t, []string{"value: Forbidden", "preemptionPolicy: Invalid value"}, errorSummary(n.ValidateUpdate(old)))
}

func TestPriorityClassManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high-priority-nonpreempting
value: 1000000
preemptionPolicy: Never
globalDefault: true
description: "This priority class will not cause other pods to be preempted."
`)
	pc := obj.(*PriorityClass)
	assert.Equal(t, int32(1000000), pc.Value)
	assert.True(t, pc.GlobalDefault)
	require.NoError(t, validateThroughScheme(pc))
	jsonRoundTrip(t, pc)

	ns := pc.DeepCopy()
	ns.Namespace = "default"
	assert.Error(t, NewScheme().Validate(ns), "cluster-scoped")
}
