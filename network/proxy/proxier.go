package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Option configures a Proxier.
type Option func(*proxierConfig) error

type proxierConfig struct {
	lb      netip.Addr
	hcAddrs []netip.Addr
	log     *slog.Logger
}

// WithLoadBalancerAddress sets the host address Services of type
// LoadBalancer are served on, at their own ports, and which their
// status.loadBalancer.ingress reports, as k3s' service load balancer does.
// Without it, such Services get no load balancer (their status stays
// empty, as on a cluster without one) but keep their NodePorts. A
// Service's spec.loadBalancerIP (deprecated in Kubernetes) is ignored, as
// Kubernetes documents it is by load balancers that cannot choose their
// address: every such Service is served on this one.
func WithLoadBalancerAddress(addr string) Option {
	return func(c *proxierConfig) error {
		ip, err := netip.ParseAddr(addr)
		if err != nil || !ip.Is4() {
			return fmt.Errorf("proxy.WithLoadBalancerAddress: %q is not an IPv4 address", addr)
		}
		c.lb = ip
		return nil
	}
}

// WithHealthCheckAddresses sets the host addresses health check node
// ports listen on (default 0.0.0.0, every address), as kube-proxy's
// nodePortAddresses do.
func WithHealthCheckAddresses(addrs ...netip.Addr) Option {
	return func(c *proxierConfig) error {
		if len(addrs) == 0 {
			return errors.New("proxy.WithHealthCheckAddresses: no address")
		}
		for _, a := range addrs {
			if !a.Is4() {
				return fmt.Errorf("proxy.WithHealthCheckAddresses: %s is not an IPv4 address", a)
			}
		}
		c.hcAddrs = addrs
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *proxierConfig) error {
		if l == nil {
			return errors.New("proxy.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// Proxier keeps a DataPlane forwarding what the store's Services and
// Endpoints say, sets the status of LoadBalancer Services (those without
// a loadBalancerClass) and serves their health check node ports.
type Proxier struct {
	cfg       proxierConfig
	store     store.Store
	dp        DataPlane
	services  *informer.Informer
	endpoints *informer.Informer
	kick      chan struct{}
	health    *healthServers

	// The pods informer runs from the first sync that has a Service with
	// a Local traffic policy or a trafficDistribution on: until then no
	// pod is cached.
	pods      *informer.Informer
	startInf  func(*informer.Informer) // set by Run
	podsOn    bool                     // the informer was started; loop goroutine only
	podsInUse atomic.Bool
	podsDirty atomic.Bool // pods' places or nodes' zones changed
	podNodes  *PodNodes   // loop goroutine only
	// The EndpointSlice and Node informers run from the first sync that
	// has a Service with a trafficDistribution on: slices carry the
	// endpoints' hints, nodes their zones.
	slices    *informer.Informer
	nodes     *informer.Informer
	topoOn    bool // they were started; loop goroutine only
	topoInUse atomic.Bool
}

// New returns a proxier over the Services and Endpoints of s that drives
// dp; Run runs both.
func New(s store.Store, dp DataPlane, opts ...Option) (*Proxier, error) {
	cfg := proxierConfig{log: slog.New(slog.DiscardHandler), hcAddrs: []netip.Addr{netip.IPv4Unspecified()}}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if dp == nil {
		return nil, errors.New("proxy.New: data plane is nil")
	}
	p := &Proxier{cfg: cfg, store: s, dp: dp, kick: make(chan struct{}, 1)}
	p.services = informer.New(s, "Service", informer.Options{Logger: cfg.log})
	p.endpoints = informer.New(s, "Endpoints", informer.Options{Logger: cfg.log})
	for _, inf := range []*informer.Informer{p.services, p.endpoints} {
		inf.AddHandler(func(_, _ objects.Object) { p.signal() })
	}
	p.pods = informer.New(s, "Pod", informer.Options{Logger: cfg.log})
	p.pods.AddHandler(func(old, new objects.Object) {
		if podPlace(old) != podPlace(new) {
			p.podsDirty.Store(true)
			if p.podsInUse.Load() {
				p.signal()
			}
		}
	})
	p.nodes = informer.New(s, "Node", informer.Options{Logger: cfg.log})
	p.nodes.AddHandler(func(old, new objects.Object) {
		if nodeZone(old) != nodeZone(new) {
			p.podsDirty.Store(true)
			if p.topoInUse.Load() {
				p.signal()
			}
		}
	})
	p.slices = informer.New(s, "EndpointSlice", informer.Options{Logger: cfg.log})
	p.slices.AddHandler(func(old, new objects.Object) {
		if p.topoInUse.Load() && sliceHints(old) != sliceHints(new) {
			p.signal()
		}
	})
	p.health = newHealthServers(cfg.hcAddrs, cfg.log)
	return p, nil
}

// podPlace is what the proxier needs of a pod: its addresses and node,
// while it may send traffic (a pod of the host network is the host).
func podPlace(o objects.Object) string {
	pod, ok := o.(*objects.Pod)
	if !ok || pod.Spec.HostNetwork || pod.Spec.NodeName == "" || pod.IsTerminal() {
		return ""
	}
	ips := pod.Status.PodIP
	for _, ip := range pod.Status.PodIPs {
		ips += "," + ip.IP
	}
	if ips == "" {
		return ""
	}
	return pod.Spec.NodeName + "/" + ips
}

// nodeZone is a node's zone label, "" for none.
func nodeZone(o objects.Object) string {
	if n, ok := o.(*objects.Node); ok {
		return n.Labels[objects.LabelZone]
	}
	return ""
}

// sliceHints renders what the proxier reads of a slice: the service it
// belongs to and its endpoints' hints by address.
func sliceHints(o objects.Object) string {
	s, ok := o.(*objects.EndpointSlice)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, ep := range s.Endpoints {
		if ep.Hints == nil {
			continue
		}
		b.WriteString(strings.Join(ep.Addresses, ","))
		for _, z := range ep.Hints.ForZones {
			b.WriteString(" z=" + z.Name)
		}
		for _, n := range ep.Hints.ForNodes {
			b.WriteString(" n=" + n.Name)
		}
		b.WriteByte(';')
	}
	if b.Len() == 0 {
		return ""
	}
	return s.Labels[objects.LabelServiceName] + "|" + b.String()
}

func (p *Proxier) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run runs the data plane and keeps it in sync until ctx ends; then the
// data plane removes what it made, and Run returns once every goroutine
// it started has returned.
func (p *Proxier) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 5)
	runInformer := func(inf *informer.Informer) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := inf.Run(ctx); err != nil {
				select {
				case errc <- err:
				default:
				}
				cancel()
			}
		}()
	}
	runInformer(p.services)
	runInformer(p.endpoints)
	p.startInf = runInformer
	// The data plane outlives the sync loop, which calls it.
	dpCtx, stopDP := context.WithCancel(context.WithoutCancel(ctx))
	dpDone := make(chan error, 1)
	go func() { dpDone <- p.dp.Run(dpCtx) }()

	dpReturned, dpErr := p.loop(ctx, dpDone)
	cancel()
	p.health.closeAll()
	stopDP()
	if !dpReturned {
		dpErr = <-dpDone
	} else if dpErr == nil {
		dpErr = errors.New("service proxy: the data plane stopped")
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return dpErr
	}
}

