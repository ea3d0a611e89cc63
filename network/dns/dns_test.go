package dns_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/dns"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upstream runs a resolver on loopback that knows example.com and
// www.example.com (a CNAME), standing in for the host's resolvers.
func upstream(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		switch q := r.Question[0]; {
		case q.Name == "example.com." && q.Qtype == mdns.TypeA:
			rr, _ := mdns.NewRR("example.com. 60 IN A 192.0.2.80")
			m.Answer = []mdns.RR{rr}
		default:
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &mdns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	return pc.LocalAddr().String()
}

type fixture struct {
	*nettest.Env
	addr string
}

func start(t *testing.T, opts ...dns.Option) *fixture {
	e := nettest.New(t)
	m, err := reconcile.NewManager(e.Store)
	require.NoError(t, err)
	require.NoError(t, m.Add(network.EndpointsController(m)))
	nettest.RunBackground(t, m.Run)
	opts = append([]dns.Option{dns.WithListenAddrs("127.0.0.1:0"), dns.WithUpstreams(upstream(t))}, opts...)
	srv, err := dns.New(e.Store, opts...)
	require.NoError(t, err)
	nettest.RunBackground(t, srv.Run)
	select {
	case <-srv.Ready():
	case <-t.Context().Done():
	}
	return &fixture{Env: e, addr: srv.Addrs()[0].String()}
}

func (f *fixture) query(name string, qtype uint16) *mdns.Msg {
	return f.queryNet("udp", name, qtype)
}

func (f *fixture) queryNet(network, name string, qtype uint16) *mdns.Msg {
	f.T.Helper()
	c := &mdns.Client{Net: network}
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	r, _, err := c.Exchange(m, f.addr)
	require.NoError(f.T, err)
	return r
}

// records renders the answer section as "type value" strings, sorted.
func records(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, "A "+v.A.String())
		case *mdns.SRV:
			out = append(out, fmt.Sprintf("SRV %d %s", v.Port, v.Target))
		case *mdns.CNAME:
			out = append(out, "CNAME "+v.Target)
		case *mdns.PTR:
			out = append(out, "PTR "+v.Ptr)
		default:
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

// waitAnswer polls until name's records are want: the DNS server learns of
// changes through its watch, which no test event announces.
func (f *fixture) waitAnswer(name string, qtype uint16, want ...string) {
	f.T.Helper()
	slices.Sort(want)
	nettest.Poll(f.T, name, func() error {
		got := records(f.query(name, qtype))
		if !slices.Equal(got, want) {
			return fmt.Errorf("got %q, want %q", got, want)
		}
		return nil
	})
}

func TestServiceRecords(t *testing.T) {
	f := start(t)
	web := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromInt32(8080)}, {Name: "dns", Port: 53, Protocol: objects.ProtocolUDP}}}}
	f.Create(web)
	ip := web.Spec.ClusterIP
	f.waitAnswer("web.default.svc.cluster.local", mdns.TypeA, "A "+ip)
	f.waitAnswer("WEB.Default.svc.cluster.local", mdns.TypeA, "A "+ip)
	f.waitAnswer("_http._tcp.web.default.svc.cluster.local", mdns.TypeSRV, "SRV 80 web.default.svc.cluster.local.")
	f.waitAnswer("_dns._udp.web.default.svc.cluster.local", mdns.TypeSRV, "SRV 53 web.default.svc.cluster.local.")
	f.waitAnswer("web.default.svc.cluster.local", mdns.TypeSRV,
		"SRV 80 web.default.svc.cluster.local.", "SRV 53 web.default.svc.cluster.local.")
	r := f.query("_http._tcp.web.default.svc.cluster.local", mdns.TypeSRV)
	require.Len(t, r.Extra, 1)
	assert.Equal(t, ip, r.Extra[0].(*mdns.A).A.String())

	// Over TCP too.
	assert.Equal(t, []string{"A " + ip}, records(f.queryNet("tcp", "web.default.svc.cluster.local", mdns.TypeA)))

	// An existing name without records of the type: NOERROR, no answer.
	r = f.query("web.default.svc.cluster.local", mdns.TypeAAAA)
	assert.Equal(t, mdns.RcodeSuccess, r.Rcode)
	assert.Empty(t, r.Answer)
	assert.True(t, r.Authoritative)
	require.Len(t, r.Ns, 1)
	assert.IsType(t, &mdns.SOA{}, r.Ns[0])

	for _, name := range []string{"nope.default.svc.cluster.local", "web.other.svc.cluster.local",
		"_nope._tcp.web.default.svc.cluster.local", "x.y.z.cluster.local", "not-an-ip.default.pod.cluster.local"} {
		assert.Equal(t, mdns.RcodeNameError, f.query(name, mdns.TypeA).Rcode, name)
	}

	// Reverse lookup of the ClusterIP.
	rev, err := mdns.ReverseAddr(ip)
	require.NoError(t, err)
	assert.Equal(t, []string{"PTR web.default.svc.cluster.local."}, records(f.query(rev, mdns.TypePTR)))

	// Deleting the Service removes its name.
	f.Delete("Service", web.Key())
	nettest.Poll(t, "web to be gone", func() error {
		if rc := f.query("web.default.svc.cluster.local", mdns.TypeA).Rcode; rc != mdns.RcodeNameError {
			return fmt.Errorf("rcode %s", mdns.RcodeToString[rc])
		}
		return nil
	})
}

