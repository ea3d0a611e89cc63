package proxy_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
)

// The proxier follows the hints the endpoint slice controller writes for
// a Service's trafficDistribution, placing client pods by their node and
// the node's zone, and follows changes of the field and of zones.
func TestProxierTrafficDistribution(t *testing.T) {
	dp, err := proxy.NewUserspace()
	require.NoError(t, err)
	c := newClusterOn(t, dp, [3]string{"n1", "n2", "n3"})
	m, err := reconcile.NewManager(c.Store)
	require.NoError(t, err)
	require.NoError(t, m.Add(network.EndpointSliceController(m)))
	nettest.RunBackground(t, m.Run)
	zone := func(name, z string) *objects.Node {
		return &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{objects.LabelZone: z}}}
	}
	c.Create(zone("n1", "a"), zone("n2", "b"), zone("n3", "b"), zone("n4", "c"), zone("n5", "b"))
	podOn(c.Env, "client-1", "n1", "127.0.5.1", nil)
	podOn(c.Env, "client-3", "n3", "127.0.5.3", nil)
	podOn(c.Env, "client-4", "n4", "127.0.5.4", nil)
	podOn(c.Env, "client-5", "n5", "127.0.5.5", nil)
	td := objects.ServiceTrafficDistributionPreferSameZone
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"}, TrafficDistribution: &td,
		Ports: []objects.ServicePort{{Name: "http", Port: 8080, TargetPort: objects.FromString("http")}}}}
	c.Create(s)
	to := netip.AddrPortFrom(netip.MustParseAddr(s.Spec.ClusterIP), 8080)
	askedFrom(t, to, "127.0.5.1", "web-0")
	askedFrom(t, to, "127.0.5.3", "web-1", "web-2")
	askedFrom(t, to, "127.0.5.4", "web-0", "web-1", "web-2")  // zone c has no endpoint
	askedFrom(t, to, "127.0.5.50", "web-0", "web-1", "web-2") // the host

	sameNode := objects.ServiceTrafficDistributionPreferSameNode
	nettest.Update(c.Env, s.Key(), func(s *objects.Service) { s.Spec.TrafficDistribution = &sameNode })
	askedFrom(t, to, "127.0.5.3", "web-2")
	askedFrom(t, to, "127.0.5.5", "web-1", "web-2") // n5 has none: its zone's
	askedFrom(t, to, "127.0.5.1", "web-0")

	// n1 joins zone b: with PreferSameZone, zone b has every endpoint.
	nettest.Update(c.Env, s.Key(), func(s *objects.Service) { s.Spec.TrafficDistribution = &td })
	askedFrom(t, to, "127.0.5.3", "web-1", "web-2")
	nettest.Update(c.Env, objects.Key{Name: "n1"}, func(n *objects.Node) { n.Labels[objects.LabelZone] = "b" })
	askedFrom(t, to, "127.0.5.3", "web-0", "web-1", "web-2")
	// n2 moves to zone a, with its endpoint; then n4 joins it.
	nettest.Update(c.Env, objects.Key{Name: "n2"}, func(n *objects.Node) { n.Labels[objects.LabelZone] = "a" })
	askedFrom(t, to, "127.0.5.3", "web-0", "web-2")
	nettest.Update(c.Env, objects.Key{Name: "n4"}, func(n *objects.Node) { n.Labels[objects.LabelZone] = "a" })
	askedFrom(t, to, "127.0.5.4", "web-1")

	// Without the field, every pod reaches every endpoint.
	nettest.Update(c.Env, s.Key(), func(s *objects.Service) { s.Spec.TrafficDistribution = nil })
	askedFrom(t, to, "127.0.5.4", "web-0", "web-1", "web-2")
	askedFrom(t, to, "127.0.5.3", "web-0", "web-1", "web-2")
}
