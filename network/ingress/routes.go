package ingress

import (
	"cmp"
	"crypto/tls"
	"slices"
	"strings"

	"github.com/podkit/podkit/objects"
)

// AnnotationIngressClass is the annotation that chose a class before
// spec.ingressClassName existed; it is still honoured.
const AnnotationIngressClass = "kubernetes.io/ingress.class"

// backendRef is a Service port in a namespace.
type backendRef struct {
	ns, name string
	port     objects.ServiceBackendPort
	cache    *resolvedCache
}

type route struct {
	path    string // "/" or without a trailing slash, for Prefix
	exact   bool
	backend backendRef
}

func (r *route) matches(path string) bool {
	if r.exact {
		return path == r.path
	}
	return r.path == "/" || path == r.path || strings.HasPrefix(path, r.path+"/")
}

// server is the routes of one host, longest path first, Exact before
// Prefix at equal length, as Kubernetes specifies.
type server struct {
	routes []route
}

func (s *server) match(path string) *route {
	for i := range s.routes {
		if s.routes[i].matches(path) {
			return &s.routes[i]
		}
	}
	return nil
}

// table is the routing of every Ingress of the class, swapped whole on
// change so that requests in flight keep the table they started with.
type table struct {
	hosts     map[string]*server // exact host
	wildcards map[string]*server // "*.example.com" by ".example.com"
	any       *server            // rules without a host
	fallback  *backendRef        // the first defaultBackend

	certs     map[string]*tls.Certificate
	wildCerts map[string]*tls.Certificate
	defCert   *tls.Certificate
}

// lookup returns the backend for host and path, or nil.
func (t *table) lookup(host, path string) *backendRef {
	host = strings.ToLower(stripPort(host))
	srv := t.hosts[host]
	if srv == nil {
		if i := strings.IndexByte(host, '.'); i > 0 {
			srv = t.wildcards[host[i:]]
		}
	}
	if srv == nil {
		srv = t.any
	}
	if srv != nil {
		if r := srv.match(path); r != nil {
			return &r.backend
		}
	}
	return t.fallback
}

func (t *table) certificate(name string) *tls.Certificate {
	name = strings.ToLower(name)
	if c := t.certs[name]; c != nil {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := t.wildCerts[name[i:]]; c != nil {
			return c
		}
	}
	return t.defCert
}

// stripPort returns the host of a Host header: without the port, and an
// IPv6 literal without its brackets.
func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host[1:]
	}
	if i := strings.IndexByte(host, ':'); i >= 0 && strings.LastIndexByte(host, ':') == i {
		return host[:i]
	}
	return host
}

// buildTable merges the routes of ings, which are sorted oldest first: on
// a conflict (same host, path and type) the oldest Ingress wins, as
// ingress-nginx decides. secret returns a namespace's Secret or nil.
func buildTable(ings []*objects.Ingress, secret func(ns, name string) *objects.Secret) (*table, []error) {
	t := &table{hosts: map[string]*server{}, wildcards: map[string]*server{},
		certs: map[string]*tls.Certificate{}, wildCerts: map[string]*tls.Certificate{}}
	var errs []error
	serverFor := func(host string) *server {
		var m map[string]*server
		key := host
		switch {
		case host == "":
			if t.any == nil {
				t.any = &server{}
			}
			return t.any
		case strings.HasPrefix(host, "*."):
			m, key = t.wildcards, host[1:]
		default:
			m = t.hosts
		}
		if m[key] == nil {
			m[key] = &server{}
		}
		return m[key]
	}
	for _, ing := range ings {
		if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil && t.fallback == nil {
			t.fallback = &backendRef{ns: ing.Namespace, name: b.Service.Name, port: b.Service.Port, cache: &resolvedCache{}}
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			srv := serverFor(strings.ToLower(rule.Host))
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil {
					continue // resource backends are not served
				}
				r := route{path: p.Path, exact: p.PathType != nil && *p.PathType == objects.PathTypeExact,
					backend: backendRef{ns: ing.Namespace, name: p.Backend.Service.Name, port: p.Backend.Service.Port, cache: &resolvedCache{}}}
				if r.path == "" {
					r.path = "/"
				}
				if !r.exact && r.path != "/" {
					r.path = strings.TrimSuffix(r.path, "/")
				}
				if !slices.ContainsFunc(srv.routes, func(o route) bool { return o.path == r.path && o.exact == r.exact }) {
					srv.routes = append(srv.routes, r)
				}
			}
		}
		for _, tl := range ing.Spec.TLS {
			if tl.SecretName == "" {
				continue
			}
			cert, err := loadCert(secret(ing.Namespace, tl.SecretName), ing.Namespace, tl.SecretName)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if t.defCert == nil {
				t.defCert = cert
			}
			for _, h := range tl.Hosts {
				h = strings.ToLower(h)
				if strings.HasPrefix(h, "*.") {
					if t.wildCerts[h[1:]] == nil {
						t.wildCerts[h[1:]] = cert
					}
				} else if t.certs[h] == nil {
					t.certs[h] = cert
				}
			}
		}
	}
	for _, srv := range allServers(t) {
		slices.SortStableFunc(srv.routes, func(a, b route) int {
			if c := cmp.Compare(len(b.path), len(a.path)); c != 0 {
				return c
			}
			switch {
			case a.exact && !b.exact:
				return -1
			case b.exact && !a.exact:
				return 1
			}
			return 0
		})
	}
	return t, errs
}

func allServers(t *table) []*server {
	var out []*server
	for _, s := range t.hosts {
		out = append(out, s)
	}
	for _, s := range t.wildcards {
		out = append(out, s)
	}
	if t.any != nil {
		out = append(out, t.any)
	}
	return out
}
