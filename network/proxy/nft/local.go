//go:build linux

package nft

import (
	"fmt"
	"maps"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"

	"github.com/podkit/podkit/network/proxy"
)

// The rules of Local traffic policies and of topology hints exist only
// while a service port has them: a Service with Cluster policies and no
// trafficDistribution costs no rule, set or lookup more.
//
// The set pods holds every pod's address, a set pods-* per node those of
// the node's pods, for the nodes that have endpoints of an
// internalTrafficPolicy Local port or endpoints hinted for them, and a set
// zone-* per zone those of the pods on the zone's nodes, for the zones
// that have endpoints hinted for them. Such a port's cluster IPs lead to its
// int-* chain: a client in a node's set goes to the chain of that node's
// endpoints (nd-*); another pod gets no DNAT, and the reject chain
// refuses what still goes to the cluster IP past NAT; a client that is no
// pod (the host) goes to any endpoint. For externalTrafficPolicy Local,
// NodePort, load balancer and external IP traffic goes to the ext-*
// chain, whose epl-* endpoint chains DNAT without the masquerade mark:
// pods' connections go the internal way, and nat-postrouting masquerades
// those from loopback addresses that leave by another interface, which
// the other end could not answer.
//
// The cluster IPs (unless internalTrafficPolicy is Local), NodePort, load
// balancer and external IPs of a port whose endpoints have hints lead to
// its top-* chain: a client in the set of a node with endpoints hinted for
// it goes to the chain of those (tn-*), else a client in the set of a zone
// with endpoints hinted for it to the chain of those (tz-*), as
// proxy.Topology orders them; any other client, the host included, goes
// on to the port's chain of every endpoint. With externalTrafficPolicy
// Local, pods' connections to the external addresses go the same way.

// podSetName is the set of every pod address.
const podSetName = "pods"

// extLocalPrefix names the endpoint chains of externalTrafficPolicy Local.
const extLocalPrefix = "epl-"

// localUse is what the ports with a Local policy or hints need.
type localUse struct {
	pods     *proxy.PodNodes // of the ports that have them
	external bool            // a port has externalTrafficPolicy Local
	// nodes and zones need a set of their pods: nodes with endpoints of
	// internalTrafficPolicy Local ports or hinted for them, zones with
	// endpoints hinted for them.
	nodes, zones map[string]bool
	// topology is each port's, by ID, for the ports with hints.
	topology map[string]proxy.Topology
}

func localUseOf(ports []proxy.ServicePort) localUse {
	u := localUse{nodes: map[string]bool{}, zones: map[string]bool{}, topology: map[string]proxy.Topology{}}
	for i := range ports {
		sp := &ports[i]
		if sp.Pods == nil {
			continue
		}
		if u.pods == nil {
			u.pods = sp.Pods
		}
		u.external = u.external || sp.ExternalLocal
		if sp.InternalLocal {
			for _, ep := range sp.Endpoints {
				if ep.Node != "" {
					u.nodes[ep.Node] = true
				}
			}
		}
		if t := proxy.TopologyOf(ipv4Endpoints(sp.Endpoints)); !t.Empty() {
			u.topology[sp.ID] = t
			for n := range t.ByNode {
				u.nodes[n] = true
			}
			for z := range t.ByZone {
				u.zones[z] = true
			}
		}
	}
	return u
}

func nodeSetName(node string) string { return "pods-" + hash(node) }

func zoneSetName(zone string) string { return "zone-" + hash(zone) }

// syncPods fills the set of pods and those of nodes and zones, by the
// changes since the last sync; without pods, they go.
func (b *batch) syncPods(u localUse) {
	pods, nodes, zones := u.pods, u.nodes, u.zones
	d := b.d
	b.elemsBefore = maps.Clone(d.elems)
	if pods == nil {
		return
	}
	unchanged := pods == d.podsFrom
	want := map[string]map[netip.Addr]bool{}
	if _, ok := d.elems[podSetName]; !ok || !unchanged {
		want[podSetName] = map[netip.Addr]bool{}
	}
	for node := range nodes {
		if _, ok := d.elems[nodeSetName(node)]; !ok || !unchanged {
			want[nodeSetName(node)] = map[netip.Addr]bool{}
		}
	}
	for zone := range zones {
		if _, ok := d.elems[zoneSetName(zone)]; !ok || !unchanged {
			want[zoneSetName(zone)] = map[netip.Addr]bool{}
		}
	}
	if len(want) > 0 {
		for ip, node := range pods.All() {
			if !ip.Is4() {
				continue
			}
			if m := want[podSetName]; m != nil {
				m[ip] = true
			}
			if m := want[nodeSetName(node)]; m != nil {
				m[ip] = true
			}
			if z := pods.Zone(node); z != "" {
				if m := want[zoneSetName(z)]; m != nil {
					m[ip] = true
				}
			}
		}
	}
	b.podSet = b.addrSet(podSetName, want[podSetName])
	b.nodeSets = map[string]*nftables.Set{}
	for node := range nodes {
		b.nodeSets[node] = b.addrSet(nodeSetName(node), want[nodeSetName(node)])
	}
	b.zoneSets = map[string]*nftables.Set{}
	for zone := range zones {
		b.zoneSets[zone] = b.addrSet(zoneSetName(zone), want[zoneSetName(zone)])
	}
}

