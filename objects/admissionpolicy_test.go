package objects

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example of Kubernetes' documentation (Validating Admission Policy).
const (
	demoPolicyManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: demo-policy.example.com
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
  - expression: "object.spec.replicas <= 5"
`
	demoBindingManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: demo-binding-test.example.com
spec:
  policyName: demo-policy.example.com
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
`
)

// A policy using every field.
const fullPolicyManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replicalimit-policy.example.com
spec:
  failurePolicy: Ignore
  paramKind:
    apiVersion: rules.example.com/v1
    kind: ReplicaLimit
  matchConstraints:
    matchPolicy: Exact
    namespaceSelector:
      matchExpressions:
      - key: environment
        operator: In
        values: [test, staging]
    objectSelector:
      matchLabels:
        app: web
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments", "deployments/scale"]
      scope: Namespaced
    excludeResourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["*"]
      resources: ["deployments"]
      resourceNames: ["coredns"]
  matchConditions:
  - name: exclude-leases
    expression: '!(request.resource.group == "coordination.k8s.io" && request.resource.resource == "leases")'
  variables:
  - name: replicas
    expression: object.spec.replicas
  validations:
  - expression: variables.replicas <= params.maxReplicas
    messageExpression: "'replicas must be at most ' + string(params.maxReplicas)"
    reason: Forbidden
  - expression: object.metadata.name.startsWith('web-')
    message: name must start with web-
  auditAnnotations:
  - key: high-replica-count
    valueExpression: "'Deployment spec.replicas set to ' + string(object.spec.replicas)"
`

// A binding using every field.
const fullBindingManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replicalimit-binding-test.example.com
spec:
  policyName: replicalimit-policy.example.com
  validationActions: [Warn, Audit]
  paramRef:
    name: replica-limit-test.example.com
    namespace: default
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
    excludeResourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["DELETE"]
      resources: ["pods"]
      scope: "*"
`

func TestValidatingAdmissionPolicyManifest(t *testing.T) {
	p := decodeManifest(t, demoPolicyManifest).(*ValidatingAdmissionPolicy)
	require.NoError(t, validateThroughScheme(p))
	mc := p.Spec.MatchConstraints
	assert.Equal(t, FailurePolicyFail, *p.Spec.FailurePolicy)
	assert.Equal(t, MatchPolicyEquivalent, *mc.MatchPolicy)
	assert.Equal(t, &LabelSelector{}, mc.NamespaceSelector)
	assert.Equal(t, &LabelSelector{}, mc.ObjectSelector)
	assert.Equal(t, AllScopes, *mc.ResourceRules[0].Scope)
	assert.Equal(t, "object.spec.replicas <= 5", p.Spec.Validations[0].Expression)
	assert.Empty(t, p.Validate())

	full := decodeManifest(t, fullPolicyManifest).(*ValidatingAdmissionPolicy)
	require.NoError(t, validateThroughScheme(full))
	assert.Equal(t, FailurePolicyIgnore, *full.Spec.FailurePolicy)
	assert.Equal(t, NamespacedScope, *full.Spec.MatchConstraints.ResourceRules[0].Scope)
	assert.Equal(t, AllScopes, *full.Spec.MatchConstraints.ExcludeResourceRules[0].Scope)
	jsonRoundTrip(t, full)

	ns := p.DeepCopy()
	ns.Namespace = "default"
	assert.Error(t, NewScheme().Validate(ns), "cluster-scoped")
}

func TestValidatingAdmissionPolicyBindingManifest(t *testing.T) {
	b := decodeManifest(t, demoBindingManifest).(*ValidatingAdmissionPolicyBinding)
	require.NoError(t, validateThroughScheme(b))
	assert.Equal(t, MatchPolicyEquivalent, *b.Spec.MatchResources.MatchPolicy)
	assert.Equal(t, &LabelSelector{}, b.Spec.MatchResources.ObjectSelector)
	assert.Equal(t, []ValidationAction{ActionDeny}, b.Spec.ValidationActions)

	full := decodeManifest(t, fullBindingManifest).(*ValidatingAdmissionPolicyBinding)
	require.NoError(t, validateThroughScheme(full))
	jsonRoundTrip(t, full)
}

