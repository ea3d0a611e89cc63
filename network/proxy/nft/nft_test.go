//go:build linux

package nft_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/nftables"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/network/proxy/proxytest"
	"github.com/podkit/podkit/objects"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The suite's cluster IPs come from a range of their own, which the data
// plane refuses as a whole (WithServiceCIDR) without touching the range
// other packages' tests use at the same time.
const testCIDR = "127.78.0.0/16"

var tables atomic.Int32

func tableName() string { return fmt.Sprintf("podkit-test-%d-%d", os.Getpid(), tables.Add(1)) }

func privileged(t *testing.T) {
	nettest.Privileged(t)
	if err := nft.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func TestConformance(t *testing.T) {
	privileged(t)
	var names []string
	proxytest.Run(t, func(t *testing.T) proxy.DataPlane {
		name := tableName()
		names = append(names, name)
		dp, err := nft.New(nft.WithTableName(name), nft.WithServiceCIDR(testCIDR))
		if err != nil {
			t.Fatal(err)
		}
		return dp
	}, proxytest.WithClusterIPRange(netip.MustParsePrefix(testCIDR)), proxytest.PreservesSourceAddress())
	// Every table is gone once its data plane stopped.
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if tb, err := c.ListTableOfFamily(n, nftables.TableFamilyIPv4); err == nil && tb != nil {
			t.Errorf("table %s was left behind", n)
		}
	}
}

func TestLeftoverTableIsReplaced(t *testing.T) {
	privileged(t)
	name := tableName()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	c.AddChain(&nftables.Chain{Name: "stale", Table: tb})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	stop := runEmpty(t, name)
	if ch, err := c.ListChain(tb, "stale"); err == nil && ch != nil {
		t.Error("the stale chain of a previous run survived")
	}
	stop()
}

