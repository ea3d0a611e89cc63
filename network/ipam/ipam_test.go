package ipam_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/network/ipam"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// stores runs f against a store with the allocator's indexes and one
// without, since the allocator must give the same answers either way.
func stores(t *testing.T, f func(t *testing.T, st store.Store)) {
	for _, indexed := range []bool{true, false} {
		t.Run(fmt.Sprintf("indexed=%v", indexed), func(t *testing.T) {
			opts := []memdb.Option{memdb.WithScheme(objects.NewScheme())}
			if indexed {
				for _, ix := range ipam.Indexes() {
					opts = append(opts, memdb.WithIndex(ix))
				}
			}
			st, err := memdb.New(opts...)
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			f(t, st)
		})
	}
}

func svc(name string, mod ...func(*objects.Service)) *objects.Service {
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []objects.ServicePort{{Port: 80}}}}
	for _, m := range mod {
		m(s)
	}
	return s
}

func clusterIP(ip string) func(*objects.Service) {
	return func(s *objects.Service) { s.Spec.ClusterIP = ip }
}

func nodePort(ports ...int32) func(*objects.Service) {
	return func(s *objects.Service) {
		s.Spec.Type = objects.ServiceTypeNodePort
		s.Spec.Ports = nil
		for i, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, objects.ServicePort{Name: fmt.Sprintf("p%d", i), Port: int32(80 + i), NodePort: p})
		}
	}
}

// create admits s as the orchestrator does: default, validate, allocate,
// store, all in one transaction.
func create(st store.Store, a *ipam.Allocator, s *objects.Service) error {
	return st.Update(context.Background(), func(tx store.Tx) error {
		st.Scheme().Default(s)
		if err := st.Scheme().Validate(s); err != nil {
			return err
		}
		if err := a.Allocate(tx, s, nil); err != nil {
			return err
		}
		return tx.Create(s)
	})
}

func remove(t *testing.T, st store.Store, name string) {
	t.Helper()
	require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Service", objects.Key{Namespace: "default", Name: name}, store.DeleteOptions{})
		return err
	}))
}

func TestClusterIPAllocation(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New(ipam.WithServiceCIDR("10.0.0.0/29"))
		require.NoError(t, err)
		cidr := netip.MustParsePrefix("10.0.0.0/29")
		seen := map[string]bool{}
		for i := range 6 {
			s := svc(fmt.Sprintf("s%d", i))
			require.NoError(t, create(st, a, s))
			ip := netip.MustParseAddr(s.Spec.ClusterIP)
			assert.True(t, cidr.Contains(ip), ip)
			assert.NotEqual(t, "10.0.0.0", ip.String())
			assert.NotEqual(t, "10.0.0.7", ip.String())
			assert.Equal(t, []string{s.Spec.ClusterIP}, s.Spec.ClusterIPs)
			assert.False(t, seen[s.Spec.ClusterIP], "allocated twice: %s", ip)
			seen[s.Spec.ClusterIP] = true
		}
		err = create(st, a, svc("full"))
		assert.ErrorIs(t, err, ipam.ErrFull)

		// Deleting a Service releases its address at once.
		var s3 objects.Service
		require.NoError(t, st.View(context.Background(), func(tx store.ReadTx) error {
			o, err := tx.Get("Service", objects.Key{Namespace: "default", Name: "s3"})
			if err == nil {
				s3 = *o.(*objects.Service)
			}
			return err
		}))
		remove(t, st, "s3")
		s := svc("again")
		require.NoError(t, create(st, a, s))
		assert.Equal(t, s3.Spec.ClusterIP, s.Spec.ClusterIP)
	})
}

func TestExplicitClusterIP(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New(ipam.WithServiceCIDR("10.0.0.0/24"))
		require.NoError(t, err)
		s := svc("a", clusterIP("10.0.0.10"))
		require.NoError(t, create(st, a, s))
		assert.Equal(t, "10.0.0.10", s.Spec.ClusterIP)

		err = create(st, a, svc("b", clusterIP("10.0.0.10")))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Equal(t, `Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.0.0.10"}: failed to allocate IP 10.0.0.10: provided IP is already allocated`, err.Error())

		err = create(st, a, svc("c", clusterIP("10.1.0.10")))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Contains(t, err.Error(), "the provided IP (10.1.0.10) is not in the valid range. The range of valid IPs is 10.0.0.0/24")

		// A new allocator over the same store knows what is taken.
		b, err := ipam.New(ipam.WithServiceCIDR("10.0.0.0/24"))
		require.NoError(t, err)
		assert.ErrorIs(t, create(st, b, svc("d", clusterIP("10.0.0.10"))), objects.ErrInvalid)

		// Updating a Service keeps its own address.
		require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
			old, err := tx.Get("Service", s.Key())
			if err != nil {
				return err
			}
			upd := old.DeepCopyObject().(*objects.Service)
			upd.Labels = map[string]string{"x": "y"}
			if err := b.Allocate(tx, upd, old.(*objects.Service)); err != nil {
				return err
			}
			return tx.Update(upd)
		}))
	})
}

