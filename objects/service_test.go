package objects

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testService() *Service {
	return &Service{
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"},
		Spec: ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []ServicePort{{Name: "http", Port: 80, TargetPort: FromString("http")}},
		},
	}
}

func TestServiceDefault(t *testing.T) {
	s := testService()
	s.Spec.Ports = append(s.Spec.Ports, ServicePort{Name: "dns", Port: 53, Protocol: ProtocolUDP})
	s.Default()
	assert.Equal(t, ServiceTypeClusterIP, s.Spec.Type)
	assert.Equal(t, ServiceAffinityNone, s.Spec.SessionAffinity)
	assert.Equal(t, ProtocolTCP, s.Spec.Ports[0].Protocol)
	assert.Equal(t, ProtocolUDP, s.Spec.Ports[1].Protocol)
	assert.Equal(t, FromString("http"), s.Spec.Ports[0].TargetPort, "an explicit target port is kept")
	assert.Equal(t, FromInt32(53), s.Spec.Ports[1].TargetPort, "the target port defaults to the port")
	assert.Empty(t, s.Spec.ExternalTrafficPolicy, "only externally reachable services get one")
	assert.Equal(t, ServiceInternalTrafficPolicyCluster, *s.Spec.InternalTrafficPolicy)
	assert.Empty(t, s.Validate())

	np := testService()
	np.Spec.Type = ServiceTypeNodePort
	np.Spec.SessionAffinity = ServiceAffinityClientIP
	np.Default()
	assert.Equal(t, ServiceExternalTrafficPolicyCluster, np.Spec.ExternalTrafficPolicy)
	assert.Equal(t, int32(10800), *np.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds)
	assert.Empty(t, np.Validate())

	en := &Service{ObjectMeta: ObjectMeta{Name: "db", Namespace: "default"},
		Spec: ServiceSpec{Type: ServiceTypeExternalName, ExternalName: "db.example.com."}}
	en.Default()
	assert.Nil(t, en.Spec.InternalTrafficPolicy)
	assert.Empty(t, en.Validate())
}

