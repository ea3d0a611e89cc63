package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func errStrings(errs ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestRBACDecodeRoundTrip(t *testing.T) {
	for _, m := range []string{`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  resourceNames: [web]
  verbs: [get, list, watch]
`, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}
rules:
- nonResourceURLs: [/metrics, /logs/*]
  verbs: [get]
`, `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods, namespace: default}
subjects:
- {kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: app, namespace: other}
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
`, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "metrics-server:system:auth-delegator"}
subjects:
- {kind: Group, name: managers, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: ClusterRole, name: "system:auth-delegator", apiGroup: rbac.authorization.k8s.io}
`} {
		obj := decodeManifest(t, m)
		require.NoError(t, validateThroughScheme(obj), "%T", obj)
	}
}

func TestRBACUnknownFieldRejected(t *testing.T) {
	_, err := NewScheme().DecodeBytes([]byte(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: default}
rules:
- apiGroups: [""]
  resources: [pods]
  verb: [get]
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verb")
}

func TestRBACNames(t *testing.T) {
	cases := []struct {
		name string
		want []string
	}{
		{"system:controller:job-controller", nil},
		{"Upper_case.ok", nil},
		{".", []string{`metadata.name: Invalid value: ".": may not be '.'`}},
		{"..", []string{`metadata.name: Invalid value: "..": may not be '..'`}},
		{"a/b%c", []string{`metadata.name: Invalid value: "a/b%c": may not contain '/'`,
			`metadata.name: Invalid value: "a/b%c": may not contain '%'`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &ClusterRole{ObjectMeta: ObjectMeta{Name: c.name}}
			err := validateThroughScheme(r)
			if c.want == nil {
				assert.NoError(t, err)
				return
			}
			var inv *InvalidError
			require.ErrorAs(t, err, &inv)
			assert.Equal(t, c.want, errStrings(inv.Errors))
		})
	}
	// Other kinds keep the DNS subdomain rule.
	require.Error(t, validateThroughScheme(&ConfigMap{ObjectMeta: ObjectMeta{Namespace: "default", Name: "a:b"}}))
}

func TestPolicyRuleValidate(t *testing.T) {
	cases := []struct {
		name       string
		rule       PolicyRule
		namespaced bool
		want       []string
	}{
		{"resource rule", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, true, nil},
		{"wildcards", PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, true, nil},
		{"non-resource in cluster role", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, false, nil},
		{"no verbs", PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}}, true, []string{
			"rules[0].verbs: Required value: verbs must contain at least one value"}},
		{"no api groups", PolicyRule{Verbs: []string{"get"}, Resources: []string{"pods"}}, true, []string{
			"rules[0].apiGroups: Required value: resource rules must supply at least one api group"}},
		{"no resources", PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}}, true, []string{
			"rules[0].resources: Required value: resource rules must supply at least one resource"}},
		{"empty rule", PolicyRule{}, false, []string{
			"rules[0].verbs: Required value: verbs must contain at least one value",
			"rules[0].apiGroups: Required value: resource rules must supply at least one api group",
			"rules[0].resources: Required value: resource rules must supply at least one resource"}},
		{"non-resource in namespaced role", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, true, []string{
			`rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`}},
		{"both kinds of rule", PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}, Resources: []string{"pods"}}, false, []string{
			`rules[0].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and non-resource URLs`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var errs ErrorList
			if c.namespaced {
				errs = (&Role{Rules: []PolicyRule{c.rule}}).Validate()
			} else {
				errs = (&ClusterRole{Rules: []PolicyRule{c.rule}}).Validate()
			}
			assert.Equal(t, c.want, errStrings(errs))
		})
	}
}

func TestClusterRoleAggregationRuleValidate(t *testing.T) {
	r := &ClusterRole{ObjectMeta: ObjectMeta{Name: "agg"}, AggregationRule: &AggregationRule{}}
	assert.Equal(t, []string{"aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"},
		errStrings(r.Validate()))
	r.AggregationRule.ClusterRoleSelectors = []LabelSelector{{MatchExpressions: []LabelSelectorRequirement{{Key: "x", Operator: LabelSelectorOpIn}}}}
	assert.Equal(t, []string{"aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"},
		errStrings(r.Validate()))
	r.AggregationRule.ClusterRoleSelectors = []LabelSelector{{MatchLabels: map[string]string{"x": "true"}}}
	assert.NoError(t, validateThroughScheme(r))
}

func newRoleBinding(ref RoleRef, subjects ...Subject) *RoleBinding {
	return &RoleBinding{ObjectMeta: ObjectMeta{Namespace: "default", Name: "b"}, RoleRef: ref, Subjects: subjects}
}

func TestRoleBindingValidate(t *testing.T) {
	role := RoleRef{APIGroup: RBACGroupName, Kind: "Role", Name: "r"}
	cases := []struct {
		name string
		b    *RoleBinding
		want []string
	}{
		{"role", newRoleBinding(role, Subject{Kind: UserKind, APIGroup: RBACGroupName, Name: "jane"}), nil},
		{"cluster role", newRoleBinding(RoleRef{APIGroup: RBACGroupName, Kind: "ClusterRole", Name: "view"}), nil},
		{"service account without namespace", newRoleBinding(role, Subject{Kind: ServiceAccountKind, Name: "app"}), nil},
		{"bad roleRef", newRoleBinding(RoleRef{APIGroup: "rbac", Kind: "Group", Name: "a/b"}), []string{
			`roleRef.apiGroup: Unsupported value: "rbac": supported values: "rbac.authorization.k8s.io"`,
			`roleRef.kind: Unsupported value: "Group": supported values: "Role", "ClusterRole"`,
			`roleRef.name: Invalid value: "a/b": may not contain '/'`}},
		{"no roleRef name", newRoleBinding(RoleRef{APIGroup: RBACGroupName, Kind: "Role"}), []string{
			"roleRef.name: Required value"}},
		{"subjects", newRoleBinding(role,
			Subject{Kind: ServiceAccountKind, Name: "App", APIGroup: RBACGroupName},
			Subject{Kind: UserKind, Name: "jane"},
			Subject{Kind: GroupKind, Name: "devs", APIGroup: "x"},
			Subject{Kind: "Robot", Name: "r2"},
			Subject{Kind: UserKind, APIGroup: RBACGroupName}), []string{
			`subjects[0].name: Invalid value: "App": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			`subjects[0].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""`,
			`subjects[1].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"`,
			`subjects[2].apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"`,
			`subjects[3].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`,
			`subjects[4].name: Required value`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, errStrings(c.b.Validate()))
		})
	}
}

func TestClusterRoleBindingValidate(t *testing.T) {
	b := &ClusterRoleBinding{ObjectMeta: ObjectMeta{Name: "b"},
		RoleRef:  RoleRef{APIGroup: RBACGroupName, Kind: "Role", Name: "r"},
		Subjects: []Subject{{Kind: ServiceAccountKind, Name: "app"}, {Kind: ServiceAccountKind, Name: "ok", Namespace: "ns"}}}
	assert.Equal(t, []string{
		`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`,
		`subjects[0].namespace: Required value`,
	}, errStrings(b.Validate()))
}

func TestRBACBindingDefaults(t *testing.T) {
	b := &ClusterRoleBinding{ObjectMeta: ObjectMeta{Name: "b"}, RoleRef: RoleRef{Kind: "ClusterRole", Name: "view"},
		Subjects: []Subject{{Kind: UserKind, Name: "u"}, {Kind: GroupKind, Name: "g"}, {Kind: ServiceAccountKind, Name: "sa", Namespace: "ns"}}}
	require.NoError(t, validateThroughScheme(b))
	assert.Equal(t, RBACGroupName, b.RoleRef.APIGroup)
	assert.Equal(t, []string{RBACGroupName, RBACGroupName, ""},
		[]string{b.Subjects[0].APIGroup, b.Subjects[1].APIGroup, b.Subjects[2].APIGroup})

	rb := newRoleBinding(RoleRef{Kind: "Role", Name: "r"}, Subject{Kind: UserKind, Name: "u"})
	require.NoError(t, validateThroughScheme(rb))
	assert.Equal(t, RBACGroupName, rb.RoleRef.APIGroup)
	assert.Equal(t, RBACGroupName, rb.Subjects[0].APIGroup)
}

func TestRBACRoleRefImmutable(t *testing.T) {
	s := NewScheme()
	old := newRoleBinding(RoleRef{APIGroup: RBACGroupName, Kind: "Role", Name: "r"})
	upd := old.DeepCopy()
	upd.Subjects = []Subject{{Kind: GroupKind, APIGroup: RBACGroupName, Name: "g"}}
	require.NoError(t, s.ValidateUpdate(upd, old), "subjects may change")
	upd.RoleRef.Name = "other"
	err := s.ValidateUpdate(upd, old)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"other"}: cannot change roleRef`)

	cold := &ClusterRoleBinding{ObjectMeta: ObjectMeta{Name: "b"}, RoleRef: RoleRef{APIGroup: RBACGroupName, Kind: "ClusterRole", Name: "view"}}
	cupd := cold.DeepCopy()
	cupd.RoleRef.Name = "edit"
	assert.Equal(t, []string{`roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"}: cannot change roleRef`},
		errStrings(cupd.ValidateUpdate(cold)))
}
