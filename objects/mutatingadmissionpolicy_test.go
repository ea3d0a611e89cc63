package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The examples of Kubernetes' documentation (Mutating Admission Policy),
// at admissionregistration.k8s.io/v1.
const (
	sidecarApplyPolicyManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: "sidecar-policy.example.com"
spec:
  paramKind:
    kind: Sidecar
    apiVersion: mutations.example.com/v1
  matchConstraints:
    resourceRules:
    - apiGroups:   [""]
      apiVersions: ["v1"]
      operations:  ["CREATE"]
      resources:   ["pods"]
  matchConditions:
    - name: does-not-already-have-sidecar
      expression: "!object.spec.initContainers.exists(ic, ic.name == \"mesh-proxy\")"
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  mutations:
    - patchType: "ApplyConfiguration"
      applyConfiguration:
        expression: >
          Object{
            spec: Object.spec{
              initContainers: [
                Object.spec.initContainers{
                  name: "mesh-proxy",
                  image: "mesh/proxy:v1.0.0",
                  args: ["proxy", "sidecar"],
                  restartPolicy: "Always"
                }
              ]
            }
          }
`
	sidecarJSONPatchPolicyManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: "sidecar-policy.example.com"
spec:
  paramKind:
    kind: Sidecar
    apiVersion: mutations.example.com/v1
  matchConstraints:
    resourceRules:
    - apiGroups:   [""]
      apiVersions: ["v1"]
      operations:  ["CREATE"]
      resources:   ["pods"]
  matchConditions:
    - name: does-not-already-have-sidecar
      expression: "!object.spec.initContainers.exists(ic, ic.name == \"mesh-proxy\")"
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  mutations:
    - patchType: "JSONPatch"
      jsonPatch:
        expression: >
          [
            JSONPatch{
              op: "add", path: "/spec/initContainers/-",
              value: Object.spec.initContainers{
                name: "mesh-proxy",
                image: "mesh-proxy/v1.0.0",
                restartPolicy: "Always"
              }
            }
          ]
`
	sidecarBindingManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: "sidecar-policy.example.com"
spec:
  matchResources:
    namespaceSelector: {}
  policyName: "sidecar-policy.example.com"
`
)

// A policy using every field.
const fullMutatingPolicyManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: sidecar-params-policy.example.com
spec:
  failurePolicy: Ignore
  paramKind:
    apiVersion: mutations.example.com/v1
    kind: Sidecar
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
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["pods"]
      scope: Namespaced
    excludeResourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["DELETE"]
      resources: ["pods"]
      resourceNames: ["coredns"]
  matchConditions:
  - name: does-not-already-have-sidecar
    expression: '!object.spec.initContainers.exists(ic, ic.name == params.name)'
  variables:
  - name: sidecar
    expression: 'Object.spec.initContainers{name: params.name, image: params.image, restartPolicy: "Always"}'
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{spec: Object.spec{initContainers: [variables.sidecar]}}'
  - patchType: JSONPatch
    jsonPatch:
      expression: '[JSONPatch{op: "add", path: "/metadata/labels/sidecar", value: params.name}]'
  reinvocationPolicy: Never
`

// A binding using every field.
const fullMutatingBindingManifest = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: sidecar-params-binding-test.example.com
spec:
  policyName: sidecar-params-policy.example.com
  paramRef:
    name: meshproxy-test.example.com
    namespace: default
    parameterNotFoundAction: Deny
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["pods"]
    excludeResourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["DELETE"]
      resources: ["pods"]
      scope: "*"
`

// compactCEL drops the layout of an expression folded by YAML.
func compactCEL(s string) string { return strings.Join(strings.Fields(s), "") }

func TestMutatingAdmissionPolicyManifest(t *testing.T) {
	const condition = `!object.spec.initContainers.exists(ic, ic.name == "mesh-proxy")`
	p := decodeManifest(t, sidecarApplyPolicyManifest).(*MutatingAdmissionPolicy)
	require.NoError(t, validateThroughScheme(p))
	mc := p.Spec.MatchConstraints
	assert.Equal(t, FailurePolicyFail, *p.Spec.FailurePolicy)
	assert.Equal(t, IfNeededReinvocationPolicy, p.Spec.ReinvocationPolicy)
	assert.Equal(t, MatchPolicyEquivalent, *mc.MatchPolicy)
	assert.Equal(t, &LabelSelector{}, mc.NamespaceSelector)
	assert.Equal(t, &LabelSelector{}, mc.ObjectSelector)
	assert.Equal(t, AllScopes, *mc.ResourceRules[0].Scope)
	assert.Equal(t, []OperationType{OperationCreate}, mc.ResourceRules[0].Operations)
	assert.Equal(t, condition, p.Spec.MatchConditions[0].Expression)
	require.Len(t, p.Spec.Mutations, 1)
	m := p.Spec.Mutations[0]
	assert.Equal(t, PatchTypeApplyConfiguration, m.PatchType)
	assert.Nil(t, m.JSONPatch)
	assert.Equal(t, compactCEL(`Object{spec: Object.spec{initContainers: [Object.spec.initContainers{name: "mesh-proxy", `+
		`image: "mesh/proxy:v1.0.0", args: ["proxy", "sidecar"], restartPolicy: "Always"}]}}`),
		compactCEL(m.ApplyConfiguration.Expression))
	assert.Empty(t, p.Validate())
	jsonRoundTrip(t, p)

	jp := decodeManifest(t, sidecarJSONPatchPolicyManifest).(*MutatingAdmissionPolicy)
	require.NoError(t, validateThroughScheme(jp))
	assert.Equal(t, condition, jp.Spec.MatchConditions[0].Expression)
	m = jp.Spec.Mutations[0]
	assert.Equal(t, PatchTypeJSONPatch, m.PatchType)
	assert.Nil(t, m.ApplyConfiguration)
	assert.Equal(t, compactCEL(`[JSONPatch{op: "add", path: "/spec/initContainers/-", value: Object.spec.initContainers{`+
		`name: "mesh-proxy", image: "mesh-proxy/v1.0.0", restartPolicy: "Always"}}]`),
		compactCEL(m.JSONPatch.Expression))

	full := decodeManifest(t, fullMutatingPolicyManifest).(*MutatingAdmissionPolicy)
	require.NoError(t, validateThroughScheme(full))
	assert.Equal(t, FailurePolicyIgnore, *full.Spec.FailurePolicy)
	assert.Equal(t, NamespacedScope, *full.Spec.MatchConstraints.ResourceRules[0].Scope)
	assert.Equal(t, AllScopes, *full.Spec.MatchConstraints.ExcludeResourceRules[0].Scope)
	jsonRoundTrip(t, full)

	ns := p.DeepCopy()
	ns.Namespace = "default"
	assert.Error(t, NewScheme().Validate(ns), "cluster-scoped")
}

func TestMutatingAdmissionPolicyBindingManifest(t *testing.T) {
	b := decodeManifest(t, sidecarBindingManifest).(*MutatingAdmissionPolicyBinding)
	require.NoError(t, validateThroughScheme(b))
	assert.Equal(t, "sidecar-policy.example.com", b.Spec.PolicyName)
	assert.Equal(t, MatchPolicyEquivalent, *b.Spec.MatchResources.MatchPolicy)
	assert.Equal(t, &LabelSelector{}, b.Spec.MatchResources.ObjectSelector)
	assert.Empty(t, b.Validate())
	jsonRoundTrip(t, b)

	full := decodeManifest(t, fullMutatingBindingManifest).(*MutatingAdmissionPolicyBinding)
	require.NoError(t, validateThroughScheme(full))
	jsonRoundTrip(t, full)

	ns := b.DeepCopy()
	ns.Namespace = "default"
	assert.Error(t, NewScheme().Validate(ns), "cluster-scoped")
}

// newTestMutatingPolicy is the full policy, decoded and defaulted.
func newTestMutatingPolicy(t *testing.T) *MutatingAdmissionPolicy {
	t.Helper()
	p := decodeManifest(t, fullMutatingPolicyManifest).(*MutatingAdmissionPolicy)
	p.Default()
	return p
}

func TestMutatingAdmissionPolicyValidate(t *testing.T) {
	base := newTestMutatingPolicy(t)
	require.Empty(t, base.Validate())
	mc := func(p *MutatingAdmissionPolicy) *MatchResources { return p.Spec.MatchConstraints }
	rule := func(p *MutatingAdmissionPolicy) *NamedRuleWithOperations { return &mc(p).ResourceRules[0] }
	apply := func(p *MutatingAdmissionPolicy) *Mutation { return &p.Spec.Mutations[0] }
	patch := func(p *MutatingAdmissionPolicy) *Mutation { return &p.Spec.Mutations[1] }
	const (
		operations = "spec.matchConstraints.resourceRules.operations"
		mutation0  = "spec.mutations[0]"
		mutation1  = "spec.mutations[1]"
	)
	cases := []struct {
		name   string
		mutate func(*MutatingAdmissionPolicy)
		want   []string
	}{
		{"valid apply configuration example", func(p *MutatingAdmissionPolicy) {
			p.Spec = decodeManifest(t, sidecarApplyPolicyManifest).(*MutatingAdmissionPolicy).Spec
			p.Default()
		}, nil},
		{"valid JSON patch example", func(p *MutatingAdmissionPolicy) {
			p.Spec = decodeManifest(t, sidecarJSONPatchPolicyManifest).(*MutatingAdmissionPolicy).Spec
			p.Default()
		}, nil},
		{"valid without paramKind, matchConditions and variables", func(p *MutatingAdmissionPolicy) {
			p.Spec.ParamKind, p.Spec.MatchConditions, p.Spec.Variables = nil, nil, nil
		}, nil},
		{"valid reinvocationPolicy IfNeeded", func(p *MutatingAdmissionPolicy) { p.Spec.ReinvocationPolicy = IfNeededReinvocationPolicy }, nil},
		{"valid operations wildcard", func(p *MutatingAdmissionPolicy) { rule(p).Operations = []OperationType{OperationAll} }, nil},
		// Kubernetes allows CONNECT, though a connection has no object to patch.
		{"valid operation CONNECT", func(p *MutatingAdmissionPolicy) {
			rule(p).Operations = []OperationType{OperationConnect}
			rule(p).Resources = []string{"pods/exec"}
		}, nil},
		{"valid DELETE excluded", func(p *MutatingAdmissionPolicy) {
			mc(p).ExcludeResourceRules[0].Operations = []OperationType{OperationDelete, OperationUpdate}
		}, nil},

		{"failurePolicy unsupported", func(p *MutatingAdmissionPolicy) { p.Spec.FailurePolicy = ptrTo(FailurePolicyType("Never")) },
			[]string{"spec.failurePolicy: Unsupported value"}},
		{"failurePolicy required", func(p *MutatingAdmissionPolicy) { p.Spec.FailurePolicy = nil },
			[]string{"spec.failurePolicy: Required value"}},

		{"paramKind checked", func(p *MutatingAdmissionPolicy) { p.Spec.ParamKind.Kind = "" },
			[]string{"spec.paramKind.kind: Required value"}},

		{"matchConstraints required", func(p *MutatingAdmissionPolicy) { p.Spec.MatchConstraints = nil },
			[]string{"spec.matchConstraints: Required value"}},
		{"resourceRules required", func(p *MutatingAdmissionPolicy) { mc(p).ResourceRules = nil },
			[]string{"spec.matchConstraints.resourceRules: Required value"}},
		{"matchConstraints checked", func(p *MutatingAdmissionPolicy) {
			mc(p).MatchPolicy = ptrTo(MatchPolicyType("Fuzzy"))
			mc(p).ExcludeResourceRules[0].APIGroups = nil
		}, []string{"spec.matchConstraints.matchPolicy: Unsupported value",
			"spec.matchConstraints.excludeResourceRules[0].apiGroups: Required value"}},
		{"operation DELETE", func(p *MutatingAdmissionPolicy) { rule(p).Operations[1] = OperationDelete },
			[]string{operations + ": Unsupported value"}},
		{"operation DELETE in a later rule", func(p *MutatingAdmissionPolicy) {
			mc(p).ResourceRules = append(mc(p).ResourceRules, *rule(p).DeepCopy())
			mc(p).ResourceRules[1].Operations = []OperationType{OperationDelete}
		}, []string{operations + ": Unsupported value"}},
		{"operation unknown", func(p *MutatingAdmissionPolicy) { rule(p).Operations[0] = "PATCH" },
			[]string{"spec.matchConstraints.resourceRules[0].operations[0]: Unsupported value", operations + ": Unsupported value"}},

		{"matchCondition expression required", func(p *MutatingAdmissionPolicy) { p.Spec.MatchConditions[0].Expression = " " },
			[]string{"spec.matchConditions[0].expression: Required value"}},
		{"matchCondition name duplicate", func(p *MutatingAdmissionPolicy) {
			p.Spec.MatchConditions = append(p.Spec.MatchConditions, p.Spec.MatchConditions[0])
		}, []string{"spec.matchConditions[1].name: Duplicate value"}},

		{"variable name not an identifier", func(p *MutatingAdmissionPolicy) { p.Spec.Variables[0].Name = "side-car" },
			[]string{"spec.variables[0].name: Invalid value"}},
		{"variable expression required", func(p *MutatingAdmissionPolicy) { p.Spec.Variables[0].Expression = "" },
			[]string{"spec.variables[0].expression: Required value"}},

		{"mutations required", func(p *MutatingAdmissionPolicy) { p.Spec.Mutations = nil },
			[]string{"spec.mutations: Required value"}},
		{"mutations empty", func(p *MutatingAdmissionPolicy) { p.Spec.Mutations = []Mutation{} },
			[]string{"spec.mutations: Required value"}},
		{"patchType required", func(p *MutatingAdmissionPolicy) { apply(p).PatchType = "" },
			[]string{mutation0 + ".patchType: Required value"}},
		// The fields are checked only against a known patchType.
		{"patchType unsupported", func(p *MutatingAdmissionPolicy) {
			apply(p).PatchType = "MergePatch"
			apply(p).JSONPatch = patch(p).JSONPatch
		}, []string{mutation0 + ".patchType: Unsupported value"}},
		{"applyConfiguration required", func(p *MutatingAdmissionPolicy) { apply(p).ApplyConfiguration = nil },
			[]string{mutation0 + ".applyConfiguration: Required value"}},
		{"applyConfiguration expression required", func(p *MutatingAdmissionPolicy) { apply(p).ApplyConfiguration.Expression = "\n " },
			[]string{mutation0 + ".applyConfiguration.expression: Required value"}},
		{"jsonPatch with ApplyConfiguration", func(p *MutatingAdmissionPolicy) { apply(p).JSONPatch = patch(p).JSONPatch },
			[]string{mutation0 + ".jsonPatch: Invalid value"}},
		{"jsonPatch required", func(p *MutatingAdmissionPolicy) { patch(p).JSONPatch = nil },
			[]string{mutation1 + ".jsonPatch: Required value"}},
		{"jsonPatch expression required", func(p *MutatingAdmissionPolicy) { patch(p).JSONPatch.Expression = " " },
			[]string{mutation1 + ".jsonPatch.expression: Required value"}},
		{"applyConfiguration with JSONPatch", func(p *MutatingAdmissionPolicy) {
			patch(p).ApplyConfiguration = apply(p).ApplyConfiguration
		}, []string{mutation1 + ".applyConfiguration: Invalid value"}},
		{"patchType swapped", func(p *MutatingAdmissionPolicy) { apply(p).PatchType = PatchTypeJSONPatch },
			[]string{mutation0 + ".jsonPatch: Required value", mutation0 + ".applyConfiguration: Invalid value"}},

		{"reinvocationPolicy required", func(p *MutatingAdmissionPolicy) { p.Spec.ReinvocationPolicy = "" },
			[]string{"spec.reinvocationPolicy: Required value"}},
		{"reinvocationPolicy unsupported", func(p *MutatingAdmissionPolicy) { p.Spec.ReinvocationPolicy = "Always" },
			[]string{"spec.reinvocationPolicy: Unsupported value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base.DeepCopy()
			tc.mutate(p)
			assert.Equal(t, tc.want, errorSummary(p.Validate()))
		})
	}
}

func TestMutatingAdmissionPolicyMessages(t *testing.T) {
	p := newTestMutatingPolicy(t)
	p.Spec.MatchConstraints.ResourceRules[0].Operations[1] = OperationDelete
	p.Spec.Mutations[0].JSONPatch = p.Spec.Mutations[1].JSONPatch
	p.Spec.Mutations[1].PatchType = "MergePatch"
	p.Spec.ReinvocationPolicy = "Always"
	p.Spec.FailurePolicy = ptrTo(FailurePolicyType("Never"))
	assert.Equal(t, []string{
		`spec.failurePolicy: Unsupported value: "Never": supported values: "Fail", "Ignore"`,
		`spec.matchConstraints.resourceRules.operations: Unsupported value: "DELETE": supported values: "*", "CONNECT", "CREATE", "UPDATE"`,
		`spec.mutations[0].jsonPatch: Invalid value: "{jsonPatch}": must not be specified when patchType is ApplyConfiguration`,
		`spec.mutations[1].patchType: Unsupported value: "MergePatch": supported values: "ApplyConfiguration", "JSONPatch"`,
		`spec.reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never"`,
	}, errorStrings(p.Validate()))

	p = newTestMutatingPolicy(t)
	p.Spec.Mutations[1].ApplyConfiguration = p.Spec.Mutations[0].ApplyConfiguration
	p.Spec.Mutations[0].ApplyConfiguration = nil
	assert.Equal(t, []string{
		`spec.mutations[0].applyConfiguration: Required value: must be specified when patchType is ApplyConfiguration`,
		`spec.mutations[1].applyConfiguration: Invalid value: "{applyConfiguration}": must not be specified when patchType is JSONPatch`,
	}, errorStrings(p.Validate()))
}

