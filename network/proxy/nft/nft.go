//go:build linux

// Package nft is the kernel data plane of the service proxy: nftables
// DNAT rules in a table of podkit's own, as kube-proxy's nftables mode
// writes them, so packets are forwarded by the kernel with no copy through
// the process. It needs root with CAP_NET_ADMIN; Available tells.
//
// The table (ip family, "podkit" unless WithTableName says otherwise):
//
//	nat-prerouting, nat-output   dstnat hooks: jump services
//	services                     ip daddr . proto . dport -> goto svc-*;
//	                             fib daddr type local -> goto nodeports
//	nodeports                    proto . dport -> goto svc-*
//	svc-<hash>                   affinity lookups, then a uniform random
//	                             pick (numgen) of an ep-* chain
//	ep-<hash>                    affinity update, masquerade mark, dnat
//	int-<hash>, nd-<hash>        internalTrafficPolicy Local: a client pod
//	                             to the pick among its node's endpoints
//	                             (set pods-<hash> of the node's pods),
//	                             another pod (set pods) to no DNAT, the
//	                             host to svc-*
//	ext-<hash>, epl-<hash>       externalTrafficPolicy Local: pods to svc-*
//	                             (top-* with hints), others to endpoints
//	                             without the mark
//	top-<hash>, tn-<hash>,       topology hints (trafficDistribution): a
//	tz-<hash>                    client pod to the pick among the endpoints
//	                             hinted for its node (set pods-<hash>),
//	                             else for its zone (set zone-<hash>), the
//	                             rest to svc-*
//	nat-postrouting              marked packets are masqueraded; with
//	                             externalTrafficPolicy Local in use, also
//	                             DNATed ones from 127.0.0.0/8 not leaving
//	                             by lo
//	filter-{input,forward,output} ct state new: jump reject
//	reject                       ports without endpoints, cluster IPs of
//	                             internalTrafficPolicy Local ports not
//	                             DNATed, and the rest of the service CIDR:
//	                             refused, never routed out
//	localnet-guard               filter input: drops packets for 127.0.0.0/8
//	                             from elsewhere that no NAT explains
//
// Every sync replaces the rules in one netlink batch, which the kernel
// applies atomically; affinity sets survive syncs, and the sets of pods'
// addresses change by their differences. The chains and sets of Local
// traffic policies exist only while a port has one (see local.go). Run
// deletes the table.
//
// NodePorts answer on 127.0.0.1 and load balancer addresses may be
// loopback addresses, as with kube-proxy's iptables mode: a packet the
// host sends from a loopback address to a pod leaves by a bridge, which
// the kernel allows only with net.ipv4.conf.all.route_localnet set. Run
// sets it, and guards the host against what it lets in as kube-proxy does
// (CVE-2020-8558) with the localnet-guard chain, whose rule remembers the
// value found before any data plane set it. The last data plane on the
// host to stop restores that value.
package nft

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
)

// MasqueradeMark is the packet mark bit that sends a forwarded packet
// through masquerade, kube-proxy's value.
const MasqueradeMark = 0x4000

// Option configures a DataPlane.
type Option func(*config) error

type config struct {
	table string
	cidr  netip.Prefix
	log   *slog.Logger
}

// WithTableName names the nftables table (default "podkit"); two data
// planes on one host need different names.
func WithTableName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("nft.WithTableName: name is empty")
		}
		c.table = name
		return nil
	}
}

