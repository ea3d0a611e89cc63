package rbac

import "github.com/podkit/podkit/objects"

// Label and annotation Kubernetes puts on the roles and bindings it
// bootstraps.
const (
	// BootstrappingLabel ("kubernetes.io/bootstrapping: rbac-defaults")
	// marks a bootstrap role or binding.
	BootstrappingLabel = "kubernetes.io/bootstrapping"
	// AutoUpdateAnnotation ("rbac.authorization.kubernetes.io/autoupdate")
	// is "true" on bootstrap roles and bindings.
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
)

// ClusterAdmin is the name of the ClusterRole that may do everything, and
// of the ClusterRoleBinding that grants it to the system:masters group.
const ClusterAdmin = "cluster-admin"

// BootstrapClusterRoles returns the ClusterRoles an orchestrator creates
// when they do not exist, as kube-apiserver bootstraps them: cluster-admin,
// every verb on every resource of every group and on every non-resource
// URL. Kubernetes' other default roles (admin, edit, view, the system:
// roles of its own components) are not made: podkit has no API server or
// components to grant them to.
func BootstrapClusterRoles() []*objects.ClusterRole {
	return []*objects.ClusterRole{{
		ObjectMeta: bootstrapMeta(ClusterAdmin),
		Rules: []objects.PolicyRule{
			{Verbs: []string{objects.VerbAll}, APIGroups: []string{objects.APIGroupAll}, Resources: []string{objects.ResourceAll}},
			{Verbs: []string{objects.VerbAll}, NonResourceURLs: []string{objects.NonResourceAll}},
		},
	}}
}

// BootstrapClusterRoleBindings returns the ClusterRoleBindings an
// orchestrator creates when they do not exist: cluster-admin, granting
// the cluster-admin ClusterRole to the group system:masters, as
// kube-apiserver bootstraps it.
func BootstrapClusterRoleBindings() []*objects.ClusterRoleBinding {
	return []*objects.ClusterRoleBinding{{
		ObjectMeta: bootstrapMeta(ClusterAdmin),
		RoleRef:    objects.RoleRef{APIGroup: objects.RBACGroupName, Kind: kindClusterRole, Name: ClusterAdmin},
		Subjects:   []objects.Subject{{Kind: objects.GroupKind, APIGroup: objects.RBACGroupName, Name: SystemPrivilegedGroup}},
	}}
}

func bootstrapMeta(name string) objects.ObjectMeta {
	return objects.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{BootstrappingLabel: "rbac-defaults"},
		Annotations: map[string]string{AutoUpdateAnnotation: "true"},
	}
}
