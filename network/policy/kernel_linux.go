//go:build linux

package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/podkit/podkit/objects"
)

// bridgeNFCallIPTables is the sysctl that makes bridged IPv4 packets
// traverse the ip family's hooks (br_netfilter).
const bridgeNFCallIPTables = "/proc/sys/net/bridge/bridge-nf-call-iptables"

// Names of the base chains, one per direction, both on the forward hook.
const (
	ingressChain = "ingress"
	egressChain  = "egress"
)

// nftKernel programs a Program into nftables: a table of the ip family
// and, when bridged packets do not reach that family's hooks, one of the
// bridge family with the same content (see the package documentation).
type nftKernel struct {
	name   string
	log    *slog.Logger
	conn   *nftables.Conn
	tables []*tableState
	broken bool // the last batch failed: rebuild everything
}

type tableState struct {
	table  *nftables.Table
	bridge bool
	base   map[string]*nftables.Chain
	baseFP map[string]string
	chains map[string]*chainState
	sets   map[string]*setState
}

type chainState struct {
	chain *nftables.Chain
	fp    string
}

type setState struct {
	set   *nftables.Set
	kind  setKind
	elems map[string]nftables.SetElement // by key, for sets without intervals
	fp    string                         // of every element, for interval sets
}

type setKind int

const (
	addrSet     setKind = iota // ipv4_addr
	rangeSet                   // ipv4_addr, intervals
	endpointSet                // ipv4_addr . inet_proto . inet_service
)

func newKernel(name string, log *slog.Logger) kernel { return &nftKernel{name: name, log: log} }

func (k *nftKernel) setup() error {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	k.conn = c
	families := []nftables.TableFamily{nftables.TableFamilyIPv4}
	if k.needBridgeTable() {
		families = append(families, nftables.TableFamilyBridge)
	}
	// Tables left by a process that died are replaced, of either family.
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyBridge} {
		if t, err := c.ListTableOfFamily(k.name, fam); err == nil && t != nil {
			c.DelTable(&nftables.Table{Name: k.name, Family: fam})
		}
	}
	k.tables = nil
	for _, fam := range families {
		k.tables = append(k.tables, k.addTable(fam))
	}
	if err := c.Flush(); err != nil {
		c.CloseLasting()
		return fmt.Errorf("policy: create table %s (needs root with CAP_NET_ADMIN): %w", k.name, err)
	}
	return nil
}

// needBridgeTable tells whether bridged pod-to-pod packets need a bridge
// family table: when br_netfilter passes them to the ip family's hooks,
// they do not. Else a bridge table is used if the kernel tracks
// connections of bridged packets (nf_conntrack_bridge); if it does not,
// br_netfilter is switched on, as Docker and Kubernetes' network plugins
// do.
func (k *nftKernel) needBridgeTable() bool {
	b, err := os.ReadFile(bridgeNFCallIPTables)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return false
	}
	if err := k.probeBridgeConntrack(); err == nil {
		return true
	} else {
		k.log.Debug("no connection tracking in bridge family tables", "err", err)
	}
	if werr := os.WriteFile(bridgeNFCallIPTables, []byte("1"), 0o644); werr != nil {
		k.log.Warn("NetworkPolicies do not apply to traffic between pods on one bridge: "+
			"the kernel neither passes bridged packets to the ip family's hooks (br_netfilter) nor tracks their connections in the bridge family (nf_conntrack_bridge)",
			"err", werr)
		return false
	}
	k.log.Info("set net.bridge.bridge-nf-call-iptables=1 so that NetworkPolicies apply to traffic between pods on one bridge")
	return false
}

func (k *nftKernel) probeBridgeConntrack() error {
	t := &nftables.Table{Name: fmt.Sprintf("%s-probe-%d", k.name, unix.Getpid()), Family: nftables.TableFamilyBridge}
	k.conn.AddTable(t)
	ch := k.conn.AddChain(&nftables.Chain{Name: "probe", Table: t})
	k.conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(ctEstablished(), &expr.Verdict{Kind: expr.VerdictAccept})})
	k.conn.DelTable(t)
	return k.conn.Flush()
}

