package reconcile

import (
	"fmt"
	"slices"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func readRule(resource string) objects.PolicyRule {
	return objects.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{resource}}
}

func labelledClusterRole(name string, labels map[string]string, rules ...objects.PolicyRule) *objects.ClusterRole {
	return &objects.ClusterRole{ObjectMeta: objects.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
}

// hasRules waits for the ClusterRole name to hold exactly want.
func hasRules(name string, want ...objects.PolicyRule) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindClusterRole, objects.Key{Name: name})
		if err != nil {
			return false, err.Error()
		}
		got := o.(*objects.ClusterRole).Rules
		return slices.EqualFunc(got, want, func(a, b objects.PolicyRule) bool { return policyRuleEqual(&a, &b) }),
			fmt.Sprintf("%+v", got)
	}
}

// An aggregate ClusterRole gets the union of the rules of the roles its
// selectors match, and follows their changes, relabelling and deletion.
func TestClusterRoleAggregationController(t *testing.T) {
	e := newEnv(t, withControllers(func(m *Manager) error { return m.Add(ClusterRoleAggregationController(m)) }))
	mon := map[string]string{"rbac.example.com/aggregate-to-monitoring": "true"}
	extra := map[string]string{"extra": "true"}
	pods, svcs, eps, nodes, cms := readRule("pods"), readRule("services"), readRule("endpoints"), readRule("nodes"), readRule("configmaps")

	e.create(
		labelledClusterRole("a", mon, pods, svcs),
		labelledClusterRole("b", mon, svcs, eps), // services once
		labelledClusterRole("c", nil, nodes),
		labelledClusterRole("d", extra, pods, cms), // pods once, across selectors
		&objects.ClusterRole{
			ObjectMeta: objects.ObjectMeta{Name: "monitoring", Labels: mon}, // matches itself: skipped
			AggregationRule: &objects.AggregationRule{ClusterRoleSelectors: []objects.LabelSelector{
				{MatchLabels: mon}, {MatchLabels: extra},
			}},
		},
	)
	e.waitFor("union of a, b and d", hasRules("monitoring", pods, svcs, eps, cms))

	e.mutate(kindClusterRole, objects.Key{Name: "b"}, func(o objects.Object) {
		o.(*objects.ClusterRole).Rules = []objects.PolicyRule{eps, readRule("secrets")}
	})
	e.waitFor("b's change", hasRules("monitoring", pods, svcs, eps, readRule("secrets"), cms))

	e.mutate(kindClusterRole, objects.Key{Name: "c"}, func(o objects.Object) { o.GetObjectMeta().Labels = mon })
	e.waitFor("c labelled in", hasRules("monitoring", pods, svcs, eps, readRule("secrets"), nodes, cms))

	e.mutate(kindClusterRole, objects.Key{Name: "a"}, func(o objects.Object) { o.GetObjectMeta().Labels = nil })
	e.waitFor("a labelled out", hasRules("monitoring", eps, readRule("secrets"), nodes, pods, cms))

	e.delete(kindClusterRole, objects.Key{Name: "b"}, "")
	e.waitFor("b deleted", hasRules("monitoring", nodes, pods, cms))

	e.mutate(kindClusterRole, objects.Key{Name: "monitoring"}, func(o objects.Object) {
		o.(*objects.ClusterRole).Rules = []objects.PolicyRule{readRule("everything")}
	})
	e.waitFor("rules written by hand put back", hasRules("monitoring", nodes, pods, cms))

	// A new role is aggregated too; a role the selectors do not match is
	// left out.
	e.create(labelledClusterRole("e", mon, readRule("events")), labelledClusterRole("f", nil, readRule("leases")))
	e.waitFor("e created", hasRules("monitoring", nodes, readRule("events"), pods, cms)) // by selector, then by name
}
