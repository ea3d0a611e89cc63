package proxytest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
)

// Client pods of the traffic policy cases are loopback addresses the
// PodNodes of their service ports place on nodes; other addresses are the
// host's.
var (
	podOnN1   = netip.MustParseAddr("127.0.4.11")
	podOnN2   = netip.MustParseAddr("127.0.4.12")
	podOnN3   = netip.MustParseAddr("127.0.4.13") // a node without endpoints
	hostAddr  = netip.MustParseAddr("127.0.4.50")
	localPods = proxy.NewPodNodes(map[netip.Addr]string{podOnN1: "n1", podOnN2: "n2", podOnN3: "n3"})
)

// onNodes places the endpoints of bs on nodes, one node per backend.
func onNodes(bs []Backend, nodes ...string) []proxy.Endpoint {
	eps := names(bs...)
	for i := range eps {
		eps[i].Node = nodes[i]
	}
	return eps
}

// askFrom asks n times from the address from and counts answers by
// backend; failures are counted under "".
func askFrom(proto objects.Protocol, to netip.AddrPort, from netip.Addr, n int) map[string]int {
	seen := map[string]int{}
	for range n {
		name, err := Ask(proto, to, from)
		if err != nil {
			name = ""
		}
		seen[name]++
	}
	return seen
}

// notServed checks that a new connection from from to to gets no answer
// and fails at once: refused at connect, or reset before any answer (a
// relay that accepted it and has no endpoint for it). A UDP datagram is
// refused (ICMP port unreachable, or EPERM from a kernel data plane's
// output hook) or, from a relay, goes unanswered.
func notServed(t *testing.T, proto objects.Protocol, to netip.AddrPort, from netip.Addr) {
	t.Helper()
	network, local := "tcp4", net.Addr(&net.TCPAddr{IP: from.AsSlice()})
	if proto == objects.ProtocolUDP {
		network, local = "udp4", &net.UDPAddr{IP: from.AsSlice()}
	}
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: local}
	c, err := d.Dial(network, to.String())
	if err == nil {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		var n int
		if _, err = c.Write([]byte("ping\n")); err == nil {
			buf := make([]byte, 256)
			n, err = c.Read(buf)
			if err == nil {
				t.Fatalf("%s from %s to %s was answered %q", proto, from, to, buf[:n])
			}
		}
		var ne net.Error
		if proto == objects.ProtocolUDP && errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) {
			return
		}
	}
	// A reset may come before connect returns.
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET) &&
		(proto != objects.ProtocolUDP || !errors.Is(err, syscall.EPERM)) {
		t.Fatalf("%s from %s to %s: got %v, want the connection refused", proto, from, to, err)
	}
}

// With internalTrafficPolicy Local, a client pod reaches only the
// endpoints of its node through the cluster IP, and none when its node has
// none; the host reaches them all; the NodePort ignores the policy.
func testInternalLocal(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	ip := h.clusterIP()
	np := freeNodePort(t)
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		NodePort: np, Endpoints: onNodes(bs, "n1", "n1", "n2"), InternalLocal: true, Pods: localPods}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	if seen := askFrom(objects.ProtocolTCP, to, podOnN1, 30); seen["b0"] == 0 || seen["b1"] == 0 || len(seen) != 2 {
		t.Errorf("30 connections from a pod on n1 were answered %v; want b0 and b1, n1's endpoints, only", seen)
	}
	if seen := askFrom(objects.ProtocolTCP, to, podOnN2, 10); seen["b2"] != 10 {
		t.Errorf("10 connections from a pod on n2 were answered %v; want b2, n2's endpoint, only", seen)
	}
	notServed(t, objects.ProtocolTCP, to, podOnN3)
	if seen := askFrom(objects.ProtocolTCP, to, hostAddr, 60); seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 || seen["b2"] == 0 {
		t.Errorf("60 connections from the host were answered %v; want every endpoint", seen)
	}
	nodePort := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)
	if seen := askFrom(objects.ProtocolTCP, nodePort, podOnN3, 60); seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 || seen["b2"] == 0 {
		t.Errorf("60 connections from a pod on n3 to the node port were answered %v; want every endpoint", seen)
	}

	// n2 loses its endpoint: its pods are refused, n1's keep theirs.
	sp.Endpoints = sp.Endpoints[:2]
	h.sync(sp)
	notServed(t, objects.ProtocolTCP, to, podOnN2)
	if seen := askFrom(objects.ProtocolTCP, to, podOnN1, 10); seen[""] > 0 || seen["b2"] > 0 {
		t.Errorf("after b2 went, 10 connections from a pod on n1 were answered %v", seen)
	}
	// The policy back to Cluster: every pod reaches every endpoint.
	sp.InternalLocal, sp.Pods = false, nil
	h.sync(sp)
	if seen := askFrom(objects.ProtocolTCP, to, podOnN2, 10); seen[""] > 0 {
		t.Errorf("with policy Cluster, 10 connections from a pod on n2 were answered %v", seen)
	}
}

