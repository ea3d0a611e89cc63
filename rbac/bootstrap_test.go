package rbac

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// Every bootstrap object passes the scheme's validation, names are
// unique, every binding names a bootstrap role, and every object carries
// Kubernetes' bootstrap label and annotation.
func TestBootstrapPolicyValid(t *testing.T) {
	s := objects.NewScheme()
	roles := map[string]*objects.ClusterRole{}
	for _, r := range BootstrapClusterRoles() {
		require.NotContains(t, roles, r.Name)
		roles[r.Name] = r
		s.Default(r)
		require.NoError(t, s.Validate(r))
		assert.Equal(t, "rbac-defaults", r.Labels[BootstrappingLabel], r.Name)
		assert.Equal(t, "true", r.Annotations[AutoUpdateAnnotation], r.Name)
		assert.Equal(t, r.AggregationRule != nil, len(r.Rules) == 0, "%s: an aggregate has no rules of its own, a role without aggregation has some", r.Name)
	}
	names := map[string]bool{}
	for _, b := range BootstrapClusterRoleBindings() {
		require.False(t, names[b.Name])
		names[b.Name] = true
		s.Default(b)
		require.NoError(t, s.Validate(b))
		assert.Contains(t, roles, b.RoleRef.Name)
		assert.Equal(t, "rbac-defaults", b.Labels[BootstrappingLabel], b.Name)
		assert.Equal(t, "true", b.Annotations[AutoUpdateAnnotation], b.Name)
	}
	for _, name := range []string{ClusterAdmin, Admin, Edit, View, BasicUser, Discovery, PublicInfoViewer} {
		assert.Contains(t, roles, name)
	}
	// The chain admin <- edit <- view, as in Kubernetes.
	assert.Equal(t, "true", roles[Edit].Labels[AggregateToAdminLabel])
	assert.Equal(t, "true", roles[View].Labels[AggregateToEditLabel])
	assert.Empty(t, roles[Admin].Labels[AggregateToAdminLabel])
}

// newStore returns an empty memdb store.
func newStore(t *testing.T) store.Store {
	t.Helper()
	st, err := memdb.New()
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func reconcileBootstrap(t *testing.T, st store.Store) []BootstrapResult {
	t.Helper()
	var results []BootstrapResult
	require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
		var err error
		results, err = ReconcileBootstrapPolicy(tx, st.Scheme())
		return err
	}))
	return results
}

// actions returns "action kind/name" for each result.
func actions(results []BootstrapResult) []string {
	var out []string
	for _, r := range results {
		out = append(out, string(r.Action)+" "+r.Kind+"/"+r.Name)
	}
	return out
}

// The first reconciliation creates the whole policy; a second one writes
// nothing.
func TestReconcileBootstrapPolicyIdempotent(t *testing.T) {
	st := newStore(t)
	results := reconcileBootstrap(t, st)
	var want []string
	for _, r := range BootstrapClusterRoles() {
		want = append(want, "created ClusterRole/"+r.Name)
	}
	for _, b := range BootstrapClusterRoleBindings() {
		want = append(want, "created ClusterRoleBinding/"+b.Name)
	}
	assert.Equal(t, want, actions(results))
	assert.Equal(t, "created clusterrole.rbac.authorization.k8s.io/view", results[6].String())

	rev := st.Revision()
	assert.Empty(t, reconcileBootstrap(t, st))
	assert.Equal(t, rev, st.Revision(), "nothing written")
}

func modify(t *testing.T, st store.Store, kind, name string, fn func(objects.Object)) {
	t.Helper()
	require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get(kind, objects.Key{Name: name})
		if err != nil {
			return err
		}
		fn(o)
		return tx.Update(o)
	}))
}

func stored[T objects.Object](t *testing.T, st store.Store, kind, name string) T {
	t.Helper()
	var out T
	require.NoError(t, st.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get(kind, objects.Key{Name: name})
		if err == nil {
			out = o.(T)
		}
		return err
	}))
	return out
}

