package ingress

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// clientGone tells whether the client closed or reset conn, without
// reading from it: the bytes it may have sent since belong to the server.
func clientGone(conn net.Conn) bool {
	return polled(conn, unix.POLLRDHUP)
}

// idleClosed tells whether the backend closed, reset or wrote to conn, a
// connection that waits for a request: it cannot be used.
func idleClosed(conn net.Conn) bool {
	return polled(conn, unix.POLLIN|unix.POLLRDHUP)
}

// polled tells whether conn has any of events, or is closed or failed,
// without waiting.
func polled(conn net.Conn, events int16) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	hit := false
	err = rc.Control(func(fd uintptr) {
		p := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(p, 0)
		hit = err == nil && n > 0 && p[0].Revents&(events|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
	})
	return hit || err != nil
}
