// Package ingress is podkit's Ingress controller (networking.k8s.io/v1):
// an HTTP and HTTPS reverse proxy on the host that routes requests by host
// and path to the ready endpoints of Services.
//
// It serves the Ingresses of its class: those whose ingressClassName is
// the controller's class name ("podkit") or names an IngressClass whose
// spec.controller is the controller's name, and those naming no class
// when a default IngressClass (ingressclass.kubernetes.io/is-default-class)
// of its controller exists or their kubernetes.io/ingress.class annotation
// names the class. (A podkit orchestrator gives a new Ingress without a
// class the default class's name when it is created, as Kubernetes'
// DefaultIngressClass admission does, so that it keeps its class when the
// default changes.) Paths are matched as Kubernetes specifies (Exact;
// Prefix element-wise; ImplementationSpecific as Prefix; longest first),
// after "." and ".." elements are resolved and repeated slashes merged, as
// nginx does; the request is forwarded as it came. Host names match
// without port, case or a trailing dot, "*.example.com" one label deep.
// Requests that no path matches go to the defaultBackend of an Ingress
// naming their host (else of one with a rule without a host, or without
// rules: the catch-all), the oldest first, as ingress-nginx decides; else
// they get 404. A backend without a ready endpoint gives 503, one that
// fails 502; one that is an ExternalName Service is reached at its name. TLS certificates come from kubernetes.io/tls Secrets chosen
// by SNI: the one of the tls entry naming the server name, else the first
// that covers it; other names get a self-signed certificate
// (FakeCertificateName).
// Requests carry X-Forwarded-For, -Host and -Proto. A change of routes,
// certificates or endpoints applies to the next request; no listener
// restarts and no connection drops.
//
// Plain HTTP (HTTP/1.x) is served by github.com/valyala/fasthttp (fast.go),
// which reads the clients' requests, writes them to the backends and
// reads the answers, bodies streamed both ways: net/http and
// httputil.ReverseProxy spend about 1.5 times its CPU per request
// (bench_test.go), for the allocations of each request and answer and
// the goroutines that watch each connection. HTTPS is served by net/http
// and httputil.ReverseProxy, for HTTP/2, which browsers negotiate over
// TLS (ALPN) and fasthttp does not speak. Both front ends route alike and
// forward the same headers (policy.go); protocol upgrades (WebSocket) are
// relayed on both.
package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Defaults.
const (
	DefaultClassName      = "podkit"
	DefaultControllerName = "podkit.io/ingress-controller"
	DefaultHTTPAddr       = ":80"
	DefaultHTTPSAddr      = ":443"
)

// Option configures a Controller.
type Option func(*config) error

type config struct {
	httpAddr, httpsAddr string
	class, controller   string
	status              string
	log                 *slog.Logger
	dialTimeout         time.Duration
}

// WithHTTPAddr sets the HTTP listen address (default :80; port 0 picks
// one, see Addrs).
func WithHTTPAddr(addr string) Option {
	return func(c *config) error { c.httpAddr = addr; return nil }
}

// WithHTTPSAddr sets the HTTPS listen address (default :443); empty
// disables HTTPS.
func WithHTTPSAddr(addr string) Option {
	return func(c *config) error { c.httpsAddr = addr; return nil }
}

// WithClassName sets the IngressClass name served (default "podkit").
func WithClassName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("ingress.WithClassName: name is empty")
		}
		c.class = name
		return nil
	}
}

// WithControllerName sets the spec.controller value of the IngressClasses
// served (default "podkit.io/ingress-controller").
func WithControllerName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("ingress.WithControllerName: name is empty")
		}
		c.controller = name
		return nil
	}
}

