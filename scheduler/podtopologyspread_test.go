package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

func exists(key string) *objects.LabelSelector { return sel(key, objects.LabelSelectorOpExists) }

// spread adds a spread constraint to p.
func spread(p *objects.Pod, maxSkew int32, key string, when objects.UnsatisfiableConstraintAction, s *objects.LabelSelector) *objects.Pod {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, objects.TopologySpreadConstraint{
		MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: s})
	return p
}

func zoned(name, zone string) *objects.Node { return node(name, "zone", zone) }

func fooPods(spec ...string) []*objects.Pod {
	var out []*objects.Pod
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, on(pod(spec[i], "foo", ""), spec[i+1]))
	}
	return out
}

// Kubernetes' podtopologyspread filtering_test.go (TestSingleConstraint).
func TestPodTopologySpreadFilter(t *testing.T) {
	const (
		no      = reasonSpread
		missing = reasonSpreadMissing
	)
	dns := objects.DoNotSchedule
	four := func() []*objects.Node {
		return []*objects.Node{zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")}
	}
	cases := []pluginCase{
		{name: "no existing pods", pod: spread(pod("p", "foo", ""), 1, "zone", dns, exists("foo")), nodes: four(),
			wantFilter: fits("node-a", "node-b", "node-x", "node-y")},
		{name: "no existing pods, incoming pod doesn't match itself", pod: spread(pod("p", "foo", ""), 1, "zone", dns, exists("bar")), nodes: four(),
			wantFilter: fits("node-a", "node-b", "node-x", "node-y")},
		{name: "existing pods in a different namespace do not count", pod: spread(pod("p", "foo", ""), 1, "zone", dns, exists("foo")), nodes: four(),
			existing: []*objects.Pod{on(inNamespace(pod("p-a1", "foo", ""), "ns1"), "node-a"), on(inNamespace(pod("p-b1", "foo", ""), "ns1"), "node-b"),
				on(pod("p-x1", "foo", ""), "node-x"), on(pod("p-y1", "foo", ""), "node-y")},
			wantFilter: map[string]string{"node-a": "", "node-b": "", "node-x": no, "node-y": no}, wantCode: Unschedulable},
		{name: "pods spread across zones as 3/3, all nodes fit", pod: spread(pod("p", "foo", ""), 1, "zone", dns, exists("foo")), nodes: four(),
			existing:   fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			wantFilter: fits("node-a", "node-b", "node-x", "node-y")},
		{name: "pods spread across zones as 1/2 due to absence of label 'zone' on node-b",
			pod:        spread(pod("p", "foo", ""), 1, "zone", dns, exists("foo")),
			nodes:      []*objects.Node{zoned("node-a", "zone1"), node("node-b", "zon", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")},
			existing:   fooPods("p-a1", "node-a", "p-b1", "node-b", "p-x1", "node-x", "p-y1", "node-y"),
			wantFilter: map[string]string{"node-a": "", "node-b": missing, "node-x": no, "node-y": no}},
		{name: "pod cannot be scheduled as all nodes don't have label 'rack'", pod: spread(pod("p", "foo", ""), 1, "rack", dns, exists("foo")),
			nodes:      []*objects.Node{zoned("node-a", "zone1"), zoned("node-x", "zone2")},
			wantFilter: map[string]string{"node-a": missing, "node-x": missing}, wantCode: UnschedulableAndUnresolvable},
		{name: "pods spread across nodes as 2/1/0/3, only node-x fits", pod: spread(pod("p", "foo", ""), 1, LabelHostname, dns, exists("foo")), nodes: four(),
			existing:   fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			wantFilter: map[string]string{"node-a": no, "node-b": no, "node-x": "", "node-y": no}},
		{name: "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit", pod: spread(pod("p", "foo", ""), 2, LabelHostname, dns, exists("foo")), nodes: four(),
			existing:   fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			wantFilter: map[string]string{"node-a": no, "node-b": "", "node-x": "", "node-y": no}},
		{name: "pods spread across nodes as 2/1/0/3, but pod doesn't match itself", pod: spread(pod("p", "bar", ""), 1, LabelHostname, dns, exists("foo")), nodes: four(),
			existing:   fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			wantFilter: map[string]string{"node-a": no, "node-b": "", "node-x": "", "node-y": no}},
		{name: "incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits",
			pod: func() *objects.Pod {
				p := spread(pod("p", "foo", ""), 1, LabelHostname, dns, exists("foo"))
				p.Spec.Affinity = &objects.Affinity{NodeAffinity: &objects.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &objects.NodeSelector{
					NodeSelectorTerms: []objects.NodeSelectorTerm{term(expr(LabelHostname, objects.NodeSelectorOpIn, "node-a", "node-y"))}}}}
				return p
			}(),
			nodes:    four(),
			existing: fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			// Only node-a (2) and node-y (3) are domains: min 2. (node-b and
			// node-x fail the pod's node affinity, reported by NodeAffinity.)
			wantFilter: map[string]string{"node-a": "", "node-b": "", "node-x": "", "node-y": no}},
		{name: "terminating pods are not counted", pod: spread(pod("p", "foo", ""), 1, LabelHostname, dns, exists("foo")),
			nodes: []*objects.Node{zoned("node-a", "zone1"), zoned("node-b", "zone1")},
			existing: []*objects.Pod{func() *objects.Pod {
				p := on(pod("p-a1", "foo", ""), "node-a")
				p.DeletionTimestamp = &objects.Time{}
				return p
			}(), on(pod("p-b1", "foo", ""), "node-b")},
			wantFilter: map[string]string{"node-a": "", "node-b": no}},
		{name: "minDomains: fewer domains than minDomains make the global minimum 0",
			pod: func() *objects.Pod {
				p := spread(pod("p", "foo", ""), 1, "zone", dns, exists("foo"))
				p.Spec.TopologySpreadConstraints[0].MinDomains = ptr(int32(3))
				return p
			}(),
			nodes:      four(),
			existing:   fooPods("p-a1", "node-a", "p-x1", "node-x"),
			wantFilter: map[string]string{"node-a": no, "node-b": no, "node-x": no, "node-y": no}},
		{name: "two constraints: zone and hostname",
			pod:        spread(spread(pod("p", "foo", ""), 1, "zone", dns, exists("foo")), 1, LabelHostname, dns, exists("foo")),
			nodes:      four(),
			existing:   fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-y1", "node-y", "p-y2", "node-y"),
			wantFilter: map[string]string{"node-a": no, "node-b": no, "node-x": "", "node-y": no}},
		{name: "ScheduleAnyway constraints do not filter", pod: spread(pod("p", "foo", ""), 1, LabelHostname, objects.ScheduleAnyway, exists("foo")), nodes: four(),
			existing:   fooPods("p-a1", "node-a", "p-a2", "node-a"),
			wantFilter: fits("node-a", "node-b", "node-x", "node-y")},
	}
	runPluginCases(t, NewPodTopologySpread(), cases)
}

// Kubernetes' podtopologyspread scoring_test.go (TestPodTopologySpreadScore).
func TestPodTopologySpreadScore(t *testing.T) {
	sa := objects.ScheduleAnyway
	host := func(names ...string) []*objects.Node {
		var out []*objects.Node
		for _, n := range names {
			out = append(out, node(n))
		}
		return out
	}
	p := func(maxSkew int32) *objects.Pod {
		return spread(pod("p", "foo", ""), maxSkew, LabelHostname, sa, exists("foo"))
	}
	runPluginCases(t, NewPodTopologySpread(), []pluginCase{
		{name: "one constraint on node, no existing pods", pod: p(1), nodes: host("node-a", "node-b"),
			wantScore: map[string]int64{"node-a": 100, "node-b": 100}},
		{name: "one constraint on node, only one node is candidate", pod: p(1), nodes: host("node-a"), failed: host("node-b"),
			existing:  fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b"),
			wantScore: map[string]int64{"node-a": 100}},
		{name: "one constraint on node, all nodes have the same number of matching pods", pod: p(1), nodes: host("node-a", "node-b"),
			existing:  fooPods("p-a1", "node-a", "p-b1", "node-b"),
			wantScore: map[string]int64{"node-a": 100, "node-b": 100}},
		{name: "one constraint on node, all 4 nodes are candidates", pod: p(1), nodes: host("node-a", "node-b", "node-c", "node-d"),
			existing:  fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-d1", "node-d", "p-d2", "node-d", "p-d3", "node-d"),
			wantScore: map[string]int64{"node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0}},
		{name: "one constraint on node, all 4 nodes are candidates, maxSkew=2", pod: p(2), nodes: host("node-a", "node-b", "node-c", "node-d"),
			existing:  fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-d1", "node-d", "p-d2", "node-d", "p-d3", "node-d"),
			wantScore: map[string]int64{"node-a": 33, "node-b": 66, "node-c": 100, "node-d": 16}},
		{name: "one constraint on node, all 4 nodes are candidates, maxSkew=3", pod: p(3), nodes: host("node-a", "node-b", "node-c", "node-d"),
			existing: fooPods("p-a1", "node-a", "p-a2", "node-a", "p-a3", "node-a", "p-a4", "node-a",
				"p-b1", "node-b", "p-b2", "node-b", "p-b3", "node-b", "p-c1", "node-c", "p-c2", "node-c", "p-d1", "node-d"),
			wantScore: map[string]int64{"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100}},
		{name: "one constraint on node, 3 out of 4 nodes are candidates", pod: p(1), nodes: host("node-a", "node-b", "node-x"), failed: host("node-y"),
			existing: fooPods("p-a1", "node-a", "p-a2", "node-a", "p-a3", "node-a", "p-a4", "node-a", "p-b1", "node-b", "p-b2", "node-b",
				"p-x1", "node-x", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			wantScore: map[string]int64{"node-a": 33, "node-b": 83, "node-x": 100}},
		{name: "one constraint on zone, 3 out of 4 nodes are candidates",
			pod:    spread(pod("p", "foo", ""), 1, "zone", sa, exists("foo")),
			nodes:  []*objects.Node{zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2")},
			failed: []*objects.Node{zoned("node-y", "zone2")},
			existing: fooPods("p-a1", "node-a", "p-a2", "node-a", "p-a3", "node-a", "p-a4", "node-a", "p-b1", "node-b", "p-b2", "node-b",
				"p-x1", "node-x", "p-y1", "node-y", "p-y2", "node-y", "p-y3", "node-y"),
			wantScore: map[string]int64{"node-a": 75, "node-b": 75, "node-x": 100}},
		{name: "two Constraints on zone and node, with different labelSelectors",
			pod:   spread(spread(pod("p", "foo", "", "bar", ""), 1, "zone", sa, exists("foo")), 1, LabelHostname, sa, exists("bar")),
			nodes: []*objects.Node{zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-x", "zone2"), zoned("node-y", "zone2")},
			existing: []*objects.Pod{on(pod("p-a1", "foo", ""), "node-a"), on(pod("p-b1", "foo", "", "bar", ""), "node-b"),
				on(pod("p-y1", "foo", ""), "node-y"), on(pod("p-y2", "bar", ""), "node-y")},
			wantScore: map[string]int64{"node-a": 60, "node-b": 20, "node-x": 100, "node-y": 60}},
		{name: "existing pods in a different namespace do not count", pod: p(1), nodes: host("node-a", "node-b"),
			existing: []*objects.Pod{on(inNamespace(pod("p-a1", "foo", ""), "ns1"), "node-a"), on(pod("p-a2", "foo", ""), "node-a"),
				on(pod("p-b1", "foo", ""), "node-b"), on(pod("p-b2", "foo", ""), "node-b")},
			// Raw: a 1*log(4)=1.39 -> 1, b 2*log(4)=2.77 -> 3 (Kubernetes before
			// 1.26 truncated to 2, giving b 50); 100*(3+1-3)/3 = 33.
			wantScore: map[string]int64{"node-a": 100, "node-b": 33}},
		{name: "NodeAffinityPolicy honored with labelSelectors",
			pod: func() *objects.Pod {
				p := spread(pod("p", "foo", ""), 1, "node", sa, exists("foo"))
				p.Spec.NodeSelector = map[string]string{"foo": ""}
				return p
			}(),
			nodes:     []*objects.Node{node("node-a", "node", "node-a", "foo", ""), node("node-b", "node", "node-b", "foo", ""), node("node-c", "node", "node-c")},
			existing:  fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-c1", "node-c"),
			wantScore: map[string]int64{"node-a": 0, "node-b": 33, "node-c": 100}},
		{name: "NodeAffinityPolicy ignored with labelSelectors",
			pod: func() *objects.Pod {
				p := spread(pod("p", "foo", ""), 1, "node", sa, exists("foo"))
				p.Spec.NodeSelector = map[string]string{"foo": ""}
				p.Spec.TopologySpreadConstraints[0].NodeAffinityPolicy = ptr(objects.NodeInclusionPolicyIgnore)
				return p
			}(),
			nodes:     []*objects.Node{node("node-a", "node", "node-a", "foo", ""), node("node-b", "node", "node-b", "foo", ""), node("node-c", "node", "node-c")},
			existing:  fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-c1", "node-c"),
			wantScore: map[string]int64{"node-a": 66, "node-b": 100, "node-c": 100}},
		{name: "NodeTaintsPolicy honored",
			pod: func() *objects.Pod {
				p := spread(pod("p", "foo", ""), 1, "node", sa, exists("foo"))
				p.Spec.TopologySpreadConstraints[0].NodeTaintsPolicy = ptr(objects.NodeInclusionPolicyHonor)
				return p
			}(),
			nodes: []*objects.Node{node("node-a", "node", "node-a"), node("node-b", "node", "node-b"),
				func() *objects.Node {
					n := node("node-c", "node", "node-c")
					n.Spec.Taints = []objects.Taint{{Key: "foo", Effect: objects.TaintEffectNoSchedule}}
					return n
				}()},
			existing:  fooPods("p-a1", "node-a", "p-a2", "node-a", "p-b1", "node-b", "p-c1", "node-c"),
			wantScore: map[string]int64{"node-a": 0, "node-b": 33, "node-c": 100}},
		{name: "matchLabelKeys ANDed with LabelSelector when LabelSelector isn't empty",
			pod: func() *objects.Pod {
				p := spread(spread(pod("p", "foo", "", "bar", "", "baz", ""), 1, "zone", sa, exists("foo")), 1, LabelHostname, sa, exists("bar"))
				p.Spec.TopologySpreadConstraints[1].MatchLabelKeys = []string{"baz"}
				return p
			}(),
			nodes: []*objects.Node{zoned("node-a", "zone1"), zoned("node-b", "zone1"), zoned("node-c", "zone2"), zoned("node-d", "zone2")},
			existing: []*objects.Pod{on(pod("p-a1", "foo", ""), "node-a"), on(pod("p-b1", "foo", "", "bar", "", "baz", ""), "node-b"),
				on(pod("p-c1", "foo", ""), "node-c"), on(pod("p-c2", "bar", ""), "node-c"), on(pod("p-d3", "bar", "", "baz", ""), "node-c")},
			wantScore: map[string]int64{"node-a": 60, "node-b": 20, "node-c": 60, "node-d": 100}},
		{name: "terminating Pods should be excluded", pod: p(1), nodes: host("node-a", "node-b"),
			existing: []*objects.Pod{func() *objects.Pod {
				p := on(pod("p-a", "foo", ""), "node-a")
				p.DeletionTimestamp = &objects.Time{}
				return p
			}(), on(pod("p-b", "foo", ""), "node-b")},
			wantScore: map[string]int64{"node-a": 100, "node-b": 0}},
	})
}
