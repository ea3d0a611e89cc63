// Package dns is podkit's cluster DNS: it answers for the cluster domain
// from the Services, Endpoints and Namespaces in the store, as CoreDNS'
// kubernetes plugin does, and forwards every other name to the host's
// resolvers.
//
// Records served (with the default domain cluster.local):
//
//	web.default.svc.cluster.local          A     the ClusterIP; ready pod IPs when headless
//	web.default.svc.cluster.local          SRV   every port, unnamed ones too
//	db-0.db.default.svc.cluster.local      A     the endpoint with that hostname
//	10-1-0-5.db.default.svc.cluster.local  A     an endpoint by its IP
//	_http._tcp.web.default.svc.cluster.local SRV named ports
//	10-1-0-5.default.pod.cluster.local     A     any pod IP, as kube-dns' "pods insecure"
//	ext.default.svc.cluster.local          CNAME an ExternalName Service's name, and its target's records
//	5.0.96.10.in-addr.arpa                 PTR   a ClusterIP's Service, else the endpoints with the IP
//
// SRV records point at the Service's name, or for a headless Service at
// each ready endpoint's. An ExternalName Service has no SRV records; its
// CNAME also answers for any _port._proto name under it, and comes with
// the target's records: resolved here for a target inside the cluster
// domain (up to 8 CNAMEs), by the upstreams for one outside. As with CoreDNS, a headless Service without ready endpoints
// and every name in a namespace that does not exist are NXDOMAIN, and
// until the caches have synced every cluster name is SERVFAIL.
//
// Pods find the server through the resolver configuration PodDNSConfig
// builds, which node agents give them: the server's address, search
// domains <ns>.svc.<domain> svc.<domain> <domain> followed by the host's,
// and ndots:5. The address must
// be one pods reach, such as their bridge's gateway: AddListenAddr adds
// one while the server runs, binding with IP_FREEBIND so that a bridge
// made later carries it (package network explains how an orchestrator
// uses it).
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/store"
)

// Defaults.
const (
	DefaultClusterDomain = "cluster.local"
	DefaultListenAddr    = "127.0.0.1:53"
	// DefaultTTL is the TTL of cluster records, CoreDNS' default: short,
	// since pods come and go.
	DefaultTTL = 5
)

// Option configures a Server.
type Option func(*config) error

type config struct {
	domain     string
	listen     []string
	upstreams  []string
	resolvConf string
	ttl        uint32
	log        *slog.Logger
	timeout    time.Duration
}

// WithClusterDomain sets the cluster domain (default cluster.local).
func WithClusterDomain(domain string) Option {
	return func(c *config) error {
		d := strings.Trim(strings.ToLower(domain), ".")
		if d == "" {
			return errors.New("dns.WithClusterDomain: domain is empty")
		}
		if _, ok := mdns.IsDomainName(d); !ok {
			return fmt.Errorf("dns.WithClusterDomain: %q is not a domain name", domain)
		}
		c.domain = d
		return nil
	}
}

// WithListenAddrs sets the addresses served over UDP and TCP (default
// 127.0.0.1:53). Pods must reach one of them: on Docker and containerd
// that is the bridge's gateway address (such as 172.17.0.1:53) or another
// address of the host. Port 0 picks a free port, the same for UDP and TCP;
// Addrs tells which.
func WithListenAddrs(addrs ...string) Option {
	return func(c *config) error {
		if len(addrs) == 0 {
			return errors.New("dns.WithListenAddrs: no address")
		}
		for _, a := range addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return fmt.Errorf("dns.WithListenAddrs: %w", err)
			}
		}
		c.listen = slices.Clone(addrs)
		return nil
	}
}

// WithUpstreams sets the resolvers ("host:port", or a host for port 53)
// that names outside the cluster domain are forwarded to. The default is
// the nameservers of the host's resolv.conf.
func WithUpstreams(servers ...string) Option {
	return func(c *config) error {
		c.upstreams = nil
		for _, s := range servers {
			if _, _, err := net.SplitHostPort(s); err != nil {
				s = net.JoinHostPort(s, "53")
			}
			c.upstreams = append(c.upstreams, s)
		}
		return nil
	}
}

// WithResolvConf reads the default upstreams from path instead of
// /etc/resolv.conf.
func WithResolvConf(path string) Option {
	return func(c *config) error { c.resolvConf = path; return nil }
}

// WithTTL sets the TTL of cluster records in seconds (default 5).
func WithTTL(seconds uint32) Option {
	return func(c *config) error { c.ttl = seconds; return nil }
}