// Validate of an object the Scheme has not defaulted reports what Default
// would have filled in, and does not panic.
func TestMutatingAdmissionPolicyNotDefaulted(t *testing.T) {
	assert.Equal(t, []string{"spec.failurePolicy: Required value", "spec.matchConstraints: Required value",
		"spec.mutations: Required value", "spec.reinvocationPolicy: Required value"},
		errorSummary((&MutatingAdmissionPolicy{}).Validate()))

	p := decodeManifest(t, sidecarApplyPolicyManifest).(*MutatingAdmissionPolicy)
	assert.Equal(t, []string{"spec.matchConstraints.matchPolicy: Required value",
		"spec.matchConstraints.namespaceSelector: Required value", "spec.matchConstraints.objectSelector: Required value"},
		errorSummary(p.Validate()))

	b := decodeManifest(t, sidecarBindingManifest).(*MutatingAdmissionPolicyBinding)
	assert.Equal(t, []string{"spec.matchResources.matchPolicy: Required value", "spec.matchResources.objectSelector: Required value"},
		errorSummary(b.Validate()))
	assert.Equal(t, []string{"spec.policyName: Required value"},
		errorSummary((&MutatingAdmissionPolicyBinding{}).Validate()))
}

func TestMutatingAdmissionPolicyValidateUpdate(t *testing.T) {
	old := newTestMutatingPolicy(t)
	n := old.DeepCopy()
	n.Spec.Mutations = n.Spec.Mutations[1:]
	n.Spec.ParamKind = nil
	n.Spec.ReinvocationPolicy = IfNeededReinvocationPolicy
	n.Spec.MatchConstraints.ResourceRules[0].Operations = []OperationType{OperationAll}
	assert.Empty(t, n.ValidateUpdate(old))
	require.NoError(t, NewScheme().ValidateUpdate(n, old))

	n.Spec.Mutations[0].JSONPatch.Expression = ""
	assert.Error(t, NewScheme().ValidateUpdate(n, old), "the updated policy is validated")
	assert.Equal(t, []string{"kind: Invalid value"}, errorSummary(n.ValidateUpdate(&MutatingAdmissionPolicyBinding{})))
	assert.Equal(t, []string{"kind: Invalid value"}, errorSummary(n.ValidateUpdate(&ValidatingAdmissionPolicy{})))
}

