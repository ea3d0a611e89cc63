package rbac

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// BootstrapAction is what ReconcileBootstrapPolicy did to one bootstrap
// role or binding.
type BootstrapAction string

const (
	// BootstrapCreated: the object did not exist and was created.
	BootstrapCreated BootstrapAction = "created"
	// BootstrapUpdated: the stored object lacked rules, subjects,
	// aggregation selectors, labels or annotations of the bootstrap
	// policy, which were added to what it had.
	BootstrapUpdated BootstrapAction = "updated"
	// BootstrapRecreated: a binding named another role; since a roleRef
	// cannot change, it was deleted and created again with the bootstrap
	// roleRef, keeping its subjects.
	BootstrapRecreated BootstrapAction = "recreated"
	// BootstrapSkipped: the stored object differs from the bootstrap
	// policy but was left alone (see BootstrapResult.Reason).
	BootstrapSkipped BootstrapAction = "skipped"
)

// BootstrapResult reports a bootstrap role or binding that
// ReconcileBootstrapPolicy created, changed, or left alone although it
// differs from the bootstrap policy. Objects that already matched are not
// reported.
type BootstrapResult struct {
	// Kind is ClusterRole or ClusterRoleBinding.
	Kind string
	Name string
	// Action is what was done.
	Action BootstrapAction
	// MissingRules and MissingSubjects are what a stored role or binding
	// lacked: added when updated, still lacking when skipped. Rules are
	// broken down as Kubernetes reports them: one verb on one resource of
	// one group, or one verb on one URL.
	MissingRules    []objects.PolicyRule
	MissingSubjects []objects.Subject
	// Reason says why a skipped object was left alone.
	Reason string
}

// String describes the result as kube-apiserver logs it:
// `updated clusterrole.rbac.authorization.k8s.io/view`.
func (r BootstrapResult) String() string {
	s := fmt.Sprintf("%s %s.%s/%s", r.Action, strings.ToLower(r.Kind), objects.RBACGroupName, r.Name)
	if r.Reason != "" {
		s += ": " + r.Reason
	}
	return s
}

// ReconcileBootstrapPolicy makes tx hold the bootstrap policy
// (BootstrapClusterRoles and BootstrapClusterRoleBindings) as
// kube-apiserver does at each start:
//
//   - a missing role or binding is created;
//   - a stored one keeps everything it has, user additions included, and
//     gets what of the bootstrap policy it lacks: rules (those its own
//     rules do not already grant), subjects, aggregation selectors, labels
//     and annotations; a label or annotation it has keeps its value;
//   - a role that has an aggregationRule the bootstrap role does not have
//     loses it, so that its rules are its own again; the rules of an
//     aggregated role are the aggregation controller's and are not
//     touched;
//   - a binding naming another role is deleted and created again with the
//     bootstrap roleRef and its subjects plus the bootstrap ones, unless
//     it has finalizers, which would keep it from being replaced;
//   - a role or binding annotated AutoUpdateAnnotation: "false" is left
//     as it is, and reported as skipped when it differs.
//
// A second call on the same store changes nothing: it is safe at every
// start of an orchestrator over a durable store. Every object written is
// defaulted and validated by s first. It returns what it changed or
// skipped, for the caller to log, and the error of a store write or of an
// object that does not validate, which leaves tx to be rolled back.
func ReconcileBootstrapPolicy(tx store.Tx, s *objects.Scheme) ([]BootstrapResult, error) {
	var results []BootstrapResult
	for _, want := range BootstrapClusterRoles() {
		r, err := reconcileStoredClusterRole(tx, s, want)
		if err != nil {
			return results, fmt.Errorf("rbac: bootstrap ClusterRole %q: %w", want.Name, err)
		}
		if r.Action != "" {
			results = append(results, r)
		}
	}
	for _, want := range BootstrapClusterRoleBindings() {
		r, err := reconcileStoredClusterRoleBinding(tx, s, want)
		if err != nil {
			return results, fmt.Errorf("rbac: bootstrap ClusterRoleBinding %q: %w", want.Name, err)
		}
		if r.Action != "" {
			results = append(results, r)
		}
	}
	return results, nil
}

