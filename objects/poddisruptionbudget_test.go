package objects

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newPDB(min, max *IntOrString) *PodDisruptionBudget {
	return &PodDisruptionBudget{
		ObjectMeta: ObjectMeta{Namespace: "default", Name: "web"},
		Spec: PodDisruptionBudgetSpec{MinAvailable: min, MaxUnavailable: max,
			Selector: &LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
}

func TestPodDisruptionBudgetValidate(t *testing.T) {
	two, pct := FromInt32(2), FromString("50%")
	cases := []struct {
		name string
		pdb  *PodDisruptionBudget
		want []string
	}{
		{"minAvailable", newPDB(&two, nil), nil},
		{"maxUnavailable percent", newPDB(nil, &pct), nil},
		{"neither (allowed, as in Kubernetes)", newPDB(nil, nil), nil},
		{"100%", newPDB(ptrTo(FromString("100%")), nil), nil},
		{"both", newPDB(&two, &pct), []string{
			`spec: Invalid value: {"minAvailable":2,"selector":{"matchLabels":{"app":"web"}},"maxUnavailable":"50%"}: minAvailable and maxUnavailable cannot be both set`}},
		{"negative", newPDB(ptrTo(FromInt32(-1)), nil), []string{
			"spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"}},
		{"over 100%", newPDB(nil, ptrTo(FromString("101%"))), []string{
			`spec.maxUnavailable: Invalid value: "101%": must not be greater than 100%`}},
		{"not a percentage", newPDB(ptrTo(FromString("half")), nil), []string{
			`spec.minAvailable: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`}},
		{"bad selector", func() *PodDisruptionBudget {
			b := newPDB(&two, nil)
			b.Spec.Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: LabelSelectorOpIn}}
			return b
		}(), []string{"spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"}},
		{"unknown policy", func() *PodDisruptionBudget {
			b := newPDB(&two, nil)
			b.Spec.UnhealthyPodEvictionPolicy = ptrTo(UnhealthyPodEvictionPolicyType("Never"))
			return b
		}(), []string{`spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range c.pdb.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
	require.NoError(t, validateThroughScheme(newPDB(&two, nil)))
}

func TestPodDisruptionBudgetEvictionPolicy(t *testing.T) {
	b := newPDB(ptrTo(FromInt32(1)), nil)
	NewScheme().Default(b)
	assert.Nil(t, b.Spec.UnhealthyPodEvictionPolicy, "Kubernetes stores no default")
	assert.Equal(t, IfHealthyBudget, b.Spec.EvictionPolicy())
	b.Spec.UnhealthyPodEvictionPolicy = ptrTo(AlwaysAllow)
	assert.Equal(t, AlwaysAllow, b.Spec.EvictionPolicy())
}

func TestPodDisruptionBudgetValidateStatusUpdate(t *testing.T) {
	b := newPDB(ptrTo(FromInt32(1)), nil)
	now := NewTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	b.Status = PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 1, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2,
		Conditions: []Condition{{Type: DisruptionAllowedCondition, Status: ConditionTrue, Reason: SufficientPodsReason, LastTransitionTime: now}}}
	assert.Empty(t, b.ValidateStatusUpdate(b))

	b.Status.DisruptionsAllowed = -1
	b.Status.Conditions = append(b.Status.Conditions,
		Condition{Type: DisruptionAllowedCondition, Status: "Maybe", Reason: "not ok!"})
	assert.Equal(t, []string{
		"status.conditions[1].type: Duplicate value",
		"status.conditions[1].status: Unsupported value",
		"status.conditions[1].lastTransitionTime: Required value",
		"status.conditions[1].reason: Invalid value",
		"status.disruptionsAllowed: Invalid value",
	}, errorSummary(b.ValidateStatusUpdate(b)))
}

func TestPodDisruptionBudgetPrepareForCreate(t *testing.T) {
	b := newPDB(ptrTo(FromInt32(1)), nil)
	b.Status.DisruptionsAllowed = 5
	b.PrepareForCreate()
	assert.Equal(t, PodDisruptionBudgetStatus{}, b.Status)
}

// A manifest written for a cluster decodes strictly, keeps every field
// under Kubernetes' JSON names, and validates.
func TestPodDisruptionBudgetManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web-pdb
  namespace: default
spec:
  maxUnavailable: 25%
  selector:
    matchLabels: {app: web}
  unhealthyPodEvictionPolicy: AlwaysAllow
status:
  observedGeneration: 3
  disruptedPods: {web-abc: "2025-01-01T00:00:00Z"}
  disruptionsAllowed: 1
  currentHealthy: 4
  desiredHealthy: 3
  expectedPods: 4
  conditions:
  - type: DisruptionAllowed
    status: "True"
    reason: SufficientPods
    observedGeneration: 3
    lastTransitionTime: "2025-01-01T00:00:00Z"
`)
	b := obj.(*PodDisruptionBudget)
	assert.Equal(t, FromString("25%"), *b.Spec.MaxUnavailable)
	assert.Equal(t, AlwaysAllow, *b.Spec.UnhealthyPodEvictionPolicy)
	assert.Equal(t, int32(1), b.Status.DisruptionsAllowed)
	assert.Contains(t, b.Status.DisruptedPods, "web-abc")
	require.NotNil(t, FindStatusCondition(b.Status.Conditions, DisruptionAllowedCondition))
	require.NoError(t, validateThroughScheme(b))
	jsonRoundTrip(t, b)

	c := b.DeepCopy()
	c.Status.DisruptedPods["other"] = Time{}
	c.Spec.Selector.MatchLabels["app"] = "x"
	assert.Len(t, b.Status.DisruptedPods, 1)
	assert.Equal(t, "web", b.Spec.Selector.MatchLabels["app"])

	both, err := NewScheme().DecodeBytes([]byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {minAvailable: 1, maxUnavailable: 1}\n"))
	require.NoError(t, err, "decoding does not validate")
	assert.ErrorContains(t, validateThroughScheme(both[0]), "minAvailable and maxUnavailable cannot be both set")
}