// loop syncs until ctx ends or the data plane returns (true, its error).
func (p *Proxier) loop(ctx context.Context, dpDone <-chan error) (bool, error) {
	for _, inf := range []*informer.Informer{p.services, p.endpoints} {
		if inf.WaitForSync(ctx) != nil {
			return false, nil
		}
	}
	p.signal()
	backoff := 10 * time.Millisecond
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-dpDone:
			return true, err
		case <-p.kick:
		case <-retry:
		}
		retry = nil
		if err := p.syncOnce(ctx); err != nil && ctx.Err() == nil {
			p.cfg.log.Warn("service proxy sync failed; retrying", "err", err, "after", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
	}
}

func (p *Proxier) syncOnce(ctx context.Context) error {
	objs, err := p.services.List(store.ListOptions{}, nil)
	if err != nil {
		return err
	}
	svcs := make([]*objects.Service, len(objs))
	local, topo := false, false
	for i, o := range objs {
		svcs[i] = o.(*objects.Service)
		local = local || usesLocal(svcs[i])
		topo = topo || svcs[i].Spec.TrafficDistribution != nil
	}
	p.podsInUse.Store(local || topo)
	p.topoInUse.Store(topo)
	var hints func(objects.Key) map[netip.Addr]*objects.EndpointHints
	if topo {
		if err := p.startTopology(ctx); err != nil {
			return err
		}
		hints = p.hints
	}
	var pods *PodNodes
	if local || topo {
		if pods, err = p.podIndex(ctx); err != nil {
			return err
		}
	}
	endpoints := func(k objects.Key) *objects.Endpoints {
		if o, ok := p.endpoints.Get(k); ok {
			return o.(*objects.Endpoints)
		}
		return nil
	}
	ports := ServicePorts(svcs, endpoints, p.cfg.lb, pods, hints)
	syncErr := p.dp.Sync(ctx, ports)
	hcErr := p.health.sync(healthChecks(svcs, endpoints, syncErr == nil))
	return errors.Join(syncErr, hcErr, p.updateStatuses(ctx, svcs))
}

