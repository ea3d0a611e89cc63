package objects

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Service gives a set of pods one stable name and address (v1).
type Service struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   ServiceSpec   `json:"spec,omitempty"`
	Status ServiceStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (s *Service) DeepCopyObject() Object { return s.DeepCopy() }

// ServiceSpec is the desired state of a Service.
type ServiceSpec struct {
	Ports           []ServicePort     `json:"ports,omitempty" patchStrategy:"merge" patchMergeKey:"port"`
	Selector        map[string]string `json:"selector,omitempty"`
	ClusterIP       string            `json:"clusterIP,omitempty"`
	ClusterIPs      []string          `json:"clusterIPs,omitempty"`
	Type            ServiceType       `json:"type,omitempty"`
	ExternalIPs     []string          `json:"externalIPs,omitempty"`
	SessionAffinity ServiceAffinity   `json:"sessionAffinity,omitempty"`
	LoadBalancerIP  string            `json:"loadBalancerIP,omitempty"`
	ExternalName    string            `json:"externalName,omitempty"`
	// ExternalTrafficPolicy is Cluster or Local, for Services reachable
	// from outside (NodePort, LoadBalancer, external IPs). The host
	// receives that traffic on behalf of every node, so with Local every
	// ready endpoint is local: what changes is that the client's source
	// address reaches the pod unchanged, where the data plane can keep it
	// (the nftables one; the userspace one relays connections and cannot).
	ExternalTrafficPolicy ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
	// HealthCheckNodePort is the node port on which the service proxy
	// answers load balancers' health checks, for a LoadBalancer Service
	// with externalTrafficPolicy Local only: GET answers 200 while the
	// Service has ready endpoints, 503 while it has none. Allocated from
	// the node port range when unset (see network/ipam); a value given is
	// kept if no other Service holds it. It does not change while the
	// Service needs it, and is released when the Service no longer does
	// (type or policy changed) or is deleted.
	HealthCheckNodePort      int32                  `json:"healthCheckNodePort,omitempty"`
	PublishNotReadyAddresses bool                   `json:"publishNotReadyAddresses,omitempty"`
	SessionAffinityConfig    *SessionAffinityConfig `json:"sessionAffinityConfig,omitempty"`
	IPFamilies               []IPFamily             `json:"ipFamilies,omitempty"`
	IPFamilyPolicy           *IPFamilyPolicy        `json:"ipFamilyPolicy,omitempty"`
	// InternalTrafficPolicy is Cluster or Local (default Cluster). With
	// Local, a pod connecting to a cluster IP reaches only the ready
	// endpoints on its own node (its pod's spec.nodeName against the
	// endpoints' nodeName), and is refused when its node has none. A
	// connection from the host itself, which is every node at once,
	// reaches any ready endpoint.
	InternalTrafficPolicy *ServiceInternalTrafficPolicy `json:"internalTrafficPolicy,omitempty"`
	// TrafficDistribution, when set, asks that a pod's connections go to
	// endpoints close to it: PreferSameZone (PreferClose is its deprecated
	// alias) to those in its node's zone, PreferSameNode to those on its
	// node, each falling back to every endpoint when there is none. The
	// endpoint slice controller writes it into the endpoints' hints, which
	// the service proxy follows (see network/proxy); internalTrafficPolicy
	// Local takes precedence. Any Service type may carry it, as in
	// Kubernetes; those without endpoints ignore it.
	TrafficDistribution *string `json:"trafficDistribution,omitempty"`
	// AllocateLoadBalancerNodePorts, for a LoadBalancer Service only
	// (defaulted to true there), says whether its ports get node ports
	// when they name none. With false only the node ports given are
	// allocated and served: the Service is reached through its load
	// balancer address and cluster IP. Node ports it already holds are
	// kept until removed from the spec, as in Kubernetes.
	AllocateLoadBalancerNodePorts *bool `json:"allocateLoadBalancerNodePorts,omitempty"`
	// LoadBalancerClass, for a LoadBalancer Service only, names the load
	// balancer implementation that serves it; immutable while the
	// Service is a LoadBalancer. podkit's service proxy serves the
	// LoadBalancer Services without a class: one with a class gets no
	// load balancer address or status from podkit (the host program's
	// own implementation may give it them), and keeps its cluster IP and
	// node ports.
	LoadBalancerClass *string `json:"loadBalancerClass,omitempty"`
	// LoadBalancerSourceRanges, for a LoadBalancer Service only, are the
	// CIDRs of the clients its load balancer address accepts (space
	// around a value is allowed, as in Kubernetes); none, or one of
	// 0.0.0.0/0, accepts every client. When it is empty, the ranges of
	// the AnnotationLoadBalancerSourceRanges annotation apply. Like kube-proxy's, the restriction
	// holds at the load balancer address only, not at the node ports or
	// cluster IP. A client from elsewhere gets no answer: the nftables
	// data plane drops its packets, the userspace one resets its
	// connections and ignores its datagrams.
	LoadBalancerSourceRanges []string `json:"loadBalancerSourceRanges,omitempty"`
}

