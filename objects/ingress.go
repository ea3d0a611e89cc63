package objects

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Ingress routes HTTP(S) requests by host and path to Services
// (networking.k8s.io/v1).
type Ingress struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   IngressSpec   `json:"spec,omitempty"`
	Status IngressStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (i *Ingress) DeepCopyObject() Object { return i.DeepCopy() }

// PrepareForCreate implements store.CreatePreparer: a new Ingress has no
// status, whatever was sent, as Kubernetes' strategy clears it.
func (i *Ingress) PrepareForCreate() { i.Status = IngressStatus{} }

// IngressSpec is the desired routing of an Ingress.
type IngressSpec struct {
	// IngressClassName names the IngressClass whose controller serves this
	// Ingress; when unset, the default class (if any) does.
	IngressClassName *string `json:"ingressClassName,omitempty"`
	// DefaultBackend serves requests no rule matches.
	DefaultBackend *IngressBackend `json:"defaultBackend,omitempty"`
	TLS            []IngressTLS    `json:"tls,omitempty"`
	Rules          []IngressRule   `json:"rules,omitempty"`
}

// IngressTLS terminates TLS for hosts with the certificate of a
// kubernetes.io/tls Secret.
type IngressTLS struct {
	Hosts      []string `json:"hosts,omitempty"`
	SecretName string   `json:"secretName,omitempty"`
}

// IngressStatus is the observed state of an Ingress.
type IngressStatus struct {
	LoadBalancer IngressLoadBalancerStatus `json:"loadBalancer,omitempty"`
}

// IngressLoadBalancerStatus lists where the Ingress can be reached.
type IngressLoadBalancerStatus struct {
	Ingress []IngressLoadBalancerIngress `json:"ingress,omitempty"`
}

// IngressLoadBalancerIngress is one address of the Ingress's load balancer.
type IngressLoadBalancerIngress struct {
	IP       string              `json:"ip,omitempty"`
	Hostname string              `json:"hostname,omitempty"`
	Ports    []IngressPortStatus `json:"ports,omitempty"`
}

// IngressPortStatus is the state of one port of the load balancer.
type IngressPortStatus struct {
	Port     int32    `json:"port"`
	Protocol Protocol `json:"protocol"`
	Error    *string  `json:"error,omitempty"`
}

// IngressRule routes the requests for one host (all hosts when empty).
type IngressRule struct {
	// Host is a DNS name, or a wildcard "*.example.com" matching one label.
	Host             string `json:"host,omitempty"`
	IngressRuleValue `json:",inline"`
}

// IngressRuleValue holds the rule's routes; only HTTP exists.
type IngressRuleValue struct {
	HTTP *HTTPIngressRuleValue `json:"http,omitempty"`
}

// HTTPIngressRuleValue lists the paths of a rule.
type HTTPIngressRuleValue struct {
	Paths []HTTPIngressPath `json:"paths"`
}

// PathType says how an Ingress path is matched.
type PathType string

// Path types.
const (
	// PathTypeExact matches the URL path exactly, case-sensitively.
	PathTypeExact PathType = "Exact"
	// PathTypePrefix matches a prefix of the URL path split by '/', element
	// by element: /foo matches /foo and /foo/bar, not /foobar.
	PathTypePrefix PathType = "Prefix"
	// PathTypeImplementationSpecific is left to the controller; podkit's
	// treats it as Prefix.
	PathTypeImplementationSpecific PathType = "ImplementationSpecific"
)

// HTTPIngressPath routes a path to a backend. PathType is required.
type HTTPIngressPath struct {
	Path     string         `json:"path,omitempty"`
	PathType *PathType      `json:"pathType"`
	Backend  IngressBackend `json:"backend"`
}

// IngressBackend is where matching requests go: a Service port, or a
// resource of another kind.
type IngressBackend struct {
	Service  *IngressServiceBackend     `json:"service,omitempty"`
	Resource *TypedLocalObjectReference `json:"resource,omitempty"`
}

// TypedLocalObjectReference names an object of any kind in the same
// namespace (v1). APIGroup is empty for the core group.
type TypedLocalObjectReference struct {
	APIGroup *string `json:"apiGroup"`
	Kind     string  `json:"kind"`
	Name     string  `json:"name"`
}

// IngressServiceBackend names a Service in the Ingress's namespace and one
// of its ports.
type IngressServiceBackend struct {
	Name string             `json:"name"`
	Port ServiceBackendPort `json:"port,omitempty"`
}

// ServiceBackendPort is a Service port by name or by number, not both.
type ServiceBackendPort struct {
	Name   string `json:"name,omitempty"`
	Number int32  `json:"number,omitempty"`
}

