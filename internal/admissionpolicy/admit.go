package admissionpolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	celtypes "github.com/google/cel-go/common/types"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// The kinds this package reads.
const (
	KindPolicy  = "ValidatingAdmissionPolicy"
	KindBinding = "ValidatingAdmissionPolicyBinding"
	group       = "admissionregistration.k8s.io"
)

// ErrDenied is wrapped by the refusals of a policy with reason Forbidden or
// RequestEntityTooLarge, and by those of a failed
// configuration (failurePolicy Fail). Reason Invalid, the default, wraps
// objects.ErrInvalid instead, as Kubernetes answers 422 Invalid.
var ErrDenied = errors.New("denied by a ValidatingAdmissionPolicy")

// Request is one write to decide on.
type Request struct {
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	Info      *objects.KindInfo
	// Object is nil for a delete; OldObject nil for a create.
	Object, OldObject objects.Object
	DryRun            bool
	// Warn, when set, gives the writer the warnings of the Warn action;
	// else they are logged.
	Warn func(message string)
}

// Evaluator applies the policies stored in the transactions it is given.
// It is safe for concurrent use.
type Evaluator struct {
	scheme     *objects.Scheme
	log        *slog.Logger
	validating cache[*program]
	mutating   cache[*mutatingProgram]
}

// New returns an Evaluator reading kinds of scheme, logging the Warn and
// Audit actions and the audit annotations to log.
func New(scheme *objects.Scheme, log *slog.Logger) *Evaluator {
	return &Evaluator{scheme: scheme, log: log}
}

// Admit applies the bindings stored in tx, and their policies, to req. It
// returns the first refusal of a binding with the Deny action.
func (e *Evaluator) Admit(ctx context.Context, tx store.ReadTx, req Request) error {
	if req.Info.Group() == group {
		return nil // Kubernetes exempts its admission configuration
	}
	bindings, err := store.PeekList(tx, KindBinding, store.ListOptions{})
	if err != nil || len(bindings) == 0 {
		return err
	}
	w := newWrite(req, tx)
	defer e.validating.forget(bindings, func(b objects.Object) string {
		return b.(*objects.ValidatingAdmissionPolicyBinding).Spec.PolicyName
	})
	for _, obj := range bindings {
		b := obj.(*objects.ValidatingAdmissionPolicyBinding)
		pobj, err := store.Peek(tx, KindPolicy, objects.Key{Name: b.Spec.PolicyName})
		if errors.Is(err, store.ErrNotFound) {
			continue // a binding of no policy does nothing
		}
		if err != nil {
			return err
		}
		p := pobj.(*objects.ValidatingAdmissionPolicy)
		if err := e.apply(ctx, w, p, b); err != nil {
			return err
		}
	}
	return nil
}

// apply decides on w by policy p as bound by b.
func (e *Evaluator) apply(ctx context.Context, w *write, p *objects.ValidatingAdmissionPolicy, b *objects.ValidatingAdmissionPolicyBinding) error {
	if !w.matches(p.Spec.MatchConstraints) || (b.Spec.MatchResources != nil && !w.matches(b.Spec.MatchResources)) {
		return nil
	}
	fail := p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != objects.FailurePolicyIgnore
	// configError applies the failure policy to a policy or binding that
	// cannot be applied.
	configError := func(what string, err error) error {
		if !fail {
			return nil
		}
		return deny(p, b, fmt.Sprintf("failed to configure %s: %v", what, err), objects.ReasonForbidden)
	}
	prog := e.validating.get(&p.ObjectMeta, func() *program { return compile(p) })
	if prog.err != nil {
		return configError("policy", prog.err)
	}
	if err := w.prepare(); err != nil {
		return err
	}
	params, err := e.params(w, p.Spec.ParamKind, b.Spec.ParamRef)
	if err != nil {
		return configError("binding", err)
	}
	for _, param := range params {
		if err := e.evaluate(ctx, w, prog, p, b, param, fail); err != nil {
			return err
		}
	}
	return nil
}

