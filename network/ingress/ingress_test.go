package ingress_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/ingress"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	*nettest.Env
	httpAddr, httpsAddr string
	client              *http.Client
	ctl                 *ingress.Controller
	stop                func() // stops the controller and checks Run's error
}

// start runs the endpoints controller and an ingress controller on
// loopback, and services a and b whose pods are HTTP servers on 127.0.0.x.
func start(t testing.TB, opts ...ingress.Option) *fixture {
	e := nettest.New(t)
	m, err := reconcile.NewManager(e.Store)
	require.NoError(t, err)
	require.NoError(t, m.Add(network.EndpointsController(m)))
	nettest.RunBackground(t, m.Run)
	opts = append([]ingress.Option{ingress.WithHTTPAddr("127.0.0.1:0"), ingress.WithHTTPSAddr("127.0.0.1:0")}, opts...)
	c, err := ingress.New(e.Store, opts...)
	require.NoError(t, err)
	stop := nettest.RunBackground(t, c.Run)
	<-c.Ready()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	f := &fixture{Env: e, httpAddr: c.Addrs()[0].String(), httpsAddr: c.Addrs()[1].String(),
		client: &http.Client{Transport: tr, Timeout: 5 * time.Second}, ctl: c, stop: stop}
	for i, name := range []string{"a", "b"} {
		f.backend(name, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	return f
}

// backend starts a pod of service name: an HTTP server answering
// "<pod> <path> xff=<X-Forwarded-For> proto=<X-Forwarded-Proto> host=<Host>".
func (f *fixture) backend(name, ip string) {
	f.serveBackend(name, ip, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s xff=%s proto=%s host=%s", name, r.URL.Path, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Host)
	}))
}

// serveBackend starts a pod of service name, on ip, served by h.
func (f *fixture) serveBackend(name, ip string, h http.Handler) {
	f.serveServer(name, ip, &http.Server{Handler: h})
}

// serveServer starts a pod of service name, on ip, served by srv.
func (f *fixture) serveServer(name, ip string, srv *http.Server) {
	t := f.T
	ln, err := net.Listen("tcp4", ip+":0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	port := ln.Addr().(*net.TCPAddr).Port
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": name},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("web")}}}},
		nettest.Pod(name, map[string]string{"app": name}, fmt.Sprintf("web:%d", port)))
	f.SetPodStatus("default", name, ip, true)
}