func TestHeadlessAndExternalNameGetNoAddress(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New()
		require.NoError(t, err)
		h := svc("h", clusterIP(objects.ClusterIPNone))
		require.NoError(t, create(st, a, h))
		assert.Equal(t, objects.ClusterIPNone, h.Spec.ClusterIP)
		e := svc("e", func(s *objects.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Selector = objects.ServiceTypeExternalName, "example.com", nil
		})
		require.NoError(t, create(st, a, e))
		assert.Empty(t, e.Spec.ClusterIP)
	})
}

func TestNodePorts(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New(ipam.WithNodePortRange("30000-30002"))
		require.NoError(t, err)
		s := svc("a", nodePort(30001, 0))
		require.NoError(t, create(st, a, s))
		assert.Equal(t, int32(30001), s.Spec.Ports[0].NodePort)
		assert.Contains(t, []int32{30000, 30002}, s.Spec.Ports[1].NodePort)
		assert.NotEmpty(t, s.Spec.ClusterIP)

		err = create(st, a, svc("b", nodePort(30001)))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Equal(t, `Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated`, err.Error())
		err = create(st, a, svc("c", nodePort(31000)))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Contains(t, err.Error(), "provided port is not in the valid range. The range of valid ports is 30000-30002")

		lb := svc("lb", nodePort(0), func(s *objects.Service) { s.Spec.Type = objects.ServiceTypeLoadBalancer })
		require.NoError(t, create(st, a, lb))
		assert.NotZero(t, lb.Spec.Ports[0].NodePort)
		err = create(st, a, svc("d", nodePort(0)))
		assert.ErrorIs(t, err, ipam.ErrFull)

		remove(t, st, "lb")
		require.NoError(t, create(st, a, svc("d", nodePort(0))))
	})
}

// A LoadBalancer Service with allocateLoadBalancerNodePorts false gets no
// node port it does not name; one it names is allocated.
func TestLoadBalancerWithoutNodePorts(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New(ipam.WithNodePortRange("30000-30002"))
		require.NoError(t, err)
		lb := func(name string, ports ...int32) *objects.Service {
			return svc(name, nodePort(ports...), func(s *objects.Service) {
				s.Spec.Type = objects.ServiceTypeLoadBalancer
				s.Spec.AllocateLoadBalancerNodePorts = new(false)
			})
		}
		s := lb("a", 0, 30001)
		require.NoError(t, create(st, a, s))
		assert.Equal(t, int32(0), s.Spec.Ports[0].NodePort)
		assert.Equal(t, int32(30001), s.Spec.Ports[1].NodePort)
		assert.NotEmpty(t, s.Spec.ClusterIP)
		err = create(st, a, lb("b", 30001))
		require.ErrorIs(t, err, objects.ErrInvalid, "the node port it names is held")
		// Two ports are left for Services that allocate them.
		require.NoError(t, create(st, a, svc("c", nodePort(0, 0))))
		require.NoError(t, create(st, a, lb("d", 0, 0)))
	})
}

func TestNodePortSharedAcrossProtocols(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New()
		require.NoError(t, err)
		s := svc("dns", func(s *objects.Service) {
			s.Spec.Type = objects.ServiceTypeNodePort
			s.Spec.Ports = []objects.ServicePort{
				{Name: "tcp", Port: 53, Protocol: objects.ProtocolTCP},
				{Name: "udp", Port: 53, Protocol: objects.ProtocolUDP},
			}
		})
		require.NoError(t, create(st, a, s))
		assert.Equal(t, s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort)
	})
}

