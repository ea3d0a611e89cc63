package rbac

import "github.com/podkit/podkit/objects"

// Label and annotation Kubernetes puts on the roles and bindings it
// bootstraps.
const (
	// BootstrappingLabel ("kubernetes.io/bootstrapping: rbac-defaults")
	// marks a bootstrap role or binding.
	BootstrappingLabel = "kubernetes.io/bootstrapping"
	// AutoUpdateAnnotation ("rbac.authorization.kubernetes.io/autoupdate")
	// is "true" on bootstrap roles and bindings. Set to "false" on a stored
	// one, it keeps ReconcileBootstrapPolicy from changing it.
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
)

// Labels that aggregate a ClusterRole's rules into the user-facing roles:
// a ClusterRole labelled AggregateToViewLabel: "true" extends view, and
// through it edit and admin.
const (
	AggregateToAdminLabel = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEditLabel  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToViewLabel  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// ClusterAdmin is the name of the ClusterRole that may do everything, and
// of the ClusterRoleBinding that grants it to the system:masters group.
const ClusterAdmin = "cluster-admin"

// The user-facing ClusterRoles, meant to be granted by RoleBindings in a
// namespace (or by ClusterRoleBindings in every namespace), as in
// Kubernetes. They are aggregates: their rules are those of the
// system:aggregate-to-* ClusterRoles and of every ClusterRole labelled to
// join them.
const (
	// Admin is edit plus the power to read and write Roles and
	// RoleBindings, and so to grant others access to the namespace.
	Admin = "admin"
	// Edit is view plus reading Secrets and writing most namespaced
	// objects (workloads, Services, ConfigMaps, Secrets), but neither
	// Roles and RoleBindings nor ResourceQuotas and LimitRanges.
	Edit = "edit"
	// View reads most namespaced objects but Secrets, Roles and
	// RoleBindings.
	View = "view"
)

// The ClusterRoles every user is granted, as Kubernetes grants them.
const (
	// BasicUser lets every authenticated user ask what it may do
	// (selfsubjectaccessreviews, selfsubjectrulesreviews, selfsubjectreviews).
	BasicUser = "system:basic-user"
	// Discovery lets every authenticated user read the API discovery,
	// OpenAPI, version and health URLs.
	Discovery = "system:discovery"
	// PublicInfoViewer lets everyone, authenticated or not, read the
	// version and health URLs.
	PublicInfoViewer = "system:public-info-viewer"
)

// Names of the ClusterRoles holding the rules of admin, edit and view.
const (
	aggregateToAdmin = "system:aggregate-to-admin"
	aggregateToEdit  = "system:aggregate-to-edit"
	aggregateToView  = "system:aggregate-to-view"
)

// BootstrapClusterRoles returns the ClusterRoles an orchestrator keeps at
// each start (see ReconcileBootstrapPolicy), as kube-apiserver bootstraps
// them:
//
//   - cluster-admin: every verb on every resource of every group and on
//     every non-resource URL;
//   - system:basic-user, system:discovery, system:public-info-viewer:
//     what every user may ask the API about itself and the server;
//   - admin, edit and view: aggregates of the ClusterRoles labelled
//     AggregateToAdminLabel, AggregateToEditLabel and AggregateToViewLabel
//     (edit is labelled to join admin, view to join edit), whose rules
//     the ClusterRole aggregation controller fills in;
//   - system:aggregate-to-admin, system:aggregate-to-edit,
//     system:aggregate-to-view: the rules Kubernetes gives admin, edit
//     and view.
//
// The rules are Kubernetes' own, resources podkit does not serve
// included, so that a role reads as in a cluster and rules written for
// Kubernetes keep their meaning. Kubernetes' roles for its own
// components (system:node, system:kube-scheduler, ...) are not made:
// podkit has no such components to grant them to.
func BootstrapClusterRoles() []*objects.ClusterRole {
	return []*objects.ClusterRole{
		{
			ObjectMeta: bootstrapMeta(ClusterAdmin),
			Rules: []objects.PolicyRule{
				{Verbs: []string{objects.VerbAll}, APIGroups: []string{objects.APIGroupAll}, Resources: []string{objects.ResourceAll}},
				{Verbs: []string{objects.VerbAll}, NonResourceURLs: []string{objects.NonResourceAll}},
			},
		},
		{ObjectMeta: bootstrapMeta(Discovery), Rules: discoveryRules()},
		{ObjectMeta: bootstrapMeta(BasicUser), Rules: basicUserRules()},
		{ObjectMeta: bootstrapMeta(PublicInfoViewer), Rules: publicInfoViewerRules()},
		aggregateRole(Admin, AggregateToAdminLabel, ""),
		aggregateRole(Edit, AggregateToEditLabel, AggregateToAdminLabel),
		aggregateRole(View, AggregateToViewLabel, AggregateToEditLabel),
		aggregatedInto(aggregateToAdmin, AggregateToAdminLabel, aggregateToAdminRules()),
		aggregatedInto(aggregateToEdit, AggregateToEditLabel, aggregateToEditRules()),
		aggregatedInto(aggregateToView, AggregateToViewLabel, aggregateToViewRules()),
	}
}

// BootstrapClusterRoleBindings returns the ClusterRoleBindings an
// orchestrator keeps at each start, as kube-apiserver bootstraps them:
// cluster-admin to the group system:masters; system:basic-user and
// system:discovery to system:authenticated; system:public-info-viewer to
// system:authenticated and system:unauthenticated.
func BootstrapClusterRoleBindings() []*objects.ClusterRoleBinding {
	return []*objects.ClusterRoleBinding{
		bootstrapBinding(ClusterAdmin, SystemPrivilegedGroup),
		bootstrapBinding(Discovery, AllAuthenticated),
		bootstrapBinding(BasicUser, AllAuthenticated),
		bootstrapBinding(PublicInfoViewer, AllAuthenticated, AllUnauthenticated),
	}
}

// bootstrapBinding binds the ClusterRole name, under its own name, to
// groups.
func bootstrapBinding(name string, groups ...string) *objects.ClusterRoleBinding {
	b := &objects.ClusterRoleBinding{
		ObjectMeta: bootstrapMeta(name),
		RoleRef:    objects.RoleRef{APIGroup: objects.RBACGroupName, Kind: kindClusterRole, Name: name},
	}
	for _, g := range groups {
		b.Subjects = append(b.Subjects, objects.Subject{Kind: objects.GroupKind, APIGroup: objects.RBACGroupName, Name: g})
	}
	return b
}

// aggregateRole returns the aggregate ClusterRole name, selecting the roles
// labelled selectLabel, itself labelled joinLabel when not empty.
func aggregateRole(name, selectLabel, joinLabel string) *objects.ClusterRole {
	r := &objects.ClusterRole{
		ObjectMeta: bootstrapMeta(name),
		AggregationRule: &objects.AggregationRule{ClusterRoleSelectors: []objects.LabelSelector{
			{MatchLabels: map[string]string{selectLabel: "true"}},
		}},
	}
	if joinLabel != "" {
		r.Labels[joinLabel] = "true"
	}
	return r
}

// aggregatedInto returns the ClusterRole name holding rules, labelled
// joinLabel to be aggregated.
func aggregatedInto(name, joinLabel string, rules []objects.PolicyRule) *objects.ClusterRole {
	r := &objects.ClusterRole{ObjectMeta: bootstrapMeta(name), Rules: rules}
	r.Labels[joinLabel] = "true"
	return r
}

func bootstrapMeta(name string) objects.ObjectMeta {
	return objects.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{BootstrappingLabel: "rbac-defaults"},
		Annotations: map[string]string{AutoUpdateAnnotation: "true"},
	}
}
