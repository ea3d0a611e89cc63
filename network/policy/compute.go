package policy

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/podkit/podkit/objects"
)

// Program is what NetworkPolicies mean for the pods of the store at one
// moment, in the terms the kernel is told: for each policy, the pod
// addresses it isolates in each direction and, per rule, the peers and
// ports it allows. Compute makes it; Allows evaluates it as the kernel
// rules do.
type Program struct {
	// Policies are sorted by namespace and name.
	Policies []PolicyProgram
}

// PolicyProgram is one NetworkPolicy.
type PolicyProgram struct {
	Key objects.Key
	// Ingress and Egress are nil when the policy is not of that type.
	Ingress, Egress *Direction
}

// Direction is what a policy says about one direction of traffic.
type Direction struct {
	// Selected are the addresses of the pods the policy isolates in this
	// direction, sorted.
	Selected []netip.Addr
	// Rules are allowed one by one: traffic passes when any matches.
	Rules []Rule
}

// Rule is one ingress or egress rule: traffic from (to) a peer, to one of
// the ports.
type Rule struct {
	// AnyPeer: the rule names no peer, so every address matches. Else
	// Peers, merged and sorted, may be empty (a selector matching no pod).
	AnyPeer bool
	Peers   []Range
	// AnyPort: the rule names no port. Else Ports and Named (which may
	// both be empty: a named port no destination pod has).
	AnyPort bool
	Ports   []PortRange
	// Named are the destinations of named ports, each resolved against
	// the container ports of a destination pod.
	Named []Endpoint
}

// Range is the IPv4 addresses First..Last, inclusive.
type Range struct{ First, Last netip.Addr }

// PortRange is the ports First..Last of a protocol (0..65535: every port).
type PortRange struct {
	Proto       objects.Protocol
	First, Last uint16
}

// Endpoint is an address, protocol and port.
type Endpoint struct {
	Addr  netip.Addr
	Proto objects.Protocol
	Port  uint16
}

// Allows reports whether a new connection from src to dst (protocol,
// destination port) passes: src's egress policies, if any isolates it,
// allow it, and dst's ingress policies, if any isolates it, allow it.
// Packets of connections already allowed, and traffic to or from the
// host, are not this function's business: they always pass.
func (p *Program) Allows(src, dst netip.Addr, proto objects.Protocol, port uint16) bool {
	return p.allowed(src, dst, proto, port, true) && p.allowed(src, dst, proto, port, false)
}

func (p *Program) allowed(src, dst netip.Addr, proto objects.Protocol, port uint16, egress bool) bool {
	self, peer := dst, src
	if egress {
		self, peer = src, dst
	}
	isolated := false
	for i := range p.Policies {
		d := p.Policies[i].Ingress
		if egress {
			d = p.Policies[i].Egress
		}
		if d == nil {
			continue
		}
		if _, ok := slices.BinarySearchFunc(d.Selected, self, netip.Addr.Compare); !ok {
			continue
		}
		isolated = true
		for _, r := range d.Rules {
			if r.matches(peer, dst, proto, port) {
				return true
			}
		}
	}
	return !isolated
}

func (r *Rule) matches(peer, dst netip.Addr, proto objects.Protocol, port uint16) bool {
	if !r.AnyPeer && !slices.ContainsFunc(r.Peers, func(rg Range) bool {
		return rg.First.Compare(peer) <= 0 && peer.Compare(rg.Last) <= 0
	}) {
		return false
	}
	if r.AnyPort {
		return true
	}
	for _, pr := range r.Ports {
		if pr.Proto == proto && pr.First <= port && port <= pr.Last {
			return true
		}
	}
	return slices.Contains(r.Named, Endpoint{dst, proto, port})
}

// podInfo is what Compute reads of a pod.
type podInfo struct {
	pod  *objects.Pod
	addr netip.Addr
}

