package objects

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Validation of ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding
// as Kubernetes' pkg/apis/admissionregistration/validation. CEL expressions
// are required where Kubernetes requires them, but not compiled here.

const (
	maxMatchConditions  = 64
	maxAuditAnnotations = 20
	// maxAuditAnnotationValueExpressionLength is half the 10 KiB an
	// annotation's value may have, as an expression joining strings often
	// makes a value longer than itself.
	maxAuditAnnotationValueExpressionLength = 5 * 1024
)

// Validate checks the spec as Kubernetes' ValidateValidatingAdmissionPolicy
// does (the Scheme checks the metadata). failurePolicy and the selectors
// and matchPolicy of matchConstraints are required, as Default sets them.
func (p *ValidatingAdmissionPolicy) Validate() ErrorList {
	s, sp := &p.Spec, NewPath("spec")
	var errs ErrorList
	errs = append(errs, validateFailurePolicy(s.FailurePolicy, sp.Child("failurePolicy"))...)
	if s.ParamKind != nil {
		errs = append(errs, validateParamKind(s.ParamKind, sp.Child("paramKind"))...)
	}
	if mc, mp := s.MatchConstraints, sp.Child("matchConstraints"); mc == nil {
		errs = append(errs, Required(mp, ""))
	} else {
		errs = append(errs, validateMatchResources(mc, mp)...)
		// The rules give the expressions the type of the object they read.
		if len(mc.ResourceRules) == 0 {
			errs = append(errs, Required(mp.Child("resourceRules"), ""))
		}
	}
	errs = append(errs, validateMatchConditions(s.MatchConditions, sp.Child("matchConditions"))...)
	errs = append(errs, validateVariables(s.Variables, sp.Child("variables"))...)
	if len(s.Validations) == 0 && len(s.AuditAnnotations) == 0 {
		const why = "validations or auditAnnotations must contain at least one item"
		return append(errs, Required(sp.Child("validations"), why), Required(sp.Child("auditAnnotations"), why))
	}
	for i := range s.Validations {
		errs = append(errs, validateValidation(&s.Validations[i], sp.Child("validations").Index(i))...)
	}
	return append(errs, validateAuditAnnotations(&p.ObjectMeta, s.AuditAnnotations, sp.Child("auditAnnotations"))...)
}

// ValidateUpdate accepts any change of a policy: none of its fields is
// immutable, and Kubernetes checks an updated policy as a new one, which
// the Scheme does by Validate.
func (p *ValidatingAdmissionPolicy) ValidateUpdate(old Object) ErrorList {
	if _, ok := old.(*ValidatingAdmissionPolicy); !ok {
		return ErrorList{wrongOldType(old, p)}
	}
	return nil
}

// Validate checks the spec as Kubernetes'
// ValidateValidatingAdmissionPolicyBinding does (the Scheme checks the
// metadata).
func (b *ValidatingAdmissionPolicyBinding) Validate() ErrorList {
	s, sp := &b.Spec, NewPath("spec")
	var errs ErrorList
	errs = append(errs, validatePolicyName(s.PolicyName, sp.Child("policyName"))...)
	errs = append(errs, validateParamRef(s.ParamRef, sp.Child("paramRef"))...)
	errs = append(errs, validateMatchResources(s.MatchResources, sp.Child("matchResources"))...)
	return append(errs, validateValidationActions(s.ValidationActions, sp.Child("validationActions"))...)
}

// ValidateUpdate accepts any change of a binding: none of its fields is
// immutable, and Kubernetes checks an updated binding as a new one, which
// the Scheme does by Validate.
func (b *ValidatingAdmissionPolicyBinding) ValidateUpdate(old Object) ErrorList {
	if _, ok := old.(*ValidatingAdmissionPolicyBinding); !ok {
		return ErrorList{wrongOldType(old, b)}
	}
	return nil
}

// validateParamKind checks an apiVersion and kind as Kubernetes checks
// those of an APIService: a DNS subdomain group, a DNS-1035 version, and a
// kind that is one but for its case.
func validateParamKind(k *ParamKind, p *Path) ErrorList {
	var errs ErrorList
	vp := p.Child("apiVersion")
	switch {
	case k.APIVersion == "":
		errs = append(errs, Required(vp, ""))
	case strings.Count(k.APIVersion, "/") > 1:
		errs = append(errs, Invalid(vp, k.APIVersion, "unexpected GroupVersion string: "+k.APIVersion))
	default:
		group, version, ok := strings.Cut(k.APIVersion, "/")
		if !ok {
			group, version = "", group
		}
		if group != "" {
			if msgs := IsDNS1123Subdomain(group); len(msgs) > 0 {
				errs = append(errs, Invalid(vp, group, strings.Join(msgs, ",")))
			}
		}
		if version == "" {
			errs = append(errs, Invalid(vp, k.APIVersion, "version must be specified"))
		} else if msgs := IsDNS1035Label(version); len(msgs) > 0 {
			errs = append(errs, Invalid(vp, version, strings.Join(msgs, ",")))
		}
	}
	if kp := p.Child("kind"); k.Kind == "" {
		errs = append(errs, Required(kp, ""))
	} else if msgs := IsDNS1035Label(strings.ToLower(k.Kind)); len(msgs) > 0 {
		errs = append(errs, Invalid(kp, k.Kind, "may have mixed case, but should otherwise match: "+strings.Join(msgs, ",")))
	}
	return errs
}

