// Package rbac decides requests by Kubernetes RBAC objects
// (rbac.authorization.k8s.io/v1) kept in a podkit store, as Kubernetes'
// RBAC authorizer does, for a host program that authorizes its own users.
//
// podkit has no API server: nothing inside podkit is authorized, and
// Apply, Get, List and the rest act for the host with every right. The
// Roles, ClusterRoles, RoleBindings and ClusterRoleBindings a host applies
// (a Helm chart's output has them) are stored, validated and, for
// aggregated ClusterRoles, kept up to date by the ClusterRole aggregation
// controller (reconcile.ClusterRoleAggregationController); a host asks
// this package, or podkit.Orchestrator.Authorize, whether a user of its
// own may do something:
//
//	a := rbac.New(o.Store()) // or o.Authorize(ctx, req)
//	d, err := a.Authorize(ctx, rbac.Request{
//		User: rbac.UserInfo{Name: "jane", Groups: []string{"devs"}},
//		Verb: "get", APIGroup: "apps", Resource: "deployments", Name: "web", Namespace: "default",
//	})
//	// d.Allowed; d.Reason: `RBAC: allowed by RoleBinding "devs/default" of ClusterRole "edit" to Group "devs"`
//
// Rules match as in Kubernetes: "*" in verbs, apiGroups and resources
// matches everything; "pods" does not grant "pods/log", which
// "pods/log", "*/log" or "*" do; resourceNames restrict a rule to those
// names, so that it grants no request without a name (list, watch,
// create); a nonResourceURL ending in "*" is a prefix. A ClusterRoleBinding
// grants everywhere; a RoleBinding, whether it names a Role or a
// ClusterRole, only in its namespace, and no non-resource URL. Subjects
// are users by name, groups, and ServiceAccounts, which act as the user
// ServiceAccountUser returns ("system:serviceaccount:NS:NAME", in the
// groups system:serviceaccounts and system:serviceaccounts:NS). Every user
// but system:anonymous is in system:authenticated, as Kubernetes'
// authentication adds it. There are no deny rules.
//
// An orchestrator keeps Kubernetes' bootstrap policy
// (BootstrapClusterRoles, BootstrapClusterRoleBindings) as kube-apiserver
// does:
//
//   - cluster-admin (every verb on everything and on every non-resource
//     URL), bound to the group system:masters;
//   - admin, edit and view, the user-facing roles a host binds in a
//     namespace, as charts expect them: aggregates of the ClusterRoles
//     labelled rbac.authorization.k8s.io/aggregate-to-admin, -edit and
//     -view, among them system:aggregate-to-admin, -edit and -view, which
//     hold Kubernetes' rules. view reads most of a namespace but its
//     Secrets, Roles and RoleBindings; edit adds Secrets and writing
//     workloads; admin adds Roles and RoleBindings. edit is labelled to
//     join admin and view to join edit, so a ClusterRole labelled
//     aggregate-to-view extends all three. The aggregation controller
//     fills in their rules once the orchestrator runs;
//   - system:basic-user and system:discovery, bound to
//     system:authenticated, and system:public-info-viewer, bound to
//     system:authenticated and system:unauthenticated.
//
// The rules are Kubernetes' own, naming resources podkit does not serve
// too (replicationcontrollers, the extensions group), which grant nothing
// here and keep the roles as a cluster has them. At each start
// ReconcileBootstrapPolicy creates what is missing and adds to a stored
// role or binding what of the bootstrap policy it lacks, keeping what a
// user added; one annotated rbac.authorization.kubernetes.io/autoupdate:
// "false" is left as the user made it. Kubernetes' roles for its own
// components (system:node, system:kube-scheduler, ...) are not made.
//
// Unlike kube-apiserver, podkit neither refuses a role or binding that
// grants more than its writer holds (escalation prevention: the host
// writes with every right) nor allows system:masters when the binding has
// been deleted.
package rbac