// A stored bootstrap object keeps what a user added and gets back what
// of the bootstrap policy it lost, as kube-apiserver reconciles at start;
// one annotated autoupdate "false" is left as the user made it.
func TestReconcileBootstrapPolicyKeepsUserChanges(t *testing.T) {
	st := newStore(t)
	reconcileBootstrap(t, st)
	ctx := context.Background()
	widgets := resourceRule(list("get"), list("example.com"), list("widgets"))

	// A user adds a rule and a label to system:aggregate-to-view and drops
	// its first rule and the bootstrap label.
	modify(t, st, kindClusterRole, aggregateToView, func(o objects.Object) {
		r := o.(*objects.ClusterRole)
		r.Rules = append(r.Rules[1:], widgets)
		r.Labels = map[string]string{"team": "a", AggregateToViewLabel: "true"}
	})
	// And empties system:basic-user, which it protects.
	modify(t, st, kindClusterRole, BasicUser, func(o objects.Object) {
		r := o.(*objects.ClusterRole)
		r.Rules = []objects.PolicyRule{resourceRule(list("create"), list("authorization.k8s.io"), list("selfsubjectaccessreviews"))}
		r.Annotations[AutoUpdateAnnotation] = "false"
	})
	// Gives view an extra selector and its own value of its label, drops
	// edit's selector, and gives a role that is no aggregate an
	// aggregationRule.
	extra := objects.LabelSelector{MatchLabels: map[string]string{"extra": "true"}}
	modify(t, st, kindClusterRole, View, func(o objects.Object) {
		r := o.(*objects.ClusterRole)
		r.AggregationRule.ClusterRoleSelectors = append(r.AggregationRule.ClusterRoleSelectors, extra)
		r.Labels[AggregateToEditLabel] = "false"
		r.Rules = []objects.PolicyRule{widgets} // as the aggregation controller would write
	})
	modify(t, st, kindClusterRole, Edit, func(o objects.Object) {
		o.(*objects.ClusterRole).AggregationRule.ClusterRoleSelectors = []objects.LabelSelector{extra}
	})
	modify(t, st, kindClusterRole, PublicInfoViewer, func(o objects.Object) {
		o.(*objects.ClusterRole).AggregationRule = &objects.AggregationRule{ClusterRoleSelectors: []objects.LabelSelector{extra}}
	})
	// Adds a subject to one binding, removes one from another, deletes a
	// third, and points the fourth at another role.
	modify(t, st, kindClusterRoleBinding, BasicUser, func(o objects.Object) {
		b := o.(*objects.ClusterRoleBinding)
		b.Subjects = append(b.Subjects, user("jane"))
		st.Scheme().Default(b)
	})
	modify(t, st, kindClusterRoleBinding, PublicInfoViewer, func(o objects.Object) {
		o.(*objects.ClusterRoleBinding).Subjects = o.(*objects.ClusterRoleBinding).Subjects[1:]
	})
	require.NoError(t, st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Delete(kindClusterRoleBinding, objects.Key{Name: ClusterAdmin}, store.DeleteOptions{})
		if err != nil {
			return err
		}
		b := clusterRoleBinding(Discovery, View, group(AllAuthenticated), user("bob"))
		b.Labels = map[string]string{"mine": "yes"}
		st.Scheme().Default(b)
		if _, err := tx.Delete(kindClusterRoleBinding, objects.Key{Name: Discovery}, store.DeleteOptions{}); err != nil {
			return err
		}
		return tx.Create(b)
	}))

	results := reconcileBootstrap(t, st)
	assert.Equal(t, []string{
		"skipped ClusterRole/" + BasicUser,
		"updated ClusterRole/" + PublicInfoViewer,
		"updated ClusterRole/" + Edit,
		"updated ClusterRole/" + aggregateToView,
		"created ClusterRoleBinding/" + ClusterAdmin,
		"recreated ClusterRoleBinding/" + Discovery,
		"updated ClusterRoleBinding/" + PublicInfoViewer,
	}, actions(results))

	// system:aggregate-to-view: the user's rule and label kept, the first
	// rule (broken down, as Kubernetes adds it) and the bootstrap label
	// back.
	atv := stored[*objects.ClusterRole](t, st, kindClusterRole, aggregateToView)
	first := aggregateToViewRules()[0]
	assert.Equal(t, append(append(aggregateToViewRules()[1:], widgets), breakDown(&first)...), atv.Rules)
	assert.Equal(t, map[string]string{"team": "a", AggregateToViewLabel: "true", BootstrappingLabel: "rbac-defaults"}, atv.Labels)
	assert.Equal(t, "true", atv.Annotations[AutoUpdateAnnotation])

	// system:basic-user: protected, left alone, reported with what it lacks.
	bu := stored[*objects.ClusterRole](t, st, kindClusterRole, BasicUser)
	assert.Len(t, bu.Rules, 1)
	i := slices.IndexFunc(results, func(r BootstrapResult) bool { return r.Name == BasicUser })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, BootstrapSkipped, results[i].Action)
	assert.Equal(t, []objects.PolicyRule{
		resourceRule(list("create"), list("authorization.k8s.io"), list("selfsubjectrulesreviews")),
		resourceRule(list("create"), list("authentication.k8s.io"), list("selfsubjectreviews")),
	}, results[i].MissingRules)
	assert.Equal(t, `skipped clusterrole.rbac.authorization.k8s.io/system:basic-user: annotated rbac.authorization.kubernetes.io/autoupdate: "false"`, results[i].String())

	// view: unchanged (its extra selector and label value are the user's;
	// its rules are the aggregation controller's). edit: its selector back
	// after the user's. system:public-info-viewer: no aggregationRule.
	v := stored[*objects.ClusterRole](t, st, kindClusterRole, View)
	assert.Len(t, v.AggregationRule.ClusterRoleSelectors, 2)
	assert.Equal(t, "false", v.Labels[AggregateToEditLabel])
	assert.Equal(t, []objects.PolicyRule{widgets}, v.Rules)
	e := stored[*objects.ClusterRole](t, st, kindClusterRole, Edit)
	assert.Equal(t, []objects.LabelSelector{extra, {MatchLabels: map[string]string{AggregateToEditLabel: "true"}}}, e.AggregationRule.ClusterRoleSelectors)
	piv := stored[*objects.ClusterRole](t, st, kindClusterRole, PublicInfoViewer)
	assert.Nil(t, piv.AggregationRule)
	assert.Equal(t, publicInfoViewerRules(), piv.Rules)

	// The bindings: jane kept, the lost subject back, the deleted binding
	// created, the binding to another role recreated with its subjects
	// and label.
	bub := stored[*objects.ClusterRoleBinding](t, st, kindClusterRoleBinding, BasicUser)
	assert.Equal(t, []objects.Subject{rbacGroup(AllAuthenticated), rbacUser("jane")}, bub.Subjects)
	pivb := stored[*objects.ClusterRoleBinding](t, st, kindClusterRoleBinding, PublicInfoViewer)
	assert.Equal(t, []objects.Subject{rbacGroup(AllUnauthenticated), rbacGroup(AllAuthenticated)}, pivb.Subjects)
	assert.NotNil(t, stored[*objects.ClusterRoleBinding](t, st, kindClusterRoleBinding, ClusterAdmin))
	db := stored[*objects.ClusterRoleBinding](t, st, kindClusterRoleBinding, Discovery)
	assert.Equal(t, Discovery, db.RoleRef.Name)
	assert.Equal(t, []objects.Subject{rbacGroup(AllAuthenticated), rbacUser("bob")}, db.Subjects)
	assert.Equal(t, map[string]string{"mine": "yes", BootstrappingLabel: "rbac-defaults"}, db.Labels)

	// Reconciled, the store stays as it is; the protected role is still
	// reported.
	rev := st.Revision()
	assert.Equal(t, []string{"skipped ClusterRole/" + BasicUser}, actions(reconcileBootstrap(t, st)))
	assert.Equal(t, rev, st.Revision())
}

