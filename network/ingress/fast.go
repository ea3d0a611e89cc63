package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The plain HTTP front end: a fasthttp.Server parses the clients' requests
// and writes the answers; fastproxy.go forwards them.
//
// The server serves each connection with ServeConn from a goroutine of the
// front end's own, not with Serve: Serve's worker pool keeps a goroutine
// that sleeps up to MaxIdleWorkerDuration after Shutdown, and its Shutdown
// neither closes idle connections at once nor waits for hijacked ones.
// Run's contract is that every goroutine has returned when it does. For
// the same reason the server writes no Date of its own (NoDefaultDate):
// fasthttp refreshes its Date from a process-wide goroutine that never
// ends.

const (
	// readBufferSize bounds a request's head (fasthttp answers 431 beyond).
	readBufferSize = 16 << 10
	// maxAnswerHead bounds an answer's head.
	maxAnswerHead = 1 << 20
)

// Connection states, for the shutdown.
const (
	connIdle int32 = iota
	connActive
	connClosed
)

// httpFront serves the plain HTTP listener.
type httpFront struct {
	c   *Controller
	srv *fasthttp.Server
	// abort ends what shutdown gives up on: dials, and waits for a
	// backend's answer.
	abort  context.Context
	cancel context.CancelFunc

	wg      sync.WaitGroup // the connections' goroutines
	mu      sync.Mutex
	conns   map[*clientConn]struct{}
	closing atomic.Bool
	drained chan struct{} // closed when closing and no connection is left
	dates   dateCache

	tick    atomic.Int64  // watch's looks, from 1
	unwatch chan struct{} // ends watch
}

func newHTTPFront(c *Controller) *httpFront {
	f := &httpFront{c: c, conns: map[*clientConn]struct{}{}, drained: make(chan struct{}), unwatch: make(chan struct{})}
	f.tick.Store(1)
	f.abort, f.cancel = context.WithCancel(context.Background())
	f.srv = &fasthttp.Server{
		Handler:      f.handle,
		ErrorHandler: f.requestError,
		ConnState:    f.connState,
		Logger:       fastLogger{c.cfg.log},
		// The head within readHeaderTimeout; the idle wait within
		// idleTimeout. The body of a request is not bounded: the handler
		// lifts the deadline before forwarding it.
		ReadTimeout:    readHeaderTimeout,
		IdleTimeout:    idleTimeout,
		ReadBufferSize: readBufferSize,
		// Bodies are forwarded as they come (beyond the first 8 KiB,
		// which fasthttp reads with the head), not read whole first, and
		// sent on as they are, multipart ones too.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// A proxy adds no header of its own to the backend's answer.
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		NoDefaultDate:         true,
		SecureErrorLogMessage: true,
	}
	return f
}

// fastLogger logs fasthttp's complaints at debug level, as the HTTPS
// server's ErrorLog does.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Debug("ingress http: " + fmt.Sprintf(format, args...))
}

// clientConn is a client's connection, as the server serves it: ServeConn
// gets it, and the handler finds it again in RequestCtx.Conn.
type clientConn struct {
	net.Conn
	ip    string // the client's address, for X-Forwarded-For
	state atomic.Int32
	// exchange is the backend connection the connection's request is
	// using, closed with it when the shutdown gives up on the request or
	// the client went away.
	exchange atomic.Pointer[backendConn]
	// waiting is the look of watch (tick) before which the request began
	// to wait for the backend, 0 when it does not wait.
	waiting atomic.Int64
	gone    atomic.Bool // watch found the client gone

	hijacked atomic.Bool   // an upgrade's relay took the connection
	relayed  chan struct{} // closed when the relay ends
	linger   bool          // closing follows an answer to a request not read whole

	// The read deadline, set on Conn by the next Read (see SetReadDeadline).
	deadline    time.Time
	setDeadline bool      // deadline is to be set
	armed       time.Time // the deadline Conn has
}

// deadlineSlack is how much earlier than asked a read deadline may fall,
// so that a kept-alive connection's idle deadline is not set anew for
// each request.
const deadlineSlack = time.Second

// SetReadDeadline keeps t for the next Read. fasthttp sets a deadline
// twice per request, the idle one before the request and the head's after
// its first byte, and setting one costs timer work: the head's matters
// only when the head did not come whole with its first byte, and the idle
// one need not move by less than deadlineSlack.
func (cc *clientConn) SetReadDeadline(t time.Time) error {
	cc.deadline, cc.setDeadline = t, true
	return nil
}

// SetDeadline sets both deadlines at once, as a hijack does.
func (cc *clientConn) SetDeadline(t time.Time) error {
	cc.setDeadline = false
	cc.armed = t
	return cc.Conn.SetDeadline(t)
}

func (cc *clientConn) Read(p []byte) (int, error) {
	if cc.setDeadline {
		cc.setDeadline = false
		t := cc.deadline
		if t.IsZero() != cc.armed.IsZero() || t.Before(cc.armed) || t.Sub(cc.armed) >= deadlineSlack {
			if err := cc.Conn.SetReadDeadline(t); err != nil {
				return 0, err
			}
			cc.armed = t
		}
	}
	return cc.Conn.Read(p)
}

// rstAvoidanceDelay is how long Close lets a client read an answer to a
// request that was not read whole, as net/http lets it.
const rstAvoidanceDelay = 500 * time.Millisecond

