package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/google/nftables"
)

// removeStaleTables deletes the nftables tables of earlier runs of this
// program that died without removing theirs (a crash, SIGKILL): their
// NodePort rules would otherwise still catch connections to those ports,
// this run's and anyone else's. A table is an earlier run's when its name
// is benchTablePrefix and a pid no process has.
func removeStaleTables() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return err
	}
	var gone []string
	for _, t := range tables {
		rest, ok := strings.CutPrefix(t.Name, benchTablePrefix)
		if !ok {
			continue
		}
		if pid, err := strconv.Atoi(rest); err != nil || pid <= 0 || benchTable(pid) != t.Name {
			continue
		}
		if _, err := os.Stat("/proc/" + rest); !errors.Is(err, fs.ErrNotExist) {
			continue
		}
		c.DelTable(t)
		gone = append(gone, t.Name)
	}
	if len(gone) == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return err
	}
	fmt.Printf("removed the nftables tables of earlier runs that died: %s\n", strings.Join(gone, ", "))
	return nil
}
