package policy

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

// world is a store's worth of pods and namespaces for the semantics
// tests:
//
//	namespace default (team=a):  web 10.0.0.1 (app=web, port http=8080),
//	                             client 10.0.0.2 (role=client),
//	                             other 10.0.0.3 (role=other)
//	namespace prod (team=b):     client 10.0.1.2 (role=client),
//	                             db 10.0.1.3 (app=db, port sql=5432)
//	namespace dev (team=a):      tool 10.0.2.1
//	host-network pod in default at 192.168.0.10, a pod without an IP,
//	a Succeeded pod at 10.0.0.9 (role=client).
var (
	web      = netip.MustParseAddr("10.0.0.1")
	client   = netip.MustParseAddr("10.0.0.2")
	other    = netip.MustParseAddr("10.0.0.3")
	pclient  = netip.MustParseAddr("10.0.1.2")
	db       = netip.MustParseAddr("10.0.1.3")
	tool     = netip.MustParseAddr("10.0.2.1")
	outside  = netip.MustParseAddr("8.8.8.8")
	finished = netip.MustParseAddr("10.0.0.9")
)

func pod(ns, name, ip string, labels map[string]string, ports ...objects.ContainerPort) *objects.Pod {
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name, Labels: labels}}
	p.Spec.Containers = []objects.Container{{Name: "c", Image: "i", Ports: ports}}
	p.Status.Phase = objects.PodRunning
	p.Status.PodIP = ip
	if ip != "" {
		p.Status.PodIPs = []objects.PodIP{{IP: ip}}
	}
	return p
}

func world() ([]*objects.Pod, []*objects.Namespace) {
	hostNet := pod("default", "hostnet", "192.168.0.10", map[string]string{"role": "client"})
	hostNet.Spec.HostNetwork = true
	done := pod("default", "done", finished.String(), map[string]string{"role": "client"})
	done.Status.Phase = objects.PodSucceeded
	pods := []*objects.Pod{
		pod("default", "web", web.String(), map[string]string{"app": "web"}, objects.ContainerPort{Name: "http", ContainerPort: 8080}),
		pod("default", "client", client.String(), map[string]string{"role": "client"}),
		pod("default", "other", other.String(), map[string]string{"role": "other"}),
		pod("prod", "client", pclient.String(), map[string]string{"role": "client"}),
		pod("prod", "db", db.String(), map[string]string{"app": "db"},
			objects.ContainerPort{Name: "sql", ContainerPort: 5432}, objects.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: objects.ProtocolUDP}),
		pod("dev", "tool", tool.String(), nil),
		pod("default", "pending", "", map[string]string{"app": "web"}),
		hostNet, done,
	}
	nss := []*objects.Namespace{
		{ObjectMeta: objects.ObjectMeta{Name: "default", Labels: map[string]string{"team": "a"}}},
		{ObjectMeta: objects.ObjectMeta{Name: "prod", Labels: map[string]string{"team": "b"}}},
		{ObjectMeta: objects.ObjectMeta{Name: "dev", Labels: map[string]string{"team": "a"}}},
	}
	return pods, nss
}

func policy(ns, name string, spec objects.NetworkPolicySpec) *objects.NetworkPolicy {
	p := &objects.NetworkPolicy{ObjectMeta: objects.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	p.Default()
	return p
}

func sel(kv ...string) *objects.LabelSelector {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &objects.LabelSelector{MatchLabels: m}
}

func tcp(port int32) objects.NetworkPolicyPort {
	p := objects.FromInt32(port)
	return objects.NetworkPolicyPort{Port: &p}
}

func named(name string) objects.NetworkPolicyPort {
	p := objects.FromString(name)
	return objects.NetworkPolicyPort{Port: &p}
}

type conn struct {
	src, dst netip.Addr
	proto    objects.Protocol
	port     uint16
	want     bool
}

func check(t *testing.T, policies []*objects.NetworkPolicy, conns []conn) {
	t.Helper()
	pods, nss := world()
	prog := Compute(pods, nss, policies)
	for _, c := range conns {
		proto := c.proto
		if proto == "" {
			proto = objects.ProtocolTCP
		}
		assert.Equal(t, c.want, prog.Allows(c.src, c.dst, proto, c.port), "%s -> %s %s/%d", c.src, c.dst, proto, c.port)
	}
}

func TestNoPolicyAllowsAll(t *testing.T) {
	check(t, nil, []conn{{client, web, "", 80, true}, {web, outside, "", 443, true}, {db, web, objects.ProtocolUDP, 53, true}})
}

func TestDefaultDenyIngress(t *testing.T) {
	deny := policy("default", "deny", objects.NetworkPolicySpec{}) // empty podSelector: every pod of default
	check(t, []*objects.NetworkPolicy{deny}, []conn{
		{client, web, "", 8080, false},
		{pclient, other, "", 8080, false},
		{outside, client, "", 22, false},
		// Pods of other namespaces are not isolated.
		{web, db, "", 5432, true},
		// Ingress isolation does not restrict what the pods send.
		{web, outside, "", 443, true},
	})
}

func TestDefaultDenyEgress(t *testing.T) {
	deny := policy("default", "deny", objects.NetworkPolicySpec{PolicyTypes: []objects.PolicyType{objects.PolicyTypeEgress}})
	check(t, []*objects.NetworkPolicy{deny}, []conn{
		{client, web, "", 8080, false},
		{client, db, "", 5432, false},
		{client, outside, "", 443, false},
		// Nothing isolates the pods of default for ingress.
		{db, client, "", 80, true},
	})
}

func TestAllowFromPodSelectorIsPolicyNamespace(t *testing.T) {
	deny := policy("default", "deny", objects.NetworkPolicySpec{})
	allow := policy("default", "allow-clients", objects.NetworkPolicySpec{
		PodSelector: *sel("app", "web"),
		Ingress:     []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{PodSelector: sel("role", "client")}}}},
	})
	check(t, []*objects.NetworkPolicy{deny, allow}, []conn{
		{client, web, "", 8080, true},
		{client, web, objects.ProtocolUDP, 53, true}, // no ports: every port and protocol
		{other, web, "", 8080, false},
		{pclient, web, "", 8080, false},  // role=client, but in prod
		{client, other, "", 8080, false}, // allow selects web only
		{finished, web, "", 8080, false}, // a terminated pod is no peer
	})
}

