package objects

import "strings"

// Validation of MutatingAdmissionPolicy and MutatingAdmissionPolicyBinding
// as Kubernetes' pkg/apis/admissionregistration/validation, with the
// helpers of the validating kinds. CEL expressions are required where
// Kubernetes requires them, but not compiled here.

// Validate checks the spec as Kubernetes' ValidateMutatingAdmissionPolicy
// does (the Scheme checks the metadata). failurePolicy and the selectors
// and matchPolicy of matchConstraints are required, as Default sets them;
// reinvocationPolicy is required and has no default.
func (p *MutatingAdmissionPolicy) Validate() ErrorList {
	s, sp := &p.Spec, NewPath("spec")
	errs := validateFailurePolicy(s.FailurePolicy, sp.Child("failurePolicy"))
	if s.ParamKind != nil {
		errs = append(errs, validateParamKind(s.ParamKind, sp.Child("paramKind"))...)
	}
	if mc, mp := s.MatchConstraints, sp.Child("matchConstraints"); mc == nil {
		errs = append(errs, Required(mp, ""))
	} else {
		errs = append(errs, validateMatchResources(mc, mp)...)
		// The rules give the expressions the type of the object they patch.
		if len(mc.ResourceRules) == 0 {
			errs = append(errs, Required(mp.Child("resourceRules"), ""))
		}
		errs = append(errs, validateMutatingOperations(mc.ResourceRules, mp)...)
	}
	errs = append(errs, validateMatchConditions(s.MatchConditions, sp.Child("matchConditions"))...)
	errs = append(errs, validateVariables(s.Variables, sp.Child("variables"))...)
	if len(s.Mutations) == 0 {
		errs = append(errs, Required(sp.Child("mutations"), "mutations must contain at least one item"))
	}
	for i := range s.Mutations {
		errs = append(errs, validateMutation(&s.Mutations[i], sp.Child("mutations").Index(i))...)
	}
	switch rp := sp.Child("reinvocationPolicy"); s.ReinvocationPolicy {
	case "":
		errs = append(errs, Required(rp, ""))
	case NeverReinvocationPolicy, IfNeededReinvocationPolicy:
	default:
		errs = append(errs, NotSupported(rp, string(s.ReinvocationPolicy),
			[]string{string(IfNeededReinvocationPolicy), string(NeverReinvocationPolicy)}))
	}
	return errs
}

// ValidateUpdate accepts any change of a policy: none of its fields is
// immutable, and Kubernetes checks an updated policy as a new one, which
// the Scheme does by Validate.
func (p *MutatingAdmissionPolicy) ValidateUpdate(old Object) ErrorList {
	if _, ok := old.(*MutatingAdmissionPolicy); !ok {
		return ErrorList{wrongOldType(old, p)}
	}
	return nil
}

// Validate checks the spec as Kubernetes'
// ValidateMutatingAdmissionPolicyBinding does (the Scheme checks the
// metadata).
func (b *MutatingAdmissionPolicyBinding) Validate() ErrorList {
	s, sp := &b.Spec, NewPath("spec")
	var errs ErrorList
	errs = append(errs, validatePolicyName(s.PolicyName, sp.Child("policyName"))...)
	errs = append(errs, validateParamRef(s.ParamRef, sp.Child("paramRef"))...)
	if mr, mp := s.MatchResources, sp.Child("matchResources"); mr != nil {
		errs = append(errs, validateMatchResources(mr, mp)...)
		errs = append(errs, validateMutatingOperations(mr.ResourceRules, mp)...)
	}
	return errs
}

// ValidateUpdate accepts any change of a binding: none of its fields is
// immutable, and Kubernetes checks an updated binding as a new one, which
// the Scheme does by Validate.
func (b *MutatingAdmissionPolicyBinding) ValidateUpdate(old Object) ErrorList {
	if _, ok := old.(*MutatingAdmissionPolicyBinding); !ok {
		return ErrorList{wrongOldType(old, b)}
	}
	return nil
}

func validateFailurePolicy(fp *FailurePolicyType, p *Path) ErrorList {
	switch {
	case fp == nil:
		return ErrorList{Required(p, "")}
	case *fp != FailurePolicyFail && *fp != FailurePolicyIgnore:
		return ErrorList{NotSupported(p, string(*fp), []string{string(FailurePolicyFail), string(FailurePolicyIgnore)})}
	}
	return nil
}

// validateMutatingOperations refuses DELETE in the resourceRules of a
// policy or binding: a deletion has no object to patch. Exclusions may
// name it. As in Kubernetes, the error names the operations of no rule in
// particular, and an operation of no kind (already refused by
// validateRuleWithOperations) is refused here too.
func validateMutatingOperations(rules []NamedRuleWithOperations, p *Path) ErrorList {
	var errs ErrorList
	op := p.Child("resourceRules", "operations")
	for i := range rules {
		for _, o := range rules[i].Operations {
			switch o {
			case OperationAll, OperationCreate, OperationUpdate, OperationConnect:
			default:
				errs = append(errs, NotSupported(op, string(o), []string{string(OperationAll),
					string(OperationConnect), string(OperationCreate), string(OperationUpdate)}))
			}
		}
	}
	return errs
}

// validateMutation requires the field of the patchType, and refuses the
// other (as an invalid value, as Kubernetes does).
func validateMutation(m *Mutation, p *Path) ErrorList {
	const (
		apply = "applyConfiguration"
		patch = "jsonPatch"
	)
	var errs ErrorList
	switch m.PatchType {
	case "":
		errs = append(errs, Required(p.Child("patchType"), ""))
	case PatchTypeApplyConfiguration:
		if m.ApplyConfiguration == nil {
			errs = append(errs, Required(p.Child(apply), "must be specified when patchType is ApplyConfiguration"))
		} else if strings.TrimSpace(m.ApplyConfiguration.Expression) == "" {
			errs = append(errs, Required(p.Child(apply, "expression"), ""))
		}
		if m.JSONPatch != nil {
			errs = append(errs, Invalid(p.Child(patch), "{"+patch+"}", "must not be specified when patchType is ApplyConfiguration"))
		}
	case PatchTypeJSONPatch:
		if m.JSONPatch == nil {
			errs = append(errs, Required(p.Child(patch), "must be specified when patchType is JSONPatch"))
		} else if strings.TrimSpace(m.JSONPatch.Expression) == "" {
			errs = append(errs, Required(p.Child(patch, "expression"), ""))
		}
		if m.ApplyConfiguration != nil {
			errs = append(errs, Invalid(p.Child(apply), "{"+apply+"}", "must not be specified when patchType is JSONPatch"))
		}
	default:
		errs = append(errs, NotSupported(p.Child("patchType"), string(m.PatchType),
			[]string{string(PatchTypeApplyConfiguration), string(PatchTypeJSONPatch)}))
	}
	return errs
}
