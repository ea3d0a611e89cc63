// Package ipam allocates the addresses of Services: cluster IPs from a
// service CIDR, and node ports and health check node ports from one port
// range, which they share as in Kubernetes.
//
// The store is the allocator's only state. Allocate runs inside the write
// transaction that stores the Service and reads which addresses the other
// Services hold in that same transaction, so an address is released the
// moment its Service is deleted, an allocator started on a filled store
// knows every address already taken, and a transaction that aborts leaks
// nothing. With the field indexes of Indexes registered in the store, a
// check costs one index lookup; without them, one scan of the Services.
package ipam

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Defaults, as a kubeadm cluster has them.
const (
	DefaultServiceCIDR   = "10.96.0.0/12"
	DefaultNodePortRange = "30000-32767"
)

// Field indexes the allocator looks addresses up by; see Indexes.
const (
	IndexClusterIP = "spec.clusterIPs"
	IndexNodePort  = "spec.ports.nodePort"
)

// ErrFull is wrapped when no cluster IP or node port is left to allocate.
var ErrFull = errors.New("range is full")

// Indexes returns the field indexes that make allocation cost one lookup
// per address instead of a scan of every Service. Register them with the
// store (memdb.WithIndex) and, where a cache lists Services, with it too.
func Indexes() []store.FieldIndex {
	return []store.FieldIndex{
		{Kind: kindService, Field: IndexClusterIP, Func: clusterIPValues},
		{Kind: kindService, Field: IndexNodePort, Func: nodePortValues},
	}
}

const kindService = "Service"

func clusterIPValues(obj objects.Object) []string {
	s, ok := obj.(*objects.Service)
	if !ok {
		return nil
	}
	var out []string
	for _, ip := range s.Spec.ClusterIPs {
		if ip != "" && ip != objects.ClusterIPNone {
			out = append(out, ip)
		}
	}
	return out
}

func nodePortValues(obj objects.Object) []string {
	s, ok := obj.(*objects.Service)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, strconv.Itoa(int(p.NodePort)))
		}
	}
	if s.Spec.HealthCheckNodePort != 0 {
		out = append(out, strconv.Itoa(int(s.Spec.HealthCheckNodePort)))
	}
	return out
}

// Option configures an Allocator.
type Option func(*Allocator) error

// WithServiceCIDR sets the IPv4 range cluster IPs come from (default
// 10.96.0.0/12). Its first and last addresses are never allocated. A range
// inside 127.0.0.0/8 needs no interface address on Linux, which lets an
// unprivileged process reach cluster IPs from the host (see network/proxy).
func WithServiceCIDR(cidr string) Option {
	return func(a *Allocator) error {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("ipam.WithServiceCIDR: %w", err)
		}
		if !p.Addr().Is4() {
			return fmt.Errorf("ipam.WithServiceCIDR: %s: only IPv4 ranges are supported", cidr)
		}
		if p.Bits() > 30 {
			return fmt.Errorf("ipam.WithServiceCIDR: %s: the range must hold at least 4 addresses", cidr)
		}
		a.cidr = p.Masked()
		return nil
	}
}

// WithNodePortRange sets the node port range, "first-last" inclusive
// (default 30000-32767).
func WithNodePortRange(r string) Option {
	return func(a *Allocator) error {
		lo, hi, ok := strings.Cut(r, "-")
		first, err1 := strconv.Atoi(strings.TrimSpace(lo))
		last, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if !ok || err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
			return fmt.Errorf("ipam.WithNodePortRange: %q is not a port range such as 30000-32767", r)
		}
		a.portFirst, a.portLast = int32(first), int32(last)
		return nil
	}
}

// Allocator hands out cluster IPs and node ports. It holds no state of its
// own, so one Allocator may serve any number of stores; it is safe for
// concurrent use.
type Allocator struct {
	cidr                netip.Prefix
	portFirst, portLast int32
}

