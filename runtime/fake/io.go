package fake

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podkit/podkit/runtime"
)

// ContainerLogs implements runtime.LogReader. Lines come from
// Behavior.Logs and Behavior.Stderr, the "print" and "eprint" commands,
// and Log.
func (r *Runtime) ContainerLogs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	r.mu.Lock()
	if err := r.check(); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	c, err := r.container(id)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	var b strings.Builder
	lines := c.logs()
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	for _, l := range lines {
		writeLine(&b, l, opts)
	}
	if !opts.Follow || c.state == runtime.ContainerExited {
		r.mu.Unlock()
		return io.NopCloser(strings.NewReader(b.String())), nil
	}
	next, wake := len(c.logs()), c.logWaker()
	r.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		defer cancel()
		if _, err := io.WriteString(pw, b.String()); err != nil {
			return
		}
		for {
			select {
			case <-ctx.Done():
				pw.Close()
				return
			case <-wake:
			}
			r.mu.Lock()
			var b strings.Builder
			cur := r.lookupContainer(id)
			if cur != nil {
				logs := cur.logs()
				for _, l := range logs[next:] {
					writeLine(&b, l, opts)
				}
				next, wake = len(logs), cur.logWaker()
			}
			done := cur == nil || cur.state == runtime.ContainerExited
			r.mu.Unlock()
			if _, err := io.WriteString(pw, b.String()); err != nil || done {
				pw.Close()
				return
			}
		}
	}()
	return &followReader{PipeReader: pr, cancel: cancel}, nil
}

type followReader struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (f *followReader) Close() error {
	f.cancel()
	return f.PipeReader.Close()
}

func writeLine(b *strings.Builder, l logLine, opts runtime.LogOptions) {
	if !opts.Since.IsZero() && l.t.Before(opts.Since) {
		return
	}
	if opts.Timestamps {
		b.WriteString(l.t.UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	b.WriteString(l.text)
	b.WriteByte('\n')
}

// Exec implements runtime.Execer. Behavior.Exec answers when set; else the
// fake commands "exit N", "print ...", "eprint ...", "cat" (stdin to
// stdout), "cat FILE..." and "ps" (see the package documentation),
// "sleep D", "true" and "false" do what they say, and any other command
// exits 0, or 1 when the container is unhealthy.
func (r *Runtime) Exec(ctx context.Context, id string, opts runtime.ExecOptions) (int, error) {
	r.mu.Lock()
	if err := r.check(); err != nil {
		r.mu.Unlock()
		return 0, err
	}
	c, err := r.container(id)
	if err != nil {
		r.mu.Unlock()
		return 0, err
	}
	rec := c.record(OpExec)
	if c.state != runtime.ContainerRunning {
		err := fmt.Errorf("fake: exec in container %s: container is not running", id)
		r.record(rec, err)
		r.mu.Unlock()
		return 0, err
	}
	if err := r.injectedFor(OpExec, c); err != nil {
		r.record(rec, err)
		r.mu.Unlock()
		return 0, err
	}
	r.record(rec, nil)
	b, healthy := *c.b, c.healthy
	podOut, podErr, podCode, podCmd := r.podCommand(c, opts.Command)
	r.mu.Unlock()

	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if b.Exec != nil {
		return b.Exec(opts.Command, stdout, stderr), nil
	}
	if len(opts.Command) == 2 && opts.Command[0] == "sleep" {
		if d, err := parseSleep(opts.Command[1]); err == nil {
			t := r.clock.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.Chan():
				return 0, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	if podCmd {
		for _, l := range podOut {
			fmt.Fprintln(stdout, l)
		}
		for _, l := range podErr {
			fmt.Fprintln(stderr, l)
		}
		return int(podCode), nil
	}
	if code, ok := runExecCommand(opts.Command, opts.Stdin, stdout, stderr); ok {
		return code, nil
	}
	if !healthy {
		fmt.Fprintf(stderr, "%s: unhealthy\n", cmdline(opts.Command))
		return 1, nil
	}
	return 0, nil
}

// DialContext implements runtime.Dialer: it connects, in memory, to the
// running container of the pod with that IP that declares the port (else
// the pod's first running container), whose Behavior.HTTP answers. A pod
// that is gone or stopped, a port nobody listens on and an unhealthy
// container refuse the connection.
func (r *Runtime) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	refused := func() error {
		return &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	r.mu.Lock()
	if err := r.check(); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	var sb *sandbox
	if a := ap.Addr(); a.Is4() {
		sb = r.byIP[ip4(a)]
	}
	if sb == nil || !sb.ready {
		r.mu.Unlock()
		return nil, refused()
	}
	var target, first *container
	for c := sb.ctrs; c != nil; c = c.next {
		if c.state != runtime.ContainerRunning {
			continue
		}
		if first == nil {
			first = c
		}
		for _, p := range c.spec.cfg.Ports {
			if p.ContainerPort == int32(ap.Port()) {
				target = c
			}
		}
	}
	if target == nil {
		target = first
	}
	if target == nil || !target.healthy {
		r.mu.Unlock()
		return nil, refused()
	}
	h, health := target.b.HTTP, target.b.GRPCHealth
	r.mu.Unlock()
	if h == nil {
		h = okHandler
	}
	client, server := net.Pipe()
	go serveConn(server, h, health)
	return &addrConn{Conn: client, remote: pipeAddr(address)}, nil
}

// serveConn answers one connection: gRPC health checks when the client
// speaks HTTP/2 (its preface starts "PRI", which no HTTP/1 method is),
// else HTTP/1 requests with h.
func serveConn(conn net.Conn, h http.Handler, health map[string]string) {
	br := bufio.NewReader(conn)
	if b, err := br.Peek(3); err == nil && string(b) == "PRI" {
		serveGRPCHealth(&bufferedConn{Conn: conn, r: br}, health)
		return
	}
	serveHTTP(conn, br, h)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, "ok")
})

// serveHTTP answers requests on one connection until the client closes it.
func serveHTTP(conn net.Conn, br *bufio.Reader, h http.Handler) {
	defer conn.Close()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		resp := rec.Result()
		resp.Close = req.Close
		resp.ContentLength = int64(rec.Body.Len())
		resp.Header.Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		if err := resp.Write(conn); err != nil || req.Close {
			return
		}
	}
}

type pipeAddr string

func (a pipeAddr) Network() string { return "tcp" }
func (a pipeAddr) String() string  { return string(a) }

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }
