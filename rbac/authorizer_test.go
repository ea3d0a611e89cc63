package rbac

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// newAuthorizer stores objs, defaulted and validated, and returns an
// authorizer over them.
func newAuthorizer(t *testing.T, objs ...objects.Object) (*Authorizer, store.Store) {
	t.Helper()
	st, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			st.Scheme().Default(o)
			if err := st.Scheme().Validate(o); err != nil {
				return err
			}
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	}))
	return New(st), st
}

func role(ns, name string, rules ...objects.PolicyRule) *objects.Role {
	return &objects.Role{ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}
}

func clusterRole(name string, rules ...objects.PolicyRule) *objects.ClusterRole {
	return &objects.ClusterRole{ObjectMeta: objects.ObjectMeta{Name: name}, Rules: rules}
}

func roleBinding(ns, name, kind, roleName string, subjects ...objects.Subject) *objects.RoleBinding {
	return &objects.RoleBinding{ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name},
		RoleRef: objects.RoleRef{Kind: kind, Name: roleName}, Subjects: subjects}
}

func clusterRoleBinding(name, roleName string, subjects ...objects.Subject) *objects.ClusterRoleBinding {
	return &objects.ClusterRoleBinding{ObjectMeta: objects.ObjectMeta{Name: name},
		RoleRef: objects.RoleRef{Kind: "ClusterRole", Name: roleName}, Subjects: subjects}
}

func user(name string) objects.Subject  { return objects.Subject{Kind: objects.UserKind, Name: name} }
func group(name string) objects.Subject { return objects.Subject{Kind: objects.GroupKind, Name: name} }
func serviceAccount(ns, name string) objects.Subject {
	return objects.Subject{Kind: objects.ServiceAccountKind, Namespace: ns, Name: name}
}

var readPods = resourceRule(list("get", "list", "watch"), list(""), list("pods"))

type check struct {
	name string
	req  Request
	want bool
	// reason, when set, is the decision's exact reason.
	reason string
}

func runChecks(t *testing.T, a *Authorizer, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			d, err := a.Authorize(context.Background(), c.req)
			require.NoError(t, err)
			assert.Equal(t, c.want, d.Allowed, d.Reason)
			if c.reason != "" {
				assert.Equal(t, c.reason, d.Reason)
			}
		})
	}
}

func listPods(u UserInfo, ns string) Request {
	return Request{User: u, Verb: "list", Resource: "pods", Namespace: ns}
}

// A RoleBinding grants its Role only in its own namespace, and never at
// the cluster scope.
func TestAuthorizeRoleBindingScope(t *testing.T) {
	jane := UserInfo{Name: "jane"}
	a, _ := newAuthorizer(t,
		role("team", "pod-reader", readPods),
		role("other", "pod-reader", resourceRule(list("*"), list("*"), list("*"))),
		roleBinding("team", "read-pods", "Role", "pod-reader", user("jane")),
	)
	runChecks(t, a, []check{
		{"in its namespace", listPods(jane, "team"), true,
			`RBAC: allowed by RoleBinding "read-pods/team" of Role "pod-reader" to User "jane"`},
		{"the Role of its namespace, not another's", Request{User: jane, Verb: "delete", Resource: "pods", Name: "x", Namespace: "team"}, false,
			`User "jane" cannot delete resource "pods" in API group "" in the namespace "team"`},
		{"another namespace", listPods(jane, "other"), false,
			`User "jane" cannot list resource "pods" in API group "" in the namespace "other"`},
		{"cluster scope", listPods(jane, ""), false,
			`User "jane" cannot list resource "pods" in API group "" at the cluster scope`},
		{"another user", listPods(UserInfo{Name: "bob"}, "team"), false, ""},
	})
}

