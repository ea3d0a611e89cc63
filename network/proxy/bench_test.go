package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
)

// BenchmarkUserspaceHTTP measures what a request relayed by the userspace
// data plane costs: 32 kept-alive client connections (as bench/network's
// wrk -c32) send GET requests to a backend on loopback, directly and
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
		ClusterIPs: []netip.Addr{front.Addr()}, Port: front.Port(), Endpoints: []netip.AddrPort{backend}}}); err != nil {
		b.Fatal(err)
	}
	b.Run("direct", func(b *testing.B) { load(b, backend.String()) })
	b.Run("clusterip", func(b *testing.B) { load(b, front.String()) })
}

const rawBody = "hello from netbench-7c9f-abcde (pod netbench-7c9f-abcde)\n"

var rawAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
	"Content-Length: " + strconv.Itoa(len(rawBody)) + "\r\n\r\n" + rawBody)

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
				br := bufio.NewReader(c)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(rawAnswer); err != nil {
						return
					}
				}
			}()
		}
	}()
	b.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).AddrPort()
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

// readAnswer reads rawAnswer.
func readAnswer(br *bufio.Reader) error {
	b, err := br.Peek(len(rawAnswer))
	if err != nil {
		return err
	}
	if !bytes.Equal(b, rawAnswer) {
		return fmt.Errorf("answer %q", b)
	}
	_, err = br.Discard(len(b))
	return err
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
