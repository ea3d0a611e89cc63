package objects

// ValidatingAdmissionPolicy describes an admission validation of CEL
// expressions, applied to the writes its bindings select
// (admissionregistration.k8s.io/v1, cluster-scoped). A policy does
// nothing until a ValidatingAdmissionPolicyBinding names it.
type ValidatingAdmissionPolicy struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   ValidatingAdmissionPolicySpec   `json:"spec,omitempty"`
	Status ValidatingAdmissionPolicyStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (p *ValidatingAdmissionPolicy) DeepCopyObject() Object { return p.DeepCopy() }

// ValidatingAdmissionPolicySpec is what a policy checks and of which writes.
type ValidatingAdmissionPolicySpec struct {
	// ParamKind, when set, is the kind of the parameter objects its
	// bindings name (paramRef), which the expressions read as params.
	ParamKind *ParamKind `json:"paramKind,omitempty"`
	// MatchConstraints are the writes the policy may apply to; required,
	// with resourceRules.
	MatchConstraints *MatchResources `json:"matchConstraints,omitempty"`
	// Validations must all evaluate to true for a write to be admitted.
	Validations []Validation `json:"validations,omitempty"`
	// FailurePolicy says what an expression that cannot be evaluated
	// means: Fail (the default) refuses the write, Ignore skips it.
	FailurePolicy *FailurePolicyType `json:"failurePolicy,omitempty"`
	// AuditAnnotations are values recorded with the decision; podkit
	// logs them.
	AuditAnnotations []AuditAnnotation `json:"auditAnnotations,omitempty"`
	// MatchConditions narrow the writes further: all must be true for
	// the policy to apply.
	MatchConditions []MatchCondition `json:"matchConditions,omitempty"`
	// Variables are named expressions the others read as
	// variables.NAME, each evaluated once, when first read.
	Variables []Variable `json:"variables,omitempty"`
}

// ValidatingAdmissionPolicyStatus reports the generation of the spec seen.
type ValidatingAdmissionPolicyStatus struct {
	ObservedGeneration int64         `json:"observedGeneration,omitempty"`
	TypeChecking       *TypeChecking `json:"typeChecking,omitempty"`
	Conditions         []Condition   `json:"conditions,omitempty"`
}

// TypeChecking holds the warnings of checking expressions against the
// types they read.
type TypeChecking struct {
	ExpressionWarnings []ExpressionWarning `json:"expressionWarnings,omitempty"`
}

// ExpressionWarning is one such warning.
type ExpressionWarning struct {
	FieldRef string `json:"fieldRef"`
	Warning  string `json:"warning"`
}

// ParamKind names a kind by apiVersion and kind ("v1", "ConfigMap").
type ParamKind struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// Validation is one CEL expression that must be true.
type Validation struct {
	Expression string `json:"expression"`
	// Message is the refusal's message when the expression is false.
	Message string `json:"message,omitempty"`
	// Reason is the refusal's reason: Invalid (the default), Forbidden
	// or RequestEntityTooLarge.
	Reason *string `json:"reason,omitempty"`
	// MessageExpression, a CEL expression of type string, words the
	// refusal instead of Message.
	MessageExpression string `json:"messageExpression,omitempty"`
}

// Reasons of a Validation. Kubernetes' API reference also lists
// Unauthorized, which its validation refuses, as podkit's does.
const (
	ReasonInvalid               = "Invalid"
	ReasonForbidden             = "Forbidden"
	ReasonUnauthorized          = "Unauthorized"
	ReasonRequestEntityTooLarge = "RequestEntityTooLarge"
)

// Variable is a named CEL expression.
type Variable struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// AuditAnnotation is a key and a CEL expression of its value (a string,
// or null for none).
type AuditAnnotation struct {
	Key             string `json:"key"`
	ValueExpression string `json:"valueExpression"`
}

// MatchCondition is a named CEL expression of type bool.
type MatchCondition struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// FailurePolicyType is Fail or Ignore.
type FailurePolicyType string

// Failure policies.
const (
	FailurePolicyFail   FailurePolicyType = "Fail"
	FailurePolicyIgnore FailurePolicyType = "Ignore"
)

// MatchPolicyType is Exact or Equivalent.
type MatchPolicyType string

// Match policies.
const (
	MatchPolicyExact      MatchPolicyType = "Exact"
	MatchPolicyEquivalent MatchPolicyType = "Equivalent"
)

// MatchResources selects writes by kind, operation, namespace and labels.
type MatchResources struct {
	// NamespaceSelector selects the namespaces of the objects (for a
	// Namespace, its own labels); cluster-scoped objects always match.
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	// ObjectSelector selects by the labels of the object, or of the
	// object as it was.
	ObjectSelector *LabelSelector `json:"objectSelector,omitempty"`
	// ResourceRules are the kinds and operations matched: a write
	// matches when one of them does.
	ResourceRules []NamedRuleWithOperations `json:"resourceRules,omitempty"`
	// ExcludeResourceRules are those never matched.
	ExcludeResourceRules []NamedRuleWithOperations `json:"excludeResourceRules,omitempty"`
	// MatchPolicy: Equivalent (the default) also matches a write made
	// through another version of the API; podkit serves one version of
	// each kind, so both match the same.
	MatchPolicy *MatchPolicyType `json:"matchPolicy,omitempty"`
}

