package objects

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEndpointSlice(t *testing.T) {
	objs, err := NewScheme().Decode(strings.NewReader(`
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc12
  namespace: default
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
endpoints:
- addresses: ["10.244.1.7"]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: n1
  zone: a
  targetRef: {kind: Pod, namespace: default, name: web-1, uid: u1}
ports:
- name: http
  port: 8080
- port: 53
  protocol: UDP
  name: dns
`))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	s := objs[0].(*EndpointSlice)
	s.Default()
	assert.Empty(t, s.Validate())
	assert.Equal(t, ProtocolTCP, *s.Ports[0].Protocol, "the protocol defaults to TCP")
	assert.True(t, *s.Endpoints[0].Conditions.Ready)
	assert.Equal(t, "n1", *s.Endpoints[0].NodeName)

	name := func(s string) *string { return &s }
	port := func(p int32) *int32 { return &p }
	udp, x := ProtocolUDP, Protocol("X")
	bad := &EndpointSlice{AddressType: AddressTypeIPv4,
		Endpoints: []Endpoint{
			{},
			{Addresses: []string{"10.0.0.1", "fd00::1", "10.1"}, Hostname: name("A"), NodeName: name("N_1")},
		},
		Ports: []EndpointSlicePort{
			{Name: name("http"), Port: port(0), Protocol: &udp},
			{Name: name("http"), Port: port(80), Protocol: &x},
			{Name: name("B"), Port: port(81)},
		},
	}
	assertFieldErrors(t, []string{
		"endpoints[0].addresses: Required value: must contain at least 1 address",
		`endpoints[1].addresses[1]: Invalid value: "fd00::1": must be a valid IPv4 address`,
		`endpoints[1].addresses[2]: Invalid value: "10.1": must be a valid IPv4 address`,
		`endpoints[1].hostname: Invalid value: "A": a lowercase RFC 1123 label*`,
		`endpoints[1].nodeName: Invalid value: "N_1": a lowercase RFC 1123 subdomain*`,
		"ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
		`ports[1].name: Duplicate value: "http"`,
		`ports[1].protocol: Unsupported value: "X": supported values: "SCTP", "TCP", "UDP"`,
		`ports[2].name: Invalid value: "B": a lowercase RFC 1123 label*`,
		"ports[2].protocol: Required value",
	}, bad.Validate())

	assertFieldErrors(t, []string{"addressType: Required value"}, (&EndpointSlice{}).Validate())
	assertFieldErrors(t, []string{`addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"`},
		(&EndpointSlice{AddressType: "IP"}).Validate())
	assertFieldErrors(t, []string{`endpoints[0].addresses[0]: Invalid value: "10.0.0.1": must be a valid IPv6 address`},
		(&EndpointSlice{AddressType: AddressTypeIPv6, Endpoints: []Endpoint{{Addresses: []string{"10.0.0.1"}}}}).Validate())
	assertFieldErrors(t, []string{"endpoints: Too many: 1001: must have at most 1000 items"},
		(&EndpointSlice{AddressType: AddressTypeFQDN, Endpoints: make([]Endpoint, 1001)}).Validate()[:1])
	assertFieldErrors(t, []string{`addressType: Invalid value: "IPv6": field is immutable`},
		(&EndpointSlice{AddressType: AddressTypeIPv6}).ValidateUpdate(&EndpointSlice{AddressType: AddressTypeIPv4}))
}