// addTable adds a table of family fam with its base chains to the batch.
func (k *nftKernel) addTable(fam nftables.TableFamily) *tableState {
	ts := &tableState{
		table:  k.conn.AddTable(&nftables.Table{Name: k.name, Family: fam}),
		bridge: fam == nftables.TableFamilyBridge,
		base:   map[string]*nftables.Chain{},
		baseFP: map[string]string{},
		chains: map[string]*chainState{},
		sets:   map[string]*setState{},
	}
	accept := nftables.ChainPolicyAccept
	prio := nftables.ChainPriorityFilter
	hook := nftables.ChainHookForward
	for _, name := range []string{egressChain, ingressChain} {
		ts.base[name] = k.conn.AddChain(&nftables.Chain{Name: name, Table: ts.table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: prio, Policy: &accept})
		ts.baseFP[name] = "-"
		for _, r := range ts.baseHead() {
			k.conn.AddRule(&nftables.Rule{Table: ts.table, Chain: ts.base[name], Exprs: r})
		}
	}
	return ts
}

// baseHead are the first rules of each base chain: packets other than
// IPv4 (in a bridge table) and packets of connections already allowed
// pass.
func (ts *tableState) baseHead() [][]expr.Any {
	var rs [][]expr.Any
	if ts.bridge {
		rs = append(rs, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)},
			&expr.Verdict{Kind: expr.VerdictAccept},
		})
	}
	return append(rs, append(ctEstablished(), &expr.Verdict{Kind: expr.VerdictAccept}))
}

func (k *nftKernel) teardown() error {
	if k.conn == nil {
		return nil
	}
	var err error
	for _, ts := range k.tables {
		// One at a time: a table gone already, deleted behind the
		// engine's back (as by a process started meanwhile with the same
		// name), does not keep the other.
		k.conn.DelTable(ts.table)
		if ferr := k.conn.Flush(); errors.Is(ferr, unix.ENOENT) {
			k.log.Warn("policy: the table was gone at the end", "table", k.name, "family", ts.table.Family)
		} else if err == nil {
			err = ferr
		}
	}
	if cerr := k.conn.CloseLasting(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("delete table %s: %w", k.name, err)
	}
	return nil
}

// desired is the kernel state a Program asks for.
type desired struct {
	sets   map[string]desiredSet
	chains []desiredChain // policy chains, by name
	base   map[string]desiredChain
}

type desiredSet struct {
	kind  setKind
	elems []nftables.SetElement
}

type desiredChain struct {
	name  string
	fp    string
	rules []ruleSpec
}

// ruleSpec is a rule whose set lookups are resolved against the table it
// goes to.
type ruleSpec struct {
	parts []part
}

// part is either expressions or a lookup of the named set.
type part struct {
	exprs []expr.Any
	set   string
}

func plan(p *Program) *desired {
	d := &desired{sets: map[string]desiredSet{}, base: map[string]desiredChain{}}
	for _, dir := range []struct {
		base, prefix string
		egress       bool
	}{{ingressChain, "in", false}, {egressChain, "eg", true}} {
		var base desiredChain
		base.name = dir.base
		var iso []nftables.SetElement
		isoSeen := map[string]bool{}
		for _, pp := range p.Policies {
			dd := pp.Ingress
			if dir.egress {
				dd = pp.Egress
			}
			if dd == nil {
				continue
			}
			id := dir.prefix + "-" + hashKey(pp.Key)
			sel := id + "-sel"
			var selElems []nftables.SetElement
			for _, a := range dd.Selected {
				b := a.As4()
				selElems = append(selElems, nftables.SetElement{Key: b[:]})
				if !isoSeen[string(b[:])] {
					isoSeen[string(b[:])] = true
					iso = append(iso, nftables.SetElement{Key: b[:]})
				}
			}
			d.sets[sel] = desiredSet{kind: addrSet, elems: selElems}
			base.rules = append(base.rules, ruleSpec{parts: []part{
				{exprs: []expr.Any{loadAddr(!dir.egress, 1)}}, {set: sel},
				{exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: id}}},
			}})
			base.fp += id + ";"
			ch := desiredChain{name: id}
			for i, r := range dd.Rules {
				var peer []part
				if !r.AnyPeer {
					if len(r.Peers) == 0 {
						ch.fp += fmt.Sprintf("%d:none;", i)
						continue
					}
					name := fmt.Sprintf("%s-%d-peer", id, i)
					d.sets[name] = desiredSet{kind: rangeSet, elems: rangeElems(r.Peers)}
					peer = []part{{exprs: []expr.Any{loadAddr(dir.egress, 1)}}, {set: name}}
				}
				accept := part{exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}}
				ch.fp += fmt.Sprintf("%d:%v:%v:", i, r.AnyPeer, r.AnyPort)
				if r.AnyPort {
					ch.rules = append(ch.rules, ruleSpec{parts: append(slices.Clone(peer), accept)})
					continue
				}
				for _, pr := range r.Ports {
					ch.fp += fmt.Sprintf("%s/%d-%d,", pr.Proto, pr.First, pr.Last)
					ch.rules = append(ch.rules, ruleSpec{parts: append(slices.Clone(peer), part{exprs: matchPorts(pr)}, accept)})
				}
				if len(r.Named) > 0 {
					name := fmt.Sprintf("%s-%d-named", id, i)
					var elems []nftables.SetElement
					for _, ep := range r.Named {
						elems = append(elems, nftables.SetElement{Key: endpointKey(ep)})
					}
					d.sets[name] = desiredSet{kind: endpointSet, elems: elems}
					ch.fp += "named"
					ch.rules = append(ch.rules, ruleSpec{parts: append(slices.Clone(peer),
						part{exprs: loadEndpoint()}, part{set: name}, accept)})
				}
				ch.fp += ";"
			}
			d.chains = append(d.chains, ch)
		}
		if len(base.rules) > 0 {
			iso_ := dir.prefix + "-isolated"
			d.sets[iso_] = desiredSet{kind: addrSet, elems: iso}
			base.rules = append(base.rules, ruleSpec{parts: []part{
				{exprs: []expr.Any{loadAddr(!dir.egress, 1)}}, {set: iso_},
				{exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}},
			}})
			base.fp += "drop"
		}
		d.base[dir.base] = base
	}
	return d
}

