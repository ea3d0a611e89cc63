package objects

import (
	"fmt"
	"slices"
	"strings"
)

// The parts RBAC's four kinds (rbac.authorization.k8s.io/v1: Role,
// ClusterRole, RoleBinding, ClusterRoleBinding) share, and their
// validation, as Kubernetes' pkg/apis/rbac/validation.
//
// podkit stores, validates and aggregates RBAC objects; nothing inside
// podkit is authorized by them, since podkit serves no API. Package
// github.com/podkit/podkit/rbac evaluates them for a host program's own
// requests.

// RBACGroupName is the API group of the RBAC kinds, the only apiGroup a
// roleRef may name and the one of User and Group subjects.
const RBACGroupName = "rbac.authorization.k8s.io"

// Subject kinds.
const (
	UserKind           = "User"
	GroupKind          = "Group"
	ServiceAccountKind = "ServiceAccount"
)

// Wildcards of policy rules.
const (
	// VerbAll, in verbs, matches every verb.
	VerbAll = "*"
	// APIGroupAll, in apiGroups, matches every API group.
	APIGroupAll = "*"
	// ResourceAll, in resources, matches every resource and subresource.
	ResourceAll = "*"
	// NonResourceAll, in nonResourceURLs, matches every URL.
	NonResourceAll = "*"
)

// PolicyRule grants verbs on resources or non-resource URLs. A rule is
// either a resource rule (apiGroups and resources, optionally
// resourceNames) or a non-resource rule (nonResourceURLs, only in
// ClusterRoles), never both.
type PolicyRule struct {
	// Verbs are the verbs allowed ("get", "list", "watch", "create",
	// "update", "patch", "delete", "deletecollection", or "*").
	Verbs []string `json:"verbs"`
	// APIGroups are the API groups of the resources ("" for the core
	// group, "*" for every group).
	APIGroups []string `json:"apiGroups,omitempty"`
	// Resources are plural resource names ("pods"), "resource/subresource"
	// ("pods/log"), "*/subresource" ("*/scale"), or "*" for every
	// resource and subresource.
	Resources []string `json:"resources,omitempty"`
	// ResourceNames, when set, restricts the rule to objects of these
	// names; a request without a name (list, create) matches none.
	ResourceNames []string `json:"resourceNames,omitempty"`
	// NonResourceURLs are URL paths ("/healthz"); one ending in "*" is a
	// prefix ("/logs/*").
	NonResourceURLs []string `json:"nonResourceURLs,omitempty"`
}

// Subject is who a binding grants a role to: a User or Group by name, or
// a ServiceAccount by name and namespace.
type Subject struct {
	// Kind is User, Group or ServiceAccount.
	Kind string `json:"kind"`
	// APIGroup is "" for a ServiceAccount and rbac.authorization.k8s.io
	// (the default) for a User or Group.
	APIGroup string `json:"apiGroup,omitempty"`
	// Name is the user's, group's or service account's name.
	Name string `json:"name"`
	// Namespace is a ServiceAccount's namespace: required in a
	// ClusterRoleBinding, the binding's own when empty in a RoleBinding.
	Namespace string `json:"namespace,omitempty"`
}

// RoleRef is the role a binding grants. It cannot change once the binding
// exists: delete the binding and create it again.
type RoleRef struct {
	// APIGroup is rbac.authorization.k8s.io (the default).
	APIGroup string `json:"apiGroup"`
	// Kind is Role or ClusterRole (only ClusterRole in a
	// ClusterRoleBinding).
	Kind string `json:"kind"`
	// Name is the role's name; a Role in the binding's namespace.
	Name string `json:"name"`
}

// ValidateRBACName is the name rule of RBAC objects and of the roles a
// roleRef names, as Kubernetes' ValidateRBACName: any path segment, so
// that "system:controller:x" is a valid name.
func ValidateRBACName(name string) []string {
	for _, bad := range []string{".", ".."} {
		if name == bad {
			return []string{fmt.Sprintf("may not be '%s'", bad)}
		}
	}
	var msgs []string
	for _, bad := range []string{"/", "%"} {
		if strings.Contains(name, bad) {
			msgs = append(msgs, fmt.Sprintf("may not contain '%s'", bad))
		}
	}
	return msgs
}

// validatePolicyRules checks rules as Kubernetes' ValidatePolicyRule:
// verbs are required; a non-resource rule has no apiGroups, resources or
// resourceNames and is not allowed in a namespaced role; a resource rule
// names apiGroups and resources.
func validatePolicyRules(rules []PolicyRule, namespaced bool, p *Path) ErrorList {
	var errs ErrorList
	for i := range rules {
		r, rp := &rules[i], p.Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, Required(rp.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, Invalid(rp.Child("nonResourceURLs"), derefForError(r.NonResourceURLs),
					"namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, Invalid(rp.Child("nonResourceURLs"), derefForError(r.NonResourceURLs),
					"rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, Required(rp.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, Required(rp.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

// validateRoleRef checks a binding's roleRef; kinds are the kinds it may
// name.
func validateRoleRef(r *RoleRef, kinds []string) ErrorList {
	p := NewPath("roleRef")
	var errs ErrorList
	if r.APIGroup != RBACGroupName {
		errs = append(errs, NotSupported(p.Child("apiGroup"), r.APIGroup, []string{RBACGroupName}))
	}
	if !slices.Contains(kinds, r.Kind) {
		errs = append(errs, NotSupported(p.Child("kind"), r.Kind, kinds))
	}
	if r.Name == "" {
		errs = append(errs, Required(p.Child("name"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("name"), r.Name, ValidateRBACName(r.Name))
	}
	return errs
}

// validateSubjects checks subjects as Kubernetes'
// ValidateRoleBindingSubject; namespaced is true for a RoleBinding, whose
// ServiceAccount subjects default to its namespace.
func validateSubjects(subjects []Subject, namespaced bool) ErrorList {
	p := NewPath("subjects")
	var errs ErrorList
	for i := range subjects {
		s, sp := &subjects[i], p.Index(i)
		if s.Name == "" {
			errs = append(errs, Required(sp.Child("name"), ""))
		}
		switch s.Kind {
		case ServiceAccountKind:
			if s.Name != "" {
				errs = appendMsgs(errs, sp.Child("name"), s.Name, IsDNS1123Subdomain(s.Name))
			}
			if s.APIGroup != "" {
				errs = append(errs, NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if !namespaced && s.Namespace == "" {
				errs = append(errs, Required(sp.Child("namespace"), ""))
			}
		case UserKind, GroupKind:
			if s.APIGroup != RBACGroupName {
				errs = append(errs, NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{RBACGroupName}))
			}
		default:
			errs = append(errs, NotSupported(sp.Child("kind"), s.Kind, []string{ServiceAccountKind, UserKind, GroupKind}))
		}
	}
	return errs
}

// defaultBinding fills in what Kubernetes' RBAC defaulting does: the
// roleRef's apiGroup, and the apiGroup of User and Group subjects.
func defaultBinding(r *RoleRef, subjects []Subject) {
	if r.APIGroup == "" {
		r.APIGroup = RBACGroupName
	}
	for i := range subjects {
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == UserKind || s.Kind == GroupKind) {
			s.APIGroup = RBACGroupName
		}
	}
}

// validateRoleRefUpdate refuses a changed roleRef, as Kubernetes does.
func validateRoleRefUpdate(r, old RoleRef) ErrorList {
	if r == old {
		return nil
	}
	return ErrorList{Invalid(NewPath("roleRef"), derefForError(r), "cannot change roleRef")}
}