// A binding to recreate that has finalizers is left alone: it could not
// be replaced in the same transaction.
func TestReconcileBootstrapPolicyBindingWithFinalizers(t *testing.T) {
	st := newStore(t)
	reconcileBootstrap(t, st)
	require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Delete(kindClusterRoleBinding, objects.Key{Name: Discovery}, store.DeleteOptions{}); err != nil {
			return err
		}
		b := clusterRoleBinding(Discovery, View, group(AllAuthenticated))
		b.Finalizers = []string{"example.com/keep"}
		st.Scheme().Default(b)
		return tx.Create(b)
	}))
	results := reconcileBootstrap(t, st)
	require.Len(t, results, 1)
	assert.Equal(t, `skipped clusterrolebinding.rbac.authorization.k8s.io/system:discovery: its roleRef names ClusterRole "view", not ClusterRole "system:discovery", and its finalizers keep it from being replaced`, results[0].String())
	assert.Equal(t, View, stored[*objects.ClusterRoleBinding](t, st, kindClusterRoleBinding, Discovery).RoleRef.Name)
}

func rbacGroup(name string) objects.Subject {
	return objects.Subject{Kind: objects.GroupKind, APIGroup: objects.RBACGroupName, Name: name}
}

func rbacUser(name string) objects.Subject {
	return objects.Subject{Kind: objects.UserKind, APIGroup: objects.RBACGroupName, Name: name}
}

