package podkit

import (
	"context"
	"errors"

	"github.com/podkit/podkit/objects"
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
// do. Every orchestrator has the cluster-admin ClusterRole, bound to the
// group system:masters by the cluster-admin ClusterRoleBinding (see
// rbac.BootstrapClusterRoles); other roles are the host's to apply.
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

// ensureBootstrapRBAC creates the bootstrap ClusterRoles and
// ClusterRoleBindings that do not exist, as kube-apiserver does at each
// start; existing ones, changed or not, are left alone.
func (o *Orchestrator) ensureBootstrapRBAC(tx store.Tx) error {
	var objs []objects.Object
	for _, r := range rbac.BootstrapClusterRoles() {
		objs = append(objs, r)
	}
	for _, b := range rbac.BootstrapClusterRoleBindings() {
		objs = append(objs, b)
	}
	for _, obj := range objs {
		info, err := o.scheme.KindOf(obj)
		if err != nil {
			return err
		}
		if _, err := tx.Get(info.Kind, obj.GetObjectMeta().Key()); !errors.Is(err, store.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		o.scheme.Default(obj)
		if err := tx.Create(obj); err != nil {
			return err
		}
	}
	return nil
}
