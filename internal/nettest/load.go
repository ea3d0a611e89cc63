package nettest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// What the proxies' micro benchmarks share: a minimal HTTP/1.1 backend
// loop and a closed-loop client load that reports the process's CPU time
// per request, so that a proxy's cost is its cpu-us/op minus the direct
// one's.

const rawBody = "hello from netbench-7c9f-abcde (pod netbench-7c9f-abcde)\n"

// RawAnswer is what AnswerLoop answers.
var RawAnswer = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Sun, 22 Nov 2026 12:00:00 GMT\r\n" +
	"Content-Length: " + strconv.Itoa(len(rawBody)) + "\r\n\r\n" + rawBody)

// AnswerLoop answers each request head read from c (requests have no
// body) until c closes, closing c after a request saying so.
func AnswerLoop(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		close, err := ReadHead(br)
		if err != nil {
			return
		}
		if _, err := c.Write(RawAnswer); err != nil || close {
			return
		}
	}
}

// ReadHead reads a request head (up to its empty line) from br and reports
// whether it asks for the connection to be closed.
func ReadHead(br *bufio.Reader) (close bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 {
			return close, nil
		}
		close = close || len(line) >= 17 && bytes.EqualFold(line[:17], []byte("connection: close"))
	}
}

// LoadHTTP sends b.N GET requests to addr over 64 kept-alive connections,
// as bench/network's wrk -c64, and reports the
// process's CPU time per request.
func LoadHTTP(b *testing.B, addr string) {
	const conns = 64
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
	cpu0 := ProcessCPU()
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
	b.ReportMetric(float64(ProcessCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
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

// ProcessCPU is the CPU time, user and system, this process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
