package admissionpolicy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/cel-go/cel"
	celtypes "github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/traits"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8sjson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/mutation"
	"k8s.io/apiserver/pkg/cel/mutation/dynamic"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// The kinds of mutating policies.
const (
	KindMutatingPolicy  = "MutatingAdmissionPolicy"
	KindMutatingBinding = "MutatingAdmissionPolicyBinding"
)

var (
	jsonPatchList   = []*cel.Type{cel.ListType(celtypes.NewObjectType("JSONPatch"))}
	applyConfigType = []*cel.Type{celtypes.NewObjectType("Object")}
)

// mutatingProgram is a mutating policy's compiled expressions.
type mutatingProgram struct {
	err             error
	matchConditions plugincel.ConditionEvaluator // nil: none
	mutators        []plugincel.MutatingEvaluator
}

// compileMutating compiles a stored mutating policy.
func compileMutating(p *objects.MutatingAdmissionPolicy) *mutatingProgram {
	prog := &mutatingProgram{}
	c, err := plugincel.NewCompositedCompiler(baseEnvSet())
	if err != nil {
		prog.err = err
		return prog
	}
	mode := environment.StoredExpressions
	decl := mutatingDeclarations(p)
	storeVariables(c, p.Spec.Variables, decl, mode) // an error shows where one is read
	var errs []error
	if len(p.Spec.MatchConditions) > 0 {
		conds := make([]plugincel.ExpressionAccessor, len(p.Spec.MatchConditions))
		for i, m := range p.Spec.MatchConditions {
			conds[i] = &expression{m.Expression, boolType}
		}
		prog.matchConditions = c.CompileCondition(conds, decl, mode)
		errs = append(errs, prog.matchConditions.CompilationErrors()...)
	}
	for _, m := range p.Spec.Mutations {
		ev := c.CompileMutatingEvaluator(mutationExpression(&m), decl, mode)
		errs = append(errs, ev.CompilationErrors()...)
		prog.mutators = append(prog.mutators, ev)
	}
	if len(errs) > 0 {
		prog.err = fmt.Errorf("compilation errors: %w", errors.Join(errs...))
	}
	return prog
}

// mutatingDeclarations are the optional variables of a mutating policy's
// expressions: params with a paramKind, the authorizer, and the types
// Object and JSONPatch of the mutations.
func mutatingDeclarations(p *objects.MutatingAdmissionPolicy) plugincel.OptionalVariableDeclarations {
	return plugincel.OptionalVariableDeclarations{HasParams: p.Spec.ParamKind != nil, HasAuthorizer: true, HasPatchTypes: true}
}

func mutationExpression(m *objects.Mutation) *expression {
	switch {
	case m.PatchType == objects.PatchTypeJSONPatch && m.JSONPatch != nil:
		return &expression{m.JSONPatch.Expression, jsonPatchList}
	case m.ApplyConfiguration != nil:
		return &expression{m.ApplyConfiguration.Expression, applyConfigType}
	}
	return &expression{"", applyConfigType}
}

// CheckMutatingExpressions compiles a new or changed mutating policy's
// expressions, and returns an error for each that does not compile or is
// not of the type its field requires.
func CheckMutatingExpressions(p *objects.MutatingAdmissionPolicy) objects.ErrorList {
	c, err := plugincel.NewCompositedCompiler(baseEnvSet())
	if err != nil {
		return objects.ErrorList{objects.Invalid(objects.NewPath("spec"), "", err.Error())}
	}
	mode := environment.NewExpressions
	decl := mutatingDeclarations(p)
	spec := objects.NewPath("spec")
	errs := storeVariables(c, p.Spec.Variables, decl, mode)
	for i, m := range p.Spec.MatchConditions {
		if m.Expression == "" {
			continue
		}
		for _, err := range c.CompileCondition([]plugincel.ExpressionAccessor{&expression{m.Expression, boolType}}, decl, mode).CompilationErrors() {
			errs = append(errs, objects.Invalid(spec.Child("matchConditions").Index(i).Child("expression"), m.Expression, err.Error()))
		}
	}
	for i, m := range p.Spec.Mutations {
		x := mutationExpression(&m)
		if x.expr == "" {
			continue // the kind's validation requires it
		}
		field := "applyConfiguration"
		if m.PatchType == objects.PatchTypeJSONPatch {
			field = "jsonPatch"
		}
		for _, err := range c.CompileMutatingEvaluator(x, decl, mode).CompilationErrors() {
			errs = append(errs, objects.Invalid(spec.Child("mutations").Index(i).Child(field, "expression"), x.expr, err.Error()))
		}
	}
	return errs
}

