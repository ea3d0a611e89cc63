package ingress_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/objects"
)

// The plain HTTP front end (fasthttp) is checked to forward and answer
// as the HTTPS one (net/http, httputil.ReverseProxy) does.

// proxyFixture is the fixture with one service, "x", behind an Ingress
// for every host and path, whose pod runs mux.
func proxyFixture(t *testing.T, h http.Handler) *fixture {
	f := start(t)
	f.serveBackend("x", "127.0.0.5", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			io.WriteString(w, "ready")
			return
		}
		h.ServeHTTP(w, r)
	}))
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "x"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("", path("/", objects.PathTypePrefix, "x"))}}})
	f.expect("http", "h", "/ready", 200, "ready")
	return f
}

// serveTLS routes HTTPS for host to service x, with a certificate of its
// own, and waits until it is served.
func (f *fixture) serveTLS(host string) {
	crt, key := selfSigned(f.T.(*testing.T), host)
	f.Create(&objects.Secret{ObjectMeta: objects.ObjectMeta{Name: host}, Type: objects.SecretTypeTLS,
		Data: map[string][]byte{objects.TLSCertKey: crt, objects.TLSPrivateKeyKey: key}},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "tls-" + host}, Spec: objects.IngressSpec{
			IngressClassName: class("podkit"), TLS: []objects.IngressTLS{{Hosts: []string{host}, SecretName: host}},
			Rules: []objects.IngressRule{rule(host, path("/", objects.PathTypePrefix, "x"))}}})
	f.expect("https", host, "/ready", 200, "ready")
}

