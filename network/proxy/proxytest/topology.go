package proxytest

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
)

// podOnN4 is a client pod of the topology cases, on node n4.
var podOnN4 = netip.MustParseAddr("127.0.4.14")

// podsInZones places the client pods podOnN1 to podOnN4 on nodes n1 to n4,
// in zones (node to zone).
func podsInZones(zones map[string]string) *proxy.PodNodes {
	return proxy.NewPodNodesInZones(map[netip.Addr]string{podOnN1: "n1", podOnN2: "n2", podOnN3: "n3", podOnN4: "n4"}, zones)
}

// hinted places the endpoints of bs on nodes, one node per backend, and
// gives each the hints the endpoint slice controller writes: its node's
// zone, and with sameNode its node too.
func hinted(bs []Backend, zones map[string]string, sameNode bool, nodes ...string) []proxy.Endpoint {
	eps := onNodes(bs, nodes...)
	for i := range eps {
		eps[i].ForZones = []string{zones[nodes[i]]}
		if sameNode {
			eps[i].ForNodes = []string{nodes[i]}
		}
	}
	return eps
}

// answeredBy checks that n connections from from to to are answered by
// the backends want, each at least once, and by no other.
func answeredBy(t *testing.T, what string, to netip.AddrPort, from netip.Addr, n int, want ...string) {
	t.Helper()
	seen := askFrom(objects.ProtocolTCP, to, from, n)
	if len(seen) != len(want) || slices.ContainsFunc(want, func(w string) bool { return seen[w] == 0 }) {
		t.Errorf("%s: %d connections from %s to %s were answered %v; want %v only, each at least once",
			what, n, from, to, fmt.Sprint(seen), want)
	}
}

// With PreferSameZone hints, a client pod reaches the endpoints of its
// node's zone, through the cluster IP and the NodePort alike, and every
// endpoint when its zone has none; the host reaches every endpoint. A
// port where some endpoint lacks a hint ignores the hints.
func testTopologySameZone(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	zones := map[string]string{"n1": "a", "n2": "b", "n3": "c"}
	ip := h.clusterIP()
	np := freeNodePort(t)
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		NodePort: np, Endpoints: hinted(bs, zones, false, "n1", "n2", "n2"), Pods: podsInZones(zones)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	nodePort := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)
	waitAnswer(t, objects.ProtocolTCP, to)
	answeredBy(t, "zone a", to, podOnN1, 10, "b0")
	answeredBy(t, "zone b", to, podOnN2, 30, "b1", "b2")
	answeredBy(t, "zone c, without endpoints", to, podOnN3, 60, "b0", "b1", "b2")
	answeredBy(t, "no zone", to, podOnN4, 60, "b0", "b1", "b2")
	answeredBy(t, "the host", to, hostAddr, 60, "b0", "b1", "b2")
	answeredBy(t, "zone a, to the node port", nodePort, podOnN1, 10, "b0")
	answeredBy(t, "the host, to the node port", nodePort, hostAddr, 60, "b0", "b1", "b2")

	// Zone a loses its endpoint: its pods fall back to every endpoint.
	sp.Endpoints = sp.Endpoints[1:]
	h.sync(sp)
	answeredBy(t, "zone a without endpoints", to, podOnN1, 30, "b1", "b2")
	answeredBy(t, "zone b", to, podOnN2, 30, "b1", "b2")

	// An endpoint without a hint turns the hints off for everyone.
	sp.Endpoints = hinted(bs, zones, false, "n1", "n2", "n2")
	sp.Endpoints[2].ForZones = nil
	h.sync(sp)
	answeredBy(t, "zone a, with an endpoint unhinted", to, podOnN1, 60, "b0", "b1", "b2")

	// The zone of a pod's node changes with a new PodNodes.
	sp.Endpoints = hinted(bs, zones, false, "n1", "n2", "n2")
	moved := maps.Clone(zones)
	moved["n3"] = "b"
	sp.Pods = podsInZones(moved)
	h.sync(sp)
	answeredBy(t, "n3 moved to zone b", to, podOnN3, 30, "b1", "b2")
	answeredBy(t, "zone a", to, podOnN1, 10, "b0")
}

