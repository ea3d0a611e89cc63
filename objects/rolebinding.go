package objects

// RoleBinding grants a Role of its namespace, or a ClusterRole's rules
// within its namespace only, to its subjects (rbac.authorization.k8s.io/v1).
type RoleBinding struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Subjects are who gets the role; a ServiceAccount without namespace
	// is one of the binding's namespace.
	Subjects []Subject `json:"subjects,omitempty"`
	// RoleRef names a Role of the binding's namespace or a ClusterRole. It
	// cannot change.
	RoleRef RoleRef `json:"roleRef"`
}

// DeepCopyObject implements Object.
func (b *RoleBinding) DeepCopyObject() Object { return b.DeepCopy() }

// ValidateName implements NameValidator: RBAC names are path segments.
func (b *RoleBinding) ValidateName(name string) []string { return ValidateRBACName(name) }

// Default sets roleRef.apiGroup and the apiGroup of User and Group
// subjects to rbac.authorization.k8s.io, as Kubernetes' defaulting does.
func (b *RoleBinding) Default() { defaultBinding(&b.RoleRef, b.Subjects) }

// Validate checks the roleRef and subjects as Kubernetes'
// ValidateRoleBinding.
func (b *RoleBinding) Validate() ErrorList {
	errs := validateRoleRef(&b.RoleRef, []string{"Role", "ClusterRole"})
	return append(errs, validateSubjects(b.Subjects, true)...)
}

// ValidateUpdate implements UpdateValidator: the roleRef cannot change.
func (b *RoleBinding) ValidateUpdate(old Object) ErrorList {
	return validateRoleRefUpdate(b.RoleRef, old.(*RoleBinding).RoleRef)
}