// Compute returns the program of policies over pods and namespaces, with
// Kubernetes' semantics. A pod counts when it has an IPv4 address, does
// not use the host's network and has not terminated: only such pods are
// selected and only their addresses are peers.
func Compute(pods []*objects.Pod, namespaces []*objects.Namespace, policies []*objects.NetworkPolicy) *Program {
	byNS := map[string][]podInfo{}
	var all []podInfo
	for _, p := range pods {
		a, ok := podAddr(p)
		if !ok {
			continue
		}
		pi := podInfo{p, a}
		byNS[p.Namespace] = append(byNS[p.Namespace], pi)
		all = append(all, pi)
	}
	nsLabels := map[string]map[string]string{}
	for _, ns := range namespaces {
		l := make(map[string]string, len(ns.Labels)+1)
		for k, v := range ns.Labels {
			l[k] = v
		}
		l[objects.LabelMetadataName] = ns.Name
		nsLabels[ns.Name] = l
	}
	prog := &Program{}
	for _, pol := range policies {
		pp := PolicyProgram{Key: pol.Key()}
		selected := selectPods(byNS[pol.Namespace], &pol.Spec.PodSelector)
		if pol.Spec.HasPolicyType(objects.PolicyTypeIngress) {
			d := &Direction{Selected: addrs(selected)}
			for _, r := range pol.Spec.Ingress {
				d.Rules = append(d.Rules, compileRule(pol.Namespace, r.From, r.Ports, selected, byNS, all, nsLabels, false))
			}
			pp.Ingress = d
		}
		if pol.Spec.HasPolicyType(objects.PolicyTypeEgress) {
			d := &Direction{Selected: addrs(selected)}
			for _, r := range pol.Spec.Egress {
				d.Rules = append(d.Rules, compileRule(pol.Namespace, r.To, r.Ports, selected, byNS, all, nsLabels, true))
			}
			pp.Egress = d
		}
		prog.Policies = append(prog.Policies, pp)
	}
	slices.SortFunc(prog.Policies, func(a, b PolicyProgram) int {
		return cmp.Or(cmp.Compare(a.Key.Namespace, b.Key.Namespace), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	return prog
}

// podAddr returns the pod's IPv4 address, when it counts.
func podAddr(p *objects.Pod) (netip.Addr, bool) {
	if p.Spec.HostNetwork || p.IsTerminal() {
		return netip.Addr{}, false
	}
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Unmap().Is4() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

func selectPods(pods []podInfo, sel *objects.LabelSelector) []podInfo {
	s, err := objects.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil // validation refuses such a selector
	}
	var out []podInfo
	for _, p := range pods {
		if s.Matches(p.pod.Labels) {
			out = append(out, p)
		}
	}
	return out
}

func addrs(pods []podInfo) []netip.Addr {
	out := make([]netip.Addr, 0, len(pods))
	for _, p := range pods {
		out = append(out, p.addr)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// compileRule resolves one rule's peers and ports. selected are the pods
// the policy selects: the destinations of an ingress rule, whose named
// ports it resolves against; an egress rule's named ports resolve against
// its peer pods, or every pod when it names no peer.
func compileRule(ns string, peers []objects.NetworkPolicyPeer, ports []objects.NetworkPolicyPort,
	selected []podInfo, byNS map[string][]podInfo, all []podInfo, nsLabels map[string]map[string]string, egress bool,
) Rule {
	var r Rule
	var peerPods []podInfo
	if len(peers) == 0 {
		r.AnyPeer = true
		peerPods = all
	}
	var ranges []Range
	for _, peer := range peers {
		switch {
		case peer.IPBlock != nil:
			ranges = append(ranges, blockRanges(peer.IPBlock)...)
		case peer.NamespaceSelector != nil:
			nsSel, err := objects.LabelSelectorAsSelector(peer.NamespaceSelector)
			if err != nil {
				continue
			}
			names := make([]string, 0, len(nsLabels))
			for name, l := range nsLabels {
				if nsSel.Matches(l) {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			for _, name := range names {
				if peer.PodSelector != nil {
					peerPods = append(peerPods, selectPods(byNS[name], peer.PodSelector)...)
				} else {
					peerPods = append(peerPods, byNS[name]...)
				}
			}
		case peer.PodSelector != nil:
			peerPods = append(peerPods, selectPods(byNS[ns], peer.PodSelector)...)
		}
	}
	if !r.AnyPeer {
		for _, p := range peerPods {
			ranges = append(ranges, Range{p.addr, p.addr})
		}
		r.Peers = mergeRanges(ranges)
	}
	if len(ports) == 0 {
		r.AnyPort = true
		return r
	}
	dests := selected
	if egress {
		dests = peerPods
	}
	for _, pp := range ports {
		proto := objects.ProtocolTCP
		if pp.Protocol != nil {
			proto = *pp.Protocol
		}
		switch {
		case pp.Port == nil:
			r.Ports = append(r.Ports, PortRange{proto, 0, 65535})
		case pp.Port.Type == objects.IntType:
			last := pp.Port.IntVal
			if pp.EndPort != nil {
				last = *pp.EndPort
			}
			r.Ports = append(r.Ports, PortRange{proto, uint16(pp.Port.IntVal), uint16(last)})
		default:
			for _, d := range dests {
				if port, ok := namedPort(d.pod, pp.Port.StrVal, proto); ok {
					r.Named = append(r.Named, Endpoint{d.addr, proto, port})
				}
			}
		}
	}
	slices.SortFunc(r.Named, func(a, b Endpoint) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
	})
	r.Named = slices.Compact(r.Named)
	return r
}

// namedPort returns the number of pod's container port name of protocol
// proto.
func namedPort(pod *objects.Pod, name string, proto objects.Protocol) (uint16, bool) {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = objects.ProtocolTCP
			}
			if p.Name == name && pp == proto {
				return uint16(p.ContainerPort), true
			}
		}
	}
	return 0, false
}

// blockRanges returns the IPv4 ranges of b's cidr less its excepts (none
// for an IPv6 block: the kernel rules are IPv4 only).
func blockRanges(b *objects.IPBlock) []Range {
	cidr, err := objects.ParseCIDR(b.CIDR)
	if err != nil || !cidr.Addr().Is4() {
		return nil
	}
	out := []Range{prefixRange(cidr)}
	for _, e := range b.Except {
		ex, err := objects.ParseCIDR(e)
		if err != nil || !ex.Addr().Is4() {
			continue
		}
		out = subtract(out, prefixRange(ex))
	}
	return out
}

func prefixRange(p netip.Prefix) Range {
	first := p.Masked().Addr().As4()
	n := u32(first) | (^uint32(0) >> p.Bits())
	if p.Bits() == 0 {
		n = ^uint32(0)
	}
	return Range{netip.AddrFrom4(first), addr32(n)}
}

// subtract returns rs less x.
func subtract(rs []Range, x Range) []Range {
	var out []Range
	xf, xl := u32(x.First.As4()), u32(x.Last.As4())
	for _, r := range rs {
		f, l := u32(r.First.As4()), u32(r.Last.As4())
		if xl < f || xf > l {
			out = append(out, r)
			continue
		}
		if xf > f {
			out = append(out, Range{r.First, addr32(xf - 1)})
		}
		if xl < l {
			out = append(out, Range{addr32(xl + 1), r.Last})
		}
	}
	return out
}

// mergeRanges sorts rs and joins the ranges that overlap or touch, as an
// nftables interval set needs them.
func mergeRanges(rs []Range) []Range {
	if len(rs) == 0 {
		return []Range{}
	}
	slices.SortFunc(rs, func(a, b Range) int { return a.First.Compare(b.First) })
	out := []Range{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		lf := u32(last.Last.As4())
		if lf == ^uint32(0) || u32(r.First.As4()) <= lf+1 {
			if r.Last.Compare(last.Last) > 0 {
				last.Last = r.Last
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func u32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr32(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