// Validate checks the spec as Kubernetes' ValidateIngressSpec does. No
// field of an Ingress is immutable.
func (i *Ingress) Validate() ErrorList {
	s := &i.Spec
	p := NewPath("spec")
	var errs ErrorList
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		errs = append(errs, Invalid(p, "", "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(s.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for ri, r := range s.Rules {
		rp := p.Child("rules").Index(ri)
		if r.Host != "" {
			hp := rp.Child("host")
			if net.ParseIP(r.Host) != nil {
				errs = append(errs, Invalid(hp, r.Host, "must be a DNS name, not an IP address"))
			}
			if strings.Contains(r.Host, "*") {
				errs = appendMsgs(errs, hp, r.Host, isWildcardDNS1123Subdomain(r.Host))
			} else {
				errs = appendMsgs(errs, hp, r.Host, IsDNS1123Subdomain(r.Host))
			}
		}
		if r.HTTP != nil {
			errs = append(errs, validateHTTPIngressRuleValue(r.HTTP, rp.Child("http"))...)
		}
	}
	for ti, t := range s.TLS {
		tp := p.Child("tls").Index(ti)
		for hi, h := range t.Hosts {
			if strings.Contains(h, "*") {
				errs = appendMsgs(errs, tp.Child("hosts").Index(hi), h, isWildcardDNS1123Subdomain(h))
			} else {
				errs = appendMsgs(errs, tp.Child("hosts").Index(hi), h, IsDNS1123Subdomain(h))
			}
		}
		if t.SecretName != "" {
			errs = appendMsgs(errs, tp.Child("secretName"), t.SecretName, IsDNS1123Subdomain(t.SecretName))
		}
	}
	if s.IngressClassName != nil {
		errs = appendMsgs(errs, p.Child("ingressClassName"), *s.IngressClassName, IsDNS1123Subdomain(*s.IngressClassName))
	}
	return errs
}

var (
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

func validateHTTPIngressRuleValue(h *HTTPIngressRuleValue, p *Path) ErrorList {
	var errs ErrorList
	if len(h.Paths) == 0 {
		errs = append(errs, Required(p.Child("paths"), ""))
	}
	for i := range h.Paths {
		errs = append(errs, validateHTTPIngressPath(&h.Paths[i], p.Child("paths").Index(i))...)
	}
	return errs
}

func validateHTTPIngressPath(hp *HTTPIngressPath, p *Path) ErrorList {
	if hp.PathType == nil {
		return ErrorList{Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs ErrorList
	pp := p.Child("path")
	switch *hp.PathType {
	case PathTypeExact, PathTypePrefix:
		if !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, Invalid(pp, hp.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(hp.Path, seq) {
				errs = append(errs, Invalid(pp, hp.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suf := range invalidPathSuffixes {
			if strings.HasSuffix(hp.Path, suf) {
				errs = append(errs, Invalid(pp, hp.Path, fmt.Sprintf("cannot end with '%s'", suf)))
			}
		}
	case PathTypeImplementationSpecific:
		if hp.Path != "" && !strings.HasPrefix(hp.Path, "/") {
			errs = append(errs, Invalid(pp, hp.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, NotSupported(p.Child("pathType"), string(*hp.PathType), []string{
			string(PathTypeExact), string(PathTypeImplementationSpecific), string(PathTypePrefix)}))
	}
	return append(errs, validateIngressBackend(&hp.Backend, p.Child("backend"))...)
}

func validateIngressBackend(b *IngressBackend, p *Path) ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return ErrorList{Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return validateTypedLocalObjectReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, p.Child("resource"))
	case b.Service == nil:
		return ErrorList{Invalid(p, "", "resource or service backend is required")}
	}
	var errs ErrorList
	sp := p.Child("service")
	if b.Service.Name == "" {
		errs = append(errs, Required(sp.Child("name"), ""))
	} else {
		errs = appendMsgs(errs, sp.Child("name"), b.Service.Name, IsDNS1035Label(b.Service.Name))
	}
	port := b.Service.Port
	switch {
	case port.Name != "" && port.Number != 0:
		errs = append(errs, Invalid(p, "", "cannot set both port name & port number"))
	case port.Name != "":
		errs = appendMsgs(errs, sp.Child("port", "name"), port.Name, IsValidPortName(port.Name))
	case port.Number != 0:
		for _, m := range IsValidPortNum(int(port.Number)) {
			errs = append(errs, Invalid(sp.Child("port", "number"), port.Number, m))
		}
	default:
		errs = append(errs, Required(p, "port name or number is required"))
	}
	return errs
}

// validateTypedLocalObjectReference checks a reference to an object of
// another kind, as Kubernetes checks Ingress resource backends and
// IngressClass parameters.
func validateTypedLocalObjectReference(apiGroup *string, kind, name string, p *Path) ErrorList {
	var errs ErrorList
	if apiGroup != nil {
		errs = appendMsgs(errs, p.Child("apiGroup"), *apiGroup, IsDNS1123Subdomain(*apiGroup))
	}
	if kind == "" {
		errs = append(errs, Required(p.Child("kind"), "kind is required"))
	} else {
		errs = appendMsgs(errs, p.Child("kind"), kind, isValidPathSegmentName(kind))
	}
	if name == "" {
		errs = append(errs, Required(p.Child("name"), "name is required"))
	} else {
		errs = appendMsgs(errs, p.Child("name"), name, isValidPathSegmentName(name))
	}
	return errs
}

const wildcardDNS1123SubdomainFmt = `\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`

var wildcardDNS1123SubdomainRe = regexp.MustCompile("^" + wildcardDNS1123SubdomainFmt + "$")

// isWildcardDNS1123Subdomain returns why value is not "*." followed by a
// DNS subdomain, or nothing.
func isWildcardDNS1123Subdomain(value string) []string {
	var errs []string
	if len(value) > dns1123SubdomainMaxLength {
		errs = append(errs, fmt.Sprintf("must be no more than %d characters", dns1123SubdomainMaxLength))
	}
	if !wildcardDNS1123SubdomainRe.MatchString(value) {
		errs = append(errs, "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '"+wildcardDNS1123SubdomainFmt+"')")
	}
	return errs
}

// isValidPathSegmentName returns why name cannot be one segment of a URL
// path, or nothing.
func isValidPathSegmentName(name string) []string {
	var errs []string
	for _, bad := range []string{".", ".."} {
		if name == bad {
			errs = append(errs, fmt.Sprintf("may not be '%s'", bad))
		}
	}
	for _, bad := range []string{"/", "%"} {
		if strings.Contains(name, bad) {
			errs = append(errs, fmt.Sprintf("may not contain '%s'", bad))
		}
	}
	return errs
}