// WithServiceCIDR makes traffic to addresses of the service range that no
// service port serves refused instead of routed off the host.
func WithServiceCIDR(cidr string) Option {
	return func(c *config) error {
		p, err := netip.ParsePrefix(cidr)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("nft.WithServiceCIDR: %q is not an IPv4 prefix", cidr)
		}
		c.cidr = p.Masked()
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("nft.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// DataPlane implements proxy.DataPlane with nftables.
type DataPlane struct {
	cfg config

	started chan struct{}
	once    sync.Once

	mu      sync.Mutex
	stopped bool
	conn    *nftables.Conn
	table   *nftables.Table
	base    map[string]*nftables.Chain // services, nodeports, reject, nat-postrouting
	chains  map[string]*nftables.Chain // svc-*, ep-* (and those of Local policies) of the last sync
	sets    map[string]*nftables.Set   // affinity sets and Local policies' maps of the last sync
	udpEps  map[string]map[netip.AddrPort]bool
	// elems is what the address sets of Local policies hold, by set;
	// podsFrom the pods they were last filled from.
	elems    map[string]map[netip.Addr]bool
	podsFrom *proxy.PodNodes
	runErr   error
	// localnet is the value route_localnet had before any data plane set
	// it, to restore when the last one stops.
	localnet string
}

// routeLocalnet is the sysctl that lets the host route packets from
// loopback addresses to other interfaces.
const routeLocalnet = "/proc/sys/net/ipv4/conf/all/route_localnet"

// ctStatusDstNAT is conntrack's IPS_DST_NAT status bit.
const ctStatusDstNAT = 1 << 5

// guardChain names the chain that guards route_localnet; data planes find
// each other's by this name.
const guardChain = "localnet-guard"

// New returns an nftables data plane; it changes nothing until Run.
func New(opts ...Option) (*DataPlane, error) {
	cfg := config{table: "podkit", log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &DataPlane{cfg: cfg, started: make(chan struct{})}, nil
}

// Available reports whether this process may program nftables: it adds
// and deletes an empty table.
func Available() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Name: fmt.Sprintf("podkit-probe-%d", unix.Getpid()), Family: nftables.TableFamilyIPv4})
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables cannot be changed by this process: %w", err)
	}
	return nil
}

// Run implements proxy.DataPlane: it creates the table, waits for ctx and
// deletes the table.
func (d *DataPlane) Run(ctx context.Context) error {
	first := false
	d.once.Do(func() { first = true })
	if !first {
		return errors.New("nft: a DataPlane runs once")
	}
	d.mu.Lock()
	err := d.setup()
	if err != nil {
		d.stopped, d.runErr = true, err
	}
	d.mu.Unlock()
	close(d.started)
	if err != nil {
		return err
	}
	<-ctx.Done()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	d.conn.DelTable(d.table)
	err = d.conn.Flush()
	if errors.Is(err, unix.ENOENT) {
		// Gone already: deleted behind this data plane's back, as by a
		// process started meanwhile with the same table name.
		d.cfg.log.Warn("nft: the table was gone at the end", "table", d.cfg.table)
		err = nil
	}
	if err == nil {
		d.restoreLocalnet()
	}
	if cerr := d.conn.CloseLasting(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("nft: delete table %s: %w", d.cfg.table, err)
	}
	return nil
}

// localnetComment prefixes the value route_localnet had before any data
// plane set it, in the comment of each guard rule.
const localnetComment = "route_localnet was "

// localnetBefore returns the value route_localnet had before any data
// plane set it: the one another data plane's guard (or one left by a
// process that died) remembers, else the current one.
func (d *DataPlane) localnetBefore(c *nftables.Conn) (string, error) {
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return "", err
	}
	for _, ch := range chains {
		if ch.Name != guardChain {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			continue // its table is being deleted
		}
		for _, r := range rules {
			if v, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
				if v, ok := strings.CutPrefix(v, localnetComment); ok {
					return v, nil
				}
			}
		}
	}
	b, err := os.ReadFile(routeLocalnet)
	return strings.TrimSpace(string(b)), err
}

// enableLocalnet sets route_localnet.
func (d *DataPlane) enableLocalnet() {
	b, err := os.ReadFile(routeLocalnet)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return
	}
	if err == nil {
		err = os.WriteFile(routeLocalnet, []byte("1"), 0o644)
	}
	if err != nil {
		d.cfg.log.Warn("NodePorts on 127.0.0.1 and loopback load balancer addresses will not answer: route_localnet cannot be set", "err", err)
	}
}

// restoreLocalnet, once the table is gone, puts back the value
// route_localnet had before any data plane set it, unless another data
// plane's guard shows it still needs the setting.
func (d *DataPlane) restoreLocalnet() {
	if d.localnet == "" || d.localnet == "1" {
		return
	}
	chains, err := d.conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		d.cfg.log.Warn("route_localnet left set: cannot list nftables chains", "err", err)
		return
	}
	for _, ch := range chains {
		if ch.Name == guardChain {
			return
		}
	}
	if err := os.WriteFile(routeLocalnet, []byte(d.localnet), 0o644); err != nil {
		d.cfg.log.Warn("cannot restore route_localnet", "err", err)
	}
}