// usesLocal reports whether s has a Local traffic policy that the data
// plane needs pods' nodes for.
func usesLocal(s *objects.Service) bool {
	itp := s.Spec.InternalTrafficPolicy
	return (itp != nil && *itp == objects.ServiceInternalTrafficPolicyLocal) ||
		s.Spec.ExternalTrafficPolicy == objects.ServiceExternalTrafficPolicyLocal
}

// startTopology starts the EndpointSlice and Node informers the first
// time, and waits for them to fill.
func (p *Proxier) startTopology(ctx context.Context) error {
	if !p.topoOn {
		p.topoOn = true
		p.podsDirty.Store(true) // the pods' index gains the nodes' zones
		p.startInf(p.slices)
		p.startInf(p.nodes)
	}
	if err := p.slices.WaitForSync(ctx); err != nil {
		return err
	}
	return p.nodes.WaitForSync(ctx)
}

// hints returns the hints of the ready IPv4 endpoints of the Service with
// key, from the EndpointSlices labelled with its name, by address.
func (p *Proxier) hints(key objects.Key) map[netip.Addr]*objects.EndpointHints {
	objs, err := p.slices.List(store.ListOptions{Namespace: key.Namespace,
		Labels: objects.SelectorFromSet(map[string]string{objects.LabelServiceName: key.Name})}, nil)
	if err != nil {
		return nil
	}
	var out map[netip.Addr]*objects.EndpointHints
	for _, o := range objs {
		s := o.(*objects.EndpointSlice)
		if s.AddressType != objects.AddressTypeIPv4 {
			continue
		}
		for i := range s.Endpoints {
			ep := &s.Endpoints[i]
			if ep.Hints == nil || len(ep.Addresses) == 0 || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			ip, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil {
				continue
			}
			if out == nil {
				out = map[netip.Addr]*objects.EndpointHints{}
			}
			out[ip] = ep.Hints
		}
	}
	return out
}

