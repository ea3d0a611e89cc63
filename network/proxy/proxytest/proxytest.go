// Package proxytest is the conformance suite every proxy.DataPlane passes:
// the userspace one, the nftables one, and a host's own.
//
// Backends are servers on loopback addresses (127.0.0.2 and up), cluster
// IPs are drawn from 127.77.0.0/16 and clients connect from the host, so
// the suite needs no container and sends nothing off the machine. The
// client pods of the traffic policy and topology hint cases are loopback
// addresses too, which the service ports' PodNodes place on nodes and
// zones.
package proxytest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
)

// Option tunes the suite.
type Option func(*harness)

// PreservesSourceAddress tells the suite that the data plane hands the
// client's address to the endpoint for externalTrafficPolicy Local (the
// nft one does; Userspace relays connections and cannot), which the suite
// then checks; without it, the suite checks that the endpoint sees
// another address, as documented.
func PreservesSourceAddress() Option {
	return func(h *harness) { h.preservesSource = true }
}

// WithClusterIPRange sets the range (inside 127.0.0.0/8) the suite draws
// cluster IPs from (default 127.77.0.0/16).
func WithClusterIPRange(p netip.Prefix) Option {
	return func(h *harness) { h.ipRange = p.Masked() }
}

// Run runs the suite; newDataPlane returns a fresh data plane for each
// test, which the suite runs and stops.
func Run(t *testing.T, newDataPlane func(t *testing.T) proxy.DataPlane, opts ...Option) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"TCPSpreadsOverEndpoints", testTCPSpread},
		{"RemovedEndpointGetsNoNewConnection", testRemovedEndpoint},
		{"NoEndpointsRefuses", testNoEndpoints},
		{"NoEndpointsRefusesUDP", testNoEndpointsUDP},
		{"SessionAffinityClientIP", testAffinity},
		{"UDP", testUDP},
		{"NodePort", testNodePort},
		{"LoadBalancer", testLoadBalancer},
		{"LoadBalancerSourceRanges", testLoadBalancerSourceRanges},
		{"RemovedServiceStopsForwarding", testRemovedService},
		{"EstablishedConnectionOutlivesItsServicePort", testEstablishedOutlivesService},
		{"InternalTrafficPolicyLocal", testInternalLocal},
		{"InternalTrafficPolicyLocalUDP", testInternalLocalUDP},
		{"InternalTrafficPolicyLocalAffinity", testInternalLocalAffinity},
		{"ExternalTrafficPolicyLocal", testExternalLocal},
		{"TopologyHintsSameZone", testTopologySameZone},
		{"TopologyHintsSameNode", testTopologySameNode},
		{"TopologyHintsWithLocalPolicies", testTopologyWithLocalPolicies},
		{"StopRemovesEverything", testStop},
		{"StopWithATransferBlocked", testStopBlocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dp := newDataPlane(t)
			h := &harness{t: t, dp: dp, ipRange: netip.MustParsePrefix("127.77.0.0/16")}
			for _, o := range opts {
				o(h)
			}
			h.stop = nettest.RunBackground(t, dp.Run)
			tc.fn(t, h)
		})
	}
}

type harness struct {
	t               *testing.T
	dp              proxy.DataPlane
	stop            func()
	ipRange         netip.Prefix
	preservesSource bool
}

func (h *harness) sync(ports ...proxy.ServicePort) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.t.Context(), nettest.Timeout)
	defer cancel()
	if err := h.dp.Sync(ctx, ports); err != nil {
		h.t.Fatalf("Sync: %v", err)
	}
}

// clusterIP returns a random address of the range, never its first or
// last.
func (h *harness) clusterIP() netip.Addr {
	base := h.ipRange.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	size := uint32(1) << (32 - h.ipRange.Bits())
	v += 1 + rand.Uint32N(size-2)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Backend is a loopback server that answers each request line (TCP) or
// datagram (UDP) with its name.
type Backend struct {
	Name string
	Addr netip.AddrPort
}

// StartBackend starts a TCP or UDP backend on ip (a loopback address),
// stopped when the test ends.
func StartBackend(t testing.TB, proto objects.Protocol, ip, name string) Backend {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	if proto == objects.ProtocolUDP {
		pc, err := net.ListenPacket("udp4", ip+":0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo([]byte(name+":"+string(buf[:n])), from)
			}
		}()
		return Backend{Name: name, Addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
	}
	return startTCP(t, ip, name, func(net.Conn) string { return name })
}

// startTCP starts a TCP backend on ip that answers each request line of a
// connection c with answer(c).
func startTCP(t testing.TB, ip, name string, answer func(c net.Conn) string) Backend {
	t.Helper()
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ln, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock(); c.Close() }()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := fmt.Fprintf(c, "%s:%s", answer(c), line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return Backend{Name: name, Addr: ln.Addr().(*net.TCPAddr).AddrPort()}
}

// Ask sends one request over a new connection from the local address from
// (zero: any) and returns the name of the backend that answered.
func Ask(proto objects.Protocol, to netip.AddrPort, from netip.Addr) (string, error) {
	network := "tcp4"
	d := net.Dialer{Timeout: 2 * time.Second}
	if proto == objects.ProtocolUDP {
		network = "udp4"
		if from.IsValid() {
			d.LocalAddr = &net.UDPAddr{IP: from.AsSlice()}
		}
	} else if from.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: from.AsSlice()}
	}
	c, err := d.Dial(network, to.String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	name, _, ok := strings.Cut(string(buf[:n]), ":")
	if !ok {
		return "", fmt.Errorf("unexpected answer %q", buf[:n])
	}
	return name, nil
}

