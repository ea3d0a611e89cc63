package proxy

import (
	"maps"
	"slices"
)

// Topology is what a service port's endpoint hints (trafficDistribution)
// make of the endpoints a client pod's connections go to, worked out as
// kube-proxy's CategorizeEndpoints does for the node it runs on, here for
// every node a client pod may be on:
//
//   - when every endpoint has a node hint and some are hinted for the
//     client's node, those (PreferSameNode);
//   - else, when every endpoint has a zone hint and some are hinted for
//     the zone of the client's node, those (PreferSameZone, PreferClose);
//   - else every endpoint.
//
// Connections from the host, which is every node at once, go to every
// endpoint. internalTrafficPolicy Local takes precedence for the cluster
// IP; NodePort, load balancer and external IP connections from pods follow
// the hints whatever the externalTrafficPolicy, as kube-proxy's cluster
// endpoints do.
type Topology struct {
	// ByNode lists, when every endpoint has a node hint, the endpoints
	// hinted for each node that has some; nil otherwise.
	ByNode map[string][]Endpoint
	// ByZone lists, when every endpoint has a zone hint, the endpoints
	// hinted for each zone that has some; nil otherwise.
	ByZone map[string][]Endpoint
}

// TopologyOf returns the Topology of eps, a service port's ready
// endpoints.
func TopologyOf(eps []Endpoint) Topology {
	if len(eps) == 0 {
		return Topology{}
	}
	allNodes, allZones := true, true
	for _, ep := range eps {
		allNodes = allNodes && len(ep.ForNodes) > 0
		allZones = allZones && len(ep.ForZones) > 0
	}
	group := func(names func(Endpoint) []string) map[string][]Endpoint {
		m := map[string][]Endpoint{}
		for _, ep := range eps {
			for _, n := range names(ep) {
				if !slices.ContainsFunc(m[n], func(e Endpoint) bool { return e.Addr == ep.Addr }) {
					m[n] = append(m[n], ep)
				}
			}
		}
		return m
	}
	var t Topology
	if allNodes {
		t.ByNode = group(func(ep Endpoint) []string { return ep.ForNodes })
	}
	if allZones {
		t.ByZone = group(func(ep Endpoint) []string { return ep.ForZones })
	}
	return t
}

// Empty reports whether the hints leave every client pod every endpoint.
func (t Topology) Empty() bool { return len(t.ByNode) == 0 && len(t.ByZone) == 0 }

// For returns the endpoints for a client pod on node, whose zone is zone
// ("" when it has none), and true; or false when the hints leave it every
// endpoint. The slice is t's own.
func (t Topology) For(node, zone string) ([]Endpoint, bool) {
	if eps, ok := t.ByNode[node]; ok {
		return eps, true
	}
	if zone == "" {
		return nil, false
	}
	eps, ok := t.ByZone[zone]
	return eps, ok
}

// Nodes returns the nodes with endpoints hinted for them, sorted.
func (t Topology) Nodes() []string { return slices.Sorted(maps.Keys(t.ByNode)) }

// Zones returns the zones with endpoints hinted for them, sorted.
func (t Topology) Zones() []string { return slices.Sorted(maps.Keys(t.ByZone)) }