// evaluate runs a policy's expressions with one parameter (or none), as
// Kubernetes' validator does, and acts on the failures by the binding's
// actions.
func (e *Evaluator) evaluate(ctx context.Context, w *write, prog *program, p *objects.ValidatingAdmissionPolicy, b *objects.ValidatingAdmissionPolicyBinding, param runtime.Object, fail bool) error {
	vars := plugincel.OptionalVariableBindings{VersionedParams: param, Authorizer: rbacAuthorizer{w.tx}}
	if prog.matchConditions != nil {
		match, err := matchConditions(ctx, w, prog.matchConditions, p.Spec.MatchConditions, vars)
		if err != nil && fail {
			return deny(p, b, err.Error(), objects.ReasonForbidden)
		}
		if err != nil || !match {
			return nil
		}
	}
	results, budget, err := prog.validations.ForInput(ctx, w.attrs, w.request, vars, w.nsObject, celconfig.RuntimeCELCostBudget)
	if err != nil {
		if fail {
			return deny(p, b, err.Error(), objects.ReasonForbidden)
		}
		return nil
	}
	messages, _, _ := prog.messages.ForInput(ctx, w.attrs, w.request, plugincel.OptionalVariableBindings{VersionedParams: param}, w.nsObject, budget)
	for i, r := range results {
		v := &p.Spec.Validations[i]
		var message, reason string
		switch {
		case r.Error != nil:
			if !fail {
				continue
			}
			message, reason = r.Error.Error(), objects.ReasonForbidden
		case r.EvalResult == celtypes.True:
			continue
		default:
			message, reason = failureMessage(v, messages, i), objects.ReasonInvalid
			if v.Reason != nil {
				reason = *v.Reason
			}
		}
		if err := e.act(w, p, b, message, reason); err != nil {
			return err
		}
	}
	e.auditAnnotations(ctx, w, prog, p, b, vars)
	return nil
}

// act does what the binding's actions say of a failed validation.
func (e *Evaluator) act(w *write, p *objects.ValidatingAdmissionPolicy, b *objects.ValidatingAdmissionPolicyBinding, message, reason string) error {
	var denied error
	for _, a := range b.Spec.ValidationActions {
		switch a {
		case objects.ActionDeny:
			denied = deny(p, b, message, reason)
		case objects.ActionWarn:
			warning := fmt.Sprintf("Validation failed for ValidatingAdmissionPolicy '%s' with binding '%s': %s", p.Name, b.Name, message)
			if w.Warn != nil {
				w.Warn(warning)
				break
			}
			e.log.Warn(warning, "kind", w.Info.Kind, "namespace", w.namespace, "name", w.name, "operation", w.Operation)
		case objects.ActionAudit:
			e.log.Info("validation failure", "policy", p.Name, "binding", b.Name, "message", message,
				"kind", w.Info.Kind, "namespace", w.namespace, "name", w.name, "operation", w.Operation)
		}
	}
	return denied
}

// auditAnnotations logs the policy's audit annotations.
func (e *Evaluator) auditAnnotations(ctx context.Context, w *write, prog *program, p *objects.ValidatingAdmissionPolicy, b *objects.ValidatingAdmissionPolicyBinding, vars plugincel.OptionalVariableBindings) {
	if len(p.Spec.AuditAnnotations) == 0 {
		return
	}
	results, _, err := prog.audits.ForInput(ctx, w.attrs, w.request, vars, w.nsObject, celconfig.RuntimeCELCostBudget)
	if err != nil {
		e.log.Info("audit annotations", "policy", p.Name, "binding", b.Name, "error", err)
		return
	}
	for i, r := range results {
		key := p.Name + "/" + p.Spec.AuditAnnotations[i].Key
		switch {
		case r.Error != nil:
			e.log.Info("audit annotation", "key", key, "error", r.Error)
		case r.EvalResult.Type() == celtypes.StringType:
			if v := strings.TrimSpace(r.EvalResult.Value().(string)); v != "" {
				e.log.Info("audit annotation", "key", key, "value", v, "kind", w.Info.Kind, "namespace", w.namespace, "name", w.name)
			}
		}
	}
}