func TestHeadlessAndStatefulSetPods(t *testing.T) {
	f := start(t)
	db := map[string]string{"app": "db"}
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "db"}, Spec: objects.ServiceSpec{
		ClusterIP: objects.ClusterIPNone, Selector: db,
		Ports: []objects.ServicePort{{Name: "pg", Port: 5432}}}})
	for i := range 3 {
		p := nettest.Pod(fmt.Sprintf("db-%d", i), db, "5432")
		p.Spec.Hostname, p.Spec.Subdomain = p.Name, "db"
		f.Create(p)
		f.SetPodStatus("default", p.Name, fmt.Sprintf("10.1.0.%d", 10+i), i != 2)
	}
	f.waitAnswer("db.default.svc.cluster.local", mdns.TypeA, "A 10.1.0.10", "A 10.1.0.11")
	f.waitAnswer("db-0.db.default.svc.cluster.local", mdns.TypeA, "A 10.1.0.10")
	f.waitAnswer("db-1.db.default.svc.cluster.local", mdns.TypeA, "A 10.1.0.11")
	// db-2 is not ready: not published.
	assert.Equal(t, mdns.RcodeNameError, f.query("db-2.db.default.svc.cluster.local", mdns.TypeA).Rcode)
	f.waitAnswer("_pg._tcp.db.default.svc.cluster.local", mdns.TypeSRV,
		"SRV 5432 db-0.db.default.svc.cluster.local.", "SRV 5432 db-1.db.default.svc.cluster.local.")

	f.SetPodStatus("default", "db-2", "10.1.0.12", true)
	f.waitAnswer("db-2.db.default.svc.cluster.local", mdns.TypeA, "A 10.1.0.12")
	rev, _ := mdns.ReverseAddr("10.1.0.12")
	assert.Equal(t, []string{"PTR db-2.db.default.svc.cluster.local."}, records(f.query(rev, mdns.TypePTR)))

	// Endpoints without a hostname are named by their dashed IP.
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "anon"}, Spec: objects.ServiceSpec{
		ClusterIP: objects.ClusterIPNone, Selector: map[string]string{"app": "anon"}}},
		nettest.Pod("anon-x", map[string]string{"app": "anon"}))
	f.SetPodStatus("default", "anon-x", "10.1.0.20", true)
	f.waitAnswer("10-1-0-20.anon.default.svc.cluster.local", mdns.TypeA, "A 10.1.0.20")
}

func TestPodRecords(t *testing.T) {
	f := start(t)
	assert.Equal(t, []string{"A 10.81.1.101"}, records(f.query("10-81-1-101.default.pod.cluster.local", mdns.TypeA)))
	assert.Equal(t, mdns.RcodeSuccess, f.query("default.pod.cluster.local", mdns.TypeA).Rcode)
}

func TestForwardingAndExternalName(t *testing.T) {
	f := start(t)
	r := f.query("example.com", mdns.TypeA)
	assert.Equal(t, []string{"A 192.0.2.80"}, records(r))
	assert.Equal(t, mdns.RcodeNameError, f.query("nothing.example.com", mdns.TypeA).Rcode)

	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "ext"}, Spec: objects.ServiceSpec{
		Type: objects.ServiceTypeExternalName, ExternalName: "example.com"}})
	f.waitAnswer("ext.default.svc.cluster.local", mdns.TypeA, "CNAME example.com.", "A 192.0.2.80")
}

func TestUpstreamDownIsServFail(t *testing.T) {
	// A port nothing listens on: the forward fails and the client is told.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := dead.LocalAddr().String()
	dead.Close()
	f := start(t, dns.WithUpstreams(addr))
	assert.Equal(t, mdns.RcodeServerFailure, f.query("example.com", mdns.TypeA).Rcode)
}