// Close closes the connection, which the server does when done with it.
// After an error answer to a request not read whole, the client is first
// given time to read the answer: closing with unread bytes resets the
// connection, and a reset may discard the answer on the client's side.
func (cc *clientConn) Close() error {
	if tc, ok := cc.Conn.(*net.TCPConn); ok && cc.linger {
		_ = tc.CloseWrite()
		_ = tc.SetReadDeadline(time.Now().Add(rstAvoidanceDelay))
		_, _ = io.Copy(io.Discard, io.LimitReader(tc, 256<<10))
	}
	return cc.Conn.Close()
}

// serve accepts connections on ln until it is closed.
func (f *httpFront) serve(ln net.Listener) error {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if f.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				f.c.cfg.log.Debug("ingress accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-f.abort.Done():
					return nil
				}
				continue
			}
			return err
		}
		delay = 0
		cc := &clientConn{Conn: conn}
		if host, _, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
			cc.ip = host
		}
		if !f.track(cc) {
			conn.Close()
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(cc)
			_ = f.srv.ServeConn(cc)
			if cc.hijacked.Load() {
				<-cc.relayed
			}
			// A request whose answer was not written (the client went
			// away) may leave its backend connection.
			if bc := cc.exchange.Swap(nil); bc != nil {
				bc.conn.Close()
			}
		}()
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (f *httpFront) track(cc *clientConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing.Load() {
		return false
	}
	f.conns[cc] = struct{}{}
	return true
}

func (f *httpFront) untrack(cc *clientConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, cc)
	if len(f.conns) == 0 && f.closing.Load() {
		select {
		case <-f.drained:
		default:
			close(f.drained)
		}
	}
}

// connState follows the connections between requests, so that the
// shutdown closes those waiting for one and no other.
func (f *httpFront) connState(c net.Conn, s fasthttp.ConnState) {
	cc, ok := c.(*clientConn)
	if !ok {
		return
	}
	switch s {
	case fasthttp.StateActive:
		cc.state.CompareAndSwap(connIdle, connActive)
	case fasthttp.StateIdle:
		if cc.state.CompareAndSwap(connActive, connIdle) && f.closing.Load() && cc.state.CompareAndSwap(connIdle, connClosed) {
			cc.Conn.Close()
		}
	case fasthttp.StateHijacked:
		cc.hijacked.Store(true)
	}
}

// shutdown closes the idle connections, lets the others finish their
// request until ctx ends, then closes them and the backend connections
// they use; it returns once every connection's goroutine has returned.
// The listeners are closed before.
func (f *httpFront) shutdown(ctx context.Context) {
	f.mu.Lock()
	f.closing.Store(true)
	conns := make([]*clientConn, 0, len(f.conns))
	for cc := range f.conns {
		conns = append(conns, cc)
	}
	if len(f.conns) == 0 {
		close(f.drained)
	}
	f.mu.Unlock()
	for _, cc := range conns {
		if cc.state.CompareAndSwap(connIdle, connClosed) {
			cc.Conn.Close()
		}
	}
	select {
	case <-f.drained:
	case <-ctx.Done():
		f.cancel()
		f.mu.Lock()
		for cc := range f.conns {
			cc.state.Store(connClosed)
			if bc := cc.exchange.Load(); bc != nil {
				bc.conn.Close()
			}
			cc.Conn.Close()
		}
		f.mu.Unlock()
	}
	f.wg.Wait()
	f.cancel()
	close(f.unwatch)
}

// watch ends the exchanges whose client went away, as net/http cancels a
// request's context: fasthttp runs the handler on the connection's
// goroutine and does not read the connection meanwhile. Every watchAfter
// it looks at the connections whose request has waited for the backend
// since the previous look, and closes the backend connection of those
// whose client closed or reset its own; the others' waits that began
// without a read, which may have missed the backend's end (flushAwait),
// go on as reads. It returns when shutdown does.
func (f *httpFront) watch() {
	t := time.NewTicker(watchAfter)
	defer t.Stop()
	var waiting []*clientConn
	for {
		select {
		case <-f.unwatch:
			return
		case <-t.C:
		}
		tick := f.tick.Add(1)
		waiting = waiting[:0]
		f.mu.Lock()
		for cc := range f.conns {
			if w := cc.waiting.Load(); w != 0 && w < tick {
				waiting = append(waiting, cc)
			}
		}
		f.mu.Unlock()
		for i, cc := range waiting {
			waiting[i] = nil
			if clientGone(cc.Conn) {
				cc.gone.Store(true)
				if bc := cc.exchange.Swap(nil); bc != nil {
					bc.conn.Close()
				}
			} else if bc := cc.exchange.Load(); bc != nil {
				bc.wake()
			}
		}
	}
}

// requestError answers a request the server could not read, as net/http
// answers one. fasthttp's own handler resets the answer, which would
// have it write a Date (see the top of this file).
func (f *httpFront) requestError(ctx *fasthttp.RequestCtx, err error) {
	code := fasthttp.StatusBadRequest
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		code = fasthttp.StatusRequestHeaderFieldsTooLarge
	case errors.As(err, &ne) && ne.Timeout():
		code = fasthttp.StatusRequestTimeout
	}
	f.c.cfg.log.Debug("ingress http: bad request", "client", ctx.RemoteAddr(), "err", err)
	if cc, ok := ctx.Conn().(*clientConn); ok {
		cc.linger = true
	}
	f.replyFast(ctx, code)
}
