//go:build !linux

package main

// removeStaleTables has nothing to do without nftables.
func removeStaleTables() error { return nil }
