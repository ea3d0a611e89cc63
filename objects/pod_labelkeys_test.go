package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// antiAffinity gives p a required anti-affinity term on app=web and a
// preferred affinity term on tier=db.
func antiAffinity(p *Pod, match, mismatch []string) {
	p.Spec.Affinity = &Affinity{
		PodAntiAffinity: &PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []PodAffinityTerm{{
			LabelSelector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			TopologyKey:   LabelHostname, MatchLabelKeys: match, MismatchLabelKeys: mismatch,
		}}},
		PodAffinity: &PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: PodAffinityTerm{
			LabelSelector: &LabelSelector{MatchLabels: map[string]string{"tier": "db"}},
			TopologyKey:   LabelHostname, MatchLabelKeys: match,
		}}}},
	}
}

// A new pod's label keys become requirements of its terms' selectors, as
// the API server makes them: its own values, keys it has no label for left
// out.
func TestPodAffinityLabelKeysApplied(t *testing.T) {
	p := testPod()
	p.Labels["pod-template-hash"] = "7c9f"
	p.Labels["tenant"] = "blue"
	antiAffinity(p, []string{"pod-template-hash", "absent"}, []string{"tenant"})
	p.Default()
	assert.Empty(t, p.Validate())
	assert.Empty(t, p.ValidateCreate())
	p.PrepareForCreate()

	sel := p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector
	assert.Equal(t, map[string]string{"app": "web"}, sel.MatchLabels)
	assert.Equal(t, []LabelSelectorRequirement{
		{Key: "pod-template-hash", Operator: LabelSelectorOpIn, Values: []string{"7c9f"}},
		{Key: "tenant", Operator: LabelSelectorOpNotIn, Values: []string{"blue"}},
	}, sel.MatchExpressions)
	pref := p.Spec.Affinity.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector
	assert.Equal(t, []LabelSelectorRequirement{{Key: "pod-template-hash", Operator: LabelSelectorOpIn, Values: []string{"7c9f"}}}, pref.MatchExpressions)

	// The stored pod validates as it is, and an update keeps it so.
	assert.Empty(t, p.Validate())
	q := p.DeepCopy()
	assert.Empty(t, q.ValidateUpdate(p))
}

func TestPodAffinityLabelKeysValidation(t *testing.T) {
	p := testPod()
	antiAffinity(p, []string{"pod-template-hash", "Bad Key"}, []string{"pod-template-hash"})
	p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector = nil
	p.Default()
	const term = "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm"
	const anti = "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
	assertFieldErrors(t, []string{
		term + `.matchLabelKeys[1]: Invalid value: "Bad Key": name part must consist of*`,
		anti + ".matchLabelKeys: Forbidden: must not be specified when labelSelector is not set",
		anti + ".mismatchLabelKeys: Forbidden: must not be specified when labelSelector is not set",
		anti + `.matchLabelKeys[0]: Invalid value: "pod-template-hash": exists in both matchLabelKeys and mismatchLabelKeys`,
	}, p.Validate())

	// A key the selector requires too is refused when the pod is created
	// with that label: the key would be required twice. A template, or a
	// pod without the label, passes.
	p = testPod()
	antiAffinity(p, []string{"app"}, nil)
	p.Default()
	assert.Empty(t, p.Validate())
	assertFieldErrors(t, []string{
		`spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`,
	}, p.ValidateCreate())
	delete(p.Labels, "app")
	assert.Empty(t, p.ValidateCreate())
}