func reconcileStoredClusterRole(tx store.Tx, s *objects.Scheme, want *objects.ClusterRole) (BootstrapResult, error) {
	res := BootstrapResult{Kind: kindClusterRole, Name: want.Name}
	obj, err := tx.Get(kindClusterRole, objects.Key{Name: want.Name})
	if errors.Is(err, store.ErrNotFound) {
		res.Action = BootstrapCreated
		return res, create(tx, s, want)
	}
	if err != nil {
		return res, err
	}
	have := obj.(*objects.ClusterRole)
	got, missing, changed := reconcileClusterRole(have, want)
	if !changed {
		return res, nil
	}
	res.MissingRules = missing
	if protected(&have.ObjectMeta) {
		res.Action, res.Reason = BootstrapSkipped, skippedProtected
		return res, nil
	}
	res.Action = BootstrapUpdated
	return res, update(tx, s, got, have)
}

func reconcileStoredClusterRoleBinding(tx store.Tx, s *objects.Scheme, want *objects.ClusterRoleBinding) (BootstrapResult, error) {
	res := BootstrapResult{Kind: kindClusterRoleBinding, Name: want.Name}
	obj, err := tx.Get(kindClusterRoleBinding, objects.Key{Name: want.Name})
	if errors.Is(err, store.ErrNotFound) {
		res.Action = BootstrapCreated
		return res, create(tx, s, want)
	}
	if err != nil {
		return res, err
	}
	have := obj.(*objects.ClusterRoleBinding)
	got, missing, recreate, changed := reconcileClusterRoleBinding(have, want)
	if !changed {
		return res, nil
	}
	res.MissingSubjects = missing
	switch {
	case protected(&have.ObjectMeta):
		res.Action, res.Reason = BootstrapSkipped, skippedProtected
		return res, nil
	case recreate && len(have.Finalizers) > 0:
		res.Action = BootstrapSkipped
		res.Reason = fmt.Sprintf("its roleRef names %s %q, not %s %q, and its finalizers keep it from being replaced",
			have.RoleRef.Kind, have.RoleRef.Name, want.RoleRef.Kind, want.RoleRef.Name)
		return res, nil
	case recreate:
		if _, err := tx.Delete(kindClusterRoleBinding, have.Key(), store.DeleteOptions{}); err != nil {
			return res, err
		}
		got.ObjectMeta = objects.ObjectMeta{Name: got.Name, Labels: got.Labels, Annotations: got.Annotations}
		res.Action = BootstrapRecreated
		return res, create(tx, s, got)
	}
	res.Action = BootstrapUpdated
	return res, update(tx, s, got, have)
}

const skippedProtected = "annotated " + AutoUpdateAnnotation + `: "false"`

// protected reports whether the user asked that a bootstrap object be left
// as it is.
func protected(m *objects.ObjectMeta) bool { return m.Annotations[AutoUpdateAnnotation] == "false" }

func create(tx store.Tx, s *objects.Scheme, obj objects.Object) error {
	s.Default(obj)
	if err := s.Validate(obj); err != nil {
		return err
	}
	return tx.Create(obj)
}

func update(tx store.Tx, s *objects.Scheme, obj, old objects.Object) error {
	s.Default(obj)
	if err := s.ValidateUpdate(obj, old); err != nil {
		return err
	}
	return tx.Update(obj)
}

// reconcileClusterRole returns have with what it lacks of want added, as
// Kubernetes' computeReconciledRole without removing extra permissions:
// the rules of want that have's rules do not cover (not for an aggregate,
// whose rules are the aggregation controller's), the aggregation
// selectors of want, and its labels and annotations where have has none.
// An aggregationRule want does not have is removed. changed reports
// whether got differs from have.
func reconcileClusterRole(have, want *objects.ClusterRole) (got *objects.ClusterRole, missing []objects.PolicyRule, changed bool) {
	got = have.DeepCopy()
	changed = mergeMeta(&got.ObjectMeta, &want.ObjectMeta)
	switch {
	case want.AggregationRule == nil && have.AggregationRule != nil:
		got.AggregationRule, changed = nil, true
	case want.AggregationRule != nil:
		if got.AggregationRule == nil {
			got.AggregationRule = &objects.AggregationRule{}
		}
		for _, sel := range want.AggregationRule.ClusterRoleSelectors {
			if !slices.ContainsFunc(got.AggregationRule.ClusterRoleSelectors, func(s objects.LabelSelector) bool { return selectorEqual(&s, &sel) }) {
				got.AggregationRule.ClusterRoleSelectors = append(got.AggregationRule.ClusterRoleSelectors, *sel.DeepCopy())
				changed = true
			}
		}
	}
	if got.AggregationRule == nil {
		if missing = uncovered(have.Rules, want.Rules); len(missing) > 0 {
			got.Rules, changed = append(got.Rules, missing...), true
		}
	}
	return got, missing, changed
}

