//go:build linux

package policy

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/objects"
)

// requireNFT skips unless this process may change nftables; under
// CI=true it fails instead.
func requireNFT(t *testing.T) {
	t.Helper()
	if err := nft.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: nftables must be changeable: %v", err)
		}
		t.Skipf("nftables: %v", err)
	}
}

// listTable returns `nft list table` of the ip family table, when the nft
// command exists, to make failures readable.
func listTable(name string) string {
	if !hasNFTCommand() {
		return ""
	}
	out, err := exec.Command("nft", "list", "table", "ip", name).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(nft list: %v: %s)", err, out)
	}
	return string(out)
}

// hasNFTCommand reports whether the nft command is installed, which the
// checks of the rules' text need; the rest of the test reads the kernel
// through the library.
func hasNFTCommand() bool {
	_, err := exec.LookPath("nft")
	return err == nil
}

// The kernel takes the program's sets and chains, follows changes by
// changing only what differs, and the table is gone after teardown; a
// table of the same name left behind is replaced at setup.
func TestKernelProgram(t *testing.T) {
	requireNFT(t)
	name := fmt.Sprintf("podkit-policytest-%d", os.Getpid())
	c, err := nftables.New()
	require.NoError(t, err)
	// A table "left by a process that died".
	c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	c.AddChain(&nftables.Chain{Name: "stale", Table: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}})
	require.NoError(t, c.Flush())
	t.Cleanup(func() {
		c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
		_ = c.Flush()
	})

	k := newKernel(name, slog.New(slog.DiscardHandler)).(*nftKernel)
	require.NoError(t, k.setup())
	chains := func() []string {
		all, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		require.NoError(t, err)
		var names []string
		for _, ch := range all {
			if ch.Table.Name == name {
				names = append(names, ch.Name)
			}
		}
		return names
	}
	assert.ElementsMatch(t, []string{"ingress", "egress"}, chains(), "the stale chain went with the old table")

	pods, nss := world()
	udp := objects.ProtocolUDP
	dns := named("dns")
	dns.Protocol = &udp
	rng := tcp(8000)
	rng.EndPort = ptr[int32](8100)
	pols := []*objects.NetworkPolicy{
		policy("default", "deny", objects.NetworkPolicySpec{}),
		policy("default", "web", objects.NetworkPolicySpec{PodSelector: *sel("app", "web"),
			Ingress: []objects.NetworkPolicyIngressRule{{
				From:  []objects.NetworkPolicyPeer{{PodSelector: sel("role", "client")}, {IPBlock: &objects.IPBlock{CIDR: "0.0.0.0/0", Except: []string{"10.0.0.0/8"}}}},
				Ports: []objects.NetworkPolicyPort{named("http"), rng},
			}}}),
		policy("default", "out", objects.NetworkPolicySpec{PodSelector: *sel("role", "client"),
			PolicyTypes: []objects.PolicyType{objects.PolicyTypeEgress},
			Egress:      []objects.NetworkPolicyEgressRule{{Ports: []objects.NetworkPolicyPort{dns}}}}),
	}
	require.NoError(t, k.sync(Compute(pods, nss, pols)), listTable(name))
	listing := listTable(name)
	t.Log(listing)
	elems := func(set string) []string {
		s, err := c.GetSetByName(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4}, set)
		require.NoError(t, err, set)
		es, err := c.GetSetElements(s)
		require.NoError(t, err)
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%x%s", e.Key, map[bool]string{true: "-end"}[e.IntervalEnd]))
		}
		return out
	}
	webID := "in-" + hashKey(objects.Key{Namespace: "default", Name: "web"})
	assert.ElementsMatch(t, []string{"0a000001", "0a000002", "0a000003"}, elems("in-isolated"))
	assert.ElementsMatch(t, []string{"0a000001"}, elems(webID+"-sel"))
	// client 10.0.0.2 and 0.0.0.0-9.255.255.255, 11.0.0.0-255.255.255.255.
	assert.ElementsMatch(t, []string{"00000000", "0a000000-end", "0a000002", "0a000003-end", "0b000000"}, elems(webID+"-0-peer"))
	assert.ElementsMatch(t, []string{"0a000001" + "06000000" + "1f900000"}, elems(webID+"-0-named"))
	outID := "eg-" + hashKey(objects.Key{Namespace: "default", Name: "out"})
	assert.ElementsMatch(t, []string{"0a000103" + "11000000" + "00350000"}, elems(outID+"-0-named"))
	if hasNFTCommand() { // the rules as nft prints them
		assert.Contains(t, listing, "ct state established,related accept")
		assert.Contains(t, listing, "jump "+webID)
		assert.Contains(t, listing, "tcp dport 8000-8100 accept")
		assert.Contains(t, listing, "@"+webID+"-0-named accept")
	}

	// A new client pod joins the peer set and nothing else changes.
	pods = append(pods, pod("default", "client2", "10.0.0.7", map[string]string{"role": "client"}))
	require.NoError(t, k.sync(Compute(pods, nss, pols)))
	assert.ElementsMatch(t, []string{"00000000", "0a000000-end", "0a000002", "0a000003-end", "0a000007", "0a000008-end", "0b000000"}, elems(webID+"-0-peer"))
	assert.Contains(t, elems("in-isolated"), "0a000007")

	// Policies removed: their chains and sets go; the base chains stay.
	require.NoError(t, k.sync(Compute(pods, nss, pols[:1])))
	assert.ElementsMatch(t, []string{"ingress", "egress", "in-" + hashKey(objects.Key{Namespace: "default", Name: "deny"})}, chains())
	assert.NotContains(t, listTable(name), webID)
	require.NoError(t, k.sync(Compute(pods, nss, nil)))
	assert.ElementsMatch(t, []string{"ingress", "egress"}, chains())

	require.NoError(t, k.teardown())
	_, err = c.ListTableOfFamily(name, nftables.TableFamilyIPv4)
	assert.Error(t, err, "the table is gone")
	assert.False(t, strings.Contains(listTable(name), "chain"))
	_ = netip.Addr{}
}

// A table deleted behind the engine's back (as by a process started with
// the same name) is no error at teardown, and the other family's goes.
func TestKernelTableGoneAtTeardown(t *testing.T) {
	requireNFT(t)
	name := fmt.Sprintf("podkit-policytest-gone-%d", os.Getpid())
	k := newKernel(name, slog.New(slog.DiscardHandler)).(*nftKernel)
	require.NoError(t, k.setup())
	c, err := nftables.New()
	require.NoError(t, err)
	c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	require.NoError(t, c.Flush())
	require.NoError(t, k.teardown())
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyBridge} {
		tb, err := c.ListTableOfFamily(name, fam)
		assert.True(t, err != nil || tb == nil, "family %v: table %s left after teardown", fam, name)
	}
}
