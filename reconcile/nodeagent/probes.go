package nodeagent

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// Probe kinds, in the order they run.
const (
	probeStartup = iota
	probeLiveness
	probeReadiness
)

var probeNames = [3]string{"Startup", "Liveness", "Readiness"}

type probeResult int8

const (
	resultUnknown probeResult = iota
	resultSuccess
	resultFailure
)

// probeState follows one probe of one container instance.
type probeState struct {
	result     probeResult
	successes  int32
	failures   int32
	next       time.Time
	killedByIt bool // its failure made the agent kill the container
}

func probeOf(c *objects.Container, kind int) *objects.Probe {
	switch kind {
	case probeStartup:
		return c.StartupProbe
	case probeLiveness:
		return c.LivenessProbe
	}
	return c.ReadinessProbe
}

func period(p *objects.Probe) time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}

func threshold(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// probeSet follows the probes of one container instance.
type probeSet struct {
	id     string // the container instance
	states [3]probeState
}

// probing reports whether cs follows the probes of container instance id.
// cs may be nil.
func (cs *ctrState) probing(id string) bool {
	return cs != nil && cs.probes != nil && cs.probes.id == id
}

// forgetProbes drops the probe state: the next instance starts afresh.
func (cs *ctrState) forgetProbes() {
	if cs.probes != nil {
		cs.probes.id = ""
	}
}

// resetProbes starts the probe state of a new container instance: startup
// and readiness unknown (not started, not ready), liveness successful, each
// first due after its initial delay.
func (cs *ctrState) resetProbes(c *objects.Container, id string, started time.Time) {
	if cs.probes == nil {
		cs.probes = &probeSet{}
	}
	cs.probes.id = id
	ps := &cs.probes.states
	for k := range ps {
		ps[k] = probeState{}
		if p := probeOf(c, k); p != nil {
			ps[k].next = started.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
		}
	}
	ps[probeLiveness].result = resultSuccess
}

// started reports whether a running container whose probes cs follows has
// passed its startup probe (or has none).
func (cs *ctrState) started(c *objects.Container) bool {
	return c.StartupProbe == nil || cs.probes.states[probeStartup].result == resultSuccess
}

// ready reports whether running container instance id is ready. cs may be
// nil.
func (cs *ctrState) ready(c *objects.Container, id string) bool {
	if !cs.probing(id) {
		return c.ReadinessProbe == nil && c.StartupProbe == nil
	}
	if !cs.started(c) {
		return false
	}
	return c.ReadinessProbe == nil || cs.probes.states[probeReadiness].result == resultSuccess
}

// failingProbe returns the probe whose failure is killing the container.
// cs may be nil.
func failingProbe(c *objects.Container, cs *ctrState) *objects.Probe {
	if cs == nil || cs.probes == nil {
		return nil
	}
	for k := range cs.probes.states {
		if cs.probes.states[k].killedByIt {
			return probeOf(c, k)
		}
	}
	return nil
}

// probeContainer runs the probes of a running container that are due, and
// returns why the container must be killed ("" when it must not).
func (a *Agent) probeContainer(sc *syncCtx, c *objects.Container, cur *runtimeStatus) string {
	if c.StartupProbe == nil && c.LivenessProbe == nil && c.ReadinessProbe == nil {
		return ""
	}
	cs := sc.st.ctr(c.Name)
	if !cs.probing(cur.ID) {
		cs.resetProbes(c, cur.ID, cur.StartedAt)
	}
	states := &cs.probes.states
	for k := range states {
		p := probeOf(c, k)
		if p == nil {
			continue
		}
		startupDone := cs.started(c)
		if k == probeStartup && startupDone || k != probeStartup && !startupDone {
			continue
		}
		ps := &states[k]
		now := a.clock.Now()
		if now.Before(ps.next) {
			sc.wakeAt(ps.next)
			continue
		}
		ok, msg, err := a.probe(sc.ctx, sc.pod, c, cur.ID, sc.res.podIP, p.ProbeHandler, probeTimeout(p))
		if err != nil && sc.fail(err) {
			return ""
		}
		ps.next = now.Add(period(p))
		sc.wakeAt(ps.next)
		if ok {
			ps.failures = 0
			ps.successes++
			if ps.successes >= threshold(p.SuccessThreshold, 1) {
				ps.result = resultSuccess
			}
			if k == probeStartup && ps.result == resultSuccess {
				for _, later := range []int{probeLiveness, probeReadiness} {
					if states[later].next.Before(now) {
						states[later].next = now
					}
				}
				sc.wakeAt(now)
			}
			continue
		}
		ps.successes = 0
		ps.failures++
		a.event(sc.pod, EventWarning, "Unhealthy", probeNames[k]+" probe failed: "+msg)
		if ps.failures < threshold(p.FailureThreshold, 3) {
			continue
		}
		ps.result = resultFailure
		if k == probeReadiness {
			continue
		}
		ps.killedByIt = true
		return fmt.Sprintf("Container %s failed %s probe, will be restarted", c.Name, strings.ToLower(probeNames[k]))
	}
	return ""
}

type runtimeStatus = runtime.ContainerStatus

func probeTimeout(p *objects.Probe) time.Duration {
	if p.TimeoutSeconds <= 0 {
		return time.Second
	}
	return time.Duration(p.TimeoutSeconds) * time.Second
}

// probe runs one probe handler against container id. ok is the verdict and
// msg explains a failure; err is set only when the runtime is unreachable.
func (a *Agent) probe(ctx context.Context, pod *objects.Pod, c *objects.Container, id, podIP string, h objects.ProbeHandler, timeout time.Duration) (ok bool, msg string, err error) {
	// The timeout bounds I/O, so it is real time, unlike periods and
	// delays. A postStart hook has none.
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	switch {
	case h.Exec != nil:
		ex, isExecer := a.rt.(runtime.Execer)
		if !isExecer {
			return false, errNoExec.Error(), nil
		}
		// A runtime may copy stdout and stderr in two goroutines
		// (containerd does): one buffer takes both under a lock.
		out := &lockedBuffer{}
		code, err := ex.Exec(ctx, id, runtime.ExecOptions{Command: h.Exec.Command, Stdout: out, Stderr: out})
		if errors.Is(err, runtime.ErrUnavailable) {
			return false, err.Error(), err
		}
		if ctx.Err() != nil {
			return false, fmt.Sprintf("command %q timed out", strings.Join(h.Exec.Command, " ")), nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		if code != 0 {
			return false, fmt.Sprintf("command %q exited with %d: %s", strings.Join(h.Exec.Command, " "), code, strings.TrimSpace(out.String())), nil
		}
		return true, "", nil
	case h.HTTPGet != nil:
		return a.httpProbe(ctx, c, podIP, h.HTTPGet)
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		port, perr := resolvePort(c, h.TCPSocket.Port)
		if perr != nil {
			return false, perr.Error(), nil
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		conn, derr := a.dial(ctx, "tcp", addr)
		if derr != nil {
			return false, fmt.Sprintf("dial tcp %s: %v", addr, derr), nil
		}
		conn.Close()
		return true, "", nil
	case h.GRPC != nil:
		ok, msg := a.grpcProbe(ctx, podIP, h.GRPC, timeout)
		return ok, msg, nil
	}
	return true, "", nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (a *Agent) httpProbe(ctx context.Context, c *objects.Container, podIP string, g *objects.HTTPGetAction) (bool, string, error) {
	host := g.Host
	if host == "" {
		host = podIP
	}
	port, err := resolvePort(c, g.Port)
	if err != nil {
		return false, err.Error(), nil
	}
	scheme := "http"
	if g.Scheme == objects.URISchemeHTTPS {
		scheme = "https"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error(), nil
	}
	req.Header.Set("User-Agent", "kube-probe/podkit")
	for _, hd := range g.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	resp, err := a.probeClient().Do(req)
	if err != nil {
		return false, fmt.Sprintf("Get %q: %v", url, err), nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode), nil
	}
	return true, "", nil
}

func (a *Agent) probeClient() *http.Client {
	a.httpOnce.Do(func() { a.http = &http.Client{Transport: newProbeTransport(a.dial)} })
	return a.http
}

func newProbeTransport(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		DialContext:       dial,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as the kubelet's probes
	}
}

// resolvePort turns a numeric or named port into a number, looking names up
// among the container's ports.
func resolvePort(c *objects.Container, p objects.IntOrString) (int, error) {
	if p.Type == objects.IntType {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port %q in container %s", p.StrVal, c.Name)
}

// runHook runs a postStart or preStop handler within budget (0: until it
// returns or ctx ends). msg explains a failure; err is the failure
// (wrapping ErrUnavailable when the runtime is unreachable).
func (a *Agent) runHook(ctx context.Context, pod *objects.Pod, c *objects.Container, id, podIP string, h *objects.LifecycleHandler, budget time.Duration) (string, error) {
	if h.Sleep != nil {
		d := time.Duration(h.Sleep.Seconds) * time.Second
		if budget > 0 {
			d = min(d, budget)
		}
		t := a.clock.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.Chan():
			return "", nil
		}
	}
	if podIP == "" {
		podIP = pod.Status.PodIP
	}
	ok, msg, err := a.probe(ctx, pod, c, id, podIP, objects.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}, budget)
	if err != nil {
		return msg, err
	}
	if !ok {
		kind := "exec"
		if h.HTTPGet != nil {
			kind = "http"
		}
		return fmt.Sprintf("%s lifecycle hook for Container %q in Pod %q failed - error: %s", kind, c.Name, pod.Name+"_"+pod.Namespace+"("+pod.UID+")", msg), errors.New(msg)
	}
	return "", nil
}
