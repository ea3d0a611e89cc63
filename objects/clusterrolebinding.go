package objects

// ClusterRoleBinding grants a ClusterRole to its subjects in every
// namespace and cluster-wide (rbac.authorization.k8s.io/v1,
// cluster-scoped).
type ClusterRoleBinding struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Subjects are who gets the role; a ServiceAccount names its
	// namespace.
	Subjects []Subject `json:"subjects,omitempty"`
	// RoleRef names a ClusterRole. It cannot change.
	RoleRef RoleRef `json:"roleRef"`
}

// DeepCopyObject implements Object.
func (b *ClusterRoleBinding) DeepCopyObject() Object { return b.DeepCopy() }

// ValidateName implements NameValidator: RBAC names are path segments.
func (b *ClusterRoleBinding) ValidateName(name string) []string { return ValidateRBACName(name) }

// Default sets roleRef.apiGroup and the apiGroup of User and Group
// subjects to rbac.authorization.k8s.io, as Kubernetes' defaulting does.
func (b *ClusterRoleBinding) Default() { defaultBinding(&b.RoleRef, b.Subjects) }

// Validate checks the roleRef and subjects as Kubernetes'
// ValidateClusterRoleBinding.
func (b *ClusterRoleBinding) Validate() ErrorList {
	errs := validateRoleRef(&b.RoleRef, []string{"ClusterRole"})
	return append(errs, validateSubjects(b.Subjects, false)...)
}

// ValidateUpdate implements UpdateValidator: the roleRef cannot change.
func (b *ClusterRoleBinding) ValidateUpdate(old Object) ErrorList {
	return validateRoleRefUpdate(b.RoleRef, old.(*ClusterRoleBinding).RoleRef)
}
