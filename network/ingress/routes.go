package ingress

import (
	"cmp"
	"crypto/tls"
	"path"
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
// Prefix at equal length, as Kubernetes specifies, and the backend of
// requests for the host that none matches (nil: 404).
type server struct {
	routes []route
	def    *backendRef
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
	any       *server            // rules without a host, and hosts without rules

	certs     map[string]*tls.Certificate // by the tls.hosts naming them
	wildCerts map[string]*tls.Certificate // "*.example.com" by ".example.com"
	all       []*tls.Certificate          // every one, oldest Ingress first
}

// lookup returns the backend for host and path, or nil. The path is
// matched as cleanPath makes it.
func (t *table) lookup(host, path string) *backendRef {
	host = strings.TrimSuffix(strings.ToLower(stripPort(host)), ".")
	srv := t.hosts[host]
	if srv == nil {
		if i := strings.IndexByte(host, '.'); i > 0 {
			srv = t.wildcards[host[i:]]
		}
	}
	if srv == nil {
		srv = t.any
	}
	if srv == nil {
		return nil
	}
	if r := srv.match(cleanPath(path)); r != nil {
		return &r.backend
	}
	return srv.def
}

// cleanPath returns path as a request is routed by it: with "." and ".."
// elements resolved and repeated slashes merged, as nginx matches
// locations, a trailing slash kept. The request is forwarded as it came.
func cleanPath(p string) string {
	if strings.HasPrefix(p, "/") && !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p // clean already: most requests
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// certificate returns the certificate for a TLS server name: the one of
// the tls entry naming it, else the first whose own names cover it (a tls
// entry without hosts), as ingress-nginx chooses; nil when none does.
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
	if name == "" {
		return nil
	}
	for _, c := range t.all {
		if c.Leaf != nil && c.Leaf.VerifyHostname(name) == nil {
			return c
		}
	}
	return nil
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
// ingress-nginx decides. Requests for a host that no path matches go to
// the defaultBackend of the oldest Ingress with a rule for the host and a
// defaultBackend; requests for a host no rule names, to that of the oldest
// Ingress with a rule without a host, or with no rule at all, and a
// defaultBackend. secret returns a namespace's Secret or nil.
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
		var def *backendRef
		if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
			def = &backendRef{ns: ing.Namespace, name: b.Service.Name, port: b.Service.Port, cache: &resolvedCache{}}
		}
		if len(ing.Spec.Rules) == 0 && def != nil {
			if srv := serverFor(""); srv.def == nil {
				srv.def = def
			}
		}
		for _, rule := range ing.Spec.Rules {
			srv := serverFor(strings.ToLower(rule.Host))
			if srv.def == nil {
				srv.def = def
			}
			if rule.HTTP == nil {
				continue
			}
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
			t.all = append(t.all, cert)
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