// validateMatchResources checks a policy's matchConstraints or a
// binding's optional matchResources.
func validateMatchResources(m *MatchResources, p *Path) ErrorList {
	if m == nil {
		return nil
	}
	var errs ErrorList
	switch mp := p.Child("matchPolicy"); {
	case m.MatchPolicy == nil:
		errs = append(errs, Required(mp, ""))
	case *m.MatchPolicy != MatchPolicyExact && *m.MatchPolicy != MatchPolicyEquivalent:
		errs = append(errs, NotSupported(mp, string(*m.MatchPolicy),
			[]string{string(MatchPolicyEquivalent), string(MatchPolicyExact)}))
	}
	selector := func(s *LabelSelector, name string) {
		if s == nil {
			errs = append(errs, Required(p.Child(name), ""))
		} else {
			errs = append(errs, ValidateLabelSelector(s, p.Child(name))...)
		}
	}
	selector(m.NamespaceSelector, "namespaceSelector")
	selector(m.ObjectSelector, "objectSelector")
	for i := range m.ResourceRules {
		errs = append(errs, validateNamedRuleWithOperations(&m.ResourceRules[i], p.Child("resourceRules").Index(i))...)
	}
	for i := range m.ExcludeResourceRules {
		errs = append(errs, validateNamedRuleWithOperations(&m.ExcludeResourceRules[i], p.Child("excludeResourceRules").Index(i))...)
	}
	return errs
}

func validateNamedRuleWithOperations(r *NamedRuleWithOperations, p *Path) ErrorList {
	var errs ErrorList
	np := p.Child("resourceNames")
	seen := make(map[string]bool, len(r.ResourceNames))
	for i, name := range r.ResourceNames {
		errs = appendMsgs(errs, np.Index(i), name, isValidPathSegmentName(name))
		if seen[name] {
			errs = append(errs, Duplicate(np.Index(i), name))
		}
		seen[name] = true
	}
	return append(errs, validateRuleWithOperations(&r.RuleWithOperations, p)...)
}

func validateRuleWithOperations(r *RuleWithOperations, p *Path) ErrorList {
	var errs ErrorList
	op := p.Child("operations")
	if len(r.Operations) == 0 {
		errs = append(errs, Required(op, ""))
	}
	if len(r.Operations) > 1 && slices.Contains(r.Operations, OperationAll) {
		errs = append(errs, Invalid(op, derefForError(r.Operations), "if '*' is present, must not specify other operations"))
	}
	for i, o := range r.Operations {
		switch o {
		case OperationAll, OperationCreate, OperationUpdate, OperationDelete, OperationConnect:
		default:
			errs = append(errs, NotSupported(op.Index(i), string(o), []string{string(OperationAll),
				string(OperationConnect), string(OperationCreate), string(OperationDelete), string(OperationUpdate)}))
		}
	}
	return append(errs, validateRule(&r.Rule, p)...)
}

// validateRule checks a rule's groups, versions, resources (subresources
// allowed) and scope.
func validateRule(r *Rule, p *Path) ErrorList {
	var errs ErrorList
	gp := p.Child("apiGroups")
	if len(r.APIGroups) == 0 {
		errs = append(errs, Required(gp, ""))
	}
	if len(r.APIGroups) > 1 && slices.Contains(r.APIGroups, "*") {
		errs = append(errs, Invalid(gp, derefForError(r.APIGroups), "if '*' is present, must not specify other API groups"))
	}
	vp := p.Child("apiVersions")
	if len(r.APIVersions) == 0 {
		errs = append(errs, Required(vp, ""))
	}
	if len(r.APIVersions) > 1 && slices.Contains(r.APIVersions, "*") {
		errs = append(errs, Invalid(vp, derefForError(r.APIVersions), "if '*' is present, must not specify other API versions"))
	}
	for i, v := range r.APIVersions {
		if v == "" {
			errs = append(errs, Required(vp.Index(i), ""))
		}
	}
	errs = append(errs, validateRuleResources(r.Resources, p.Child("resources"))...)
	if r.Scope != nil {
		switch *r.Scope {
		case ClusterScope, NamespacedScope, AllScopes:
		default:
			errs = append(errs, NotSupported(p.Child("scope"), string(*r.Scope),
				[]string{string(AllScopes), string(ClusterScope), string(NamespacedScope)}))
		}
	}
	return errs
}

