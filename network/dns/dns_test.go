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
	"github.com/podkit/podkit/store"
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
	addr   string
	domain string
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
	f := &fixture{Env: e, addr: srv.Addrs()[0].String(), domain: srv.Domain()}
	f.waitSynced()
	return f
}

// waitSynced polls until the server answers for the cluster domain: it
// answers SERVFAIL until its caches have synced.
func (f *fixture) waitSynced() {
	f.T.Helper()
	nettest.Poll(f.T, "the caches to sync", func() error {
		if rc := f.query(f.domain, mdns.TypeSOA).Rcode; rc != mdns.RcodeSuccess {
			return fmt.Errorf("rcode %s", mdns.RcodeToString[rc])
		}
		return nil
	})
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

// waitRcode polls until a query for name is answered with rcode.
func (f *fixture) waitRcode(name string, qtype uint16, rcode int) {
	f.T.Helper()
	nettest.Poll(f.T, name+" to be "+mdns.RcodeToString[rcode], func() error {
		if rc := f.query(name, qtype).Rcode; rc != rcode {
			return fmt.Errorf("rcode %s", mdns.RcodeToString[rc])
		}
		return nil
	})
}

// assertNoData checks that r says its name exists without records of the
// type asked: NOERROR, no answer, the zone's SOA.
func assertNoData(t *testing.T, r *mdns.Msg, name string) {
	t.Helper()
	assert.Equal(t, mdns.RcodeSuccess, r.Rcode, name)
	assert.Empty(t, r.Answer, name)
	assert.Empty(t, r.Extra, name)
	if assert.Len(t, r.Ns, 1, name) {
		assert.IsType(t, &mdns.SOA{}, r.Ns[0], name)
	}
}

func externalName(name, target string) *objects.Service {
	return &objects.Service{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.ServiceSpec{
		Type: objects.ServiceTypeExternalName, ExternalName: target}}
}

// TestExternalNameInsideClusterDomain: a CNAME to a name inside the cluster
// domain is followed here, as CoreDNS does, since the upstreams do not
// know the name and stub resolvers do not follow CNAMEs: the answer is the
// chain and the records it ends in, or nothing when it ends in none, in a
// loop or after more than 8 CNAMEs.
func TestExternalNameInsideClusterDomain(t *testing.T) {
	f := start(t)
	web := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	f.Create(web)
	ip := web.Spec.ClusterIP
	f.Create(externalName("alias", "web.default.svc.cluster.local"),
		externalName("alias2", "alias.default.svc.cluster.local"),
		externalName("outside", "example.com"),
		externalName("via", "outside.default.svc.cluster.local"),
		externalName("dangling", "nope.default.svc.cluster.local"),
		externalName("loop-a", "loop-b.default.svc.cluster.local"),
		externalName("loop-b", "loop-a.default.svc.cluster.local"))
	// chain-0 -> chain-1 -> ... -> chain-8 -> web: 9 CNAMEs from chain-0.
	var chain []string
	for i := 8; i >= 0; i-- {
		target := fmt.Sprintf("chain-%d.default.svc.cluster.local", i+1)
		if i == 8 {
			target = "web.default.svc.cluster.local"
		}
		f.Create(externalName(fmt.Sprintf("chain-%d", i), target))
		if i > 0 {
			chain = append(chain, "CNAME "+target+".")
		}
	}
	f.waitAnswer("chain-1.default.svc.cluster.local", mdns.TypeA, append(chain, "A "+ip)...)

	f.waitAnswer("alias.default.svc.cluster.local", mdns.TypeA, "CNAME web.default.svc.cluster.local.", "A "+ip)
	f.waitAnswer("Alias2.default.svc.cluster.local", mdns.TypeA,
		"CNAME alias.default.svc.cluster.local.", "CNAME web.default.svc.cluster.local.", "A "+ip)
	f.waitAnswer("alias.default.svc.cluster.local", mdns.TypeCNAME, "CNAME web.default.svc.cluster.local.")
	f.waitAnswer("via.default.svc.cluster.local", mdns.TypeA,
		"CNAME outside.default.svc.cluster.local.", "CNAME example.com.", "A 192.0.2.80")
	r := f.query("alias.default.svc.cluster.local", mdns.TypeA)
	require.Len(t, r.Answer, 2)
	assert.Equal(t, "alias.default.svc.cluster.local.", r.Answer[0].Header().Name)
	assert.Equal(t, "web.default.svc.cluster.local.", r.Answer[1].Header().Name)

	for _, name := range []string{"dangling", "loop-a", "chain-0"} {
		assertNoData(t, f.query(name+".default.svc.cluster.local", mdns.TypeA), name)
	}
}

// TestNameErrors: as CoreDNS, a headless Service without ready endpoints
// and every name in a namespace that does not exist are NXDOMAIN; a name
// that exists without records of the type asked is NOERROR.
func TestNameErrors(t *testing.T) {
	f := start(t)
	sel := map[string]string{"app": "hl"}
	f.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "hl"}, Spec: objects.ServiceSpec{
		ClusterIP: objects.ClusterIPNone, Selector: sel, Ports: []objects.ServicePort{{Name: "pg", Port: 5432}}}})
	web := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	f.Create(web)
	// The cache holds hl once it holds web, created after it.
	f.waitAnswer("web.default.svc.cluster.local", mdns.TypeA, "A "+web.Spec.ClusterIP)

	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"hl.default.svc.cluster.local", mdns.TypeA},
		{"hl.default.svc.cluster.local", mdns.TypeSRV},
		{"hl.default.svc.cluster.local", mdns.TypeTXT},
		{"_pg._tcp.hl.default.svc.cluster.local", mdns.TypeSRV},
		{"nosuchns.svc.cluster.local", mdns.TypeA},
		{"web.nosuchns.svc.cluster.local", mdns.TypeA},
		{"nosuchns.pod.cluster.local", mdns.TypeA},
		{"10-1-0-5.nosuchns.pod.cluster.local", mdns.TypeA},
	} {
		r := f.query(q.name, q.qtype)
		assert.Equal(t, mdns.RcodeNameError, r.Rcode, "%s %s", q.name, mdns.TypeToString[q.qtype])
		assert.Empty(t, r.Answer, q.name)
	}
	for _, name := range []string{"cluster.local", "svc.cluster.local", "pod.cluster.local",
		"default.svc.cluster.local", "default.pod.cluster.local", "web.default.svc.cluster.local"} {
		assertNoData(t, f.query(name, mdns.TypeTXT), name)
	}

	// A ready endpoint makes the headless name; losing it unmakes it.
	f.Create(nettest.Pod("hl-0", sel, "5432"))
	f.SetPodStatus("default", "hl-0", "10.1.0.30", true)
	f.waitAnswer("hl.default.svc.cluster.local", mdns.TypeA, "A 10.1.0.30")
	assertNoData(t, f.query("hl.default.svc.cluster.local", mdns.TypeAAAA), "hl AAAA")
	f.SetPodStatus("default", "hl-0", "10.1.0.30", false)
	f.waitRcode("hl.default.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError)

	// A namespace made later has names from then on.
	f.Create(&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "late"}})
	f.waitRcode("late.svc.cluster.local", mdns.TypeA, mdns.RcodeSuccess)
	assert.Equal(t, []string{"A 10.1.0.5"}, records(f.query("10-1-0-5.late.pod.cluster.local", mdns.TypeA)))
}

