package network_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/dns"
	"github.com/podkit/podkit/network/proxy/proxytest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// The parts wired as an orchestrator wires them: allocation at admission,
// the endpoints controller in a manager, and Run for DNS and the proxy.
func TestNetworkEndToEndOnLoopback(t *testing.T) {
	e := nettest.New(t)
	n, err := network.New(e.Store,
		network.WithServiceCIDR(nettest.ServiceCIDR),
		network.WithDataPlane(network.DataPlaneUserspace),
		network.WithDNS([]string{"127.0.0.1:0"}, dns.WithUpstreams()))
	require.NoError(t, err)
	m, err := reconcile.NewManager(e.Store)
	require.NoError(t, err)
	require.NoError(t, n.AddControllers(m))
	nettest.RunBackground(t, m.Run)
	nettest.RunBackground(t, n.Run)

	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web", Namespace: "default"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []objects.ServicePort{{Name: "http", Port: 8080, TargetPort: objects.FromString("http")}}}}
	require.NoError(t, e.Store.Update(context.Background(), func(tx store.Tx) error {
		e.Store.Scheme().Default(svc)
		if err := n.Allocate(tx, svc, nil); err != nil {
			return err
		}
		return tx.Create(svc)
	}))
	ip := netip.MustParseAddr(svc.Spec.ClusterIP)
	assert.True(t, n.ServiceCIDR().Contains(ip))

	b := proxytest.StartBackend(t, objects.ProtocolTCP, "127.0.0.2", "web-0")
	e.Create(nettest.Pod("web-0", map[string]string{"app": "web"}, fmt.Sprintf("http:%d", b.Addr.Port())))
	e.SetPodStatus("default", "web-0", "127.0.0.2", true)
	nettest.Poll(t, "the ClusterIP to answer", func() error {
		_, err := proxytest.Ask(objects.ProtocolTCP, netip.AddrPortFrom(ip, 8080), netip.Addr{})
		return err
	})

	<-n.DNS().Ready()
	m1 := new(mdns.Msg)
	m1.SetQuestion("web.default.svc.cluster.local.", mdns.TypeA)
	nettest.Poll(t, "the Service's name to resolve", func() error {
		r, err := mdns.Exchange(m1, n.DNS().Addrs()[0].String())
		if err != nil {
			return err
		}
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != ip.String() {
			return fmt.Errorf("answer %v", r.Answer)
		}
		return nil
	})

	assert.Equal(t, []string{"127.0.0.1"}, n.DNSServers())
	assert.Equal(t, "cluster.local", n.ClusterDomain())
	assert.Equal(t, network.DataPlaneUserspace, n.DataPlane())
	assert.NoError(t, n.Allocate(nil, &objects.Pod{}, nil), "other kinds pass")
}

func TestHostDNS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(path, []byte("nameserver 192.0.2.53\nsearch corp.example\n"), 0o644))
	n, err := network.New(nettest.New(t).Store, network.WithResolvConf(path), network.WithoutDNS())
	require.NoError(t, err)
	d := n.HostDNS()
	assert.Equal(t, runtime.DNSConfig{Servers: []string{"192.0.2.53"}, Searches: []string{"corp.example"}}, d)
	d.Servers[0] = "changed"
	assert.Equal(t, []string{"192.0.2.53"}, n.HostDNS().Servers, "HostDNS returns a copy")

	n, err = network.New(nettest.New(t).Store, network.WithResolvConf(filepath.Join(t.TempDir(), "missing")), network.WithoutDNS())
	require.NoError(t, err)
	assert.Zero(t, n.HostDNS(), "an unreadable file leaves pods the runtime's default")
}