func (d *DataPlane) setup() error {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nft: %w", err)
	}
	d.conn = c
	if d.localnet, err = d.localnetBefore(c); err != nil {
		d.cfg.log.Warn("route_localnet will be left set: its value cannot be read", "err", err)
	}
	d.table = &nftables.Table{Name: d.cfg.table, Family: nftables.TableFamilyIPv4}
	// A table left by a process that died is replaced.
	if t, err := c.ListTableOfFamily(d.cfg.table, nftables.TableFamilyIPv4); err == nil && t != nil {
		c.DelTable(d.table)
	}
	c.AddTable(d.table)
	d.base = map[string]*nftables.Chain{}
	for _, name := range []string{"services", "nodeports", "reject", "firewall"} {
		d.base[name] = c.AddChain(&nftables.Chain{Name: name, Table: d.table})
	}
	accept := nftables.ChainPolicyAccept
	hook := func(name string, typ nftables.ChainType, h *nftables.ChainHook, prio *nftables.ChainPriority, exprs ...expr.Any) *nftables.Chain {
		ch := c.AddChain(&nftables.Chain{Name: name, Table: d.table, Type: typ, Hooknum: h, Priority: prio, Policy: &accept})
		if len(exprs) > 0 {
			c.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: exprs})
		}
		return ch
	}
	jump := func(to string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: to} }
	hook("nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, jump("services"))
	hook("nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, jump("services"))
	d.base["nat-postrouting"] = hook("nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	d.addPostrouting(false)
	// Connections being opened only, as kube-proxy's filter chains: the
	// others' packets, every one of every established flow, pass without
	// a look at the reject rules (a connection to a service without
	// endpoints is refused at its first packet, and never established).
	ctNew := []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
	for name, h := range map[string]*nftables.ChainHook{
		"filter-input": nftables.ChainHookInput, "filter-forward": nftables.ChainHookForward, "filter-output": nftables.ChainHookOutput} {
		hook(name, nftables.ChainTypeFilter, h, nftables.ChainPriorityFilter, append(slices.Clone(ctNew), jump("reject"))...)
	}
	// loadBalancerSourceRanges, as kube-proxy's firewall chains: before
	// the destination NAT, at the first packet of a connection.
	beforeDNAT := nftables.ChainPriorityRef(*nftables.ChainPriorityNATDest - 10)
	for name, h := range map[string]*nftables.ChainHook{
		"firewall-prerouting": nftables.ChainHookPrerouting, "firewall-output": nftables.ChainHookOutput} {
		hook(name, nftables.ChainTypeFilter, h, beforeDNAT, append(slices.Clone(ctNew), jump("firewall"))...)
	}
	// ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state != established,related
	// ct status != dnat drop: with route_localnet set, a packet for a loopback
	// address arriving from outside would otherwise reach services bound to
	// it.
	loopbackMask := []byte{255, 0, 0, 0}
	ctBits := func(key expr.CtKey, bits uint32) []expr.Any {
		return []expr.Any{
			&expr.Ct{Register: 1, Key: key},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		}
	}
	guard := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: loopbackMask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127, 0, 0, 0}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: loopbackMask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{127, 0, 0, 0}},
	}
	guard = append(guard, ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED)...)
	guard = append(guard, ctBits(expr.CtKeySTATUS, ctStatusDstNAT)...)
	c.AddRule(&nftables.Rule{Table: d.table, Exprs: append(guard, &expr.Verdict{Kind: expr.VerdictDrop}),
		Chain:    hook(guardChain, nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter),
		UserData: userdata.AppendString(nil, userdata.TypeComment, localnetComment+d.localnet)})
	d.chains, d.sets, d.udpEps = map[string]*nftables.Chain{}, map[string]*nftables.Set{}, map[string]map[netip.AddrPort]bool{}
	d.elems = map[string]map[netip.Addr]bool{}
	d.addCatchAll()
	if err := c.Flush(); err != nil {
		c.CloseLasting()
		return fmt.Errorf("nft: create table %s (needs root with CAP_NET_ADMIN): %w", d.cfg.table, err)
	}
	d.enableLocalnet()
	d.cfg.log.Info("nftables data plane ready", "table", d.cfg.table)
	return nil
}

