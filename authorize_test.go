package podkit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/rbac"
	"github.com/podkit/podkit/store"
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
	assert.Equal(t, []string{"app:node-reader", "cluster-admin", "monitoring"}, names, "the chart's and the bootstrap binding")

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
	assert.Len(t, rules.Rules, 5, "%+v", rules)
	assert.False(t, rules.Incomplete)

	// A binding's roleRef cannot change, as in Kubernetes.
	rb, err := podkit.Get[*objects.RoleBinding](ctx, o, "web", "app")
	require.NoError(t, err)
	rb.RoleRef.Name = "other"
	err = o.Update(ctx, rb)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), `roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"other"}: cannot change roleRef`)
}