func TestMutatingAdmissionPolicyBindingValidate(t *testing.T) {
	base := decodeManifest(t, fullMutatingBindingManifest).(*MutatingAdmissionPolicyBinding)
	base.Default()
	require.Empty(t, base.Validate())
	ref := func(b *MutatingAdmissionPolicyBinding) *ParamRef { return b.Spec.ParamRef }
	mr := func(b *MutatingAdmissionPolicyBinding) *MatchResources { return b.Spec.MatchResources }
	const operations = "spec.matchResources.resourceRules.operations"
	cases := []struct {
		name   string
		mutate func(*MutatingAdmissionPolicyBinding)
		want   []string
	}{
		{"valid example", func(b *MutatingAdmissionPolicyBinding) {
			b.Spec = decodeManifest(t, sidecarBindingManifest).(*MutatingAdmissionPolicyBinding).Spec
			b.Default()
		}, nil},
		{"valid without paramRef and matchResources", func(b *MutatingAdmissionPolicyBinding) {
			b.Spec.ParamRef, b.Spec.MatchResources = nil, nil
		}, nil},
		{"valid without resourceRules", func(b *MutatingAdmissionPolicyBinding) { mr(b).ResourceRules = nil }, nil},
		{"valid paramRef by selector", func(b *MutatingAdmissionPolicyBinding) {
			ref(b).Name = ""
			ref(b).Selector = &LabelSelector{MatchLabels: map[string]string{"environment": "test"}}
			ref(b).ParameterNotFoundAction = ptrTo(AllowAction)
		}, nil},
		{"valid operations", func(b *MutatingAdmissionPolicyBinding) {
			mr(b).ResourceRules[0].Operations = []OperationType{OperationCreate, OperationUpdate, OperationConnect}
		}, nil},

		{"policyName required", func(b *MutatingAdmissionPolicyBinding) { b.Spec.PolicyName = "" },
			[]string{"spec.policyName: Required value"}},
		{"policyName invalid", func(b *MutatingAdmissionPolicyBinding) { b.Spec.PolicyName = "Sidecar_Policy" },
			[]string{"spec.policyName: Invalid value"}},

		{"paramRef name and selector", func(b *MutatingAdmissionPolicyBinding) { ref(b).Selector = &LabelSelector{} },
			[]string{"spec.paramRef.name: Forbidden", "spec.paramRef.selector: Forbidden"}},
		{"paramRef name or selector required", func(b *MutatingAdmissionPolicyBinding) { ref(b).Name = "" },
			[]string{"spec.paramRef: Required value"}},
		{"parameterNotFoundAction required", func(b *MutatingAdmissionPolicyBinding) { ref(b).ParameterNotFoundAction = nil },
			[]string{"spec.paramRef.parameterNotFoundAction: Required value"}},

		{"matchResources checked", func(b *MutatingAdmissionPolicyBinding) {
			mr(b).ExcludeResourceRules[0].Resources = []string{"*", "pods"}
			mr(b).NamespaceSelector.MatchLabels["environment"] = "not valid"
		}, []string{"spec.matchResources.namespaceSelector.matchLabels: Invalid value",
			"spec.matchResources.excludeResourceRules[0].resources: Invalid value"}},
		{"operation DELETE", func(b *MutatingAdmissionPolicyBinding) {
			mr(b).ResourceRules[0].Operations = []OperationType{OperationCreate, OperationDelete}
		}, []string{operations + ": Unsupported value"}},
		{"operation unknown", func(b *MutatingAdmissionPolicyBinding) { mr(b).ResourceRules[0].Operations[0] = "PATCH" },
			[]string{"spec.matchResources.resourceRules[0].operations[0]: Unsupported value", operations + ": Unsupported value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := base.DeepCopy()
			tc.mutate(b)
			assert.Equal(t, tc.want, errorSummary(b.Validate()))
		})
	}
}

func TestMutatingAdmissionPolicyBindingValidateUpdate(t *testing.T) {
	old := decodeManifest(t, fullMutatingBindingManifest).(*MutatingAdmissionPolicyBinding)
	old.Default()
	n := old.DeepCopy()
	n.Spec.PolicyName = "sidecar-policy.example.com"
	n.Spec.ParamRef = nil
	n.Spec.MatchResources.ResourceRules[0].Operations = []OperationType{OperationAll}
	assert.Empty(t, n.ValidateUpdate(old))
	require.NoError(t, NewScheme().ValidateUpdate(n, old))

	n.Spec.MatchResources.ResourceRules[0].Operations = []OperationType{OperationDelete}
	assert.Error(t, NewScheme().ValidateUpdate(n, old), "the updated binding is validated")
	assert.Equal(t, []string{"kind: Invalid value"}, errorSummary(n.ValidateUpdate(&MutatingAdmissionPolicy{})))
}