// Sync implements proxy.DataPlane.
func (d *DataPlane) Sync(ctx context.Context, ports []proxy.ServicePort) error {
	select {
	case <-d.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		if d.runErr != nil {
			return fmt.Errorf("%w: %v", proxy.ErrStopped, d.runErr)
		}
		return proxy.ErrStopped
	}
	c := d.conn
	for _, ch := range d.base {
		c.FlushChain(ch)
	}
	for _, ch := range d.chains {
		c.FlushChain(ch)
	}
	b := &batch{d: d, chains: map[string]*nftables.Chain{}, sets: map[string]*nftables.Set{}}
	use := localUseOf(ports)
	b.syncPods(use)
	udpEps := map[string]map[netip.AddrPort]bool{}
	for i := range ports {
		sp := &ports[i]
		proto, ok := ipProto(sp.Protocol)
		if !ok {
			continue
		}
		if sp.Protocol == objects.ProtocolUDP {
			udpEps[sp.ID] = map[netip.AddrPort]bool{}
			for _, ep := range sp.Endpoints {
				udpEps[sp.ID][ep.Addr] = true
			}
		}
		b.servicePort(sp, proto, use.topology[sp.ID])
	}
	b.rule(d.base["services"], append(fibLocal(), &expr.Verdict{Kind: expr.VerdictGoto, Chain: "nodeports"})...)
	d.addCatchAll()
	d.addPostrouting(use.external)
	// Chains and sets no longer used go after the rules that used them.
	for name, ch := range d.chains {
		if _, ok := b.chains[name]; !ok {
			c.DelChain(ch)
		}
	}
	for name, s := range d.sets {
		if _, ok := b.sets[name]; !ok {
			c.DelSet(s)
		}
	}
	if err := c.Flush(); err != nil {
		// The batch was refused whole: the kernel keeps the previous
		// rules, and the sets their elements.
		d.elems = b.elemsBefore
		return errors.Join(append(b.errs, fmt.Errorf("nft: sync: %w", err))...)
	}
	d.chains, d.sets = b.chains, b.sets
	for name := range d.elems {
		if _, ok := d.sets[name]; !ok {
			delete(d.elems, name)
		}
	}
	d.podsFrom = use.pods
	d.forgetUDPFlows(udpEps)
	return errors.Join(b.errs...)
}

// batch is the rules, chains and sets of one Sync.
type batch struct {
	d      *DataPlane
	chains map[string]*nftables.Chain // those of this sync
	sets   map[string]*nftables.Set
	errs   []error
	// The sets of pods' addresses, when a port needs them (see
	// syncPods); elemsBefore is d.elems before this sync.
	podSet      *nftables.Set
	nodeSets    map[string]*nftables.Set
	zoneSets    map[string]*nftables.Set
	elemsBefore map[string]map[netip.Addr]bool
}

// chain returns the chain called name, made empty, and whether this sync
// had not asked for it yet (its rules are to be written).
func (b *batch) chain(name string) (*nftables.Chain, bool) {
	if ch, ok := b.chains[name]; ok {
		return ch, false
	}
	ch, ok := b.d.chains[name]
	if !ok {
		ch = b.d.conn.AddChain(&nftables.Chain{Name: name, Table: b.d.table})
	}
	b.chains[name] = ch
	return ch, true
}

func (b *batch) rule(ch *nftables.Chain, exprs ...expr.Any) {
	b.d.conn.AddRule(&nftables.Rule{Table: b.d.table, Chain: ch, Exprs: exprs})
}

func goTo(chain string) expr.Any { return &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain} }

