package ingress_test

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/objects"
)

// BenchmarkProxy measures what a request through the Ingress costs: 64
// kept-alive client connections (as bench/network's wrk -c64) send GET
// requests to a backend on loopback, directly, through the plain HTTP
// front end (fasthttp), and through the controller's net/http handler
// (httputil.ReverseProxy, which serves HTTPS, here on a plain listener). The
// backend and the clients are minimal HTTP/1.1 loops, so the difference of
// cpu-us/op (CPU time of this process, kernel time included, per request)
// between direct and the others is the proxy's:
//
//	go test -run '^$' -bench Proxy -benchtime 200000x ./network/ingress/
func BenchmarkProxy(b *testing.B) {
	f := start(b)
	backend := f.rawBackend("raw", "127.0.0.4", nettest.AnswerLoop)
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "raw"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("", path("/", objects.PathTypePrefix, "raw"))}}})
	f.expect("http", "h", "/", 200, "hello")
	std := f.serveNetHTTP()
	b.Run("direct", func(b *testing.B) { nettest.LoadHTTP(b, backend) })
	b.Run("fasthttp", func(b *testing.B) { nettest.LoadHTTP(b, f.httpAddr) })
	b.Run("nethttp", func(b *testing.B) { nettest.LoadHTTP(b, std) })
}

// serveNetHTTP serves the controller's net/http handler on a plain
// loopback listener and returns its address.
func (f *fixture) serveNetHTTP() string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		f.T.Fatal(err)
	}
	srv := &http.Server{Handler: f.ctl, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	f.T.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// rawBackend starts a pod of service name whose connections serve
// serves, without net/http (nettest.AnswerLoop answers every request with
// a short text), and returns its address.
func (f *fixture) rawBackend(name, ip string, serve func(net.Conn)) string {
	t := f.T
	ln, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns { // the proxies keep theirs open
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	port := ln.Addr().(*net.TCPAddr).Port
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": name},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("web")}}}},
		nettest.Pod(name, map[string]string{"app": name}, fmt.Sprintf("web:%d", port)))
	f.SetPodStatus("default", name, ip, true)
	return ln.Addr().String()
}
