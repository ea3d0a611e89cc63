package ingress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// backendTransport sends requests to backends over kept-alive HTTP/1.1
// connections. A request without a body and with an idempotent method
// (nearly every request a site gets) is written and its answer read by
// the calling handler goroutine itself, where http.Transport hands each
// request to a writer and a reader goroutine per connection: the hand-offs
// cost more than the proxying. Requests with a body, which must stream
// while the answer may already arrive, and protocol upgrades go to
// http.Transport.
//
// A request on a kept-alive connection that fails before the first byte
// of the answer (the backend closed the idle connection) is sent again on
// a new connection, as http.Transport does for replayable requests.
//
// The plain HTTP front end (fastproxy.go) takes its backend connections
// from the same pool (get, put), with fasthttp writing and reading on
// them; the controller's loop closes the idle ones (closeIdle).
type backendTransport struct {
	std            *http.Transport
	dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdlePerHost int
	idleTimeout    time.Duration

	mu     sync.Mutex
	idle   map[string][]*backendConn // by host:port, most recently used last
	closed bool                      // keeps no more connections
}

func newBackendTransport(dialTimeout time.Duration) *backendTransport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &backendTransport{
		std: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
			// A proxy passes the client's Accept-Encoding through and the
			// answer as it is, compressed or not.
			DisableCompression: true,
			ForceAttemptHTTP2:  false,
		},
		dial:           d.DialContext,
		maxIdlePerHost: 256,
		idleTimeout:    90 * time.Second,
		idle:           map[string][]*backendConn{},
	}
}

// inline tells whether req can be sent by the calling goroutine.
func inline(req *http.Request) bool {
	if req.URL.Scheme != "http" || (req.Body != nil && req.Body != http.NoBody) || req.ContentLength > 0 {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// RoundTrip implements http.RoundTripper.
func (t *backendTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !inline(req) {
		return t.std.RoundTrip(req)
	}
	for {
		bc, err := t.get(req.Context(), req.URL.Host)
		if err != nil {
			return nil, err
		}
		resp, err := t.send(bc, req)
		if err == nil {
			return resp, nil
		}
		bc.conn.Close()
		var stale staleConnError
		if !errors.As(err, &stale) || req.Context().Err() != nil {
			return nil, err
		}
	}
}

// staleConnError is a kept-alive connection that failed before the
// answer began: the request may be sent again on another.
type staleConnError struct{ err error }

func (e staleConnError) Error() string {
	return fmt.Sprintf("kept-alive backend connection: %v", e.err)
}
func (e staleConnError) Unwrap() error { return e.err }

// send writes req on bc and reads the answer's head; the answer's body
// gives bc back (or closes it) once read or closed.
func (t *backendTransport) send(bc *backendConn, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = bc.conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	if err := req.Write(bc.bw); err != nil {
		return fail(err)
	}
	if err := bc.bw.Flush(); err != nil {
		if bc.reused {
			err = staleConnError{err}
		}
		return fail(err)
	}
	if _, err := bc.br.Peek(1); err != nil {
		if bc.reused {
			err = staleConnError{err}
		}
		return fail(err)
	}
	for {
		resp, err := http.ReadResponse(bc.br, req)
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			resp.Body.Close()
			return fail(errors.New("backend switched protocols unasked"))
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
					return fail(err)
				}
			}
			continue
		}
		resp.Body = &backendBody{body: resp.Body, t: t, bc: bc, stop: stop,
			eof: resp.Body == http.NoBody, reuse: !resp.Close && !req.Close}
		return resp, nil
	}
}

func (t *backendTransport) get(ctx context.Context, host string) (*backendConn, error) {
	now := time.Now()
	t.mu.Lock()
	for conns := t.idle[host]; len(conns) > 0; conns = t.idle[host] {
		bc := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		t.idle[host] = conns[:len(conns)-1]
		if idle := now.Sub(bc.idleSince); idle < t.idleTimeout {
			t.mu.Unlock()
			bc.recent = idle < waitFirstWithin
			return bc, nil
		}
		bc.conn.Close()
	}
	t.mu.Unlock()
	c, err := t.dial(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	return newBackendConn(c, host), nil
}

func newBackendConn(c net.Conn, host string) *backendConn {
	bc := &backendConn{conn: c, host: host, br: bufio.NewReader(c), bw: bufio.NewWriter(c), recent: true}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			bc.raw = raw
			bc.flushOnce = bc.flushFirst
		}
	}
	return bc
}

// put keeps bc for the next request to its host.
func (t *backendTransport) put(bc *backendConn) {
	bc.reused = true
	bc.idleSince = time.Now()
	t.mu.Lock()
	if t.closed || len(t.idle[bc.host]) >= t.maxIdlePerHost {
		t.mu.Unlock()
		bc.conn.Close()
		return
	}
	t.idle[bc.host] = append(t.idle[bc.host], bc)
	t.mu.Unlock()
}

