package dns

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// freebind sets IP_FREEBIND on a socket before it is bound, so that it may
// bind an address no interface has yet. On Linux the option applies to
// IPv6 sockets as well.
func freebind(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("setting IP_FREEBIND: %w", serr)
	}
	return nil
}