// failureMessage words a failed validation as Kubernetes does: its
// messageExpression's value if that is a single line of text, else its
// message, else the expression.
func failureMessage(v *objects.Validation, messages []plugincel.EvaluationResult, i int) string {
	if i < len(messages) && v.MessageExpression != "" {
		if m := messages[i]; m.Error == nil && m.EvalResult != nil {
			if s, ok := m.EvalResult.Value().(string); ok {
				s = strings.TrimSpace(s)
				if s != "" && len(s) <= celconfig.MaxEvaluatedMessageExpressionSizeBytes && !strings.Contains(s, "\n") {
					return s
				}
			}
		}
	}
	if m := strings.TrimSpace(v.Message); m != "" {
		return m
	}
	return "failed expression: " + strings.TrimSpace(v.Expression)
}

// matchConditions reports whether all of a policy's match conditions
// hold: one false is a mismatch, whatever the others; an error, when
// none is false, is the policy's failure.
func matchConditions(ctx context.Context, w *write, ev plugincel.ConditionEvaluator, conds []objects.MatchCondition, vars plugincel.OptionalVariableBindings) (bool, error) {
	results, _, err := ev.ForInput(ctx, w.attrs, w.request, vars, w.nsObject, celconfig.RuntimeCELCostBudgetMatchConditions)
	if err != nil {
		return false, err
	}
	var firstErr error
	for i, r := range results {
		switch {
		case r.Error != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("matchConditions[%d] (%s): %w", i, conds[i].Name, r.Error)
			}
		case r.EvalResult == celtypes.False:
			return false, nil
		case r.EvalResult != celtypes.True:
			if firstErr == nil {
				firstErr = fmt.Errorf("matchConditions[%d] (%s) did not evaluate to a bool", i, conds[i].Name)
			}
		}
	}
	return firstErr == nil, firstErr
}

// deny words a refusal as Kubernetes does.
func deny(p *objects.ValidatingAdmissionPolicy, b *objects.ValidatingAdmissionPolicyBinding, message, reason string) error {
	sentinel := ErrDenied
	if reason == objects.ReasonInvalid {
		sentinel = objects.ErrInvalid
	}
	return &DeniedError{Policy: p.Name, Binding: b.Name, Message: message, Reason: reason, sentinel: sentinel}
}

// DeniedError is a policy's refusal.
type DeniedError struct {
	Policy, Binding, Message string
	// Reason is the validation's: Invalid, Forbidden or
	// RequestEntityTooLarge; Invalid for a mutating policy.
	Reason   string
	sentinel error
	mutating bool
}

func (e *DeniedError) Error() string {
	if e.mutating {
		return fmt.Sprintf("policy '%s' with binding '%s' denied request: %s", e.Policy, e.Binding, e.Message)
	}
	return fmt.Sprintf("ValidatingAdmissionPolicy '%s' with binding '%s' denied request: %s", e.Policy, e.Binding, e.Message)
}

// Unwrap returns ErrDenied, or objects.ErrInvalid for reason Invalid.
func (e *DeniedError) Unwrap() error { return e.sentinel }