func TestValidateService(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *Service)
		want   []string
	}{
		{"valid", func(*Service) {}, nil},
		{"name must be a DNS-1035 label", func(s *Service) { s.Name = "1web" }, []string{
			`metadata.name: Invalid value: "1web": a DNS-1035 label must consist of*`,
		}},
		{"generated name must be a DNS-1035 label", func(s *Service) { s.Name, s.GenerateName = "", "1web-" }, []string{
			`metadata.generateName: Invalid value: "1web-": a DNS-1035 label must consist of*`,
		}},
		{"valid generateName", func(s *Service) { s.Name, s.GenerateName = "", "web-" }, nil},
		{"ports required", func(s *Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"headless without ports", func(s *Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = ClusterIPNone }, nil},
		{"port names", func(s *Service) {
			s.Spec.Ports = []ServicePort{{Name: "http", Port: 80}, {Port: 81}, {Name: "http", Port: 82}, {Name: "Bad", Port: 83}}
		}, []string{
			"spec.ports[1].name: Required value",
			`spec.ports[2].name: Duplicate value: "http"`,
			`spec.ports[3].name: Invalid value: "Bad": a lowercase RFC 1123 label*`,
		}},
		{"port range", func(s *Service) { s.Spec.Ports[0].Port = 0 }, []string{
			"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
		}},
		{"target port", func(s *Service) { s.Spec.Ports[0].TargetPort = FromInt32(70000) }, []string{
			"spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
		}},
		{"protocol", func(s *Service) { s.Spec.Ports[0].Protocol = "ICMP" }, []string{
			`spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
		}},
		{"duplicate port", func(s *Service) {
			s.Spec.Ports = append(s.Spec.Ports, ServicePort{Name: "other", Port: 80})
		}, []string{`spec.ports[1]: Duplicate value: "80/TCP"`}},
		{"same port other protocol", func(s *Service) {
			s.Spec.Ports = append(s.Spec.Ports, ServicePort{Name: "udp", Port: 80, Protocol: ProtocolUDP})
		}, nil},
		{"nodePort on ClusterIP", func(s *Service) { s.Spec.Ports[0].NodePort = 30080 }, []string{
			"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
		}},
		{"nodePort on NodePort", func(s *Service) {
			s.Spec.Type = ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
		}, nil},
		{"clusterIPs given alone", func(s *Service) { s.Spec.ClusterIPs = []string{"10.0.0.1"} }, nil},
		{"clusterIPs disagree", func(s *Service) { s.Spec.ClusterIP = "10.0.0.1"; s.Spec.ClusterIPs = []string{"10.0.0.2"} }, []string{
			"spec.clusterIPs: Invalid value: []string{\"10.0.0.2\"}: first value must match `clusterIP`",
		}},
		{"clusterIP", func(s *Service) { s.Spec.ClusterIP = "10.0.0.300" }, []string{
			`spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
		}},
		{"headless LoadBalancer", func(s *Service) { s.Spec.Type = ServiceTypeLoadBalancer; s.Spec.ClusterIP = ClusterIPNone }, []string{
			`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services`,
		}},
		{"type", func(s *Service) { s.Spec.Type = "Internal" }, []string{
			`spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
		}},
		{"session affinity", func(s *Service) { s.Spec.SessionAffinity = "Cookie" }, []string{
			`spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", "None"`,
		}},
		{"session affinity timeout", func(s *Service) {
			s.Spec.SessionAffinity = ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &SessionAffinityConfig{ClientIP: &ClientIPConfig{TimeoutSeconds: ptrOf[int32](100000)}}
		}, []string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 100000: must be greater than 0 and less than 86400"}},
		{"ExternalName needs a name", func(s *Service) { s.Spec.Type = ServiceTypeExternalName }, []string{
			"spec.externalName: Required value",
		}},
		{"ExternalName with clusterIP", func(s *Service) {
			s.Spec.Type = ServiceTypeExternalName
			s.Spec.ExternalName = "example.com"
			s.Spec.ClusterIP = "10.0.0.1"
		}, []string{"spec.clusterIPs: Forbidden: may not be set for `type=ExternalName`"}},
		{"selector", func(s *Service) { s.Spec.Selector = map[string]string{"app": "a b"} }, []string{
			`spec.selector: Invalid value: "a b": a valid label must be*`,
		}},
		{"external traffic policy on ClusterIP", func(s *Service) { s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal }, []string{
			`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`,
		}},
		{"healthCheckNodePort on LoadBalancer, Local", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 30100
		}, nil},
		{"healthCheckNodePort left to the allocator", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
		}, nil},
		{"healthCheckNodePort out of range", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 70000
		}, []string{"spec.healthCheckNodePort: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"healthCheckNodePort with policy Cluster", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.HealthCheckNodePort = 30100
		}, []string{"spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}},
		{"healthCheckNodePort on NodePort, Local", func(s *Service) {
			s.Spec.Type = ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 30100
		}, []string{"spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}},
		{"internal traffic policy", func(s *Service) { s.Spec.InternalTrafficPolicy = ptrTo[ServiceInternalTrafficPolicy]("Node") }, []string{
			`spec.internalTrafficPolicy: Unsupported value: "Node": supported values: "Cluster", "Local"`,
		}},
		{"traffic distribution PreferSameZone", func(s *Service) { s.Spec.TrafficDistribution = ptrOf(ServiceTrafficDistributionPreferSameZone) }, nil},
		{"traffic distribution PreferSameNode", func(s *Service) { s.Spec.TrafficDistribution = ptrOf(ServiceTrafficDistributionPreferSameNode) }, nil},
		{"traffic distribution PreferClose, the deprecated alias", func(s *Service) { s.Spec.TrafficDistribution = ptrOf(ServiceTrafficDistributionPreferClose) }, nil},
		{"traffic distribution on NodePort", func(s *Service) {
			s.Spec.Type = ServiceTypeNodePort
			s.Spec.TrafficDistribution = ptrOf(ServiceTrafficDistributionPreferSameNode)
		}, nil},
		// Kubernetes accepts the field on every type; an ExternalName
		// Service has no endpoints for it to apply to.
		{"traffic distribution on ExternalName", func(s *Service) {
			s.Spec.Type, s.Spec.ExternalName = ServiceTypeExternalName, "db.example.com"
			s.Spec.TrafficDistribution = ptrOf(ServiceTrafficDistributionPreferSameZone)
		}, nil},
		{"traffic distribution on a headless Service", func(s *Service) {
			s.Spec.ClusterIP = ClusterIPNone
			s.Spec.TrafficDistribution = ptrOf(ServiceTrafficDistributionPreferClose)
		}, nil},
		{"traffic distribution unknown", func(s *Service) { s.Spec.TrafficDistribution = ptrOf("PreferSameRack") }, []string{
			`spec.trafficDistribution: Unsupported value: "PreferSameRack": supported values: "PreferClose", "PreferSameZone", "PreferSameNode"`,
		}},
		{"traffic distribution is case-sensitive", func(s *Service) { s.Spec.TrafficDistribution = ptrOf("prefersamezone") }, []string{
			`spec.trafficDistribution: Unsupported value: "prefersamezone": supported values: "PreferClose", "PreferSameZone", "PreferSameNode"`,
		}},
		{"traffic distribution empty", func(s *Service) { s.Spec.TrafficDistribution = ptrOf("") }, []string{
			`spec.trafficDistribution: Unsupported value: "": supported values: "PreferClose", "PreferSameZone", "PreferSameNode"`,
		}},
		{"load balancer fields", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.AllocateLoadBalancerNodePorts = ptrTo(false)
			s.Spec.LoadBalancerClass = ptrOf("example.com/internal-vip")
			s.Spec.LoadBalancerSourceRanges = []string{" 10.0.0.0/8", "192.168.1.7/32 ", "2001:db8::/64"}
		}, nil},
		{"load balancer fields on ClusterIP", func(s *Service) {
			s.Spec.AllocateLoadBalancerNodePorts = ptrTo(true)
			s.Spec.LoadBalancerClass = ptrOf("internal-vip")
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		}, []string{
			"spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
			"spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
			"spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",
		}},
		{"source ranges annotation", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Annotations = map[string]string{AnnotationLoadBalancerSourceRanges: " 10.0.0.0/8, 192.168.0.0/16 "}
		}, nil},
		{"source ranges annotation invalid", func(s *Service) {
			s.Annotations = map[string]string{AnnotationLoadBalancerSourceRanges: "10.0.0.0/8,10.0.0.1"}
		}, []string{
			"metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Forbidden: may only be used when `type` is 'LoadBalancer'",
			`metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]: Invalid value: "10.0.0.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
		}},
		{"source ranges annotation beside the field: the field counts", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
			s.Annotations = map[string]string{AnnotationLoadBalancerSourceRanges: "not a range"}
		}, nil},
		{"load balancer fields invalid", func(s *Service) {
			s.Spec.Type = ServiceTypeLoadBalancer
			s.Spec.LoadBalancerClass = ptrOf("example.com/Internal VIP")
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/33", "10.1.2.3"}
		}, []string{
			`spec.loadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
			`spec.loadBalancerSourceRanges[1]: Invalid value: "10.1.2.3": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)`,
			`spec.loadBalancerClass: Invalid value: "example.com/Internal VIP": name part must consist of*`,
		}},
		{"IPs", func(s *Service) {
			s.Spec.ExternalIPs = []string{"192.168.1.1", "x"}
			s.Spec.IPFamilies = []IPFamily{"IPv5"}
		}, []string{
			`spec.externalIPs[1]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)`,
			`spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testService()
			tc.mutate(s)
			s.Default()
			assertFieldErrors(t, tc.want, s.Validate())
		})
	}
}

func TestServiceValidateUpdate(t *testing.T) {
	old := testService()
	old.Default()
	s := old.DeepCopy()
	s.Spec.ClusterIP = "10.96.0.10"
	assert.Empty(t, s.ValidateUpdate(old), "the cluster IP is set once")

	s.Default()
	s2 := s.DeepCopy()
	s2.Spec.ClusterIP = "10.96.0.11"
	s2.Spec.ClusterIPs = []string{"10.96.0.11"}
	assertFieldErrors(t, []string{`spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set`}, s2.ValidateUpdate(s))

	s4 := s.DeepCopy()
	s4.Spec.ClusterIP, s4.Spec.ClusterIPs = "", nil
	assertFieldErrors(t, []string{`spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset`}, s4.ValidateUpdate(s))
	s4.PatchAllocatedValues(s)
	assert.Empty(t, s4.ValidateUpdate(s), "re-applying a manifest without clusterIP keeps the allocated one")

	s3 := s.DeepCopy()
	s3.Spec.Type = ServiceTypeExternalName
	s3.Spec.ClusterIP = ""
	assert.Empty(t, s3.ValidateUpdate(s), "changing to ExternalName releases the IP")

	err := NewScheme().ValidateUpdate(s2, s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `Service "web" is invalid: `)

	lb := s.DeepCopy()
	lb.Spec.Type = ServiceTypeLoadBalancer
	lb.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
	lb.Spec.HealthCheckNodePort = 30100
	moved := lb.DeepCopy()
	moved.Spec.HealthCheckNodePort = 30101
	assertFieldErrors(t, []string{"spec.healthCheckNodePort: Forbidden: field is immutable"}, moved.ValidateUpdate(lb))
	unset := lb.DeepCopy()
	unset.Spec.HealthCheckNodePort = 0
	unset.PatchAllocatedValues(lb)
	assert.Equal(t, int32(30100), unset.Spec.HealthCheckNodePort, "re-applying a manifest without healthCheckNodePort keeps it")
	assert.Empty(t, unset.ValidateUpdate(lb))
	cluster := s.DeepCopy()
	cluster.Spec.Type = ServiceTypeLoadBalancer
	cluster.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyCluster
	toLocal := cluster.DeepCopy()
	toLocal.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
	toLocal.Spec.HealthCheckNodePort = 30102
	assert.Empty(t, toLocal.ValidateUpdate(cluster), "a Service that starts needing one may name its port")
}

// A LoadBalancer Service allocates node ports unless told not to; its
// class may not change; its source ranges are read as kube-proxy reads
// them; the load balancer fields go when it stops being one.
func TestServiceLoadBalancerFields(t *testing.T) {
	lb := testService()
	lb.Spec.Type = ServiceTypeLoadBalancer
	lb.Default()
	require.NotNil(t, lb.Spec.AllocateLoadBalancerNodePorts)
	assert.True(t, *lb.Spec.AllocateLoadBalancerNodePorts, "defaulted to true")
	assert.True(t, lb.AllocatesNodePorts())
	noPorts := lb.DeepCopy()
	noPorts.Spec.AllocateLoadBalancerNodePorts = ptrTo(false)
	assert.False(t, noPorts.AllocatesNodePorts())
	cip := testService()
	cip.Default()
	assert.Nil(t, cip.Spec.AllocateLoadBalancerNodePorts, "only a LoadBalancer gets it")
	assert.False(t, cip.AllocatesNodePorts())

	lb.Spec.LoadBalancerSourceRanges = []string{" 10.0.0.0/8", "192.168.1.7/24", "2001:db8::/64"}
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.0/24")}, lb.LoadBalancerSources(),
		"IPv4 ranges, masked")
	lb.Spec.LoadBalancerSourceRanges = append(lb.Spec.LoadBalancerSourceRanges, "0.0.0.0/0")
	assert.Empty(t, lb.LoadBalancerSources(), "0.0.0.0/0 admits every client")
	annotated := lb.DeepCopy()
	annotated.Spec.LoadBalancerSourceRanges = nil
	annotated.Annotations = map[string]string{AnnotationLoadBalancerSourceRanges: "10.1.0.0/16, 10.2.0.0/16"}
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.2.0.0/16")}, annotated.LoadBalancerSources(),
		"the annotation, where the field is empty")
	annotated.Spec.LoadBalancerSourceRanges = []string{"10.3.0.0/16"}
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.3.0.0/16")}, annotated.LoadBalancerSources(), "the field first")

	classed := lb.DeepCopy()
	classed.Spec.LoadBalancerClass = ptrOf("example.com/internal-vip")
	assertFieldErrors(t, []string{`spec.loadBalancerClass: Invalid value: "example.com/internal-vip": may not change once set`}, classed.ValidateUpdate(lb))
	other := classed.DeepCopy()
	other.Spec.LoadBalancerClass = ptrOf("example.com/other")
	assertFieldErrors(t, []string{`spec.loadBalancerClass: Invalid value: "example.com/other": may not change once set`}, other.ValidateUpdate(classed))
	assert.Empty(t, classed.ValidateUpdate(classed.DeepCopy()))

	// To ClusterIP in a read-modify-write: the fields that were the old
	// type's go, so the update is valid.
	toCIP := classed.DeepCopy()
	toCIP.Spec.Type = ServiceTypeClusterIP
	toCIP.Spec.LoadBalancerSourceRanges = nil
	toCIP.PatchAllocatedValues(classed)
	assert.Nil(t, toCIP.Spec.AllocateLoadBalancerNodePorts)
	assert.Nil(t, toCIP.Spec.LoadBalancerClass)
	assert.Empty(t, toCIP.Validate())
	assert.Empty(t, toCIP.ValidateUpdate(classed))
	// One the user changed stays for validation to refuse.
	changed := classed.DeepCopy()
	changed.Spec.Type = ServiceTypeClusterIP
	changed.Spec.LoadBalancerSourceRanges = nil
	changed.Spec.LoadBalancerClass = ptrOf("example.com/other")
	changed.PatchAllocatedValues(classed)
	assert.Nil(t, changed.Spec.AllocateLoadBalancerNodePorts, "left as it was: dropped")
	assertFieldErrors(t, []string{"spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"},
		append(changed.Validate(), changed.ValidateUpdate(classed)...))
}

func TestServicePatchAllocatedValues(t *testing.T) {
	old := testService()
	old.Spec.Type = ServiceTypeNodePort
	old.Spec.ClusterIP = "10.96.0.10"
	old.Spec.ClusterIPs = []string{"10.96.0.10"}
	old.Spec.Ports = []ServicePort{{Name: "http", Port: 80, NodePort: 30080}, {Name: "https", Port: 443, NodePort: 30443}}

	s := testService()
	s.Spec.Type = ServiceTypeNodePort
	s.Spec.Ports = []ServicePort{{Name: "http", Port: 8080}, {Name: "https", Port: 443, NodePort: 30080}, {Name: "new", Port: 9000}}
	s.PatchAllocatedValues(old)
	assert.Equal(t, "10.96.0.10", s.Spec.ClusterIP)
	assert.Equal(t, []string{"10.96.0.10"}, s.Spec.ClusterIPs)
	assert.Equal(t, int32(0), s.Spec.Ports[0].NodePort, "30080 is now used by another port")
	assert.Equal(t, int32(30080), s.Spec.Ports[1].NodePort, "an explicit node port is kept")
	assert.Equal(t, int32(0), s.Spec.Ports[2].NodePort)

	s = testService()
	s.Spec.Type = ServiceTypeNodePort
	s.Spec.Ports = []ServicePort{{Name: "https", Port: 443}}
	s.PatchAllocatedValues(old)
	assert.Equal(t, int32(30443), s.Spec.Ports[0].NodePort)

	s = testService() // ClusterIP: node ports are not carried over
	s.PatchAllocatedValues(old)
	assert.Equal(t, "10.96.0.10", s.Spec.ClusterIP)
	assert.Equal(t, int32(0), s.Spec.Ports[0].NodePort)
}

// Changing a Service's type in a read-modify-write clears the fields the
// new type does not use, unless the user changed them too, as Kubernetes'
// service strategy does on update.
func TestServiceTypeChange(t *testing.T) {
	stored := func(typ ServiceType) *Service {
		s := testService()
		s.UID, s.ResourceVersion = "u1", "5"
		s.Spec.Type = typ
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
		s.Spec.IPFamilies = []IPFamily{IPv4Protocol}
		s.Spec.IPFamilyPolicy = ptrTo(IPFamilyPolicySingleStack)
		if typ == ServiceTypeNodePort || typ == ServiceTypeLoadBalancer {
			s.Spec.Ports[0].NodePort = 30080
		}
		s.Default()
		return s
	}
	storedLocal := func() *Service {
		s := stored(ServiceTypeLoadBalancer)
		s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = 30100
		return s
	}
	withExternalIP := testService()
	withExternalIP.Spec.ExternalIPs = []string{"192.168.1.1"}
	withExternalIP.Spec.ClusterIP = "10.96.0.10"
	withExternalIP.Default()
	require.Equal(t, ServiceExternalTrafficPolicyCluster, withExternalIP.Spec.ExternalTrafficPolicy)
	cases := []struct {
		name    string
		old     *Service
		mutate  func(*Service)
		want    []string // validation errors
		changed func(t *testing.T, s *Service)
	}{
		{"NodePort to ClusterIP", stored(ServiceTypeNodePort), func(s *Service) { s.Spec.Type = ServiceTypeClusterIP }, nil,
			func(t *testing.T, s *Service) {
				assert.Equal(t, int32(0), s.Spec.Ports[0].NodePort, "the node port is released")
				assert.Empty(t, s.Spec.ExternalTrafficPolicy)
				assert.Equal(t, []string{"10.96.0.10"}, s.Spec.ClusterIPs, "the cluster IP is kept")
			}},
		{"LoadBalancer to ClusterIP, type unset", stored(ServiceTypeLoadBalancer), func(s *Service) { s.Spec.Type = "" }, nil,
			func(t *testing.T, s *Service) {
				assert.Equal(t, ServiceTypeClusterIP, s.Spec.Type)
				assert.Equal(t, int32(0), s.Spec.Ports[0].NodePort)
				assert.Empty(t, s.Spec.ExternalTrafficPolicy)
			}},
		{"LoadBalancer to NodePort keeps node ports", stored(ServiceTypeLoadBalancer), func(s *Service) { s.Spec.Type = ServiceTypeNodePort }, nil,
			func(t *testing.T, s *Service) {
				assert.Equal(t, int32(30080), s.Spec.Ports[0].NodePort)
				assert.Equal(t, ServiceExternalTrafficPolicyCluster, s.Spec.ExternalTrafficPolicy)
			}},
		{"ClusterIP to ExternalName", stored(ServiceTypeClusterIP), func(s *Service) {
			s.Spec.Type = ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
		}, nil, func(t *testing.T, s *Service) {
			assert.Empty(t, s.Spec.ClusterIP)
			assert.Nil(t, s.Spec.ClusterIPs)
			assert.Nil(t, s.Spec.IPFamilies)
			assert.Nil(t, s.Spec.IPFamilyPolicy)
		}},
		{"NodePort to ExternalName", stored(ServiceTypeNodePort), func(s *Service) {
			s.Spec.Type = ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
		}, nil, func(t *testing.T, s *Service) {
			assert.Empty(t, s.Spec.ClusterIPs)
			assert.Equal(t, int32(0), s.Spec.Ports[0].NodePort)
			assert.Empty(t, s.Spec.ExternalTrafficPolicy)
		}},
		{"external IPs removed", withExternalIP, func(s *Service) { s.Spec.ExternalIPs = nil }, nil,
			func(t *testing.T, s *Service) { assert.Empty(t, s.Spec.ExternalTrafficPolicy) }},
		{"a new node port is kept", stored(ServiceTypeNodePort), func(s *Service) {
			s.Spec.Type = ServiceTypeClusterIP
			s.Spec.Ports[0].NodePort = 30081
		}, []string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}, nil},
		{"a changed externalTrafficPolicy is kept", stored(ServiceTypeNodePort), func(s *Service) {
			s.Spec.Type = ServiceTypeClusterIP
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyLocal
		}, []string{`spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services`}, nil},
		{"Local to Cluster releases the health check node port", storedLocal(), func(s *Service) {
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyCluster
		}, nil, func(t *testing.T, s *Service) {
			assert.Equal(t, int32(0), s.Spec.HealthCheckNodePort)
			assert.Equal(t, int32(30080), s.Spec.Ports[0].NodePort)
		}},
		{"LoadBalancer to NodePort releases the health check node port", storedLocal(), func(s *Service) {
			s.Spec.Type = ServiceTypeNodePort
		}, nil, func(t *testing.T, s *Service) {
			assert.Equal(t, int32(0), s.Spec.HealthCheckNodePort)
			assert.Equal(t, ServiceExternalTrafficPolicyLocal, s.Spec.ExternalTrafficPolicy)
		}},
		{"LoadBalancer to ClusterIP releases the health check node port", storedLocal(), func(s *Service) {
			s.Spec.Type = ServiceTypeClusterIP
		}, nil, func(t *testing.T, s *Service) {
			assert.Equal(t, int32(0), s.Spec.HealthCheckNodePort)
			assert.Empty(t, s.Spec.ExternalTrafficPolicy)
		}},
		{"a changed healthCheckNodePort is kept", storedLocal(), func(s *Service) {
			s.Spec.ExternalTrafficPolicy = ServiceExternalTrafficPolicyCluster
			s.Spec.HealthCheckNodePort = 30101
		}, []string{"spec.healthCheckNodePort: Invalid value: 30101: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"}, nil},
		{"a changed clusterIP is kept", stored(ServiceTypeClusterIP), func(s *Service) {
			s.Spec.Type = ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
		}, []string{"spec.clusterIPs: Forbidden: may not be set for `type=ExternalName`"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := c.old
			s := old.DeepCopy()
			c.mutate(s)
			// As the orchestrator admits an update.
			s.PatchAllocatedValues(old)
			s.Default()
			errs := append(s.Validate(), s.ValidateUpdate(old)...)
			assertFieldErrors(t, c.want, errs)
			if c.changed != nil {
				c.changed(t, s)
			}
		})
	}
}

func TestServiceManifest(t *testing.T) {
	const manifest = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, nodePort: 30080, appProtocol: http}
  - {name: https, port: 443, targetPort: 8443, protocol: TCP}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  externalTrafficPolicy: Local
  healthCheckNodePort: 30100
  internalTrafficPolicy: Cluster
  trafficDistribution: PreferSameNode
  publishNotReadyAddresses: true
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  loadBalancerIP: 192.168.1.10
status:
  loadBalancer:
    ingress: [{ip: 192.168.1.10, ports: [{port: 80, protocol: TCP}]}]
`
	objs, err := NewScheme().DecodeBytes([]byte(manifest))
	require.NoError(t, err)
	s := objs[0].(*Service)
	s.Default()
	assert.Empty(t, s.Validate())
	assert.Equal(t, FromString("http"), s.Spec.Ports[0].TargetPort)
	assert.Equal(t, "192.168.1.10", s.Status.LoadBalancer.Ingress[0].IP)
	assert.Equal(t, int32(600), *s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds)
	assert.Equal(t, int32(30100), s.Spec.HealthCheckNodePort)
	assert.Equal(t, ServiceTrafficDistributionPreferSameNode, *s.Spec.TrafficDistribution)
	c := s.DeepCopy()
	*c.Spec.TrafficDistribution = ServiceTrafficDistributionPreferSameZone
	assert.Equal(t, ServiceTrafficDistributionPreferSameNode, *s.Spec.TrafficDistribution, "a deep copy has its own trafficDistribution")
}
