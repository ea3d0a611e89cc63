package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newNetworkPolicy() *NetworkPolicy {
	port := FromString("http")
	return &NetworkPolicy{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec: NetworkPolicySpec{
			PodSelector: LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []NetworkPolicyIngressRule{{
				Ports: []NetworkPolicyPort{{Port: &port}},
				From: []NetworkPolicyPeer{
					{PodSelector: &LabelSelector{MatchLabels: map[string]string{"role": "client"}}},
					{IPBlock: &IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}},
				},
			}},
		},
	}
}

func TestNetworkPolicyDefault(t *testing.T) {
	p := newNetworkPolicy()
	p.Default()
	assert.Equal(t, []PolicyType{PolicyTypeIngress}, p.Spec.PolicyTypes)
	require.NotNil(t, p.Spec.Ingress[0].Ports[0].Protocol)
	assert.Equal(t, ProtocolTCP, *p.Spec.Ingress[0].Ports[0].Protocol)

	p = newNetworkPolicy()
	udp := ProtocolUDP
	p.Spec.Egress = []NetworkPolicyEgressRule{{Ports: []NetworkPolicyPort{{}, {Protocol: &udp}}}}
	p.Default()
	assert.Equal(t, []PolicyType{PolicyTypeIngress, PolicyTypeEgress}, p.Spec.PolicyTypes)
	assert.Equal(t, ProtocolTCP, *p.Spec.Egress[0].Ports[0].Protocol)
	assert.Equal(t, ProtocolUDP, *p.Spec.Egress[0].Ports[1].Protocol)

	// Policy types given are kept: an egress-only default deny.
	p = &NetworkPolicy{Spec: NetworkPolicySpec{PolicyTypes: []PolicyType{PolicyTypeEgress}}}
	p.Default()
	assert.Equal(t, []PolicyType{PolicyTypeEgress}, p.Spec.PolicyTypes)
	assert.True(t, p.Spec.HasPolicyType(PolicyTypeEgress))
	assert.False(t, p.Spec.HasPolicyType(PolicyTypeIngress))
}

