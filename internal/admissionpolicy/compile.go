// Package admissionpolicy applies ValidatingAdmissionPolicies, Kubernetes'
// admission validation in CEL, to the writes of an orchestrator: which
// bindings and policies match a write, the parameters a binding names,
// and what the expressions decide.
//
// The expressions are compiled and evaluated by k8s.io/apiserver's
// admission CEL package, the one kube-apiserver uses: the same CEL
// libraries (quantities, URLs, IPs, CIDRs, regular expressions, lists,
// formats...), the same variables (object, oldObject, request, params,
// namespaceObject, variables) and the same cost limits. The objects are
// given to CEL without their OpenAPI schemas (as kube-apiserver does for
// kinds it has no schema for): a field is read as the JSON value it is
// stored as, and there is no type checking against the kinds' schemas.
// The authorizer variable checks by the RBAC objects of the write's
// transaction (rbac.AuthorizeIn); the writes podkit admits have no user,
// so a check of the requester's own rights (authorizer.requestResource, or
// authorizer without serviceAccount) finds none, while
// authorizer.serviceAccount(namespace, name) checks that account's.
package admissionpolicy

import (
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/podkit/podkit/objects"
)

// expression is a CEL expression and the types it may evaluate to, as
// plugincel compiles it.
type expression struct {
	expr    string
	returns []*cel.Type
}

func (e *expression) GetExpression() string    { return e.expr }
func (e *expression) ReturnTypes() []*cel.Type { return e.returns }

// variable is a policy's named expression.
type variable struct {
	expression
	name string
}

func (v *variable) GetName() string { return v.name }

var (
	boolType      = []*cel.Type{cel.BoolType}
	stringType    = []*cel.Type{cel.StringType}
	stringOrNull  = []*cel.Type{cel.StringType, cel.NullType}
	anyType       = []*cel.Type{cel.AnyType, cel.DynType}
	baseEnvSetMu  sync.Mutex
	baseEnvSetVal *environment.EnvSet
)

// baseEnvSet is Kubernetes' CEL environment at the version podkit follows.
func baseEnvSet() *environment.EnvSet {
	baseEnvSetMu.Lock()
	defer baseEnvSetMu.Unlock()
	if baseEnvSetVal == nil {
		baseEnvSetVal = environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion())
	}
	return baseEnvSetVal
}

// program is a policy's compiled expressions.
type program struct {
	// err is a compilation error: the policy cannot be applied, and its
	// failurePolicy decides.
	err error

	matchConditions plugincel.ConditionEvaluator // nil: none
	validations     plugincel.ConditionEvaluator
	messages        plugincel.ConditionEvaluator
	audits          plugincel.ConditionEvaluator
}

// compile compiles a stored policy, as kube-apiserver does the policies
// it serves (the stored-expressions environment).
func compile(p *objects.ValidatingAdmissionPolicy) *program {
	prog := &program{}
	c, err := plugincel.NewCompositedCompiler(baseEnvSet())
	if err != nil {
		prog.err = err
		return prog
	}
	mode := environment.StoredExpressions
	decl, messageDecl := declarations(p)
	storeVariables(c, p.Spec.Variables, decl, mode) // an error shows where one is read
	var validations, messages, audits, conds []plugincel.ExpressionAccessor
	for _, v := range p.Spec.Validations {
		validations = append(validations, &expression{v.Expression, boolType})
		messages = append(messages, &expression{v.MessageExpression, stringType})
	}
	for _, a := range p.Spec.AuditAnnotations {
		audits = append(audits, &expression{a.ValueExpression, stringOrNull})
	}
	for _, m := range p.Spec.MatchConditions {
		conds = append(conds, &expression{m.Expression, boolType})
	}
	prog.validations = c.CompileCondition(validations, decl, mode)
	prog.messages = c.CompileCondition(messages, messageDecl, mode)
	prog.audits = c.CompileCondition(audits, decl, mode)
	if len(conds) > 0 {
		prog.matchConditions = c.CompileCondition(conds, decl, mode)
	}
	var errs []string
	for _, ev := range []plugincel.ConditionEvaluator{prog.validations, prog.audits, prog.matchConditions} {
		if ev == nil {
			continue
		}
		for _, err := range ev.CompilationErrors() {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		prog.err = fmt.Errorf("compilation errors: %s", strings.Join(errs, "; "))
	}
	return prog
}

// storeVariables compiles a policy's variables into c, in order (each may
// read those before it), and returns an error for each that does not
// compile.
func storeVariables(c *plugincel.CompositedCompiler, vars []objects.Variable, decl plugincel.OptionalVariableDeclarations, mode environment.Type) objects.ErrorList {
	var errs objects.ErrorList
	for i, v := range vars {
		r := c.CompileAndStoreVariable(&variable{expression{v.Expression, anyType}, v.Name}, decl, mode)
		if r.Error != nil && strings.TrimSpace(v.Expression) != "" {
			errs = append(errs, objects.Invalid(objects.NewPath("spec", "variables").Index(i).Child("expression"), v.Expression, r.Error.Error()))
		}
	}
	return errs
}

// declarations are the optional variables of a policy's expressions, as
// Kubernetes declares them: params with a paramKind; authorizer for all
// but the messageExpressions.
func declarations(p *objects.ValidatingAdmissionPolicy) (exprs, messages plugincel.OptionalVariableDeclarations) {
	hasParams := p.Spec.ParamKind != nil
	return plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true},
		plugincel.OptionalVariableDeclarations{HasParams: hasParams}
}

