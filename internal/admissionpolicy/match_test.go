package admissionpolicy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/podkit/podkit/objects"
)

// The rules of matchResources, as Kubernetes matches them: operations,
// groups, versions, resources and subresources with their wildcards,
// scope, resource names and exclusions.
func TestRuleMatching(t *testing.T) {
	scheme := objects.NewScheme()
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web-1"}}
	ns := &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "team"}}
	node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"}}
	rule := func(ops []objects.OperationType, groups, versions, resources []string) objects.NamedRuleWithOperations {
		return objects.NamedRuleWithOperations{RuleWithOperations: objects.RuleWithOperations{Operations: ops,
			Rule: objects.Rule{APIGroups: groups, APIVersions: versions, Resources: resources}}}
	}
	all := []string{"*"}
	create := []objects.OperationType{objects.OperationCreate}
	scoped := func(r objects.NamedRuleWithOperations, s objects.ScopeType) objects.NamedRuleWithOperations {
		r.Scope = &s
		return r
	}
	named := func(r objects.NamedRuleWithOperations, names ...string) objects.NamedRuleWithOperations {
		r.ResourceNames = names
		return r
	}
	for _, tc := range []struct {
		name    string
		obj     objects.Object
		op      string
		rules   []objects.NamedRuleWithOperations
		exclude []objects.NamedRuleWithOperations
		want    bool
	}{
		{"exact", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, []string{""}, []string{"v1"}, []string{"pods"})}, nil, true},
		{"other operation", pod, "UPDATE", []objects.NamedRuleWithOperations{rule(create, []string{""}, []string{"v1"}, []string{"pods"})}, nil, false},
		{"operation wildcard", pod, "DELETE", []objects.NamedRuleWithOperations{rule([]objects.OperationType{objects.OperationAll}, all, all, all)}, nil, true},
		{"other group", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, []string{"apps"}, all, all)}, nil, false},
		{"other version", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, []string{"v2"}, all)}, nil, false},
		{"other resource", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, all, []string{"deployments"})}, nil, false},
		{"a subresource only", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, all, []string{"pods/status"})}, nil, false},
		{"every subresource of pods", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, all, []string{"pods/*"})}, nil, true},
		{"everything", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, all, []string{"*/*"})}, nil, true},
		{"namespaced scope", pod, "CREATE", []objects.NamedRuleWithOperations{scoped(rule(create, all, all, all), objects.NamespacedScope)}, nil, true},
		{"cluster scope, namespaced object", pod, "CREATE", []objects.NamedRuleWithOperations{scoped(rule(create, all, all, all), objects.ClusterScope)}, nil, false},
		{"cluster scope, node", node, "CREATE", []objects.NamedRuleWithOperations{scoped(rule(create, all, all, all), objects.ClusterScope)}, nil, true},
		{"a namespace is cluster-scoped", ns, "CREATE", []objects.NamedRuleWithOperations{scoped(rule(create, all, all, all), objects.ClusterScope)}, nil, true},
		{"a namespace is not namespaced", ns, "CREATE", []objects.NamedRuleWithOperations{scoped(rule(create, all, all, all), objects.NamespacedScope)}, nil, false},
		{"resource name", pod, "CREATE", []objects.NamedRuleWithOperations{named(rule(create, all, all, all), "web-1")}, nil, true},
		{"other resource name", pod, "CREATE", []objects.NamedRuleWithOperations{named(rule(create, all, all, all), "web-2")}, nil, false},
		{"excluded", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, all, all)}, []objects.NamedRuleWithOperations{rule(create, all, all, []string{"pods"})}, false},
		{"exclusion of another kind", pod, "CREATE", []objects.NamedRuleWithOperations{rule(create, all, all, all)}, []objects.NamedRuleWithOperations{rule(create, all, all, []string{"secrets"})}, true},
		{"no rules (a binding's): every write", pod, "CREATE", []objects.NamedRuleWithOperations{}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := scheme.KindOf(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			m := tc.obj.GetObjectMeta()
			w := &write{Request: Request{Operation: tc.op, Info: info, Object: tc.obj}, namespace: m.Namespace, name: m.Name}
			if info.Kind == "Namespace" {
				w.namespace = m.Name
			}
			got := w.matches(&objects.MatchResources{ResourceRules: tc.rules, ExcludeResourceRules: tc.exclude})
			assert.Equal(t, tc.want, got)
		})
	}
	assert.False(t, (&write{}).matches(nil), "a nil matchResources matches nothing")
}
