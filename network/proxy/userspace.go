package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podkit/podkit/objects"
)

// UserspaceOption configures a Userspace data plane.
type UserspaceOption func(*userspaceConfig) error

type userspaceConfig struct {
	nodeAddrs   []netip.Addr
	ifname      string
	dialTimeout time.Duration
	udpIdle     time.Duration
	log         *slog.Logger
}

// WithNodePortAddresses sets the host addresses NodePorts listen on
// (default 0.0.0.0, every address).
func WithNodePortAddresses(addrs ...netip.Addr) UserspaceOption {
	return func(c *userspaceConfig) error {
		if len(addrs) == 0 {
			return errors.New("proxy.WithNodePortAddresses: no address")
		}
		c.nodeAddrs = addrs
		return nil
	}
}

// WithDummyInterface names the dummy interface cluster IPs outside
// 127.0.0.0/8 are added to (default "podkit-svc"; a bridge without ports
// where the kernel lacks the dummy driver). It is created when missing and
// removed, if it was created, when Run returns. One a proxy of a process
// that died left is taken over: its addresses removed, and it is removed
// when Run returns.
func WithDummyInterface(name string) UserspaceOption {
	return func(c *userspaceConfig) error {
		if name == "" || len(name) > 15 {
			return fmt.Errorf("proxy.WithDummyInterface: %q is not an interface name", name)
		}
		c.ifname = name
		return nil
	}
}

// WithDialTimeout bounds a connection attempt to one endpoint, after which
// the next endpoint is tried (default 1 s).
func WithDialTimeout(d time.Duration) UserspaceOption {
	return func(c *userspaceConfig) error {
		if d <= 0 {
			return errors.New("proxy.WithDialTimeout: duration must be positive")
		}
		c.dialTimeout = d
		return nil
	}
}

// WithUDPIdleTimeout sets how long a UDP flow without packets is kept
// (default 60 s).
func WithUDPIdleTimeout(d time.Duration) UserspaceOption {
	return func(c *userspaceConfig) error {
		if d <= 0 {
			return errors.New("proxy.WithUDPIdleTimeout: duration must be positive")
		}
		c.udpIdle = d
		return nil
	}
}