func (f *fixture) get(scheme, host, path string) (int, string) {
	addr := f.httpAddr
	if scheme == "https" {
		addr = f.httpsAddr
	}
	req, err := http.NewRequest("GET", scheme+"://"+addr+path, nil)
	require.NoError(f.T, err)
	req.Host = host
	if scheme == "https" {
		tr := f.client.Transport.(*http.Transport)
		tr.TLSClientConfig.ServerName = host
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expect polls until the request is answered with code and a body starting
// with prefix: the controller learns of changes through its watches.
func (f *fixture) expect(scheme, host, path string, code int, prefix string) string {
	f.T.Helper()
	var body string
	nettest.Poll(f.T, fmt.Sprintf("%s://%s%s to give %d %q", scheme, host, path, code, prefix), func() error {
		var got int
		got, body = f.get(scheme, host, path)
		if got != code || !strings.HasPrefix(body, prefix) {
			return fmt.Errorf("got %d %q", got, body)
		}
		return nil
	})
	return body
}

func pathType(t objects.PathType) *objects.PathType { return &t }

func rule(host string, paths ...objects.HTTPIngressPath) objects.IngressRule {
	return objects.IngressRule{Host: host, IngressRuleValue: objects.IngressRuleValue{HTTP: &objects.HTTPIngressRuleValue{Paths: paths}}}
}

func path(p string, typ objects.PathType, svc string) objects.HTTPIngressPath {
	return objects.HTTPIngressPath{Path: p, PathType: pathType(typ), Backend: backend(svc)}
}

func backend(svc string) objects.IngressBackend {
	return objects.IngressBackend{Service: &objects.IngressServiceBackend{Name: svc, Port: objects.ServiceBackendPort{Name: "http"}}}
}

func class(name string) *string { return &name }

func TestPathAndHostRouting(t *testing.T) {
	f := start(t)
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"),
		Rules: []objects.IngressRule{
			rule("", path("/a", objects.PathTypePrefix, "a"), path("/b", objects.PathTypeImplementationSpecific, "b"),
				path("/exact", objects.PathTypeExact, "a"), path("/a/b", objects.PathTypePrefix, "b")),
			rule("b.example.com", path("/", objects.PathTypePrefix, "b")),
			rule("*.wild.example", path("/", objects.PathTypePrefix, "a")),
		}}})
	f.expect("http", "any.host", "/a", 200, "a /a ")
	f.expect("http", "any.host", "/a/x", 200, "a /a/x ")
	f.expect("http", "any.host", "/a/b/c", 200, "b /a/b/c ") // longest prefix wins
	f.expect("http", "any.host", "/b/c", 200, "b /b/c ")
	f.expect("http", "any.host", "/exact", 200, "a /exact ")
	f.expect("http", "any.host", "/exact/x", 404, "")
	f.expect("http", "any.host", "/ab", 404, "") // prefixes match whole path elements
	f.expect("http", "b.example.com", "/a", 200, "b /a ")
	f.expect("http", "B.Example.com:8080", "/a", 200, "b /a ")
	f.expect("http", "x.wild.example", "/a", 200, "a /a ")
	f.expect("http", "x.y.wild.example", "/b", 200, "b /b ") // a wildcard covers one label

	// Forwarding headers and the original Host reach the backend.
	body := f.expect("http", "b.example.com", "/h", 200, "b /h ")
	assert.Contains(t, body, "xff=127.0.0.1")
	assert.Contains(t, body, "proto=http")
	assert.Contains(t, body, "host=b.example.com")

	f.WaitStore("the Ingress status", func(tx store.ReadTx) (bool, string) {
		o, _ := tx.Get("Ingress", objects.Key{Namespace: "default", Name: "web"})
		in := o.(*objects.Ingress).Status.LoadBalancer.Ingress
		return len(in) == 1 && in[0].IP == "127.0.0.1", fmt.Sprint(in)
	})
}

func TestDefaultBackendAndUnavailable(t *testing.T) {
	f := start(t)
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), DefaultBackend: ptr(backend("b")),
		Rules: []objects.IngressRule{rule("", path("/a", objects.PathTypePrefix, "a"))}}})
	f.expect("http", "x", "/a", 200, "a /a")
	f.expect("http", "x", "/other", 200, "b /other")

	// A backend whose only pod is not ready: 503 until it is ready again.
	f.SetPodStatus("default", "a", "127.0.0.2", false)
	f.expect("http", "x", "/a", 503, "503")
	f.SetPodStatus("default", "a", "127.0.0.2", true)
	f.expect("http", "x", "/a", 200, "a /a")
}

func ptr[T any](v T) *T { return &v }

// A backend that is an ExternalName Service is reached at its name.
func TestExternalNameBackend(t *testing.T) {
	f := start(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "external %s host=%s", r.URL.Path, r.Host)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	port := ln.Addr().(*net.TCPAddr).Port
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "ext"}, Spec: objects.ServiceSpec{
		Type: objects.ServiceTypeExternalName, ExternalName: "localhost",
		Ports: []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromInt32(int32(port))}}}},
		&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "bare"}, Spec: objects.ServiceSpec{
			Type: objects.ServiceTypeExternalName, ExternalName: "localhost"}},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.IngressSpec{IngressClassName: class("podkit"),
			Rules: []objects.IngressRule{rule("", path("/ext", objects.PathTypePrefix, "ext"),
				objects.HTTPIngressPath{Path: "/bare", PathType: pathType(objects.PathTypePrefix), Backend: objects.IngressBackend{
					Service: &objects.IngressServiceBackend{Name: "bare", Port: objects.ServiceBackendPort{Number: int32(port)}}}})}}})
	f.expect("http", "h.example", "/ext/x", 200, "external /ext/x host=h.example")
	f.expect("https", "h.example", "/ext/y", 200, "external /ext/y host=h.example")
	f.expect("http", "h.example", "/bare", 200, "external /bare ")
}