// invocation is one policy applied with one parameter.
type invocation struct {
	p     *objects.MutatingAdmissionPolicy
	b     *objects.MutatingAdmissionPolicyBinding
	prog  *mutatingProgram
	param runtime.Object
}

// Mutate applies the mutating policies bound in tx to req's object, a
// create's or an update's, in the order of their bindings' names, each
// policy's mutations in order, each to the result of the one before; a
// policy with reinvocationPolicy IfNeeded is applied once more when a
// later one changed the object. It returns the mutated object (a new one,
// decoded strictly, so a mutation that adds an unknown field fails), or
// nil when nothing changed.
func (e *Evaluator) Mutate(ctx context.Context, tx store.ReadTx, req Request) (objects.Object, error) {
	if req.Object == nil || req.Info.Group() == group {
		return nil, nil
	}
	bindings, err := store.PeekList(tx, KindMutatingBinding, store.ListOptions{})
	if err != nil || len(bindings) == 0 {
		return nil, err
	}
	w := newWrite(req, tx)
	defer e.mutating.forget(bindings, func(b objects.Object) string {
		return b.(*objects.MutatingAdmissionPolicyBinding).Spec.PolicyName
	})
	var invocations []invocation
	for _, obj := range bindings {
		b := obj.(*objects.MutatingAdmissionPolicyBinding)
		pobj, err := store.Peek(tx, KindMutatingPolicy, objects.Key{Name: b.Spec.PolicyName})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p := pobj.(*objects.MutatingAdmissionPolicy)
		if !w.matches(p.Spec.MatchConstraints) || (b.Spec.MatchResources != nil && !w.matches(b.Spec.MatchResources)) {
			continue
		}
		fail := p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != objects.FailurePolicyIgnore
		prog := e.mutating.get(&p.ObjectMeta, func() *mutatingProgram { return compileMutating(p) })
		if prog.err != nil {
			if fail {
				return nil, denyMutation(p, b, fmt.Errorf("failed to configure policy: %w", prog.err))
			}
			continue
		}
		if err := w.prepare(); err != nil {
			return nil, err
		}
		params, err := e.params(w, p.Spec.ParamKind, b.Spec.ParamRef)
		if err != nil {
			if fail {
				return nil, denyMutation(p, b, fmt.Errorf("failed to configure binding: %w", err))
			}
			continue
		}
		for _, param := range params {
			invocations = append(invocations, invocation{p: p, b: b, prog: prog, param: param})
		}
	}
	if len(invocations) == 0 {
		return nil, nil
	}
	doc, err := json.Marshal(w.attrs.VersionedObject.Object())
	if err != nil {
		return nil, err
	}
	original := w.attrs.VersionedObject.Object().(*unstructured.Unstructured).Object
	st := &mutated{doc: doc, obj: original}
	lastChange := -1
	for i := range invocations {
		changed, err := e.invoke(ctx, w, &invocations[i], st)
		if err != nil {
			return nil, err
		}
		if changed {
			lastChange = i
		}
	}
	for i := range lastChange { // once more, those a later policy changed the object after
		if invocations[i].p.Spec.ReinvocationPolicy == objects.IfNeededReinvocationPolicy {
			if _, err := e.invoke(ctx, w, &invocations[i], st); err != nil {
				return nil, err
			}
		}
	}
	if lastChange < 0 || reflect.DeepEqual(st.obj, original) {
		return nil, nil
	}
	return st.typed, nil
}

// mutated is the object as the mutations so far left it: its JSON, that
// JSON unmarshalled (what CEL reads), and, once a mutation changed it,
// decoded into its kind.
type mutated struct {
	doc   []byte
	obj   map[string]any
	typed objects.Object
}

// decodeMutated decodes a mutated object strictly, and refuses a change
// of its kind, name or namespace.
func decodeMutated(req Request, doc []byte) (objects.Object, error) {
	out := req.Info.New()
	if err := objects.UnmarshalStrict(doc, out); err != nil {
		return nil, fmt.Errorf("the mutated object: %w", err)
	}
	was, is := req.Object.GetObjectMeta(), out.GetObjectMeta()
	if tm := out.GetTypeMeta(); tm.APIVersion != req.Info.APIVersion || tm.Kind != req.Info.Kind || is.Name != was.Name || is.GenerateName != was.GenerateName || is.Namespace != was.Namespace {
		return nil, errors.New("a mutation may not change the kind, name or namespace")
	}
	return out, nil
}

