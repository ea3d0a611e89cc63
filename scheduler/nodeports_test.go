package scheduler

import (
	"testing"

	"github.com/podkit/podkit/objects"
)

// ports makes a pod binding "proto/ip/port" host ports.
func ports(name string, specs ...struct {
	proto objects.Protocol
	ip    string
	port  int32
}) *objects.Pod {
	p := pod(name)
	for _, s := range specs {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, objects.ContainerPort{ContainerPort: s.port, HostPort: s.port, HostIP: s.ip, Protocol: s.proto})
	}
	return p
}

type hp = struct {
	proto objects.Protocol
	ip    string
	port  int32
}

// Kubernetes' node_ports_test.go.
func TestNodePorts(t *testing.T) {
	const conflict = reasonNodePorts
	udp, tcp := objects.ProtocolUDP, objects.ProtocolTCP
	n := []*objects.Node{node("n")}
	onN := func(p *objects.Pod) []*objects.Pod { return []*objects.Pod{on(p, "n")} }
	runPluginCases(t, NewNodePorts(), []pluginCase{
		{name: "nothing running", pod: ports("p"), nodes: n, wantFilter: fits("n")},
		{name: "other port", pod: ports("p", hp{udp, "127.0.0.1", 8080}), nodes: n, existing: onN(ports("e", hp{udp, "127.0.0.1", 9090})), wantFilter: fits("n")},
		{name: "same udp port", pod: ports("p", hp{udp, "127.0.0.1", 8080}), nodes: n, existing: onN(ports("e", hp{udp, "127.0.0.1", 8080})),
			wantFilter: map[string]string{"n": conflict}, wantCode: Unschedulable},
		{name: "same tcp port", pod: ports("p", hp{tcp, "127.0.0.1", 8080}), nodes: n, existing: onN(ports("e", hp{tcp, "127.0.0.1", 8080})),
			wantFilter: map[string]string{"n": conflict}},
		{name: "different host ip", pod: ports("p", hp{tcp, "127.0.0.1", 8080}), nodes: n, existing: onN(ports("e", hp{tcp, "127.0.0.2", 8080})), wantFilter: fits("n")},
		{name: "different protocol", pod: ports("p", hp{udp, "127.0.0.1", 8080}), nodes: n, existing: onN(ports("e", hp{tcp, "127.0.0.1", 8080})), wantFilter: fits("n")},
		{name: "second udp port conflict", pod: ports("p", hp{udp, "127.0.0.1", 8000}, hp{udp, "127.0.0.1", 8080}), nodes: n,
			existing: onN(ports("e", hp{udp, "127.0.0.1", 8080})), wantFilter: map[string]string{"n": conflict}},
		{name: "first tcp port conflict", pod: ports("p", hp{tcp, "127.0.0.1", 8001}, hp{udp, "127.0.0.1", 8080}), nodes: n,
			existing: onN(ports("e", hp{tcp, "127.0.0.1", 8001}, hp{udp, "127.0.0.1", 8081})), wantFilter: map[string]string{"n": conflict}},
		{name: "first tcp port conflict due to 0.0.0.0 hostIP", pod: ports("p", hp{tcp, "0.0.0.0", 8001}), nodes: n,
			existing: onN(ports("e", hp{tcp, "127.0.0.1", 8001})), wantFilter: map[string]string{"n": conflict}},
		{name: "TCP hostPort conflict due to 0.0.0.0 hostIP", pod: ports("p", hp{tcp, "10.0.10.10", 8001}, hp{tcp, "0.0.0.0", 8001}), nodes: n,
			existing: onN(ports("e", hp{tcp, "0.0.0.0", 8001})), wantFilter: map[string]string{"n": conflict}},
		{name: "second tcp port conflict to 0.0.0.0 hostIP", pod: ports("p", hp{tcp, "127.0.0.1", 8001}), nodes: n,
			existing: onN(ports("e", hp{tcp, "0.0.0.0", 8001})), wantFilter: map[string]string{"n": conflict}},
		{name: "second different protocol", pod: ports("p", hp{udp, "0.0.0.0", 8001}), nodes: n,
			existing: onN(ports("e", hp{tcp, "0.0.0.0", 8001})), wantFilter: fits("n")},
		{name: "UDP hostPort conflict due to 0.0.0.0 hostIP", pod: ports("p", hp{udp, "0.0.0.0", 8001}, hp{tcp, "0.0.0.0", 8001}), nodes: n,
			existing: onN(ports("e", hp{udp, "127.0.0.1", 8001})), wantFilter: map[string]string{"n": conflict}},
	})
}