func TestOptions(t *testing.T) {
	for _, opt := range []ipam.Option{
		ipam.WithServiceCIDR("nonsense"), ipam.WithServiceCIDR("fd00::/64"), ipam.WithServiceCIDR("10.0.0.0/31"),
		ipam.WithNodePortRange("3-2"), ipam.WithNodePortRange("30000"), ipam.WithNodePortRange("0-10"),
	} {
		_, err := ipam.New(opt)
		assert.Error(t, err)
	}
	a, err := ipam.New()
	require.NoError(t, err)
	assert.Equal(t, "10.96.0.0/12", a.ServiceCIDR().String())
	first, last := a.NodePortRange()
	assert.Equal(t, [2]int32{30000, 32767}, [2]int32{first, last})
	assert.True(t, errors.Is(fmt.Errorf("x: %w", ipam.ErrFull), ipam.ErrFull))
}

// IP family fields are defaulted and checked as Kubernetes' API server
// does on a cluster whose one family is IPv4.
func TestIPFamilies(t *testing.T) {
	policy := func(p objects.IPFamilyPolicy) func(*objects.Service) {
		return func(s *objects.Service) { s.Spec.IPFamilyPolicy = &p }
	}
	families := func(fs ...objects.IPFamily) func(*objects.Service) {
		return func(s *objects.Service) { s.Spec.IPFamilies = fs }
	}
	clusterIPs := func(ips ...string) func(*objects.Service) {
		return func(s *objects.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = ips[0], ips }
	}
	selectorless := func(s *objects.Service) { s.Spec.Selector = nil }
	v4, v6 := objects.IPv4Protocol, objects.IPv6Protocol
	for _, tc := range []struct {
		name       string
		mod        []func(*objects.Service)
		families   []objects.IPFamily
		policy     objects.IPFamilyPolicy
		clusterIPs int
		err        string
	}{
		{name: "allocated", families: []objects.IPFamily{v4}, policy: objects.IPFamilyPolicySingleStack, clusterIPs: 1},
		{name: "explicit cluster IP", mod: []func(*objects.Service){clusterIP("10.0.0.10")},
			families: []objects.IPFamily{v4}, policy: objects.IPFamilyPolicySingleStack, clusterIPs: 1},
		{name: "headless", mod: []func(*objects.Service){clusterIP(objects.ClusterIPNone)},
			families: []objects.IPFamily{v4}, policy: objects.IPFamilyPolicySingleStack},
		{name: "headless without selector", mod: []func(*objects.Service){clusterIP(objects.ClusterIPNone), selectorless},
			families: []objects.IPFamily{v4, v6}, policy: objects.IPFamilyPolicyRequireDualStack},
		{name: "headless without selector, single stack", mod: []func(*objects.Service){clusterIP(objects.ClusterIPNone), selectorless, policy(objects.IPFamilyPolicySingleStack)},
			families: []objects.IPFamily{v4}, policy: objects.IPFamilyPolicySingleStack},
		{name: "prefer dual stack", mod: []func(*objects.Service){policy(objects.IPFamilyPolicyPreferDualStack)},
			families: []objects.IPFamily{v4}, policy: objects.IPFamilyPolicyPreferDualStack, clusterIPs: 1},
		{name: "IPv6 family", mod: []func(*objects.Service){families(v6)},
			err: `spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`},
		{name: "require dual stack", mod: []func(*objects.Service){policy(objects.IPFamilyPolicyRequireDualStack)},
			err: `spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`},
		{name: "headless, require dual stack", mod: []func(*objects.Service){clusterIP(objects.ClusterIPNone), policy(objects.IPFamilyPolicyRequireDualStack)},
			err: `spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`},
		{name: "two IPv4 cluster IPs", mod: []func(*objects.Service){clusterIPs("10.0.0.10", "10.0.0.11"), policy(objects.IPFamilyPolicyPreferDualStack)},
			err: `spec.clusterIPs: Invalid value: []string{"10.0.0.10", "10.0.0.11"}: may specify no more than one IP for each IP family`},
		{name: "two cluster IPs, single stack", mod: []func(*objects.Service){clusterIPs("10.0.0.10", "fd00::10")},
			err: `spec.ipFamilyPolicy: Invalid value: "SingleStack": must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified`},
		{name: "IPv6 cluster IP", mod: []func(*objects.Service){clusterIPs("10.0.0.10", "fd00::10"), policy(objects.IPFamilyPolicyPreferDualStack)},
			err: `spec.clusterIPs[1]: Invalid value: []string{"10.0.0.10", "fd00::10"}: IPv6 is not configured on this cluster`},
		{name: "cluster IP of another family", mod: []func(*objects.Service){clusterIP("10.0.0.10"), families(v6)},
			err: "spec.clusterIPs[0]: Invalid value: \"10.0.0.10\": expected an IPv6 value as indicated by `ipFamilies[0]`"},
		{name: "external name", mod: []func(*objects.Service){func(s *objects.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Selector = objects.ServiceTypeExternalName, "example.com", nil
		}, families(v4)},
			err: "spec.ipFamilies: Forbidden: may not be set for type `ExternalName`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores(t, func(t *testing.T, st store.Store) {
				a, err := ipam.New(ipam.WithServiceCIDR("10.0.0.0/24"))
				require.NoError(t, err)
				s := svc("s", tc.mod...)
				err = create(st, a, s)
				if tc.err != "" {
					require.ErrorIs(t, err, objects.ErrInvalid)
					assert.Equal(t, `Service "s" is invalid: `+tc.err, err.Error())
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tc.families, s.Spec.IPFamilies)
				require.NotNil(t, s.Spec.IPFamilyPolicy)
				assert.Equal(t, tc.policy, *s.Spec.IPFamilyPolicy)
				if tc.clusterIPs == 0 {
					assert.Equal(t, objects.ClusterIPNone, s.Spec.ClusterIP)
				} else {
					assert.Len(t, s.Spec.ClusterIPs, tc.clusterIPs)
				}
			})
		})
	}
}