// uncovered finds what of a rule set another does not grant, as
// Kubernetes' validation.Covers; each case pins one of its rules.
func TestUncovered(t *testing.T) {
	r := resourceRule
	cases := []struct {
		name       string
		have, want []objects.PolicyRule
		missing    []objects.PolicyRule
	}{
		{"same rule", []objects.PolicyRule{r(list("get", "list"), list(""), list("pods"))},
			[]objects.PolicyRule{r(list("get", "list"), list(""), list("pods"))}, nil},
		{"split over rules", []objects.PolicyRule{r(list("get"), list(""), list("pods")), r(list("list"), list(""), list("pods"))},
			[]objects.PolicyRule{r(list("get", "list"), list(""), list("pods"))}, nil},
		{"a verb missing", []objects.PolicyRule{r(list("get"), list(""), list("pods"))},
			[]objects.PolicyRule{r(list("get", "list"), list(""), list("pods", "services"))},
			[]objects.PolicyRule{r(list("list"), list(""), list("pods")), r(list("get"), list(""), list("services")), r(list("list"), list(""), list("services"))}},
		{"wildcards cover", []objects.PolicyRule{r(list("*"), list("*"), list("*"))},
			[]objects.PolicyRule{r(list("get"), list("apps"), list("deployments/scale"), "web")}, nil},
		{"a wildcard wanted is covered only by one", []objects.PolicyRule{r(list("get", "list"), list(""), list("pods"))},
			[]objects.PolicyRule{r(list("*"), list(""), list("pods"))}, []objects.PolicyRule{r(list("*"), list(""), list("pods"))}},
		{"*/subresource covers it", []objects.PolicyRule{r(list("get"), list("apps"), list("*/scale"))},
			[]objects.PolicyRule{r(list("get"), list("apps"), list("deployments/scale", "deployments"))},
			[]objects.PolicyRule{r(list("get"), list("apps"), list("deployments"))}},
		{"other group", []objects.PolicyRule{r(list("get"), list("extensions"), list("deployments"))},
			[]objects.PolicyRule{r(list("get"), list("apps"), list("deployments"))},
			[]objects.PolicyRule{r(list("get"), list("apps"), list("deployments"))}},
		{"names narrow", []objects.PolicyRule{r(list("get"), list(""), list("secrets"), "tls")},
			[]objects.PolicyRule{r(list("get"), list(""), list("secrets"), "tls", "db")},
			[]objects.PolicyRule{r(list("get"), list(""), list("secrets"), "db")}},
		{"names never cover all", []objects.PolicyRule{r(list("get"), list(""), list("secrets"), "tls")},
			[]objects.PolicyRule{r(list("get"), list(""), list("secrets"))},
			[]objects.PolicyRule{r(list("get"), list(""), list("secrets"))}},
		{"urls", []objects.PolicyRule{urlRule(list("get"), "/api", "/apis/*")},
			[]objects.PolicyRule{urlRule(list("get", "post"), "/api", "/apis/apps", "/api/v1")},
			[]objects.PolicyRule{urlRule(list("post"), "/api"), urlRule(list("post"), "/apis/apps"), urlRule(list("get"), "/api/v1"), urlRule(list("post"), "/api/v1")}},
		{"a url rule grants no resource", []objects.PolicyRule{urlRule(list("*"), "*")},
			[]objects.PolicyRule{r(list("get"), list(""), list("pods"))}, []objects.PolicyRule{r(list("get"), list(""), list("pods"))}},
		{"a resource rule grants no url", []objects.PolicyRule{r(list("*"), list("*"), list("*"))},
			[]objects.PolicyRule{urlRule(list("get"), "/healthz")}, []objects.PolicyRule{urlRule(list("get"), "/healthz")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.missing, uncovered(c.have, c.want))
		})
	}
}
