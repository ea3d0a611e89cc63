package network_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/ingress"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
)

// BenchmarkHTTP measures HTTP throughput and p99 latency to one backend on
// loopback: directly, through a ClusterIP on each data plane, through a
// NodePort, and through the Ingress controller. Compare ns/op (and
// p99-us) of the sub-benchmarks with "direct":
//
//	go test -run '^$' -bench HTTP -benchtime 20000x ./network/
//
// Client, proxies and backend share this process, and the Go client costs
// more per request than the proxies, so the ratios flatter them: the
// figures the networking targets are checked against come from
// bench/network (wrk against demo pods on Docker or containerd, with both
// orchestrators' data planes and the Ingress, the proxies' CPU time per
// request, and each ratio against direct runs interleaved with it):
//
//	go run ./bench/network
func BenchmarkHTTP(b *testing.B) {
	ln, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte("hello from the backend\n")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) })}
	go srv.Serve(ln)
	defer srv.Close()
	backend := ln.Addr().(*net.TCPAddr).AddrPort()

	b.Run("direct", func(b *testing.B) { load(b, "http://"+backend.String()+"/") })
	b.Run("userspace-clusterip", func(b *testing.B) {
		dp, _ := proxy.NewUserspace(proxy.WithNodePortAddresses(netip.MustParseAddr("127.0.0.1")))
		viaDataPlane(b, dp, backend, false)
	})
	b.Run("userspace-nodeport", func(b *testing.B) {
		dp, _ := proxy.NewUserspace(proxy.WithNodePortAddresses(netip.MustParseAddr("127.0.0.1")))
		viaDataPlane(b, dp, backend, true)
	})
	b.Run("nftables-clusterip", func(b *testing.B) {
		if os.Geteuid() != 0 || nft.Available() != nil {
			b.Skip("needs root with CAP_NET_ADMIN")
		}
		dp, _ := nft.New(nft.WithTableName(fmt.Sprintf("podkit-bench-%d", os.Getpid())))
		viaDataPlane(b, dp, backend, false)
	})
	b.Run("nftables-nodeport", func(b *testing.B) {
		if os.Geteuid() != 0 || nft.Available() != nil {
			b.Skip("needs root with CAP_NET_ADMIN")
		}
		dp, _ := nft.New(nft.WithTableName(fmt.Sprintf("podkit-bench-%d", os.Getpid())))
		viaDataPlane(b, dp, backend, true)
	})
	b.Run("ingress", func(b *testing.B) { viaIngress(b, backend) })
}

func viaDataPlane(b *testing.B, dp proxy.DataPlane, backend netip.AddrPort, nodePort bool) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); dp.Run(ctx) }()
	defer func() { cancel(); <-done }()
	ip := netip.MustParseAddr("127.77.200.1")
	np := uint16(30000 + os.Getpid()%2700)
	if err := dp.Sync(ctx, []proxy.ServicePort{{ID: "bench/web:http", Protocol: objects.ProtocolTCP,
		ClusterIPs: []netip.Addr{ip}, Port: 8080, NodePort: np, Endpoints: []proxy.Endpoint{{Addr: backend}}}}); err != nil {
		b.Fatal(err)
	}
	to := netip.AddrPortFrom(ip, 8080)
	if nodePort {
		to = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), np)
	}
	load(b, "http://"+to.String()+"/")
}

func viaIngress(b *testing.B, backend netip.AddrPort) {
	e := nettest.New(b)
	m, _ := reconcile.NewManager(e.Store)
	m.Add(network.EndpointsController(m))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	c, _ := ingress.New(e.Store, ingress.WithHTTPAddr("127.0.0.1:0"), ingress.WithHTTPSAddr(""))
	for _, run := range []func(context.Context) error{m.Run, c.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	<-c.Ready()
	pt := objects.PathTypePrefix
	e.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromInt32(int32(backend.Port()))}}}},
		nettest.Pod("web", map[string]string{"app": "web"}),
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.IngressSpec{IngressClassName: ptrTo("podkit"),
			Rules: []objects.IngressRule{{IngressRuleValue: objects.IngressRuleValue{HTTP: &objects.HTTPIngressRuleValue{Paths: []objects.HTTPIngressPath{
				{Path: "/", PathType: &pt, Backend: objects.IngressBackend{Service: &objects.IngressServiceBackend{Name: "web", Port: objects.ServiceBackendPort{Number: 80}}}}}}}}}}})
	e.SetPodStatus("default", "web", backend.Addr().String(), true)
	url := "http://" + c.Addrs()[0].String() + "/"
	nettest.Poll(b, "the ingress route", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	http.DefaultClient.CloseIdleConnections()
	load(b, url)
}

func ptrTo[T any](v T) *T { return &v }

// load sends b.N requests from 8 keep-alive connections and reports the
// p99 latency.
func load(b *testing.B, url string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4) // 4 x GOMAXPROCS client goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
	}
}