// podIndex returns the nodes of the pods' addresses (and, while the Node
// informer runs, the nodes' zones), starting the pods informer the first
// time.
func (p *Proxier) podIndex(ctx context.Context) (*PodNodes, error) {
	if !p.podsOn {
		p.podsOn = true
		p.startInf(p.pods)
	}
	if err := p.pods.WaitForSync(ctx); err != nil {
		return nil, err
	}
	if p.podNodes != nil && !p.podsDirty.Swap(false) {
		return p.podNodes, nil
	}
	p.podsDirty.Store(false)
	objs, err := p.pods.List(store.ListOptions{}, nil)
	if err != nil {
		return nil, err
	}
	m := make(map[netip.Addr]string, len(objs))
	for _, o := range objs {
		pod := o.(*objects.Pod)
		if podPlace(pod) == "" {
			continue
		}
		add := func(v string) {
			if ip, err := netip.ParseAddr(v); err == nil && ip.Is4() {
				m[ip] = pod.Spec.NodeName
			}
		}
		add(pod.Status.PodIP)
		for _, ip := range pod.Status.PodIPs {
			add(ip.IP)
		}
	}
	var zones map[string]string
	if p.topoOn {
		nodes, err := p.nodes.List(store.ListOptions{}, nil)
		if err != nil {
			return nil, err
		}
		zones = make(map[string]string, len(nodes))
		for _, o := range nodes {
			if z := nodeZone(o); z != "" {
				zones[o.GetObjectMeta().Name] = z
			}
		}
	}
	p.podNodes = NewPodNodesInZones(m, zones)
	return p.podNodes, nil
}