// An update keeps the stored policy, and the families follow it.
func TestIPFamiliesOnUpdate(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New(ipam.WithServiceCIDR("10.0.0.0/24"))
		require.NoError(t, err)
		prefer := objects.IPFamilyPolicyPreferDualStack
		s := svc("s", func(s *objects.Service) { s.Spec.IPFamilyPolicy = &prefer })
		require.NoError(t, create(st, a, s))
		require.NoError(t, st.Update(context.Background(), func(tx store.Tx) error {
			upd := svc("s") // a manifest naming neither
			upd.ResourceVersion = s.ResourceVersion
			upd.PatchAllocatedValues(s)
			st.Scheme().Default(upd)
			if err := a.Allocate(tx, upd, s); err != nil {
				return err
			}
			assert.Equal(t, objects.IPFamilyPolicyPreferDualStack, *upd.Spec.IPFamilyPolicy)
			assert.Equal(t, []objects.IPFamily{objects.IPv4Protocol}, upd.Spec.IPFamilies)
			assert.Equal(t, s.Spec.ClusterIPs, upd.Spec.ClusterIPs)
			return tx.Update(upd)
		}))
	})
}

// update admits s as a replacement for the stored Service of its name, as
// the orchestrator does.
func update(st store.Store, a *ipam.Allocator, s *objects.Service) error {
	return st.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Service", s.Key())
		if err != nil {
			return err
		}
		old := o.(*objects.Service)
		s.ResourceVersion = old.ResourceVersion
		s.PatchAllocatedValues(old)
		st.Scheme().Default(s)
		if err := st.Scheme().ValidateUpdate(s, old); err != nil {
			return err
		}
		if err := a.Allocate(tx, s, old); err != nil {
			return err
		}
		return tx.Update(s)
	})
}

func localLB(hc int32, ports ...int32) func(*objects.Service) {
	return func(s *objects.Service) {
		nodePort(ports...)(s)
		s.Spec.Type = objects.ServiceTypeLoadBalancer
		s.Spec.ExternalTrafficPolicy = objects.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = hc
	}
}

