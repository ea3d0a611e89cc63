// Package memdbtest turns the options the store conformance suite asks
// for into the memdb options of the stores built on store/memdb, for their
// tests.
package memdbtest

import (
	"github.com/podkit/podkit/store/memdb"
	"github.com/podkit/podkit/store/storetest"
)

// Options returns the memdb options that give a store what o asks for.
func Options(o storetest.Options) []memdb.Option {
	opts := []memdb.Option{memdb.WithScheme(o.Scheme), memdb.WithClock(o.Clock)}
	for _, ix := range o.Indexes {
		opts = append(opts, memdb.WithIndex(ix))
	}
	if o.History > 0 {
		opts = append(opts, memdb.WithHistory(o.History))
	}
	if o.WatchBuffer > 0 {
		opts = append(opts, memdb.WithWatchBuffer(o.WatchBuffer))
	}
	return opts
}