// New returns an allocator with the defaults changed by opts.
func New(opts ...Option) (*Allocator, error) {
	a := &Allocator{}
	for _, o := range append([]Option{WithServiceCIDR(DefaultServiceCIDR), WithNodePortRange(DefaultNodePortRange)}, opts...) {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// ServiceCIDR returns the range cluster IPs come from.
func (a *Allocator) ServiceCIDR() netip.Prefix { return a.cidr }

// NodePortRange returns the first and last node port.
func (a *Allocator) NodePortRange() (first, last int32) { return a.portFirst, a.portLast }

// Allocate completes svc before it is stored, inside the write transaction
// tx that stores it: a Service that needs a cluster IP and names none gets
// a free one; one that names a cluster IP gets it if it is in the range
// and no other Service holds it; NodePort and LoadBalancer Services get a
// free node port for every port without one (not a LoadBalancer with
// allocateLoadBalancerNodePorts false), and keep the ones they name
// if no other Service holds them. A LoadBalancer Service with
// externalTrafficPolicy Local also gets spec.healthCheckNodePort from the
// same range, or keeps the one it names if neither another Service nor
// one of its own ports holds it; a Service that no longer needs one has
// had it cleared by PatchAllocatedValues, which releases it. old is the stored Service on an update
// (nil on create), whose addresses svc may keep; call
// svc.PatchAllocatedValues(old) before, as the orchestrator does.
//
// Every Service but an ExternalName one gets spec.ipFamilyPolicy and
// spec.ipFamilies as Kubernetes' API server gives them on a cluster whose
// one family is IPv4: the policy is the old one on an update, else
// SingleStack (RequireDualStack for a headless Service without a
// selector); the families are those of the cluster IPs, else IPv4 (and
// IPv6 too for a headless Service without a selector and not SingleStack,
// which Kubernetes allows on any cluster). IPv6 cluster IPs or families,
// and RequireDualStack, are refused: the cluster cannot serve them.
//
// A refusal is an *objects.InvalidError naming the field, worded as
// Kubernetes words it; an exhausted range wraps ErrFull.
func (a *Allocator) Allocate(tx store.ReadTx, svc, old *objects.Service) error {
	u := &usage{tx: tx, self: svc.Key()}
	errs := ipFamilies(svc, old)
	if err := a.allocateClusterIP(u, svc, &errs); err != nil {
		return err
	}
	if err := a.allocateNodePorts(u, svc, &errs); err != nil {
		return err
	}
	return errs.ToError(kindService, svc.Name)
}

func (a *Allocator) allocateClusterIP(u *usage, svc *objects.Service, errs *objects.ErrorList) error {
	sp := &svc.Spec
	if sp.Type == objects.ServiceTypeExternalName || svc.IsHeadless() || len(*errs) > 0 {
		return nil
	}
	if sp.ClusterIP != "" {
		ip, err := netip.ParseAddr(sp.ClusterIP)
		if err != nil {
			return nil // validation reports it
		}
		path := objects.NewPath("spec", "clusterIPs")
		switch taken, err := u.ipTaken(ip); {
		case err != nil:
			return err
		case !a.inRange(ip):
			*errs = append(*errs, objects.Invalid(path, sp.ClusterIPs, fmt.Sprintf(
				"failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, ip, a.cidr)))
		case taken:
			*errs = append(*errs, objects.Invalid(path, sp.ClusterIPs, fmt.Sprintf(
				"failed to allocate IP %s: provided IP is already allocated", ip)))
		}
		return nil
	}
	ip, err := a.freeIP(u)
	if err != nil {
		return err
	}
	sp.ClusterIP = ip.String()
	sp.ClusterIPs = append([]string{sp.ClusterIP}, sp.ClusterIPs...)
	return nil
}

func (a *Allocator) inRange(ip netip.Addr) bool {
	if !a.cidr.Contains(ip) {
		return false
	}
	off := a.offset(ip)
	return off != 0 && off != a.size()-1
}

func (a *Allocator) size() uint32 { return uint32(1) << (32 - a.cidr.Bits()) }

func (a *Allocator) offset(ip netip.Addr) uint32 {
	return be32(ip.As4()) - be32(a.cidr.Addr().As4())
}

func (a *Allocator) addr(off uint32) netip.Addr {
	v := be32(a.cidr.Addr().As4()) + off
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func be32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// freeIP probes from a random offset, as Kubernetes' bitmap allocator
// does, so that addresses are not reused right after they are released.
func (a *Allocator) freeIP(u *usage) (netip.Addr, error) {
	n := a.size() - 2 // without the network and broadcast addresses
	start := rand.Uint32N(n)
	for i := range n {
		ip := a.addr(1 + (start+i)%n)
		taken, err := u.ipTaken(ip)
		if err != nil {
			return netip.Addr{}, err
		}
		if !taken {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("failed to allocate a serviceIP from %s: %w", a.cidr, ErrFull)
}

func (a *Allocator) allocateNodePorts(u *usage, svc *objects.Service, errs *objects.ErrorList) error {
	sp := &svc.Spec
	if sp.Type != objects.ServiceTypeNodePort && sp.Type != objects.ServiceTypeLoadBalancer {
		return nil
	}
	checkPort := func(path *objects.Path, port int32) error {
		switch taken, err := u.portTaken(port); {
		case err != nil:
			return err
		case port < a.portFirst || port > a.portLast:
			*errs = append(*errs, objects.Invalid(path, port, fmt.Sprintf(
				"provided port is not in the valid range. The range of valid ports is %d-%d", a.portFirst, a.portLast)))
		case taken:
			*errs = append(*errs, objects.Invalid(path, port, "provided port is already allocated"))
		}
		return nil
	}
	// Within one Service a node port may serve one port number over
	// several protocols, as Kubernetes allows for DNS's 53/TCP and 53/UDP.
	mine := map[int32]int32{} // node port -> service port
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		path := objects.NewPath("spec", "ports").Index(i).Child("nodePort")
		if prev, ok := mine[p.NodePort]; ok && prev != p.Port {
			*errs = append(*errs, objects.Duplicate(path, p.NodePort))
			continue
		}
		mine[p.NodePort] = p.Port
		if err := checkPort(path, p.NodePort); err != nil {
			return err
		}
	}
	// The health check node port is one more port of the Service's: none
	// of its node ports may be it. One given is checked before the node
	// ports are picked, so that none is picked equal to it.
	hc := svc.NeedsHealthCheck()
	if hc && sp.HealthCheckNodePort != 0 {
		path := objects.NewPath("spec", "healthCheckNodePort")
		if _, ok := mine[sp.HealthCheckNodePort]; ok {
			*errs = append(*errs, objects.Invalid(path, sp.HealthCheckNodePort, "provided port is already allocated"))
		} else if err := checkPort(path, sp.HealthCheckNodePort); err != nil {
			return err
		}
		mine[sp.HealthCheckNodePort] = 0 // no service port is 0
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort != 0 || !svc.AllocatesNodePorts() {
			continue // allocateLoadBalancerNodePorts false: those given only
		}
		for np, port := range mine { // the same port number over another protocol
			if port == p.Port {
				p.NodePort = np
			}
		}
		if p.NodePort != 0 {
			continue
		}
		np, err := a.freePort(u, mine)
		if err != nil {
			return err
		}
		p.NodePort = np
		mine[np] = p.Port
	}
	if hc && sp.HealthCheckNodePort == 0 {
		np, err := a.freePort(u, mine)
		if err != nil {
			return fmt.Errorf("spec.healthCheckNodePort: %w", err)
		}
		sp.HealthCheckNodePort = np
	}
	return nil
}

func (a *Allocator) freePort(u *usage, mine map[int32]int32) (int32, error) {
	n := uint32(a.portLast - a.portFirst + 1)
	start := rand.Uint32N(n)
	for i := range n {
		port := a.portFirst + int32((start+i)%n)
		if _, ok := mine[port]; ok {
			continue
		}
		taken, err := u.portTaken(port)
		if err != nil {
			return 0, err
		}
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("failed to allocate a nodePort from %d-%d: %w", a.portFirst, a.portLast, ErrFull)
}

// usage answers which addresses Services other than self hold, through
// the indexes when the store has them, else from one scan.
type usage struct {
	tx   store.ReadTx
	self objects.Key

	scanned bool
	ips     map[netip.Addr]bool
	ports   map[int32]bool
}

func (u *usage) ipTaken(ip netip.Addr) (bool, error) {
	if !u.scanned {
		objs, err := u.tx.List(kindService, store.ListOptions{Fields: map[string]string{IndexClusterIP: ip.String()}})
		if err == nil {
			return u.others(objs), nil
		}
		if !errors.Is(err, store.ErrUnknownIndex) {
			return false, err
		}
		if err := u.scan(); err != nil {
			return false, err
		}
	}
	return u.ips[ip], nil
}

func (u *usage) portTaken(port int32) (bool, error) {
	if !u.scanned {
		objs, err := u.tx.List(kindService, store.ListOptions{Fields: map[string]string{IndexNodePort: strconv.Itoa(int(port))}})
		if err == nil {
			return u.others(objs), nil
		}
		if !errors.Is(err, store.ErrUnknownIndex) {
			return false, err
		}
		if err := u.scan(); err != nil {
			return false, err
		}
	}
	return u.ports[port], nil
}

func (u *usage) others(objs []objects.Object) bool {
	for _, o := range objs {
		if o.GetObjectMeta().Key() != u.self {
			return true
		}
	}
	return false
}

func (u *usage) scan() error {
	objs, err := u.tx.List(kindService, store.ListOptions{})
	if err != nil {
		return err
	}
	u.scanned, u.ips, u.ports = true, map[netip.Addr]bool{}, map[int32]bool{}
	for _, o := range objs {
		if o.GetObjectMeta().Key() == u.self {
			continue
		}
		for _, v := range clusterIPValues(o) {
			if ip, err := netip.ParseAddr(v); err == nil {
				u.ips[ip] = true
			}
		}
		for _, v := range nodePortValues(o) {
			if p, err := strconv.Atoi(v); err == nil {
				u.ports[int32(p)] = true
			}
		}
	}
	return nil
}