// TestReverseRecords: as CoreDNS, a cluster IP names its Service, and any
// other ready endpoint address names that endpoint in every Service it
// serves, headless or not; other addresses are forwarded.
func TestReverseRecords(t *testing.T) {
	f := start(t)
	sel := map[string]string{"app": "web"}
	web := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: sel, Ports: []objects.ServicePort{{Port: 80}}}}
	f.Create(web, &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web2"}, Spec: objects.ServiceSpec{
		Selector: sel, Ports: []objects.ServicePort{{Name: "http", Port: 80}}}},
		nettest.Pod("web-1", sel, "80"))
	f.SetPodStatus("default", "web-1", "10.1.0.5", true)
	pod, _ := mdns.ReverseAddr("10.1.0.5")
	f.waitAnswer(pod, mdns.TypePTR,
		"PTR 10-1-0-5.web.default.svc.cluster.local.", "PTR 10-1-0-5.web2.default.svc.cluster.local.")
	r := f.query(pod, mdns.TypePTR)
	assert.True(t, r.Authoritative)

	// Services and endpoints are cached apart; each catches up on its own.
	rev, _ := mdns.ReverseAddr(web.Spec.ClusterIP)
	f.waitAnswer(rev, mdns.TypePTR, "PTR web.default.svc.cluster.local.")
	rev, _ = mdns.ReverseAddr("10.1.0.99")
	assert.Equal(t, mdns.RcodeNameError, f.query(rev, mdns.TypePTR).Rcode, "forwarded")

	f.SetPodStatus("default", "web-1", "10.1.0.5", false)
	f.waitRcode(pod, mdns.TypePTR, mdns.RcodeNameError)
}

