package objects

import "net/netip"

// NetworkPolicy says which traffic the pods it selects may receive and
// send (networking.k8s.io/v1). A pod selected by a policy of the Ingress
// (Egress) type is isolated in that direction: only what the union of the
// rules of every such policy allows passes, plus replies to allowed
// connections. Enforcement is the network's job (network/policy); a
// NetworkPolicy has no status.
type NetworkPolicy struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec NetworkPolicySpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (p *NetworkPolicy) DeepCopyObject() Object { return p.DeepCopy() }

// NetworkPolicySpec selects pods and lists what they may receive and send.
type NetworkPolicySpec struct {
	// PodSelector selects the pods of the policy's namespace it applies
	// to; an empty one ({}) selects every pod of the namespace.
	PodSelector LabelSelector `json:"podSelector"`
	// Ingress lists the traffic the selected pods may receive, when the
	// policy is of the Ingress type; none means nothing.
	Ingress []NetworkPolicyIngressRule `json:"ingress,omitempty"`
	// Egress lists the traffic the selected pods may send, when the policy
	// is of the Egress type; none means nothing.
	Egress []NetworkPolicyEgressRule `json:"egress,omitempty"`
	// PolicyTypes are the directions the policy isolates. Unset, it is
	// Ingress, plus Egress when egress rules are given (see Default).
	PolicyTypes []PolicyType `json:"policyTypes,omitempty"`
}

// PolicyType is a direction of traffic a NetworkPolicy isolates.
type PolicyType string

// Policy types.
const (
	PolicyTypeIngress PolicyType = "Ingress"
	PolicyTypeEgress  PolicyType = "Egress"
)

// NetworkPolicyIngressRule allows traffic that matches both its ports and
// its sources (from); an empty list of either matches everything.
type NetworkPolicyIngressRule struct {
	Ports []NetworkPolicyPort `json:"ports,omitempty"`
	From  []NetworkPolicyPeer `json:"from,omitempty"`
}

// NetworkPolicyEgressRule allows traffic that matches both its ports and
// its destinations (to); an empty list of either matches everything.
type NetworkPolicyEgressRule struct {
	Ports []NetworkPolicyPort `json:"ports,omitempty"`
	To    []NetworkPolicyPeer `json:"to,omitempty"`
}

// NetworkPolicyPort is a protocol and port, or range of ports.
type NetworkPolicyPort struct {
	// Protocol is TCP (the default), UDP or SCTP.
	Protocol *Protocol `json:"protocol,omitempty"`
	// Port is a number or the name of a container port of the destination
	// pod; unset, every port of the protocol.
	Port *IntOrString `json:"port,omitempty"`
	// EndPort makes Port..EndPort a range; Port must be a number then.
	EndPort *int32 `json:"endPort,omitempty"`
}

// NetworkPolicyPeer is a set of pods, or of addresses. PodSelector alone
// means pods of the policy's namespace; NamespaceSelector alone every pod
// of the namespaces it selects; both, the pods PodSelector selects in those
// namespaces. IPBlock excludes the others.
type NetworkPolicyPeer struct {
	PodSelector       *LabelSelector `json:"podSelector,omitempty"`
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	IPBlock           *IPBlock       `json:"ipBlock,omitempty"`
}

// IPBlock is a CIDR less the CIDRs of Except.
type IPBlock struct {
	CIDR   string   `json:"cidr"`
	Except []string `json:"except,omitempty"`
}

// Default fills what Kubernetes defaults: each port's protocol (TCP) and
// the policy types (Ingress, plus Egress when there are egress rules).
func (p *NetworkPolicy) Default() {
	s := &p.Spec
	for i := range s.Ingress {
		defaultPolicyPorts(s.Ingress[i].Ports)
	}
	for i := range s.Egress {
		defaultPolicyPorts(s.Egress[i].Ports)
	}
	if len(s.PolicyTypes) == 0 {
		s.PolicyTypes = []PolicyType{PolicyTypeIngress}
		if len(s.Egress) > 0 {
			s.PolicyTypes = append(s.PolicyTypes, PolicyTypeEgress)
		}
	}
}

func defaultPolicyPorts(ports []NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			tcp := ProtocolTCP
			ports[i].Protocol = &tcp
		}
	}
}

