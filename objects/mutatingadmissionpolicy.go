package objects

// MutatingAdmissionPolicy describes an admission mutation in CEL: a JSON
// Patch, or an apply configuration merged into the object, applied to the
// creates and updates its bindings select (admissionregistration.k8s.io/v1,
// cluster-scoped). A policy does nothing until a
// MutatingAdmissionPolicyBinding names it.
type MutatingAdmissionPolicy struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec MutatingAdmissionPolicySpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (p *MutatingAdmissionPolicy) DeepCopyObject() Object { return p.DeepCopy() }

// MutatingAdmissionPolicySpec is what a policy changes and of which writes.
type MutatingAdmissionPolicySpec struct {
	// ParamKind, when set, is the kind of the parameter objects its
	// bindings name (paramRef), which the expressions read as params.
	ParamKind *ParamKind `json:"paramKind,omitempty"`
	// MatchConstraints are the writes the policy may apply to; required,
	// with resourceRules, which may not name DELETE (podkit mutates
	// creates and updates).
	MatchConstraints *MatchResources `json:"matchConstraints,omitempty"`
	// Variables are named expressions the others read as
	// variables.NAME.
	Variables []Variable `json:"variables,omitempty"`
	// Mutations are applied in order, each to the result of the one
	// before.
	Mutations []Mutation `json:"mutations,omitempty"`
	// FailurePolicy says what a mutation that cannot be evaluated or
	// applied means: Fail (the default) refuses the write, Ignore skips
	// the policy.
	FailurePolicy *FailurePolicyType `json:"failurePolicy,omitempty"`
	// MatchConditions narrow the writes further: all must be true for
	// the policy to apply.
	MatchConditions []MatchCondition `json:"matchConditions,omitempty"`
	// ReinvocationPolicy: Never, or IfNeeded to be applied once more
	// when a later mutation (another policy's, or a host's hook) changed
	// the object. Required.
	ReinvocationPolicy ReinvocationPolicyType `json:"reinvocationPolicy,omitempty"`
}

// Mutation is one CEL expression of a patch.
type Mutation struct {
	// PatchType is ApplyConfiguration or JSONPatch, the one of the two
	// fields below that is set.
	PatchType          MutationPatchType   `json:"patchType"`
	ApplyConfiguration *ApplyConfiguration `json:"applyConfiguration,omitempty"`
	JSONPatch          *JSONPatch          `json:"jsonPatch,omitempty"`
}

// MutationPatchType is ApplyConfiguration or JSONPatch.
type MutationPatchType string

// Patch types of a Mutation.
const (
	PatchTypeApplyConfiguration MutationPatchType = "ApplyConfiguration"
	PatchTypeJSONPatch          MutationPatchType = "JSONPatch"
)

// ApplyConfiguration is an expression evaluating to an Object{...}
// merged into the object, as a server-side apply of it would merge it.
type ApplyConfiguration struct {
	Expression string `json:"expression,omitempty"`
}

// JSONPatch is an expression evaluating to a list of JSONPatch{...}
// operations (RFC 6902).
type JSONPatch struct {
	Expression string `json:"expression,omitempty"`
}

// ReinvocationPolicyType is Never or IfNeeded.
type ReinvocationPolicyType string

// Reinvocation policies.
const (
	NeverReinvocationPolicy    ReinvocationPolicyType = "Never"
	IfNeededReinvocationPolicy ReinvocationPolicyType = "IfNeeded"
)

// MutatingAdmissionPolicyBinding applies a MutatingAdmissionPolicy, with
// parameters and further constraints of its own
// (admissionregistration.k8s.io/v1, cluster-scoped).
type MutatingAdmissionPolicyBinding struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec MutatingAdmissionPolicyBindingSpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (b *MutatingAdmissionPolicyBinding) DeepCopyObject() Object { return b.DeepCopy() }

// MutatingAdmissionPolicyBindingSpec names the policy and its parameters.
type MutatingAdmissionPolicyBindingSpec struct {
	PolicyName string `json:"policyName,omitempty"`
	// ParamRef finds the parameter objects, of the policy's ParamKind.
	ParamRef *ParamRef `json:"paramRef,omitempty"`
	// MatchResources, when set, limits the writes further, within the
	// policy's MatchConstraints.
	MatchResources *MatchResources `json:"matchResources,omitempty"`
}

// Default fills in defaults as Kubernetes' SetDefaults_MutatingAdmissionPolicySpec does.
func (p *MutatingAdmissionPolicy) Default() {
	if p.Spec.FailurePolicy == nil {
		p.Spec.FailurePolicy = ptrTo(FailurePolicyFail)
	}
	p.Spec.MatchConstraints.defaults()
}

// Default fills in defaults as Kubernetes' admissionregistration defaults do.
func (b *MutatingAdmissionPolicyBinding) Default() {
	b.Spec.MatchResources.defaults()
}
