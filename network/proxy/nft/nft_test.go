//go:build linux

package nft_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"

	"github.com/google/nftables"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/nft"
	"github.com/podkit/podkit/network/proxy/proxytest"
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
	}, proxytest.WithClusterIPRange(netip.MustParsePrefix(testCIDR)))
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
	dp, err := nft.New(nft.WithTableName(name))
	if err != nil {
		t.Fatal(err)
	}
	stop := nettest.RunBackground(t, dp.Run)
	if err := dp.Sync(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if ch, err := c.ListChain(tb, "stale"); err == nil && ch != nil {
		t.Error("the stale chain of a previous run survived")
	}
	stop()
}