// addrSet returns the address set called name, made to hold want, or left
// as it is with want nil.
func (b *batch) addrSet(name string, want map[netip.Addr]bool) *nftables.Set {
	d := b.d
	s, ok := d.sets[name]
	if !ok {
		s = &nftables.Set{Table: d.table, Name: name, KeyType: nftables.TypeIPAddr}
		if err := d.conn.AddSet(s, nil); err != nil {
			b.errs = append(b.errs, fmt.Errorf("nft: set %s: %w", name, err))
			return nil
		}
		delete(d.elems, name)
	}
	b.sets[name] = s
	if want == nil {
		return s
	}
	have := d.elems[name]
	var add, del []nftables.SetElement
	for ip := range want {
		if !have[ip] {
			k := ip.As4()
			add = append(add, nftables.SetElement{Key: k[:]})
		}
	}
	for ip := range have {
		if !want[ip] {
			k := ip.As4()
			del = append(del, nftables.SetElement{Key: k[:]})
		}
	}
	if len(del) > 0 {
		if err := d.conn.SetDeleteElements(s, del); err != nil {
			b.errs = append(b.errs, fmt.Errorf("nft: set %s: %w", name, err))
		}
	}
	if len(add) > 0 {
		if err := d.conn.SetAddElements(s, add); err != nil {
			b.errs = append(b.errs, fmt.Errorf("nft: set %s: %w", name, err))
		}
	}
	d.elems[name] = want
	return s
}

// inSet matches a packet whose source address is in s.
func inSet(s *nftables.Set) []expr.Any {
	return []expr.Any{loadSaddr(), &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}}
}

// internalLocal writes the chain cluster IP traffic of an
// internalTrafficPolicy Local port goes to, and returns its name.
func (b *batch) internalLocal(sp *proxy.ServicePort, eps []proxy.Endpoint, svcName string) string {
	name := "int-" + hash(sp.ID)
	ch, _ := b.chain(name)
	var nodes []string
	byNode := map[string][]proxy.Endpoint{}
	for _, ep := range eps {
		if ep.Node == "" {
			continue
		}
		if _, ok := byNode[ep.Node]; !ok {
			nodes = append(nodes, ep.Node)
		}
		byNode[ep.Node] = append(byNode[ep.Node], ep)
	}
	for _, node := range nodes {
		set := b.nodeSets[node]
		if set == nil {
			continue
		}
		ndName := "nd-" + hash(sp.ID+"|"+node)
		nd, _ := b.chain(ndName)
		b.spread(nd, sp, byNode[node], "ep-")
		b.rule(ch, append(inSet(set), goTo(ndName))...)
	}
	b.rule(ch, append(inSet(b.podSet), &expr.Verdict{Kind: expr.VerdictAccept})...)
	b.rule(ch, goTo(svcName))
	return name
}

// externalLocal writes the chain NodePort, load balancer and external IP
// traffic of an externalTrafficPolicy Local port goes to, and returns its
// name: pods' connections go to podsTo, the others to any endpoint.
func (b *batch) externalLocal(sp *proxy.ServicePort, eps []proxy.Endpoint, podsTo string) string {
	name := "ext-" + hash(sp.ID)
	ch, _ := b.chain(name)
	if b.podSet != nil {
		b.rule(ch, append(inSet(b.podSet), goTo(podsTo))...)
	}
	b.spread(ch, sp, eps, extLocalPrefix)
	return name
}

// topology writes the chain that sends a client pod to the endpoints the
// hints give its node, else its zone, and any other client to svcName, and
// returns its name.
func (b *batch) topology(sp *proxy.ServicePort, t proxy.Topology, svcName string) string {
	name := "top-" + hash(sp.ID)
	ch, _ := b.chain(name)
	// A chain per node, then per zone, with hinted endpoints, each reached
	// from the set of that node's or zone's client pods.
	hinted := func(prefix string, names []string, sets map[string]*nftables.Set, eps map[string][]proxy.Endpoint) {
		for _, n := range names {
			if set := sets[n]; set != nil {
				to := prefix + hash(sp.ID+"|"+n)
				tc, _ := b.chain(to)
				b.spread(tc, sp, eps[n], "ep-")
				b.rule(ch, append(inSet(set), goTo(to))...)
			}
		}
	}
	hinted("tn-", t.Nodes(), b.nodeSets, t.ByNode)
	hinted("tz-", t.Zones(), b.zoneSets, t.ByZone)
	b.rule(ch, goTo(svcName))
	return name
}

// addPostrouting writes nat-postrouting: marked packets are masqueraded;
// with externalTrafficPolicy Local in use, so are those of connections
// DNATed from a loopback address that leave by another interface.
func (d *DataPlane) addPostrouting(externalLocal bool) {
	ch := d.base["nat-postrouting"]
	d.conn.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(MasqueradeMark), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Masq{},
	}})
	if !externalLocal {
		return
	}
	lo := make([]byte, 16) // IFNAMSIZ
	copy(lo, "lo")
	d.conn.AddRule(&nftables.Rule{Table: d.table, Chain: ch, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ctStatusDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127, 0, 0, 0}},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: lo},
		&expr.Masq{},
	}})
}
