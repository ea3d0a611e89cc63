package proxy_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/proxytest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

// cluster runs the endpoints controller and a proxier with dp over a fresh
// store, and three "pods" that are loopback servers 127.0.0.2-4.
type cluster struct {
	*nettest.Env
	backends []proxytest.Backend
}

func newCluster(t *testing.T, dp proxy.DataPlane, opts ...proxy.Option) *cluster {
	return newClusterOn(t, dp, [3]string{"n1", "n1", "n1"}, opts...)
}

// newClusterOn is newCluster with the pods on nodes.
func newClusterOn(t *testing.T, dp proxy.DataPlane, nodes [3]string, opts ...proxy.Option) *cluster {
	e := nettest.New(t)
	m, err := reconcile.NewManager(e.Store)
	require.NoError(t, err)
	require.NoError(t, m.Add(network.EndpointsController(m)))
	nettest.RunBackground(t, m.Run)
	p, err := proxy.New(e.Store, dp, opts...)
	require.NoError(t, err)
	nettest.RunBackground(t, p.Run)
	c := &cluster{Env: e}
	for i := range 3 {
		b := proxytest.StartBackend(t, objects.ProtocolTCP, fmt.Sprintf("127.0.0.%d", 2+i), fmt.Sprintf("web-%d", i))
		c.backends = append(c.backends, b)
		// Each pod serves "http" on its own port: the named targetPort is
		// resolved per pod.
		pod := nettest.Pod(b.Name, map[string]string{"app": "web"}, fmt.Sprintf("http:%d", b.Addr.Port()))
		pod.Spec.NodeName = nodes[i]
		e.Create(pod)
		e.SetPodStatus("default", b.Name, b.Addr.Addr().String(), true)
	}
	return c
}

func (c *cluster) service(typ objects.ServiceType, port int32) *objects.Service {
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Type: typ, Selector: map[string]string{"app": "web"},
		Ports: []objects.ServicePort{{Name: "http", Port: port, TargetPort: objects.FromString("http")}}}}
	c.Create(s)
	return s
}

func spread(t *testing.T, to netip.AddrPort, n int) map[string]int {
	seen := map[string]int{}
	for i := range n {
		name, err := proxytest.Ask(objects.ProtocolTCP, to, netip.AddrFrom4([4]byte{127, 0, 3, byte(1 + i)}))
		if err != nil {
			name = ""
		}
		seen[name]++
	}
	return seen
}

func waitServed(t *testing.T, to netip.AddrPort, want ...string) {
	t.Helper()
	nettest.Poll(t, fmt.Sprintf("%s served by %v", to, want), func() error {
		seen := spread(t, to, 10*len(want))
		for _, w := range want {
			if seen[w] == 0 {
				return fmt.Errorf("answers: %v", seen)
			}
		}
		if len(seen) != len(want) {
			return fmt.Errorf("answers: %v", seen)
		}
		return nil
	})
}

func TestProxierClusterIPAndReadiness(t *testing.T) {
	dp, err := proxy.NewUserspace()
	require.NoError(t, err)
	c := newCluster(t, dp)
	s := c.service(objects.ServiceTypeClusterIP, 8080)
	to := netip.AddrPortFrom(netip.MustParseAddr(s.Spec.ClusterIP), 8080)
	waitServed(t, to, "web-0", "web-1", "web-2")

	// A pod that stops being ready gets no new connection within a second.
	start := time.Now()
	c.SetPodStatus("default", "web-1", "127.0.0.3", false)
	waitServed(t, to, "web-0", "web-2")
	took := time.Since(start)
	t.Logf("readiness loss took effect after %v", took)
	assert.Less(t, took, time.Second)
	c.SetPodStatus("default", "web-1", "127.0.0.3", true)
	waitServed(t, to, "web-0", "web-1", "web-2")
}