func TestUnionOfPolicies(t *testing.T) {
	a := policy("default", "a", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{PodSelector: sel("role", "client")}}}}})
	b := policy("default", "b", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{PodSelector: sel("role", "other")}}}}})
	check(t, []*objects.NetworkPolicy{a, b}, []conn{
		{client, web, "", 80, true},
		{other, web, "", 80, true},
		{tool, web, "", 80, false},
	})
}

func TestNamespaceSelectors(t *testing.T) {
	all := policy("default", "all-ns", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{NamespaceSelector: &objects.LabelSelector{}}}}}})
	check(t, []*objects.NetworkPolicy{all}, []conn{
		{db, web, "", 80, true}, {tool, web, "", 80, true}, {client, web, "", 80, true},
		{outside, web, "", 80, false}, // {} selects namespaces, not addresses off the cluster
	})
	teamA := policy("default", "team-a", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{NamespaceSelector: sel("team", "a")}}}}})
	check(t, []*objects.NetworkPolicy{teamA}, []conn{
		{tool, web, "", 80, true}, {client, web, "", 80, true}, {db, web, "", 80, false}, {pclient, web, "", 80, false},
	})
	byName := policy("default", "prod", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{NamespaceSelector: sel(objects.LabelMetadataName, "prod")}}}}})
	check(t, []*objects.NetworkPolicy{byName}, []conn{{db, web, "", 80, true}, {tool, web, "", 80, false}})
	// Both selectors in one peer: pods matching in namespaces matching.
	both := policy("default", "both", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{
			{NamespaceSelector: sel("team", "b"), PodSelector: sel("role", "client")}}}}})
	check(t, []*objects.NetworkPolicy{both}, []conn{
		{pclient, web, "", 80, true}, {db, web, "", 80, false}, {client, web, "", 80, false},
	})
	// The same selectors as two peers: either.
	either := policy("default", "either", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{
			{NamespaceSelector: sel("team", "b")}, {PodSelector: sel("role", "client")}}}}})
	check(t, []*objects.NetworkPolicy{either}, []conn{
		{pclient, web, "", 80, true}, {db, web, "", 80, true}, {client, web, "", 80, true}, {other, web, "", 80, false},
	})
}

func TestIPBlockExcept(t *testing.T) {
	p := policy("default", "block", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{
			{IPBlock: &objects.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.0.1.0/24", "10.0.0.3/32"}}}}}}})
	check(t, []*objects.NetworkPolicy{p}, []conn{
		{client, web, "", 80, true},
		{other, web, "", 80, false},   // excepted /32
		{pclient, web, "", 80, false}, // excepted /24
		{tool, web, "", 80, true},
		{outside, web, "", 80, false},
	})
	egress := policy("default", "egress-world", objects.NetworkPolicySpec{PodSelector: *sel("role", "client"),
		PolicyTypes: []objects.PolicyType{objects.PolicyTypeEgress},
		Egress: []objects.NetworkPolicyEgressRule{{To: []objects.NetworkPolicyPeer{
			{IPBlock: &objects.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}}}}}})
	check(t, []*objects.NetworkPolicy{egress}, []conn{
		{client, outside, "", 443, true}, {client, web, "", 80, false}, {client, netip.MustParseAddr("255.255.255.254"), "", 80, true},
	})
}

func TestPorts(t *testing.T) {
	udp := objects.ProtocolUDP
	rng := tcp(8000)
	rng.EndPort = ptr[int32](8100)
	anyUDP := objects.NetworkPolicyPort{Protocol: &udp}
	p := policy("default", "ports", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{Ports: []objects.NetworkPolicyPort{tcp(80), rng, anyUDP}}}})
	check(t, []*objects.NetworkPolicy{p}, []conn{
		{client, web, "", 80, true},
		{client, web, "", 81, false},
		{client, web, "", 8000, true}, {client, web, "", 8100, true}, {client, web, "", 8101, false}, {client, web, "", 7999, false},
		{client, web, objects.ProtocolUDP, 80, true}, {client, web, objects.ProtocolUDP, 9999, true},
		{client, web, objects.ProtocolSCTP, 80, false},
		{outside, web, "", 80, true}, // no from: every source
	})
}