// newTestPolicy is the full policy, decoded and defaulted.
func newTestPolicy(t *testing.T) *ValidatingAdmissionPolicy {
	t.Helper()
	p := decodeManifest(t, fullPolicyManifest).(*ValidatingAdmissionPolicy)
	p.Default()
	return p
}

func TestValidatingAdmissionPolicyValidate(t *testing.T) {
	base := newTestPolicy(t)
	require.Empty(t, base.Validate())
	mc := func(p *ValidatingAdmissionPolicy) *MatchResources { return p.Spec.MatchConstraints }
	rule := func(p *ValidatingAdmissionPolicy) *NamedRuleWithOperations { return &mc(p).ResourceRules[0] }
	const (
		rules   = "spec.matchConstraints.resourceRules[0]"
		exclude = "spec.matchConstraints.excludeResourceRules[0]"
	)
	cases := []struct {
		name   string
		mutate func(*ValidatingAdmissionPolicy)
		want   []string
	}{
		{"valid demo", func(p *ValidatingAdmissionPolicy) {
			p.Spec = decodeManifest(t, demoPolicyManifest).(*ValidatingAdmissionPolicy).Spec
			p.Default()
		}, nil},
		{"valid without validations but with auditAnnotations", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations = nil }, nil},
		{"valid without auditAnnotations", func(p *ValidatingAdmissionPolicy) { p.Spec.AuditAnnotations = nil }, nil},
		{"valid without paramKind", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind = nil }, nil},
		{"valid core paramKind", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind = &ParamKind{APIVersion: "v1", Kind: "ConfigMap"} }, nil},
		{"valid message ending in a line break", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[1].Message = "too many\n" }, nil},
		{"valid reasons", func(p *ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Reason = ptrTo(ReasonInvalid)
			p.Spec.Validations[1].Reason = ptrTo(ReasonRequestEntityTooLarge)
		}, nil},
		{"valid wildcards", func(p *ValidatingAdmissionPolicy) {
			rule(p).APIGroups, rule(p).APIVersions, rule(p).Resources = []string{"*"}, []string{"*"}, []string{"*/*"}
			rule(p).Operations = []OperationType{OperationAll}
			rule(p).Scope = ptrTo(ClusterScope)
		}, nil},
		{"valid wildcard with subresources", func(p *ValidatingAdmissionPolicy) {
			rule(p).Resources = []string{"*", "pods/status", "deployments/*", "*/scale"}
		}, nil},
		// Kubernetes looks only at the last resource without a subresource.
		{"valid wildcard after a resource", func(p *ValidatingAdmissionPolicy) { rule(p).Resources = []string{"pods", "*"} }, nil},
		{"valid long policy name and key", func(p *ValidatingAdmissionPolicy) {
			p.Name = strings.Repeat("a", 253)
			p.Spec.AuditAnnotations[0].Key = strings.Repeat("k", 63)
		}, nil},
		{"valid generated name", func(p *ValidatingAdmissionPolicy) { p.Name, p.GenerateName = "", "replicalimit-" }, nil},

		{"failurePolicy unsupported", func(p *ValidatingAdmissionPolicy) { p.Spec.FailurePolicy = ptrTo(FailurePolicyType("Never")) },
			[]string{"spec.failurePolicy: Unsupported value"}},
		{"failurePolicy required", func(p *ValidatingAdmissionPolicy) { p.Spec.FailurePolicy = nil },
			[]string{"spec.failurePolicy: Required value"}},

		{"paramKind apiVersion required", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.APIVersion = "" },
			[]string{"spec.paramKind.apiVersion: Required value"}},
		{"paramKind apiVersion with two slashes", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.APIVersion = "a/b/v1" },
			[]string{"spec.paramKind.apiVersion: Invalid value"}},
		{"paramKind group invalid", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.APIVersion = "Rules_example/v1" },
			[]string{"spec.paramKind.apiVersion: Invalid value"}},
		{"paramKind version missing", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.APIVersion = "rules.example.com/" },
			[]string{"spec.paramKind.apiVersion: Invalid value"}},
		{"paramKind version invalid", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.APIVersion = "rules.example.com/1beta" },
			[]string{"spec.paramKind.apiVersion: Invalid value"}},
		{"paramKind kind required", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.Kind = "" },
			[]string{"spec.paramKind.kind: Required value"}},
		{"paramKind kind invalid", func(p *ValidatingAdmissionPolicy) { p.Spec.ParamKind.Kind = "Replica_Limit" },
			[]string{"spec.paramKind.kind: Invalid value"}},

		{"matchConstraints required", func(p *ValidatingAdmissionPolicy) { p.Spec.MatchConstraints = nil },
			[]string{"spec.matchConstraints: Required value"}},
		{"resourceRules required", func(p *ValidatingAdmissionPolicy) { mc(p).ResourceRules = nil },
			[]string{"spec.matchConstraints.resourceRules: Required value"}},
		{"matchPolicy unsupported", func(p *ValidatingAdmissionPolicy) { mc(p).MatchPolicy = ptrTo(MatchPolicyType("Fuzzy")) },
			[]string{"spec.matchConstraints.matchPolicy: Unsupported value"}},
		{"selectors and matchPolicy required", func(p *ValidatingAdmissionPolicy) {
			mc(p).MatchPolicy, mc(p).NamespaceSelector, mc(p).ObjectSelector = nil, nil, nil
		}, []string{"spec.matchConstraints.matchPolicy: Required value", "spec.matchConstraints.namespaceSelector: Required value",
			"spec.matchConstraints.objectSelector: Required value"}},
		{"namespaceSelector invalid", func(p *ValidatingAdmissionPolicy) { mc(p).NamespaceSelector.MatchExpressions[0].Values = nil },
			[]string{"spec.matchConstraints.namespaceSelector.matchExpressions[0].values: Required value"}},
		{"objectSelector invalid", func(p *ValidatingAdmissionPolicy) { mc(p).ObjectSelector.MatchLabels["app"] = "web server" },
			[]string{"spec.matchConstraints.objectSelector.matchLabels: Invalid value"}},

		{"resourceName invalid", func(p *ValidatingAdmissionPolicy) {
			mc(p).ExcludeResourceRules[0].ResourceNames[0] = "kube-system/coredns"
		},
			[]string{exclude + ".resourceNames[0]: Invalid value"}},
		{"resourceName duplicate", func(p *ValidatingAdmissionPolicy) {
			mc(p).ExcludeResourceRules[0].ResourceNames = []string{"coredns", "coredns"}
		}, []string{exclude + ".resourceNames[1]: Duplicate value"}},
		{"operations required", func(p *ValidatingAdmissionPolicy) { rule(p).Operations = nil },
			[]string{rules + ".operations: Required value"}},
		{"operations wildcard and others", func(p *ValidatingAdmissionPolicy) {
			rule(p).Operations = []OperationType{OperationAll, OperationCreate}
		}, []string{rules + ".operations: Invalid value"}},
		{"operation unsupported", func(p *ValidatingAdmissionPolicy) { rule(p).Operations[1] = "PATCH" },
			[]string{rules + ".operations[1]: Unsupported value"}},
		{"apiGroups required", func(p *ValidatingAdmissionPolicy) { rule(p).APIGroups = nil },
			[]string{rules + ".apiGroups: Required value"}},
		{"apiGroups wildcard and others", func(p *ValidatingAdmissionPolicy) { rule(p).APIGroups = []string{"apps", "*"} },
			[]string{rules + ".apiGroups: Invalid value"}},
		{"apiVersions required", func(p *ValidatingAdmissionPolicy) { rule(p).APIVersions = nil },
			[]string{rules + ".apiVersions: Required value"}},
		{"apiVersions wildcard and others", func(p *ValidatingAdmissionPolicy) { rule(p).APIVersions = []string{"*", "v1"} },
			[]string{rules + ".apiVersions: Invalid value"}},
		{"apiVersion empty", func(p *ValidatingAdmissionPolicy) { rule(p).APIVersions = []string{"v1", ""} },
			[]string{rules + ".apiVersions[1]: Required value"}},
		{"resources required", func(p *ValidatingAdmissionPolicy) { rule(p).Resources = nil },
			[]string{rules + ".resources: Required value"}},
		{"resource empty", func(p *ValidatingAdmissionPolicy) { rule(p).Resources[1] = "" },
			[]string{rules + ".resources[1]: Required value"}},
		{"resources all and others", func(p *ValidatingAdmissionPolicy) { rule(p).Resources = []string{"*/*", "pods/log"} },
			[]string{rules + ".resources: Invalid value"}},
		{"resources all subresources and one", func(p *ValidatingAdmissionPolicy) {
			rule(p).Resources = []string{"deployments/*", "deployments/scale"}
		}, []string{rules + ".resources[1]: Invalid value"}},
		{"resources any resource's subresource and one", func(p *ValidatingAdmissionPolicy) {
			rule(p).Resources = []string{"*/scale", "deployments/scale"}
		}, []string{rules + ".resources[1]: Invalid value"}},
		{"resources wildcard and a resource", func(p *ValidatingAdmissionPolicy) { rule(p).Resources = []string{"*", "pods"} },
			[]string{rules + ".resources: Invalid value"}},
		{"scope unsupported", func(p *ValidatingAdmissionPolicy) { rule(p).Scope = ptrTo(ScopeType("Global")) },
			[]string{rules + ".scope: Unsupported value"}},
		{"excludeResourceRules checked", func(p *ValidatingAdmissionPolicy) { mc(p).ExcludeResourceRules[0].APIGroups = nil },
			[]string{exclude + ".apiGroups: Required value"}},

		{"matchConditions too many", func(p *ValidatingAdmissionPolicy) {
			p.Spec.MatchConditions = nil
			for i := range maxMatchConditions + 1 {
				p.Spec.MatchConditions = append(p.Spec.MatchConditions, MatchCondition{Name: "c" + strconv.Itoa(i), Expression: "true"})
			}
		}, []string{"spec.matchConditions: Too many"}},
		{"matchCondition expression required", func(p *ValidatingAdmissionPolicy) { p.Spec.MatchConditions[0].Expression = " " },
			[]string{"spec.matchConditions[0].expression: Required value"}},
		{"matchCondition name required", func(p *ValidatingAdmissionPolicy) { p.Spec.MatchConditions[0].Name = "" },
			[]string{"spec.matchConditions[0].name: Required value"}},
		{"matchCondition name invalid", func(p *ValidatingAdmissionPolicy) { p.Spec.MatchConditions[0].Name = "exclude leases" },
			[]string{"spec.matchConditions[0].name: Invalid value"}},
		{"matchCondition name duplicate", func(p *ValidatingAdmissionPolicy) {
			p.Spec.MatchConditions = append(p.Spec.MatchConditions, p.Spec.MatchConditions[0])
		}, []string{"spec.matchConditions[1].name: Duplicate value"}},

		{"variable name required", func(p *ValidatingAdmissionPolicy) { p.Spec.Variables[0].Name = " " },
			[]string{"spec.variables[0].name: Required value"}},
		{"variable name not an identifier", func(p *ValidatingAdmissionPolicy) { p.Spec.Variables[0].Name = "max-replicas" },
			[]string{"spec.variables[0].name: Invalid value"}},
		{"variable name reserved", func(p *ValidatingAdmissionPolicy) { p.Spec.Variables[0].Name = "namespace" },
			[]string{"spec.variables[0].name: Invalid value"}},
		{"variable name duplicate", func(p *ValidatingAdmissionPolicy) {
			p.Spec.Variables = append(p.Spec.Variables, Variable{Name: "replicas", Expression: "1"})
		}, []string{"spec.variables[1].name: Duplicate value"}},
		{"variable expression required", func(p *ValidatingAdmissionPolicy) { p.Spec.Variables[0].Expression = "" },
			[]string{"spec.variables[0].expression: Required value"}},

		{"validations or auditAnnotations required", func(p *ValidatingAdmissionPolicy) {
			p.Spec.Validations, p.Spec.AuditAnnotations = nil, nil
		}, []string{"spec.validations: Required value", "spec.auditAnnotations: Required value"}},
		{"validation expression required", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[1].Expression = "\n" },
			[]string{"spec.validations[1].expression: Required value"}},
		{"validation messageExpression blank", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[0].MessageExpression = "  " },
			[]string{"spec.validations[0].messageExpression: Invalid value"}},
		{"validation message blank", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[1].Message = "  " },
			[]string{"spec.validations[1].message: Invalid value"}},
		{"validation message with a line break", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[1].Message = "too\nmany" },
			[]string{"spec.validations[1].message: Invalid value"}},
		{"validation message with a carriage return", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[1].Message = "too\rmany" },
			[]string{"spec.validations[1].message: Invalid value"}},
		{"validation reason unsupported", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[0].Reason = ptrTo("Conflict") },
			[]string{"spec.validations[0].reason: Unsupported value"}},
		{"validation reason Unauthorized", func(p *ValidatingAdmissionPolicy) { p.Spec.Validations[0].Reason = ptrTo(ReasonUnauthorized) },
			[]string{"spec.validations[0].reason: Unsupported value"}},

		{"auditAnnotations too many", func(p *ValidatingAdmissionPolicy) {
			p.Spec.AuditAnnotations = nil
			for i := range maxAuditAnnotations + 1 {
				p.Spec.AuditAnnotations = append(p.Spec.AuditAnnotations,
					AuditAnnotation{Key: "k" + strconv.Itoa(i), ValueExpression: "'v'"})
			}
		}, []string{"spec.auditAnnotations: Invalid value"}},
		{"auditAnnotation key invalid", func(p *ValidatingAdmissionPolicy) { p.Spec.AuditAnnotations[0].Key = "high replicas" },
			[]string{"spec.auditAnnotations[0].key: Invalid value"}},
		{"auditAnnotation key required", func(p *ValidatingAdmissionPolicy) { p.Spec.AuditAnnotations[0].Key = "" },
			[]string{"spec.auditAnnotations[0].key: Invalid value", "spec.auditAnnotations[0].key: Invalid value"}},
		{"auditAnnotation key too long", func(p *ValidatingAdmissionPolicy) { p.Spec.AuditAnnotations[0].Key = strings.Repeat("k", 64) },
			[]string{"spec.auditAnnotations[0].key: Invalid value"}},
		{"auditAnnotation key with a slash", func(p *ValidatingAdmissionPolicy) { p.Spec.AuditAnnotations[0].Key = "example.com/high" },
			[]string{"spec.auditAnnotations[0].key: Invalid value"}},
		{"auditAnnotation key without a policy name", func(p *ValidatingAdmissionPolicy) { p.Name = "" },
			[]string{"spec.auditAnnotations[0].key: Invalid value"}},
		{"auditAnnotation key duplicate", func(p *ValidatingAdmissionPolicy) {
			p.Spec.AuditAnnotations = append(p.Spec.AuditAnnotations, p.Spec.AuditAnnotations[0])
		}, []string{"spec.auditAnnotations[1].key: Duplicate value"}},
		{"auditAnnotation valueExpression required", func(p *ValidatingAdmissionPolicy) { p.Spec.AuditAnnotations[0].ValueExpression = " " },
			[]string{"spec.auditAnnotations[0].valueExpression: Required value"}},
		{"auditAnnotation valueExpression too long", func(p *ValidatingAdmissionPolicy) {
			p.Spec.AuditAnnotations[0].ValueExpression = "'" + strings.Repeat("v", maxAuditAnnotationValueExpressionLength) + "'"
		}, []string{"spec.auditAnnotations[0].valueExpression: Required value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base.DeepCopy()
			tc.mutate(p)
			assert.Equal(t, tc.want, errorSummary(p.Validate()))
		})
	}
}

