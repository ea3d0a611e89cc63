//go:build !linux

package dns

import "syscall"

// freebind does nothing where IP_FREEBIND does not exist: a listen address
// must then be on an interface before it is bound.
func freebind(_, _ string, _ syscall.RawConn) error { return nil }
