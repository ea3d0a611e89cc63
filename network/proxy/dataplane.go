// Package proxy forwards traffic for Services: to a ClusterIP and port,
// to a NodePort on the host, or to a LoadBalancer's host address, from any
// pod or from the host, to one of the Service's ready endpoints.
//
// A Proxier watches Services and Endpoints and hands the result, as a list
// of ServicePorts, to a DataPlane. Two data planes pass the same
// conformance suite (proxytest.Run):
//
//   - Userspace (this package) accepts connections and relays them; it
//     works everywhere, for TCP and UDP. It listens on the cluster IPs
//     themselves, so each must be a local address: addresses inside
//     127.0.0.0/8 always are on Linux; others it adds to a dummy interface
//     (netlink) when the process may (root with CAP_NET_ADMIN). Unprivileged,
//     use a service CIDR inside 127.0.0.0/8 (ipam.WithServiceCIDR): cluster
//     IPs are then reachable from the host but not from pods, which reach
//     Services through NodePorts and LoadBalancer addresses instead. It
//     does not serve external IPs, which it could listen on only by taking
//     the whole address from the machine that has it.
//   - nft (network/proxy/nft) programs nftables DNAT rules, as kube-proxy's
//     nftables mode does; it needs root with CAP_NET_ADMIN and forwards in
//     the kernel. It serves external IPs too, on the Service's ports only.
//
// Both remove every rule, address and listener they made when Run returns.
package proxy

import (
	"context"
	"errors"
	"fmt"
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
	// Affinity, when positive, sends a client (by source IP) to the same
	// endpoint while it keeps coming back within this long
	// (sessionAffinity ClientIP).
	Affinity time.Duration
	// Endpoints are the ready endpoints. With none, connections are
	// refused.
	Endpoints []netip.AddrPort
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
