package proxy

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"time"

	"github.com/podkit/podkit/objects"
)

// ServicePort is one port of one Service as a data plane forwards it.
type ServicePort struct {
	// ID names the port, "namespace/name:port" with the port's name (or
	// number when unnamed); unique in one Sync.
	ID       string
	Protocol objects.Protocol // TCP or UDP
	// ClusterIPs are the Service's cluster IPs, served on Port.
	ClusterIPs []netip.Addr
	// ExternalIPs are the Service's external IPs, served on Port by a
	// data plane that can intercept that port of an address without
	// owning the address (the nftables one, not Userspace).
	ExternalIPs []netip.Addr
	Port        uint16
	// NodePort, when set, is served on the host's addresses.
	NodePort uint16
	// LoadBalancer lists host addresses and ports served for a Service of
	// type LoadBalancer.
	LoadBalancer []netip.AddrPort
	// SourceRanges, when set, are the only client addresses the
	// LoadBalancer addresses accept (loadBalancerSourceRanges); others
	// get no answer there. NodePort and cluster IPs are not restricted.
	SourceRanges []netip.Prefix
	// Affinity, when positive, sends a client (by source IP) to the same
	// endpoint while it keeps coming back within this long
	// (sessionAffinity ClientIP).
	Affinity time.Duration
	// Endpoints are the ready endpoints. With none, connections are
	// refused. Their hints, when they have some, narrow the endpoints a
	// client pod's connections go to (see Topology).
	Endpoints []Endpoint
	// InternalLocal is internalTrafficPolicy Local: a connection to a
	// cluster IP from a pod (an address Pods knows) goes only to the
	// endpoints on that pod's node, and is refused when there are none;
	// one from any other address, the host's, goes to any endpoint.
	InternalLocal bool
	// ExternalLocal is externalTrafficPolicy Local: connections to the
	// NodePort, load balancer and external IPs keep their source address
	// where the data plane can (see the package documentation); those
	// from pods are internal traffic.
	ExternalLocal bool
	// Pods tells which node a client pod is on, and the node's zone; set
	// on the ports with InternalLocal or ExternalLocal or whose endpoints
	// have hints, the same value on all of one Sync. Nil, every client
	// counts as the host.
	Pods *PodNodes
}

// Endpoint is one ready endpoint of a service port.
type Endpoint struct {
	Addr netip.AddrPort
	// Node is the node of the endpoint's pod, by the nodeName of its
	// Endpoints address; "" when that is unset.
	Node string
	// ForZones and ForNodes are the endpoint's topology hints, from its
	// EndpointSlice, for a Service with trafficDistribution: the zones
	// and the nodes whose client pods it should serve (see Topology).
	ForZones []string
	ForNodes []string
}

// PodNodes tells on which node the pod with an IP address runs, and in
// which zone each node is. A value never changes once made: the Proxier
// makes a new one when a pod's address or node, or a node's zone,
// changes, so a data plane may compare pointers to learn whether it
// changed. A nil *PodNodes knows no pod.
type PodNodes struct {
	m     map[netip.Addr]string
	zones map[string]string
}

// NewPodNodes returns the PodNodes of m (pod IP to node name), which the
// caller must not change afterwards. It knows no node's zone.
func NewPodNodes(m map[netip.Addr]string) *PodNodes { return &PodNodes{m: m} }

// NewPodNodesInZones returns the PodNodes of m (pod IP to node name) whose
// nodes are in zones (node name to its topology.kubernetes.io/zone label);
// the caller must change neither afterwards.
func NewPodNodesInZones(m map[netip.Addr]string, zones map[string]string) *PodNodes {
	return &PodNodes{m: m, zones: zones}
}

// Zone returns the zone of node, "" when it has none or p does not know.
func (p *PodNodes) Zone(node string) string {
	if p == nil {
		return ""
	}
	return p.zones[node]
}

// Node returns the node of the pod with address ip, if ip is a pod's.
func (p *PodNodes) Node(ip netip.Addr) (string, bool) {
	if p == nil {
		return "", false
	}
	n, ok := p.m[ip]
	return n, ok
}

// All yields every pod address with its node, in no order.
func (p *PodNodes) All() iter.Seq2[netip.Addr, string] {
	if p == nil {
		return func(func(netip.Addr, string) bool) {}
	}
	return maps.All(p.m)
}

// Len returns the number of pod addresses p knows.
func (p *PodNodes) Len() int {
	if p == nil {
		return 0
	}
	return len(p.m)
}

// DataPlane forwards what the last Sync described.
//
// Run starts the data plane and blocks until ctx ends; then it removes
// every rule, address and listener it made and returns once every
// goroutine it started has returned. Sync may be called once Run has
// started (it waits for that) and until Run returns, from one goroutine
// at a time; it returns once new connections follow ports: a removed
// endpoint receives no new connection after Sync returns. Connections
// already established go on when their endpoint or their service port is
// removed, as conntrack keeps them for kube-proxy, until they end or Run
// returns.
type DataPlane interface {
	Run(ctx context.Context) error
	Sync(ctx context.Context, ports []ServicePort) error
}

// ErrStopped is returned by Sync once the data plane's Run has returned.
var ErrStopped = errors.New("data plane is stopped")

// frontendKey is one address a data plane serves.
type frontendKey struct {
	proto objects.Protocol
	addr  netip.AddrPort
}

func (k frontendKey) String() string { return fmt.Sprintf("%s/%s", k.addr, k.proto) }