// WithStatusAddress sets the IP or host name written to the Ingresses'
// status.loadBalancer.ingress (default: the HTTP listen host if it is a
// specific address, else the host's first non-loopback IPv4 address).
func WithStatusAddress(addr string) Option {
	return func(c *config) error { c.status = addr; return nil }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("ingress.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// Controller is the Ingress controller. Its methods are safe for
// concurrent use; Run runs once.
type Controller struct {
	cfg   config
	store store.Store
	infs  map[string]*informer.Informer
	kick  chan struct{}

	// services and endpoints are read per request (see backend).
	services, endpoints *informer.Informer

	routes    atomic.Pointer[table]
	next      atomic.Uint64
	transport *backendTransport
	buffers   bufferPool
	fakeCert  *tls.Certificate // for server names no Ingress has one for

	mu    sync.Mutex
	addrs []net.Addr
	ready chan struct{}
}

// Kinds the controller watches.
var watched = []string{"Ingress", "IngressClass", "Service", "Endpoints", "Secret"}

// New returns a controller serving the Ingresses in s.
func New(s store.Store, opts ...Option) (*Controller, error) {
	cfg := config{httpAddr: DefaultHTTPAddr, httpsAddr: DefaultHTTPSAddr, class: DefaultClassName,
		controller: DefaultControllerName, log: slog.New(slog.DiscardHandler), dialTimeout: 5 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Controller{cfg: cfg, store: s, infs: map[string]*informer.Informer{}, kick: make(chan struct{}, 1), ready: make(chan struct{})}
	for _, k := range watched {
		inf := informer.New(s, k, informer.Options{Logger: cfg.log})
		if k != "Service" && k != "Endpoints" { // read per request instead
			inf.AddHandler(func(_, _ objects.Object) { c.signal() })
		}
		c.infs[k] = inf
	}
	c.services, c.endpoints = c.infs["Service"], c.infs["Endpoints"]
	c.routes.Store(&table{})
	c.transport = newBackendTransport(cfg.dialTimeout)
	var err error
	if c.fakeCert, err = fakeCertificate(); err != nil {
		return nil, fmt.Errorf("ingress: the fake certificate: %w", err)
	}
	return c, nil
}

func (c *Controller) signal() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Ready is closed once Run listens.
func (c *Controller) Ready() <-chan struct{} { return c.ready }

// Addrs returns the HTTP and (when enabled) HTTPS listen addresses, once
// Ready.
func (c *Controller) Addrs() []net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.addrs)
}

// Run listens, keeps the routes and the Ingresses' status current until
// ctx ends, then shuts the servers down and returns once every goroutine
// it started has returned.
func (c *Controller) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, len(watched)+2)
	for _, inf := range c.infs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := inf.Run(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	var lc net.ListenConfig
	var plain, secure net.Listener
	for _, l := range []struct {
		addr string
		ln   *net.Listener
	}{{c.cfg.httpAddr, &plain}, {c.cfg.httpsAddr, &secure}} {
		if l.addr == "" {
			continue
		}
		ln, err := lc.Listen(ctx, "tcp", l.addr)
		if err != nil {
			if plain != nil {
				plain.Close()
			}
			cancel()
			return fmt.Errorf("ingress: %w", err)
		}
		*l.ln = ln
	}
	var addrs []net.Addr
	var hf *httpFront
	var tf *tlsFront
	if plain != nil {
		addrs = append(addrs, plain.Addr())
		hf = newHTTPFront(c)
		wg.Go(hf.watch)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := hf.serve(plain); err != nil {
				errc <- fmt.Errorf("ingress: %w", err)
				cancel()
			}
		}()
	}
	if secure != nil {
		addrs = append(addrs, secure.Addr())
		tf = newTLSFront(c)
		ln := tls.NewListener(secure, tf.srv.TLSConfig)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tf.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
				cancel()
			}
		}()
	}
	c.mu.Lock()
	c.addrs = addrs
	c.mu.Unlock()
	close(c.ready)
	c.cfg.log.Info("ingress controller listening", "addrs", addrs, "class", c.cfg.class)

	c.loop(ctx, addrs)

	// Both front ends stop at once, within one grace period.
	shutCtx, done := context.WithTimeout(context.Background(), shutdownGrace)
	defer done()
	var stopping sync.WaitGroup
	if hf != nil {
		plain.Close()
		stopping.Go(func() { hf.shutdown(shutCtx) })
	}
	if tf != nil {
		stopping.Go(func() { tf.shutdown(shutCtx) })
	}
	stopping.Wait()
	c.transport.closeIdle(true)
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// tlsFront serves the HTTPS listener with net/http, HTTP/2 included, and
// httputil.ReverseProxy (backends.go).
type tlsFront struct {
	srv      *http.Server
	handlers sync.WaitGroup // requests in flight, those of upgraded connections included
	cancel   context.CancelFunc
}

func newTLSFront(c *Controller) *tlsFront {
	base, cancel := context.WithCancel(context.Background())
	t := &tlsFront{cancel: cancel}
	t.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.handlers.Add(1)
			defer t.handlers.Done()
			c.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// Cancelled when the shutdown gives up: it ends what Close does not,
		// the relays of upgraded connections.
		BaseContext: func(net.Listener) context.Context { return base },
		ErrorLog:    slog.NewLogLogger(c.cfg.log.Handler(), slog.LevelDebug),
		// "h2" named, Serve sets HTTP/2 up on the listener this
		// configuration is given to.
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate,
			NextProtos: []string{"h2", "http/1.1"}},
	}
	return t
}

// shutdown closes the listener and the idle connections, lets the
// requests in flight finish until ctx ends, then closes every connection
// and returns once every handler has.
func (t *tlsFront) shutdown(ctx context.Context) {
	defer t.cancel()
	if t.srv.Shutdown(ctx) == nil {
		// Shutdown does not wait for upgraded connections.
		done := make(chan struct{})
		go func() { defer close(done); t.handlers.Wait() }()
		defer func() { <-done }()
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
	}
	t.cancel()
	t.srv.Close()
	t.handlers.Wait()
}