// Each Ingress's defaultBackend serves its own hosts; one without rules
// serves hosts no rule names. Paths are routed cleaned, forwarded as sent.
func TestDefaultBackendsByHostAndCleanPaths(t *testing.T) {
	f := start(t)
	spec := func(def string, rules ...objects.IngressRule) objects.IngressSpec {
		s := objects.IngressSpec{IngressClassName: class("podkit"), Rules: rules}
		if def != "" {
			s.DefaultBackend = ptr(backend(def))
		}
		return s
	}
	bare := objects.IngressRule{Host: "bare.example"}
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "ing1"}, Spec: spec("a", rule("one.example", path("/x", objects.PathTypePrefix, "b")))},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "ing2"}, Spec: spec("b", rule("two.example", path("/x", objects.PathTypePrefix, "a")), bare)},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "ing3"}, Spec: spec("",
			rule("clean.example", path("/", objects.PathTypePrefix, "a"), path("/api", objects.PathTypePrefix, "b")))})
	f.expect("http", "one.example", "/x", 200, "b /x ")
	f.expect("http", "one.example", "/other", 200, "a /other ")
	f.expect("http", "two.example", "/other", 200, "b /other ")
	f.expect("http", "two.example.", "/x", 200, "a /x ")
	f.expect("http", "bare.example", "/x", 200, "b /x ") // a rule without paths: its Ingress's defaultBackend
	f.expect("http", "unknown.example", "/", 404, "")
	f.expect("http", "clean.example", "/static/../api/x", 200, "b /static/../api/x ")
	f.expect("http", "clean.example", "//api/x", 200, "b //api/x ")
	f.expect("http", "clean.example", "/api/../x", 200, "a /api/../x ")
	f.expect("http", "clean.example", "/api/./x/", 200, "b /api/./x/ ")

	// An Ingress without rules catches hosts no rule names.
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "catch-all"}, Spec: spec("a")})
	f.expect("http", "unknown.example", "/", 200, "a / ")
	f.expect("http", "two.example", "/other", 200, "b /other ")
}

func TestIngressClasses(t *testing.T) {
	f := start(t)
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "theirs"}, Spec: objects.IngressSpec{
		IngressClassName: class("nginx"), Rules: []objects.IngressRule{rule("", path("/n", objects.PathTypePrefix, "a"))}}},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "unclassed"}, Spec: objects.IngressSpec{
			Rules: []objects.IngressRule{rule("", path("/u", objects.PathTypePrefix, "a"))}}},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "mine"}, Spec: objects.IngressSpec{
			IngressClassName: class("internal"), Rules: []objects.IngressRule{rule("", path("/m", objects.PathTypePrefix, "b"))}}},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "annotated", Annotations: map[string]string{ingress.AnnotationIngressClass: "podkit"}},
			Spec: objects.IngressSpec{Rules: []objects.IngressRule{rule("", path("/x", objects.PathTypePrefix, "b"))}}})
	f.expect("http", "h", "/x", 200, "b /x")
	f.expect("http", "h", "/n", 404, "")
	f.expect("http", "h", "/u", 404, "")
	f.expect("http", "h", "/m", 404, "")

	// An IngressClass of this controller makes "internal" ours; a default
	// class makes unclassed Ingresses ours.
	f.Create(&objects.IngressClass{ObjectMeta: objects.ObjectMeta{Name: "internal",
		Annotations: map[string]string{objects.AnnotationIsDefaultIngressClass: "true"}},
		Spec: objects.IngressClassSpec{Controller: ingress.DefaultControllerName}})
	f.expect("http", "h", "/m", 200, "b /m")
	f.expect("http", "h", "/u", 200, "a /u")
	f.expect("http", "h", "/n", 404, "")
}