func names(bs ...Backend) []proxy.Endpoint {
	var out []proxy.Endpoint
	for _, b := range bs {
		out = append(out, proxy.Endpoint{Addr: b.Addr})
	}
	return out
}

// askMany asks n times from distinct client addresses and counts answers
// by backend; failures are counted under "".
func askMany(proto objects.Protocol, to netip.AddrPort, n int) map[string]int {
	seen := map[string]int{}
	for i := range n {
		from := netip.AddrFrom4([4]byte{127, 0, 1, byte(1 + i%250)})
		name, err := Ask(proto, to, from)
		if err != nil {
			name = ""
		}
		seen[name]++
	}
	return seen
}

// waitAnswer waits until to answers (a data plane may apply rules
// asynchronously after Sync returns only within milliseconds; this absorbs
// nothing else).
func waitAnswer(t *testing.T, proto objects.Protocol, to netip.AddrPort) {
	t.Helper()
	nettest.Poll(t, "an answer from "+to.String(), func() error {
		_, err := Ask(proto, to, netip.Addr{})
		return err
	})
}

func backends(t *testing.T, proto objects.Protocol, n int) []Backend {
	var out []Backend
	for i := range n {
		out = append(out, StartBackend(t, proto, fmt.Sprintf("127.0.0.%d", 2+i), fmt.Sprintf("b%d", i)))
	}
	return out
}

func testTCPSpread(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	ip := h.clusterIP()
	h.sync(proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: names(bs...)})
	to := netip.AddrPortFrom(ip, 8080)
	seen := askMany(objects.ProtocolTCP, to, 60)
	if seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 || seen["b2"] == 0 {
		t.Fatalf("60 connections to %s were answered %v; want all three endpoints and no failure", to, seen)
	}
}

func testRemovedEndpoint(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: names(bs...)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	// An established connection survives the removal of its endpoint.
	sp.Endpoints = names(bs[0], bs[1])
	h.sync(sp)
	seen := askMany(objects.ProtocolTCP, to, 60)
	if seen["b2"] > 0 || seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 {
		t.Fatalf("after removing b2, 60 connections were answered %v", seen)
	}
	sp.Endpoints = names(bs[2])
	h.sync(sp)
	if seen := askMany(objects.ProtocolTCP, to, 20); seen["b2"] != 20 {
		t.Fatalf("after keeping only b2, 20 connections were answered %v", seen)
	}
}

func testNoEndpoints(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 1)
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: names(bs...)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	sp.Endpoints = nil
	h.sync(sp)
	refused(t, objects.ProtocolTCP, to)
}

// A UDP service port without endpoints answers with ICMP port
// unreachable, as kube-proxy's reject rules do, before it has endpoints and
// after it lost them.
func testNoEndpointsUDP(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolUDP, 1)
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/dns:dns", Protocol: objects.ProtocolUDP, ClusterIPs: []netip.Addr{ip}, Port: 5353}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 5353)
	refused(t, objects.ProtocolUDP, to)
	sp.Endpoints = names(bs...)
	h.sync(sp)
	waitAnswer(t, objects.ProtocolUDP, to)
	sp.Endpoints = nil
	h.sync(sp)
	refused(t, objects.ProtocolUDP, to)
}

