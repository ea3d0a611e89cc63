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
