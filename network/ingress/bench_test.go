package ingress_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/objects"
)

// BenchmarkProxy measures what a request through the Ingress costs: 32
// kept-alive client connections (as bench/network's wrk -c32) send GET
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
	backend := f.rawBackend("raw", "127.0.0.4")
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "raw"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("", path("/", objects.PathTypePrefix, "raw"))}}})
	f.expect("http", "h", "/", 200, "hello")
	std := f.serveNetHTTP()
	b.Run("direct", func(b *testing.B) { load(b, backend) })
	b.Run("fasthttp", func(b *testing.B) { load(b, f.httpAddr) })
	b.Run("nethttp", func(b *testing.B) { load(b, std) })
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

// rawBackend starts a pod of service name answering every request with a
// short text, without net/http, and returns its address.
func (f *fixture) rawBackend(name, ip string) string {
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
				answerLoop(c)
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

const rawBody = "hello from netbench-7c9f-abcde (pod netbench-7c9f-abcde)\n"

var rawAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
	"Content-Length: " + strconv.Itoa(len(rawBody)) + "\r\n\r\n" + rawBody)

// answerLoop answers each request head read from c (requests have no
// body) until c closes, closing c after a request saying so.
func answerLoop(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		close := false
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			close = close || len(line) >= 17 && bytes.EqualFold(line[:17], []byte("connection: close"))
		}
		if _, err := c.Write(rawAnswer); err != nil || close {
			return
		}
	}
}

// load sends b.N requests to addr over 32 connections and reports the
// process's CPU time per request.
func load(b *testing.B, addr string) {
	const conns = 32
	var left atomic.Int64
	left.Store(int64(b.N))
	req := []byte("GET / HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	b.ResetTimer()
	cpu0 := processCPU()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(c)
			for left.Add(-1) >= 0 {
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				if err := readAnswer(br); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// readAnswer reads a 200 answer with a Content-Length.
func readAnswer(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("answer %q", line)
	}
	n := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return fmt.Errorf("answer without Content-Length")
	}
	_, err = br.Discard(n)
	return err
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