// A RoleBinding that names a ClusterRole grants the ClusterRole's rules in
// the binding's namespace only; a ClusterRoleBinding grants them
// everywhere.
func TestAuthorizeClusterRoleScoping(t *testing.T) {
	jane, ops := UserInfo{Name: "jane"}, UserInfo{Name: "olga", Groups: []string{"ops"}}
	a, _ := newAuthorizer(t,
		clusterRole("pod-reader", readPods),
		clusterRole("node-reader", resourceRule(list("get", "list"), list(""), list("nodes"))),
		roleBinding("team", "read-pods", "ClusterRole", "pod-reader", user("jane")),
		roleBinding("team", "read-nodes", "ClusterRole", "node-reader", user("jane")),
		clusterRoleBinding("ops-read-pods", "pod-reader", group("ops")),
	)
	runChecks(t, a, []check{
		{"RoleBinding to ClusterRole, its namespace", listPods(jane, "team"), true,
			`RBAC: allowed by RoleBinding "read-pods/team" of ClusterRole "pod-reader" to User "jane"`},
		{"RoleBinding to ClusterRole, another namespace", listPods(jane, "default"), false, ""},
		{"RoleBinding to ClusterRole, all namespaces", listPods(jane, ""), false, ""},
		{"RoleBinding to ClusterRole grants no cluster-scoped resource", Request{User: jane, Verb: "list", Resource: "nodes"}, false, ""},
		{"ClusterRoleBinding, any namespace", listPods(ops, "default"), true,
			`RBAC: allowed by ClusterRoleBinding "ops-read-pods" of ClusterRole "pod-reader" to Group "ops"`},
		{"ClusterRoleBinding, all namespaces", listPods(ops, ""), true, ""},
		{"group not held", listPods(UserInfo{Name: "ops"}, "default"), false, ""},
	})
}

// ServiceAccount subjects match the user a service account acts as; a
// RoleBinding's subject without namespace is one of the binding's
// namespace; groups of service accounts bind them all.
func TestAuthorizeServiceAccountSubjects(t *testing.T) {
	a, _ := newAuthorizer(t,
		clusterRole("pod-reader", readPods),
		roleBinding("team", "local", "ClusterRole", "pod-reader", serviceAccount("", "app")),
		roleBinding("team", "remote", "ClusterRole", "pod-reader", serviceAccount("ci", "builder")),
		clusterRoleBinding("monitor", "pod-reader", serviceAccount("mon", "prometheus")),
		roleBinding("shared", "all-sas-of-team", "ClusterRole", "pod-reader", group("system:serviceaccounts:team")),
		roleBinding("public", "all-sas", "ClusterRole", "pod-reader", group(AllServiceAccountsGroup)),
	)
	runChecks(t, a, []check{
		{"namespace of the binding", listPods(ServiceAccountUser("team", "app"), "team"), true,
			`RBAC: allowed by RoleBinding "local/team" of ClusterRole "pod-reader" to ServiceAccount "app/team"`},
		{"same name, other namespace", listPods(ServiceAccountUser("other", "app"), "team"), false, ""},
		{"subject's own namespace", listPods(ServiceAccountUser("ci", "builder"), "team"), true,
			`RBAC: allowed by RoleBinding "remote/team" of ClusterRole "pod-reader" to ServiceAccount "builder/ci"`},
		{"the binding still grants in its namespace only", listPods(ServiceAccountUser("ci", "builder"), "ci"), false, ""},
		{"cluster role binding", listPods(ServiceAccountUser("mon", "prometheus"), "anywhere"), true,
			`RBAC: allowed by ClusterRoleBinding "monitor" of ClusterRole "pod-reader" to ServiceAccount "prometheus/mon"`},
		{"a user named like the service account", listPods(UserInfo{Name: "system:serviceaccount:mon:prometheus"}, "x"), true, ""},
		{"a user named like the subject is not it", listPods(UserInfo{Name: "prometheus"}, "x"), false, ""},
		{"group of the namespace's service accounts", listPods(ServiceAccountUser("team", "any"), "shared"), true, ""},
		{"group of another namespace's", listPods(ServiceAccountUser("ci", "any"), "shared"), false, ""},
		{"group of all service accounts", listPods(ServiceAccountUser("ci", "any"), "public"), true, ""},
	})
}

