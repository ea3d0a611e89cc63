package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

// Kubernetes' nodename_test.go.
func TestNodeName(t *testing.T) {
	named := func(n string) *objects.Pod { p := pod("p"); p.Spec.NodeName = n; return p }
	runPluginCases(t, NewNodeName(), []pluginCase{
		{name: "no host specified", pod: pod("p"), nodes: []*objects.Node{node("foo")}, wantFilter: fits("foo")},
		{name: "host matches", pod: named("foo"), nodes: []*objects.Node{node("foo")}, wantFilter: fits("foo")},
		{name: "host doesn't match", pod: named("bar"), nodes: []*objects.Node{node("foo")},
			wantFilter: map[string]string{"foo": "node(s) didn't match the requested node name"}, wantCode: UnschedulableAndUnresolvable},
	})
}