func TestNetworkPolicyValidate(t *testing.T) {
	rule := func(p *NetworkPolicy) *NetworkPolicyIngressRule { return &p.Spec.Ingress[0] }
	num := func(n int32) *IntOrString { v := FromInt32(n); return &v }
	cases := []struct {
		name   string
		mutate func(*NetworkPolicy)
		want   []string
	}{
		{"valid", func(*NetworkPolicy) {}, nil},
		{"valid default deny", func(p *NetworkPolicy) {
			p.Spec = NetworkPolicySpec{PolicyTypes: []PolicyType{PolicyTypeIngress, PolicyTypeEgress}}
		}, nil},
		{"valid port range", func(p *NetworkPolicy) {
			rule(p).Ports[0] = NetworkPolicyPort{Port: num(32000), EndPort: ptrTo[int32](32768)}
		}, nil},
		{"valid namespace and pod selector", func(p *NetworkPolicy) {
			rule(p).From[0].NamespaceSelector = &LabelSelector{}
		}, nil},
		{"bad pod selector", func(p *NetworkPolicy) {
			p.Spec.PodSelector.MatchExpressions = []LabelSelectorRequirement{{Key: "app", Operator: "Has"}}
		}, []string{`spec.podSelector.matchExpressions[0].operator: Invalid value: "Has": not a valid selector operator`}},
		{"bad peer selector", func(p *NetworkPolicy) {
			rule(p).From[0].PodSelector.MatchLabels = map[string]string{"role": "a b"}
		}, []string{`spec.ingress[0].from[0].podSelector.matchLabels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"empty peer", func(p *NetworkPolicy) { rule(p).From[0] = NetworkPolicyPeer{} },
			[]string{"spec.ingress[0].from[0]: Required value: must specify a peer"}},
		{"ipBlock with another peer", func(p *NetworkPolicy) {
			rule(p).From[1].NamespaceSelector = &LabelSelector{}
		}, []string{"spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer"}},
		{"cidr required", func(p *NetworkPolicy) { rule(p).From[1].IPBlock = &IPBlock{} },
			[]string{"spec.ingress[0].from[1].ipBlock.cidr: Required value"}},
		{"cidr invalid", func(p *NetworkPolicy) { rule(p).From[1].IPBlock = &IPBlock{CIDR: "10.0.0.0"} },
			[]string{`spec.ingress[0].from[1].ipBlock.cidr: Invalid value: "10.0.0.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{"except invalid", func(p *NetworkPolicy) { rule(p).From[1].IPBlock.Except = []string{"10.1.0.0/33"} },
			[]string{`spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.1.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`}},
		{"except outside cidr", func(p *NetworkPolicy) { rule(p).From[1].IPBlock.Except = []string{"192.168.0.0/16"} },
			[]string{`spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict subset of ` + "`cidr`"}},
		{"except equal to cidr", func(p *NetworkPolicy) { rule(p).From[1].IPBlock.Except = []string{"10.0.0.0/8"} },
			[]string{`spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: "10.0.0.0/8": must be a strict subset of ` + "`cidr`"}},
		{"protocol unknown", func(p *NetworkPolicy) { rule(p).Ports[0].Protocol = ptrTo(Protocol("ICMP")) },
			[]string{`spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"`}},
		{"port out of range", func(p *NetworkPolicy) { rule(p).Ports[0].Port = num(70000) },
			[]string{"spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"port name invalid", func(p *NetworkPolicy) { v := FromString("HTTP"); rule(p).Ports[0].Port = &v },
			[]string{
				`spec.ingress[0].ports[0].port: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
				`spec.ingress[0].ports[0].port: Invalid value: "HTTP": must contain at least one letter (a-z)`,
			}},
		{"endPort with named port", func(p *NetworkPolicy) { rule(p).Ports[0].EndPort = ptrTo[int32](90) },
			[]string{"spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric"}},
		{"endPort without port", func(p *NetworkPolicy) { rule(p).Ports[0] = NetworkPolicyPort{EndPort: ptrTo[int32](90)} },
			[]string{"spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is not specified"}},
		{"endPort below port", func(p *NetworkPolicy) {
			rule(p).Ports[0] = NetworkPolicyPort{Port: num(100), EndPort: ptrTo[int32](90)}
		}, []string{"spec.ingress[0].ports[0].endPort: Invalid value: 100: must be greater than or equal to `port`"}},
		{"endPort out of range", func(p *NetworkPolicy) {
			rule(p).Ports[0] = NetworkPolicyPort{Port: num(100), EndPort: ptrTo[int32](70000)}
		}, []string{"spec.ingress[0].ports[0].endPort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"egress peer and port", func(p *NetworkPolicy) {
			p.Spec.Egress = []NetworkPolicyEgressRule{{Ports: []NetworkPolicyPort{{Port: num(0)}}, To: []NetworkPolicyPeer{{}}}}
		}, []string{
			"spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
			"spec.egress[0].to[0]: Required value: must specify a peer",
		}},
		{"policy type unknown", func(p *NetworkPolicy) { p.Spec.PolicyTypes = []PolicyType{"Ingress", "Both"} },
			[]string{`spec.policyTypes[1]: Unsupported value: "Both": supported values: "Ingress", "Egress"`}},
		{"too many policy types", func(p *NetworkPolicy) { p.Spec.PolicyTypes = []PolicyType{"Ingress", "Egress", "Ingress"} },
			[]string{`spec.policyTypes: Invalid value: []objects.PolicyType{"Ingress", "Egress", "Ingress"}: may not specify more than two policyTypes`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newNetworkPolicy()
			c.mutate(p)
			var got []string
			for _, e := range p.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
}

// Through the scheme, the object's metadata is checked too and the error
// names the kind and the policy.
func TestNetworkPolicyValidateThroughScheme(t *testing.T) {
	p := newNetworkPolicy()
	p.Spec.Ingress[0].From[0] = NetworkPolicyPeer{}
	err := validateThroughScheme(p)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, `NetworkPolicy "web" is invalid: spec.ingress[0].from[0]: Required value: must specify a peer`, err.Error())
}

func TestNetworkPolicyManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 32000
      endPort: 32768
`)
	p := obj.(*NetworkPolicy)
	assert.Equal(t, "db", p.Spec.PodSelector.MatchLabels["role"])
	assert.Equal(t, []string{"172.17.1.0/24"}, p.Spec.Ingress[0].From[0].IPBlock.Except)
	assert.Equal(t, int32(32768), *p.Spec.Egress[0].Ports[0].EndPort)
	require.NoError(t, validateThroughScheme(p))
	jsonRoundTrip(t, p)

	c := p.DeepCopy()
	c.Spec.Ingress[0].From[0].IPBlock.Except[0] = "x"
	c.Spec.Ingress[0].From[2].PodSelector.MatchLabels["role"] = "x"
	*c.Spec.Egress[0].Ports[0].EndPort = 1
	c.Spec.PolicyTypes[0] = "x"
	assert.Equal(t, "172.17.1.0/24", p.Spec.Ingress[0].From[0].IPBlock.Except[0])
	assert.Equal(t, "frontend", p.Spec.Ingress[0].From[2].PodSelector.MatchLabels["role"])
	assert.Equal(t, int32(32768), *p.Spec.Egress[0].Ports[0].EndPort)
	assert.Equal(t, PolicyTypeIngress, p.Spec.PolicyTypes[0])

	// Decoding is strict: a misspelt field is an error naming it.
	_, err := NewScheme().DecodeBytes([]byte(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x}
spec:
  podSelector: {}
  ingress:
  - from:
    - ipblock: {cidr: 10.0.0.0/8}
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "spec.ingress[0].from[0].ipblock"`)
}
