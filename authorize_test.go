package podkit_test

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/bolt"
)

// RBAC objects as a Helm chart writes them: a ServiceAccount with a Role
// and RoleBinding in its namespace, a ClusterRole and ClusterRoleBinding,
// and a ClusterRole labelled to be aggregated into another.
const rbacChart = `apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: web
  labels: {app.kubernetes.io/name: app, app.kubernetes.io/managed-by: Helm}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: app
  namespace: web
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [app-tls]
  verbs: [get]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: app
  namespace: web
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: app
subjects:
- kind: ServiceAccount
  name: app
  namespace: web
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: "app:node-reader"
  labels: {rbac.example.com/aggregate-to-monitoring: "true"}
rules:
- apiGroups: [""]
  resources: [nodes, nodes/status]
  verbs: [get, list, watch]
- nonResourceURLs: [/metrics]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: "app:node-reader"
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: "app:node-reader"
subjects:
- kind: ServiceAccount
  name: app
  namespace: web
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: monitoring
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: monitoring
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: monitoring}
subjects:
- {kind: Group, name: monitoring-team}
`

// A chart's RBAC objects decode, apply, list and watch; the orchestrator
// authorizes the chart's ServiceAccount by them, aggregates the labelled
// ClusterRole, and has Kubernetes' bootstrap cluster-admin binding.
func TestRBACChartAuthorizesServiceAccount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := newOrchestrator(t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})

	w, err := o.Watch(ctx, podkit.KindRoleBinding, podkit.InNamespace("web"))
	require.NoError(t, err)
	defer w.Stop()

	objs, err := objects.DecodeYAML(strings.NewReader(rbacChart))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))

	select {
	case ev := <-w.Events():
		assert.Equal(t, store.Added, ev.Type)
		assert.Equal(t, "app", ev.Key().Name)
	case <-ctx.Done():
		t.Fatal("no RoleBinding event")
	}
	roles, err := podkit.List[*objects.Role](ctx, o, "web")
	require.NoError(t, err)
	require.Len(t, roles, 1)
	crbs, err := podkit.List[*objects.ClusterRoleBinding](ctx, o, "")
	require.NoError(t, err)
	var names []string
	for _, b := range crbs {
		names = append(names, b.Name)
	}
	assert.Equal(t, []string{"app:node-reader", "cluster-admin", "monitoring", "system:basic-user", "system:discovery", "system:public-info-viewer"},
		names, "the chart's and the bootstrap bindings")

	app := rbac.ServiceAccountUser("web", "app")
	check := func(req rbac.Request, want bool, reason string) {
		t.Helper()
		d, err := o.Authorize(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, want, d.Allowed, "%+v: %s", req, d.Reason)
		if reason != "" {
			assert.Equal(t, reason, d.Reason)
		}
	}
	check(rbac.Request{User: app, Verb: "list", Resource: "configmaps", Namespace: "web"}, true,
		`RBAC: allowed by RoleBinding "app/web" of Role "app" to ServiceAccount "app/web"`)
	check(rbac.Request{User: app, Verb: "update", APIGroup: "coordination.k8s.io", Resource: "leases", Name: "lock", Namespace: "web"}, true, "")
	check(rbac.Request{User: app, Verb: "get", Resource: "secrets", Name: "app-tls", Namespace: "web"}, true, "")
	check(rbac.Request{User: app, Verb: "get", Resource: "secrets", Name: "db-password", Namespace: "web"}, false, "")
	check(rbac.Request{User: app, Verb: "list", Resource: "secrets", Namespace: "web"}, false, "")
	check(rbac.Request{User: app, Verb: "list", Resource: "configmaps", Namespace: "default"}, false,
		`User "system:serviceaccount:web:app" cannot list resource "configmaps" in API group "" in the namespace "default"`)
	check(rbac.Request{User: app, Verb: "watch", Resource: "nodes"}, true,
		`RBAC: allowed by ClusterRoleBinding "app:node-reader" of ClusterRole "app:node-reader" to ServiceAccount "app/web"`)
	check(rbac.Request{User: app, Verb: "get", Resource: "nodes", Subresource: "status", Name: "n1"}, true, "")
	check(rbac.Request{User: app, Verb: "get", NonResourceURL: "/metrics"}, true, "")
	check(rbac.Request{User: rbac.ServiceAccountUser("default", "app"), Verb: "list", Resource: "configmaps", Namespace: "web"}, false, "")

	// The bootstrap policy: system:masters may do anything.
	admin := rbac.UserInfo{Name: "admin", Groups: []string{rbac.SystemPrivilegedGroup}}
	check(rbac.Request{User: admin, Verb: "delete", APIGroup: "apps", Resource: "deployments", Name: "x", Namespace: "web"}, true,
		`RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`)

	// The aggregate gets the labelled role's rules, and with them its
	// binding's group.
	_, err = podkit.WaitUntil(ctx, o, "", "monitoring", func(r *objects.ClusterRole) bool { return r != nil && len(r.Rules) == 2 })
	require.NoError(t, err)
	team := rbac.UserInfo{Name: "mo", Groups: []string{"monitoring-team"}}
	check(rbac.Request{User: team, Verb: "list", Resource: "nodes"}, true,
		`RBAC: allowed by ClusterRoleBinding "monitoring" of ClusterRole "monitoring" to Group "monitoring-team"`)

	rules, err := o.RulesFor(ctx, app, "web")
	require.NoError(t, err)
	assert.Len(t, rules.Rules, 5+4, "the chart's and those every authenticated user has: %+v", rules)
	assert.False(t, rules.Incomplete)

	// A binding's roleRef cannot change, as in Kubernetes.
	rb, err := podkit.Get[*objects.RoleBinding](ctx, o, "web", "app")
	require.NoError(t, err)
	rb.RoleRef.Name = "other"
	err = o.Update(ctx, rb)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), `roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"other"}: cannot change roleRef`)
}