// servicePort writes the rules of one service port; topo is the port's
// Topology, empty without hints.
func (b *batch) servicePort(sp *proxy.ServicePort, proto byte, topo proxy.Topology) {
	base := b.d.base
	var internal, external []netip.AddrPort
	for _, ip := range sp.ClusterIPs {
		if ip.Is4() {
			internal = append(internal, netip.AddrPortFrom(ip, sp.Port))
		}
	}
	for _, ip := range sp.ExternalIPs {
		if ip.Is4() {
			external = append(external, netip.AddrPortFrom(ip, sp.Port))
		}
	}
	external = append(external, sp.LoadBalancer...)
	b.firewall(sp, proto)
	eps := ipv4Endpoints(sp.Endpoints)
	if len(eps) == 0 {
		for _, f := range append(internal, external...) {
			b.rule(base["reject"], append(matchDst(f, proto), rejectFor(sp.Protocol))...)
		}
		if sp.NodePort != 0 {
			b.rule(base["reject"], append(append(fibLocal(), matchPort(proto, sp.NodePort)...), rejectFor(sp.Protocol))...)
		}
		return
	}
	svcName := "svc-" + hash(sp.ID)
	svc, _ := b.chain(svcName)
	b.spread(svc, sp, eps, "ep-")
	// Pods' connections follow the hints, as kube-proxy's cluster
	// endpoints do; the host's go to svcName.
	clusterTo := svcName
	if !topo.Empty() && b.podSet != nil {
		clusterTo = b.topology(sp, topo, svcName)
	}
	intTo, extTo := clusterTo, clusterTo
	if sp.InternalLocal && b.podSet != nil {
		intTo = b.internalLocal(sp, eps, svcName)
		// A connection still bound for a cluster IP once past the NAT
		// hooks is a pod's whose node has no endpoint.
		for _, f := range internal {
			b.rule(base["reject"], append(matchDst(f, proto), rejectFor(sp.Protocol))...)
		}
	}
	if sp.ExternalLocal {
		extTo = b.externalLocal(sp, eps, clusterTo)
	}
	for _, f := range internal {
		b.rule(base["services"], append(matchDst(f, proto), goTo(intTo))...)
	}
	for _, f := range external {
		b.rule(base["services"], append(matchDst(f, proto), goTo(extTo))...)
	}
	if sp.NodePort != 0 {
		b.rule(base["nodeports"], append(matchPort(proto, sp.NodePort), goTo(extTo))...)
	}
}

// firewall writes the rules that drop connections to the port's load
// balancer addresses from clients outside its source ranges.
func (b *batch) firewall(sp *proxy.ServicePort, proto byte) {
	if len(sp.SourceRanges) == 0 || len(sp.LoadBalancer) == 0 {
		return
	}
	name := "fw-" + hash(sp.ID)
	ch, fresh := b.chain(name)
	if fresh {
		for _, r := range sp.SourceRanges {
			if r.Addr().Is4() {
				b.rule(ch, append(matchSrc(r), &expr.Verdict{Kind: expr.VerdictReturn})...)
			}
		}
		b.rule(ch, &expr.Verdict{Kind: expr.VerdictDrop})
	}
	for _, lb := range sp.LoadBalancer {
		b.rule(b.d.base["firewall"], append(matchDst(lb, proto), &expr.Verdict{Kind: expr.VerdictJump, Chain: name})...)
	}
}

// ipv4Endpoints returns the endpoints of eps with IPv4 addresses.
func ipv4Endpoints(eps []proxy.Endpoint) []proxy.Endpoint {
	var out []proxy.Endpoint
	for _, ep := range eps {
		if ep.Addr.Addr().Is4() {
			out = append(out, ep)
		}
	}
	return out
}

// spread writes the rules of ch that send a connection to one of eps: to
// the client's affinity endpoint while it has one, else to a uniform
// random pick. Each endpoint has a chain (prefix and a hash) that
// remembers the client's affinity and DNATs, with the masquerade mark
// unless prefix is that of externalTrafficPolicy Local.
func (b *batch) spread(ch *nftables.Chain, sp *proxy.ServicePort, eps []proxy.Endpoint, prefix string) {
	var names []string
	for _, ep := range eps {
		id := hash(sp.ID + "|" + ep.Addr.String())
		name := prefix + id
		names = append(names, name)
		epc, fresh := b.chain(name)
		var set *nftables.Set
		if sp.Affinity > 0 {
			if set = b.affinitySet("aff-"+id, sp.Affinity); set != nil {
				b.rule(ch, loadSaddr(), &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID}, goTo(name))
			}
		}
		if !fresh {
			continue
		}
		var exprs []expr.Any
		if set != nil {
			exprs = append(exprs, loadSaddr(), &expr.Dynset{SrcRegKey: 1, SetName: set.Name, SetID: set.ID,
				Operation: unix.NFT_DYNSET_OP_UPDATE, Timeout: sp.Affinity})
		}
		if prefix != extLocalPrefix {
			exprs = append(exprs,
				&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
					Mask: binaryutil.NativeEndian.PutUint32(^uint32(MasqueradeMark)), Xor: binaryutil.NativeEndian.PutUint32(MasqueradeMark)},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
		}
		ip := ep.Addr.Addr().As4()
		exprs = append(exprs,
			&expr.Immediate{Register: 1, Data: ip[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ep.Addr.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
		b.rule(epc, exprs...)
	}
	// A uniform pick: endpoint i is taken with probability 1/(n-i)
	// among those left, each rule drawing a fresh random number.
	n := len(names)
	for i, name := range names {
		if i == n-1 {
			b.rule(ch, goTo(name))
			break
		}
		b.rule(ch, &expr.Numgen{Register: 1, Modulus: uint32(n - i), Type: unix.NFT_NG_RANDOM},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)}, goTo(name))
	}
}