// CheckExpressions compiles a new or changed policy's expressions, as
// Kubernetes' validation of the kind does, and returns an error for each
// that does not compile or is not of the type its field requires.
func CheckExpressions(p *objects.ValidatingAdmissionPolicy) objects.ErrorList {
	c, err := plugincel.NewCompositedCompiler(baseEnvSet())
	if err != nil {
		return objects.ErrorList{objects.Invalid(objects.NewPath("spec"), "", err.Error())}
	}
	mode := environment.NewExpressions
	decl, messageDecl := declarations(p)
	spec := objects.NewPath("spec")
	var errs objects.ErrorList
	check := func(path *objects.Path, expr string, returns []*cel.Type, decl plugincel.OptionalVariableDeclarations) {
		if strings.TrimSpace(expr) == "" {
			return // required or optional: the kind's validation says which
		}
		for _, err := range c.CompileCondition([]plugincel.ExpressionAccessor{&expression{expr, returns}}, decl, mode).CompilationErrors() {
			errs = append(errs, objects.Invalid(path, expr, err.Error()))
		}
	}
	errs = append(errs, storeVariables(c, p.Spec.Variables, decl, mode)...)
	for i, m := range p.Spec.MatchConditions {
		check(spec.Child("matchConditions").Index(i).Child("expression"), m.Expression, boolType, decl)
	}
	for i, v := range p.Spec.Validations {
		vp := spec.Child("validations").Index(i)
		check(vp.Child("expression"), v.Expression, boolType, decl)
		check(vp.Child("messageExpression"), v.MessageExpression, stringType, messageDecl)
	}
	for i, a := range p.Spec.AuditAnnotations {
		check(spec.Child("auditAnnotations").Index(i).Child("valueExpression"), a.ValueExpression, stringOrNull, decl)
	}
	return errs
}

// cache keeps the programs of the policies in use, by name, as long as
// their uid and resourceVersion are those stored.
type cache[T any] struct {
	mu       sync.Mutex
	programs map[string]cached[T]
}

type cached[T any] struct {
	uid, resourceVersion string
	prog                 T
}

// get returns the program of the policy with meta, compiling it when the
// policy is new or has changed.
func (c *cache[T]) get(meta *objects.ObjectMeta, compile func() T) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.programs[meta.Name]; ok && e.uid == meta.UID && e.resourceVersion == meta.ResourceVersion {
		return e.prog
	}
	prog := compile()
	if c.programs == nil {
		c.programs = make(map[string]cached[T])
	}
	c.programs[meta.Name] = cached[T]{meta.UID, meta.ResourceVersion, prog}
	return prog
}

// forget drops the programs of policies none of bindings names, when
// there are more programs than bindings, so that deleted policies do not
// stay compiled.
func (c *cache[T]) forget(bindings []objects.Object, policyName func(objects.Object) string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.programs) <= len(bindings) {
		return
	}
	keep := make(map[string]bool, len(bindings))
	for _, b := range bindings {
		keep[policyName(b)] = true
	}
	for name := range c.programs {
		if !keep[name] {
			delete(c.programs, name)
		}
	}
}