func (k *nftKernel) sync(p *Program) error {
	if k.broken {
		// A refused batch may have left the state unknown: start over,
		// atomically, in the batch below.
		for i, ts := range k.tables {
			k.conn.DelTable(ts.table)
			fam := ts.table.Family
			k.tables[i] = k.addTable(fam)
		}
	}
	d := plan(p)
	for _, ts := range k.tables {
		if err := k.apply(ts, d); err != nil {
			k.broken = true
			return err
		}
	}
	if err := k.conn.Flush(); err != nil {
		k.broken = true
		return fmt.Errorf("policy: sync: %w", err)
	}
	k.broken = false
	return nil
}

// apply adds to the batch what turns ts into d: new and changed sets and
// chains, then what is no longer used.
func (k *nftKernel) apply(ts *tableState, d *desired) error {
	c := k.conn
	for name, ds := range d.sets {
		cur, ok := ts.sets[name]
		if ok && cur.kind != ds.kind {
			c.DelSet(cur.set)
			delete(ts.sets, name)
			ok = false
		}
		if !ok {
			s := &nftables.Set{Table: ts.table, Name: name}
			switch ds.kind {
			case addrSet:
				s.KeyType = nftables.TypeIPAddr
			case rangeSet:
				s.KeyType, s.Interval = nftables.TypeIPAddr, true
			case endpointSet:
				s.KeyType = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
				s.Concatenation = true
			}
			if err := c.AddSet(s, ds.elems); err != nil {
				return fmt.Errorf("policy: set %s: %w", name, err)
			}
			ts.sets[name] = newSetState(s, ds)
			continue
		}
		if ds.kind == rangeSet {
			if fp := elemsFP(ds.elems); fp != cur.fp {
				c.FlushSet(cur.set)
				if err := c.SetAddElements(cur.set, ds.elems); err != nil {
					return fmt.Errorf("policy: set %s: %w", name, err)
				}
				cur.fp = fp
			}
			continue
		}
		want := map[string]nftables.SetElement{}
		var add, del []nftables.SetElement
		for _, e := range ds.elems {
			want[string(e.Key)] = e
			if _, ok := cur.elems[string(e.Key)]; !ok {
				add = append(add, e)
			}
		}
		for key, e := range cur.elems {
			if _, ok := want[key]; !ok {
				del = append(del, e)
			}
		}
		if len(del) > 0 {
			if err := c.SetDeleteElements(cur.set, del); err != nil {
				return fmt.Errorf("policy: set %s: %w", name, err)
			}
		}
		if len(add) > 0 {
			if err := c.SetAddElements(cur.set, add); err != nil {
				return fmt.Errorf("policy: set %s: %w", name, err)
			}
		}
		cur.elems = want
	}
	keep := map[string]bool{}
	for _, dc := range d.chains {
		keep[dc.name] = true
		cur, ok := ts.chains[dc.name]
		switch {
		case !ok:
			cur = &chainState{chain: c.AddChain(&nftables.Chain{Name: dc.name, Table: ts.table})}
			ts.chains[dc.name] = cur
		case cur.fp == dc.fp:
			continue
		default:
			c.FlushChain(cur.chain)
		}
		for _, r := range dc.rules {
			c.AddRule(&nftables.Rule{Table: ts.table, Chain: cur.chain, Exprs: ts.resolve(r)})
		}
		cur.fp = dc.fp
	}
	for _, name := range []string{egressChain, ingressChain} {
		dc := d.base[name]
		if ts.baseFP[name] == dc.fp {
			continue
		}
		ch := ts.base[name]
		c.FlushChain(ch)
		for _, r := range ts.baseHead() {
			c.AddRule(&nftables.Rule{Table: ts.table, Chain: ch, Exprs: r})
		}
		for _, r := range dc.rules {
			c.AddRule(&nftables.Rule{Table: ts.table, Chain: ch, Exprs: ts.resolve(r)})
		}
		ts.baseFP[name] = dc.fp
	}
	// What is no longer used goes after the rules that used it.
	for name, cs := range ts.chains {
		if !keep[name] {
			c.DelChain(cs.chain)
			delete(ts.chains, name)
		}
	}
	for name, ss := range ts.sets {
		if _, ok := d.sets[name]; !ok {
			c.DelSet(ss.set)
			delete(ts.sets, name)
		}
	}
	return nil
}