// dial opens a connection to the front end of scheme, for host.
func (f *fixture) dial(scheme, host string) net.Conn {
	t := f.T
	var c net.Conn
	var err error
	if scheme == "http" {
		c, err = net.Dial("tcp", f.httpAddr)
	} else {
		c, err = tls.Dial("tcp", f.httpsAddr, &tls.Config{ServerName: host, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return c
}

// countingClient is an HTTP client counting the connections it opens.
func countingClient(t *testing.T, conns *atomic.Int32) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// rawExchange writes req on a new connection to the front end of scheme
// and returns what comes back until the ingress closes the connection.
func (f *fixture) rawExchange(scheme, req string) string {
	c := f.dial(scheme, "h")
	_, err := io.WriteString(c, req)
	require.NoError(f.T, err)
	b, err := io.ReadAll(c)
	require.NoError(f.T, err)
	return string(b)
}

// echoHeaders answers with the request as the backend got it: its line,
// its Host and every header, sorted.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s host=%s len=%d body=%q\n", r.Method, r.RequestURI, r.Proto, r.Host, r.ContentLength, b)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(w, "%s=%q\n", k, r.Header[k])
	}
}

func TestForwardsRequests(t *testing.T) {
	f := proxyFixture(t, http.HandlerFunc(echoHeaders))
	got := f.rawExchange("http", "GET /echo?q=1&r=%41 HTTP/1.1\r\nHost: Example.com:8080\r\nX-Forwarded-For: 6.6.6.6\r\n"+
		"Forwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\nx-custom: a\r\nX-Custom: b\r\nConnection: keep-alive, X-Hop\r\n"+
		"X-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: secret\r\nTE: trailers, deflate\r\n\r\n"+
		"GET /a/../b/%2e%2e/c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	first, second, ok := strings.Cut(got, "HTTP/1.1 200 OK\r\n")
	require.True(t, ok, got)
	assert.Empty(t, first)
	first, second, ok = strings.Cut(second, "HTTP/1.1 200 OK\r\n")
	require.True(t, ok, got)
	for _, want := range []string{"GET /echo?q=1&r=%41 HTTP/1.1 host=Example.com:8080", `X-Forwarded-For=["127.0.0.1"]`,
		`X-Forwarded-Host=["Example.com:8080"]`, `X-Forwarded-Proto=["http"]`, `X-Custom=["a" "b"]`, `Te=["trailers"]`} {
		assert.Contains(t, first, want)
	}
	for _, gone := range []string{"Forwarded=", "Keep-Alive=", "Proxy-Authorization=", "Connection=", "X-Hop=", "User-Agent="} {
		assert.NotContains(t, first, gone)
	}
	// The path as sent, dot segments and all, as net/http forwards it.
	assert.Contains(t, second, "GET /a/../b/%2e%2e/c HTTP/1.1 host=h")
	assert.NotContains(t, second, "Connection=")
	assert.Contains(t, second, "\r\nConnection: close\r\n", "the answer to a request asking to close says so")
}

// TestFrontEndsForwardAlike sends the same requests through both front
// ends: the backend sees the same but for X-Forwarded-Proto.
func TestFrontEndsForwardAlike(t *testing.T) {
	f := proxyFixture(t, http.HandlerFunc(echoHeaders))
	f.serveTLS("h")
	for _, req := range []string{
		"GET /echo?q=1&r=%41;x HTTP/1.1\r\nHost: H:8080\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n" +
			"X-Forwarded-Host: evil\r\nx-custom: a\r\nX-Custom: b\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n" +
			"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: secret\r\nTE: trailers\r\n" +
			"Cookie: a=1\r\nCookie: b=2; c\r\nUser-Agent: test\r\nAccept: */*\r\nConnection: close\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\npayload",
		"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n" +
			"3\r\nabc\r\n0\r\nX-Sum: 3\r\n\r\n",
		"DELETE /d HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET /a/../b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET http://user@Other.Example:80/abs?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET /f HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n b\r\nConnection: close\r\n\r\n",
		"GET /u HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n",
		"GET /old HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET /c HTTP/1.1\r\nHost: h\r\nConnection: X-Hop, close\r\nX-Hop: 1\r\nKeep-Alive: 1\r\n\r\n",
		"GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\nConnection: X-Hop\r\nX-Hop: 1\r\nTE: gzip\r\nTe: trailers\r\n\r\n",
	} {
		viaHTTP := f.rawExchange("http", req)
		viaHTTPS := f.rawExchange("https", req)
		_, viaHTTP, _ = strings.Cut(viaHTTP, "\r\n\r\n")
		_, viaHTTPS, _ = strings.Cut(viaHTTPS, "\r\n\r\n")
		viaHTTPS = strings.Replace(viaHTTPS, `X-Forwarded-Proto=["https"]`, `X-Forwarded-Proto=["http"]`, 1)
		// fasthttp frames a request without a body whose method may
		// have one (DELETE, OPTIONS...) with a Content-Length of 0;
		// net/http does only for POST, PUT and PATCH.
		if strings.HasPrefix(req, "DELETE ") {
			viaHTTP = strings.Replace(viaHTTP, "Content-Length=[\"0\"]\n", "", 1)
		}
		assert.Equal(t, viaHTTPS, viaHTTP, "%q", req)
	}
}

func TestRelaysAnswers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
		w.Header().Set("X-Sum", "ab")
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Kept", "1")
		w.Header().Add("Set-Cookie", "a=1; Path=/; Priority=High")
		w.Header().Add("Set-Cookie", "a=2; Path=/x")
		io.WriteString(w, "hop")
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "closing")
	})
	mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	})
	mux.HandleFunc("/large-head", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Large", strings.Repeat("x", 40<<10))
		io.WriteString(w, "large")
	})
	mux.HandleFunc("/large-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(1<<20))
		io.WriteString(w, strings.Repeat("y", 1<<20))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "6")
		io.WriteString(w, "length")
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "teapot")
	})
	f := proxyFixture(t, mux)
	var conns atomic.Int32
	client := countingClient(t, &conns)
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+f.httpAddr+path, nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	resp, body := get("GET", "/chunked")
	assert.Equal(t, "ab", body)
	assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	assert.Equal(t, "ab", resp.Trailer.Get("X-Sum"))

	resp, body = get("GET", "/hop")
	assert.Equal(t, "hop", body)
	assert.Empty(t, resp.Header.Values("X-Hop"))
	assert.Empty(t, resp.Header.Values("Keep-Alive"))
	assert.Equal(t, "1", resp.Header.Get("X-Kept"))
	assert.Equal(t, []string{"a=1; Path=/; Priority=High", "a=2; Path=/x"}, resp.Header.Values("Set-Cookie"))
	assert.NotEmpty(t, resp.Header.Get("Date"))

	resp, body = get("GET", "/close")
	assert.Equal(t, "closing", body)
	assert.False(t, resp.Close, "the backend closing its connection does not close the client's")

	// fasthttp's client reads past 1xx answers: the Early Hints do not
	// reach the client (net/http's path passes them on).
	resp, body = get("GET", "/hints")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "after hints", body)

	resp, body = get("GET", "/large-head")
	assert.Equal(t, "large", body)
	assert.Len(t, resp.Header.Get("X-Large"), 40<<10)

	_, body = get("GET", "/large-body")
	assert.Equal(t, strings.Repeat("y", 1<<20), body)

	resp, body = get("GET", "/empty")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Empty(t, body)

	resp, body = get("HEAD", "/length")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(6), resp.ContentLength)
	assert.Empty(t, body)

	resp, body = get("HEAD", "/chunked")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(-1), resp.ContentLength, "no length is made up")
	assert.Empty(t, body)

	resp, body = get("GET", "/status")
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	assert.Equal(t, "418 I'm a teapot", resp.Status)
	assert.Equal(t, "teapot", body)

	resp, body = get("HEAD", "/nowhere")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Empty(t, body)

	assert.Equal(t, int32(1), conns.Load(), "all answers came over one client connection")
}