// WithUserspaceLogger sets the logger (default: discard).
func WithUserspaceLogger(l *slog.Logger) UserspaceOption {
	return func(c *userspaceConfig) error {
		if l == nil {
			return errors.New("proxy.WithUserspaceLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// Userspace is the data plane that relays connections itself: it listens
// on every frontend address of a service port with endpoints and copies
// bytes to an endpoint it picks. A port without endpoints has no listener,
// so the kernel refuses it as kube-proxy's rules do: a TCP connection is
// reset, a UDP datagram answered with ICMP port unreachable. Connections
// it accepted outlive their listener, as conntrack keeps a kernel data
// plane's: a Service deleted or its port changed, they go on until they
// end or Run returns. It works without privileges for loopback cluster
// IPs, and serves no external IPs (see the package documentation).
//
// With internalTrafficPolicy Local, a client pod's connection to a cluster
// IP goes to an endpoint of its node; it is accepted and reset at once
// when its node has none (a UDP datagram is dropped). When the endpoints
// have hints (trafficDistribution), a client pod's connections go to the
// endpoints hinted for its node or zone, else to any (see Topology).
// Connections leave from the host's own sockets, so an endpoint never sees
// the client's address, with externalTrafficPolicy Local either.
type Userspace struct {
	cfg userspaceConfig

	started chan struct{}
	stopped chan struct{}
	runCtx  context.Context
	wg      sync.WaitGroup

	syncMu    sync.Mutex // one Sync at a time, and not during stop
	frontends map[frontendKey]*frontend
	affinity  map[string]*affinityTable // by ServicePort.ID
	addrs     *localAddrs
	startOnce sync.Once
}

// NewUserspace returns a userspace data plane.
func NewUserspace(opts ...UserspaceOption) (*Userspace, error) {
	cfg := userspaceConfig{nodeAddrs: []netip.Addr{netip.IPv4Unspecified()}, ifname: "podkit-svc",
		dialTimeout: time.Second, udpIdle: 60 * time.Second, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Userspace{cfg: cfg, started: make(chan struct{}), stopped: make(chan struct{}),
		frontends: map[frontendKey]*frontend{}, affinity: map[string]*affinityTable{},
		addrs: newLocalAddrs(cfg.ifname)}, nil
}

// Run implements DataPlane.
func (u *Userspace) Run(ctx context.Context) error {
	first := false
	u.startOnce.Do(func() { first = true })
	if !first {
		return errors.New("proxy: a Userspace data plane runs once")
	}
	u.runCtx = ctx
	close(u.started)
	<-ctx.Done()
	u.syncMu.Lock()
	for k, f := range u.frontends {
		f.close()
		delete(u.frontends, k)
	}
	close(u.stopped)
	u.syncMu.Unlock()
	u.wg.Wait()
	return u.addrs.cleanup()
}

// Sync implements DataPlane.
func (u *Userspace) Sync(ctx context.Context, ports []ServicePort) error {
	select {
	case <-u.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	u.syncMu.Lock()
	defer u.syncMu.Unlock()
	select {
	case <-u.stopped:
		return ErrStopped
	default:
	}

	// A frontend's address is a cluster IP, which must be a local address,
	// or a node or load balancer address, which is the host's.
	type wanted struct {
		be        *backends
		clusterIP bool
		sources   []netip.Prefix // a load balancer address's allowed clients
	}
	want := map[frontendKey]wanted{}
	var clusterIPs []netip.Addr
	affinity := map[string]*affinityTable{}
	for i := range ports {
		sp := &ports[i]
		if sp.Protocol != objects.ProtocolTCP && sp.Protocol != objects.ProtocolUDP {
			continue
		}
		be := newBackends(sp)
		if sp.Affinity > 0 {
			at := u.affinity[sp.ID]
			if at == nil || at.timeout != sp.Affinity {
				at = &affinityTable{timeout: sp.Affinity, m: map[netip.Addr]affinityEntry{}}
			}
			be.aff, affinity[sp.ID] = at, at
		}
		for _, ip := range sp.ClusterIPs {
			want[frontendKey{sp.Protocol, netip.AddrPortFrom(ip, sp.Port)}] = wanted{be: be, clusterIP: true}
			clusterIPs = append(clusterIPs, ip)
		}
		if sp.NodePort != 0 {
			for _, a := range u.cfg.nodeAddrs {
				want[frontendKey{sp.Protocol, netip.AddrPortFrom(a, sp.NodePort)}] = wanted{be: be}
			}
		}
		for _, lb := range sp.LoadBalancer {
			want[frontendKey{sp.Protocol, lb}] = wanted{be: be, sources: sp.SourceRanges}
		}
	}
	u.affinity = affinity

	for k, f := range u.frontends {
		if _, ok := want[k]; ok {
			continue
		}
		f.stopListening()
		if !f.busy() {
			delete(u.frontends, k)
		} else if f.clusterIP {
			clusterIPs = append(clusterIPs, k.addr.Addr()) // its connections need the address
		}
	}
	var errs []error
	if err := u.addrs.sync(clusterIPs); err != nil {
		errs = append(errs, err)
	}
	for k, w := range want {
		f := u.frontends[k]
		if f == nil {
			f = &frontend{key: k, conns: map[io.Closer]struct{}{}, sessions: map[netip.AddrPort]*udpSession{}}
			u.frontends[k] = f
		}
		f.clusterIP = w.clusterIP
		f.internal.Store(w.clusterIP)
		f.sources.Store(&w.sources)
		f.be.Store(w.be)
		if len(w.be.eps) == 0 {
			f.stopListening()
			continue
		}
		f.dropStaleSessions()
		if err := u.listen(f); err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", w.be.id, err))
		}
	}
	return errors.Join(errs...)
}

// listen makes f listen, unless it does.
func (u *Userspace) listen(f *frontend) error {
	f.mu.Lock()
	listening := f.ln != nil || f.pc != nil
	f.mu.Unlock()
	if listening {
		return nil
	}
	var lc net.ListenConfig
	switch f.key.proto {
	case objects.ProtocolTCP:
		ln, err := lc.Listen(u.runCtx, "tcp4", f.key.addr.String())
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.ln = ln
		f.mu.Unlock()
		u.wg.Add(1)
		go func() { defer u.wg.Done(); u.acceptLoop(f, ln) }()
	case objects.ProtocolUDP:
		p, err := lc.ListenPacket(u.runCtx, "udp4", f.key.addr.String())
		if err != nil {
			return err
		}
		pc := p.(*net.UDPConn)
		f.mu.Lock()
		f.pc = pc
		f.mu.Unlock()
		u.wg.Add(1)
		go func() { defer u.wg.Done(); u.udpLoop(f, pc) }()
	}
	return nil
}

// backends is the endpoint set of one service port at one Sync.
type backends struct {
	id   string
	eps  []netip.AddrPort
	set  map[netip.AddrPort]bool
	aff  *affinityTable
	next atomic.Uint32
	// byNode, for internalTrafficPolicy Local only, lists the endpoints
	// of each node, for clients that are pods on that node (pods).
	byNode map[string][]netip.AddrPort
	// hintNode and hintZone, when the endpoints have hints, list the
	// endpoints for client pods by node and by zone (see Topology).
	hintNode, hintZone map[string][]netip.AddrPort
	pods               *PodNodes
}

func newBackends(sp *ServicePort) *backends {
	b := &backends{id: sp.ID, eps: make([]netip.AddrPort, len(sp.Endpoints)), set: make(map[netip.AddrPort]bool, len(sp.Endpoints))}
	for i, ep := range sp.Endpoints {
		b.eps[i] = ep.Addr
		b.set[ep.Addr] = true
	}
	if len(b.eps) > 0 {
		b.next.Store(rand.Uint32N(uint32(len(b.eps))))
	}
	if sp.Pods == nil {
		return b
	}
	b.pods = sp.Pods
	if sp.InternalLocal {
		b.byNode = map[string][]netip.AddrPort{}
		for _, ep := range sp.Endpoints {
			if ep.Node != "" {
				b.byNode[ep.Node] = append(b.byNode[ep.Node], ep.Addr)
			}
		}
	}
	if t := TopologyOf(sp.Endpoints); !t.Empty() {
		b.hintNode, b.hintZone = addrsBy(t.ByNode), addrsBy(t.ByZone)
	}
	return b
}

func addrsBy(m map[string][]Endpoint) map[string][]netip.AddrPort {
	if m == nil {
		return nil
	}
	out := make(map[string][]netip.AddrPort, len(m))
	for k, eps := range m {
		for _, ep := range eps {
			out[k] = append(out[k], ep.Addr)
		}
	}
	return out
}

// endpointsFor returns the endpoints a new connection from client may go
// to: to a cluster IP (internal), a client pod of a Service with
// internalTrafficPolicy Local has only the endpoints of its node; a client
// pod otherwise has those the hints give its node or zone, if any (see
// Topology); any other client, every endpoint.
func (b *backends) endpointsFor(client netip.Addr, internal bool) []netip.AddrPort {
	node, ok := b.pods.Node(client)
	switch {
	case !ok:
	case b.byNode != nil && internal:
		return b.byNode[node]
	case b.hintNode != nil || b.hintZone != nil:
		if eps, ok := b.hintNode[node]; ok {
			return eps
		}
		if eps, ok := b.hintZone[b.pods.Zone(node)]; ok {
			return eps
		}
	}
	return b.eps
}

// pick returns the endpoint for a new connection from client, skipping
// those in tried: the client's affinity endpoint if it is still there,
// else the next one round-robin, among those endpointsFor gives it.
func (b *backends) pick(client netip.Addr, tried map[netip.AddrPort]bool, internal bool) (netip.AddrPort, bool) {
	eps := b.endpointsFor(client, internal)
	if len(tried) >= len(eps) {
		return netip.AddrPort{}, false
	}
	if b.aff != nil && len(tried) == 0 {
		if ep, ok := b.aff.get(client); ok && b.set[ep] && (len(eps) == len(b.eps) || slices.Contains(eps, ep)) {
			return ep, true
		}
	}
	for range eps {
		ep := eps[int(b.next.Add(1))%len(eps)]
		if !tried[ep] {
			if b.aff != nil {
				b.aff.put(client, ep)
			}
			return ep, true
		}
	}
	return netip.AddrPort{}, false
}

type affinityTable struct {
	timeout time.Duration
	mu      sync.Mutex
	m       map[netip.Addr]affinityEntry
}

type affinityEntry struct {
	ep      netip.AddrPort
	expires time.Time
}

func (a *affinityTable) get(client netip.Addr) (netip.AddrPort, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[client]
	now := time.Now()
	if !ok || now.After(e.expires) {
		return netip.AddrPort{}, false
	}
	e.expires = now.Add(a.timeout)
	a.m[client] = e
	return e.ep, true
}

func (a *affinityTable) put(client netip.Addr, ep netip.AddrPort) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if len(a.m) > 4096 { // drop expired entries now and then
		for k, e := range a.m {
			if now.After(e.expires) {
				delete(a.m, k)
			}
		}
	}
	a.m[client] = affinityEntry{ep: ep, expires: now.Add(a.timeout)}
}

// frontend is one address a service port is served on. It listens while
// the port has endpoints; the TCP connections it accepted stay until they
// end, also once it no longer listens or is no longer wanted.
type frontend struct {
	key       frontendKey
	clusterIP bool        // its address is a cluster IP (see localAddrs); Sync only
	internal  atomic.Bool // the same, for the relays
	be        atomic.Pointer[backends]
	// sources, when it holds ranges, are the only clients served.
	sources atomic.Pointer[[]netip.Prefix]

	mu       sync.Mutex
	ln       net.Listener // nil while not listening
	pc       *net.UDPConn // nil while not listening
	closed   bool         // by Run's end
	conns    map[io.Closer]struct{}
	sessions map[netip.AddrPort]*udpSession
}

// admits reports whether f serves client, by its source ranges.
func (f *frontend) admits(client netip.Addr) bool {
	r := f.sources.Load()
	if r == nil || len(*r) == 0 {
		return true
	}
	client = client.Unmap()
	for _, p := range *r {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// track registers c to be closed with the frontend; false if it is closed.
func (f *frontend) track(c io.Closer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *frontend) untrack(c io.Closer) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// stopListening closes f's socket, so that new connections are refused as
// by a port without a listener. UDP flows end, since their replies left
// through it; established TCP connections go on.
func (f *frontend) stopListening() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	if f.pc != nil {
		f.pc.Close()
		f.pc = nil
	}
	for _, s := range f.sessions {
		s.conn.Close() // its reader removes it
	}
}

// busy reports whether f has TCP connections.
func (f *frontend) busy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns) > 0
}

// close stops f for good, its connections included.
func (f *frontend) close() {
	f.stopListening()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
}

func (u *Userspace) acceptLoop(f *frontend, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		if !f.admits(c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()) {
			// The kernel has accepted it already: a reset is the nearest
			// to the nftables data plane's drop.
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			continue
		}
		if !f.track(c) {
			c.Close()
			return
		}
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			defer f.untrack(c)
			u.relayTCP(f, c.(*net.TCPConn))
		}()
	}
}

func (u *Userspace) relayTCP(f *frontend, c *net.TCPConn) {
	client := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	be := f.be.Load()
	var tried map[netip.AddrPort]bool // made on the first failed dial
	var bc *net.TCPConn
	for {
		ep, ok := be.pick(client, tried, f.internal.Load())
		if !ok {
			u.cfg.log.Debug("no endpoint answered", "service", be.id, "frontend", f.key, "tried", len(tried))
			c.SetLinger(0) // reset, as a kernel data plane with no endpoint rejects
			return
		}
		ctx, cancel := context.WithTimeout(u.runCtx, u.cfg.dialTimeout)
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", ep.String())
		cancel()
		if err == nil {
			bc = conn.(*net.TCPConn)
			break
		}
		if tried == nil {
			tried = map[netip.AddrPort]bool{}
		}
		tried[ep] = true
		if u.runCtx.Err() != nil {
			return
		}
	}
	if !f.track(bc) {
		bc.Close()
		return
	}
	defer f.untrack(bc)
	// One goroutine per direction: this one and one more.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = relay(bc, c)
	}()
	_ = relay(c, bc)
	<-done
}