func TestNamedPortsIngressResolveOnDestination(t *testing.T) {
	p := policy("default", "named", objects.NetworkPolicySpec{PodSelector: objects.LabelSelector{},
		Ingress: []objects.NetworkPolicyIngressRule{{Ports: []objects.NetworkPolicyPort{named("http")}}}})
	check(t, []*objects.NetworkPolicy{p}, []conn{
		{client, web, "", 8080, true}, // web names 8080 http
		{client, web, "", 80, false},
		{web, client, "", 8080, false}, // client has no port named http
		{client, web, objects.ProtocolUDP, 8080, false},
	})
}

func TestNamedPortsEgressResolveOnPeers(t *testing.T) {
	udp := objects.ProtocolUDP
	dns := named("dns")
	dns.Protocol = &udp
	p := policy("default", "egress-named", objects.NetworkPolicySpec{PodSelector: *sel("role", "client"),
		PolicyTypes: []objects.PolicyType{objects.PolicyTypeEgress},
		Egress: []objects.NetworkPolicyEgressRule{
			{To: []objects.NetworkPolicyPeer{{NamespaceSelector: sel("team", "b")}}, Ports: []objects.NetworkPolicyPort{named("sql")}},
			{Ports: []objects.NetworkPolicyPort{dns}}, // to anyone: resolved on every pod
		}})
	check(t, []*objects.NetworkPolicy{p}, []conn{
		{client, db, "", 5432, true},
		{client, db, "", 80, false},
		{client, db, objects.ProtocolUDP, 53, true},
		{client, web, objects.ProtocolUDP, 53, false}, // web names no dns port
		{client, web, "", 8080, false},
		{other, web, "", 8080, true}, // other is not selected
	})
}

func TestIngressAndEgressBothApply(t *testing.T) {
	// client may send to web only; web may receive from other only.
	eg := policy("default", "client-out", objects.NetworkPolicySpec{PodSelector: *sel("role", "client"),
		Egress: []objects.NetworkPolicyEgressRule{{To: []objects.NetworkPolicyPeer{{PodSelector: sel("app", "web")}}}}})
	eg.Spec.PolicyTypes = []objects.PolicyType{objects.PolicyTypeEgress}
	in := policy("default", "web-in", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{PodSelector: sel("role", "other")}}}}})
	check(t, []*objects.NetworkPolicy{eg, in}, []conn{
		{client, web, "", 80, false}, // egress allows, ingress does not
		{other, web, "", 80, true},
		{client, other, "", 80, false}, // ingress of other is open, egress of client is not
	})
}

func TestEmptyRuleListDeniesAndEmptyRuleAllows(t *testing.T) {
	allowAll := policy("default", "allow-all", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{}}})
	check(t, []*objects.NetworkPolicy{allowAll}, []conn{{outside, web, "", 1, true}, {client, web, objects.ProtocolUDP, 9, true}})
	// A peer selector that matches no pod allows nothing.
	none := policy("default", "none", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
		Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{{PodSelector: sel("role", "nobody")}}}}})
	check(t, []*objects.NetworkPolicy{none}, []conn{{client, web, "", 80, false}})
}

func TestSelectedPods(t *testing.T) {
	pods, nss := world()
	deny := policy("default", "deny", objects.NetworkPolicySpec{})
	prog := Compute(pods, nss, []*objects.NetworkPolicy{deny})
	require.Len(t, prog.Policies, 1)
	// Not the pending pod, the host-network pod or the terminated one.
	assert.Equal(t, []netip.Addr{web, client, other}, prog.Policies[0].Ingress.Selected)
	assert.Nil(t, prog.Policies[0].Egress)
}

func TestMergeRanges(t *testing.T) {
	r := func(a, b string) Range { return Range{netip.MustParseAddr(a), netip.MustParseAddr(b)} }
	assert.Equal(t, []Range{r("10.0.0.0", "10.0.0.5"), r("10.0.0.7", "10.0.0.7")},
		mergeRanges([]Range{r("10.0.0.7", "10.0.0.7"), r("10.0.0.3", "10.0.0.5"), r("10.0.0.0", "10.0.0.2"), r("10.0.0.1", "10.0.0.4")}))
	assert.Equal(t, []Range{r("0.0.0.0", "255.255.255.255")}, mergeRanges([]Range{r("0.0.0.0", "255.255.255.255"), r("1.2.3.4", "1.2.3.4")}))
	assert.Equal(t, []Range{r("10.0.0.0", "10.0.0.255"), r("10.0.2.0", "10.255.255.255")},
		blockRanges(&objects.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.0.1.0/24"}}))
}

func ptr[T any](v T) *T { return &v }