// A LoadBalancer Service with externalTrafficPolicy Local gets a health
// check node port from the node port range, which no other port of any
// Service may then take, and which goes when the Service no longer needs
// it or is deleted.
func TestHealthCheckNodePort(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		a, err := ipam.New(ipam.WithNodePortRange("30000-30003"))
		require.NoError(t, err)
		s := svc("lb", localLB(0, 0))
		require.NoError(t, create(st, a, s))
		hc, np := s.Spec.HealthCheckNodePort, s.Spec.Ports[0].NodePort
		assert.True(t, hc >= 30000 && hc <= 30003, "health check node port %d is outside the range", hc)
		assert.NotEqual(t, np, hc)

		err = create(st, a, svc("taken", nodePort(hc)))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Equal(t, fmt.Sprintf(`Service "taken" is invalid: spec.ports[0].nodePort: Invalid value: %d: provided port is already allocated`, hc), err.Error())
		err = create(st, a, svc("taken", localLB(np, 0)))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Equal(t, fmt.Sprintf(`Service "taken" is invalid: spec.healthCheckNodePort: Invalid value: %d: provided port is already allocated`, np), err.Error())
		err = create(st, a, svc("outside", localLB(31000, 0)))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Contains(t, err.Error(), "spec.healthCheckNodePort: Invalid value: 31000: provided port is not in the valid range. The range of valid ports is 30000-30003")
		err = create(st, a, svc("own", localLB(30002, 30002)))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Contains(t, err.Error(), "spec.healthCheckNodePort: Invalid value: 30002: provided port is already allocated", "a Service's own node port is taken")
		err = create(st, a, svc("cluster", nodePort(0), func(s *objects.Service) {
			s.Spec.Type = objects.ServiceTypeLoadBalancer
			s.Spec.HealthCheckNodePort = 30003
		}))
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Contains(t, err.Error(), "spec.healthCheckNodePort: Invalid value: 30003: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")

		// Re-applied without it, the Service keeps it; it may not move.
		again := svc("lb", localLB(0, 0))
		require.NoError(t, update(st, a, again))
		assert.Equal(t, hc, again.Spec.HealthCheckNodePort)
		assert.Equal(t, np, again.Spec.Ports[0].NodePort)
		other := int32(30000)
		if other == hc {
			other++
		}
		moved := svc("lb", localLB(other, 0))
		err = update(st, a, moved)
		require.ErrorIs(t, err, objects.ErrInvalid)
		assert.Contains(t, err.Error(), "spec.healthCheckNodePort: Forbidden: field is immutable")

		// An explicit one is honoured.
		two := svc("two", localLB(0, 0))
		free := freePorts(t, st, 30000, 30003)
		require.Len(t, free, 2)
		two.Spec.HealthCheckNodePort = free[0]
		require.NoError(t, create(st, a, two))
		assert.Equal(t, free[0], two.Spec.HealthCheckNodePort)
		assert.Equal(t, free[1], two.Spec.Ports[0].NodePort)
		remove(t, st, "two")

		// The policy back to Cluster releases it: another Service takes it.
		cluster := svc("lb", localLB(0, 0), func(s *objects.Service) {
			s.Spec.ExternalTrafficPolicy = objects.ServiceExternalTrafficPolicyCluster
		})
		require.NoError(t, update(st, a, cluster))
		assert.Zero(t, cluster.Spec.HealthCheckNodePort)
		require.NoError(t, create(st, a, svc("next", nodePort(hc))))
		remove(t, st, "next")

		// Local again: a new one; the type back to ClusterIP releases it.
		local := svc("lb", localLB(0, 0))
		require.NoError(t, update(st, a, local))
		hc = local.Spec.HealthCheckNodePort
		require.NotZero(t, hc)
		plain := svc("lb")
		require.NoError(t, update(st, a, plain))
		assert.Zero(t, plain.Spec.HealthCheckNodePort)
		require.NoError(t, create(st, a, svc("next", nodePort(hc))))
		remove(t, st, "next")

		// Deleted, the Service frees it.
		require.NoError(t, update(st, a, svc("lb", localLB(0, 0))))
		hc = getService(t, st, "lb").Spec.HealthCheckNodePort
		remove(t, st, "lb")
		require.NoError(t, create(st, a, svc("next", nodePort(hc))))
	})
}

func getService(t *testing.T, st store.Store, name string) *objects.Service {
	t.Helper()
	var s *objects.Service
	require.NoError(t, st.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Service", objects.Key{Namespace: "default", Name: name})
		if err == nil {
			s = o.(*objects.Service)
		}
		return err
	}))
	return s
}

// freePorts lists the ports of first-last no Service holds.
func freePorts(t *testing.T, st store.Store, first, last int32) []int32 {
	t.Helper()
	used := map[int32]bool{}
	require.NoError(t, st.View(context.Background(), func(tx store.ReadTx) error {
		objs, err := tx.List("Service", store.ListOptions{})
		for _, o := range objs {
			s := o.(*objects.Service)
			used[s.Spec.HealthCheckNodePort] = true
			for _, p := range s.Spec.Ports {
				used[p.NodePort] = true
			}
		}
		return err
	}))
	var out []int32
	for p := first; p <= last; p++ {
		if !used[p] {
			out = append(out, p)
		}
	}
	return out
}