func (c *Controller) loop(ctx context.Context, addrs []net.Addr) {
	for _, inf := range c.infs {
		if inf.WaitForSync(ctx) != nil {
			return
		}
	}
	status := c.statusAddress(addrs)
	c.signal()
	var retry <-chan time.Time
	reap := time.NewTicker(c.transport.idleTimeout / 3)
	defer reap.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reap.C:
			c.transport.closeIdle(false)
			continue
		case <-c.kick:
		case <-retry:
		}
		retry = nil
		ings := c.ours()
		t, errs := buildTable(ings, c.secret)
		c.routes.Store(t)
		for _, err := range errs {
			c.cfg.log.Warn("ingress TLS", "err", err)
		}
		if err := c.updateStatus(ctx, ings, status); err != nil && ctx.Err() == nil {
			c.cfg.log.Warn("ingress status update failed; retrying", "err", err)
			retry = time.After(100 * time.Millisecond)
		}
	}
}

// ours returns the Ingresses of the controller's class, oldest first.
func (c *Controller) ours() []*objects.Ingress {
	classes, _ := c.infs["IngressClass"].List(store.ListOptions{}, nil)
	mine := map[string]bool{c.cfg.class: true}
	isDefault := false
	for _, o := range classes {
		ic := o.(*objects.IngressClass)
		if ic.Spec.Controller != c.cfg.controller {
			if ic.Name == c.cfg.class {
				mine[ic.Name] = false // the name is another controller's
			}
			continue
		}
		mine[ic.Name] = true
		if ic.Annotations[objects.AnnotationIsDefaultIngressClass] == "true" {
			isDefault = true
		}
	}
	objs, _ := c.infs["Ingress"].List(store.ListOptions{}, nil)
	var out []*objects.Ingress
	for _, o := range objs {
		ing := o.(*objects.Ingress)
		switch {
		case ing.Spec.IngressClassName != nil:
			if !mine[*ing.Spec.IngressClassName] {
				continue
			}
		case ing.Annotations[AnnotationIngressClass] != "":
			if !mine[ing.Annotations[AnnotationIngressClass]] {
				continue
			}
		case !isDefault:
			continue
		}
		out = append(out, ing)
	}
	slices.SortStableFunc(out, func(a, b *objects.Ingress) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return out
}

func (c *Controller) secret(ns, name string) *objects.Secret {
	o, ok := c.infs["Secret"].Get(objects.Key{Namespace: ns, Name: name})
	if !ok {
		return nil
	}
	return o.(*objects.Secret)
}

func loadCert(s *objects.Secret, ns, name string) (*tls.Certificate, error) {
	if s == nil {
		return nil, fmt.Errorf("secret %s/%s not found", ns, name)
	}
	cert, err := tls.X509KeyPair(s.Data[objects.TLSCertKey], s.Data[objects.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	return &cert, nil
}

func (c *Controller) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.routes.Load().certificate(hello.ServerName); cert != nil {
		return cert, nil
	}
	return c.fakeCert, nil
}

func (c *Controller) statusAddress(addrs []net.Addr) string {
	if c.cfg.status != "" {
		return c.cfg.status
	}
	if len(addrs) > 0 {
		if ap, err := netip.ParseAddrPort(addrs[0].String()); err == nil && !ap.Addr().IsUnspecified() {
			return ap.Addr().Unmap().String()
		}
	}
	ifAddrs, _ := net.InterfaceAddrs()
	for _, a := range ifAddrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

func (c *Controller) updateStatus(ctx context.Context, ings []*objects.Ingress, addr string) error {
	want := []objects.IngressLoadBalancerIngress{{IP: addr}}
	if _, err := netip.ParseAddr(addr); err != nil {
		want = []objects.IngressLoadBalancerIngress{{Hostname: addr}}
	}
	equal := func(a []objects.IngressLoadBalancerIngress) bool {
		return len(a) == 1 && a[0].IP == want[0].IP && a[0].Hostname == want[0].Hostname
	}
	var stale []objects.Key
	for _, ing := range ings {
		if !equal(ing.Status.LoadBalancer.Ingress) {
			stale = append(stale, ing.Key())
		}
	}
	if len(stale) == 0 {
		return nil
	}
	return c.store.Update(ctx, func(tx store.Tx) error {
		for _, k := range stale {
			o, err := tx.Get("Ingress", k)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			ing := o.(*objects.Ingress)
			if equal(ing.Status.LoadBalancer.Ingress) {
				continue
			}
			ing.Status.LoadBalancer.Ingress = want
			if err := tx.UpdateStatus(ing); err != nil {
				return err
			}
		}
		return nil
	})
}

// ServeHTTP routes one request: the HTTPS front end's handler. The plain
// HTTP one (fast.go) routes alike.
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t, code := c.route(r.Host, r.URL.Path)
	if t == nil {
		reply(w, code)
		return
	}
	t.proxy.ServeHTTP(w, r)
}

func portString(p objects.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}
