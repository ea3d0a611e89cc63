package rbac_test

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// A host stores a Role and a RoleBinding for a ServiceAccount and asks
// what the account may do.
func ExampleAuthorizer_Authorize() {
	st, _ := memdb.New()
	defer st.Close()
	ctx := context.Background()
	_ = st.Update(ctx, func(tx store.Tx) error {
		role := &objects.Role{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "pod-reader"},
			Rules: []objects.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}
		binding := &objects.RoleBinding{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "read-pods"},
			RoleRef:  objects.RoleRef{APIGroup: objects.RBACGroupName, Kind: "Role", Name: "pod-reader"},
			Subjects: []objects.Subject{{Kind: objects.ServiceAccountKind, Name: "app"}}}
		if err := tx.Create(role); err != nil {
			return err
		}
		return tx.Create(binding)
	})

	a := rbac.New(st)
	app := rbac.ServiceAccountUser("default", "app")
	for _, verb := range []string{"list", "delete"} {
		d, _ := a.Authorize(ctx, rbac.Request{User: app, Verb: verb, Resource: "pods", Namespace: "default"})
		fmt.Println(d.Allowed, d.Reason)
	}
	// Output:
	// true RBAC: allowed by RoleBinding "read-pods/default" of Role "pod-reader" to ServiceAccount "app/default"
	// false User "system:serviceaccount:default:app" cannot delete resource "pods" in API group "" in the namespace "default"
}

// A host that keeps RBAC objects in a store of its own bootstraps
// Kubernetes' default roles and bindings as an orchestrator does at each
// start; every authenticated user may then discover the API.
func ExampleReconcileBootstrapPolicy() {
	st, _ := memdb.New()
	defer st.Close()
	ctx := context.Background()
	_ = st.Update(ctx, func(tx store.Tx) error {
		results, err := rbac.ReconcileBootstrapPolicy(tx, st.Scheme())
		for _, r := range results[:3] {
			fmt.Println(r)
		}
		return err
	})

	d, _ := rbac.New(st).Authorize(ctx, rbac.Request{User: rbac.UserInfo{Name: "jane"}, Verb: "get", NonResourceURL: "/version"})
	fmt.Println(d.Allowed, d.Reason)
	// Output:
	// created clusterrole.rbac.authorization.k8s.io/cluster-admin
	// created clusterrole.rbac.authorization.k8s.io/system:discovery
	// created clusterrole.rbac.authorization.k8s.io/system:basic-user
	// true RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"
}