// runUntilStopped runs o until the returned stop is called, which returns
// once Run has.
func runUntilStopped(t *testing.T, ctx context.Context, o *podkit.Orchestrator) (stop func()) {
	t.Helper()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	return stop
}

// clusterRoleRules returns the rules of the stored ClusterRole name.
func clusterRoleRules(t *testing.T, ctx context.Context, o *podkit.Orchestrator, name string) []objects.PolicyRule {
	t.Helper()
	r, err := podkit.Get[*objects.ClusterRole](ctx, o, "", name)
	require.NoError(t, err)
	return r.Rules
}

// waitRules waits until the ClusterRole name holds exactly want, in order.
func waitRules(t *testing.T, ctx context.Context, o *podkit.Orchestrator, name string, want []objects.PolicyRule) {
	t.Helper()
	_, err := podkit.WaitUntil(ctx, o, "", name, func(r *objects.ClusterRole) bool {
		return r != nil && reflect.DeepEqual(r.Rules, want)
	})
	require.NoError(t, err, "ClusterRole %q never held %d rules", name, len(want))
}

// waitDefaultRoles waits until the aggregation controller has filled in
// view, edit and admin, as Kubernetes' controller does: each the union of
// the roles its selector matches, by name (edit: system:aggregate-to-edit,
// then view; admin: edit, then system:aggregate-to-admin). moreView are
// the rules of the ClusterRoles a test labelled to join view, whose names
// sort after system:aggregate-to-view.
func waitDefaultRoles(t *testing.T, ctx context.Context, o *podkit.Orchestrator, moreView ...objects.PolicyRule) {
	t.Helper()
	toAdmin := clusterRoleRules(t, ctx, o, "system:aggregate-to-admin")
	toEdit := clusterRoleRules(t, ctx, o, "system:aggregate-to-edit")
	toView := clusterRoleRules(t, ctx, o, "system:aggregate-to-view")
	require.NotEmpty(t, toAdmin)
	require.NotEmpty(t, toEdit)
	require.NotEmpty(t, toView)
	view := slices.Concat(toView, moreView)
	waitRules(t, ctx, o, rbac.View, view)
	edit := slices.Concat(toEdit, view)
	waitRules(t, ctx, o, rbac.Edit, edit)
	waitRules(t, ctx, o, rbac.Admin, slices.Concat(edit, toAdmin))
}