// ServiceType is how a Service is exposed.
type ServiceType string

// Service types.
const (
	ServiceTypeClusterIP    ServiceType = "ClusterIP"
	ServiceTypeNodePort     ServiceType = "NodePort"
	ServiceTypeLoadBalancer ServiceType = "LoadBalancer"
	ServiceTypeExternalName ServiceType = "ExternalName"
)

// AnnotationLoadBalancerSourceRanges is the annotation that older
// manifests give a LoadBalancer Service's client ranges in, comma
// separated; spec.loadBalancerSourceRanges, when set, takes precedence.
const AnnotationLoadBalancerSourceRanges = "service.beta.kubernetes.io/load-balancer-source-ranges"

// ClusterIPNone is the clusterIP of a headless Service.
const ClusterIPNone = "None"

// ServiceAffinity is None or ClientIP.
type ServiceAffinity string

// Session affinities.
const (
	ServiceAffinityClientIP ServiceAffinity = "ClientIP"
	ServiceAffinityNone     ServiceAffinity = "None"
)

// DefaultClientIPServiceAffinitySeconds is the default sticky-session
// timeout (3 hours).
const DefaultClientIPServiceAffinitySeconds int32 = 10800

// SessionAffinityConfig configures session affinity.
type SessionAffinityConfig struct {
	ClientIP *ClientIPConfig `json:"clientIP,omitempty"`
}

// ClientIPConfig configures ClientIP session affinity.
type ClientIPConfig struct {
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
}

// ServiceExternalTrafficPolicy is Cluster or Local.
type ServiceExternalTrafficPolicy string

// External traffic policies.
const (
	ServiceExternalTrafficPolicyCluster ServiceExternalTrafficPolicy = "Cluster"
	ServiceExternalTrafficPolicyLocal   ServiceExternalTrafficPolicy = "Local"
)

// ServiceInternalTrafficPolicy is Cluster or Local.
type ServiceInternalTrafficPolicy string

// Internal traffic policies.
const (
	ServiceInternalTrafficPolicyCluster ServiceInternalTrafficPolicy = "Cluster"
	ServiceInternalTrafficPolicyLocal   ServiceInternalTrafficPolicy = "Local"
)

// Traffic distributions, the values of ServiceSpec.TrafficDistribution.
const (
	// ServiceTrafficDistributionPreferClose is the deprecated alias of
	// ServiceTrafficDistributionPreferSameZone, as since Kubernetes 1.34.
	ServiceTrafficDistributionPreferClose = "PreferClose"
	// ServiceTrafficDistributionPreferSameZone prefers the endpoints in
	// the client's zone.
	ServiceTrafficDistributionPreferSameZone = "PreferSameZone"
	// ServiceTrafficDistributionPreferSameNode prefers the endpoints on the
	// client's node, then those in its zone.
	ServiceTrafficDistributionPreferSameNode = "PreferSameNode"
)

// IPFamily is IPv4 or IPv6.
type IPFamily string

// IP families.
const (
	IPv4Protocol IPFamily = "IPv4"
	IPv6Protocol IPFamily = "IPv6"
)

// IPFamilyPolicy is SingleStack, PreferDualStack or RequireDualStack.
type IPFamilyPolicy string

