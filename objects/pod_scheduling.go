package objects

import "fmt"

// Validation of a pod's scheduling constraints: tolerations, affinity and
// topology spread.

func validateTolerations(tols []Toleration, p *Path) ErrorList {
	var errs ErrorList
	for i, t := range tols {
		ip := p.Index(i)
		if t.Key != "" {
			errs = appendMsgs(errs, ip.Child("key"), t.Key, IsQualifiedName(t.Key))
		}
		if t.Key == "" && t.Operator != TolerationOpExists {
			errs = append(errs, Invalid(ip.Child("operator"), string(t.Operator), "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != TaintEffectNoExecute {
			errs = append(errs, Invalid(ip.Child("effect"), string(t.Effect), "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case TolerationOpEqual, "":
			errs = appendMsgs(errs, ip.Child("operator"), t.Value, IsValidLabelValue(t.Value))
		case TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, Invalid(ip.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, NotSupported(ip.Child("operator"), string(t.Operator), []string{string(TolerationOpEqual), string(TolerationOpExists)}))
		}
		if t.Effect != "" {
			errs = append(errs, validateTaintEffect(t.Effect, true, ip.Child("effect"))...)
		}
	}
	return errs
}

func validateAffinity(a *Affinity, p *Path) ErrorList {
	if a == nil {
		return nil
	}
	var errs ErrorList
	if na := a.NodeAffinity; na != nil {
		np := p.Child("nodeAffinity")
		if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
			errs = append(errs, ValidateNodeSelector(na.RequiredDuringSchedulingIgnoredDuringExecution, np.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		}
		pp := np.Child("preferredDuringSchedulingIgnoredDuringExecution")
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			errs = append(errs, validateWeight(t.Weight, pp.Index(i).Child("weight"))...)
			errs = append(errs, validateNodeSelectorTerm(&t.Preference, pp.Index(i).Child("preference"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		errs = append(errs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("podAffinity"))...)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		errs = append(errs, validatePodAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("podAntiAffinity"))...)
	}
	return errs
}

func validateWeight(w int32, p *Path) ErrorList {
	if w <= 0 || w > 100 {
		return ErrorList{Invalid(p, w, "must be in the range 1-100")}
	}
	return nil
}

func validatePodAffinityTerms(req []PodAffinityTerm, pref []WeightedPodAffinityTerm, p *Path) ErrorList {
	var errs ErrorList
	rp := p.Child("requiredDuringSchedulingIgnoredDuringExecution")
	for i := range req {
		errs = append(errs, validatePodAffinityTerm(&req[i], rp.Index(i))...)
	}
	pp := p.Child("preferredDuringSchedulingIgnoredDuringExecution")
	for i := range pref {
		errs = append(errs, validateWeight(pref[i].Weight, pp.Index(i).Child("weight"))...)
		errs = append(errs, validatePodAffinityTerm(&pref[i].PodAffinityTerm, pp.Index(i).Child("podAffinityTerm"))...)
	}
	return errs
}

func validatePodAffinityTerm(t *PodAffinityTerm, p *Path) ErrorList {
	var errs ErrorList
	if t.LabelSelector != nil {
		errs = append(errs, ValidateLabelSelector(t.LabelSelector, p.Child("labelSelector"))...)
	}
	if t.NamespaceSelector != nil {
		errs = append(errs, ValidateLabelSelector(t.NamespaceSelector, p.Child("namespaceSelector"))...)
	}
	for _, ns := range t.Namespaces {
		errs = appendMsgs(errs, p.Child("namespace"), ns, IsDNS1123Label(ns))
	}
	errs = append(errs, validateLabelKeys(t, p)...)
	if t.TopologyKey == "" {
		errs = append(errs, Required(p.Child("topologyKey"), "can not be empty"))
	} else {
		errs = appendMsgs(errs, p.Child("topologyKey"), t.TopologyKey, IsQualifiedName(t.TopologyKey))
	}
	return errs
}

func validateTopologySpread(cs []TopologySpreadConstraint, p *Path) ErrorList {
	var errs ErrorList
	for i, c := range cs {
		ip := p.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, Invalid(ip.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, Required(ip.Child("topologyKey"), "can not be empty"))
		} else {
			errs = appendMsgs(errs, ip.Child("topologyKey"), c.TopologyKey, IsQualifiedName(c.TopologyKey))
		}
		if c.WhenUnsatisfiable != DoNotSchedule && c.WhenUnsatisfiable != ScheduleAnyway {
			errs = append(errs, NotSupported(ip.Child("whenUnsatisfiable"), string(c.WhenUnsatisfiable), []string{string(DoNotSchedule), string(ScheduleAnyway)}))
		}
		if m := c.MinDomains; m != nil {
			if *m <= 0 {
				errs = append(errs, Invalid(ip.Child("minDomains"), *m, "must be greater than zero"))
			}
			if c.WhenUnsatisfiable != DoNotSchedule {
				errs = append(errs, Invalid(ip.Child("minDomains"), *m, fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		for _, pol := range []struct {
			name string
			v    *NodeInclusionPolicy
		}{{"nodeAffinityPolicy", c.NodeAffinityPolicy}, {"nodeTaintsPolicy", c.NodeTaintsPolicy}} {
			if pol.v != nil && *pol.v != NodeInclusionPolicyHonor && *pol.v != NodeInclusionPolicyIgnore {
				errs = append(errs, NotSupported(ip.Child(pol.name), string(*pol.v), []string{string(NodeInclusionPolicyHonor), string(NodeInclusionPolicyIgnore)}))
			}
		}
		for j := i + 1; j < len(cs); j++ {
			if cs[j].TopologyKey == c.TopologyKey && cs[j].WhenUnsatisfiable == c.WhenUnsatisfiable {
				errs = append(errs, Duplicate(ip.Child("{topologyKey, whenUnsatisfiable}"), fmt.Sprintf("{%s, %s}", c.TopologyKey, c.WhenUnsatisfiable)))
				break
			}
		}
		if c.LabelSelector != nil {
			errs = append(errs, ValidateLabelSelector(c.LabelSelector, ip.Child("labelSelector"))...)
		}
		mp := ip.Child("matchLabelKeys")
		if len(c.MatchLabelKeys) > 0 && c.LabelSelector == nil {
			errs = append(errs, Forbidden(mp, "must not be specified when labelSelector is not set"))
		}
		for j, k := range c.MatchLabelKeys {
			errs = appendMsgs(errs, mp.Index(j), k, IsQualifiedName(k))
			if c.LabelSelector != nil {
				if _, ok := c.LabelSelector.MatchLabels[k]; ok {
					errs = append(errs, Invalid(mp.Index(j), k, "exists in both matchLabelKeys and labelSelector"))
					continue
				}
				for _, e := range c.LabelSelector.MatchExpressions {
					if e.Key == k {
						errs = append(errs, Invalid(mp.Index(j), k, "exists in both matchLabelKeys and labelSelector"))
						break
					}
				}
			}
		}
	}
	return errs
}
