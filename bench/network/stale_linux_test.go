package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/google/nftables"

	"github.com/podkit/podkit/network/proxy/nft"
)

// A table named for a pid no process has is removed; the tables of live
// runs (this one) and tables of other names stay.
func TestRemoveStaleTables(t *testing.T) {
	if err := nft.Available(); err != nil {
		t.Skip(err)
	}
	// A pid that was just in use and is not now.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", dead)); err == nil {
		t.Skipf("pid %d is in use again", dead)
	}
	names := []string{
		benchTable(dead),
		benchTable(os.Getpid()),
		fmt.Sprintf("podkit-test-%d", dead),
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		c.AddTable(&nftables.Table{Name: n, Family: nftables.TableFamilyIPv4})
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range names {
			c.DelTable(&nftables.Table{Name: n, Family: nftables.TableFamilyIPv4})
			_ = c.Flush() // each on its own: the stale one is gone already
		}
	})

	if err := removeStaleTables(); err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for _, tb := range tables {
		have = append(have, tb.Name)
	}
	if slices.Contains(have, names[0]) {
		t.Errorf("the table of a run that died (%s) was kept", names[0])
	}
	for _, n := range names[1:] {
		if !slices.Contains(have, n) {
			t.Errorf("table %s was removed", n)
		}
	}
}