// WithForwardTimeout bounds one forwarded query (default 2 s).
func WithForwardTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("dns.WithForwardTimeout: duration must be positive")
		}
		c.timeout = d
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("dns.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// Server is the cluster DNS server. Run serves until its context ends;
// ServeDNS answers one query and may be used without Run (with caches
// that Run fills, it answers SERVFAIL for cluster names until then).
// AddListenAddr adds addresses before or while Run runs; Close releases
// what AddListenAddr bound when Run does not run again. Methods are safe
// for concurrent use.
type Server struct {
	cfg        config
	services   *informer.Informer
	endpoints  *informer.Informer
	namespaces *informer.Informer
	fwd        *forwarder

	mu        sync.Mutex
	added     []string   // AddListenAddr's addresses, in order
	bound     []*binding // sockets held: bound by AddListenAddr, or served by Run
	serving   bool       // Run serves: a new binding is served at once
	wg        *sync.WaitGroup
	ready     chan struct{}
	readyOnce sync.Once
}

// binding is one listen address's UDP socket and TCP listener and, while
// Run serves them, their servers.
type binding struct {
	addr    string
	pc      net.PacketConn
	l       net.Listener
	servers []*mdns.Server
}

// New returns a server answering from the Services, Endpoints and
// Namespaces of s, which it watches through caches of its own.
func New(s store.Store, opts ...Option) (*Server, error) {
	cfg := config{domain: DefaultClusterDomain, listen: []string{DefaultListenAddr}, ttl: DefaultTTL,
		log: slog.New(slog.DiscardHandler), resolvConf: "/etc/resolv.conf", timeout: 2 * time.Second}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.upstreams == nil {
		if cc, err := mdns.ClientConfigFromFile(cfg.resolvConf); err == nil {
			for _, s := range cc.Servers {
				cfg.upstreams = append(cfg.upstreams, net.JoinHostPort(s, cc.Port))
			}
		} else {
			cfg.log.Warn("no upstream resolvers: names outside the cluster domain will fail", "err", err)
		}
	}
	srv := &Server{cfg: cfg, ready: make(chan struct{})}
	srv.services = informer.New(s, "Service", informer.Options{Logger: cfg.log})
	srv.endpoints = informer.New(s, "Endpoints", informer.Options{Logger: cfg.log})
	srv.namespaces = informer.New(s, "Namespace", informer.Options{Logger: cfg.log})
	srv.fwd = &forwarder{timeout: cfg.timeout}
	return srv, nil
}

// Domain returns the cluster domain, without a trailing dot.
func (s *Server) Domain() string { return s.cfg.domain }

// Ready is closed once Run first listens on every address.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the UDP addresses the server listens on: once Ready,
// those of WithListenAddrs and AddListenAddr, in that order.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]net.Addr, 0, len(s.bound))
	for _, b := range s.bound {
		addrs = append(addrs, b.pc.LocalAddr())
	}
	return addrs
}

// AddListenAddr makes the server listen on addr ("host:port") too, over
// UDP and TCP, such as the gateway of a pod network ("10.88.0.1:53") when
// a node on it is registered. It binds at once, so a failure (the address
// is in use) is returned here; while Run runs it serves at once, else from
// when Run starts, and every later Run listens on addr again. Adding an
// address given before (here or with WithListenAddrs) does nothing.
//
// Like every listen address, addr is bound with IP_FREEBIND: it need not
// be on an interface yet, as the bridge of a pod network that appears
// with its first pod; queries reach the server once it is.
func (s *Server) AddListenAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("cluster DNS: listen address: %w", err)
	}
	addr = normalAddr(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.added, addr) || slices.ContainsFunc(s.cfg.listen, func(a string) bool { return normalAddr(a) == addr }) {
		return nil
	}
	b, err := bind(addr)
	if err != nil {
		return fmt.Errorf("cluster DNS: %w", err)
	}
	if s.serving {
		if err := s.serveLocked(b); err != nil {
			return err
		}
		s.cfg.log.Info("cluster DNS listening", "addr", b.pc.LocalAddr())
	}
	s.added = append(s.added, addr)
	s.bound = append(s.bound, b)
	return nil
}

// normalAddr spells an IP address and port one way, so that "10.0.0.1:53"
// and "[::ffff:10.0.0.1]:53" are one listen address.
func normalAddr(addr string) string {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
	}
	return addr
}

// Close releases the sockets AddListenAddr bound that Run does not serve;
// call it when Run has returned and will not run again. A later
// AddListenAddr or Run binds again.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving {
		return nil // Run releases them when it returns
	}
	var errs []error
	for _, b := range s.bound {
		errs = append(errs, b.pc.Close(), b.l.Close())
	}
	s.bound = nil
	return errors.Join(errs...)
}

