package proxy

import (
	"net"
	"sync"
	"syscall"
)

// relay copies what src sends to dst until src's end of stream or an
// error, then half-closes dst.
//
// A request or an answer usually comes in one read and leaves in one
// write, after which the relay waits for src again without the read that
// would find nothing: io.Copy, with splice(2) or without, makes three
// system calls per message, the last one that empty read; this makes
// two. It may skip the empty read because it stays within one
// RawConn.Read, whose readiness state is reset only when it is entered:
// bytes arriving after a read that did not fill the buffer make src
// readable again and end the wait.
//
// It never waits for dst within src's RawConn.Read: closing src waits
// for the callback to return, and whoever closes src may close dst only
// after. When dst cannot take everything, the rest is written outside,
// and the next RawConn.Read begins with a read. A buffer is borrowed only
// while bytes are in flight, so that an idle connection holds none.
func relay(dst, src *net.TCPConn) error {
	defer dst.CloseWrite()
	rs, err := src.SyscallConn()
	if err != nil {
		return err
	}
	ws, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	var (
		buf  *[]byte
		out  []byte // read and not yet written
		done bool   // src ended, or an error
	)
	write := func(fd uintptr) bool {
		for len(out) > 0 {
			n, e := syscall.Write(int(fd), out)
			switch e {
			case nil:
				out = out[n:]
			case syscall.EINTR:
			case syscall.EAGAIN:
				return true // written outside
			default:
				err = e
				return true
			}
		}
		return true
	}
	read := func(fd uintptr) bool {
		for {
			if buf == nil {
				buf = relayBuffers.Get().(*[]byte)
			}
			n, e := syscall.Read(int(fd), *buf)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				relayBuffers.Put(buf)
				buf = nil
				return false
			case e != nil:
				err, done = e, true
				return true
			case n == 0:
				done = true
				return true
			}
			out = (*buf)[:n]
			if e := ws.Write(write); e != nil || err != nil {
				if err == nil {
					err = e
				}
				done = true
				return true
			}
			if len(out) > 0 {
				return true // dst is full
			}
			if n < len(*buf) { // src is, most likely, drained
				relayBuffers.Put(buf)
				buf = nil
				return false
			}
		}
	}
	for !done {
		if e := rs.Read(read); e != nil {
			if err == nil {
				err = e
			}
			break
		}
		if len(out) > 0 {
			if _, e := dst.Write(out); e != nil {
				err = e
				break
			}
			out = nil
		}
	}
	if buf != nil {
		relayBuffers.Put(buf)
	}
	return err
}

var relayBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}
