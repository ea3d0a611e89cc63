package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newQuota(hard ResourceList, scopes ...ResourceQuotaScope) *ResourceQuota {
	return &ResourceQuota{ObjectMeta: ObjectMeta{Namespace: "team-a", Name: "compute"},
		Spec: ResourceQuotaSpec{Hard: hard, Scopes: scopes}}
}

func withSelector(q *ResourceQuota, reqs ...ScopedResourceSelectorRequirement) *ResourceQuota {
	q.Spec.ScopeSelector = &ScopeSelector{MatchExpressions: reqs}
	return q
}

func TestResourceQuotaValidate(t *testing.T) {
	cases := []struct {
		name string
		q    *ResourceQuota
		want []string
	}{
		{"compute and counts", newQuota(resources("pods", "10", "requests.cpu", "4", "limits.memory", "8Gi",
			"services.nodeports", "2", "count/deployments.apps", "3", "requests.example.com/gpu", "2",
			"gold.storageclass.storage.k8s.io/requests.storage", "100Gi")), nil},
		{"scoped", newQuota(resources("pods", "3"), ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotTerminating), nil},
		{"priority class selector", withSelector(newQuota(resources("requests.cpu", "1")),
			ScopedResourceSelectorRequirement{ScopeName: ResourceQuotaScopePriorityClass, Operator: ScopeSelectorOpIn, Values: []string{"high"}}), nil},
		{"unknown resource", newQuota(resources("widgets", "1")), []string{
			`spec.hard[widgets]: Invalid value: "widgets": must be a standard resource type or fully qualified`,
			`spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota`}},
		{"storage is not a quota resource", newQuota(resources("storage", "1Gi")), []string{
			`spec.hard[storage]: Invalid value: "storage": must be a standard resource for quota`}},
		{"negative", newQuota(resources("requests.memory", "-1Gi")), []string{
			`spec.hard[requests.memory]: Invalid value: "-1Gi": must be greater than or equal to 0`}},
		{"fractional count", newQuota(resources("pods", "1.5")), []string{
			`spec.hard[pods]: Invalid value: "1500m": must be an integer`}},
		{"scope not for the resource", newQuota(resources("requests.cpu", "1"), ResourceQuotaScopeBestEffort), []string{
			`spec.scopes: Invalid value: ["BestEffort"]: unsupported scope applied to resource`}},
		{"conflicting scopes", newQuota(resources("pods", "1"), ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating), []string{
			`spec.scopes: Invalid value: ["Terminating","NotTerminating"]: conflicting scopes`}},
		{"unsupported scope", newQuota(resources("persistentvolumeclaims", "1"), "VolumeAttributesClass"), []string{
			`spec.scopes: Invalid value: ["VolumeAttributesClass"]: unsupported scope`}},
		{"In without values", withSelector(newQuota(resources("pods", "1")),
			ScopedResourceSelectorRequirement{ScopeName: ResourceQuotaScopePriorityClass, Operator: ScopeSelectorOpIn}), []string{
			"spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"}},
		{"operator other than Exists", withSelector(newQuota(resources("pods", "1")),
			ScopedResourceSelectorRequirement{ScopeName: ResourceQuotaScopeTerminating, Operator: ScopeSelectorOpDoesNotExist}), []string{
			`spec.scopeSelector.matchExpressions.operator: Invalid value: "DoesNotExist": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity`}},
		{"bad operator", withSelector(newQuota(resources("pods", "1")),
			ScopedResourceSelectorRequirement{ScopeName: ResourceQuotaScopePriorityClass, Operator: "Gt", Values: []string{"1"}}), []string{
			`spec.scopeSelector.matchExpressions.operator: Invalid value: "Gt": not a valid selector operator`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range c.q.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
	require.NoError(t, validateThroughScheme(newQuota(resources("pods", "2"))))
}

func TestResourceQuotaUpdateAndStatus(t *testing.T) {
	old := newQuota(resources("pods", "2"), ResourceQuotaScopeNotTerminating)
	q := old.DeepCopy()
	q.Spec.Hard = resources("pods", "5")
	assert.Empty(t, q.ValidateUpdate(old), "hard may change")
	q.Spec.Scopes = []ResourceQuotaScope{ResourceQuotaScopeTerminating}
	assert.Equal(t, []string{`spec.scopes: Invalid value: ["Terminating"]: field is immutable`}, errorStrings(q.ValidateUpdate(old)))

	q.Status = ResourceQuotaStatus{Hard: resources("pods", "5"), Used: resources("pods", "-1")}
	assert.Equal(t, []string{"resourceVersion: Required value",
		`status.used[pods]: Invalid value: "-1": must be greater than or equal to 0`}, errorStrings(q.ValidateStatusUpdate(old)))

	q.PrepareForCreate()
	assert.Equal(t, ResourceQuotaStatus{}, q.Status, "a new quota's status is cleared")
}

func errorStrings(errs ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// Both kinds decode strictly from manifests written for a cluster, and
// encode back to the same JSON.
func TestDecodeLimitRangeAndResourceQuota(t *testing.T) {
	lr := decodeManifest(t, `apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: team-a}
spec:
  limits:
  - type: Container
    max: {cpu: "2", memory: 1Gi}
    min: {cpu: 50m}
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
    maxLimitRequestRatio: {cpu: "10"}
  - type: Pod
    max: {cpu: "4"}
  - type: PersistentVolumeClaim
    min: {storage: 1Gi}
    max: {storage: 10Gi}
`).(*LimitRange)
	assert.Equal(t, LimitTypeContainer, lr.Spec.Limits[0].Type)
	assert.Equal(t, "128Mi", lr.Spec.Limits[0].DefaultRequest.Memory().String())
	require.NoError(t, validateThroughScheme(lr))

	q := decodeManifest(t, `apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, namespace: team-a}
spec:
  hard:
    pods: "10"
    requests.cpu: "4"
    limits.memory: 8Gi
    count/deployments.apps: "5"
  scopeSelector:
    matchExpressions:
    - scopeName: PriorityClass
      operator: In
      values: [high]
status:
  hard: {pods: "10"}
  used: {pods: "3"}
`).(*ResourceQuota)
	assert.Equal(t, "4", q.Spec.Hard[ResourceRequestsCPU].String())
	assert.Equal(t, []string{"high"}, q.Spec.ScopeSelector.MatchExpressions[0].Values)
	require.NoError(t, validateThroughScheme(q))

	_, err := NewScheme().DecodeBytes([]byte(`apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    maximum: {cpu: "2"}
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "spec.limits[0].maximum"`)
	_, err = NewScheme().DecodeBytes([]byte(`apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec: {hard: {pods: "1"}, scope: [BestEffort]}
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "spec.scope"`)
}
