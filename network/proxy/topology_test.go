package proxy_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/podkit/podkit/network/proxy"
)

// The cases of kube-proxy's topologyModeFromHints and availableForTopology,
// for one client node each.
func TestTopologyFor(t *testing.T) {
	ep := func(port uint16, zones, nodes []string) proxy.Endpoint {
		return proxy.Endpoint{Addr: netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), port), ForZones: zones, ForNodes: nodes}
	}
	z := func(v ...string) []string { return v }
	cases := []struct {
		name       string
		eps        []proxy.Endpoint
		node, zone string
		want       []uint16 // nil: every endpoint
	}{
		{"no hints", []proxy.Endpoint{ep(1, nil, nil), ep(2, nil, nil)}, "n1", "a", nil},
		{"zone hints for the zone", []proxy.Endpoint{ep(1, z("a"), nil), ep(2, z("b"), nil), ep(3, z("a"), nil)}, "n1", "a", []uint16{1, 3}},
		{"zone hints, none for the zone", []proxy.Endpoint{ep(1, z("a"), nil), ep(2, z("b"), nil)}, "n1", "c", nil},
		{"zone hints, the node has no zone", []proxy.Endpoint{ep(1, z("a"), nil), ep(2, z("b"), nil)}, "n1", "", nil},
		{"an endpoint without a zone hint", []proxy.Endpoint{ep(1, z("a"), nil), ep(2, nil, nil)}, "n1", "a", nil},
		{"an endpoint for two zones", []proxy.Endpoint{ep(1, z("a", "b"), nil), ep(2, z("b"), nil)}, "n1", "a", []uint16{1}},
		{"node hints for the node", []proxy.Endpoint{ep(1, z("a"), z("n1")), ep(2, z("a"), z("n2"))}, "n1", "a", []uint16{1}},
		{"node hints, none for the node: its zone's", []proxy.Endpoint{ep(1, z("a"), z("n1")), ep(2, z("a"), z("n2")), ep(3, z("b"), z("n3"))},
			"n4", "a", []uint16{1, 2}},
		{"node hints, none for the node or its zone", []proxy.Endpoint{ep(1, z("a"), z("n1")), ep(2, z("b"), z("n2"))}, "n4", "c", nil},
		{"an endpoint without a node hint: zones", []proxy.Endpoint{ep(1, z("a"), z("n1")), ep(2, z("a"), nil), ep(3, z("b"), z("n3"))},
			"n1", "a", []uint16{1, 2}},
		{"node hints without zone hints", []proxy.Endpoint{ep(1, nil, z("n1")), ep(2, nil, z("n2"))}, "n2", "", []uint16{2}},
		{"no endpoints", nil, "n1", "a", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topo := proxy.TopologyOf(tc.eps)
			got, ok := topo.For(tc.node, tc.zone)
			if tc.want == nil {
				assert.False(t, ok, "hints narrowed the endpoints to %v", got)
				return
			}
			var ports []uint16
			for _, e := range got {
				ports = append(ports, e.Addr.Port())
			}
			slices.Sort(ports)
			assert.Equal(t, tc.want, ports)
			assert.False(t, topo.Empty())
		})
	}
}