// reconcileClusterRoleBinding returns have with want's roleRef, the
// subjects of want it lacks, and want's labels and annotations where have
// has none, as Kubernetes' computeReconciledRoleBinding without removing
// extra subjects. recreate reports that the roleRef changed, which only a
// new binding can have.
func reconcileClusterRoleBinding(have, want *objects.ClusterRoleBinding) (got *objects.ClusterRoleBinding, missing []objects.Subject, recreate, changed bool) {
	got = have.DeepCopy()
	changed = mergeMeta(&got.ObjectMeta, &want.ObjectMeta)
	if got.RoleRef != want.RoleRef {
		got.RoleRef, recreate, changed = want.RoleRef, true, true
	}
	for _, s := range want.Subjects {
		if !slices.Contains(got.Subjects, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		got.Subjects, changed = append(got.Subjects, missing...), true
	}
	return got, missing, recreate, changed
}

// mergeMeta adds to m the labels and annotations of want it has not got,
// keeping its own values, and reports whether it added any.
func mergeMeta(m, want *objects.ObjectMeta) bool {
	var labelled, annotated bool
	m.Labels, labelled = mergeMissing(m.Labels, want.Labels)
	m.Annotations, annotated = mergeMissing(m.Annotations, want.Annotations)
	return labelled || annotated
}

func mergeMissing(have, want map[string]string) (map[string]string, bool) {
	changed := false
	for k, v := range want {
		if _, ok := have[k]; ok {
			continue
		}
		if have == nil {
			have = map[string]string{}
		}
		have[k], changed = v, true
	}
	return have, changed
}

// selectorEqual compares selectors as Kubernetes' semantic equality does:
// an empty map or list equals a missing one.
func selectorEqual(a, b *objects.LabelSelector) bool {
	return maps.Equal(a.MatchLabels, b.MatchLabels) &&
		slices.EqualFunc(a.MatchExpressions, b.MatchExpressions, func(x, y objects.LabelSelectorRequirement) bool {
			return x.Key == y.Key && x.Operator == y.Operator && slices.Equal(x.Values, y.Values)
		})
}

// uncovered returns what of want no rule of have grants, as Kubernetes'
// validation.Covers: want broken down into rules of one verb on one
// resource of one group (and one name, when it names some), or of one
// verb on one URL, those that no rule of have covers.
func uncovered(have, want []objects.PolicyRule) []objects.PolicyRule {
	var out []objects.PolicyRule
	for _, w := range want {
		for _, sub := range breakDown(&w) {
			if !slices.ContainsFunc(have, func(h objects.PolicyRule) bool { return covers(&h, &sub) }) {
				out = append(out, sub)
			}
		}
	}
	return out
}

// breakDown splits rule into rules of one verb each on one group and
// resource (and name), or on one URL, as Kubernetes' BreakdownRule.
func breakDown(rule *objects.PolicyRule) []objects.PolicyRule {
	var out []objects.PolicyRule
	for _, g := range rule.APIGroups {
		for _, r := range rule.Resources {
			for _, v := range rule.Verbs {
				if len(rule.ResourceNames) == 0 {
					out = append(out, objects.PolicyRule{Verbs: []string{v}, APIGroups: []string{g}, Resources: []string{r}})
					continue
				}
				for _, n := range rule.ResourceNames {
					out = append(out, objects.PolicyRule{Verbs: []string{v}, APIGroups: []string{g}, Resources: []string{r}, ResourceNames: []string{n}})
				}
			}
		}
	}
	for _, u := range rule.NonResourceURLs {
		for _, v := range rule.Verbs {
			out = append(out, objects.PolicyRule{Verbs: []string{v}, NonResourceURLs: []string{u}})
		}
	}
	return out
}

// covers reports whether owner grants everything sub, a rule made by
// breakDown, does, as Kubernetes' ruleCovers: wildcards in owner cover
// anything, and a wildcard in sub only the same wildcard; "*/status"
// covers "pods/status"; a rule naming resourceNames never covers one that
// names none.
func covers(owner, sub *objects.PolicyRule) bool {
	if !verbMatches(owner, sub.Verbs[0]) {
		return false
	}
	if len(sub.NonResourceURLs) > 0 {
		return nonResourceURLMatches(owner, sub.NonResourceURLs[0])
	}
	res, subresource := sub.Resources[0], ""
	if i := strings.IndexByte(res, '/'); i >= 0 {
		subresource = res[i+1:]
	}
	if !apiGroupMatches(owner, sub.APIGroups[0]) || !resourceMatches(owner, res, subresource) {
		return false
	}
	if len(sub.ResourceNames) == 0 {
		return len(owner.ResourceNames) == 0
	}
	return resourceNameMatches(owner, sub.ResourceNames[0])
}