func TestProxierNodePortAndLoadBalancer(t *testing.T) {
	dp, err := proxy.NewUserspace(proxy.WithNodePortAddresses(netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, err)
	c := newCluster(t, dp, proxy.WithLoadBalancerAddress("127.0.0.1"))
	port := int32(nettest.FreePort(t))
	s := c.service(objects.ServiceTypeLoadBalancer, port)
	require.NotZero(t, s.Spec.Ports[0].NodePort)

	waitServed(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(s.Spec.Ports[0].NodePort)), "web-0", "web-1", "web-2")
	waitServed(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), "web-0", "web-1", "web-2")
	c.WaitStore("the load balancer status", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get("Service", s.Key())
		if err != nil {
			return false, err.Error()
		}
		in := o.(*objects.Service).Status.LoadBalancer.Ingress
		return len(in) == 1 && in[0].IP == "127.0.0.1" && len(in[0].Ports) == 1 && in[0].Ports[0].Port == port, fmt.Sprint(in)
	})

	// Back to ClusterIP: the status is cleared and the host listener goes.
	nettest.Update(c.Env, s.Key(), func(s *objects.Service) {
		s.Spec.Type = objects.ServiceTypeClusterIP
		s.Spec.Ports[0].NodePort = 0
		s.Spec.ExternalTrafficPolicy = ""
	})
	c.WaitStore("the load balancer status to be cleared", func(tx store.ReadTx) (bool, string) {
		o, _ := tx.Get("Service", s.Key())
		in := o.(*objects.Service).Status.LoadBalancer.Ingress
		return len(in) == 0, fmt.Sprint(in)
	})
	nettest.Poll(t, "the load balancer listener to close", func() error {
		if name, err := proxytest.Ask(objects.ProtocolTCP, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), netip.Addr{}); err == nil {
			return fmt.Errorf("still answered by %s", name)
		}
		return nil
	})
}

// A LoadBalancer Service with a loadBalancerClass is another
// implementation's: the proxy serves its node port and cluster IP but
// not the load balancer address, and leaves its status alone. Source
// ranges restrict the address of one without a class.
func TestProxierLoadBalancerClassAndSourceRanges(t *testing.T) {
	lbAddr := netip.MustParseAddr("127.0.0.1")
	dp, err := proxy.NewUserspace(proxy.WithNodePortAddresses(lbAddr))
	require.NoError(t, err)
	c := newCluster(t, dp, proxy.WithLoadBalancerAddress(lbAddr.String()))
	port := int32(nettest.FreePort(t))
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Type: objects.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
		LoadBalancerClass: new("example.com/external"),
		Ports:             []objects.ServicePort{{Name: "http", Port: port, TargetPort: objects.FromString("http")}}}}
	c.Create(s)
	waitServed(t, netip.AddrPortFrom(lbAddr, uint16(s.Spec.Ports[0].NodePort)), "web-0", "web-1", "web-2")
	if name, err := proxytest.Ask(objects.ProtocolTCP, netip.AddrPortFrom(lbAddr, uint16(port)), netip.Addr{}); err == nil {
		t.Fatalf("the load balancer address of another class's Service was answered by %s", name)
	}
	// Its own implementation sets the status, which stays.
	require.NoError(t, c.Store.Update(t.Context(), func(tx store.Tx) error {
		o, err := tx.Get("Service", s.Key())
		if err != nil {
			return err
		}
		o.(*objects.Service).Status.LoadBalancer.Ingress = []objects.LoadBalancerIngress{{IP: "192.0.2.10"}}
		return tx.UpdateStatus(o)
	}))

	// One without a class, open to 127.0.3.0/27 only.
	port2 := int32(nettest.FreePort(t))
	s2 := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web2"}, Spec: objects.ServiceSpec{
		Type: objects.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
		LoadBalancerSourceRanges: []string{"127.0.3.0/27"},
		Ports:                    []objects.ServicePort{{Name: "http", Port: port2, TargetPort: objects.FromString("http")}}}}
	c.Create(s2)
	to := netip.AddrPortFrom(lbAddr, uint16(port2))
	waitServed(t, to, "web-0", "web-1", "web-2") // spread asks from 127.0.3.1 on
	if name, err := proxytest.Ask(objects.ProtocolTCP, to, netip.MustParseAddr("127.0.4.1")); err == nil {
		t.Fatalf("a client outside the source ranges was answered by %s", name)
	}
	c.WaitStore("the load balancer status of the Service without a class", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get("Service", s2.Key())
		if err != nil {
			return false, err.Error()
		}
		in := o.(*objects.Service).Status.LoadBalancer.Ingress
		return len(in) == 1 && in[0].IP == "127.0.0.1", fmt.Sprint(in)
	})
	require.NoError(t, c.Store.View(t.Context(), func(tx store.ReadTx) error {
		o, err := tx.Get("Service", s.Key())
		require.NoError(t, err)
		assert.Equal(t, []objects.LoadBalancerIngress{{IP: "192.0.2.10"}}, o.(*objects.Service).Status.LoadBalancer.Ingress,
			"another class's status is left as its implementation wrote it")
		return nil
	}))
}

