package rbac

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Kinds the authorizer reads.
const (
	kindRole               = "Role"
	kindClusterRole        = "ClusterRole"
	kindRoleBinding        = "RoleBinding"
	kindClusterRoleBinding = "ClusterRoleBinding"
)

// ErrInvalidRequest is wrapped by the error of a request Authorize cannot
// evaluate: no verb, or both a resource and a non-resource URL.
var ErrInvalidRequest = errors.New("invalid authorization request")

// Request is what a user asks to do, in Kubernetes' terms: a verb on a
// resource (APIGroup, Resource, Subresource, optional Name, in Namespace,
// or at the cluster scope when Namespace is empty), or a verb on a
// non-resource URL.
type Request struct {
	// User is who asks.
	User UserInfo
	// Verb is "get", "list", "watch", "create", "update", "patch",
	// "delete", "deletecollection", or any verb the host defines.
	Verb string
	// APIGroup is the resource's API group: "" for the core group
	// (pods), "apps" for deployments.
	APIGroup string
	// Resource is the plural resource name: "pods", "deployments".
	Resource string
	// Subresource is "log", "status", "scale", ... or empty.
	Subresource string
	// Name is the object's name; empty for list, watch, create and
	// deletecollection, which rules with resourceNames then do not allow.
	Name string
	// Namespace is the object's namespace; empty for cluster-scoped
	// resources and for requests across all namespaces, which only
	// ClusterRoleBindings grant.
	Namespace string
	// NonResourceURL, when set, makes the request a non-resource request
	// ("/healthz", "/metrics"): only the verb and the URL are matched, and
	// the resource fields must be empty.
	NonResourceURL string
}

// IsResourceRequest reports whether r asks for a resource rather than a
// non-resource URL.
func (r *Request) IsResourceRequest() bool { return r.NonResourceURL == "" }

func (r *Request) validate() error {
	if r.Verb == "" {
		return fmt.Errorf("%w: verb is required", ErrInvalidRequest)
	}
	if !r.IsResourceRequest() && (r.APIGroup != "" || r.Resource != "" || r.Subresource != "" || r.Name != "" || r.Namespace != "") {
		return fmt.Errorf("%w: a non-resource URL request has no apiGroup, resource, subresource, name or namespace", ErrInvalidRequest)
	}
	return nil
}

// Decision is the answer to a Request.
type Decision struct {
	// Allowed is true when a binding grants the request.
	Allowed bool
	// Reason names what allowed the request, as Kubernetes' RBAC
	// authorizer does: `RBAC: allowed by RoleBinding "read/default" of Role
	// "reader" to User "jane"`. When the request is denied, it says what
	// was refused as Kubernetes' Forbidden error does (`User "jane" cannot
	// list resource "pods" in API group "" in the namespace "default"`),
	// followed by the bindings that could not be evaluated, such as one
	// naming a role that does not exist.
	Reason string
}

// Authorizer decides requests by the Roles, ClusterRoles, RoleBindings and
// ClusterRoleBindings in a store, as Kubernetes' RBAC authorizer does.
// podkit serves no API, so nothing inside podkit asks it: it is for a
// host program to authorize its own users' requests.
//
// An Authorizer is safe for concurrent use and holds no state of its own:
// each call reads one consistent snapshot of the store, so it sees every
// write committed before it. A call costs time linear in the number of
// ClusterRoleBindings plus the RoleBindings of the request's namespace.
type Authorizer struct {
	store store.Store
}

// New returns an authorizer reading the RBAC objects of s.
func New(s store.Store) *Authorizer { return &Authorizer{store: s} }

// Authorize decides req: allowed when a rule of a role bound to the user
// (by name, by one of its groups, or as a ServiceAccount) matches it; a
// ClusterRoleBinding grants in every namespace and at the cluster scope,
// a RoleBinding only in its own namespace, whether it names a Role or a
// ClusterRole. There are no deny rules. The error is for a request that
// cannot be evaluated (ErrInvalidRequest) or a store that cannot be read;
// a denial is not an error.
func (a *Authorizer) Authorize(ctx context.Context, req Request) (Decision, error) {
	var d Decision
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		var err error
		d, err = AuthorizeIn(tx, req)
		return err
	})
	return d, err
}