// NodePorts on 127.0.0.1 and loopback load balancer addresses reach pods
// on a bridge only with route_localnet set; while the data plane runs it
// is, and the guard chain drops what it would let in from elsewhere.
func TestRouteLocalnet(t *testing.T) {
	privileged(t)
	name := tableName()
	defer runEmpty(t, name)()
	b, err := os.ReadFile("/proc/sys/net/ipv4/conf/all/route_localnet")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "1" {
		t.Errorf("route_localnet = %s while the data plane runs, want 1", got)
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	ch, err := c.ListChain(tb, "localnet-guard")
	if err != nil || ch == nil || ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookInput {
		t.Fatalf("guard chain: %+v, %v; want a chain on the input hook", ch, err)
	}
	rules, err := c.GetRules(tb, ch)
	if err != nil || len(rules) != 1 {
		t.Errorf("guard rules: %d, %v; want 1", len(rules), err)
	}
}

// An external IP is served on the Service's port only: the machine that
// has the address (here a server of the test's on a loopback address
// outside the service range) keeps its other ports.
func TestExternalIPServedOnItsPortOnly(t *testing.T) {
	privileged(t)
	dp, err := nft.New(nft.WithTableName(tableName()), nft.WithServiceCIDR(testCIDR))
	if err != nil {
		t.Fatal(err)
	}
	stop := nettest.RunBackground(t, dp.Run)
	defer stop()
	ext := netip.MustParseAddr("127.79.0.9")
	host := proxytest.StartBackend(t, objects.ProtocolTCP, ext.String(), "host")
	b := proxytest.StartBackend(t, objects.ProtocolTCP, "127.0.0.2", "b0")
	const port = 8080 // the host's server has an ephemeral port
	if err := dp.Sync(t.Context(), []proxy.ServicePort{{ID: "default/web:http", Protocol: objects.ProtocolTCP,
		ClusterIPs: []netip.Addr{netip.MustParseAddr("127.78.0.9")}, ExternalIPs: []netip.Addr{ext}, Port: port,
		Endpoints: []proxy.Endpoint{{Addr: b.Addr}}}}); err != nil {
		t.Fatal(err)
	}
	if name, err := proxytest.Ask(objects.ProtocolTCP, netip.AddrPortFrom(ext, port), netip.Addr{}); err != nil || name != "b0" {
		t.Errorf("the external IP's service port was answered by %q (%v), want b0", name, err)
	}
	if name, err := proxytest.Ask(objects.ProtocolTCP, host.Addr, netip.Addr{}); err != nil || name != "host" {
		t.Errorf("another port of the external IP was answered by %q (%v), want the host's server", name, err)
	}
}

// Local traffic policies and topology hints cost rules and sets only
// while a port has them: a Service with Cluster policies and no hints gets
// none of them, and they go when the last port that had them does.
func TestLocalPoliciesOnlyWhereUsed(t *testing.T) {
	privileged(t)
	name := tableName()
	dp, err := nft.New(nft.WithTableName(name), nft.WithServiceCIDR(testCIDR))
	if err != nil {
		t.Fatal(err)
	}
	stop := nettest.RunBackground(t, dp.Run)
	defer stop()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tb := &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}
	// census counts the table's chains and sets by name prefix, and the
	// rules of nat-postrouting.
	census := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chains {
			if ch.Table.Name != name {
				continue
			}
			if p, _, ok := strings.Cut(ch.Name, "-"); ok && ch.Hooknum == nil && len(ch.Name) > 17 {
				out[p+"-*"]++
			}
			if ch.Name == "nat-postrouting" {
				rules, err := c.GetRules(tb, ch)
				if err != nil {
					t.Fatal(err)
				}
				out["postrouting rules"] = len(rules)
			}
		}
		sets, err := c.GetSets(tb)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sets {
			p, _, _ := strings.Cut(s.Name, "-")
			out["set "+p]++
		}
		return out
	}
	pods := proxy.NewPodNodes(map[netip.Addr]string{netip.MustParseAddr("127.0.4.11"): "n1", netip.MustParseAddr("127.0.4.12"): "n2"})
	sp := proxy.ServicePort{ID: "default/web:http", Protocol: objects.ProtocolTCP, ClusterIPs: []netip.Addr{netip.MustParseAddr("127.78.0.5")},
		Port: 8080, NodePort: 31234, Endpoints: []proxy.Endpoint{{Addr: netip.MustParseAddrPort("127.0.0.2:1000"), Node: "n1"},
			{Addr: netip.MustParseAddrPort("127.0.0.3:1000"), Node: "n2"}}}
	sync := func(sp proxy.ServicePort) {
		t.Helper()
		if err := dp.Sync(t.Context(), []proxy.ServicePort{sp}); err != nil {
			t.Fatal(err)
		}
	}
	sync(sp)
	cluster := map[string]int{"svc-*": 1, "ep-*": 2, "postrouting rules": 1}
	if got := census(); !maps.Equal(got, cluster) {
		t.Errorf("with policies Cluster the table has %v; want %v", got, cluster)
	}
	local := sp
	local.InternalLocal, local.ExternalLocal, local.Pods = true, true, pods
	sync(local)
	want := map[string]int{"svc-*": 1, "ep-*": 2, "int-*": 1, "nd-*": 2, "ext-*": 1, "epl-*": 2, "postrouting rules": 2, "set pods": 3}
	if got := census(); !maps.Equal(got, want) {
		t.Errorf("with policies Local the table has %v; want %v", got, want)
	}
	sync(local) // unchanged pods: the sets are kept as they are
	sync(sp)
	if got := census(); !maps.Equal(got, cluster) {
		t.Errorf("back to policies Cluster the table has %v; want %v", got, cluster)
	}

	// Topology hints: a chain for the port, one per node and zone with
	// endpoints hinted for it, and their sets; gone with the hints.
	hinted := sp
	hinted.Endpoints = slices.Clone(sp.Endpoints)
	hinted.Endpoints[0].ForZones, hinted.Endpoints[0].ForNodes = []string{"a"}, []string{"n1"}
	hinted.Endpoints[1].ForZones, hinted.Endpoints[1].ForNodes = []string{"a"}, []string{"n2"}
	hinted.Pods = proxy.NewPodNodesInZones(map[netip.Addr]string{netip.MustParseAddr("127.0.4.11"): "n1"}, map[string]string{"n1": "a"})
	sync(hinted)
	want = map[string]int{"svc-*": 1, "ep-*": 2, "top-*": 1, "tn-*": 2, "tz-*": 1, "postrouting rules": 1, "set pods": 3, "set zone": 1}
	if got := census(); !maps.Equal(got, want) {
		t.Errorf("with topology hints the table has %v; want %v", got, want)
	}
	sync(sp)
	if got := census(); !maps.Equal(got, cluster) {
		t.Errorf("without hints the table has %v; want %v", got, cluster)
	}
}

// A table deleted behind the data plane's back (as by a process started
// with the same name) is no error when the data plane stops.
func TestTableGoneAtStop(t *testing.T) {
	privileged(t)
	name := tableName()
	stop := runEmpty(t, name)
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	stop() // fails the test if Run returns an error
}

// runEmpty runs a data plane with table name and no services, and returns
// its stop (see nettest.RunBackground).
func runEmpty(t *testing.T, name string) (stop func()) {
	t.Helper()
	dp, err := nft.New(nft.WithTableName(name))
	if err != nil {
		t.Fatal(err)
	}
	stop = nettest.RunBackground(t, dp.Run)
	if err := dp.Sync(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return stop
}