// refused checks that a new connection to to is refused at once: reset at
// connect (TCP), or its datagram answered with ICMP port unreachable (UDP).
// A datagram from the host that a kernel data plane rejects in its output
// hook fails to send instead (EPERM), as with kube-proxy.
func refused(t *testing.T, proto objects.Protocol, to netip.AddrPort) {
	t.Helper()
	network := "tcp4"
	if proto == objects.ProtocolUDP {
		network = "udp4"
	}
	c, err := net.DialTimeout(network, to.String(), 2*time.Second)
	if err == nil {
		defer c.Close()
		if proto == objects.ProtocolTCP {
			t.Fatalf("a connection to %s was accepted", to)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err = c.Write([]byte("ping\n")); err == nil {
			_, err = c.Read(make([]byte, 256))
		}
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && (proto != objects.ProtocolUDP || !errors.Is(err, syscall.EPERM)) {
		t.Fatalf("%s to %s: got %v, want connection refused", proto, to, err)
	}
}

func testAffinity(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 3)
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		Affinity: time.Hour, Endpoints: names(bs...)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	clients := map[string]string{} // client -> backend
	for c := range 6 {
		from := netip.AddrFrom4([4]byte{127, 0, 2, byte(10 + c)})
		for range 10 {
			name, err := Ask(objects.ProtocolTCP, to, from)
			if err != nil {
				t.Fatal(err)
			}
			if prev, ok := clients[from.String()]; ok && prev != name {
				t.Fatalf("client %s went to %s, then to %s, with ClientIP affinity", from, prev, name)
			}
			clients[from.String()] = name
		}
	}
	// Its endpoint removed, a client moves to another and sticks there.
	first := netip.MustParseAddr("127.0.2.10")
	was := clients[first.String()]
	var keep []Backend
	for _, b := range bs {
		if b.Name != was {
			keep = append(keep, b)
		}
	}
	sp.Endpoints = names(keep...)
	h.sync(sp)
	now, err := Ask(objects.ProtocolTCP, to, first)
	if err != nil || now == was {
		t.Fatalf("after removing %s, client %s went to %q (%v)", was, first, now, err)
	}
	for range 5 {
		if again, err := Ask(objects.ProtocolTCP, to, first); err != nil || again != now {
			t.Fatalf("client %s went to %s, then to %q (%v)", first, now, again, err)
		}
	}
}

func testUDP(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolUDP, 3)
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/dns:dns", Protocol: objects.ProtocolUDP, ClusterIPs: []netip.Addr{ip}, Port: 5353, Endpoints: names(bs...)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 5353)
	waitAnswer(t, objects.ProtocolUDP, to)
	seen := askMany(objects.ProtocolUDP, to, 60)
	if seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 || seen["b2"] == 0 {
		t.Fatalf("60 UDP flows to %s were answered %v; want all three endpoints", to, seen)
	}
	sp.Endpoints = names(bs[1])
	h.sync(sp)
	if seen := askMany(objects.ProtocolUDP, to, 20); seen["b1"] != 20 {
		t.Fatalf("after keeping only b1, 20 UDP flows were answered %v", seen)
	}
}

// freeNodePort finds a port in the node port range free on loopback.
func freeNodePort(t *testing.T) uint16 {
	for range 100 {
		p := 30000 + rand.IntN(2768)
		l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return uint16(p)
	}
	t.Fatal("no free node port")
	return 0
}

func testNodePort(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 2)
	np := freeNodePort(t)
	h.sync(proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{h.clusterIP()}, Port: 8080,
		NodePort: np, Endpoints: names(bs...)})
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)
	waitAnswer(t, objects.ProtocolTCP, to)
	if seen := askMany(objects.ProtocolTCP, to, 20); seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 {
		t.Fatalf("20 connections to node port %d were answered %v", np, seen)
	}
}

func testLoadBalancer(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 2)
	lb := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nettest.FreePort(t)))
	h.sync(proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{h.clusterIP()}, Port: 8080,
		NodePort: freeNodePort(t), LoadBalancer: []netip.AddrPort{lb}, Endpoints: names(bs...)})
	waitAnswer(t, objects.ProtocolTCP, lb)
	if seen := askMany(objects.ProtocolTCP, lb, 20); seen[""] > 0 || seen["b0"] == 0 || seen["b1"] == 0 {
		t.Fatalf("20 connections to the load balancer %s were answered %v", lb, seen)
	}
}