func TestAnswerWithoutLength(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/http10", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nold style")
		brw.Flush()
	})
	f := proxyFixture(t, mux)
	for _, scheme := range []string{"http", "https"} {
		if scheme == "https" {
			f.serveTLS("h")
		}
		c := f.dial(scheme, "h")
		_, err := io.WriteString(c, "GET /http10 HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, "old style", string(b), scheme)
		assert.Equal(t, "1", resp.Header.Get("X-A"))
	}
}

func TestAnswersHTTP10Clients(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		io.WriteString(w, "b")
	})
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ab") })
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	for _, scheme := range []string{"http", "https"} {
		for _, req := range []string{
			"GET /chunked HTTP/1.0\r\nHost: h\r\n\r\n",
			"GET /chunked HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
			"GET /length HTTP/1.0\r\nHost: h\r\n\r\n",
		} {
			// An answer without length ends with the connection; no chunks.
			got := f.rawExchange(scheme, req)
			assert.True(t, strings.HasSuffix(got, "\r\n\r\nab"), "%s %q: %q", scheme, req, got)
			assert.NotContains(t, got, "Transfer-Encoding", "%s %q", scheme, req)
		}
		// Kept alive when the answer has a length.
		c := f.dial(scheme, "h")
		br := bufio.NewReader(c)
		for range 2 {
			_, err := io.WriteString(c, "GET /length HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, "ab", string(b), scheme)
		}
	}
}

// TestStreamsAnswers checks that an answer reaches the client as the
// backend sends it: each part is read before the backend sends the next.
func TestStreamsAnswers(t *testing.T) {
	next := make(chan struct{})
	mux := http.NewServeMux()
	for _, p := range []string{"/chunked", "/events"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			if p == "/events" {
				w.Header().Set("Content-Type", "text/event-stream")
			}
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush() // the head alone first
			for i := range 3 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
			}
		})
	}
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	for _, scheme := range []string{"http", "https"} {
		for _, p := range []string{"/chunked", "/events"} {
			c := f.dial(scheme, "h")
			_, err := io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: h\r\n\r\n")
			require.NoError(t, err)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil) // the head came before any part
			require.NoError(t, err, "%s %s", scheme, p)
			for i := range 3 {
				next <- struct{}{}
				want := fmt.Sprintf("data: %d\n\n", i)
				buf := make([]byte, len(want))
				_, err := io.ReadFull(resp.Body, buf)
				require.NoError(t, err, "%s %s", scheme, p)
				assert.Equal(t, want, string(buf))
			}
			resp.Body.Close()
		}
	}
}

