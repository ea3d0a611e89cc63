//go:build !linux

package ingress

import "net"

// clientGone tells whether the client closed conn; only Linux tells
// without reading from it, so elsewhere a request runs to its end.
func clientGone(net.Conn) bool { return false }

// idleClosed tells whether the backend closed conn while it waited for a
// request; elsewhere than on Linux, the request finds out.
func idleClosed(net.Conn) bool { return false }