// AuthorizeIn decides req as Authorize does, by the RBAC objects tx reads:
// within a write's transaction, by those the write commits with.
func AuthorizeIn(tx store.ReadTx, req Request) (Decision, error) {
	if err := req.validate(); err != nil {
		return Decision{}, err
	}
	user := authenticated(req.User)
	var d Decision
	evalErrs, err := visitRules(tx, user, req.Namespace, func(src *source, rule *objects.PolicyRule) bool {
		if RuleAllows(&req, rule) {
			d = Decision{Allowed: true, Reason: "RBAC: allowed by " + src.String()}
			return false
		}
		return true
	})
	if err != nil {
		return Decision{}, fmt.Errorf("rbac: authorize: %w", err)
	}
	if d.Allowed {
		return d, nil
	}
	d.Reason = forbiddenMessage(&req)
	if len(evalErrs) > 0 {
		d.Reason += ": RBAC: " + aggregate(evalErrs)
	}
	return d, nil
}

// RulesReview lists the rules a user has, as Kubernetes'
// SelfSubjectRulesReview (`kubectl auth can-i --list`) does.
type RulesReview struct {
	// Rules are the rules of every role bound to the user that applies in
	// the namespace, as the roles hold them, in the order Authorize looks
	// at them: ClusterRoleBindings first, then the namespace's
	// RoleBindings, each by name.
	Rules []objects.PolicyRule
	// Incomplete is true when some binding could not be evaluated;
	// EvaluationError says which.
	Incomplete      bool
	EvaluationError string
}

// RulesFor returns the rules user has in namespace (with an empty
// namespace, only those of ClusterRoleBindings), for a host to show what a
// user may do. Deciding a request is Authorize's work: a rule listed here
// may be narrower than it looks (resourceNames).
func (a *Authorizer) RulesFor(ctx context.Context, user UserInfo, namespace string) (RulesReview, error) {
	user = authenticated(user)
	var r RulesReview
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		r = RulesReview{}
		evalErrs, err := visitRules(tx, user, namespace, func(_ *source, rule *objects.PolicyRule) bool {
			r.Rules = append(r.Rules, *rule.DeepCopy())
			return true
		})
		if len(evalErrs) > 0 {
			r.Incomplete, r.EvaluationError = true, aggregate(evalErrs)
		}
		return err
	})
	if err != nil {
		return RulesReview{}, fmt.Errorf("rbac: rules for %q: %w", user.Name, err)
	}
	return r, nil
}

// source is where a rule comes from: a binding, the role it names, and the
// subject of the binding that applied to the user.
type source struct {
	bindingKind, bindingName, bindingNamespace string
	roleRef                                    *objects.RoleRef
	subject                                    *objects.Subject
}

// String describes the source as Kubernetes' RBAC authorizer does.
func (s *source) String() string {
	name := s.bindingName
	if s.bindingNamespace != "" {
		name += "/" + s.bindingNamespace
	}
	return fmt.Sprintf("%s %q of %s %q to %s", s.bindingKind, name, s.roleRef.Kind, s.roleRef.Name, describeSubject(s.subject, s.bindingNamespace))
}