// udpSession is one client's flow to one endpoint.
type udpSession struct {
	client netip.AddrPort
	ep     netip.AddrPort
	pc     *net.UDPConn // the frontend's socket, replies leave by
	conn   *net.UDPConn
	last   atomic.Int64 // unix nanos of the last packet either way
}

func (u *Userspace) udpLoop(f *frontend, pc *net.UDPConn) {
	buf := make([]byte, 64<<10)
	for {
		n, client, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
		if !f.admits(client.Addr()) {
			continue
		}
		s := u.session(f, pc, client)
		if s == nil {
			continue // no endpoint answers, or the socket is being closed
		}
		s.last.Store(time.Now().UnixNano())
		_, _ = s.conn.Write(buf[:n])
	}
}

// session returns client's flow through pc, opening one to a picked
// endpoint when it has none or its endpoint was removed.
func (u *Userspace) session(f *frontend, pc *net.UDPConn, client netip.AddrPort) *udpSession {
	be := f.be.Load()
	f.mu.Lock()
	s := f.sessions[client]
	f.mu.Unlock()
	if s != nil && s.pc == pc && be.set[s.ep] {
		return s
	}
	if s != nil {
		s.conn.Close() // its reader removes it
	}
	tried := map[netip.AddrPort]bool{}
	for {
		ep, ok := be.pick(client.Addr(), tried, f.internal.Load())
		if !ok {
			return nil
		}
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(ep))
		if err != nil {
			tried[ep] = true
			continue
		}
		s = &udpSession{client: client, ep: ep, pc: pc, conn: conn}
		s.last.Store(time.Now().UnixNano())
		f.mu.Lock()
		if f.pc != pc {
			f.mu.Unlock()
			conn.Close()
			return nil
		}
		f.sessions[client] = s
		f.mu.Unlock()
		u.wg.Add(1)
		go func() { defer u.wg.Done(); u.udpReplies(f, s) }()
		return s
	}
}

func (u *Userspace) udpReplies(f *frontend, s *udpSession) {
	defer func() {
		f.mu.Lock()
		if f.sessions[s.client] == s {
			delete(f.sessions, s.client)
		}
		f.mu.Unlock()
		s.conn.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		idleUntil := time.Unix(0, s.last.Load()).Add(u.cfg.udpIdle)
		if !time.Now().Before(idleUntil) {
			return
		}
		_ = s.conn.SetReadDeadline(idleUntil)
		n, err := s.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // re-check idleness: the client may have sent since
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors from the endpoint: keep the flow
		}
		s.last.Store(time.Now().UnixNano())
		if _, err := s.pc.WriteToUDPAddrPort(buf[:n], s.client); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// dropStaleSessions closes UDP flows whose endpoint is gone, so that the
// client's next packet goes to a current endpoint.
func (f *frontend) dropStaleSessions() {
	be := f.be.Load()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if !be.set[s.ep] {
			s.conn.Close()
		}
	}
}
