package reconcile

import (
	"context"
	"errors"
	"slices"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindClusterRole = "ClusterRole"

// ClusterRoleAggregationController keeps the rules of every ClusterRole
// with an aggregationRule the union of the rules of the ClusterRoles its
// selectors match (but itself), in selector order and by name, without
// repeating a rule, as Kubernetes' clusterrole-aggregation controller
// does: it updates an aggregate when a ClusterRole it selects is created,
// changed, relabelled or deleted, and puts back rules written to an
// aggregate by hand.
func ClusterRoleAggregationController(m *Manager) Controller {
	r := &aggregationReconciler{c: m.Client()}
	return Controller{
		Name:       "clusterrole-aggregation",
		For:        kindClusterRole,
		Watches:    []Watch{{Kind: kindClusterRole, Map: r.aggregatesOf}},
		Reconciler: r,
	}
}

type aggregationReconciler struct{ c *Client }

// aggregatesOf returns the aggregates whose selectors match role (called
// with the role before and after each change, so an aggregate a role
// leaves is updated too). It reads the cache as is, from the cache's own
// goroutine, without waiting for this controller's writes.
func (r *aggregationReconciler) aggregatesOf(role objects.Object) []Request {
	inf := r.c.m.currentRun().informer(kindClusterRole)
	if inf == nil {
		return nil
	}
	labels := role.GetObjectMeta().Labels
	aggs, _ := inf.List(store.ListOptions{}, func(o objects.Object) bool {
		a := o.(*objects.ClusterRole)
		return a.AggregationRule != nil && a.Name != role.GetObjectMeta().Name && selectsAny(a.AggregationRule, labels)
	})
	reqs := make([]Request, len(aggs))
	for i, o := range aggs {
		reqs[i] = RequestFor(o)
	}
	return reqs
}

// selectsAny reports whether a selector of rule matches labels; an invalid
// selector matches nothing.
func selectsAny(rule *objects.AggregationRule, labels map[string]string) bool {
	for i := range rule.ClusterRoleSelectors {
		sel, err := objects.LabelSelectorAsSelector(&rule.ClusterRoleSelectors[i])
		if err == nil && sel.Matches(labels) {
			return true
		}
	}
	return false
}

func (r *aggregationReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	agg, err := Get[*objects.ClusterRole](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil || agg.AggregationRule == nil || agg.IsDeleting() {
		return Result{}, err
	}
	var rules []objects.PolicyRule
	for i := range agg.AggregationRule.ClusterRoleSelectors {
		sel, err := objects.LabelSelectorAsSelector(&agg.AggregationRule.ClusterRoleSelectors[i])
		if err != nil {
			return Result{}, err
		}
		roles, err := r.c.listShared(ctx, kindClusterRole, store.ListOptions{Labels: sel}, nil)
		if err != nil {
			return Result{}, err
		}
		for _, o := range roles {
			if o.GetObjectMeta().Name == agg.Name {
				continue
			}
			for _, rule := range o.(*objects.ClusterRole).Rules {
				if !slices.ContainsFunc(rules, func(have objects.PolicyRule) bool { return policyRuleEqual(&have, &rule) }) {
					rules = append(rules, *rule.DeepCopy())
				}
			}
		}
	}
	if slices.EqualFunc(rules, agg.Rules, func(a, b objects.PolicyRule) bool { return policyRuleEqual(&a, &b) }) {
		return Result{}, nil
	}
	agg.Rules = rules
	return Result{}, r.c.Update(ctx, agg) // resourceVersion as read: a conflict is retried
}

// policyRuleEqual compares rules as Kubernetes' semantic equality does: an
// empty list equals a missing one.
func policyRuleEqual(a, b *objects.PolicyRule) bool {
	return slices.Equal(a.Verbs, b.Verbs) && slices.Equal(a.APIGroups, b.APIGroups) &&
		slices.Equal(a.Resources, b.Resources) && slices.Equal(a.ResourceNames, b.ResourceNames) &&
		slices.Equal(a.NonResourceURLs, b.NonResourceURLs)
}