func describeSubject(s *objects.Subject, bindingNamespace string) string {
	if s.Kind != objects.ServiceAccountKind {
		return fmt.Sprintf("%s %q", s.Kind, s.Name)
	}
	ns := s.Namespace
	if ns == "" {
		ns = bindingNamespace
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
}

// visitRules calls fn with every rule granted to user in namespace, until
// fn returns false, as Kubernetes' VisitRulesFor: the rules of the
// ClusterRoleBindings that apply to the user, then, for a namespace, those
// of its RoleBindings. It returns the bindings it could not evaluate (a
// role that does not exist), and a store error, which ends the visit.
func visitRules(tx store.ReadTx, user UserInfo, namespace string, fn func(*source, *objects.PolicyRule) bool) (evalErrs []error, err error) {
	crbs, err := store.PeekList(tx, kindClusterRoleBinding, store.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, o := range crbs {
		b := o.(*objects.ClusterRoleBinding)
		i, ok := appliesTo(user, b.Subjects, "")
		if !ok {
			continue
		}
		rules, problem, err := roleRules(tx, &b.RoleRef, "")
		if err != nil {
			return nil, err
		}
		if problem != nil {
			evalErrs = append(evalErrs, problem)
			continue
		}
		src := &source{bindingKind: kindClusterRoleBinding, bindingName: b.Name, roleRef: &b.RoleRef, subject: &b.Subjects[i]}
		for j := range rules {
			if !fn(src, &rules[j]) {
				return evalErrs, nil
			}
		}
	}
	if namespace == "" {
		return evalErrs, nil
	}
	rbs, err := store.PeekList(tx, kindRoleBinding, store.ListOptions{Namespace: namespace})
	if err != nil {
		return nil, err
	}
	for _, o := range rbs {
		b := o.(*objects.RoleBinding)
		i, ok := appliesTo(user, b.Subjects, namespace)
		if !ok {
			continue
		}
		rules, problem, err := roleRules(tx, &b.RoleRef, namespace)
		if err != nil {
			return nil, err
		}
		if problem != nil {
			evalErrs = append(evalErrs, problem)
			continue
		}
		src := &source{bindingKind: kindRoleBinding, bindingName: b.Name, bindingNamespace: b.Namespace, roleRef: &b.RoleRef, subject: &b.Subjects[i]}
		for j := range rules {
			if !fn(src, &rules[j]) {
				return evalErrs, nil
			}
		}
	}
	return evalErrs, nil
}

// roleRules returns the rules of the role ref names, a Role of namespace
// or a ClusterRole; the rules are the store's own and must not be
// modified. A role that does not exist is a problem worded as Kubernetes'
// ("role.rbac.authorization.k8s.io "x" not found"); err is the store's.
func roleRules(tx store.ReadTx, ref *objects.RoleRef, namespace string) (rules []objects.PolicyRule, problem, err error) {
	key := objects.Key{Name: ref.Name}
	switch ref.Kind {
	case kindRole:
		key.Namespace = namespace
	case kindClusterRole:
	default:
		return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind), nil
	}
	obj, err := store.Peek(tx, ref.Kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s.%s %q not found", strings.ToLower(ref.Kind), objects.RBACGroupName, ref.Name), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if r, ok := obj.(*objects.Role); ok {
		return r.Rules, nil, nil
	}
	return obj.(*objects.ClusterRole).Rules, nil, nil
}

// appliesTo returns the index of the first subject that is user, as
// Kubernetes' appliesTo; namespace is a RoleBinding's, the namespace of
// its ServiceAccount subjects that name none.
func appliesTo(user UserInfo, subjects []objects.Subject, namespace string) (int, bool) {
	for i := range subjects {
		if appliesToUser(user, &subjects[i], namespace) {
			return i, true
		}
	}
	return 0, false
}

func appliesToUser(user UserInfo, s *objects.Subject, namespace string) bool {
	switch s.Kind {
	case objects.UserKind:
		return user.Name == s.Name
	case objects.GroupKind:
		for _, g := range user.Groups {
			if g == s.Name {
				return true
			}
		}
		return false
	case objects.ServiceAccountKind:
		ns := namespace
		if s.Namespace != "" {
			ns = s.Namespace
		}
		return ns != "" && user.Name == ServiceAccountUsername(ns, s.Name)
	}
	return false
}

// forbiddenMessage words a denied request as kube-apiserver's Forbidden
// error does.
func forbiddenMessage(r *Request) string {
	if !r.IsResourceRequest() {
		return fmt.Sprintf("User %q cannot %s path %q", r.User.Name, r.Verb, r.NonResourceURL)
	}
	res := r.Resource
	if r.Subresource != "" {
		res += "/" + r.Subresource
	}
	if r.Namespace != "" {
		return fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", r.User.Name, r.Verb, res, r.APIGroup, r.Namespace)
	}
	return fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", r.User.Name, r.Verb, res, r.APIGroup)
}

// aggregate joins errors as Kubernetes' utilerrors.Aggregate prints them.
func aggregate(errs []error) string {
	if len(errs) == 1 {
		return errs[0].Error()
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return "[" + strings.Join(msgs, ", ") + "]"
}