// NamedRuleWithOperations is a rule, optionally limited to objects by name.
type NamedRuleWithOperations struct {
	ResourceNames      []string `json:"resourceNames,omitempty"`
	RuleWithOperations `json:",inline"`
}

// RuleWithOperations is a rule and the operations it matches.
type RuleWithOperations struct {
	// Operations: CREATE, UPDATE, DELETE, CONNECT or "*".
	Operations []OperationType `json:"operations,omitempty"`
	Rule       `json:",inline"`
}

// OperationType is an admission operation in a rule.
type OperationType string

// Operations of a rule.
const (
	OperationAll     OperationType = "*"
	OperationCreate  OperationType = "CREATE"
	OperationUpdate  OperationType = "UPDATE"
	OperationDelete  OperationType = "DELETE"
	OperationConnect OperationType = "CONNECT"
)

// Rule matches API groups, versions and resources ("pods",
// "deployments", "*", "pods/status", "*/*").
type Rule struct {
	APIGroups   []string `json:"apiGroups,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
	Resources   []string `json:"resources,omitempty"`
	// Scope is Cluster, Namespaced or "*" (the default).
	Scope *ScopeType `json:"scope,omitempty"`
}

// ScopeType is the scope a rule matches.
type ScopeType string

// Scopes of a rule.
const (
	ClusterScope    ScopeType = "Cluster"
	NamespacedScope ScopeType = "Namespaced"
	AllScopes       ScopeType = "*"
)

// ValidatingAdmissionPolicyBinding applies a ValidatingAdmissionPolicy,
// with parameters and further constraints of its own
// (admissionregistration.k8s.io/v1, cluster-scoped).
type ValidatingAdmissionPolicyBinding struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec ValidatingAdmissionPolicyBindingSpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (b *ValidatingAdmissionPolicyBinding) DeepCopyObject() Object { return b.DeepCopy() }

// ValidatingAdmissionPolicyBindingSpec names the policy, its parameters,
// and what a failed validation does.
type ValidatingAdmissionPolicyBindingSpec struct {
	PolicyName string `json:"policyName,omitempty"`
	// ParamRef finds the parameter objects, of the policy's ParamKind.
	ParamRef *ParamRef `json:"paramRef,omitempty"`
	// MatchResources, when set, limits the writes further, within the
	// policy's MatchConstraints.
	MatchResources *MatchResources `json:"matchResources,omitempty"`
	// ValidationActions are what a failed validation does: Deny refuses
	// the write; Warn and Audit log it (podkit's API returns no
	// warnings and keeps no audit log). Required.
	ValidationActions []ValidationAction `json:"validationActions,omitempty"`
}

// ValidationAction is Deny, Warn or Audit.
type ValidationAction string

// Validation actions.
const (
	ActionDeny  ValidationAction = "Deny"
	ActionWarn  ValidationAction = "Warn"
	ActionAudit ValidationAction = "Audit"
)

// ParamRef finds a binding's parameter objects: one by name, or those a
// selector matches, in a namespace.
type ParamRef struct {
	Name string `json:"name,omitempty"`
	// Namespace of the parameters of a namespaced ParamKind; when empty,
	// the namespace of the object written (and for a cluster-scoped
	// object, no parameter is found).
	Namespace string         `json:"namespace,omitempty"`
	Selector  *LabelSelector `json:"selector,omitempty"`
	// ParameterNotFoundAction: Deny refuses a write for which no
	// parameter is found, Allow admits it. Required with a ParamRef.
	ParameterNotFoundAction *ParameterNotFoundActionType `json:"parameterNotFoundAction,omitempty"`
}

// ParameterNotFoundActionType is Allow or Deny.
type ParameterNotFoundActionType string

// Parameter-not-found actions.
const (
	AllowAction ParameterNotFoundActionType = "Allow"
	DenyAction  ParameterNotFoundActionType = "Deny"
)

// Default fills in defaults as Kubernetes' SetDefaults_ValidatingAdmissionPolicySpec does.
func (p *ValidatingAdmissionPolicy) Default() {
	if p.Spec.FailurePolicy == nil {
		p.Spec.FailurePolicy = ptrTo(FailurePolicyFail)
	}
	p.Spec.MatchConstraints.defaults()
}

// Default fills in defaults as Kubernetes' admissionregistration defaults do.
func (b *ValidatingAdmissionPolicyBinding) Default() {
	b.Spec.MatchResources.defaults()
}

func (m *MatchResources) defaults() {
	if m == nil {
		return
	}
	if m.MatchPolicy == nil {
		m.MatchPolicy = ptrTo(MatchPolicyEquivalent)
	}
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &LabelSelector{}
	}
	for _, rules := range [][]NamedRuleWithOperations{m.ResourceRules, m.ExcludeResourceRules} {
		for i := range rules {
			if rules[i].Scope == nil {
				rules[i].Scope = ptrTo(AllScopes)
			}
		}
	}
}