// TestServiceSRV: an SRV query for a Service's own name gives every port,
// unnamed ones too, as CoreDNS does: at the Service's name for a ClusterIP
// Service, at each ready endpoint's name for a headless one.
func TestServiceSRV(t *testing.T) {
	f := start(t)
	web := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	sel := map[string]string{"app": "hl"}
	f.Create(web, &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "hl"}, Spec: objects.ServiceSpec{
		ClusterIP: objects.ClusterIPNone, Selector: sel, Ports: []objects.ServicePort{{Port: 5432}}}})
	f.waitAnswer("web.default.svc.cluster.local", mdns.TypeSRV, "SRV 80 web.default.svc.cluster.local.")
	r := f.query("web.default.svc.cluster.local", mdns.TypeSRV)
	require.Len(t, r.Extra, 1)
	assert.Equal(t, "web.default.svc.cluster.local.", r.Extra[0].Header().Name)
	assert.Equal(t, web.Spec.ClusterIP, r.Extra[0].(*mdns.A).A.String())

	named := nettest.Pod("hl-0", sel, "5432")
	named.Spec.Hostname, named.Spec.Subdomain = "hl-0", "hl"
	f.Create(named, nettest.Pod("hl-x", sel, "5432"))
	f.SetPodStatus("default", "hl-0", "10.1.0.50", true)
	f.SetPodStatus("default", "hl-x", "10.1.0.51", true)
	f.waitAnswer("hl.default.svc.cluster.local", mdns.TypeSRV,
		"SRV 5432 hl-0.hl.default.svc.cluster.local.", "SRV 5432 10-1-0-51.hl.default.svc.cluster.local.")
	r = f.query("hl.default.svc.cluster.local", mdns.TypeSRV)
	var extra []string
	for _, rr := range r.Extra {
		extra = append(extra, rr.Header().Name+" "+rr.(*mdns.A).A.String())
	}
	assert.ElementsMatch(t, []string{"hl-0.hl.default.svc.cluster.local. 10.1.0.50", "10-1-0-51.hl.default.svc.cluster.local. 10.1.0.51"}, extra)
}

// TestExternalNamePorts: a port under an ExternalName Service names the
// Service's CNAME, as the Service's own name does; CoreDNS has no SRV
// records for ExternalName Services, so an SRV query for either is NODATA.
func TestExternalNamePorts(t *testing.T) {
	f := start(t)
	ext := externalName("ext", "example.com")
	ext.Spec.Ports = []objects.ServicePort{{Name: "http", Port: 80}}
	f.Create(ext)
	f.waitAnswer("_http._tcp.ext.default.svc.cluster.local", mdns.TypeA, "CNAME example.com.", "A 192.0.2.80")
	assert.Equal(t, []string{"CNAME example.com."}, records(f.query("_http._tcp.ext.default.svc.cluster.local", mdns.TypeCNAME)))
	for _, name := range []string{"_http._tcp.ext.default.svc.cluster.local", "ext.default.svc.cluster.local"} {
		assertNoData(t, f.query(name, mdns.TypeSRV), name)
	}
	assert.Equal(t, mdns.RcodeNameError, f.query("x.ext.default.svc.cluster.local", mdns.TypeA).Rcode, "an ExternalName Service has no endpoints")
}

// gatedStore holds every read until open is closed, keeping the caches
// of a server over it from syncing.
type gatedStore struct {
	store.Store
	open chan struct{}
}

func (g *gatedStore) View(ctx context.Context, fn func(store.ReadTx) error) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Store.View(ctx, fn)
}

// TestServFailUntilSynced: until its caches have synced the server cannot
// tell what exists, so it answers SERVFAIL for the cluster domain, as
// CoreDNS does, rather than NXDOMAIN for Services that exist; other names
// are forwarded all the same.
func TestServFailUntilSynced(t *testing.T) {
	e := nettest.New(t)
	web := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	e.Create(web)
	gate := &gatedStore{Store: e.Store, open: make(chan struct{})}
	srv, err := dns.New(gate, dns.WithListenAddrs("127.0.0.1:0"), dns.WithUpstreams(upstream(t)))
	require.NoError(t, err)
	nettest.RunBackground(t, srv.Run)
	select {
	case <-srv.Ready():
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	f := &fixture{Env: e, addr: srv.Addrs()[0].String(), domain: srv.Domain()}
	for _, name := range []string{"web.default.svc.cluster.local", "nope.default.svc.cluster.local", "cluster.local"} {
		assert.Equal(t, mdns.RcodeServerFailure, f.query(name, mdns.TypeA).Rcode, name)
	}
	assert.Equal(t, []string{"A 192.0.2.80"}, records(f.query("example.com", mdns.TypeA)))

	close(gate.open)
	f.waitAnswer("web.default.svc.cluster.local", mdns.TypeA, "A "+web.Spec.ClusterIP)
}