func TestRequestBodies(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %d %v %v", r.Method, n, r.TransferEncoding, err)
	})
	got := make(chan string, 1)
	mux.HandleFunc("/first", func(w http.ResponseWriter, r *http.Request) {
		// The first part of a body reaches the backend before the rest is
		// sent: the body streams.
		buf := make([]byte, 5)
		_, err := io.ReadFull(r.Body, buf)
		got <- string(buf)
		if err == nil {
			_, err = io.Copy(io.Discard, r.Body)
		}
		fmt.Fprintf(w, "done %v", err)
	})
	f := proxyFixture(t, mux)
	var conns atomic.Int32
	client := countingClient(t, &conns)
	post := func(body io.Reader, n int64) string {
		t.Helper()
		req, err := http.NewRequest("POST", "http://"+f.httpAddr+"/", body)
		require.NoError(t, err)
		req.ContentLength = n
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "POST 7 [] <nil>", post(strings.NewReader("payload"), 7))
	assert.Equal(t, "POST 3145728 [] <nil>", post(strings.NewReader(strings.Repeat("z", 3<<20)), 3<<20))
	assert.Equal(t, "POST 3145728 [chunked] <nil>", post(io.MultiReader(strings.NewReader(strings.Repeat("z", 3<<20))), -1))
	assert.Equal(t, int32(1), conns.Load())

	pr, pw := io.Pipe()
	answer := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+f.httpAddr+"/first", pr)
		resp, err := client.Do(req)
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answer <- string(b)
	}()
	_, err := io.WriteString(pw, strings.Repeat("f", 20<<10)) // beyond what fasthttp reads with the head
	require.NoError(t, err)
	select {
	case s := <-got:
		assert.Equal(t, "fffff", s)
	case <-time.After(5 * time.Second):
		t.Fatal("the body did not reach the backend before it ended")
	}
	pw.Close()
	assert.Equal(t, "done <nil>", <-answer)
}

func TestUpgrades(t *testing.T) {
	mux := http.NewServeMux()
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
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\nX-Echo: 1\r\n\r\nhello\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(line)
			brw.Flush()
		}
	})
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n")
		brw.Flush()
	})
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	for _, scheme := range []string{"http", "https"} {
		c := f.dial(scheme, "h")
		req := "GET /upgrade HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\n"
		if scheme == "http" {
			// The first bytes of the new protocol come with the request.
			// (httputil.ReverseProxy loses those: it relays from the
			// hijacked connection, not its read buffer.)
			req += "ping\n"
		}
		_, err := io.WriteString(c, req)
		require.NoError(t, err)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode, scheme)
		assert.Equal(t, "echo", resp.Header.Get("Upgrade"))
		assert.Equal(t, "1", resp.Header.Get("X-Echo"))
		assert.Empty(t, resp.Header.Values("Content-Type"))
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "hello\n", line, scheme)
		if scheme == "http" {
			line, err := br.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, "ping\n", line, scheme)
		}
		_, err = io.WriteString(c, "pong\n")
		require.NoError(t, err)
		line, err = br.ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "pong\n", line, scheme)
		c.Close()

		// A switch to another protocol than the one asked for is refused.
		c = f.dial(scheme, "h")
		_, err = io.WriteString(c, "GET /other HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		require.NoError(t, err)
		resp, err = http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadGateway, resp.StatusCode, scheme)
	}
}

func TestCancelsWithTheClient(t *testing.T) {
	started, aborted := make(chan string, 1), make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		started <- r.URL.Path
		<-r.Context().Done()
		aborted <- r.URL.Path
	})
	mux.HandleFunc("/stalls", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first part")
		w.(http.Flusher).Flush()
		started <- r.URL.Path
		<-r.Context().Done()
		aborted <- r.URL.Path
	})
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	for _, scheme := range []string{"http", "https"} {
		// Before the answer began, and while it stalls.
		for _, p := range []string{"/slow", "/stalls"} {
			c := f.dial(scheme, "h")
			_, err := io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: h\r\n\r\n")
			require.NoError(t, err)
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s %s: the request did not reach the backend", scheme, p)
			}
			c.Close()
			select {
			case <-aborted:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s %s: the backend request was not cancelled with the client's connection", scheme, p)
			}
		}
	}
}

func TestPipelines(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	f := proxyFixture(t, mux)
	c := f.dial("http", "h")
	_, err := io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	for _, want := range []string{"/1", "/2", "/3"} {
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, want, string(b))
	}
}

