package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/runtime"
)

type container struct {
	id        string
	seq       uint64
	sandboxID string
	cfg       runtime.ContainerConfig
	imageID   string // of cfg.Image, computed once
	ns, pod   string
	uid       string

	state    runtime.ContainerState
	exitCode int32
	reason   string
	message  string
	created  time.Time
	started  time.Time
	finished time.Time

	b       *Behavior // read-only, shared with the rule it comes from
	healthy bool
	timer   clockwork.Timer
	done    chan struct{} // made when waited on (see exited), closed when the container exits

	cpuMillis int64
	memory    uint64
	cpuNanos  float64   // used up to usageAt
	usageAt   time.Time // when cpuMillis last changed or the container started

	logs    []logLine
	logWake chan struct{} // made when waited on (see logWaker), closed when a line is written or the container exits
}

// noBehavior is what an unscripted container does. Read-only.
var noBehavior Behavior

// exited returns a channel closed when the container exits. r.mu is held.
func (c *container) exited() <-chan struct{} {
	if c.done == nil {
		c.done = make(chan struct{})
		if c.state == runtime.ContainerExited {
			close(c.done)
		}
	}
	return c.done
}

// logWaker returns a channel closed at the next line written or at the
// exit. r.mu is held.
func (c *container) logWaker() <-chan struct{} {
	if c.logWake == nil {
		c.logWake = make(chan struct{})
	}
	return c.logWake
}

type logLine struct {
	t      time.Time
	stream string
	text   string
}

func (c *container) stopTimer() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

func (c *container) wake() {
	if c.logWake != nil {
		close(c.logWake)
		c.logWake = nil
	}
}

func (c *container) record(op Op) Record {
	return Record{Op: op, ID: c.id, SandboxID: c.sandboxID, Namespace: c.ns, Pod: c.pod, PodUID: c.uid,
		Container: c.cfg.Name, Attempt: c.cfg.Attempt, Image: c.cfg.Image}
}

func (c *container) status() runtime.ContainerStatus {
	return runtime.ContainerStatus{
		ID: c.id, SandboxID: c.sandboxID, Name: c.cfg.Name, Attempt: c.cfg.Attempt,
		Image: c.cfg.Image, ImageID: c.imageID, State: c.state,
		ExitCode: c.exitCode, Reason: c.reason, Message: c.message,
		CreatedAt: c.created, StartedAt: c.started, FinishedAt: c.finished,
		Labels: c.cfg.Labels, // read-only, see the package doc
	}
}

func (r *Runtime) container(id string) (*container, error) {
	c := r.containers[id]
	if c == nil {
		return nil, fmt.Errorf("fake: container %s: %w", short(id), runtime.ErrNotFound)
	}
	return c, nil
}

// CreateContainer implements runtime.Runtime.
func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtime.ContainerConfig) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return "", err
	}
	sb, err := r.sandbox(sandboxID)
	if err != nil {
		return "", err
	}
	rec := Record{Op: OpCreateContainer, SandboxID: sandboxID, Namespace: sb.ns, Pod: sb.pod,
		PodUID: sb.uid, Container: cfg.Name, Attempt: cfg.Attempt, Image: cfg.Image}
	if sb.state != runtime.SandboxReady {
		err := fmt.Errorf("fake: create container %s: sandbox %s is not ready", cfg.Name, short(sandboxID))
		r.record(rec, err)
		return "", err
	}
	imgID, ok := r.images[cfg.Image]
	if !ok {
		err := fmt.Errorf("fake: create container %s: no such image: %s: %w", cfg.Name, cfg.Image, runtime.ErrNotFound)
		r.record(rec, err)
		return "", err
	}
	if err := r.injected(OpCreateContainer, sb.ns, sb.pod, sb.uid, cfg.Name, cfg.Image); err != nil {
		r.record(rec, err)
		return "", err
	}
	id := r.newID("container")
	c := &container{
		id: id, seq: r.seq, sandboxID: sandboxID, cfg: cloneConfig(cfg), imageID: imgID,
		ns: sb.ns, pod: sb.pod, uid: sb.uid,
		state: runtime.ContainerCreated, created: r.clock.Now(), b: &noBehavior,
	}
	r.containers[id] = c
	ix := r.index(c.uid)
	ix.containers = append(ix.containers, id)
	rec.ID = id
	r.record(rec, nil)
	return id, nil
}

func cloneConfig(cfg *runtime.ContainerConfig) runtime.ContainerConfig {
	c := *cfg
	c.Command = slices.Clone(cfg.Command)
	c.Args = slices.Clone(cfg.Args)
	c.Env = slices.Clone(cfg.Env)
	c.Mounts = slices.Clone(cfg.Mounts)
	c.Ports = slices.Clone(cfg.Ports)
	c.Labels = maps.Clone(cfg.Labels)
	c.CapAdd = slices.Clone(cfg.CapAdd)
	c.CapDrop = slices.Clone(cfg.CapDrop)
	return c
}

