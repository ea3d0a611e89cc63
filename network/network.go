// Package network gives pods and the host Kubernetes Service networking:
// cluster IPs and node ports allocated when a Service is stored
// (network/ipam), the endpoints and endpoint slice controllers
// (EndpointsController, EndpointSliceController), cluster DNS
// (network/dns), the service proxy with a userspace or an nftables data
// plane (network/proxy, network/proxy/nft), and the Ingress controller
// (network/ingress).
//
// Network bundles them for an orchestrator: Allocate is the admission hook
// for Services, AddControllers registers both endpoints controllers with
// a reconcile.Manager, DNSServers, ClusterDomain and HostDNS are what node
// agents build pods' resolver configuration from (dns.PodDNSConfig), and
// Run runs DNS, the proxy and the Ingress controller. Each part can also
// be used on its own.
//
// # How pods reach cluster DNS
//
// The DNS server listens on 127.0.0.1:53 unless WithDNS says otherwise,
// which serves the host but not pods, whose loopback is their own. Pods
// reach the host on their network's gateway instead: AddDNSListenAddr
// makes the server listen there too, before or while Run runs. The
// orchestrator does this by itself for every node whose runtime tells its
// address on the pod network (runtime.HostAddresser, which the Docker and
// containerd backends implement): it listens on that gateway's port 53 and
// gives the node's pods the gateway as their nameserver, with the search
// domains <namespace>.svc.<domain> svc.<domain> <domain> followed by the
// host's (HostDNS), and ndots:5 (dns.PodDNSConfig, the kubelet's rules). On
// Docker, a container's resolver is the engine's embedded server
// (127.0.0.11), which forwards names it does not know to the gateway; on
// containerd, the pod's resolv.conf names the gateway.
//
// Only one process can listen on a gateway's port 53: two orchestrators on
// one host need pod networks of their own (docker.WithNetwork;
// containerd.WithNetwork and containerd.WithSubnet) for each to serve its
// pods. Sockets are bound with IP_FREEBIND, so a gateway whose bridge
// appears only with the first pod (containerd's) can be listened on before.
//
// # Traffic distribution
//
// A Service's spec.trafficDistribution works as in Kubernetes: the endpoint
// slice controller hints each ready endpoint for its node's zone (and, with
// PreferSameNode, for its node), and the service proxy sends a pod's
// connections to the endpoints hinted for its node, else its zone, else to
// any (network/proxy describes the rules). Nodes are placed in zones by
// their topology.kubernetes.io/zone label, which a host program sets when
// it registers them; nodes without one make PreferSameZone a no-op for the
// Services with endpoints on them.
//
// # NetworkPolicy
//
// Run also runs the NetworkPolicy engine (network/policy), which enforces
// the store's NetworkPolicies in nftables tables of its own (named after
// WithNFTablesTable's, with "-policy" appended) when this process may
// change nftables, the condition of the kernel data plane. Otherwise, or
// with WithoutNetworkPolicy, policies are stored but not enforced, as on a
// Kubernetes cluster whose network plugin does not enforce them, and the
// first one stored is met with a warning in the log.
package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/podkit/podkit/network/dns"
	"github.com/podkit/podkit/network/ingress"
	"github.com/podkit/podkit/network/ipam"
	"github.com/podkit/podkit/network/policy"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// DataPlaneMode chooses the service proxy's data plane.
type DataPlaneMode string

// Data plane modes.
const (
	// DataPlaneAuto uses nftables where this process may change them,
	// else the userspace data plane.
	DataPlaneAuto      DataPlaneMode = "auto"
	DataPlaneUserspace DataPlaneMode = "userspace"
	DataPlaneNFTables  DataPlaneMode = "nftables"
	// DataPlaneNone runs no service proxy.
	DataPlaneNone DataPlaneMode = "none"
)

// Option configures a Network.
type Option func(*config) error

type config struct {
	ipam       []ipam.Option
	dns        []dns.Option
	dnsOff     bool
	domain     string
	dnsServers []string
	resolvConf string
	mode       DataPlaneMode
	userspace  []proxy.UserspaceOption
	nftTable   string
	proxy      []proxy.Option
	ingress    []ingress.Option
	ingressOn  bool
	policyOff  string
	log        *slog.Logger
}

// WithServiceCIDR sets the range cluster IPs come from (default
// 10.96.0.0/12). Unprivileged with the userspace data plane, choose one
// inside 127.0.0.0/8 (see network/proxy).
func WithServiceCIDR(cidr string) Option {
	return func(c *config) error {
		c.ipam = append(c.ipam, ipam.WithServiceCIDR(cidr))
		return nil
	}
}

// WithNodePortRange sets the node port range (default 30000-32767).
func WithNodePortRange(r string) Option {
	return func(c *config) error { c.ipam = append(c.ipam, ipam.WithNodePortRange(r)); return nil }
}

// WithClusterDomain sets the cluster domain (default cluster.local).
func WithClusterDomain(domain string) Option {
	return func(c *config) error {
		c.dns = append(c.dns, dns.WithClusterDomain(domain))
		c.domain = domain
		return nil
	}
}