func TestRequestsInPieces(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	f := proxyFixture(t, mux)
	c := f.dial("http", "h")
	br := bufio.NewReader(c)
	for _, p := range []string{"/one", "/two"} {
		// A byte a segment: each read finds part of the head.
		for _, b := range []byte("GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n") {
			_, err := c.Write([]byte{b})
			require.NoError(t, err)
		}
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, p, string(body))
	}
}

func TestRejectsBadRequests(t *testing.T) {
	f := proxyFixture(t, http.HandlerFunc(echoHeaders))
	f.serveTLS("h")
	for _, c := range []struct{ req, status string }{
		{"GET /h HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"},
		{"GET /h HTTP/1.1\r\n\r\n", "400"},
		{"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", "400"},
		{"GET /h HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
		{"GET /h HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "501|400"},
	} {
		for _, scheme := range []string{"http", "https"} {
			got := f.rawExchange(scheme, c.req)
			status, _, _ := strings.Cut(strings.TrimPrefix(got, "HTTP/1.1 "), " ")
			assert.Contains(t, strings.Split(c.status, "|"), status, "%s %.60q: %.200q", scheme, c.req, got)
			assert.Contains(t, got, "\r\nConnection: close\r\n", "%s %.60q", scheme, c.req)
		}
	}
	// Both Transfer-Encoding and Content-Length: the body is chunked and
	// forwarded so, without the Content-Length (RFC 9112 section 6.3);
	// fasthttp closes the connection after the answer, net/http keeps it.
	for _, scheme := range []string{"http", "https"} {
		c := f.dial(scheme, "h")
		_, err := io.WriteString(c, "POST /h HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, http.StatusOK, resp.StatusCode, scheme)
		assert.Contains(t, string(b), "POST /h HTTP/1.1 host=h len=-1 body=\"\"\n", scheme)
		assert.NotContains(t, string(b), "Content-Length=", scheme)
		assert.Equal(t, scheme == "http", resp.Close, scheme)
	}

	// A head larger than the plain front end's read buffer (16 KiB; net/http
	// takes 1 MiB).
	got := f.rawExchange("http", "GET /h HTTP/1.1\r\nHost: h\r\nCookie: "+strings.Repeat("c", 20<<10)+"\r\n\r\n")
	assert.True(t, strings.HasPrefix(got, "HTTP/1.1 431 "), got)
}

func TestBackendFailures(t *testing.T) {
	f := start(t)
	// A backend whose idle connections can be closed, as its idle timeout
	// would.
	var mu sync.Mutex
	dialed, idle := 0, map[net.Conn]bool{}
	idled := make(chan struct{}, 1)
	f.serveServer("x", "127.0.0.5", &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") }),
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			switch s {
			case http.StateNew:
				dialed++
			case http.StateIdle:
				idle[c] = true
				select {
				case idled <- struct{}{}:
				default:
				}
			default:
				delete(idle, c)
			}
		}})
	// closeIdle waits until the backend has an idle connection and closes
	// its idle ones, as its idle timeout would; on loopback, the ingress's
	// end has the FIN when Close returns. It returns the dials so far.
	closeIdle := func() int {
		mu.Lock()
		for len(idle) == 0 {
			mu.Unlock()
			select {
			case <-idled:
			case <-time.After(5 * time.Second):
				t.Fatal("the backend connection did not become idle")
			}
			mu.Lock()
		}
		defer mu.Unlock()
		for c := range idle {
			c.Close()
		}
		return dialed
	}
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "x"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("", path("/", objects.PathTypePrefix, "x"))}}})
	f.expect("http", "h", "/", 200, "fine")
	before := closeIdle()
	code, body := f.get("http", "h", "/again")
	assert.Equal(t, 200, code, "a GET on a backend connection closed while idle is sent again")
	assert.Equal(t, "fine", body)
	mu.Lock()
	assert.Equal(t, before+1, dialed)
	mu.Unlock()

	// A POST, which cannot be sent again, is not sent on a connection the
	// backend closed while idle.
	f.expect("http", "h", "/", 200, "fine")
	closeIdle()
	resp, err := f.client.Post("http://"+f.httpAddr+"/post", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(b))

	// An endpoint nobody listens on: 502.
	ln, err := net.Listen("tcp4", "127.0.0.6:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "gone"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "gone"},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("web")}}}},
		nettest.Pod("gone", map[string]string{"app": "gone"}, fmt.Sprintf("web:%d", port)))
	f.SetPodStatus("default", "gone", "127.0.0.6", true)
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "gone"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("gone", path("/", objects.PathTypePrefix, "gone"))}}})
	body = f.expect("http", "gone", "/", 502, "502 Bad Gateway")
	assert.Equal(t, "502 Bad Gateway\n", body)
}

