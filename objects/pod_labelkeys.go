package objects

// podAffinityTerms calls f with every pod (anti-)affinity term of s, and
// the path of each under p.
func podAffinityTerms(s *PodSpec, p *Path, f func(t *PodAffinityTerm, p *Path)) {
	a := s.Affinity
	if a == nil {
		return
	}
	each := func(req []PodAffinityTerm, pref []WeightedPodAffinityTerm, p *Path) {
		for i := range req {
			f(&req[i], p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))
		}
		for i := range pref {
			f(&pref[i].PodAffinityTerm, p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i).Child("podAffinityTerm"))
		}
	}
	if pa := a.PodAffinity; pa != nil {
		each(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("podAffinity"))
	}
	if pa := a.PodAntiAffinity; pa != nil {
		each(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("podAntiAffinity"))
	}
}

// applyLabelKeys adds to each pod affinity term's selector the pod's own
// values of its matchLabelKeys ("key in (value)") and mismatchLabelKeys
// ("key notin (value)"), as Kubernetes' pod strategy does on create. A
// key the pod has no label for adds nothing; a term without a selector
// selects nothing and is left so.
func (p *Pod) applyLabelKeys() {
	podAffinityTerms(&p.Spec, NewPath("spec", "affinity"), func(t *PodAffinityTerm, _ *Path) {
		t.LabelSelector = withLabelKeys(t, p.Labels)
	})
}

// withLabelKeys returns t's selector with the requirements its label keys
// make of labels; t's own when they make none.
func withLabelKeys(t *PodAffinityTerm, labels map[string]string) *LabelSelector {
	sel := t.LabelSelector
	if sel == nil || len(t.MatchLabelKeys) == 0 && len(t.MismatchLabelKeys) == 0 {
		return sel
	}
	var add []LabelSelectorRequirement
	for _, keys := range []struct {
		keys []string
		op   LabelSelectorOperator
	}{{t.MatchLabelKeys, LabelSelectorOpIn}, {t.MismatchLabelKeys, LabelSelectorOpNotIn}} {
		for _, k := range keys.keys {
			if v, ok := labels[k]; ok {
				add = append(add, LabelSelectorRequirement{Key: k, Operator: keys.op, Values: []string{v}})
			}
		}
	}
	if len(add) == 0 {
		return sel
	}
	out := sel.DeepCopy()
	out.MatchExpressions = append(out.MatchExpressions, add...)
	return out
}

// validateLabelKeys checks a pod affinity term's matchLabelKeys and
// mismatchLabelKeys with Kubernetes' rules and messages, against its
// selector as given: a pod's has the requirements they added (see
// Pod.ValidateCreate), a template's does not.
func validateLabelKeys(t *PodAffinityTerm, p *Path) ErrorList {
	mp := p.Child("matchLabelKeys")
	errs := labelKeyNames(t.MatchLabelKeys, t.LabelSelector, mp)
	errs = append(errs, labelKeyNames(t.MismatchLabelKeys, t.LabelSelector, p.Child("mismatchLabelKeys"))...)
	for _, i := range keysTwiceInSelector(t.MatchLabelKeys, t.LabelSelector) {
		errs = append(errs, Invalid(mp.Index(i), t.MatchLabelKeys[i], "exists in both matchLabelKeys and labelSelector"))
	}
	for i, k := range t.MatchLabelKeys {
		for _, m := range t.MismatchLabelKeys {
			if k == m {
				errs = append(errs, Invalid(mp.Index(i), k, "exists in both matchLabelKeys and mismatchLabelKeys"))
				break
			}
		}
	}
	return errs
}

func labelKeyNames(keys []string, sel *LabelSelector, p *Path) ErrorList {
	if len(keys) == 0 {
		return nil
	}
	if sel == nil {
		return ErrorList{Forbidden(p, "must not be specified when labelSelector is not set")}
	}
	var errs ErrorList
	for i, k := range keys {
		errs = appendMsgs(errs, p.Index(i), k, IsQualifiedName(k))
	}
	return errs
}

// keysTwiceInSelector returns the indexes of the keys that sel requires
// more than once: once added from matchLabelKeys, once by the user.
func keysTwiceInSelector(keys []string, sel *LabelSelector) []int {
	if sel == nil || len(keys) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(sel.MatchLabels)+len(sel.MatchExpressions))
	for k := range sel.MatchLabels {
		seen[k] = true
	}
	var out []int
	for _, e := range sel.MatchExpressions {
		if seen[e.Key] {
			for i, k := range keys {
				if k == e.Key {
					out = append(out, i)
					break
				}
			}
		}
		seen[e.Key] = true
	}
	return out
}

// validateCreatedLabelKeys checks a new pod's terms as Kubernetes checks
// them, after its label keys are applied: a key the user's selector
// already requires is then required twice. What the selector as given
// shows is left to validateLabelKeys.
func validateCreatedLabelKeys(pod *Pod) ErrorList {
	var errs ErrorList
	podAffinityTerms(&pod.Spec, NewPath("spec", "affinity"), func(t *PodAffinityTerm, p *Path) {
		merged := withLabelKeys(t, pod.Labels)
		if merged == t.LabelSelector {
			return
		}
		before := keysTwiceInSelector(t.MatchLabelKeys, t.LabelSelector)
		for _, i := range keysTwiceInSelector(t.MatchLabelKeys, merged) {
			if !containsInt(before, i) {
				errs = append(errs, Invalid(p.Child("matchLabelKeys").Index(i), t.MatchLabelKeys[i], "exists in both matchLabelKeys and labelSelector"))
			}
		}
	})
	return errs
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