func TestValidatingAdmissionPolicyMessages(t *testing.T) {
	p := newTestPolicy(t)
	p.Spec.Validations[0].Reason = ptrTo(ReasonUnauthorized)
	p.Spec.MatchConstraints.ResourceRules[0].Operations[1] = "PATCH"
	p.Spec.ParamKind.Kind = "Replica_Limit"
	p.Spec.AuditAnnotations[0].Key = "high replicas"
	assert.Equal(t, []string{
		`spec.paramKind.kind: Invalid value: "Replica_Limit": may have mixed case, but should otherwise match: ` + IsDNS1035Label("replica_limit")[0],
		`spec.matchConstraints.resourceRules[0].operations[1]: Unsupported value: "PATCH": supported values: "*", "CONNECT", "CREATE", "DELETE", "UPDATE"`,
		`spec.validations[0].reason: Unsupported value: "Unauthorized": supported values: "Forbidden", "Invalid", "RequestEntityTooLarge"`,
		`spec.auditAnnotations[0].key: Invalid value: "replicalimit-policy.example.com/high replicas": ` + IsQualifiedName("high replicas")[0],
	}, errorStrings(p.Validate()))
}

// Validate of an object the Scheme has not defaulted reports what Default
// would have filled in, and does not panic.
func TestValidatingAdmissionPolicyNotDefaulted(t *testing.T) {
	assert.Equal(t, []string{"spec.failurePolicy: Required value", "spec.matchConstraints: Required value",
		"spec.validations: Required value", "spec.auditAnnotations: Required value"},
		errorSummary((&ValidatingAdmissionPolicy{}).Validate()))

	p := decodeManifest(t, demoPolicyManifest).(*ValidatingAdmissionPolicy)
	assert.Equal(t, []string{"spec.matchConstraints.matchPolicy: Required value",
		"spec.matchConstraints.namespaceSelector: Required value", "spec.matchConstraints.objectSelector: Required value"},
		errorSummary(p.Validate()))

	b := decodeManifest(t, demoBindingManifest).(*ValidatingAdmissionPolicyBinding)
	assert.Equal(t, []string{"spec.matchResources.matchPolicy: Required value", "spec.matchResources.objectSelector: Required value"},
		errorSummary(b.Validate()))
	assert.Equal(t, []string{"spec.policyName: Required value", "spec.validationActions: Required value"},
		errorSummary((&ValidatingAdmissionPolicyBinding{}).Validate()))
}