// updateStatuses sets status.loadBalancer of LoadBalancer Services, and
// clears it from Services that are no longer of that type.
func (p *Proxier) updateStatuses(ctx context.Context, svcs []*objects.Service) error {
	var stale []*objects.Service
	for _, s := range svcs {
		if s.Spec.LoadBalancerClass != nil {
			continue // another implementation's to serve and report
		}
		if !slices.EqualFunc(s.Status.LoadBalancer.Ingress, p.lbIngress(s), lbIngressEqual) {
			stale = append(stale, s)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	return p.store.Update(ctx, func(tx store.Tx) error {
		for _, s := range stale {
			o, err := tx.Get("Service", s.Key())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			cur := o.(*objects.Service)
			want := p.lbIngress(cur)
			if slices.EqualFunc(cur.Status.LoadBalancer.Ingress, want, lbIngressEqual) {
				continue
			}
			cur.Status.LoadBalancer.Ingress = want
			if err := tx.UpdateStatus(cur); err != nil {
				return err
			}
		}
		return nil
	})
}

// servesLoadBalancer reports whether the proxy is the Service's load
// balancer: a LoadBalancer Service without a loadBalancerClass.
func servesLoadBalancer(s *objects.Service) bool {
	return s.Spec.Type == objects.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil
}

func (p *Proxier) lbIngress(s *objects.Service) []objects.LoadBalancerIngress {
	if !servesLoadBalancer(s) || !p.cfg.lb.IsValid() {
		return nil
	}
	in := objects.LoadBalancerIngress{IP: p.cfg.lb.String()}
	for _, port := range s.Spec.Ports {
		in.Ports = append(in.Ports, objects.PortStatus{Port: port.Port, Protocol: port.Protocol})
	}
	return []objects.LoadBalancerIngress{in}
}

func lbIngressEqual(a, b objects.LoadBalancerIngress) bool {
	return a.IP == b.IP && a.Hostname == b.Hostname && slices.EqualFunc(a.Ports, b.Ports, func(x, y objects.PortStatus) bool {
		return x.Port == y.Port && x.Protocol == y.Protocol && (x.Error == nil) == (y.Error == nil)
	})
}

// ServicePorts computes what a data plane forwards for svcs: one
// ServicePort per port of every Service with a cluster IP (headless and
// ExternalName Services have none), with the ready endpoints its
// Endpoints list for that port. endpoints returns a Service's Endpoints or
// nil; lb is the load balancer address (zero: none); hints, nil for none,
// returns the topology hints of a Service's endpoints by address (from its
// EndpointSlices), which the endpoints of Services with a
// trafficDistribution carry; pods, the nodes of pods' addresses, is set on
// the ports of Services with a Local policy and on those whose endpoints
// carry hints.
func ServicePorts(svcs []*objects.Service, endpoints func(objects.Key) *objects.Endpoints, lb netip.Addr, pods *PodNodes,
	hints func(objects.Key) map[netip.Addr]*objects.EndpointHints) []ServicePort {
	var out []ServicePort
	for _, s := range svcs {
		if s.Spec.Type == objects.ServiceTypeExternalName || s.IsHeadless() || s.Spec.ClusterIP == "" {
			continue
		}
		ips, external := ipv4s(s.Spec.ClusterIPs), ipv4s(s.Spec.ExternalIPs)
		var affinity time.Duration
		if s.Spec.SessionAffinity == objects.ServiceAffinityClientIP {
			affinity = time.Duration(objects.DefaultClientIPServiceAffinitySeconds) * time.Second
			if c := s.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
			}
		}
		ep := endpoints(s.Key())
		var hinted map[netip.Addr]*objects.EndpointHints
		if hints != nil && s.Spec.TrafficDistribution != nil {
			hinted = hints(s.Key())
		}
		itp := s.Spec.InternalTrafficPolicy
		internalLocal := itp != nil && *itp == objects.ServiceInternalTrafficPolicyLocal
		externalLocal := s.Spec.ExternalTrafficPolicy == objects.ServiceExternalTrafficPolicyLocal
		servedLB := servesLoadBalancer(s) && lb.IsValid()
		var sources []netip.Prefix // parsed once for all the ports
		if servedLB {
			sources = s.LoadBalancerSources()
		}
		for _, port := range s.Spec.Ports {
			name := port.Name
			if name == "" {
				name = strconv.Itoa(int(port.Port))
			}
			proto := port.Protocol
			if proto == "" {
				proto = objects.ProtocolTCP
			}
			sp := ServicePort{ID: s.Namespace + "/" + s.Name + ":" + name, Protocol: proto, ClusterIPs: ips,
				ExternalIPs: external, Port: uint16(port.Port), Affinity: affinity,
				InternalLocal: internalLocal, ExternalLocal: externalLocal}
			if s.Spec.Type == objects.ServiceTypeNodePort || s.Spec.Type == objects.ServiceTypeLoadBalancer {
				sp.NodePort = uint16(port.NodePort)
			}
			if servedLB {
				sp.LoadBalancer = []netip.AddrPort{netip.AddrPortFrom(lb, uint16(port.Port))}
				sp.SourceRanges = sources
			}
			if ep != nil {
				sp.Endpoints = readyEndpoints(ep, port.Name, proto, hinted)
			}
			if internalLocal || externalLocal || hasHints(sp.Endpoints) {
				sp.Pods = pods
			}
			out = append(out, sp)
		}
	}
	return out
}

// ipv4s returns the IPv4 addresses of vs, once each.
func ipv4s(vs []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range vs {
		if ip, err := netip.ParseAddr(v); err == nil && ip.Is4() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

func hasHints(eps []Endpoint) bool {
	return slices.ContainsFunc(eps, func(e Endpoint) bool { return len(e.ForZones) > 0 || len(e.ForNodes) > 0 })
}

func readyEndpoints(ep *objects.Endpoints, portName string, proto objects.Protocol, hints map[netip.Addr]*objects.EndpointHints) []Endpoint {
	var out []Endpoint
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = objects.ProtocolTCP
			}
			if p.Name != portName || pp != proto {
				continue
			}
			for _, a := range ss.Addresses {
				ip, err := netip.ParseAddr(a.IP)
				if err != nil || !ip.Is4() {
					continue
				}
				ap := netip.AddrPortFrom(ip, uint16(p.Port))
				if slices.ContainsFunc(out, func(e Endpoint) bool { return e.Addr == ap }) {
					continue
				}
				e := Endpoint{Addr: ap}
				if a.NodeName != nil {
					e.Node = *a.NodeName
				}
				if h := hints[ip]; h != nil {
					for _, z := range h.ForZones {
						e.ForZones = append(e.ForZones, z.Name)
					}
					for _, n := range h.ForNodes {
						e.ForNodes = append(e.ForNodes, n.Name)
					}
				}
				out = append(out, e)
			}
		}
	}
	return out
}