// validateRuleResources refuses resources that a wildcard among them
// already covers: "*/*" with any other, "x/y" with "x/*" or "*/y", "x"
// with "*".
func validateRuleResources(resources []string, p *Path) ErrorList {
	var errs ErrorList
	if len(resources) == 0 {
		errs = append(errs, Required(p, ""))
	}
	allSubs := map[string]bool{}      // x of "x/*"
	allResources := map[string]bool{} // y of "*/y"
	var all, allAndSubs, plain bool   // "*", "*/*", a last "x"
	for i, rs := range resources {
		if rs == "" {
			errs = append(errs, Required(p.Index(i), ""))
			continue
		}
		all = all || rs == "*"
		allAndSubs = allAndSubs || rs == "*/*"
		res, sub, ok := strings.Cut(rs, "/")
		if !ok {
			// As in Kubernetes, the last resource without a subresource
			// decides: ["pods", "*"] passes, ["*", "pods"] does not.
			plain = rs != "*"
			continue
		}
		if allSubs[res] {
			errs = append(errs, Invalid(p.Index(i), rs, fmt.Sprintf("if '%s/*' is present, must not specify %s", res, rs)))
		}
		if allResources[sub] {
			errs = append(errs, Invalid(p.Index(i), rs, fmt.Sprintf("if '*/%s' is present, must not specify %s", sub, rs)))
		}
		if sub == "*" {
			allSubs[res] = true
		}
		if res == "*" {
			allResources[sub] = true
		}
	}
	if len(resources) > 1 && allAndSubs {
		errs = append(errs, Invalid(p, derefForError(resources), "if '*/*' is present, must not specify other resources"))
	}
	if all && plain {
		errs = append(errs, Invalid(p, derefForError(resources), "if '*' is present, must not specify other resources without subresources"))
	}
	return errs
}

func validateMatchConditions(conds []MatchCondition, p *Path) ErrorList {
	var errs ErrorList
	if len(conds) > maxMatchConditions {
		errs = append(errs, TooMany(p, len(conds), maxMatchConditions))
	}
	seen := make(map[string]bool, len(conds))
	for i := range conds {
		c, cp := &conds[i], p.Index(i)
		if strings.TrimSpace(c.Expression) == "" {
			errs = append(errs, Required(cp.Child("expression"), ""))
		}
		np := cp.Child("name")
		if c.Name == "" {
			errs = append(errs, Required(np, ""))
			continue
		}
		errs = appendMsgs(errs, np, c.Name, IsQualifiedName(c.Name))
		if seen[c.Name] {
			errs = append(errs, Duplicate(np, c.Name))
		}
		seen[c.Name] = true
	}
	return errs
}

// validateVariables requires unique names, which expressions read as
// variables.NAME: Kubernetes documents them unique and keys the list by
// name.
func validateVariables(vars []Variable, p *Path) ErrorList {
	var errs ErrorList
	seen := make(map[string]bool, len(vars))
	for i := range vars {
		v, vp := &vars[i], p.Index(i)
		switch np := vp.Child("name"); {
		case strings.TrimSpace(v.Name) == "":
			errs = append(errs, Required(np, "name is not specified"))
		case !isCELIdentifier(v.Name):
			errs = append(errs, Invalid(np, v.Name, "must be a valid CEL identifier"))
		case seen[v.Name]:
			errs = append(errs, Duplicate(np, v.Name))
		}
		seen[v.Name] = true
		if strings.TrimSpace(v.Expression) == "" {
			errs = append(errs, Required(vp.Child("expression"), "expression is not specified"))
		}
	}
	return errs
}

var (
	celIdentifierRe = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)
	celReserved     = []string{"true", "false", "null", "in", "as", "break", "const", "continue", "else",
		"for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"}
)

// isCELIdentifier reports whether name is an identifier of the CEL grammar
// and not one of its reserved words.
func isCELIdentifier(name string) bool {
	return celIdentifierRe.MatchString(name) && !slices.Contains(celReserved, name)
}