// behavior resolves what a container does: the most recent matching rule,
// else its command line, else the zero Behavior.
func (r *Runtime) behavior(c *container) *Behavior {
	for i := len(r.rules) - 1; i >= 0; i-- {
		if r.rules[i].m.matches(c.ns, c.pod, c.uid, c.cfg.Name, c.cfg.Image) {
			return &r.rules[i].b // rules are only appended to, never changed
		}
	}
	if len(c.cfg.Command)+len(c.cfg.Args) == 0 {
		return &noBehavior
	}
	if b, ok := command(append(slices.Clone(c.cfg.Command), c.cfg.Args...)); ok {
		return &b
	}
	return &noBehavior
}

// StartContainer implements runtime.Runtime. An injected OpStartContainer
// fault leaves the container exited with code 128 and reason StartError,
// as containerd reports a process that could not start.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return err
	}
	c, err := r.container(id)
	if err != nil {
		return err
	}
	rec := c.record(OpStartContainer)
	if c.state != runtime.ContainerCreated {
		err := fmt.Errorf("fake: start container %s: container is %s, not Created", short(id), c.state)
		r.record(rec, err)
		return err
	}
	if sb := r.sandboxes[c.sandboxID]; sb == nil || sb.state != runtime.SandboxReady {
		err := fmt.Errorf("fake: start container %s: sandbox %s is not ready", short(id), short(c.sandboxID))
		r.record(rec, err)
		return err
	}
	now := r.clock.Now()
	if err := r.injected(OpStartContainer, c.ns, c.pod, c.uid, c.cfg.Name, c.cfg.Image); err != nil {
		r.record(rec, err)
		c.started = now
		r.exit(c, 128, "StartError", now)
		c.message = err.Error()
		return err
	}
	c.b = r.behavior(c)
	c.healthy = !c.b.Unhealthy
	c.state = runtime.ContainerRunning
	c.started, c.usageAt = now, now
	c.cpuMillis, c.memory = c.b.CPUMillis, c.b.MemoryBytes
	if c.memory == 0 {
		c.memory = DefaultMemoryBytes
	}
	r.record(rec, nil)
	r.publish(runtime.Event{Type: runtime.EventContainerStarted, ID: id, SandboxID: c.sandboxID, PodUID: c.uid, Time: now})
	for _, l := range c.b.Logs {
		c.logs = append(c.logs, logLine{t: now, stream: "stdout", text: l})
	}
	for _, l := range c.b.Stderr {
		c.logs = append(c.logs, logLine{t: now, stream: "stderr", text: l})
	}
	if len(c.b.Logs)+len(c.b.Stderr) > 0 {
		c.wake()
	}
	if e := c.b.Exit; e != nil {
		code, reason := e.Code, exitReason(e.Code)
		if e.OOMKilled {
			reason = "OOMKilled"
			if code == 0 {
				code = 137
			}
		}
		if e.After <= 0 {
			r.exit(c, code, reason, now)
			return nil
		}
		at := now.Add(e.After)
		c.timer = r.clock.AfterFunc(e.After, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if c.state == runtime.ContainerRunning && r.containers[c.id] == c {
				r.exit(c, code, reason, at)
			}
		})
	}
	return nil
}

func exitReason(code int32) string {
	if code == 0 {
		return "Completed"
	}
	return "Error"
}

// exit ends a running (or starting) container. r.mu is held.
func (r *Runtime) exit(c *container, code int32, reason string, at time.Time) {
	if c.state == runtime.ContainerExited {
		return
	}
	c.stopTimer()
	if c.state == runtime.ContainerRunning {
		c.cpuNanos += usage(c.cpuMillis, at.Sub(c.usageAt))
		c.usageAt = at
	}
	c.state = runtime.ContainerExited
	c.exitCode, c.reason, c.finished = code, reason, at
	if c.done != nil {
		close(c.done)
	}
	c.wake()
	rec := c.record(OpExit)
	rec.ExitCode = code
	rec.Reason = reason
	r.record(rec, nil)
	r.publish(runtime.Event{Type: runtime.EventContainerExited, ID: c.id, SandboxID: c.sandboxID, PodUID: c.uid, Time: at})
}

func usage(millis int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(millis) / 1000 * float64(d)
}