// WithDNS configures the cluster DNS server: listen addresses (default
// 127.0.0.1:53) and further dns options. The hosts of the listen
// addresses are the nameservers (DNSServers) node agents give pods on
// runtimes that do not tell their gateway (see the package documentation:
// on Docker and containerd the orchestrator adds the gateway by itself).
func WithDNS(listen []string, opts ...dns.Option) Option {
	return func(c *config) error {
		c.dns = append(c.dns, dns.WithListenAddrs(listen...))
		c.dns = append(c.dns, opts...)
		c.dnsServers = nil
		for _, l := range listen {
			c.dnsServers = append(c.dnsServers, dns.ServerAddr(l))
		}
		return nil
	}
}

// WithoutDNS runs no DNS server; pods then get the host's resolvers.
func WithoutDNS() Option {
	return func(c *config) error { c.dnsOff = true; return nil }
}

// WithDataPlane chooses the service proxy's data plane (default auto).
func WithDataPlane(m DataPlaneMode) Option {
	return func(c *config) error {
		switch m {
		case DataPlaneAuto, DataPlaneUserspace, DataPlaneNFTables, DataPlaneNone:
			c.mode = m
			return nil
		}
		return fmt.Errorf("network.WithDataPlane: unknown mode %q", m)
	}
}

// WithUserspaceOptions passes options to the userspace data plane.
func WithUserspaceOptions(opts ...proxy.UserspaceOption) Option {
	return func(c *config) error { c.userspace = append(c.userspace, opts...); return nil }
}

// WithNFTablesTable names the nftables table (default "podkit"); two
// orchestrators on one host need different names.
func WithNFTablesTable(name string) Option {
	return func(c *config) error { c.nftTable = name; return nil }
}

// WithLoadBalancerAddress sets the host address Services of type
// LoadBalancer are served on (see proxy.WithLoadBalancerAddress).
func WithLoadBalancerAddress(addr string) Option {
	return func(c *config) error { c.proxy = append(c.proxy, proxy.WithLoadBalancerAddress(addr)); return nil }
}

// WithIngress runs the Ingress controller, with its options (listen
// addresses default to :80 and :443).
func WithIngress(opts ...ingress.Option) Option {
	return func(c *config) error { c.ingressOn = true; c.ingress = append(c.ingress, opts...); return nil }
}

// WithoutNetworkPolicy enforces no NetworkPolicy: they are stored, and
// the first one is met with a warning saying reason.
func WithoutNetworkPolicy(reason string) Option {
	return func(c *config) error {
		if reason == "" {
			reason = "network.WithoutNetworkPolicy"
		}
		c.policyOff = reason
		return nil
	}
}

// WithResolvConf names the host's resolver configuration (default
// /etc/resolv.conf), read once by New for HostDNS.
func WithResolvConf(path string) Option {
	return func(c *config) error { c.resolvConf = path; return nil }
}

// WithLogger sets the logger of every part (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("network.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// Network is the networking of one orchestrator.
type Network struct {
	cfg     config
	alloc   *ipam.Allocator
	dns     *dns.Server
	proxier *proxy.Proxier
	ingress *ingress.Controller
	policy  *policy.Engine
	mode    DataPlaneMode
	host    runtime.DNSConfig
}

