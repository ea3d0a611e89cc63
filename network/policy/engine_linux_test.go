//go:build linux

package policy_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/policy"
	"github.com/podkit/podkit/objects"
)

// The engine follows the store: a policy, a new pod, a namespace's labels
// and a deleted policy each change the kernel's sets and chains; its table
// is gone once Run returns. Addresses are of 198.18.0.0/15 (benchmarking),
// which no test traffic uses.
func TestEngineFollowsStore(t *testing.T) {
	nettest.Privileged(t)
	e := nettest.New(t)
	e.Create(nettest.Pod("web", map[string]string{"app": "web"}, "http:8080"), nettest.Pod("client", map[string]string{"role": "client"}))
	e.SetPodStatus("default", "web", "198.18.0.1", true)
	e.SetPodStatus("default", "client", "198.18.0.2", true)
	table := fmt.Sprintf("podkit-policy-enginetest-%d", os.Getpid())
	eng, err := policy.New(e.Store, policy.WithTableName(table))
	require.NoError(t, err)
	require.True(t, eng.Enforced())
	stop := nettest.RunBackground(t, eng.Run)

	c, err := nftables.New()
	require.NoError(t, err)
	tbl := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	// elements returns the addresses of the set of table whose name ends
	// with suffix (one set expected), or an error.
	elements := func(suffix string) ([]string, error) {
		sets, err := c.GetSets(tbl)
		if err != nil {
			return nil, err
		}
		for _, s := range sets {
			if len(s.Name) >= len(suffix) && s.Name[len(s.Name)-len(suffix):] == suffix {
				es, err := c.GetSetElements(s)
				if err != nil {
					return nil, err
				}
				// Interval sets hold a start and an end (the address after
				// the last) per range: list every address of each range.
				slices.SortFunc(es, func(a, b nftables.SetElement) int { return bytes.Compare(a.Key, b.Key) })
				var out []string
				for i, e := range es {
					if e.IntervalEnd || len(e.Key) != 4 {
						continue
					}
					first := binary.BigEndian.Uint32(e.Key)
					last := first
					if s.Interval {
						last = ^uint32(0)
						if i+1 < len(es) && es[i+1].IntervalEnd {
							last = binary.BigEndian.Uint32(es[i+1].Key) - 1
						}
					}
					for a := first; a <= last && a-first < 256; a++ {
						out = append(out, fmt.Sprintf("%d.%d.%d.%d", byte(a>>24), byte(a>>16), byte(a>>8), byte(a)))
					}
				}
				slices.Sort(out)
				return out, nil
			}
		}
		return nil, fmt.Errorf("no set *%s", suffix)
	}
	waitSet := func(suffix string, want ...string) {
		t.Helper()
		nettest.Poll(t, "set *"+suffix, func() error {
			got, err := elements(suffix)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf("elements %v, want %v", got, want)
			}
			return nil
		})
	}

	e.Create(&objects.NetworkPolicy{ObjectMeta: objects.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: objects.NetworkPolicySpec{PodSelector: objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []objects.NetworkPolicyIngressRule{{From: []objects.NetworkPolicyPeer{
				{PodSelector: &objects.LabelSelector{MatchLabels: map[string]string{"role": "client"}}},
				{NamespaceSelector: &objects.LabelSelector{MatchLabels: map[string]string{"team": "a"}}},
			}}}}})
	waitSet("in-isolated", "198.18.0.1")
	waitSet("-0-peer", "198.18.0.2")

	// A new client pod, and a pod of namespace other once it is labelled
	// team=a, become peers.
	e.Create(nettest.Pod("client2", map[string]string{"role": "client"}))
	e.SetPodStatus("default", "client2", "198.18.0.3", true)
	waitSet("-0-peer", "198.18.0.2", "198.18.0.3")
	p := nettest.Pod("tool", nil)
	p.Namespace = "other"
	e.Create(p)
	e.SetPodStatus("other", "tool", "198.18.1.1", true)
	nettest.Update(e, objects.Key{Name: "other"}, func(ns *objects.Namespace) { ns.Labels = map[string]string{"team": "a"} })
	waitSet("-0-peer", "198.18.0.2", "198.18.0.3", "198.18.1.1")

	// Deleting the policy leaves the base chains only.
	e.Delete("NetworkPolicy", objects.Key{Namespace: "default", Name: "web"})
	nettest.Poll(t, "the policy's chains and sets gone", func() error {
		sets, err := c.GetSets(tbl)
		if err != nil {
			return err
		}
		if len(sets) > 0 {
			return fmt.Errorf("%d sets left", len(sets))
		}
		return nil
	})

	stop()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	require.NoError(t, err)
	assert.False(t, slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == table }), "table %s left after Run returned", table)
}