func TestTLSBySNI(t *testing.T) {
	f := start(t)
	for _, h := range []string{"a.example.com", "b.example.com"} {
		crt, key := selfSigned(t, h)
		f.Create(&objects.Secret{ObjectMeta: objects.ObjectMeta{Name: h}, Type: objects.SecretTypeTLS,
			Data: map[string][]byte{objects.TLSCertKey: crt, objects.TLSPrivateKeyKey: key}})
	}
	f.Create(&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"),
		TLS: []objects.IngressTLS{{Hosts: []string{"a.example.com"}, SecretName: "a.example.com"},
			{Hosts: []string{"b.example.com"}, SecretName: "b.example.com"}},
		Rules: []objects.IngressRule{rule("a.example.com", path("/", objects.PathTypePrefix, "a")),
			rule("b.example.com", path("/", objects.PathTypePrefix, "b"))}}})
	body := f.expect("https", "a.example.com", "/s", 200, "a /s")
	assert.Contains(t, body, "proto=https")
	f.expect("https", "b.example.com", "/s", 200, "b /s")

	// A tls entry without hosts serves the names its certificate covers.
	crt, key := selfSigned(t, "c.example.com")
	f.Create(&objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "c"}, Type: objects.SecretTypeTLS,
		Data: map[string][]byte{objects.TLSCertKey: crt, objects.TLSPrivateKeyKey: key}},
		&objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "hostless"}, Spec: objects.IngressSpec{
			IngressClassName: class("podkit"),
			TLS:              []objects.IngressTLS{{SecretName: "c"}, {Hosts: []string{"d.example.com"}, SecretName: "missing"}},
			Rules:            []objects.IngressRule{rule("c.example.com", path("/", objects.PathTypePrefix, "a"))}}})
	f.expect("https", "c.example.com", "/s", 200, "a /s")

	// The certificate served is the one of the name asked for; names no
	// Secret covers (one missing, none named) get the fake certificate and
	// are routed all the same.
	f.expect("https", "other.example.com", "/", 404, "")
	for h, want := range map[string]string{"a.example.com": "a.example.com", "b.example.com": "b.example.com", "c.example.com": "c.example.com",
		"d.example.com": ingress.FakeCertificateName, "other.example.com": ingress.FakeCertificateName, "": ingress.FakeCertificateName} {
		conn, err := tls.Dial("tcp", f.httpsAddr, &tls.Config{ServerName: h, InsecureSkipVerify: true})
		require.NoError(t, err, h)
		assert.Equal(t, want, conn.ConnectionState().PeerCertificates[0].Subject.CommonName, h)
		conn.Close()
	}
}

func TestLiveReconfigurationKeepsConnections(t *testing.T) {
	f := start(t)
	ing := &objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.IngressSpec{
		IngressClassName: class("podkit"), Rules: []objects.IngressRule{rule("", path("/", objects.PathTypePrefix, "a"))}}}
	f.Create(ing)
	f.expect("http", "h", "/", 200, "a /")
	// One keep-alive connection, counted by the client's transport.
	var conns int
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns++
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() string {
		resp, err := client.Get("http://" + f.httpAddr + "/")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	assert.True(t, strings.HasPrefix(get(), "a /"))
	nettest.Update(f.Env, ing.Key(), func(i *objects.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend = backend("b") })
	nettest.Poll(t, "the route to move to b", func() error {
		if b := get(); !strings.HasPrefix(b, "b /") {
			return fmt.Errorf("got %q", b)
		}
		return nil
	})
	assert.Equal(t, 1, conns, "the reconfiguration dropped the client's connection")
}

func selfSigned(t *testing.T, host string) (crt, key []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
