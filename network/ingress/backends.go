package ingress

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/podkit/podkit/objects"
)

// resolved is a backend's endpoints as its Service and Endpoints objects
// (the informers' own, compared by identity) last said: a request costs
// two cache lookups and, while neither object changes, no allocation.
type resolved struct {
	svc, eps objects.Object
	targets  []*target // one per ready endpoint
	err      error
}

// target is one ready endpoint: its address, for the plain HTTP front end,
// and its reverse proxy, for the HTTPS one.
type target struct {
	hostport string
	proxy    *httputil.ReverseProxy
}

// resolvedCache is the last resolution of one backendRef; the table that
// holds the backendRef is replaced whole when Ingresses change.
type resolvedCache struct{ p atomic.Pointer[resolved] }

// backend returns a ready endpoint of b, round-robin.
func (c *Controller) backend(b *backendRef) (*target, error) {
	key := objects.Key{Namespace: b.ns, Name: b.name}
	svc, _ := c.services.Get(key)
	eps, _ := c.endpoints.Get(key)
	res := b.cache.p.Load()
	if res == nil || res.svc != svc || res.eps != eps {
		res = c.resolve(b, svc, eps)
		b.cache.p.Store(res)
	}
	if res.err != nil {
		return nil, res.err
	}
	return res.targets[c.next.Add(1)%uint64(len(res.targets))], nil
}

func (c *Controller) resolve(b *backendRef, so, eo objects.Object) *resolved {
	res := &resolved{svc: so, eps: eo}
	if so == nil {
		res.err = fmt.Errorf("service %s/%s not found", b.ns, b.name)
		return res
	}
	svc := so.(*objects.Service)
	var sp *objects.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (b.port.Name != "" && p.Name == b.port.Name) || (b.port.Number != 0 && p.Port == b.port.Number) {
			sp = p
			break
		}
	}
	if svc.Spec.Type == objects.ServiceTypeExternalName {
		return c.externalName(res, b, svc, sp)
	}
	if sp == nil {
		res.err = fmt.Errorf("service %s/%s has no port %s", b.ns, b.name, portString(b.port))
		return res
	}
	if eo == nil {
		res.err = fmt.Errorf("service %s/%s has no endpoints", b.ns, b.name)
		return res
	}
	for _, ss := range eo.(*objects.Endpoints).Subsets {
		for _, p := range ss.Ports {
			if p.Name != sp.Name || (p.Protocol != "" && p.Protocol != objects.ProtocolTCP) {
				continue
			}
			for _, a := range ss.Addresses {
				hostport := net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port)))
				res.targets = append(res.targets, &target{hostport: hostport, proxy: c.reverseProxy(hostport)})
			}
		}
	}
	if len(res.targets) == 0 {
		res.err = fmt.Errorf("service %s/%s has no ready endpoint", b.ns, b.name)
	}
	return res
}

// externalName resolves a backend that is an ExternalName Service to its
// external name, as ingress-nginx does: at the target port of the Service's
// port when it is a number, else its port, or the backend's port number
// when the Service lists no such port. The name is looked up at each new
// connection.
func (c *Controller) externalName(res *resolved, b *backendRef, svc *objects.Service, sp *objects.ServicePort) *resolved {
	var port int32
	switch {
	case sp != nil && sp.TargetPort.IntValue() > 0:
		port = int32(sp.TargetPort.IntValue())
	case sp != nil:
		port = sp.Port
	default:
		port = b.port.Number
	}
	if port == 0 || svc.Spec.ExternalName == "" {
		res.err = fmt.Errorf("service %s/%s has no port %s", b.ns, b.name, portString(b.port))
		return res
	}
	hostport := net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port)))
	res.targets = []*target{{hostport: hostport, proxy: c.reverseProxy(hostport)}}
	return res
}

// reverseProxy returns the proxy to one endpoint, host:port.
func (c *Controller) reverseProxy(hostport string) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// pr.SetURL of a target without path or query, without the
			// allocations.
			u := pr.Out.URL
			u.Scheme, u.Host = "http", hostport
			if !strings.HasPrefix(u.Path, "/") {
				u.Path = "/" + u.Path
				if u.RawPath != "" {
					u.RawPath = "/" + u.RawPath
				}
			}
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:    c.transport,
		BufferPool:   &c.buffers,
		ErrorHandler: c.backendFailed,
	}
}

func (c *Controller) backendFailed(w http.ResponseWriter, r *http.Request, err error) {
	c.cfg.log.Debug("backend failed", "url", r.URL, "err", err)
	reply(w, http.StatusBadGateway)
}

// bufferPool lends the buffers answers are copied through.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == copyBufferSize {
		b.p.Put(&buf)
	}
}
