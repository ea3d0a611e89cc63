package network_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// describeHints renders the hints of slices' endpoints, sorted:
// "ip:zones/nodes", "ip:-" for none.
func describeHints(ss []*objects.EndpointSlice) string {
	var out []string
	for _, s := range ss {
		for _, ep := range s.Endpoints {
			h := "-"
			if ep.Hints != nil {
				var zones, nodes []string
				for _, z := range ep.Hints.ForZones {
					zones = append(zones, z.Name)
				}
				for _, n := range ep.Hints.ForNodes {
					nodes = append(nodes, n.Name)
				}
				h = strings.Join(zones, ",") + "/" + strings.Join(nodes, ",")
			}
			out = append(out, ep.Addresses[0]+":"+h)
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func waitHints(e *nettest.Env, name, want string) {
	e.T.Helper()
	e.WaitStore(fmt.Sprintf("the hints of %s to be %s", name, want), func(tx store.ReadTx) (bool, string) {
		d := describeHints(serviceSlices(tx, name))
		return d == want, d
	})
}

func zoneNode(name, zone string) *objects.Node {
	n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}}
	if zone != "" {
		n.Labels = map[string]string{objects.LabelZone: zone}
	}
	return n
}

// The slices of a Service with trafficDistribution carry the hints
// Kubernetes' controller writes: ready endpoints are hinted for their zone
// (and node, with PreferSameNode); hints follow a node's zone label and go
// with the field.
func TestEndpointSliceTrafficDistributionHints(t *testing.T) {
	e := nettest.New(t)
	runSlices(t, e)
	e.Create(zoneNode("n1", "a"), zoneNode("n2", "b"), zoneNode("n3", ""))
	web := map[string]string{"app": "web"}
	var pods []objects.Object
	for i, node := range []string{"n1", "n2", "n3", "n1"} {
		p := nettest.Pod(fmt.Sprintf("p%d", i), web, "http:8080")
		p.Spec.NodeName = node
		pods = append(pods, p)
	}
	e.Create(append(pods, webService())...)
	for i := range 4 {
		e.SetPodStatus("default", fmt.Sprintf("p%d", i), fmt.Sprintf("10.1.0.%d", i), i != 3)
	}
	// Without the field: no hints, though endpoints know their zone.
	waitSlices(e, "web", "IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.0(RS) 10.1.0.1(RS) 10.1.0.2(RS) 10.1.0.3(-)")
	waitHints(e, "web", "10.1.0.0:- 10.1.0.1:- 10.1.0.2:- 10.1.0.3:-")

	key := objects.Key{Namespace: "default", Name: "web"}
	for _, td := range []string{objects.ServiceTrafficDistributionPreferSameZone, objects.ServiceTrafficDistributionPreferClose} {
		nettest.Update(e, key, func(s *objects.Service) { s.Spec.TrafficDistribution = &td })
		// n3 has no zone: its endpoint has no hint; p3 is not ready.
		waitHints(e, "web", "10.1.0.0:a/ 10.1.0.1:b/ 10.1.0.2:- 10.1.0.3:-")
	}

	sameNode := objects.ServiceTrafficDistributionPreferSameNode
	nettest.Update(e, key, func(s *objects.Service) { s.Spec.TrafficDistribution = &sameNode })
	waitHints(e, "web", "10.1.0.0:a/n1 10.1.0.1:b/n2 10.1.0.2:/n3 10.1.0.3:-")

	// A node's zone label changes: its endpoints follow.
	nettest.Update(e, objects.Key{Name: "n2"}, func(n *objects.Node) { n.Labels[objects.LabelZone] = "c" })
	waitHints(e, "web", "10.1.0.0:a/n1 10.1.0.1:c/n2 10.1.0.2:/n3 10.1.0.3:-")
	nettest.Update(e, objects.Key{Name: "n3"}, func(n *objects.Node) { n.Labels = map[string]string{objects.LabelZone: "a"} })
	waitHints(e, "web", "10.1.0.0:a/n1 10.1.0.1:c/n2 10.1.0.2:a/n3 10.1.0.3:-")
	e.WaitStore("the zone of p2's endpoint", func(tx store.ReadTx) (bool, string) {
		for _, s := range serviceSlices(tx, "web") {
			for _, ep := range s.Endpoints {
				if ep.Addresses[0] == "10.1.0.2" {
					return ep.Zone != nil && *ep.Zone == "a", fmt.Sprint(ep.Zone)
				}
			}
		}
		return false, "no endpoint"
	})

	// A pod that becomes ready is hinted; the field removed, hints go.
	e.SetPodStatus("default", "p3", "10.1.0.3", true)
	waitHints(e, "web", "10.1.0.0:a/n1 10.1.0.1:c/n2 10.1.0.2:a/n3 10.1.0.3:a/n1")
	nettest.Update(e, key, func(s *objects.Service) { s.Spec.TrafficDistribution = nil })
	waitHints(e, "web", "10.1.0.0:- 10.1.0.1:- 10.1.0.2:- 10.1.0.3:-")
}