// invoke applies one invocation's mutations to st, and reports whether
// it changed it.
func (e *Evaluator) invoke(ctx context.Context, w *write, inv *invocation, st *mutated) (bool, error) {
	fail := inv.p.Spec.FailurePolicy == nil || *inv.p.Spec.FailurePolicy != objects.FailurePolicyIgnore
	vars := plugincel.OptionalVariableBindings{VersionedParams: inv.param, Authorizer: rbacAuthorizer{w.tx}}
	if inv.prog.matchConditions != nil {
		match, err := matchConditions(ctx, w, inv.prog.matchConditions, inv.p.Spec.MatchConditions, vars)
		if err != nil && fail {
			return false, denyMutation(inv.p, inv.b, err)
		}
		if err != nil || !match {
			return false, nil
		}
	}
	changed := false
	for i, ev := range inv.prog.mutators {
		next, err := e.mutateOnce(ctx, w, ev, &inv.p.Spec.Mutations[i], vars, st.doc)
		var typed objects.Object
		var obj map[string]any
		if err == nil {
			typed, err = decodeMutated(w.Request, next)
		}
		if err == nil {
			err = k8sjson.Unmarshal(next, &obj)
		}
		if err != nil {
			if fail {
				return false, denyMutation(inv.p, inv.b, err)
			}
			continue
		}
		if reflect.DeepEqual(obj, st.obj) { // the same, whatever the order of its keys
			continue
		}
		w.attrs.UpdateObject(&unstructured.Unstructured{Object: obj})
		st.doc, st.obj, st.typed, changed = next, obj, typed, true
	}
	return changed, nil
}

// mutateOnce evaluates one mutation and applies it to doc.
func (e *Evaluator) mutateOnce(ctx context.Context, w *write, ev plugincel.MutatingEvaluator, m *objects.Mutation, vars plugincel.OptionalVariableBindings, doc []byte) ([]byte, error) {
	r, _, err := ev.ForInput(ctx, w.attrs, w.request, vars, w.nsObject, celconfig.RuntimeCELCostBudget)
	if err == nil {
		err = r.Error
	}
	if err != nil {
		return nil, err
	}
	if m.PatchType == objects.PatchTypeJSONPatch {
		return applyJSONPatch(r.EvalResult, doc)
	}
	return applyConfiguration(w.Info, r.EvalResult, doc)
}

// applyJSONPatch applies a list of JSONPatch values, as Kubernetes does:
// a failed test operation leaves the object as it was.
func applyJSONPatch(v any, doc []byte) ([]byte, error) {
	list, ok := v.(traits.Lister)
	if !ok {
		return nil, errors.New("type mismatch: JSONPatchType.expression should evaluate to array")
	}
	var ops []map[string]json.RawMessage
	for it := list.Iterator(); it.HasNext() == celtypes.True; {
		native, err := it.Next().ConvertToNative(reflect.TypeFor[*mutation.JSONPatchVal]())
		if err != nil {
			return nil, fmt.Errorf("type mismatch: JSONPatchType.expression should evaluate to array of JSONPatch: %w", err)
		}
		p := native.(*mutation.JSONPatchVal)
		op := map[string]json.RawMessage{"op": json.RawMessage(strconv.Quote(p.Op)), "path": json.RawMessage(strconv.Quote(p.Path))}
		if p.From != "" {
			op["from"] = json.RawMessage(strconv.Quote(p.From))
		}
		if p.Val != nil {
			if o, ok := p.Val.(*dynamic.ObjectVal); ok {
				if err := o.CheckTypeNamesMatchFieldPathNames(); err != nil {
					return nil, fmt.Errorf("type mismatch: %w", err)
				}
			}
			pv, err := p.Val.ConvertToNative(reflect.TypeFor[*structpb.Value]())
			if err != nil {
				return nil, fmt.Errorf("JSONPatch value could not marshal to JSON: %w", err)
			}
			b, err := json.Marshal(pv)
			if err != nil {
				return nil, fmt.Errorf("JSONPatch value could not marshal to JSON: %w", err)
			}
			op["value"] = b
		}
		ops = append(ops, op)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	patch, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, fmt.Errorf("JSON Patch: %w", err)
	}
	out, err := patch.Apply(doc)
	if errors.Is(err, jsonpatch.ErrTestFailed) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("JSON Patch: %w", err)
	}
	return out, nil
}