func TestClusterDomainIsConfigurable(t *testing.T) {
	f := start(t, dns.WithClusterDomain("Corp.Internal."))
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "api"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 443}}}}
	f.Create(s)
	f.waitAnswer("api.default.svc.corp.internal", mdns.TypeA, "A "+s.Spec.ClusterIP)
	// cluster.local is now an outside name: forwarded, and unknown upstream.
	assert.Equal(t, mdns.RcodeNameError, f.query("api.default.svc.cluster.local", mdns.TypeA).Rcode)
}

func TestListenFailureIsReturned(t *testing.T) {
	e := nettest.New(t)
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	srv, err := dns.New(e.Store, dns.WithListenAddrs(l.LocalAddr().String()), dns.WithUpstreams())
	require.NoError(t, err)
	err = srv.Run(context.Background())
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "address already in use"), err)
}

func TestOptionsRejectNonsense(t *testing.T) {
	for _, o := range []dns.Option{dns.WithClusterDomain(""), dns.WithClusterDomain("a..b"), dns.WithListenAddrs("nohost"),
		dns.WithListenAddrs(), dns.WithLogger(nil), dns.WithForwardTimeout(0)} {
		_, err := dns.New(nil, o)
		assert.Error(t, err)
	}
}

// TestAddListenAddr adds addresses before and while Run runs: each serves
// UDP and TCP, adding one twice does nothing, and an address no interface
// has binds all the same (IP_FREEBIND), as a pod bridge's gateway does
// before the bridge exists.
func TestAddListenAddr(t *testing.T) {
	e := nettest.New(t)
	srv, err := dns.New(e.Store, dns.WithListenAddrs("127.0.0.1:0"), dns.WithUpstreams())
	require.NoError(t, err)
	require.NoError(t, srv.AddListenAddr("127.0.0.2:0"))
	require.Len(t, srv.Addrs(), 1, "bound before Run")
	stop := nettest.RunBackground(t, srv.Run)
	select {
	case <-srv.Ready():
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	require.NoError(t, srv.AddListenAddr("127.0.0.3:0"))
	require.NoError(t, srv.AddListenAddr("127.0.0.3:0"))
	require.NoError(t, srv.AddListenAddr("127.0.0.1:0"), "a WithListenAddrs address")
	require.NoError(t, srv.AddListenAddr("198.51.100.7:0"), "an address of no interface")
	addrs := srv.Addrs()
	var hosts []string
	for _, a := range addrs {
		hosts = append(hosts, a.(*net.UDPAddr).IP.String())
	}
	require.Equal(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "198.51.100.7"}, hosts)

	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	e.Create(s)
	for _, a := range addrs[:3] {
		f := &fixture{Env: e, addr: a.String()}
		f.waitAnswer("web.default.svc.cluster.local", mdns.TypeA, "A "+s.Spec.ClusterIP)
		assert.Equal(t, []string{"A " + s.Spec.ClusterIP}, records(f.queryNet("tcp", "web.default.svc.cluster.local", mdns.TypeA)), a)
	}

	stop()
	for _, a := range addrs[:3] {
		l, err := net.ListenPacket("udp", a.String())
		require.NoError(t, err, "Run released %s", a)
		l.Close()
	}
	require.NoError(t, srv.Close())
}

func TestAddListenAddrInUse(t *testing.T) {
	e := nettest.New(t)
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	srv, err := dns.New(e.Store, dns.WithListenAddrs("127.0.0.1:0"), dns.WithUpstreams())
	require.NoError(t, err)
	for range 2 { // a failed address is not remembered
		err = srv.AddListenAddr(l.LocalAddr().String())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "address already in use")
	}
	assert.Error(t, srv.AddListenAddr("nohost"))
	assert.Empty(t, srv.Addrs())
}

// TestCloseReleasesAddedAddrs: what AddListenAddr bound for a Run that
// never comes is released by Close.
func TestCloseReleasesAddedAddrs(t *testing.T) {
	e := nettest.New(t)
	srv, err := dns.New(e.Store, dns.WithUpstreams())
	require.NoError(t, err)
	require.NoError(t, srv.AddListenAddr("127.0.0.4:0"))
	addr := srv.Addrs()[0].String()
	_, err = net.ListenPacket("udp", addr)
	require.Error(t, err, "held until Close")
	require.NoError(t, srv.Close())
	l, err := net.ListenPacket("udp", addr)
	require.NoError(t, err)
	l.Close()
}