// HasPolicyType reports whether the policy isolates direction t.
func (s *NetworkPolicySpec) HasPolicyType(t PolicyType) bool {
	for _, pt := range s.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

// Validate checks the spec as Kubernetes' ValidateNetworkPolicy does.
func (p *NetworkPolicy) Validate() ErrorList {
	s := &p.Spec
	sp := NewPath("spec")
	errs := ValidateLabelSelector(&s.PodSelector, sp.Child("podSelector"))
	for i := range s.Ingress {
		rp := sp.Child("ingress").Index(i)
		for j := range s.Ingress[i].Ports {
			errs = append(errs, validatePolicyPort(&s.Ingress[i].Ports[j], rp.Child("ports").Index(j))...)
		}
		for j := range s.Ingress[i].From {
			errs = append(errs, validatePolicyPeer(&s.Ingress[i].From[j], rp.Child("from").Index(j))...)
		}
	}
	for i := range s.Egress {
		rp := sp.Child("egress").Index(i)
		for j := range s.Egress[i].Ports {
			errs = append(errs, validatePolicyPort(&s.Egress[i].Ports[j], rp.Child("ports").Index(j))...)
		}
		for j := range s.Egress[i].To {
			errs = append(errs, validatePolicyPeer(&s.Egress[i].To[j], rp.Child("to").Index(j))...)
		}
	}
	allowed := []string{string(PolicyTypeIngress), string(PolicyTypeEgress)}
	if len(s.PolicyTypes) > len(allowed) {
		return append(errs, Invalid(sp.Child("policyTypes"), s.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range s.PolicyTypes {
		if t != PolicyTypeIngress && t != PolicyTypeEgress {
			errs = append(errs, NotSupported(sp.Child("policyTypes").Index(i), string(t), allowed))
		}
	}
	return errs
}

func validatePolicyPort(port *NetworkPolicyPort, p *Path) ErrorList {
	var errs ErrorList
	if port.Protocol != nil && *port.Protocol != ProtocolTCP && *port.Protocol != ProtocolUDP && *port.Protocol != ProtocolSCTP {
		errs = append(errs, NotSupported(p.Child("protocol"), string(*port.Protocol),
			[]string{string(ProtocolTCP), string(ProtocolUDP), string(ProtocolSCTP)}))
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == IntType:
		for _, msg := range IsValidPortNum(int(port.Port.IntVal)) {
			errs = append(errs, Invalid(p.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, Invalid(p.Child("endPort"), port.Port.IntVal, "must be greater than or equal to `port`"))
			}
			for _, msg := range IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, Invalid(p.Child("endPort"), *port.EndPort, msg))
			}
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range IsValidPortName(port.Port.StrVal) {
			errs = append(errs, Invalid(p.Child("port"), port.Port.StrVal, msg))
		}
	}
	return errs
}

func validatePolicyPeer(peer *NetworkPolicyPeer, p *Path) ErrorList {
	var errs ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, ValidateLabelSelector(peer.PodSelector, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, ValidateLabelSelector(peer.NamespaceSelector, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, validateIPBlock(peer.IPBlock, p.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, Required(p, "must specify a peer"))
	case n > 1 && peer.IPBlock != nil:
		errs = append(errs, Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

const invalidCIDRMsg = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"

func validateIPBlock(b *IPBlock, p *Path) ErrorList {
	if b.CIDR == "" {
		return ErrorList{Required(p.Child("cidr"), "")}
	}
	cidr, err := ParseCIDR(b.CIDR)
	if err != nil {
		return ErrorList{Invalid(p.Child("cidr"), b.CIDR, invalidCIDRMsg)}
	}
	var errs ErrorList
	for i, s := range b.Except {
		ep := p.Child("except").Index(i)
		except, err := ParseCIDR(s)
		if err != nil {
			errs = append(errs, Invalid(ep, s, invalidCIDRMsg))
			continue
		}
		if !cidr.Contains(except.Addr()) || cidr.Addr().Is4() != except.Addr().Is4() || cidr.Bits() >= except.Bits() {
			errs = append(errs, Invalid(ep, s, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}

// ParseCIDR parses a CIDR as Kubernetes does for NetworkPolicy ipBlocks
// (host bits may be set; they are cleared) and returns it masked.
func ParseCIDR(s string) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()).Masked(), nil
}