// IP family policies.
const (
	IPFamilyPolicySingleStack      IPFamilyPolicy = "SingleStack"
	IPFamilyPolicyPreferDualStack  IPFamilyPolicy = "PreferDualStack"
	IPFamilyPolicyRequireDualStack IPFamilyPolicy = "RequireDualStack"
)

// ServicePort is one port a Service exposes and where it forwards to.
type ServicePort struct {
	Name        string      `json:"name,omitempty"`
	Protocol    Protocol    `json:"protocol,omitempty"`
	AppProtocol *string     `json:"appProtocol,omitempty"`
	Port        int32       `json:"port"`
	TargetPort  IntOrString `json:"targetPort,omitempty"`
	NodePort    int32       `json:"nodePort,omitempty"`
}

// ServiceStatus is the observed state of a Service.
type ServiceStatus struct {
	LoadBalancer LoadBalancerStatus `json:"loadBalancer,omitempty"`
	Conditions   []Condition        `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// LoadBalancerStatus lists the addresses of a load balancer.
type LoadBalancerStatus struct {
	Ingress []LoadBalancerIngress `json:"ingress,omitempty"`
}

// LoadBalancerIngress is one address of a load balancer.
type LoadBalancerIngress struct {
	IP       string       `json:"ip,omitempty"`
	Hostname string       `json:"hostname,omitempty"`
	Ports    []PortStatus `json:"ports,omitempty"`
}

// PortStatus is the state of one load balancer port.
type PortStatus struct {
	Port     int32    `json:"port"`
	Protocol Protocol `json:"protocol"`
	Error    *string  `json:"error,omitempty"`
}

// IsHeadless reports whether the Service has clusterIP None.
func (s *Service) IsHeadless() bool { return s.Spec.ClusterIP == ClusterIPNone }

// externallyAccessible reports whether traffic may come from outside the
// cluster: NodePort, LoadBalancer, or external IPs. An unset type counts as
// ClusterIP, which Default makes it.
func (s *Service) externallyAccessible() bool {
	return s.Spec.Type == ServiceTypeNodePort || s.Spec.Type == ServiceTypeLoadBalancer ||
		((s.Spec.Type == ServiceTypeClusterIP || s.Spec.Type == "") && len(s.Spec.ExternalIPs) > 0)
}

// NeedsHealthCheck reports whether the Service needs a health check node
// port: type LoadBalancer with externalTrafficPolicy Local, as
// Kubernetes' apiservice.NeedsHealthCheck.
func (s *Service) NeedsHealthCheck() bool {
	return s.Spec.Type == ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == ServiceExternalTrafficPolicyLocal
}

// needsClusterIP reports whether the Service's type has a cluster IP
// (headless ones hold "None").
func needsClusterIP(s *Service) bool { return s.Spec.Type != ServiceTypeExternalName }

// needsNodePort reports whether the Service's type has node ports.
func needsNodePort(s *Service) bool {
	return s.Spec.Type == ServiceTypeNodePort || s.Spec.Type == ServiceTypeLoadBalancer
}

// PrepareForCreate implements store.CreatePreparer: a new Service has no
// status, whatever was sent, as Kubernetes' strategy clears it.
func (s *Service) PrepareForCreate() { s.Status = ServiceStatus{} }

// Default implements Defaulter, as Kubernetes' SetDefaults_Service.
func (s *Service) Default() {
	sp := &s.Spec
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = ServiceAffinityNone
	}
	if sp.SessionAffinity == ServiceAffinityNone {
		sp.SessionAffinityConfig = nil
	}
	if sp.SessionAffinity == ServiceAffinityClientIP {
		if sp.SessionAffinityConfig == nil {
			sp.SessionAffinityConfig = &SessionAffinityConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP == nil {
			sp.SessionAffinityConfig.ClientIP = &ClientIPConfig{}
		}
		if sp.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil {
			t := DefaultClientIPServiceAffinitySeconds
			sp.SessionAffinityConfig.ClientIP.TimeoutSeconds = &t
		}
	}
	if sp.Type == "" {
		sp.Type = ServiceTypeClusterIP
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if p.TargetPort.IsZero() {
			p.TargetPort = FromInt32(p.Port)
		}
	}
	if sp.Type == ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		yes := true
		sp.AllocateLoadBalancerNodePorts = &yes
	}
	if sp.ExternalTrafficPolicy == "" && s.externallyAccessible() {
		sp.ExternalTrafficPolicy = ServiceExternalTrafficPolicyCluster
	}
	if sp.InternalTrafficPolicy == nil && sp.Type != ServiceTypeExternalName {
		p := ServiceInternalTrafficPolicyCluster
		sp.InternalTrafficPolicy = &p
	}
	// clusterIP and clusterIPs[0] are one value; either may be given.
	if sp.ClusterIP != "" && len(sp.ClusterIPs) == 0 {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	if sp.ClusterIP == "" && len(sp.ClusterIPs) > 0 {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
}

// serviceTrafficDistributions are the values of trafficDistribution, in
// the order Kubernetes' message names them.
var serviceTrafficDistributions = []string{ServiceTrafficDistributionPreferClose,
	ServiceTrafficDistributionPreferSameZone, ServiceTrafficDistributionPreferSameNode}

var serviceTypes = []string{string(ServiceTypeClusterIP), string(ServiceTypeExternalName), string(ServiceTypeLoadBalancer), string(ServiceTypeNodePort)}

// Validate implements Validator.
func (s *Service) Validate() ErrorList {
	var errs ErrorList
	errs = append(errs, validateNameRule(&s.ObjectMeta, IsDNS1035Label)...)
	sp := &s.Spec
	p := NewPath("spec")
	switch sp.Type {
	case ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeLoadBalancer, ServiceTypeExternalName:
	case "":
		errs = append(errs, Required(p.Child("type"), ""))
	default:
		errs = append(errs, NotSupported(p.Child("type"), string(sp.Type), serviceTypes))
	}

	headless := s.IsHeadless()
	if len(sp.Ports) == 0 && !headless && sp.Type != ServiceTypeExternalName {
		errs = append(errs, Required(p.Child("ports"), ""))
	}
	ip := p.Child("clusterIPs").Index(0)
	switch sp.Type {
	case ServiceTypeExternalName:
		if sp.ClusterIP != "" {
			errs = append(errs, Forbidden(p.Child("clusterIPs"), "may not be set for `type=ExternalName`"))
		}
		name := strings.TrimSuffix(sp.ExternalName, ".")
		if name == "" {
			errs = append(errs, Required(p.Child("externalName"), ""))
		} else {
			errs = appendMsgs(errs, p.Child("externalName"), sp.ExternalName, IsDNS1123Subdomain(name))
		}
	case ServiceTypeNodePort, ServiceTypeLoadBalancer:
		if headless {
			errs = append(errs, Invalid(ip, sp.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", sp.Type)))
		}
	}
	if sp.ClusterIP != "" && sp.ClusterIP != ClusterIPNone {
		errs = append(errs, validateIP(sp.ClusterIP, ip)...)
	}
	switch {
	case sp.ClusterIP != "" && len(sp.ClusterIPs) == 0:
		errs = append(errs, Required(p.Child("clusterIPs"), ""))
	case sp.ClusterIP != "" && sp.ClusterIP != sp.ClusterIPs[0]:
		errs = append(errs, Invalid(p.Child("clusterIPs"), sp.ClusterIPs, "first value must match `clusterIP`"))
	case sp.ClusterIP == "" && len(sp.ClusterIPs) > 0:
		errs = append(errs, Invalid(p.Child("clusterIPs"), sp.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	if len(sp.ClusterIPs) > 2 {
		errs = append(errs, Invalid(p.Child("clusterIPs"), sp.ClusterIPs, "may only hold up to 2 values"))
	}
	for i := 1; i < len(sp.ClusterIPs); i++ {
		errs = append(errs, validateIP(sp.ClusterIPs[i], p.Child("clusterIPs").Index(i))...)
	}

	errs = append(errs, validateServicePorts(sp, p.Child("ports"))...)

	switch sp.SessionAffinity {
	case ServiceAffinityNone:
		if sp.SessionAffinityConfig != nil {
			errs = append(errs, Invalid(p.Child("sessionAffinityConfig"), nil, fmt.Sprintf("must not be set when session affinity is %s", ServiceAffinityNone)))
		}
	case ServiceAffinityClientIP:
		tp := p.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds")
		c := sp.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, Required(tp, "must be set when session affinity is ClientIP"))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > 86400 {
			errs = append(errs, Invalid(tp, t, "must be greater than 0 and less than 86400"))
		}
	case "":
		errs = append(errs, Required(p.Child("sessionAffinity"), ""))
	default:
		errs = append(errs, NotSupported(p.Child("sessionAffinity"), string(sp.SessionAffinity), []string{string(ServiceAffinityClientIP), string(ServiceAffinityNone)}))
	}

	if sp.Type != ServiceTypeExternalName {
		errs = append(errs, ValidateLabels(sp.Selector, p.Child("selector"))...)
	}
	for i, e := range sp.ExternalIPs {
		errs = append(errs, validateIP(e, p.Child("externalIPs").Index(i))...)
	}
	if sp.LoadBalancerIP != "" {
		errs = append(errs, validateIP(sp.LoadBalancerIP, p.Child("loadBalancerIP"))...)
	}

	errs = append(errs, s.validateLoadBalancerFields()...)

	etp := p.Child("externalTrafficPolicy")
	switch {
	case sp.ExternalTrafficPolicy == "":
		if s.externallyAccessible() {
			errs = append(errs, Required(etp, ""))
		}
	case !s.externallyAccessible():
		errs = append(errs, Invalid(etp, string(sp.ExternalTrafficPolicy), "may only be set for externally-accessible services"))
	case sp.ExternalTrafficPolicy != ServiceExternalTrafficPolicyCluster && sp.ExternalTrafficPolicy != ServiceExternalTrafficPolicyLocal:
		errs = append(errs, NotSupported(etp, string(sp.ExternalTrafficPolicy), []string{string(ServiceExternalTrafficPolicyCluster), string(ServiceExternalTrafficPolicyLocal)}))
	}
	// A Service that needs a health check node port gets one from the
	// allocator, after validation: an unset one is not an error here.
	hp := p.Child("healthCheckNodePort")
	switch {
	case sp.HealthCheckNodePort == 0:
	case !s.NeedsHealthCheck():
		errs = append(errs, Invalid(hp, sp.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	default:
		for _, m := range IsValidPortNum(int(sp.HealthCheckNodePort)) {
			errs = append(errs, Invalid(hp, sp.HealthCheckNodePort, m))
		}
	}
	itp := p.Child("internalTrafficPolicy")
	switch {
	case sp.InternalTrafficPolicy == nil:
		if sp.Type != ServiceTypeExternalName {
			errs = append(errs, Required(itp, ""))
		}
	case *sp.InternalTrafficPolicy != ServiceInternalTrafficPolicyCluster && *sp.InternalTrafficPolicy != ServiceInternalTrafficPolicyLocal:
		errs = append(errs, NotSupported(itp, string(*sp.InternalTrafficPolicy), []string{string(ServiceInternalTrafficPolicyCluster), string(ServiceInternalTrafficPolicyLocal)}))
	}

	if td := sp.TrafficDistribution; td != nil && !slices.Contains(serviceTrafficDistributions, *td) {
		errs = append(errs, NotSupported(p.Child("trafficDistribution"), *td, serviceTrafficDistributions))
	}

	for i, f := range sp.IPFamilies {
		if f != IPv4Protocol && f != IPv6Protocol {
			errs = append(errs, NotSupported(p.Child("ipFamilies").Index(i), string(f), []string{string(IPv4Protocol), string(IPv6Protocol)}))
		}
	}
	if len(sp.IPFamilies) > 2 || (len(sp.IPFamilies) == 2 && sp.IPFamilies[0] == sp.IPFamilies[1]) {
		errs = append(errs, Invalid(p.Child("ipFamilies"), fmt.Sprint(sp.IPFamilies), "may specify no more than one IP for each IP family"))
	}
	if fp := sp.IPFamilyPolicy; fp != nil {
		switch *fp {
		case IPFamilyPolicySingleStack, IPFamilyPolicyPreferDualStack, IPFamilyPolicyRequireDualStack:
		default:
			errs = append(errs, NotSupported(p.Child("ipFamilyPolicy"), string(*fp), []string{string(IPFamilyPolicyPreferDualStack), string(IPFamilyPolicyRequireDualStack), string(IPFamilyPolicySingleStack)}))
		}
	}
	return errs
}

// validateLoadBalancerFields checks the fields only a LoadBalancer
// Service may have, as Kubernetes' ValidateService.
func (s *Service) validateLoadBalancerFields() ErrorList {
	var errs ErrorList
	sp := &s.Spec
	p := NewPath("spec")
	lb := sp.Type == ServiceTypeLoadBalancer
	const onlyLB = "may only be used when `type` is 'LoadBalancer'"
	if len(sp.LoadBalancerSourceRanges) > 0 {
		rp := p.Child("loadBalancerSourceRanges")
		if !lb {
			errs = append(errs, Forbidden(rp, onlyLB))
		}
		for i, v := range sp.LoadBalancerSourceRanges {
			v = strings.TrimSpace(v)
			if _, err := ParseCIDR(v); err != nil {
				errs = append(errs, Invalid(rp.Index(i), v, invalidCIDRMsg))
			}
		}
	} else if val, ok := s.Annotations[AnnotationLoadBalancerSourceRanges]; ok {
		ap := NewPath("metadata", "annotations").Key(AnnotationLoadBalancerSourceRanges)
		if !lb {
			errs = append(errs, Forbidden(ap, onlyLB))
		}
		if val = strings.TrimSpace(val); val != "" {
			for v := range strings.SplitSeq(val, ",") {
				v = strings.TrimSpace(v)
				if _, err := ParseCIDR(v); err != nil {
					errs = append(errs, Invalid(ap, v, invalidCIDRMsg))
				}
			}
		}
	}
	switch {
	case sp.AllocateLoadBalancerNodePorts != nil && !lb:
		errs = append(errs, Forbidden(p.Child("allocateLoadBalancerNodePorts"), onlyLB))
	case sp.AllocateLoadBalancerNodePorts == nil && lb:
		errs = append(errs, Required(p.Child("allocateLoadBalancerNodePorts"), ""))
	}
	if c := sp.LoadBalancerClass; c != nil {
		cp := p.Child("loadBalancerClass")
		if lb {
			errs = appendMsgs(errs, cp, *c, IsQualifiedName(*c))
		} else {
			errs = append(errs, Forbidden(cp, onlyLB))
		}
	}
	return errs
}

// LoadBalancerSources returns the client ranges the Service's load
// balancer address accepts, from spec.loadBalancerSourceRanges or, when
// that is empty, the AnnotationLoadBalancerSourceRanges annotation, as a
// cloud provider's load balancer reads them: IPv4 ranges only (podkit's
// addresses are IPv4), none when any range is 0.0.0.0/0 or none is given
// (every client). Values validation refused are left out.
func (s *Service) LoadBalancerSources() []netip.Prefix {
	ranges := s.Spec.LoadBalancerSourceRanges
	if len(ranges) == 0 {
		if val := strings.TrimSpace(s.Annotations[AnnotationLoadBalancerSourceRanges]); val != "" {
			ranges = strings.Split(val, ",")
		}
	}
	var out []netip.Prefix
	for _, v := range ranges {
		pfx, err := ParseCIDR(strings.TrimSpace(v))
		if err != nil || !pfx.Addr().Is4() {
			continue
		}
		if pfx.Bits() == 0 {
			return nil
		}
		out = append(out, pfx)
	}
	return out
}

func validateServicePorts(sp *ServiceSpec, p *Path) ErrorList {
	var errs ErrorList
	names := map[string]bool{}
	portProto := map[string]bool{}
	for i, port := range sp.Ports {
		ip := p.Index(i)
		np := ip.Child("name")
		switch {
		case port.Name == "" && len(sp.Ports) > 1:
			errs = append(errs, Required(np, ""))
		case port.Name != "":
			errs = appendMsgs(errs, np, port.Name, IsDNS1123Label(port.Name))
			if names[port.Name] {
				errs = append(errs, Duplicate(np, port.Name))
			}
			names[port.Name] = true
		}
		for _, m := range IsValidPortNum(int(port.Port)) {
			errs = append(errs, Invalid(ip.Child("port"), port.Port, m))
		}
		errs = append(errs, validateProtocol(port.Protocol, ip.Child("protocol"))...)
		if sp.Type != ServiceTypeExternalName {
			errs = append(errs, validatePortNumOrName(port.TargetPort, ip.Child("targetPort"))...)
		}
		if port.AppProtocol != nil {
			errs = appendMsgs(errs, ip.Child("appProtocol"), *port.AppProtocol, IsQualifiedName(*port.AppProtocol))
		}
		if port.NodePort != 0 {
			if sp.Type != ServiceTypeNodePort && sp.Type != ServiceTypeLoadBalancer {
				errs = append(errs, Forbidden(ip.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", sp.Type)))
			}
			for _, m := range IsValidPortNum(int(port.NodePort)) {
				errs = append(errs, Invalid(ip.Child("nodePort"), port.NodePort, m))
			}
		}
		k := fmt.Sprintf("%d/%s", port.Port, port.Protocol)
		if portProto[k] {
			errs = append(errs, Duplicate(ip, k))
		}
		portProto[k] = true
	}
	return errs
}

// ValidateUpdate implements UpdateValidator: once allocated, the primary
// cluster IP does not change (unless the type changes to or from
// ExternalName, or the Service stays headless), nor does the health check
// node port while the Service keeps needing one, nor the load balancer
// class while it stays a LoadBalancer.
func (s *Service) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*Service)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a Service against it")}
	}
	errs := s.validateClusterIPUpdate(o)
	if o.Spec.Type == ServiceTypeLoadBalancer && s.Spec.Type == ServiceTypeLoadBalancer &&
		!sameLoadBalancerClass(o, s) {
		errs = append(errs, Invalid(NewPath("spec", "loadBalancerClass"), s.Spec.LoadBalancerClass, "may not change once set"))
	}
	if o.NeedsHealthCheck() && s.NeedsHealthCheck() && s.Spec.HealthCheckNodePort != o.Spec.HealthCheckNodePort {
		errs = append(errs, Forbidden(NewPath("spec", "healthCheckNodePort"), "field is immutable"))
	}
	return errs
}

func (s *Service) validateClusterIPUpdate(o *Service) ErrorList {
	if o.Spec.Type == ServiceTypeExternalName || s.Spec.Type == ServiceTypeExternalName || (o.IsHeadless() && s.IsHeadless()) {
		return nil
	}
	p := NewPath("spec", "clusterIPs").Index(0)
	switch {
	case len(o.Spec.ClusterIPs) == 0:
		return nil
	case len(s.Spec.ClusterIPs) == 0:
		return ErrorList{Invalid(p, s.Spec.ClusterIPs, "primary clusterIP can not be unset")}
	case s.Spec.ClusterIPs[0] != o.Spec.ClusterIPs[0]:
		return ErrorList{Invalid(p, s.Spec.ClusterIPs, "may not change once set")}
	}
	return nil
}

// PatchAllocatedValues prepares s to replace old, the stored Service, as
// Kubernetes' registry and service strategy do on update. What the cluster
// allocated to old (cluster IPs, node ports, the health check node port)
// is copied into s where s leaves it unset, so re-applying a manifest that
// does not name them keeps them. Fields s kept unchanged from old that its new type does not use are
// cleared (see dropTypeDependentFields), so a read-modify-write that only
// changes the type is valid; the addresses dropped are free once s is
// stored.
func (s *Service) PatchAllocatedValues(old *Service) {
	s.dropTypeDependentFields(old)
	if needsClusterIP(old) && needsClusterIP(s) {
		if s.Spec.ClusterIP == "" {
			s.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(s.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			s.Spec.ClusterIPs = append([]string(nil), old.Spec.ClusterIPs...)
		}
	}
	if old.NeedsHealthCheck() && s.NeedsHealthCheck() && s.Spec.HealthCheckNodePort == 0 {
		s.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
	if !needsNodePort(old) || !needsNodePort(s) {
		return
	}
	used := map[int32]bool{}
	inNew := map[int32]bool{}
	for _, p := range s.Spec.Ports {
		inNew[p.NodePort] = true
	}
	byName := map[string]int32{}
	for _, p := range old.Spec.Ports {
		if p.NodePort != 0 && inNew[p.NodePort] {
			used[p.NodePort] = true
		}
		byName[p.Name] = p.NodePort
	}
	for i := range s.Spec.Ports {
		p := &s.Spec.Ports[i]
		if v := byName[p.Name]; p.NodePort == 0 && v != 0 && !used[v] {
			p.NodePort = v
			used[v] = true
		}
	}
}

// dropTypeDependentFields clears the fields that no longer apply to s's
// type, as Kubernetes' dropTypeDependentFields does, but only those s left
// as old had them: a field the user changed is kept for validation to judge.
// The health check node port goes when the Service no longer needs one
// (its type is no longer LoadBalancer or its policy no longer Local).
// allocateLoadBalancerNodePorts and loadBalancerClass go when it is no
// longer a LoadBalancer.
func (s *Service) dropTypeDependentFields(old *Service) {
	sp, op := &s.Spec, &old.Spec
	if op.Type == ServiceTypeLoadBalancer && sp.Type != ServiceTypeLoadBalancer {
		if a, b := sp.AllocateLoadBalancerNodePorts, op.AllocateLoadBalancerNodePorts; a != nil && b != nil && *a == *b {
			sp.AllocateLoadBalancerNodePorts = nil
		}
		if sameLoadBalancerClass(old, s) {
			sp.LoadBalancerClass = nil
		}
	}
	if needsClusterIP(old) && !needsClusterIP(s) {
		if sp.ClusterIP == op.ClusterIP && slices.Equal(sp.ClusterIPs, op.ClusterIPs) {
			sp.ClusterIP, sp.ClusterIPs = "", nil
		}
		if slices.Equal(sp.IPFamilies, op.IPFamilies) {
			sp.IPFamilies = nil
		}
		if ipFamilyPolicyOf(sp) == ipFamilyPolicyOf(op) {
			sp.IPFamilyPolicy = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(s) && noNewNodePorts(sp, op) {
		for i := range sp.Ports {
			sp.Ports[i].NodePort = 0
		}
	}
	if old.externallyAccessible() && !s.externallyAccessible() && sp.ExternalTrafficPolicy == op.ExternalTrafficPolicy {
		sp.ExternalTrafficPolicy = ""
	}
	if old.NeedsHealthCheck() && !s.NeedsHealthCheck() && sp.HealthCheckNodePort == op.HealthCheckNodePort {
		sp.HealthCheckNodePort = 0
	}
}

func sameLoadBalancerClass(a, b *Service) bool {
	x, y := a.Spec.LoadBalancerClass, b.Spec.LoadBalancerClass
	return x == nil && y == nil || x != nil && y != nil && *x == *y
}

// AllocatesNodePorts reports whether the Service's ports get node ports
// when they name none: a NodePort Service's, and a LoadBalancer one's
// unless allocateLoadBalancerNodePorts is false.
func (s *Service) AllocatesNodePorts() bool {
	switch s.Spec.Type {
	case ServiceTypeNodePort:
		return true
	case ServiceTypeLoadBalancer:
		return s.Spec.AllocateLoadBalancerNodePorts == nil || *s.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func ipFamilyPolicyOf(sp *ServiceSpec) IPFamilyPolicy {
	if sp.IPFamilyPolicy == nil {
		return ""
	}
	return *sp.IPFamilyPolicy
}

// noNewNodePorts reports whether every node port of sp is one of op's:
// ports may be added, removed or changed, as long as no node port is new.
func noNewNodePorts(sp, op *ServiceSpec) bool {
	old := map[int32]bool{}
	for _, p := range op.Ports {
		old[p.NodePort] = true
	}
	for _, p := range sp.Ports {
		if p.NodePort != 0 && !old[p.NodePort] {
			return false
		}
	}
	return true
}
