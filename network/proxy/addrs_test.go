package proxy_test

import (
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/proxytest"
	"github.com/podkit/podkit/objects"
)

// A cluster IP outside 127.0.0.0/8 is added to a dummy interface the data
// plane creates (or lo, without the dummy driver), and both go when it
// stops. The test talks to the address
// only after checking it is on that interface, so nothing leaves the host.
func TestUserspaceAddsClusterIPsToDummyInterface(t *testing.T) {
	nettest.Privileged(t)
	ifname := fmt.Sprintf("pkt%d", os.Getpid()%100000)
	dp, err := proxy.NewUserspace(proxy.WithDummyInterface(ifname))
	require.NoError(t, err)
	stop := nettest.RunBackground(t, dp.Run)
	b := proxytest.StartBackend(t, objects.ProtocolTCP, "127.0.0.2", "b0")
	ip := netip.MustParseAddr("198.18.77.7") // RFC 2544 benchmarking range
	require.NoError(t, dp.Sync(t.Context(), []proxy.ServicePort{{ID: "default/web:80", Protocol: objects.ProtocolTCP,
		ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: []netip.AddrPort{b.Addr}}}))

	require.True(t, hasAddr(t, ip), "%s is on neither %s nor lo", ip, ifname)

	name, err := proxytest.Ask(objects.ProtocolTCP, netip.AddrPortFrom(ip, 8080), netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, "b0", name)

	stop()
	assert.False(t, hasAddr(t, ip), "%s outlived the data plane", ip)
	_, err = netlink.LinkByName(ifname)
	var nf netlink.LinkNotFoundError
	assert.ErrorAs(t, err, &nf, "the dummy interface outlived the data plane")
}

// hasAddr reports whether ip is an address of some interface.
func hasAddr(t *testing.T, ip netip.Addr) bool {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	require.NoError(t, err)
	for _, a := range addrs {
		if a.IP.String() == ip.String() {
			return true
		}
	}
	return false
}