// New builds the networking over s. It changes nothing on the host until
// Run.
func New(s store.Store, opts ...Option) (*Network, error) {
	cfg := config{mode: DataPlaneAuto, log: slog.New(slog.DiscardHandler), domain: dns.DefaultClusterDomain,
		dnsServers: []string{dns.ServerAddr(dns.DefaultListenAddr)}, resolvConf: "/etc/resolv.conf", nftTable: "podkit"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	n := &Network{cfg: cfg}
	var err error
	if n.alloc, err = ipam.New(cfg.ipam...); err != nil {
		return nil, err
	}
	if h, err := dns.HostDNSConfig(cfg.resolvConf); err == nil {
		n.host = h
	}
	if !cfg.dnsOff {
		if n.dns, err = dns.New(s, append([]dns.Option{dns.WithLogger(cfg.log)}, cfg.dns...)...); err != nil {
			return nil, err
		}
		n.cfg.domain = n.dns.Domain()
	}
	n.mode = cfg.mode
	if n.mode == DataPlaneAuto {
		n.mode = DataPlaneUserspace
		if nft.Available() == nil {
			n.mode = DataPlaneNFTables
		}
	}
	var dp proxy.DataPlane
	switch n.mode {
	case DataPlaneUserspace:
		dp, err = proxy.NewUserspace(append([]proxy.UserspaceOption{proxy.WithUserspaceLogger(cfg.log)}, cfg.userspace...)...)
	case DataPlaneNFTables:
		dp, err = nft.New(nft.WithTableName(cfg.nftTable), nft.WithServiceCIDR(n.alloc.ServiceCIDR().String()), nft.WithLogger(cfg.log))
	}
	if err != nil {
		return nil, err
	}
	if dp != nil {
		if n.proxier, err = proxy.New(s, dp, append([]proxy.Option{proxy.WithLogger(cfg.log)}, cfg.proxy...)...); err != nil {
			return nil, err
		}
	}
	polOpts := []policy.Option{policy.WithTableName(cfg.nftTable + "-policy"), policy.WithLogger(cfg.log)}
	if cfg.policyOff != "" {
		polOpts = append(polOpts, policy.WithoutEnforcement(cfg.policyOff))
	}
	if n.policy, err = policy.New(s, polOpts...); err != nil {
		return nil, err
	}
	if cfg.ingressOn {
		if n.ingress, err = ingress.New(s, append([]ingress.Option{ingress.WithLogger(cfg.log)}, cfg.ingress...)...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Indexes returns the store field indexes allocation uses; register them
// with the store (memdb.WithIndex) so allocation costs a lookup, not a
// scan.
func (n *Network) Indexes() []store.FieldIndex { return ipam.Indexes() }

// Allocator returns the cluster IP and node port allocator.
func (n *Network) Allocator() *ipam.Allocator { return n.alloc }

// Allocate is the admission hook for Services: call it inside the write
// transaction that creates or updates obj, after defaulting and
// validation (and, on update, obj.PatchAllocatedValues(old)); old is nil
// on create. Objects of other kinds pass untouched.
func (n *Network) Allocate(tx store.ReadTx, obj, old objects.Object) error {
	svc, ok := obj.(*objects.Service)
	if !ok {
		return nil
	}
	var o *objects.Service
	if old != nil {
		o, _ = old.(*objects.Service)
	}
	return n.alloc.Allocate(tx, svc, o)
}

// AddControllers registers the endpoints and endpoint slice controllers
// with m.
func (n *Network) AddControllers(m *reconcile.Manager) error {
	if err := m.Add(EndpointsController(m)); err != nil {
		return err
	}
	return m.Add(EndpointSliceController(m))
}

// ClusterDomain returns the cluster domain.
func (n *Network) ClusterDomain() string { return n.cfg.domain }

// DNSServers returns the nameservers pods are given: the hosts of the DNS
// listen addresses, or none without DNS.
func (n *Network) DNSServers() []string {
	if n.dns == nil {
		return nil
	}
	return append([]string(nil), n.cfg.dnsServers...)
}

// AddDNSListenAddr makes the cluster DNS server listen on addr
// ("host:port") too, such as port 53 of a pod network's gateway (see the
// package documentation and dns.Server.AddListenAddr); it binds at once
// and serves while Run runs. Adding an address twice does nothing. It
// fails without DNS, or when the address is in use.
func (n *Network) AddDNSListenAddr(addr string) error {
	if n.dns == nil {
		return errors.New("network: cluster DNS is off")
	}
	return n.dns.AddListenAddr(addr)
}

// Close releases the DNS sockets AddDNSListenAddr bound that Run does not
// serve; call it once Run has returned for good.
func (n *Network) Close() error {
	if n.dns == nil {
		return nil
	}
	return n.dns.Close()
}

// HostDNS returns the host's resolver configuration, as dns.HostDNSConfig
// read it from WithResolvConf's file (empty when it could not be read): what
// node agents give pods with dnsPolicy Default, and whose search domains
// follow the cluster's for ClusterFirst pods (nodeagent.WithHostDNS).
func (n *Network) HostDNS() runtime.DNSConfig {
	return n.host.Clone()
}

// DataPlane returns the data plane in use (auto resolved).
func (n *Network) DataPlane() DataPlaneMode { return n.mode }

// DNS returns the DNS server, or nil.
func (n *Network) DNS() *dns.Server { return n.dns }

// Ingress returns the Ingress controller, or nil.
func (n *Network) Ingress() *ingress.Controller { return n.ingress }

// Policy returns the NetworkPolicy engine.
func (n *Network) Policy() *policy.Engine { return n.policy }

// Run runs DNS, the service proxy, the NetworkPolicy engine and the
// Ingress controller until ctx ends or one fails; it returns after every
// goroutine they started has returned and the proxy and the policy engine
// have removed their rules and addresses.
func (n *Network) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%s: %w", name, err)
				}
				mu.Unlock()
				cancel()
			}
		}()
	}
	if n.dns != nil {
		run("cluster DNS", n.dns.Run)
	}
	if n.proxier != nil {
		run("service proxy", n.proxier.Run)
	}
	run("network policy", n.policy.Run)
	if n.ingress != nil {
		run("ingress", n.ingress.Run)
	}
	n.cfg.log.Info("network running", "dataPlane", n.mode, "networkPolicy", n.policy.Enforced(), "serviceCIDR", n.alloc.ServiceCIDR(), "domain", n.cfg.domain)
	wg.Wait()
	return first
}

// ServiceCIDR returns the range cluster IPs come from.
func (n *Network) ServiceCIDR() netip.Prefix { return n.alloc.ServiceCIDR() }