func TestServiceAccountUser(t *testing.T) {
	assert.Equal(t, UserInfo{Name: "system:serviceaccount:ns:app", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"}},
		ServiceAccountUser("ns", "app"))
}

// Every user but the anonymous one is in system:authenticated, as
// Kubernetes' authentication adds it.
func TestAuthorizeAuthenticatedGroup(t *testing.T) {
	a, _ := newAuthorizer(t,
		clusterRole("health", urlRule(list("get"), "/healthz", "/version")),
		clusterRoleBinding("health-authenticated", "health", group(AllAuthenticated)),
	)
	healthz := func(u UserInfo) Request { return Request{User: u, Verb: "get", NonResourceURL: "/healthz"} }
	runChecks(t, a, []check{
		{"user", healthz(UserInfo{Name: "jane"}), true,
			`RBAC: allowed by ClusterRoleBinding "health-authenticated" of ClusterRole "health" to Group "system:authenticated"`},
		{"service account", healthz(ServiceAccountUser("ns", "sa")), true, ""},
		{"anonymous", healthz(UserInfo{Name: Anonymous, Groups: []string{AllUnauthenticated}}), false,
			`User "system:anonymous" cannot get path "/healthz"`},
		{"unauthenticated group", healthz(UserInfo{Name: "x", Groups: []string{AllUnauthenticated}}), false, ""},
		{"other URL", Request{User: UserInfo{Name: "jane"}, Verb: "get", NonResourceURL: "/metrics"}, false, ""},
	})
	groups := []string{"devs"}
	u := authenticated(UserInfo{Name: "jane", Groups: groups[:1:1]})
	assert.Equal(t, []string{"devs", AllAuthenticated}, u.Groups)
	assert.Equal(t, []string{"devs"}, groups, "the caller's slice is left alone")
}

// Non-resource URLs are granted by ClusterRoleBindings only: a RoleBinding
// to a ClusterRole with URL rules grants none.
func TestAuthorizeNonResourceURLs(t *testing.T) {
	a, _ := newAuthorizer(t,
		clusterRole("logs", urlRule(list("get"), "/logs/*")),
		roleBinding("team", "logs", "ClusterRole", "logs", user("jane")),
		clusterRoleBinding("logs", "logs", user("olga")),
	)
	runChecks(t, a, []check{
		{"cluster role binding", Request{User: UserInfo{Name: "olga"}, Verb: "get", NonResourceURL: "/logs/syslog"}, true, ""},
		{"role binding", Request{User: UserInfo{Name: "jane"}, Verb: "get", NonResourceURL: "/logs/syslog"}, false, ""},
	})
}

// A binding naming a role that does not exist grants nothing, and the
// reason says so as Kubernetes does; other bindings still count.
func TestAuthorizeMissingRole(t *testing.T) {
	jane := UserInfo{Name: "jane"}
	a, _ := newAuthorizer(t,
		roleBinding("team", "a-gone", "Role", "gone", user("jane")),
		clusterRoleBinding("b-gone", "gone-too", user("jane")),
		role("team", "reader", readPods),
		roleBinding("team", "b-reader", "Role", "reader", user("jane")),
	)
	runChecks(t, a, []check{
		{"denied", Request{User: jane, Verb: "delete", Resource: "pods", Name: "x", Namespace: "team"}, false,
			`User "jane" cannot delete resource "pods" in API group "" in the namespace "team": RBAC: ` +
				`[clusterrole.rbac.authorization.k8s.io "gone-too" not found, role.rbac.authorization.k8s.io "gone" not found]`},
		{"denied, one missing", Request{User: jane, Verb: "list", Resource: "nodes"}, false,
			`User "jane" cannot list resource "nodes" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "gone-too" not found`},
		{"allowed by another", listPods(jane, "team"), true, ""},
	})
	r, err := a.RulesFor(context.Background(), jane, "team")
	require.NoError(t, err)
	assert.Equal(t, []objects.PolicyRule{readPods}, r.Rules)
	assert.True(t, r.Incomplete)
	assert.Equal(t, `[clusterrole.rbac.authorization.k8s.io "gone-too" not found, role.rbac.authorization.k8s.io "gone" not found]`, r.EvaluationError)
}

// Changes are seen at once: the authorizer keeps no cache.
func TestAuthorizeSeesChanges(t *testing.T) {
	jane := UserInfo{Name: "jane"}
	a, st := newAuthorizer(t, role("team", "reader", readPods))
	ctx := context.Background()
	d, err := a.Authorize(ctx, listPods(jane, "team"))
	require.NoError(t, err)
	require.False(t, d.Allowed)
	rb := roleBinding("team", "reader", "Role", "reader", user("jane"))
	st.Scheme().Default(rb)
	require.NoError(t, st.Update(ctx, func(tx store.Tx) error { return tx.Create(rb) }))
	d, err = a.Authorize(ctx, listPods(jane, "team"))
	require.NoError(t, err)
	require.True(t, d.Allowed, d.Reason)
	require.NoError(t, st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Delete("Role", objects.Key{Namespace: "team", Name: "reader"}, store.DeleteOptions{})
		return err
	}))
	d, err = a.Authorize(ctx, listPods(jane, "team"))
	require.NoError(t, err)
	assert.False(t, d.Allowed)
	assert.Contains(t, d.Reason, `RBAC: role.rbac.authorization.k8s.io "reader" not found`)
}

