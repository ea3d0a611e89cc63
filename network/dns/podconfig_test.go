package dns_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/network/dns"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

func TestPodDNSConfig(t *testing.T) {
	host := runtime.DNSConfig{Servers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"edns0"}}
	five := "2"
	cluster := []string{"172.17.0.1"}
	clusterSearch := []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}
	for _, tc := range []struct {
		name    string
		mod     func(*objects.Pod)
		servers []string
		want    runtime.DNSConfig
	}{
		{"default policy is ClusterFirst", nil, cluster,
			runtime.DNSConfig{Servers: cluster, Searches: clusterSearch, Options: []string{"ndots:5"}}},
		{"hostNetwork ClusterFirst uses the host", func(p *objects.Pod) { p.Spec.HostNetwork = true }, cluster, host},
		{"ClusterFirstWithHostNet", func(p *objects.Pod) {
			p.Spec.HostNetwork, p.Spec.DNSPolicy = true, objects.DNSClusterFirstWithHostNet
		}, cluster, runtime.DNSConfig{Servers: cluster, Searches: clusterSearch, Options: []string{"ndots:5"}}},
		{"Default", func(p *objects.Pod) { p.Spec.DNSPolicy = objects.DNSDefault }, cluster, host},
		{"no cluster DNS falls back to the host", nil, nil, host},
		{"None with dnsConfig", func(p *objects.Pod) {
			p.Spec.DNSPolicy = objects.DNSNone
			p.Spec.DNSConfig = &objects.PodDNSConfig{Nameservers: []string{"1.2.3.4"}, Searches: []string{"a.b"}}
		}, cluster, runtime.DNSConfig{Servers: []string{"1.2.3.4"}, Searches: []string{"a.b"}}},
		{"dnsConfig options replace by name", func(p *objects.Pod) {
			p.Spec.DNSConfig = &objects.PodDNSConfig{Options: []objects.PodDNSConfigOption{{Name: "ndots", Value: &five}, {Name: "rotate"}}}
		}, cluster, runtime.DNSConfig{Servers: cluster, Searches: clusterSearch, Options: []string{"ndots:2", "rotate"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p", Namespace: "shop"}}
			if tc.mod != nil {
				tc.mod(p)
			}
			assert.Equal(t, tc.want, dns.PodDNSConfig(p, "cluster.local.", tc.servers, host))
		})
	}
}

func TestHostDNSConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte("nameserver 192.0.2.53\nsearch corp.example\noptions ndots:2\n"), 0o644))
	d, err := dns.HostDNSConfig(path)
	require.NoError(t, err)
	assert.Equal(t, runtime.DNSConfig{Servers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}, Options: []string{"ndots:2"}}, d)

	// A local stub resolver is out of a pod's reach; timeout and attempts
	// are kept when they are not the defaults.
	require.NoError(t, os.WriteFile(path, []byte("nameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.54\noptions edns0 timeout:1 attempts:2\n"), 0o644))
	d, err = dns.HostDNSConfig(path)
	require.NoError(t, err)
	assert.Equal(t, runtime.DNSConfig{Servers: []string{"192.0.2.54"}, Options: []string{"timeout:1"}}, d)
	_, err = dns.HostDNSConfig(filepath.Join(t.TempDir(), "missing"))
	assert.Error(t, err)
	assert.Equal(t, "172.17.0.1", dns.ServerAddr("172.17.0.1:53"))
}