// The userspace data plane does not make a Service's external IP a local
// address, which would take every port of it from the machine that has it.
func TestProxierUserspaceLeavesExternalIPsAlone(t *testing.T) {
	dp, err := proxy.NewUserspace(proxy.WithDummyInterface(fmt.Sprintf("pke%d", os.Getpid()%100000)))
	require.NoError(t, err)
	c := newCluster(t, dp)
	ext := netip.MustParseAddr("198.18.77.10") // RFC 2544 benchmarking range
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"}, ExternalIPs: []string{ext.String()},
		Ports: []objects.ServicePort{{Name: "http", Port: 8080, TargetPort: objects.FromString("http")}}}}
	c.Create(s)
	waitServed(t, netip.AddrPortFrom(netip.MustParseAddr(s.Spec.ClusterIP), 8080), "web-0", "web-1", "web-2")
	assert.False(t, hasAddr(t, ext), "the external IP %s was made a local address", ext)
}

func TestServicePorts(t *testing.T) {
	tmo := int32(60)
	n1 := "n1"
	pods := proxy.NewPodNodes(map[netip.Addr]string{netip.MustParseAddr("10.1.0.9"): "n1"})
	svcs := []*objects.Service{
		{ObjectMeta: objects.ObjectMeta{Namespace: "ns", Name: "a"}, Spec: objects.ServiceSpec{
			Type: objects.ServiceTypeLoadBalancer, ClusterIP: "10.0.0.1", ClusterIPs: []string{"10.0.0.1"}, ExternalIPs: []string{"192.0.2.9"},
			SessionAffinity:       objects.ServiceAffinityClientIP,
			SessionAffinityConfig: &objects.SessionAffinityConfig{ClientIP: &objects.ClientIPConfig{TimeoutSeconds: &tmo}},
			Ports: []objects.ServicePort{{Name: "http", Port: 80, NodePort: 30080, Protocol: objects.ProtocolTCP},
				{Name: "dns", Port: 53, NodePort: 30053, Protocol: objects.ProtocolUDP}}}},
		{ObjectMeta: objects.ObjectMeta{Namespace: "ns", Name: "headless"}, Spec: objects.ServiceSpec{ClusterIP: "None"}},
		{ObjectMeta: objects.ObjectMeta{Namespace: "ns", Name: "ext"}, Spec: objects.ServiceSpec{Type: objects.ServiceTypeExternalName, ExternalName: "x.y"}},
	}
	ep := &objects.Endpoints{Subsets: []objects.EndpointSubset{
		{Addresses: []objects.EndpointAddress{{IP: "10.1.0.1", NodeName: &n1}, {IP: "10.1.0.2"}}, NotReadyAddresses: []objects.EndpointAddress{{IP: "10.1.0.3"}},
			Ports: []objects.EndpointPort{{Name: "http", Port: 8080, Protocol: objects.ProtocolTCP}, {Name: "dns", Port: 5353, Protocol: objects.ProtocolUDP}}},
	}}
	got := proxy.ServicePorts(svcs, func(k objects.Key) *objects.Endpoints {
		if k.Name == "a" {
			return ep
		}
		return nil
	}, netip.MustParseAddr("192.0.2.1"), pods, nil)
	ips, ext := []netip.Addr{netip.MustParseAddr("10.0.0.1")}, []netip.Addr{netip.MustParseAddr("192.0.2.9")}
	assert.Equal(t, []proxy.ServicePort{
		{ID: "ns/a:http", Protocol: objects.ProtocolTCP, ClusterIPs: ips, ExternalIPs: ext, Port: 80, NodePort: 30080,
			LoadBalancer: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:80")}, Affinity: time.Minute,
			Endpoints: []proxy.Endpoint{{Addr: netip.MustParseAddrPort("10.1.0.1:8080"), Node: "n1"}, {Addr: netip.MustParseAddrPort("10.1.0.2:8080")}}},
		{ID: "ns/a:dns", Protocol: objects.ProtocolUDP, ClusterIPs: ips, ExternalIPs: ext, Port: 53, NodePort: 30053,
			LoadBalancer: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}, Affinity: time.Minute,
			Endpoints: []proxy.Endpoint{{Addr: netip.MustParseAddrPort("10.1.0.1:5353"), Node: "n1"}, {Addr: netip.MustParseAddrPort("10.1.0.2:5353")}}},
	}, got)

	// Local policies carry the pods' nodes; Cluster ones do not.
	local := objects.ServiceInternalTrafficPolicyLocal
	svcs[0].Spec.InternalTrafficPolicy = &local
	got = proxy.ServicePorts(svcs[:1], func(objects.Key) *objects.Endpoints { return ep }, netip.Addr{}, pods, nil)
	require.Len(t, got, 2)
	assert.True(t, got[0].InternalLocal)
	assert.False(t, got[0].ExternalLocal)
	assert.Same(t, pods, got[0].Pods)
	svcs[0].Spec.InternalTrafficPolicy = nil
	svcs[0].Spec.ExternalTrafficPolicy = objects.ServiceExternalTrafficPolicyLocal
	got = proxy.ServicePorts(svcs[:1], func(objects.Key) *objects.Endpoints { return ep }, netip.Addr{}, pods, nil)
	assert.True(t, got[0].ExternalLocal)
	assert.False(t, got[0].InternalLocal)
	assert.Same(t, pods, got[0].Pods)
	svcs[0].Spec.ExternalTrafficPolicy = objects.ServiceExternalTrafficPolicyCluster
	got = proxy.ServicePorts(svcs[:1], func(objects.Key) *objects.Endpoints { return ep }, netip.Addr{}, pods, nil)
	assert.Nil(t, got[0].Pods)

	// The endpoints of a Service with trafficDistribution carry their
	// hints, and its ports the pods; other Services' hints are not read.
	hints := func(k objects.Key) map[netip.Addr]*objects.EndpointHints {
		return map[netip.Addr]*objects.EndpointHints{netip.MustParseAddr("10.1.0.1"): {
			ForZones: []objects.ForZone{{Name: "a"}}, ForNodes: []objects.ForNode{{Name: "n1"}}}}
	}
	got = proxy.ServicePorts(svcs[:1], func(objects.Key) *objects.Endpoints { return ep }, netip.Addr{}, pods, hints)
	assert.Nil(t, got[0].Pods)
	assert.Nil(t, got[0].Endpoints[0].ForZones)
	td := objects.ServiceTrafficDistributionPreferSameNode
	svcs[0].Spec.TrafficDistribution = &td
	got = proxy.ServicePorts(svcs[:1], func(objects.Key) *objects.Endpoints { return ep }, netip.Addr{}, pods, hints)
	assert.Equal(t, []proxy.Endpoint{
		{Addr: netip.MustParseAddrPort("10.1.0.1:8080"), Node: "n1", ForZones: []string{"a"}, ForNodes: []string{"n1"}},
		{Addr: netip.MustParseAddrPort("10.1.0.2:8080")}}, got[0].Endpoints)
	assert.Same(t, pods, got[0].Pods)
}
