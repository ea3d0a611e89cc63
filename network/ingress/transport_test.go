package ingress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transportFixture is a backend, and the reverse proxy the controller
// makes for it, both HTTP servers on loopback.
type transportFixture struct {
	t       *testing.T
	proxy   string // host:port
	client  *http.Client
	mu      sync.Mutex
	dialed  int                   // connections the backend accepted
	idle    map[net.Conn]struct{} // the backend's idle connections
	idled   chan struct{}         // a connection became idle
	started chan struct{}         // /slow has its request
	aborted chan struct{}         // /slow saw its request cancelled
}

func newTransportFixture(t *testing.T) *transportFixture {
	f := &transportFixture{t: t, idle: map[net.Conn]struct{}{}, idled: make(chan struct{}, 1), started: make(chan struct{}, 1), aborted: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "closing")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	})
	mux.HandleFunc("/upgrade", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString(line)
		brw.Flush()
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		f.started <- struct{}{}
		<-r.Context().Done()
		f.aborted <- struct{}{}
	})
	backend := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch s {
		case http.StateNew:
			f.dialed++
		case http.StateIdle:
			f.idle[c] = struct{}{}
			select {
			case f.idled <- struct{}{}:
			default:
			}
		default:
			delete(f.idle, c)
		}
	}}
	bln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	c := &Controller{cfg: config{log: slog.New(slog.DiscardHandler)}, transport: newBackendTransport(time.Second)}
	front := &http.Server{Handler: c.reverseProxy(bln.Addr().String())}
	fln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	f.proxy = fln.Addr().String()
	var wg sync.WaitGroup
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{backend, bln}, {front, fln}} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.srv.Serve(s.ln) }()
	}
	tr := &http.Transport{}
	f.client = &http.Client{Transport: tr, Timeout: 5 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		front.Close()
		backend.Close()
		wg.Wait()
		c.transport.closeIdle(true)
	})
	return f
}

func (f *transportFixture) do(method, path, body string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, "http://"+f.proxy+path, strings.NewReader(body))
	require.NoError(f.t, err)
	if body == "" {
		req.Body = http.NoBody
	}
	resp, err := f.client.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp.StatusCode, string(b)
}

func (f *transportFixture) backendConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dialed
}

func TestBackendTransportKeepsConnections(t *testing.T) {
	f := newTransportFixture(t)
	for i := range 5 {
		code, body := f.do("GET", fmt.Sprintf("/%d", i), "")
		assert.Equal(t, 200, code)
		assert.Equal(t, fmt.Sprintf("GET /%d ", i), body)
	}
	code, _ := f.do("HEAD", "/", "")
	assert.Equal(t, 200, code)
	code, _ = f.do("GET", "/empty", "")
	assert.Equal(t, 204, code)
	code, body := f.do("GET", "/hints", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "after hints", body)
	assert.Equal(t, 1, f.backendConns(), "requests without a body share one backend connection")

	code, body = f.do("POST", "/echo", "payload")
	assert.Equal(t, 200, code)
	assert.Equal(t, "POST /echo payload", body)

	code, body = f.do("GET", "/close", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "closing", body)
	before := f.backendConns()
	f.do("GET", "/", "")
	assert.Equal(t, before+1, f.backendConns(), "a connection the backend closed is not used again")
}

func TestBackendTransportRetriesClosedIdleConnection(t *testing.T) {
	f := newTransportFixture(t)
	f.do("GET", "/", "")
	// The backend marks the connection idle after answering.
	f.mu.Lock()
	for len(f.idle) == 0 {
		f.mu.Unlock()
		select {
		case <-f.idled:
		case <-time.After(5 * time.Second):
			t.Fatal("the backend connection did not become idle")
		}
		f.mu.Lock()
	}
	require.Len(t, f.idle, 1)
	for c := range f.idle {
		c.Close() // as a backend's idle timeout does
	}
	f.mu.Unlock()
	code, body := f.do("GET", "/again", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "GET /again ", body)
	assert.Equal(t, 2, f.backendConns())
}

func TestBackendTransportCancelsWithTheClient(t *testing.T) {
	f := newTransportFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+f.proxy+"/slow", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := f.client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-f.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the backend")
	}
	// The backend sees the request end once the client gives up.
	cancel()
	select {
	case <-f.aborted:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend request was not cancelled with the client's")
	}
	assert.True(t, errors.Is(<-done, context.Canceled))
}

func TestBackendTransportUpgrades(t *testing.T) {
	f := newTransportFixture(t)
	c, err := net.Dial("tcp", f.proxy)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(c, "GET /upgrade HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	_, err = io.WriteString(c, "ping\n")
	require.NoError(t, err)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "ping\n", line)
}