func (ts *tableState) resolve(r ruleSpec) []expr.Any {
	var out []expr.Any
	for _, p := range r.parts {
		if p.set == "" {
			out = append(out, p.exprs...)
			continue
		}
		s := ts.sets[p.set].set
		reg := uint32(1)
		if ts.sets[p.set].kind == endpointSet {
			reg = 8
		}
		out = append(out, &expr.Lookup{SourceRegister: reg, SetName: s.Name, SetID: s.ID})
	}
	return out
}

func newSetState(s *nftables.Set, ds desiredSet) *setState {
	st := &setState{set: s, kind: ds.kind, elems: map[string]nftables.SetElement{}}
	if ds.kind == rangeSet {
		st.fp = elemsFP(ds.elems)
		return st
	}
	for _, e := range ds.elems {
		st.elems[string(e.Key)] = e
	}
	return st
}

func elemsFP(elems []nftables.SetElement) string {
	var b strings.Builder
	for _, e := range elems {
		b.Write(e.Key)
		if e.IntervalEnd {
			b.WriteByte('-')
		}
		b.WriteByte(',')
	}
	return b.String()
}

// rangeElems returns the elements of an interval set holding rs (sorted
// and merged): each range's first address, then the address after its
// last as an interval end, unless it is the last address there is.
func rangeElems(rs []Range) []nftables.SetElement {
	var out []nftables.SetElement
	for _, r := range rs {
		f := r.First.As4()
		out = append(out, nftables.SetElement{Key: f[:]})
		if l := u32(r.Last.As4()); l != ^uint32(0) {
			e := addr32(l + 1).As4()
			out = append(out, nftables.SetElement{Key: e[:], IntervalEnd: true})
		}
	}
	return out
}

// endpointKey is the key of ep in a set of type ipv4_addr . inet_proto .
// inet_service, each field padded to 4 bytes.
func endpointKey(ep Endpoint) []byte {
	a := ep.Addr.As4()
	key := make([]byte, 12)
	copy(key, a[:])
	key[4] = protoNumber(ep.Proto)
	copy(key[8:], binaryutil.BigEndian.PutUint16(ep.Port))
	return key
}

func protoNumber(p objects.Protocol) byte {
	switch p {
	case objects.ProtocolUDP:
		return unix.IPPROTO_UDP
	case objects.ProtocolSCTP:
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

// loadAddr loads the source (or destination) address into reg.
func loadAddr(dst bool, reg uint32) expr.Any {
	off := uint32(12)
	if dst {
		off = 16
	}
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
}

// loadEndpoint loads ip daddr . meta l4proto . th dport into the 32-bit
// registers 8, 9 and 10, for a lookup in an endpoint set.
func loadEndpoint() []expr.Any {
	return []expr.Any{
		loadAddr(true, 8),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
}

// matchPorts matches the protocol and, unless it is every port, the
// destination port range.
func matchPorts(pr PortRange) []expr.Any {
	out := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{protoNumber(pr.Proto)}},
	}
	if pr.First == 0 && pr.Last == 65535 {
		return out
	}
	out = append(out, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
	if pr.First == pr.Last {
		return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(pr.First)})
	}
	return append(out, &expr.Range{Op: expr.CmpOpEq, Register: 1,
		FromData: binaryutil.BigEndian.PutUint16(pr.First), ToData: binaryutil.BigEndian.PutUint16(pr.Last)})
}

func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// hashKey names a policy's chains and sets: short, and the same for the
// same policy across syncs and processes.
func hashKey(k objects.Key) string {
	h := sha256.Sum256([]byte(k.Namespace + "/" + k.Name))
	return hex.EncodeToString(h[:6])
}
