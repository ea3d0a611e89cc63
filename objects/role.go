package objects

// Role grants the verbs of its rules on resources of its own namespace
// (rbac.authorization.k8s.io/v1), through the RoleBindings of that
// namespace that name it.
type Role struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Rules are what the role grants; non-resource URLs are not allowed.
	Rules []PolicyRule `json:"rules"`
}

// DeepCopyObject implements Object.
func (r *Role) DeepCopyObject() Object { return r.DeepCopy() }

// ValidateName implements NameValidator: RBAC names are path segments.
func (r *Role) ValidateName(name string) []string { return ValidateRBACName(name) }

// Validate checks the rules as Kubernetes' ValidateRole.
func (r *Role) Validate() ErrorList {
	return validatePolicyRules(r.Rules, true, NewPath("rules"))
}
