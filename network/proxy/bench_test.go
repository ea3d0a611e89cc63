package proxy_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
)

// BenchmarkUserspaceHTTP measures what a request relayed by the userspace
// data plane costs: 64 kept-alive client connections (as bench/network's
// wrk -c64) send GET requests to a backend on loopback, directly and
// through a cluster IP. Backend and clients are minimal HTTP/1.1 loops,
// so the difference of cpu-us/op (CPU time of this process, kernel time
// included, per request) between the two is the relay's:
//
//	go test -run '^$' -bench UserspaceHTTP -benchtime 200000x ./network/proxy/
func BenchmarkUserspaceHTTP(b *testing.B) {
	backend := rawBackend(b)
	dp, err := proxy.NewUserspace()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dp.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	front := netip.AddrPortFrom(netip.MustParseAddr("127.0.77.1"), 8080)
	if err := dp.Sync(ctx, []proxy.ServicePort{{ID: "default/raw:http", Protocol: objects.ProtocolTCP,
		ClusterIPs: []netip.Addr{front.Addr()}, Port: front.Port(), Endpoints: []proxy.Endpoint{{Addr: backend}}}}); err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) { nettest.LoadHTTP(b, backend.String()) })
	b.Run("clusterip", func(b *testing.B) { nettest.LoadHTTP(b, front.String()) })
}

// rawBackend starts an HTTP/1.1 server on loopback answering every
// request (without a body) with a short text, without net/http.
func rawBackend(b *testing.B) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				nettest.AnswerLoop(c)
			}()
		}
	}()
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
}