func testInternalLocalUDP(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolUDP, 2)
	ip := h.clusterIP()
	h.sync(proxy.ServicePort{ID: "default/dns:dns", Protocol: objects.ProtocolUDP, ClusterIPs: []netip.Addr{ip}, Port: 5353,
		Endpoints: onNodes(bs, "n1", "n2"), InternalLocal: true, Pods: localPods})
	to := netip.AddrPortFrom(ip, 5353)
	waitAnswer(t, objects.ProtocolUDP, to)
	if seen := askFrom(objects.ProtocolUDP, to, podOnN1, 10); seen["b0"] != 10 {
		t.Errorf("10 UDP flows from a pod on n1 were answered %v; want b0 only", seen)
	}
	if seen := askFrom(objects.ProtocolUDP, to, podOnN2, 10); seen["b1"] != 10 {
		t.Errorf("10 UDP flows from a pod on n2 were answered %v; want b1 only", seen)
	}
	notServed(t, objects.ProtocolUDP, to, podOnN3)
}

// ClientIP affinity keeps a pod on one endpoint of its own node.
func testInternalLocalAffinity(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 4)
	ip := h.clusterIP()
	h.sync(proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		Affinity: time.Hour, Endpoints: onNodes(bs, "n1", "n1", "n2", "n2"), InternalLocal: true, Pods: localPods})
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	for from, want := range map[netip.Addr][]string{podOnN1: {"b0", "b1"}, podOnN2: {"b2", "b3"}} {
		seen := askFrom(objects.ProtocolTCP, to, from, 10)
		if len(seen) != 1 || (seen[want[0]] != 10 && seen[want[1]] != 10) {
			t.Errorf("10 connections from %s, with ClientIP affinity, were answered %v; want one of %v throughout", from, seen, want)
		}
	}
}

// startSourceBackend starts a TCP backend on ip that answers each request
// with the address the connection came from.
func startSourceBackend(t *testing.T, ip string) Backend {
	return startTCP(t, ip, "source", func(c net.Conn) string {
		return c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String()
	})
}

// sourceSeen returns the address the backend behind to saw a connection
// from from come from.
func sourceSeen(t *testing.T, to netip.AddrPort, from netip.Addr) netip.Addr {
	t.Helper()
	var answer string
	nettest.Poll(t, fmt.Sprintf("an answer from %s to %s", to, from), func() error {
		a, err := Ask(objects.ProtocolTCP, to, from)
		answer = a
		return err
	})
	ip, err := netip.ParseAddr(answer)
	if err != nil {
		t.Fatalf("the backend behind %s answered %q, not an address", to, answer)
	}
	return ip
}

// With externalTrafficPolicy Local, a data plane that can hands the
// endpoint the client's address for NodePort and load balancer traffic;
// pods' connections, and those of policy Cluster, are masqueraded. The
// cluster IP keeps masquerading.
func testExternalLocal(t *testing.T, h *harness) {
	b := startSourceBackend(t, "127.0.0.2")
	client := netip.MustParseAddr("127.0.4.21")
	np := freeNodePort(t)
	lb := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nettest.FreePort(t)))
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		NodePort: np, LoadBalancer: []netip.AddrPort{lb}, Endpoints: []proxy.Endpoint{{Addr: b.Addr, Node: "n1"}},
		ExternalLocal: true, Pods: localPods}
	h.sync(sp)
	nodePort := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)
	for _, to := range []netip.AddrPort{nodePort, lb} {
		got := sourceSeen(t, to, client)
		if h.preservesSource && got != client {
			t.Errorf("through %s with externalTrafficPolicy Local, the endpoint saw %s; want the client's %s", to, got, client)
		}
		if !h.preservesSource && got == client {
			t.Errorf("through %s, the endpoint saw the client's address %s from a data plane said not to keep it", to, got)
		}
		if got := sourceSeen(t, to, podOnN1); got == podOnN1 {
			t.Errorf("through %s, the endpoint saw a pod's own address %s; pods' connections are masqueraded", to, got)
		}
	}
	if got := sourceSeen(t, netip.AddrPortFrom(ip, 8080), client); got == client {
		t.Errorf("through the cluster IP, the endpoint saw the client's address %s; cluster IP traffic is masqueraded", got)
	}
	sp.ExternalLocal, sp.Pods = false, nil
	h.sync(sp)
	if got := sourceSeen(t, nodePort, client); got == client {
		t.Errorf("with externalTrafficPolicy Cluster, the endpoint saw the client's address %s", got)
	}
}
