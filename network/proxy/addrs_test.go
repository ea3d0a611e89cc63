package proxy_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/internal/owner"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/proxytest"
	"github.com/podkit/podkit/objects"
)

// A cluster IP outside 127.0.0.0/8 is added to a dummy interface the data
// plane creates (a bridge without the dummy driver), and both go when it
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
		ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: []proxy.Endpoint{{Addr: b.Addr}}}}))

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

// A cluster IP outside 127.0.0.0/8 stays a local address while a connection
// established to it goes on after its Service is removed, and goes at a
// Sync once that connection has ended.
func TestUserspaceKeepsClusterIPWhileItsConnectionsLast(t *testing.T) {
	nettest.Privileged(t)
	ifname := fmt.Sprintf("pkc%d", os.Getpid()%100000)
	dp, err := proxy.NewUserspace(proxy.WithDummyInterface(ifname))
	require.NoError(t, err)
	stop := nettest.RunBackground(t, dp.Run)
	defer stop()
	b := proxytest.StartBackend(t, objects.ProtocolTCP, "127.0.0.2", "b0")
	ip := netip.MustParseAddr("198.18.77.11")
	require.NoError(t, dp.Sync(t.Context(), []proxy.ServicePort{{ID: "default/web:80", Protocol: objects.ProtocolTCP,
		ClusterIPs: []netip.Addr{ip}, Port: 8080, Endpoints: []proxy.Endpoint{{Addr: b.Addr}}}}))
	require.True(t, hasAddr(t, ip), "%s is on neither %s nor lo", ip, ifname)
	c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(ip, 8080).String(), 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	exchange := func() (string, error) {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}
	line, err := exchange()
	require.NoError(t, err)
	require.Equal(t, "b0:ping\n", line)

	require.NoError(t, dp.Sync(t.Context(), nil))
	assert.True(t, hasAddr(t, ip), "%s went with its Service while a connection to it lasts", ip)
	line, err = exchange()
	require.NoError(t, err, "the established connection after its Service was removed")
	assert.Equal(t, "b0:ping\n", line)

	c.Close()
	nettest.Poll(t, ip.String()+" to go once its connection ended", func() error {
		if err := dp.Sync(t.Context(), nil); err != nil {
			return err
		}
		if hasAddr(t, ip) {
			return errors.New("still a local address")
		}
		return nil
	})
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

// A dummy interface of the configured name that a proxy made and its
// process left when it died is taken over: its stale cluster IPs go, the
// wanted ones come, and it goes when this data plane stops. One a live
// process owns, or the host made, stays with its addresses.
func TestUserspaceTakesOverDeadProxysInterface(t *testing.T) {
	nettest.Privileged(t)
	stale, wanted := netip.MustParseAddr("198.18.77.8"), netip.MustParseAddr("198.18.77.9")
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	self, err := owner.Self()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, alias string
		takenOver   bool
	}{
		{"dead proxy's", fmt.Sprintf("podkit proxy %d 1", dead.Process.Pid), true},
		{"live process's", "podkit proxy " + self, false},
		{"host's", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ifname := fmt.Sprintf("pku%d", os.Getpid()%100000)
			err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: ifname}})
			if errors.Is(err, unix.EOPNOTSUPP) { // as the data plane does
				err = netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: ifname}})
			}
			require.NoError(t, err)
			t.Cleanup(func() {
				if link, err := netlink.LinkByName(ifname); err == nil {
					_ = netlink.LinkDel(link)
				}
			})
			link, err := netlink.LinkByName(ifname)
			require.NoError(t, err)
			if tc.alias != "" {
				require.NoError(t, netlink.LinkSetAlias(link, tc.alias))
			}
			require.NoError(t, netlink.AddrAdd(link, &netlink.Addr{IPNet: netlink.NewIPNet(stale.AsSlice())}))

			dp, err := proxy.NewUserspace(proxy.WithDummyInterface(ifname))
			require.NoError(t, err)
			stop := nettest.RunBackground(t, dp.Run)
			b := proxytest.StartBackend(t, objects.ProtocolTCP, "127.0.0.2", "b0")
			require.NoError(t, dp.Sync(t.Context(), []proxy.ServicePort{{ID: "default/web:80", Protocol: objects.ProtocolTCP,
				ClusterIPs: []netip.Addr{wanted}, Port: 8080, Endpoints: []proxy.Endpoint{{Addr: b.Addr}}}}))
			assert.True(t, hasAddr(t, wanted), "the wanted cluster IP %s is not local", wanted)
			assert.Equal(t, !tc.takenOver, hasAddr(t, stale), "stale address %s present", stale)

			stop()
			assert.False(t, hasAddr(t, wanted), "%s outlived the data plane", wanted)
			_, err = netlink.LinkByName(ifname)
			assert.Equal(t, tc.takenOver, err != nil, "the interface gone after the data plane stopped: %v", err)
		})
	}
}
