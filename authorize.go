package podkit

import (
	"context"
	"log/slog"

	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
)

// Authorize decides a request of the host's own users by the Roles,
// ClusterRoles, RoleBindings and ClusterRoleBindings in the orchestrator's
// store, as Kubernetes' RBAC authorizer does (see rbac.Authorizer):
//
//	d, err := o.Authorize(ctx, rbac.Request{
//		User: rbac.ServiceAccountUser("default", "app"),
//		Verb: "list", APIGroup: "apps", Resource: "deployments", Namespace: "default",
//	})
//	if err == nil && !d.Allowed { ... refuse, with d.Reason }
//
// podkit serves no API, so nothing inside it is authorized: Apply, Get,
// List and the rest act for the host, which decides what its users may
// do.
//
// Every orchestrator has Kubernetes' default roles, kept at each start as
// kube-apiserver keeps them (see rbac.BootstrapClusterRoles and
// rbac.ReconcileBootstrapPolicy): cluster-admin, bound to the group
// system:masters; the user-facing admin, edit and view, for the host to
// bind, whose rules the ClusterRole aggregation controller fills in once
// Run has started, and which a ClusterRole labelled
// rbac.authorization.k8s.io/aggregate-to-view (-edit, -admin) extends; and
// system:basic-user, system:discovery and system:public-info-viewer,
// bound to every user. A host grants a user edit in a namespace with a
// RoleBinding there naming the ClusterRole edit:
//
//	o.Apply(ctx, &objects.RoleBinding{
//		ObjectMeta: objects.ObjectMeta{Namespace: "team", Name: "jane-edit"},
//		RoleRef:    objects.RoleRef{Kind: "ClusterRole", Name: rbac.Edit},
//		Subjects:   []objects.Subject{{Kind: objects.UserKind, Name: "jane"}},
//	})
func (o *Orchestrator) Authorize(ctx context.Context, req rbac.Request) (rbac.Decision, error) {
	return o.Authorizer().Authorize(ctx, req)
}

// RulesFor lists the RBAC rules user has in namespace, as `kubectl auth
// can-i --list` does (see rbac.Authorizer.RulesFor).
func (o *Orchestrator) RulesFor(ctx context.Context, user rbac.UserInfo, namespace string) (rbac.RulesReview, error) {
	return o.Authorizer().RulesFor(ctx, user, namespace)
}

// Authorizer returns an RBAC authorizer over the orchestrator's store.
func (o *Orchestrator) Authorizer() *rbac.Authorizer { return rbac.New(o.store) }

// ensureBootstrapRBAC reconciles the bootstrap ClusterRoles and
// ClusterRoleBindings, as kube-apiserver does at each start (see
// rbac.ReconcileBootstrapPolicy): missing ones are created, stored ones
// get what of the bootstrap policy they lack, and those annotated
// autoupdate "false" are left alone. Creations are logged at debug level,
// since a first start makes them all.
func (o *Orchestrator) ensureBootstrapRBAC(tx store.Tx) error {
	results, err := rbac.ReconcileBootstrapPolicy(tx, o.scheme)
	if err != nil {
		return err
	}
	for _, r := range results {
		level := slog.LevelInfo
		switch r.Action {
		case rbac.BootstrapCreated:
			level = slog.LevelDebug
		case rbac.BootstrapSkipped:
			level = slog.LevelWarn
		}
		o.log.Log(context.Background(), level, "rbac bootstrap policy: "+r.String(),
			"missingRules", len(r.MissingRules), "missingSubjects", len(r.MissingSubjects))
	}
	return nil
}