// Run fills the caches, listens on the configured and added addresses
// (UDP and TCP) and serves until ctx ends; it returns after every
// goroutine it started has returned, with the sockets closed. A listen
// failure is returned at once.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if err := s.startServing(&wg); err != nil {
		return err
	}
	errc := make(chan error, 3)
	for _, inf := range []*informer.Informer{s.services, s.endpoints, s.namespaces} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := inf.Run(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	s.readyOnce.Do(func() { close(s.ready) })
	s.cfg.log.Info("cluster DNS listening", "addrs", s.Addrs(), "domain", s.cfg.domain, "upstreams", s.cfg.upstreams)
	<-ctx.Done()
	s.stopServing()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// startServing binds what is not bound yet and serves every binding.
func (s *Server) startServing(wg *sync.WaitGroup) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving {
		return errors.New("cluster DNS: Run is already running")
	}
	s.wg = wg
	held := s.bound
	s.bound = nil
	fail := func(err error) error {
		for _, b := range s.bound {
			b.shutdown()
		}
		s.bound = nil
		for _, b := range held {
			b.shutdown()
		}
		return err
	}
	for _, a := range append(slices.Clone(s.cfg.listen), s.added...) {
		var b *binding
		if i := slices.IndexFunc(held, func(b *binding) bool { return b.addr == a }); i >= 0 {
			b = held[i]
			held = slices.Delete(held, i, i+1)
		} else {
			var err error
			if b, err = bind(a); err != nil {
				return fail(fmt.Errorf("cluster DNS: %w", err))
			}
		}
		if err := s.serveLocked(b); err != nil {
			return fail(err)
		}
		s.bound = append(s.bound, b)
	}
	s.serving = true
	return nil
}

// stopServing shuts every server down, closing their sockets.
func (s *Server) stopServing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bound {
		b.shutdown()
	}
	s.bound, s.serving, s.wg = nil, false, nil
}

// serveLocked starts b's UDP and TCP servers in Run's wait group and waits
// until they serve. On failure b is closed. s.mu is held.
func (s *Server) serveLocked(b *binding) error {
	for _, srv := range []*mdns.Server{{PacketConn: b.pc, Handler: s}, {Listener: b.l, Handler: s}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		served := make(chan error, 1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			served <- srv.ActivateAndServe()
		}()
		select {
		case <-started:
			b.servers = append(b.servers, srv)
		case err := <-served:
			b.shutdown()
			return fmt.Errorf("cluster DNS on %s: %w", b.addr, err)
		}
	}
	return nil
}

// shutdown stops b's servers and closes its sockets.
func (b *binding) shutdown() {
	for _, srv := range b.servers {
		_ = srv.Shutdown()
	}
	b.servers = nil
	_ = b.pc.Close()
	_ = b.l.Close()
}

// bind listens on addr over UDP and TCP, on the same port when the port
// is 0, with IP_FREEBIND (see AddListenAddr).
func bind(addr string) (*binding, error) {
	lc := net.ListenConfig{Control: freebind}
	ctx := context.Background()
	var lastErr error
	for range 10 {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return &binding{addr: addr, pc: pc, l: l}, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, lastErr
}

// ServeDNS implements mdns.Handler.
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	resp := s.answer(req, w.RemoteAddr().Network())
	if resp == nil {
		return
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := uint16(mdns.MinMsgSize)
		if o := req.IsEdns0(); o != nil {
			size = max(o.UDPSize(), size)
		}
		resp.Truncate(int(size))
	}
	_ = w.WriteMsg(resp)
}

func (s *Server) answer(req *mdns.Msg, network string) *mdns.Msg {
	if len(req.Question) != 1 || req.Opcode != mdns.OpcodeQuery {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeNotImplemented)
		return m
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	switch {
	case mdns.IsSubDomain(s.cfg.domain+".", name):
		if !s.synced() {
			// As CoreDNS: an empty cache would deny names that exist.
			m := new(mdns.Msg)
			m.SetRcode(req, mdns.RcodeServerFailure)
			m.RecursionAvailable = true
			return m
		}
		return s.cluster(req, q)
	case q.Qtype == mdns.TypePTR && (strings.HasSuffix(name, ".in-addr.arpa.")):
		if m := s.ptr(req, q, name); m != nil {
			return m
		}
	}
	return s.forward(req, network)
}

// synced reports whether the caches have been filled.
func (s *Server) synced() bool {
	return s.services.HasSynced() && s.endpoints.HasSynced() && s.namespaces.HasSynced()
}

// forward sends req to the upstream resolvers in turn and returns the
// first answer, or SERVFAIL.
func (s *Server) forward(req *mdns.Msg, network string) *mdns.Msg {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout*time.Duration(max(1, len(s.cfg.upstreams))))
	defer cancel()
	for _, up := range s.cfg.upstreams {
		resp, err := s.fwd.exchange(ctx, req, up, network)
		if err == nil {
			resp.Id = req.Id
			return resp
		}
		s.cfg.log.Debug("forwarding failed", "upstream", up, "name", req.Question[0].Name, "err", err)
	}
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

type forwarder struct {
	timeout time.Duration
}

func (f *forwarder) exchange(ctx context.Context, req *mdns.Msg, upstream, network string) (*mdns.Msg, error) {
	proto := "udp"
	if strings.HasPrefix(network, "tcp") {
		proto = "tcp"
	}
	c := &mdns.Client{Net: proto, Timeout: f.timeout}
	resp, _, err := c.ExchangeContext(ctx, req, upstream)
	if err == nil && resp.Truncated && proto == "udp" {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, req, upstream)
	}
	return resp, err
}
