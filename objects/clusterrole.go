package objects

// ClusterRole grants the verbs of its rules on resources of every
// namespace, on cluster-scoped resources and on non-resource URLs
// (rbac.authorization.k8s.io/v1, cluster-scoped), through
// ClusterRoleBindings; a RoleBinding that names it grants its rules in the
// RoleBinding's namespace only.
//
// A ClusterRole with an aggregationRule is an aggregate: the ClusterRole
// aggregation controller keeps its rules the union of the rules of the
// ClusterRoles its selectors match, and overwrites rules written to it.
type ClusterRole struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Rules are what the role grants.
	Rules []PolicyRule `json:"rules"`
	// AggregationRule, when set, makes the role an aggregate.
	AggregationRule *AggregationRule `json:"aggregationRule,omitempty"`
}

// AggregationRule selects the ClusterRoles whose rules an aggregate
// ClusterRole gets: those any of the selectors matches.
type AggregationRule struct {
	ClusterRoleSelectors []LabelSelector `json:"clusterRoleSelectors,omitempty"`
}

// DeepCopyObject implements Object.
func (r *ClusterRole) DeepCopyObject() Object { return r.DeepCopy() }

// ValidateName implements NameValidator: RBAC names are path segments.
func (r *ClusterRole) ValidateName(name string) []string { return ValidateRBACName(name) }

// Validate checks the rules and the aggregation rule as Kubernetes'
// ValidateClusterRole.
func (r *ClusterRole) Validate() ErrorList {
	errs := validatePolicyRules(r.Rules, false, NewPath("rules"))
	if a := r.AggregationRule; a != nil {
		p := NewPath("aggregationRule", "clusterRoleSelectors")
		if len(a.ClusterRoleSelectors) == 0 {
			errs = append(errs, Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range a.ClusterRoleSelectors {
			errs = append(errs, ValidateLabelSelector(&a.ClusterRoleSelectors[i], p.Index(i))...)
		}
	}
	return errs
}