// params finds a binding's parameters, as Kubernetes' CollectParams does:
// none for a policy without paramKind or a binding without paramRef (one
// evaluation, params null); else those paramRef names or selects.
func (e *Evaluator) params(w *write, kind *objects.ParamKind, ref *objects.ParamRef) ([]runtime.Object, error) {
	if kind == nil || ref == nil {
		return []runtime.Object{nil}, nil
	}
	info := e.scheme.LookupGVK(kind.APIVersion, kind.Kind)
	if info == nil {
		return nil, fmt.Errorf("paramKind kind `%s, Kind=%s` not known", kind.APIVersion, kind.Kind)
	}
	ns := ""
	if info.Namespaced {
		ns = ref.Namespace
		if ns == "" {
			ns = w.namespace
		}
		if ns == "" {
			return nil, errors.New("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources")
		}
	} else if ref.Namespace != "" {
		return nil, errors.New("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
	}
	var found []objects.Object
	switch {
	case ref.Name != "":
		obj, err := store.Peek(w.tx, info.Kind, objects.Key{Namespace: ns, Name: ref.Name})
		switch {
		case err == nil:
			found = append(found, obj)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	case ref.Selector != nil:
		sel, err := objects.LabelSelectorAsSelector(ref.Selector)
		if err != nil {
			return nil, err
		}
		if found, err = store.PeekList(w.tx, info.Kind, store.ListOptions{Namespace: ns, Labels: sel}); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("one of name or selector must be provided")
	}
	if len(found) == 0 {
		if ref.ParameterNotFoundAction != nil && *ref.ParameterNotFoundAction == objects.DenyAction {
			return nil, errors.New("no params found for policy binding with `Deny` parameterNotFoundAction")
		}
		return nil, nil
	}
	params := make([]runtime.Object, len(found))
	for i, obj := range found {
		u, err := toUnstructured(info, obj)
		if err != nil {
			return nil, err
		}
		params[i] = u
	}
	return params, nil
}

// write is a request and what the policies read of it, made once for all
// the policies that match.
type write struct {
	Request
	tx              store.ReadTx
	namespace, name string
	prepared        bool

	attrs    *admission.VersionedAttributes
	request  *admissionv1.AdmissionRequest
	nsObject *corev1.Namespace
}

// newWrite returns the write of req in tx.
func newWrite(req Request, tx store.ReadTx) *write {
	w := &write{Request: req, tx: tx}
	m := w.meta()
	w.namespace, w.name = m.Namespace, m.Name
	if req.Info.Kind == "Namespace" && req.Info.APIVersion == "v1" {
		w.namespace = m.Name // as kube-apiserver's request attributes have it
	}
	return w
}

// meta returns the metadata of the write's object (its old object for a
// delete).
func (w *write) meta() *objects.ObjectMeta {
	if w.Object != nil {
		return w.Object.GetObjectMeta()
	}
	return w.OldObject.GetObjectMeta()
}

// prepare makes what CEL reads: the objects as unstructured, the request
// and the namespace.
func (w *write) prepare() error {
	if w.prepared {
		return nil
	}
	w.prepared = true
	gvk := gvkOf(w.Info)
	gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: storecore.Plural(w.Info.Kind)}
	var obj, old runtime.Object
	if w.Object != nil {
		u, err := toUnstructured(w.Info, w.Object)
		if err != nil {
			return err
		}
		obj = u
	}
	if w.OldObject != nil {
		u, err := toUnstructured(w.Info, w.OldObject)
		if err != nil {
			return err
		}
		old = u
	}
	attrs := admission.NewAttributesRecord(obj, old, gvk, w.namespace, w.name, gvr, "", admission.Operation(w.Operation), nil, w.DryRun, &user.DefaultInfo{})
	w.attrs = &admission.VersionedAttributes{Attributes: attrs, VersionedKind: gvk,
		VersionedObject: admission.NewLazyObject(obj), VersionedOldObject: admission.NewLazyObject(old)}
	w.request = plugincel.CreateAdmissionRequest(attrs, metav1.GroupVersionResource(gvr), metav1.GroupVersionKind(gvk))
	if w.Info.Namespaced && w.namespace != "" {
		ns, err := store.Peek(w.tx, "Namespace", objects.Key{Name: w.namespace})
		switch {
		case err == nil:
			var out corev1.Namespace
			if err := convert(ns, &out); err != nil {
				return err
			}
			w.nsObject = plugincel.CreateNamespaceObject(&out)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	return nil
}

func gvkOf(info *objects.KindInfo) schema.GroupVersionKind {
	gv, _ := schema.ParseGroupVersion(info.APIVersion)
	return gv.WithKind(info.Kind)
}

// toUnstructured is obj as the JSON it is stored as, integers as int64,
// with its apiVersion and kind.
func toUnstructured(info *objects.KindInfo, obj objects.Object) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := convert(obj, &u.Object); err != nil {
		return nil, err
	}
	u.SetAPIVersion(info.APIVersion)
	u.SetKind(info.Kind)
	return u, nil
}

// convert copies in into out through JSON.
func convert(in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return k8sjson.Unmarshal(data, out)
}

// matches reports whether the write is among those m selects (a nil m:
// none), as Kubernetes' matching of rules, namespaces and labels does.
func (w *write) matches(m *objects.MatchResources) bool {
	if m == nil {
		return false
	}
	if !w.namespaceMatches(m.NamespaceSelector) || !w.objectMatches(m.ObjectSelector) {
		return false
	}
	if slices.ContainsFunc(m.ExcludeResourceRules, w.ruleMatches) {
		return false
	}
	// A binding's matchResources may name no rules: it then narrows by
	// its selectors alone. (A policy must name some.)
	return len(m.ResourceRules) == 0 || slices.ContainsFunc(m.ResourceRules, w.ruleMatches)
}

func (w *write) ruleMatches(r objects.NamedRuleWithOperations) bool {
	if len(r.ResourceNames) > 0 && !slices.Contains(r.ResourceNames, w.name) {
		return false
	}
	isNamespace := w.Info.Kind == "Namespace" && w.Info.APIVersion == "v1"
	if r.Scope != nil {
		switch *r.Scope {
		case objects.NamespacedScope:
			if isNamespace || w.namespace == "" {
				return false
			}
		case objects.ClusterScope:
			if !isNamespace && w.namespace != "" {
				return false
			}
		}
	}
	gvk := gvkOf(w.Info)
	if !slices.ContainsFunc(r.Operations, func(op objects.OperationType) bool {
		return op == objects.OperationAll || string(op) == w.Operation
	}) {
		return false
	}
	if !wildcardOr(r.APIGroups, gvk.Group) || !wildcardOr(r.APIVersions, gvk.Version) {
		return false
	}
	plural := storecore.Plural(w.Info.Kind)
	return slices.ContainsFunc(r.Resources, func(res string) bool {
		res, sub, _ := strings.Cut(res, "/")
		return (res == "*" || res == plural) && (sub == "*" || sub == "")
	})
}

func wildcardOr(items []string, v string) bool {
	return slices.Contains(items, "*") || slices.Contains(items, v)
}

// namespaceMatches: cluster-scoped objects always match; a Namespace is
// matched by its own labels; others by their namespace's.
func (w *write) namespaceMatches(sel *objects.LabelSelector) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return true
	}
	isNamespace := w.Info.Kind == "Namespace" && w.Info.APIVersion == "v1"
	if w.namespace == "" && !isNamespace {
		return true
	}
	s, err := objects.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	if isNamespace && w.Object != nil {
		return s.Matches(w.Object.GetObjectMeta().Labels)
	}
	ns, err := store.Peek(w.tx, "Namespace", objects.Key{Name: w.namespace})
	if err != nil {
		return false
	}
	return s.Matches(ns.GetObjectMeta().Labels)
}

// objectMatches: the object's labels or, for an update or a delete, its
// old object's.
func (w *write) objectMatches(sel *objects.LabelSelector) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return true
	}
	s, err := objects.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	for _, obj := range []objects.Object{w.Object, w.OldObject} {
		if obj != nil && s.Matches(obj.GetObjectMeta().Labels) {
			return true
		}
	}
	return false
}