// Only clients in the source ranges reach the load balancer address, over
// TCP and UDP; the node port and the cluster IP stay open to all.
func testLoadBalancerSourceRanges(t *testing.T, h *harness) {
	in, out := netip.MustParseAddr("127.0.3.1"), netip.MustParseAddr("127.0.3.2")
	ranges := []netip.Prefix{netip.MustParsePrefix("127.0.3.0/31"), netip.MustParsePrefix("192.0.2.0/24")}
	for _, proto := range []objects.Protocol{objects.ProtocolTCP, objects.ProtocolUDP} {
		t.Run(string(proto), func(t *testing.T) {
			bs := backends(t, proto, 1)
			ip, np := h.clusterIP(), freeNodePort(t)
			lb := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(nettest.FreePort(t)))
			h.sync(proxy.ServicePort{ID: "default/web:" + string(proto), Protocol: proto, ClusterIPs: []netip.Addr{ip}, Port: 8080,
				NodePort: np, LoadBalancer: []netip.AddrPort{lb}, SourceRanges: ranges, Endpoints: names(bs...)})
			nettest.Poll(t, "an answer to "+in.String()+" from "+lb.String(), func() error {
				_, err := Ask(proto, lb, in)
				return err
			})
			if name, err := Ask(proto, lb, out); err == nil {
				t.Fatalf("a client outside the source ranges was answered by %s through the load balancer", name)
			}
			for _, to := range []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np), netip.AddrPortFrom(ip, 8080)} {
				if _, err := Ask(proto, to, out); err != nil {
					t.Errorf("a client outside the source ranges through %s: %v", to, err)
				}
			}
			// Without ranges, every client again.
			h.sync(proxy.ServicePort{ID: "default/web:" + string(proto), Protocol: proto, ClusterIPs: []netip.Addr{ip}, Port: 8080,
				NodePort: np, LoadBalancer: []netip.AddrPort{lb}, Endpoints: names(bs...)})
			nettest.Poll(t, "an answer to "+out.String()+" from "+lb.String(), func() error {
				_, err := Ask(proto, lb, out)
				return err
			})
		})
	}
}

func testRemovedService(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 1)
	ip := h.clusterIP()
	h.sync(proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: names(bs...)})
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	h.sync()
	if name, err := Ask(objects.ProtocolTCP, to, netip.Addr{}); err == nil {
		t.Fatalf("a removed service was answered by %s", name)
	}
}

// A connection established through a service port goes on when the port
// changes and when the Service is removed, as conntrack keeps it for
// kube-proxy; new connections are refused.
func testEstablishedOutlivesService(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 1)
	ip := h.clusterIP()
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: names(bs...)}
	h.sync(sp)
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	c, err := net.DialTimeout("tcp4", to.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	exchange := func(when string) {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			t.Fatalf("%s: write: %v", when, err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "b0:ping\n" {
			t.Fatalf("%s: read %q, %v; want b0's answer", when, line, err)
		}
	}
	exchange("established")
	sp.Port = 8081
	h.sync(sp)
	exchange("after the service port changed")
	refused(t, objects.ProtocolTCP, to)
	h.sync()
	exchange("after the service was removed")
	refused(t, objects.ProtocolTCP, netip.AddrPortFrom(ip, 8081))
}

func testStop(t *testing.T, h *harness) {
	bs := backends(t, objects.ProtocolTCP, 1)
	ip := h.clusterIP()
	np := freeNodePort(t)
	h.sync(proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		NodePort: np, Endpoints: names(bs...)})
	to := netip.AddrPortFrom(ip, 8080)
	waitAnswer(t, objects.ProtocolTCP, to)
	// A connection open while the data plane stops does not keep it running.
	c, err := net.Dial("tcp4", to.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.stop()
	for _, a := range []netip.AddrPort{to, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)} {
		if name, err := Ask(objects.ProtocolTCP, a, netip.Addr{}); err == nil {
			t.Fatalf("%s was answered by %s after the data plane stopped", a, name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := h.dp.Sync(ctx, nil); !errors.Is(err, proxy.ErrStopped) {
		t.Fatalf("Sync after stop returned %v, want ErrStopped", err)
	}
}

// testStopBlocked stops the data plane while a backend sends to a client
// that does not read, every buffer on the way full.
func testStopBlocked(t *testing.T, h *harness) {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	full := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			full <- err
			return
		}
		defer c.Close()
		chunk := make([]byte, 64<<10)
		for {
			// A write that cannot finish: the client's buffers, the
			// relay's and this one's are full.
			if err := c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
				full <- err
				return
			}
			if _, err := c.Write(chunk); err != nil {
				full <- err
				return
			}
		}
	}()
	ip := h.clusterIP()
	h.sync(proxy.ServicePort{ID: "default/stream:data", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{ip}, Port: 8080,
		Endpoints: []proxy.Endpoint{{Addr: ln.Addr().(*net.TCPAddr).AddrPort()}}})
	var c net.Conn
	nettest.Poll(t, "a connection through the cluster IP", func() error {
		c, err = net.Dial("tcp4", netip.AddrPortFrom(ip, 8080).String())
		return err
	})
	defer c.Close()
	select {
	case err := <-full:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("the backend's write failed: %v", err)
		}
	case <-time.After(nettest.Timeout):
		t.Fatal("the backend's writes never blocked")
	}
	h.stop() // fails the test unless Run returns in time
}