func TestAuthorizeInvalidRequest(t *testing.T) {
	a, _ := newAuthorizer(t)
	for _, r := range []Request{
		{Resource: "pods"},
		{Verb: "get", NonResourceURL: "/healthz", Resource: "pods"},
		{Verb: "get", NonResourceURL: "/healthz", Namespace: "default"},
	} {
		_, err := a.Authorize(context.Background(), r)
		assert.ErrorIs(t, err, ErrInvalidRequest, "%+v", r)
	}
}

// The bootstrap policy lets system:masters do everything, as in
// Kubernetes.
func TestBootstrapClusterAdmin(t *testing.T) {
	var objs []objects.Object
	for _, r := range BootstrapClusterRoles() {
		objs = append(objs, r)
	}
	for _, b := range BootstrapClusterRoleBindings() {
		objs = append(objs, b)
	}
	a, _ := newAuthorizer(t, objs...)
	admin := UserInfo{Name: "root", Groups: []string{SystemPrivilegedGroup}}
	runChecks(t, a, []check{
		{"anything", Request{User: admin, Verb: "escalate", APIGroup: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: "x"}, true,
			`RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`},
		{"subresource in a namespace", Request{User: admin, Verb: "create", Resource: "pods", Subresource: "exec", Name: "p", Namespace: "x"}, true, ""},
		{"any URL", Request{User: admin, Verb: "get", NonResourceURL: "/debug/pprof/"}, true, ""},
		{"not a master", Request{User: UserInfo{Name: "root"}, Verb: "get", Resource: "pods", Namespace: "x"}, false, ""},
	})
}

// RulesFor lists the rules of the ClusterRoleBindings, then of the
// namespace's RoleBindings, that apply to the user.
func TestRulesFor(t *testing.T) {
	nodes := resourceRule(list("get"), list(""), list("nodes"))
	secrets := resourceRule(list("get"), list(""), list("secrets"), "tls")
	a, _ := newAuthorizer(t,
		clusterRole("node-reader", nodes),
		clusterRole("pod-reader", readPods),
		role("team", "secret-reader", secrets),
		clusterRoleBinding("nodes", "node-reader", group("devs")),
		roleBinding("team", "pods", "ClusterRole", "pod-reader", user("jane")),
		roleBinding("team", "secrets", "Role", "secret-reader", user("jane")),
		roleBinding("other", "pods", "ClusterRole", "pod-reader", user("bob")),
	)
	jane := UserInfo{Name: "jane", Groups: []string{"devs"}}
	r, err := a.RulesFor(context.Background(), jane, "team")
	require.NoError(t, err)
	assert.Equal(t, RulesReview{Rules: []objects.PolicyRule{nodes, readPods, secrets}}, r)
	r, err = a.RulesFor(context.Background(), jane, "")
	require.NoError(t, err)
	assert.Equal(t, []objects.PolicyRule{nodes}, r.Rules)
}