func (b *batch) affinitySet(name string, timeout time.Duration) *nftables.Set {
	if s, ok := b.sets[name]; ok {
		return s
	}
	d := b.d
	if s, ok := d.sets[name]; ok && s.Timeout == timeout {
		b.sets[name] = s
		return s
	} else if ok {
		d.conn.DelSet(s)
		delete(d.sets, name)
	}
	s := &nftables.Set{Table: d.table, Name: name, KeyType: nftables.TypeIPAddr, HasTimeout: true, Dynamic: true, Timeout: timeout}
	if err := d.conn.AddSet(s, nil); err != nil {
		b.errs = append(b.errs, fmt.Errorf("nft: affinity set %s: %w", name, err))
		return nil
	}
	b.sets[name] = s
	return s
}

// addCatchAll refuses the rest of the service range.
func (d *DataPlane) addCatchAll() {
	if !d.cfg.cidr.IsValid() {
		return
	}
	net4 := d.cfg.cidr.Addr().As4()
	mask := netipMask(d.cfg.cidr.Bits())
	match := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net4[:]},
	}
	ch := d.base["reject"]
	tcp := append(append(append([]expr.Any{}, match...), &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}}), rejectFor(objects.ProtocolTCP))
	d.conn.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: tcp})
	d.conn.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: append(append([]expr.Any{}, match...), rejectFor(objects.ProtocolUDP))})
}

func netipMask(bits int) []byte {
	m := ^uint32(0) << (32 - bits)
	if bits == 0 {
		m = 0
	}
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// forgetUDPFlows deletes the conntrack entries of UDP flows to endpoints
// that were removed, as kube-proxy does: otherwise a client sending from
// the same port keeps reaching the removed endpoint.
func (d *DataPlane) forgetUDPFlows(now map[string]map[netip.AddrPort]bool) {
	gone := map[netip.AddrPort]bool{}
	for id, eps := range d.udpEps {
		for ep := range eps {
			if !now[id][ep] {
				gone[ep] = true
			}
		}
	}
	d.udpEps = now
	if len(gone) == 0 {
		return
	}
	if _, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, flowsTo(gone)); err != nil {
		d.cfg.log.Warn("could not forget UDP flows to removed endpoints", "err", err)
	}
}

type flowsTo map[netip.AddrPort]bool

func (f flowsTo) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP {
		return false
	}
	ip, ok := netip.AddrFromSlice(flow.Reverse.SrcIP)
	return ok && f[netip.AddrPortFrom(ip.Unmap(), flow.Reverse.SrcPort)]
}

func ipProto(p objects.Protocol) (byte, bool) {
	switch p {
	case objects.ProtocolTCP, "":
		return unix.IPPROTO_TCP, true
	case objects.ProtocolUDP:
		return unix.IPPROTO_UDP, true
	case objects.ProtocolSCTP:
		return unix.IPPROTO_SCTP, true
	}
	return 0, false
}

func loadSaddr() expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
}

// matchSrc matches a source address in the IPv4 prefix p.
func matchSrc(p netip.Prefix) []expr.Any {
	p = p.Masked()
	ip := p.Addr().As4()
	mask := binaryutil.BigEndian.PutUint32(^uint32(0) << (32 - p.Bits()))
	return []expr.Any{
		loadSaddr(),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
	}
}

func matchPort(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func matchDst(f netip.AddrPort, proto byte) []expr.Any {
	ip := f.Addr().As4()
	return append([]expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
	}, matchPort(proto, f.Port())...)
}

func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func rejectFor(p objects.Protocol) expr.Any {
	if p == objects.ProtocolTCP {
		return &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}
	}
	return &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3} // port unreachable
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