func TestBackendHalfClosedWhileIdle(t *testing.T) {
	// A backend that ends its side of its first connection after one
	// answer but neither closes nor resets it: the request sent on it
	// next gets no answer and no reset, only the end the backend sent
	// while the connection was idle.
	f := start(t)
	var conns atomic.Int32
	f.rawBackend("half", "127.0.0.7", func(c net.Conn) {
		if conns.Add(1) > 1 {
			nettest.AnswerLoop(c)
			return
		}
		br := bufio.NewReader(c)
		if _, err := nettest.ReadHead(br); err != nil {
			return
		}
		if _, err := c.Write(nettest.RawAnswer); err != nil {
			return
		}
		_ = c.(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, br)
	})
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "half"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("half", path("/", objects.PathTypePrefix, "half"))}}})
	f.expect("http", "half", "/", 200, "hello")
	code, body := f.get("http", "half", "/again")
	assert.Equal(t, 200, code, "a GET on a backend connection ended while idle is sent again")
	assert.True(t, strings.HasPrefix(body, "hello"), body)
	assert.Equal(t, int32(2), conns.Load())
}

func TestHTTP2OverTLS(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "h", InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + f.httpsAddr + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, "fine", string(b))
	assert.Equal(t, 2, resp.ProtoMajor)
}

func TestShutdownFinishesRequestsAndClosesIdleConnections(t *testing.T) {
	started, release := make(chan struct{}, 2), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	type conn struct {
		c  net.Conn
		br *bufio.Reader
	}
	var idle, busy []conn
	for _, scheme := range []string{"http", "https"} {
		c := f.dial(scheme, "h")
		br := bufio.NewReader(c)
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		idle = append(idle, conn{c, br})

		c = f.dial(scheme, "h")
		_, err = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		<-started
		busy = append(busy, conn{c, bufio.NewReader(c)})
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); f.stop() }()

	// The idle connections are closed; the requests in flight answered.
	for _, c := range idle {
		_, err := c.br.ReadByte()
		assert.ErrorIs(t, err, io.EOF)
	}
	close(release)
	for _, c := range busy {
		resp, err := http.ReadResponse(c.br, nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		assert.Equal(t, "finished", string(b))
		assert.True(t, resp.Close, "the last answer says the connection closes")
	}
	select {
	case <-stopped:
	case <-time.After(4 * time.Second):
		t.Fatal("Run did not return once the requests in flight were answered")
	}
}

func TestShutdownEndsEndlessAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the shutdown grace period")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first chunk")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // never ends by itself
	})
	mux.HandleFunc("/upgrade", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		_, _ = io.Copy(io.Discard, brw) // never ends by itself
	})
	f := proxyFixture(t, mux)
	f.serveTLS("h")
	var conns []net.Conn
	for _, scheme := range []string{"http", "https"} {
		c := f.dial(scheme, "h")
		_, err := io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		buf := make([]byte, len("first chunk"))
		_, err = io.ReadFull(resp.Body, buf)
		require.NoError(t, err)
		conns = append(conns, c)

		c = f.dial(scheme, "h")
		_, err = io.WriteString(c, "GET /upgrade HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		require.NoError(t, err)
		resp, err = http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		conns = append(conns, c)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); f.stop() }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the grace period with answers still streaming")
	}
	// Every connection was closed.
	for i, c := range conns {
		_, err := io.Copy(io.Discard, c)
		assert.NoError(t, err, "connection %d", i)
	}
}