// StopContainer implements runtime.Runtime. A container honours SIGTERM at
// once (exit code Behavior.TermExitCode) unless scripted to ignore it; then
// it is killed when the grace period ends on the runtime's clock.
func (r *Runtime) StopContainer(ctx context.Context, id string, opts runtime.StopOptions) error {
	r.mu.Lock()
	if err := r.check(); err != nil {
		r.mu.Unlock()
		return err
	}
	c, err := r.container(id)
	if err != nil {
		r.mu.Unlock()
		return err
	}
	rec := c.record(OpStopContainer)
	if err := r.injected(OpStopContainer, c.ns, c.pod, c.uid, c.cfg.Name, c.cfg.Image); err != nil {
		r.record(rec, err)
		r.mu.Unlock()
		return err
	}
	r.record(rec, nil)
	if c.state != runtime.ContainerRunning {
		if c.state == runtime.ContainerCreated {
			r.exit(c, 137, "Error", r.clock.Now())
		}
		r.mu.Unlock()
		return nil
	}
	sig := opts.Signal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	switch {
	case sig == syscall.SIGKILL || opts.Grace <= 0:
		r.exit(c, 137, "Error", r.clock.Now())
	case !c.b.IgnoreSIGTERM:
		r.exit(c, c.b.TermExitCode, exitReason(c.b.TermExitCode), r.clock.Now())
	}
	done := c.exited()
	r.mu.Unlock()
	select {
	case <-done:
		return nil
	default:
	}
	t := r.clock.NewTimer(opts.Grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exit(c, 137, "Error", r.clock.Now())
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return err
	}
	c, err := r.container(id)
	if err != nil {
		return err
	}
	rec := c.record(OpRemoveContainer)
	if err := r.injected(OpRemoveContainer, c.ns, c.pod, c.uid, c.cfg.Name, c.cfg.Image); err != nil {
		r.record(rec, err)
		return err
	}
	r.removeContainer(c)
	r.record(rec, nil)
	return nil
}

func (r *Runtime) removeContainer(c *container) {
	if c.state != runtime.ContainerExited {
		r.exit(c, 137, "Error", r.clock.Now())
	}
	delete(r.containers, c.id)
	if ix := r.byPod[c.uid]; ix != nil {
		ix.containers = slices.DeleteFunc(ix.containers, func(s string) bool { return s == c.id })
		r.dropIndex(c.uid)
	}
}

// ListContainers implements runtime.Runtime, in creation order.
func (r *Runtime) ListContainers(ctx context.Context, f runtime.Filter) ([]runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return nil, err
	}
	var cs []*container
	if uid, ok := f.Labels[runtime.LabelPodUID]; ok {
		if ix := r.byPod[uid]; ix != nil {
			for _, id := range ix.containers {
				cs = append(cs, r.containers[id])
			}
		}
	} else {
		cs = slices.Collect(maps.Values(r.containers))
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	out := make([]runtime.ContainerStatus, 0, len(cs))
	for _, c := range cs {
		if f.SandboxID != "" && f.SandboxID != c.sandboxID || !labelsMatch(c.cfg.Labels, f.Labels) {
			continue
		}
		out = append(out, c.status())
	}
	return out, nil
}

// each calls fn for every running container matching m and returns how
// many there were. r.mu is held.
func (r *Runtime) each(m Match, fn func(c *container)) int {
	var cs []*container
	for _, c := range r.containers {
		if c.state == runtime.ContainerRunning && m.matches(c.ns, c.pod, c.uid, c.cfg.Name, c.cfg.Image) {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	for _, c := range cs {
		fn(c)
	}
	return len(cs)
}

// Kill makes every running container matching m exit now with code (reason
// Error, or Completed for 0), as a crash or an outside kill does, and
// returns how many it killed.
func (r *Runtime) Kill(m Match, code int32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.each(m, func(c *container) { r.exit(c, code, exitReason(code), r.clock.Now()) })
}

// OOMKill makes every running container matching m exit now as killed for
// exceeding its memory limit (exit code 137, reason OOMKilled).
func (r *Runtime) OOMKill(m Match) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.each(m, func(c *container) { r.exit(c, 137, "OOMKilled", r.clock.Now()) })
}

// SetHealthy makes the running containers matching m pass (true) or fail
// (false) their probes from now on, and returns how many it changed. A
// restarted container behaves as scripted again.
func (r *Runtime) SetHealthy(m Match, healthy bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.each(m, func(c *container) { c.healthy = healthy })
}

// SetUsage sets the CPU (thousandths of a CPU) and memory the running
// containers matching m use from now on.
func (r *Runtime) SetUsage(m Match, cpuMillis int64, memoryBytes uint64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	return r.each(m, func(c *container) {
		c.cpuNanos += usage(c.cpuMillis, now.Sub(c.usageAt))
		c.usageAt, c.cpuMillis, c.memory = now, cpuMillis, memoryBytes
	})
}

// Log writes a line of output ("stdout" or "stderr") to the running
// containers matching m.
func (r *Runtime) Log(m Match, stream, line string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	return r.each(m, func(c *container) {
		c.logs = append(c.logs, logLine{t: now, stream: stream, text: line})
		c.wake()
	})
}

// ContainerStats implements runtime.StatsProvider.
func (r *Runtime) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return runtime.Stats{}, err
	}
	c, err := r.container(id)
	if err != nil {
		return runtime.Stats{}, err
	}
	now := r.clock.Now()
	st := runtime.Stats{Timestamp: now, CPUUsageNanos: uint64(c.cpuNanos)}
	if c.state == runtime.ContainerRunning {
		st.CPUUsageNanos = uint64(c.cpuNanos + usage(c.cpuMillis, now.Sub(c.usageAt)))
		st.MemoryWorkingSetBytes = c.memory
	}
	return st, nil
}
