package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEndpoints(t *testing.T) {
	e := &Endpoints{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []EndpointSubset{{
			Addresses: []EndpointAddress{{IP: "10.244.1.7", NodeName: ptrOf("n1"),
				TargetRef: &ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u1"}}},
			NotReadyAddresses: []EndpointAddress{{IP: "10.244.2.3", Hostname: "web-2"}},
			Ports:             []EndpointPort{{Name: "http", Port: 8080}, {Name: "dns", Port: 53, Protocol: ProtocolUDP}},
		}},
	}
	e.Default()
	assert.Equal(t, ProtocolTCP, e.Subsets[0].Ports[0].Protocol)
	assert.Equal(t, ProtocolUDP, e.Subsets[0].Ports[1].Protocol)
	assert.Empty(t, e.Validate())
	assert.Equal(t, "Pod default/web-1", e.Subsets[0].Addresses[0].TargetRef.String())

	bad := &Endpoints{Subsets: []EndpointSubset{
		{Ports: []EndpointPort{{Port: 80, Protocol: ProtocolTCP}}},
		{Addresses: []EndpointAddress{{IP: "10.1"}, {IP: "10.0.0.1", Hostname: "A"}},
			Ports: []EndpointPort{{Port: 0, Protocol: ProtocolTCP}, {Name: "b", Port: 81, Protocol: "X"}}},
	}}
	assertFieldErrors(t, []string{
		"subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
		`subsets[1].addresses[0].ip: Invalid value: "10.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
		`subsets[1].addresses[1].hostname: Invalid value: "A": a lowercase RFC 1123 label*`,
		"subsets[1].ports[0].name: Required value",
		"subsets[1].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
		`subsets[1].ports[1].protocol: Unsupported value: "X": supported values: "SCTP", "TCP", "UDP"`,
	}, bad.Validate())
}
