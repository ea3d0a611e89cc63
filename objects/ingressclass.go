package objects

import (
	"regexp"
	"strings"
)

// IngressClass names an Ingress controller that Ingresses may choose by
// spec.ingressClassName (networking.k8s.io/v1, cluster-scoped).
type IngressClass struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec IngressClassSpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (c *IngressClass) DeepCopyObject() Object { return c.DeepCopy() }

// AnnotationIsDefaultIngressClass set to "true" on an IngressClass makes it
// the class of Ingresses that name none.
const AnnotationIsDefaultIngressClass = "ingressclass.kubernetes.io/is-default-class"

// IngressClassSpec names the controller and its configuration.
type IngressClassSpec struct {
	// Controller is a domain-prefixed path such as "example.com/ingress";
	// immutable.
	Controller string                           `json:"controller,omitempty"`
	Parameters *IngressClassParametersReference `json:"parameters,omitempty"`
}

// IngressClassParametersReference points at an object holding the
// controller's configuration.
type IngressClassParametersReference struct {
	APIGroup *string `json:"apiGroup,omitempty"`
	Kind     string  `json:"kind"`
	Name     string  `json:"name"`
	// Scope is Cluster (the default) or Namespace.
	Scope     *string `json:"scope"`
	Namespace *string `json:"namespace,omitempty"`
}

// IngressClass parameter scopes.
const (
	IngressClassParametersReferenceScopeNamespace = "Namespace"
	IngressClassParametersReferenceScopeCluster   = "Cluster"
)

// Default fills in defaults as Kubernetes' SetDefaults_IngressClass does.
func (c *IngressClass) Default() {
	if c.Spec.Parameters != nil && c.Spec.Parameters.Scope == nil {
		c.Spec.Parameters.Scope = ptrTo(IngressClassParametersReferenceScopeCluster)
	}
}

const maxLenIngressClassController = 250

// Validate checks the spec as Kubernetes' ValidateIngressClass does.
func (c *IngressClass) Validate() ErrorList {
	p := NewPath("spec")
	var errs ErrorList
	cp := p.Child("controller")
	if len(c.Spec.Controller) > maxLenIngressClassController {
		errs = append(errs, TooLong(cp, c.Spec.Controller, maxLenIngressClassController))
	}
	errs = append(errs, validateDomainPrefixedPath(c.Spec.Controller, cp)...)
	if r := c.Spec.Parameters; r != nil {
		pp := p.Child("parameters")
		errs = append(errs, validateTypedLocalObjectReference(r.APIGroup, r.Kind, r.Name, pp)...)
		switch {
		case r.Scope == nil:
			errs = append(errs, Required(pp.Child("scope"), ""))
		case *r.Scope == IngressClassParametersReferenceScopeNamespace:
			if r.Namespace == nil {
				errs = append(errs, Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			} else {
				errs = appendMsgs(errs, pp.Child("namespace"), *r.Namespace, IsDNS1123Label(*r.Namespace))
			}
		case *r.Scope == IngressClassParametersReferenceScopeCluster:
			if r.Namespace != nil {
				errs = append(errs, Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		default:
			errs = append(errs, NotSupported(pp.Child("scope"), *r.Scope, []string{
				IngressClassParametersReferenceScopeCluster, IngressClassParametersReferenceScopeNamespace}))
		}
	}
	return errs
}

// ValidateUpdate rejects a changed controller.
func (c *IngressClass) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*IngressClass)
	if !ok {
		return ErrorList{wrongOldType(old, c)}
	}
	return validateImmutable(c.Spec.Controller, o.Spec.Controller, NewPath("spec", "controller"))
}

const httpPathFmt = `[A-Za-z0-9/\-._~%!$&'()*+,;=:]+`

var httpPathRe = regexp.MustCompile("^" + httpPathFmt + "$")

// validateDomainPrefixedPath checks a value such as "example.com/ingress".
func validateDomainPrefixedPath(v string, p *Path) ErrorList {
	if v == "" {
		return ErrorList{Required(p, "")}
	}
	host, path, ok := strings.Cut(v, "/")
	if !ok || host == "" || path == "" {
		return ErrorList{Invalid(p, v, `must be a domain-prefixed path (such as "acme.io/foo")`)}
	}
	errs := appendMsgs(nil, p, host, IsDNS1123Subdomain(host))
	if !httpPathRe.MatchString(path) {
		errs = append(errs, Invalid(p, path, "must be a valid path (regex used for validation is '"+httpPathFmt+"')"))
	}
	return errs
}
