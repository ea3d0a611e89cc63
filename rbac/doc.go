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
// An orchestrator bootstraps, when they do not exist, the cluster-admin
// ClusterRole (every verb on everything and on every non-resource URL) and
// the cluster-admin ClusterRoleBinding granting it to the group
// system:masters, as kube-apiserver does; Kubernetes' other default roles
// (admin, edit, view and the system: roles of its components) are not
// made. Unlike kube-apiserver, podkit neither refuses a role or binding
// that grants more than its writer holds (escalation prevention: the host
// writes with every right) nor allows system:masters when the binding has
// been deleted.
package rbac