// With PreferSameNode hints, a client pod reaches the endpoints of its
// node, else those of its zone, else every endpoint.
func testTopologySameNode(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	zones := map[string]string{"n1": "a", "n2": "a", "n3": "a", "n4": "b"}
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		Endpoints: hinted(bs, zones, true, "n1", "n2", "n2"), Pods: podsInZones(zones)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	answeredBy(t, "node n1", to, podOnN1, 10, "b0")
	answeredBy(t, "node n2", to, podOnN2, 30, "b1", "b2")
	answeredBy(t, "node n3, none of its own, zone a", to, podOnN3, 60, "b0", "b1", "b2")
	answeredBy(t, "the host", to, hostAddr, 60, "b0", "b1", "b2")

	// b2 moves to n4, in zone b: n3's pods keep to zone a; n4's own
	// endpoint serves its pods.
	sp.Endpoints = hinted(bs, zones, true, "n1", "n2", "n4")
	h.sync(sp)
	answeredBy(t, "node n3, zone a", to, podOnN3, 30, "b0", "b1")
	answeredBy(t, "node n4", to, podOnN4, 10, "b2")

	// With zone hints only (an older controller), n1 and n2 share zone a.
	sp.Endpoints = hinted(bs, zones, false, "n1", "n2", "n4")
	h.sync(sp)
	answeredBy(t, "node n1, zone hints only", to, podOnN1, 30, "b0", "b1")

	// ClientIP affinity stays within the pod's endpoints.
	sp.Endpoints, sp.Affinity = hinted(bs, zones, true, "n1", "n2", "n2"), time.Hour
	h.sync(sp)
	answeredBy(t, "node n1 with affinity", to, podOnN1, 10, "b0")
	if seen := askFrom(objects.ProtocolTCP, to, podOnN2, 10); len(seen) != 1 || (seen["b1"] != 10 && seen["b2"] != 10) {
		t.Errorf("10 connections from a pod on n2, with ClientIP affinity, were answered %v; want one of b1 and b2 throughout", seen)
	}
}

// internalTrafficPolicy Local takes precedence over the hints for the
// cluster IP; pods' connections to the NodePort follow the hints, with
// externalTrafficPolicy Local too, and the host's reach every endpoint.
func testTopologyWithLocalPolicies(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	zones := map[string]string{"n1": "a", "n2": "a", "n3": "a", "n4": "b"}
	ip := h.clusterIP()
	np := freeNodePort(t)
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		NodePort: np, Endpoints: hinted(bs, zones, false, "n1", "n2", "n4"), InternalLocal: true, ExternalLocal: true,
		Pods: podsInZones(zones)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	nodePort := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)
	waitAnswer(t, objects.ProtocolTCP, to)
	answeredBy(t, "node n1, internalTrafficPolicy Local", to, podOnN1, 10, "b0")
	notServed(t, objects.ProtocolTCP, to, podOnN3)
	answeredBy(t, "node n4, internalTrafficPolicy Local", to, podOnN4, 10, "b2")
	answeredBy(t, "the host", to, hostAddr, 60, "b0", "b1", "b2")
	answeredBy(t, "node n3, to the node port", nodePort, podOnN3, 30, "b0", "b1")
	answeredBy(t, "node n4, to the node port", nodePort, podOnN4, 10, "b2")
	answeredBy(t, "the host, to the node port", nodePort, hostAddr, 60, "b0", "b1", "b2")

	sp.ExternalLocal = false
	h.sync(sp)
	answeredBy(t, "node n3, to the node port, externalTrafficPolicy Cluster", nodePort, podOnN3, 30, "b0", "b1")
}