func TestValidatingAdmissionPolicyValidateUpdate(t *testing.T) {
	old := newTestPolicy(t)
	n := old.DeepCopy()
	n.Spec.Validations = n.Spec.Validations[:1]
	n.Spec.ParamKind = nil
	n.Spec.FailurePolicy = ptrTo(FailurePolicyFail)
	assert.Empty(t, n.ValidateUpdate(old))
	require.NoError(t, NewScheme().ValidateUpdate(n, old))

	n.Spec.Validations[0].Expression = ""
	assert.Error(t, NewScheme().ValidateUpdate(n, old), "the updated policy is validated")
	assert.Equal(t, []string{"kind: Invalid value"}, errorSummary(n.ValidateUpdate(&ValidatingAdmissionPolicyBinding{})))
}

func TestValidatingAdmissionPolicyBindingValidate(t *testing.T) {
	base := decodeManifest(t, fullBindingManifest).(*ValidatingAdmissionPolicyBinding)
	base.Default()
	require.Empty(t, base.Validate())
	ref := func(b *ValidatingAdmissionPolicyBinding) *ParamRef { return b.Spec.ParamRef }
	cases := []struct {
		name   string
		mutate func(*ValidatingAdmissionPolicyBinding)
		want   []string
	}{
		{"valid demo", func(b *ValidatingAdmissionPolicyBinding) {
			b.Spec = decodeManifest(t, demoBindingManifest).(*ValidatingAdmissionPolicyBinding).Spec
			b.Default()
		}, nil},
		{"valid without paramRef and matchResources", func(b *ValidatingAdmissionPolicyBinding) {
			b.Spec.ParamRef, b.Spec.MatchResources = nil, nil
		}, nil},
		{"valid paramRef by selector", func(b *ValidatingAdmissionPolicyBinding) {
			ref(b).Name = ""
			ref(b).Selector = &LabelSelector{MatchLabels: map[string]string{"environment": "test"}}
			ref(b).ParameterNotFoundAction = ptrTo(AllowAction)
		}, nil},
		{"valid actions", func(b *ValidatingAdmissionPolicyBinding) {
			b.Spec.ValidationActions = []ValidationAction{ActionDeny, ActionAudit}
		}, nil},

		{"policyName required", func(b *ValidatingAdmissionPolicyBinding) { b.Spec.PolicyName = "" },
			[]string{"spec.policyName: Required value"}},
		{"policyName invalid", func(b *ValidatingAdmissionPolicyBinding) { b.Spec.PolicyName = "Replica_Limit" },
			[]string{"spec.policyName: Invalid value"}},

		{"paramRef name invalid", func(b *ValidatingAdmissionPolicyBinding) { ref(b).Name = "a/b" },
			[]string{"spec.paramRef.name: Invalid value"}},
		{"paramRef name and selector", func(b *ValidatingAdmissionPolicyBinding) { ref(b).Selector = &LabelSelector{} },
			[]string{"spec.paramRef.name: Forbidden", "spec.paramRef.selector: Forbidden"}},
		{"paramRef name or selector required", func(b *ValidatingAdmissionPolicyBinding) { ref(b).Name = "" },
			[]string{"spec.paramRef: Required value"}},
		{"paramRef selector invalid", func(b *ValidatingAdmissionPolicyBinding) {
			ref(b).Name = ""
			ref(b).Selector = &LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}
		}, []string{"spec.paramRef.selector.matchLabels: Invalid value"}},
		{"parameterNotFoundAction required", func(b *ValidatingAdmissionPolicyBinding) { ref(b).ParameterNotFoundAction = nil },
			[]string{"spec.paramRef.parameterNotFoundAction: Required value"}},
		{"parameterNotFoundAction empty", func(b *ValidatingAdmissionPolicyBinding) {
			ref(b).ParameterNotFoundAction = ptrTo(ParameterNotFoundActionType(""))
		}, []string{"spec.paramRef.parameterNotFoundAction: Required value"}},
		{"parameterNotFoundAction unsupported", func(b *ValidatingAdmissionPolicyBinding) {
			ref(b).ParameterNotFoundAction = ptrTo(ParameterNotFoundActionType("Ignore"))
		}, []string{"spec.paramRef.parameterNotFoundAction: Unsupported value"}},

		{"matchResources checked", func(b *ValidatingAdmissionPolicyBinding) {
			b.Spec.MatchResources.ExcludeResourceRules[0].Resources = []string{"*", "pods"}
			b.Spec.MatchResources.NamespaceSelector.MatchLabels["environment"] = "not valid"
		}, []string{"spec.matchResources.namespaceSelector.matchLabels: Invalid value",
			"spec.matchResources.excludeResourceRules[0].resources: Invalid value"}},

		{"validationActions required", func(b *ValidatingAdmissionPolicyBinding) { b.Spec.ValidationActions = nil },
			[]string{"spec.validationActions: Required value"}},
		{"validationAction unsupported", func(b *ValidatingAdmissionPolicyBinding) { b.Spec.ValidationActions[1] = "Log" },
			[]string{"spec.validationActions[1]: Unsupported value"}},
		{"validationAction duplicate", func(b *ValidatingAdmissionPolicyBinding) {
			b.Spec.ValidationActions = []ValidationAction{ActionAudit, ActionAudit}
		}, []string{"spec.validationActions[1]: Duplicate value"}},
		{"validationActions Deny and Warn", func(b *ValidatingAdmissionPolicyBinding) {
			b.Spec.ValidationActions = []ValidationAction{ActionWarn, ActionDeny}
		}, []string{"spec.validationActions: Invalid value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := base.DeepCopy()
			tc.mutate(b)
			assert.Equal(t, tc.want, errorSummary(b.Validate()))
		})
	}
}

func TestValidatingAdmissionPolicyBindingValidateUpdate(t *testing.T) {
	old := decodeManifest(t, fullBindingManifest).(*ValidatingAdmissionPolicyBinding)
	old.Default()
	n := old.DeepCopy()
	n.Spec.PolicyName = "demo-policy.example.com"
	n.Spec.ParamRef = nil
	n.Spec.ValidationActions = []ValidationAction{ActionDeny}
	assert.Empty(t, n.ValidateUpdate(old))
	require.NoError(t, NewScheme().ValidateUpdate(n, old))

	n.Spec.ValidationActions = nil
	assert.Error(t, NewScheme().ValidateUpdate(n, old), "the updated binding is validated")
	assert.Equal(t, []string{"kind: Invalid value"}, errorSummary(n.ValidateUpdate(&ValidatingAdmissionPolicy{})))
}