// applyConfiguration merges an Object{...} value into doc as server-side
// apply merges an applied configuration: maps field by field; the lists
// Kubernetes merges by key (containers by name, ports by port...), known
// here by the kind's Go type, item by item, the object's own items first
// and new ones after; other lists and values replaced.
func applyConfiguration(info *objects.KindInfo, v any, doc []byte) ([]byte, error) {
	o, ok := v.(*dynamic.ObjectVal)
	if !ok {
		return nil, fmt.Errorf("unsupported return type from ApplyConfiguration expression: %T", v)
	}
	if err := o.CheckTypeNamesMatchFieldPathNames(); err != nil {
		return nil, fmt.Errorf("type mismatch: %w", err)
	}
	raw, err := json.Marshal(o.Value())
	if err != nil {
		return nil, fmt.Errorf("error applying patch: %w", err)
	}
	var live, applied map[string]any
	if err := k8sjson.Unmarshal(doc, &live); err != nil {
		return nil, err
	}
	if err := k8sjson.Unmarshal(raw, &applied); err != nil {
		return nil, err
	}
	meta, err := strategicpatch.NewPatchMetaFromStruct(info.New())
	if err != nil {
		return nil, err
	}
	merged, err := mergeMap(live, applied, meta)
	if err != nil {
		return nil, fmt.Errorf("error applying patch: %w", err)
	}
	return json.Marshal(merged)
}

func mergeMap(live, applied map[string]any, meta strategicpatch.LookupPatchMeta) (map[string]any, error) {
	out := make(map[string]any, len(live)+len(applied))
	maps.Copy(out, live)
	for k, av := range applied {
		switch av := av.(type) {
		case map[string]any:
			lv, _ := live[k].(map[string]any)
			var sub strategicpatch.LookupPatchMeta
			if meta != nil {
				// Not found for the values of a map field (labels...) and
				// unknown fields, which strict decoding refuses.
				sub, _, _ = meta.LookupPatchMetadataForStruct(k)
			}
			m, err := mergeMap(lv, av, sub)
			if err != nil {
				return nil, err
			}
			out[k] = m
		case []any:
			lv, _ := live[k].([]any)
			l, err := mergeList(lv, av, k, meta)
			if err != nil {
				return nil, err
			}
			out[k] = l
		default:
			out[k] = av
		}
	}
	return out, nil
}

// mergeList merges the lists of field key: by their items' merge key when
// the kind merges them by key, else the applied list replaces the live one.
func mergeList(live, applied []any, key string, meta strategicpatch.LookupPatchMeta) ([]any, error) {
	if meta == nil {
		return applied, nil
	}
	sub, pm, err := meta.LookupPatchMetadataForSlice(key)
	mergeKey := pm.GetPatchMergeKey()
	if err != nil || mergeKey == "" || !slices.Contains(pm.GetPatchStrategies(), "merge") {
		return applied, nil
	}
	keyOf := func(item any) (any, bool) {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, false
		}
		k, ok := m[mergeKey]
		return k, ok
	}
	index := make(map[any]int, len(applied))
	for i, item := range applied {
		k, ok := keyOf(item)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: the merge key %q is required", key, i, mergeKey)
		}
		index[k] = i
	}
	out := make([]any, 0, len(live)+len(applied))
	used := make([]bool, len(applied))
	for _, item := range live {
		k, ok := keyOf(item)
		i, shared := index[k]
		if !ok || !shared {
			out = append(out, item)
			continue
		}
		lm, _ := item.(map[string]any)
		m, err := mergeMap(lm, applied[i].(map[string]any), sub)
		if err != nil {
			return nil, err
		}
		out, used[i] = append(out, m), true
	}
	for i, item := range applied {
		if !used[i] {
			out = append(out, item)
		}
	}
	return out, nil
}

// denyMutation words a mutating policy's failure as Kubernetes does.
func denyMutation(p *objects.MutatingAdmissionPolicy, b *objects.MutatingAdmissionPolicyBinding, err error) error {
	return &DeniedError{Policy: p.Name, Binding: b.Name, Message: err.Error(), Reason: objects.ReasonInvalid, sentinel: objects.ErrInvalid, mutating: true}
}