func validateValidation(v *Validation, p *Path) ErrorList {
	var errs ErrorList
	if strings.TrimSpace(v.Expression) == "" {
		errs = append(errs, Required(p.Child("expression"), "expression is not specified"))
	}
	if v.MessageExpression != "" && strings.TrimSpace(v.MessageExpression) == "" {
		errs = append(errs, Invalid(p.Child("messageExpression"), v.MessageExpression, "must be non-empty if specified"))
	}
	// The message is a refusal's one line; a line break before or after
	// the words is dropped, as Kubernetes trims it.
	switch msg, mp := strings.TrimSpace(v.Message), p.Child("message"); {
	case v.Message != "" && msg == "":
		errs = append(errs, Invalid(mp, v.Message, "must be non-empty if specified"))
	case strings.ContainsAny(msg, "\r\n"):
		errs = append(errs, Invalid(mp, v.Message, "must not contain line breaks"))
	}
	if v.Reason != nil {
		// Not Unauthorized, though Kubernetes' API reference lists it: its
		// validation refuses it.
		switch *v.Reason {
		case ReasonForbidden, ReasonInvalid, ReasonRequestEntityTooLarge:
		default:
			errs = append(errs, NotSupported(p.Child("reason"), *v.Reason,
				[]string{ReasonForbidden, ReasonInvalid, ReasonRequestEntityTooLarge}))
		}
	}
	return errs
}

// validateAuditAnnotations checks the keys, which are recorded as
// "<policy name>/<key>" and so must make a qualified name with the
// policy's name (a generated name as the store will generate it), and
// the value expressions.
func validateAuditAnnotations(m *ObjectMeta, as []AuditAnnotation, p *Path) ErrorList {
	var errs ErrorList
	if len(as) > maxAuditAnnotations {
		errs = append(errs, Invalid(p, derefForError(as), fmt.Sprintf("must not have more than %d auditAnnotations", maxAuditAnnotations)))
	}
	name, _, _ := ruleName(m)
	seen := make(map[string]bool, len(as))
	for i := range as {
		a, ap := &as[i], p.Index(i)
		kp := ap.Child("key")
		if name == "" {
			errs = append(errs, Invalid(kp, a.Key, "requires metadata.name be non-empty"))
		} else {
			errs = appendMsgs(errs, kp, name+"/"+a.Key, IsQualifiedName(name+"/"+a.Key))
		}
		switch e, vp := strings.TrimSpace(a.ValueExpression), ap.Child("valueExpression"); {
		case e == "":
			errs = append(errs, Required(vp, "valueExpression is not specified"))
		case len(e) > maxAuditAnnotationValueExpressionLength:
			// Kubernetes reports a too long expression as a required value.
			errs = append(errs, Required(vp, fmt.Sprintf("must not exceed %d bytes in length", maxAuditAnnotationValueExpressionLength)))
		}
		if seen[a.Key] {
			errs = append(errs, Duplicate(kp, a.Key))
		}
		seen[a.Key] = true
	}
	return errs
}

// validateParamRef checks a binding's paramRef: a name or a selector,
// not both, and what a missing parameter means.
func validateParamRef(r *ParamRef, p *Path) ErrorList {
	if r == nil {
		return nil
	}
	var errs ErrorList
	const exclusive = "name and selector are mutually exclusive"
	if r.Name != "" {
		errs = appendMsgs(errs, p.Child("name"), r.Name, isValidPathSegmentName(r.Name))
		if r.Selector != nil {
			errs = append(errs, Forbidden(p.Child("name"), exclusive))
		}
	}
	if r.Selector != nil {
		errs = append(errs, ValidateLabelSelector(r.Selector, p.Child("selector"))...)
		if r.Name != "" {
			errs = append(errs, Forbidden(p.Child("selector"), exclusive))
		}
	}
	if r.Name == "" && r.Selector == nil {
		errs = append(errs, Required(p, "one of name or selector must be specified"))
	}
	switch ap := p.Child("parameterNotFoundAction"); {
	case r.ParameterNotFoundAction == nil || *r.ParameterNotFoundAction == "":
		errs = append(errs, Required(ap, ""))
	case *r.ParameterNotFoundAction != DenyAction && *r.ParameterNotFoundAction != AllowAction:
		errs = append(errs, NotSupported(ap, string(*r.ParameterNotFoundAction),
			[]string{string(DenyAction), string(AllowAction)}))
	}
	return errs
}

func validateValidationActions(actions []ValidationAction, p *Path) ErrorList {
	var errs ErrorList
	seen := make(map[ValidationAction]bool, len(actions))
	for i, a := range actions {
		switch a {
		case ActionDeny, ActionWarn, ActionAudit:
		default:
			errs = append(errs, NotSupported(p.Index(i), string(a),
				[]string{string(ActionAudit), string(ActionDeny), string(ActionWarn)}))
		}
		if seen[a] {
			errs = append(errs, Duplicate(p.Index(i), string(a)))
		}
		seen[a] = true
	}
	if seen[ActionDeny] && seen[ActionWarn] {
		errs = append(errs, Invalid(p, derefForError(actions),
			"must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	if len(actions) == 0 {
		errs = append(errs, Required(p, "at least one validation action is required"))
	}
	return errs
}

// validatePolicyName checks a binding's policyName.
func validatePolicyName(name string, p *Path) ErrorList {
	if name == "" {
		return ErrorList{Required(p, "")}
	}
	return appendMsgs(nil, p, name, IsDNS1123Subdomain(name))
}
