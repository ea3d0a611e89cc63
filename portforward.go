package podkit

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// DialPod connects from the host to a TCP port of the running pod
// namespace/pod, as kubectl port-forward's connections reach a pod: on
// the pod's IP, through the node runtime's Dialer when it has one (the
// fake runtime's pods exist only in memory), directly otherwise.
func (o *Orchestrator) DialPod(ctx context.Context, namespace, pod string, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port: Invalid value: %d: must be between 1 and 65535, inclusive", port)
	}
	p := &objects.Pod{}
	if err := o.Get(ctx, objects.Key{Namespace: namespace, Name: pod}, p); err != nil {
		return nil, err
	}
	if p.Status.Phase != objects.PodRunning || p.Status.PodIP == "" {
		return nil, fmt.Errorf("unable to forward port because pod is not running. Current status=%s: %w", p.Status.Phase, ErrContainerNotRunning)
	}
	addr := net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port))
	if rt, err := o.podRuntime(p); err == nil {
		if d, ok := rt.(runtime.Dialer); ok {
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// A PortForward forwards the connections it accepts on a host address to
// a port of a pod, as kubectl port-forward does, until it is closed or
// the context it was started with ends.
type PortForward struct {
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// PortForward listens on addr ("127.0.0.1:8080"; port 0 picks a free
// one, see Addr) and forwards every connection to port of the pod
// namespace/pod, found again for each connection: a StatefulSet's pod
// replaced under the same name is followed. A connection the pod cannot
// take is closed, and the reason logged.
func (o *Orchestrator) PortForward(ctx context.Context, namespace, pod, addr string, port int) (*PortForward, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port: Invalid value: %d: must be between 1 and 65535, inclusive", port)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &PortForward{ln: ln, cancel: cancel}
	f.wg.Add(2)
	go func() {
		defer f.wg.Done()
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				pc, err := o.DialPod(ctx, namespace, pod, port)
				if err != nil {
					o.log.Warn("port forward: connection closed", "pod", namespace+"/"+pod, "port", port, "err", err)
					return
				}
				defer pc.Close()
				stop := context.AfterFunc(ctx, func() { c.Close(); pc.Close() })
				defer stop()
				forwardBoth(c, pc)
			}()
		}
	}()
	return f, nil
}

// Addr is the address the forward listens on.
func (f *PortForward) Addr() net.Addr { return f.ln.Addr() }

// Close stops listening, closes the connections being forwarded and
// returns once every goroutine of the forward has.
func (f *PortForward) Close() error {
	f.cancel()
	f.wg.Wait()
	return nil
}

// forwardBoth copies each way until both have ended, passing on a
// half-close where the connection allows one.
func forwardBoth(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyThenCloseWrite(b, a)
	}()
	copyThenCloseWrite(a, b)
	<-done
}

func copyThenCloseWrite(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite()
		return
	}
	// An error, or no half-close: end both, so the other way ends too.
	dst.Close()
	src.Close()
}