// A host binds Kubernetes' user-facing roles as a chart does: view, edit
// and admin grant in their namespace what they grant in Kubernetes,
// nothing at the cluster scope, and every user may discover the API.
func TestAuthorizeDefaultRoles(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := newOrchestrator(t)
	runUntilStopped(t, ctx, o)
	waitDefaultRoles(t, ctx, o)

	bind := func(name, role string) *objects.RoleBinding {
		return &objects.RoleBinding{ObjectMeta: objects.ObjectMeta{Namespace: "team", Name: name + "-" + role},
			RoleRef: objects.RoleRef{Kind: "ClusterRole", Name: role}, Subjects: []objects.Subject{{Kind: objects.UserKind, Name: name}}}
	}
	require.NoError(t, o.Apply(ctx,
		&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "team"}},
		&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "other"}},
		bind("jane", rbac.View), bind("ed", rbac.Edit), bind("ada", rbac.Admin)))

	jane, ed, ada := rbac.UserInfo{Name: "jane"}, rbac.UserInfo{Name: "ed"}, rbac.UserInfo{Name: "ada"}
	anonymous := rbac.UserInfo{Name: rbac.Anonymous, Groups: []string{rbac.AllUnauthenticated}}
	in := func(u rbac.UserInfo, verb, group, resource, sub, ns string) rbac.Request {
		name := ""
		if verb != "list" && verb != "create" && verb != "watch" {
			name = "x"
		}
		return rbac.Request{User: u, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name, Namespace: ns}
	}
	url := func(u rbac.UserInfo, verb, path string) rbac.Request {
		return rbac.Request{User: u, Verb: verb, NonResourceURL: path}
	}
	cases := []struct {
		name   string
		req    rbac.Request
		want   bool
		reason string
	}{
		{"view gets pods", in(jane, "get", "", "pods", "", "team"), true,
			`RBAC: allowed by RoleBinding "jane-view/team" of ClusterRole "view" to User "jane"`},
		{"view lists pods", in(jane, "list", "", "pods", "", "team"), true, ""},
		{"view reads pod logs", in(jane, "get", "", "pods", "log", "team"), true, ""},
		{"view lists deployments", in(jane, "list", "apps", "deployments", "", "team"), true, ""},
		{"view reads endpointslices", in(jane, "watch", "discovery.k8s.io", "endpointslices", "", "team"), true, ""},
		{"view does not read secrets", in(jane, "get", "", "secrets", "", "team"), false,
			`User "jane" cannot get resource "secrets" in API group "" in the namespace "team"`},
		{"view does not exec", in(jane, "create", "", "pods", "exec", "team"), false, ""},
		{"view does not write", in(jane, "create", "apps", "deployments", "", "team"), false, ""},
		{"view does not read rolebindings", in(jane, "list", "rbac.authorization.k8s.io", "rolebindings", "", "team"), false, ""},
		{"view only in its namespace", in(jane, "get", "", "pods", "", "other"), false, ""},
		{"view reads no nodes", in(jane, "get", "", "nodes", "", ""), false, ""},

		{"edit creates deployments", in(ed, "create", "apps", "deployments", "", "team"), true,
			`RBAC: allowed by RoleBinding "ed-edit/team" of ClusterRole "edit" to User "ed"`},
		{"edit scales deployments", in(ed, "update", "apps", "deployments", "scale", "team"), true, ""},
		{"edit reads secrets", in(ed, "get", "", "secrets", "", "team"), true, ""},
		{"edit writes secrets", in(ed, "update", "", "secrets", "", "team"), true, ""},
		{"edit execs", in(ed, "create", "", "pods", "exec", "team"), true, ""},
		{"edit still reads (view)", in(ed, "list", "batch", "jobs", "", "team"), true, ""},
		{"edit writes leases", in(ed, "update", "coordination.k8s.io", "leases", "", "team"), true, ""},
		{"edit does not write rolebindings", in(ed, "create", "rbac.authorization.k8s.io", "rolebindings", "", "team"), false, ""},
		{"edit does not write quotas", in(ed, "update", "", "resourcequotas", "", "team"), false, ""},
		{"edit only in its namespace", in(ed, "create", "apps", "deployments", "", "other"), false, ""},
		{"edit touches no nodes", in(ed, "delete", "", "nodes", "", ""), false, ""},

		{"admin creates rolebindings", in(ada, "create", "rbac.authorization.k8s.io", "rolebindings", "", "team"), true,
			`RBAC: allowed by RoleBinding "ada-admin/team" of ClusterRole "admin" to User "ada"`},
		{"admin writes roles", in(ada, "update", "rbac.authorization.k8s.io", "roles", "", "team"), true, ""},
		{"admin still edits", in(ada, "delete", "apps", "deployments", "", "team"), true, ""},
		{"admin still reads (view)", in(ada, "get", "", "configmaps", "", "team"), true, ""},
		{"admin not in another namespace", in(ada, "create", "rbac.authorization.k8s.io", "rolebindings", "", "other"), false, ""},
		{"admin does not write quotas", in(ada, "update", "", "resourcequotas", "", "team"), false, ""},
		{"admin writes no clusterroles", in(ada, "create", "rbac.authorization.k8s.io", "clusterroles", "", ""), false, ""},
		{"admin touches no nodes", in(ada, "list", "", "nodes", "", ""), false, ""},

		{"everyone authenticated discovers", url(jane, "get", "/apis/apps/v1"), true,
			`RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"`},
		{"everyone authenticated asks what it may do", in(ed, "create", "authorization.k8s.io", "selfsubjectrulesreviews", "", ""), true, ""},
		{"anonymous reads the version", url(anonymous, "get", "/version"), true,
			`RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`},
		{"anonymous does not discover", url(anonymous, "get", "/api"), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := o.Authorize(ctx, c.req)
			require.NoError(t, err)
			assert.Equal(t, c.want, d.Allowed, d.Reason)
			if c.reason != "" {
				assert.Equal(t, c.reason, d.Reason)
			}
		})
	}

	// A ClusterRole labelled to aggregate into view extends view, and
	// through it edit and admin.
	widgets := objects.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	require.NoError(t, o.Apply(ctx, &objects.ClusterRole{
		ObjectMeta: objects.ObjectMeta{Name: "widgets-view", Labels: map[string]string{rbac.AggregateToViewLabel: "true"}},
		Rules:      []objects.PolicyRule{widgets},
	}))
	waitDefaultRoles(t, ctx, o, widgets)
	for _, u := range []rbac.UserInfo{jane, ed, ada} {
		d, err := o.Authorize(ctx, in(u, "list", "example.com", "widgets", "", "team"))
		require.NoError(t, err)
		assert.True(t, d.Allowed, d.Reason)
	}
}