// closeIdle closes the kept-alive connections idle for longer than the
// idle timeout or, when all is set, all of them, and keeps none from then
// on (the controller stops).
func (t *backendTransport) closeIdle(all bool) {
	now := time.Now()
	t.mu.Lock()
	t.closed = t.closed || all
	for host, conns := range t.idle {
		kept := conns[:0]
		for _, bc := range conns {
			if all || now.Sub(bc.idleSince) >= t.idleTimeout {
				bc.conn.Close()
			} else {
				kept = append(kept, bc)
			}
		}
		clear(conns[len(kept):])
		if len(kept) == 0 {
			delete(t.idle, host)
		} else {
			t.idle[host] = kept
		}
	}
	t.mu.Unlock()
	if all {
		t.std.CloseIdleConnections()
	}
}

// backendConn is one connection to a backend.
type backendConn struct {
	conn      net.Conn
	host      string
	br        *bufio.Reader
	bw        *bufio.Writer
	reused    bool // has answered a request before
	idleSince time.Time

	// For flushAwait.
	raw       syscall.RawConn    // nil when conn has none
	flushOnce func(uintptr) bool // bc.flushFirst, made once
	flushed   bool
	flushErr  error
	recent    bool        // new, or idle for less than waitFirstWithin
	awaiting  atomic.Bool // flushAwait waits without having read
	wakeMu    sync.Mutex  // orders wake's deadline before flushAwait lifts it
}

// waitFirstWithin is how long a connection may have been idle for
// flushAwait to wait without reading first: one idle for longer may well
// have been closed by the backend meanwhile, which a read tells at once.
const waitFirstWithin = time.Second

// flushAwait writes what bc's writer holds and, when whole tells that
// this is a whole request of which nothing was sent yet, waits until the
// backend sends something, closes or fails; the answer is then read from
// br.
//
// A read that finds nothing before the wait (EAGAIN) costs a syscall
// per request, which the wait can do without: the wait begins within the
// raw read the request is written in, after the poller's readiness was
// reset, so that the answer, which comes after the request, cannot be
// missed. What came before, though, can: a backend that closed the
// connection while it was idle. Such a backend resets the connection
// when the request arrives, which ends the wait; if nothing does (its
// host is gone), watch (fast.go) ends it with wake. A connection idle for
// longer than waitFirstWithin is read first, as any.
func (bc *backendConn) flushAwait(whole bool) error {
	if !whole || bc.raw == nil || !bc.recent {
		return bc.bw.Flush()
	}
	bc.flushed, bc.flushErr = false, nil
	bc.awaiting.Store(true)
	_ = bc.raw.Read(bc.flushOnce) // the read that follows tells why the wait ended
	if !bc.awaiting.CompareAndSwap(true, false) {
		bc.wakeMu.Lock()
		_ = bc.conn.SetReadDeadline(time.Time{})
		bc.wakeMu.Unlock()
	}
	if !bc.flushed { // woken or closed before writing
		return bc.bw.Flush()
	}
	return bc.flushErr
}

// flushFirst is flushAwait's raw read: it writes, then waits.
func (bc *backendConn) flushFirst(uintptr) bool {
	if bc.flushed {
		return true
	}
	bc.flushed = true
	bc.flushErr = bc.bw.Flush()
	return bc.flushErr != nil
}

// wake ends flushAwait's wait, if it is waiting, with a deadline in the
// past: the read that follows finds what the wait missed, or waits as
// any read.
func (bc *backendConn) wake() {
	bc.wakeMu.Lock()
	defer bc.wakeMu.Unlock()
	if bc.awaiting.CompareAndSwap(true, false) {
		_ = bc.conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// backendBody is an answer's body: once read to its end, the connection
// is kept for the next request; closed early, the connection is closed.
type backendBody struct {
	body  io.ReadCloser
	t     *backendTransport
	bc    *backendConn
	stop  func() bool // stops the cancellation of the request
	eof   bool
	reuse bool
	done  bool
}

func (b *backendBody) Read(p []byte) (int, error) {
	if b.done {
		if b.eof {
			return 0, io.EOF
		}
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
		b.release()
	}
	return n, err
}

func (b *backendBody) Close() error {
	if !b.done {
		b.release()
	}
	return nil
}

func (b *backendBody) release() {
	b.done = true
	err := b.body.Close()
	// stop is false when the request was cancelled: the connection then
	// has a deadline in the past.
	if b.stop() && b.eof && b.reuse && err == nil {
		b.t.put(b.bc)
		return
	}
	b.bc.conn.Close()
}