// The bootstrap policy survives restarts on a durable store: a start
// writes nothing when the policy is whole, puts back what a user removed,
// keeps what a user added, and leaves a role annotated autoupdate "false"
// as the user made it.
func TestBootstrapRBACAcrossRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "podkit.db")
	open := func() (*podkit.Orchestrator, func()) {
		s, err := bolt.Open(path)
		require.NoError(t, err)
		o, err := podkit.New(podkit.WithStore(s))
		require.NoError(t, err)
		return o, func() {
			require.NoError(t, o.Close())
			require.NoError(t, s.Close())
		}
	}
	// versions returns the resourceVersion of every ClusterRole and
	// ClusterRoleBinding.
	versions := func(o *podkit.Orchestrator) map[string]string {
		out := map[string]string{}
		roles, err := podkit.List[*objects.ClusterRole](ctx, o, "")
		require.NoError(t, err)
		for _, r := range roles {
			out["ClusterRole/"+r.Name] = r.ResourceVersion
		}
		bindings, err := podkit.List[*objects.ClusterRoleBinding](ctx, o, "")
		require.NoError(t, err)
		for _, b := range bindings {
			out["ClusterRoleBinding/"+b.Name] = b.ResourceVersion
		}
		return out
	}

	// First start: the policy is made and aggregated; a user then adds a
	// rule to system:aggregate-to-view, cuts system:basic-user down and
	// protects it, and deletes the system:discovery binding.
	o, closeStore := open()
	stop := runUntilStopped(t, ctx, o)
	waitDefaultRoles(t, ctx, o)
	widgets := objects.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	toView, err := podkit.Get[*objects.ClusterRole](ctx, o, "", "system:aggregate-to-view")
	require.NoError(t, err)
	toView.Rules = append(toView.Rules, widgets)
	require.NoError(t, o.Update(ctx, toView))
	basic, err := podkit.Get[*objects.ClusterRole](ctx, o, "", rbac.BasicUser)
	require.NoError(t, err)
	basic.Rules = basic.Rules[:1]
	basic.Annotations[rbac.AutoUpdateAnnotation] = "false"
	require.NoError(t, o.Update(ctx, basic))
	require.NoError(t, o.Delete(ctx, &objects.ClusterRoleBinding{ObjectMeta: objects.ObjectMeta{Name: rbac.Discovery}}))
	waitDefaultRoles(t, ctx, o)
	require.Contains(t, clusterRoleRules(t, ctx, o, rbac.Admin), widgets)
	stop()
	before := versions(o)
	closeStore()

	// Second start: only the deleted binding is written, made again as
	// the bootstrap policy has it.
	o, closeStore = open()
	after := versions(o)
	assert.NotEqual(t, before["ClusterRoleBinding/"+rbac.Discovery], after["ClusterRoleBinding/"+rbac.Discovery])
	before["ClusterRoleBinding/"+rbac.Discovery] = after["ClusterRoleBinding/"+rbac.Discovery]
	assert.Equal(t, before, after, "nothing else written")
	b, err := podkit.Get[*objects.ClusterRoleBinding](ctx, o, "", rbac.Discovery)
	require.NoError(t, err)
	assert.Equal(t, []objects.Subject{{Kind: objects.GroupKind, APIGroup: objects.RBACGroupName, Name: rbac.AllAuthenticated}}, b.Subjects)
	assert.Contains(t, clusterRoleRules(t, ctx, o, "system:aggregate-to-view"), widgets, "the user's rule kept")
	assert.Len(t, clusterRoleRules(t, ctx, o, rbac.BasicUser), 1, "the protected role left as the user made it")
	closeStore()

	// Third start: nothing to do, nothing written.
	o, closeStore = open()
	defer closeStore()
	assert.Equal(t, after, versions(o))
	d, err := o.Authorize(ctx, rbac.Request{User: rbac.UserInfo{Name: "jane"}, Verb: "get", NonResourceURL: "/api"})
	require.NoError(t, err)
	assert.True(t, d.Allowed, d.Reason)
}
