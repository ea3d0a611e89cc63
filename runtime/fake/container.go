package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/runtime"
)

// container keeps what a running container needs; the rest is in extra,
// and what it was created with beyond its status in spec, shared.
type container struct {
	id     string
	sb     *sandbox
	next   *container // the sandbox's container created after this one
	name   string
	img    *image
	labels map[string]string
	spec   *spec

	state   runtime.ContainerState
	created time.Time
	started time.Time

	b       *Behavior // read-only, shared with the rule it comes from
	x       *extra    // nil until needed, see more
	attempt uint32
	healthy bool
}

// extra is the state of containers that exited, log, use CPU, exit on a
// timer, are waited on or use disk: at scale, most containers just run. A
// container without one uses no CPU and DefaultMemoryBytes.
type extra struct {
	exitCode int32
	reason   string
	message  string
	finished time.Time
	timer    clockwork.Timer
	done     chan struct{} // made when waited on (see exited), closed when the container exits

	cpuMillis int64
	memory    uint64
	cpuNanos  float64   // used up to usageAt
	usageAt   time.Time // when cpuMillis last changed or the container started

	logs    []logLine
	logWake chan struct{} // made when waited on (see logWaker), closed when a line is written or the container exits

	disk *diskUsage // nil unless it ran fill or SetDiskUsage was called
}

// noBehavior is what an unscripted container does. Read-only.
var noBehavior Behavior

// more returns c's extra, making it. r.mu is held.
func (c *container) more() *extra {
	if c.x == nil {
		c.x = &extra{memory: DefaultMemoryBytes, usageAt: c.started}
	}
	return c.x
}

// exited returns a channel closed when the container exits. r.mu is held.
func (c *container) exited() <-chan struct{} {
	x := c.more()
	if x.done == nil {
		x.done = make(chan struct{})
		if c.state == runtime.ContainerExited {
			close(x.done)
		}
	}
	return x.done
}

// logWaker returns a channel closed at the next line written or at the
// exit. r.mu is held.
func (c *container) logWaker() <-chan struct{} {
	x := c.more()
	if x.logWake == nil {
		x.logWake = make(chan struct{})
	}
	return x.logWake
}

type logLine struct {
	t      time.Time
	stream string
	text   string
}

func (c *container) logs() []logLine {
	if c.x == nil {
		return nil
	}
	return c.x.logs
}

func (c *container) stopTimer() {
	if c.x != nil && c.x.timer != nil {
		c.x.timer.Stop()
		c.x.timer = nil
	}
}

func (c *container) wake() {
	if c.x != nil && c.x.logWake != nil {
		close(c.x.logWake)
		c.x.logWake = nil
	}
}

func (c *container) matches(m Match) bool {
	return m.matches(c.sb.ns, c.sb.pod, c.sb.uid, c.name, c.img.ref)
}

// injectedFor is Runtime.injected for a call about c.
func (r *Runtime) injectedFor(op Op, c *container) error {
	return r.injected(op, c.sb.ns, c.sb.pod, c.sb.uid, c.name, c.img.ref)
}

func (c *container) record(op Op) Record {
	return Record{Op: op, ID: c.id, SandboxID: c.sb.id, Namespace: c.sb.ns, Pod: c.sb.pod, PodUID: c.sb.uid,
		Container: c.name, Attempt: c.attempt, Image: c.img.ref}
}

func (c *container) status() runtime.ContainerStatus {
	st := runtime.ContainerStatus{
		ID: c.id, SandboxID: c.sb.id, Name: c.name, Attempt: c.attempt,
		Image: c.img.ref, ImageID: c.img.id, State: c.state,
		CreatedAt: c.created, StartedAt: c.started,
		Labels: c.labels, // read-only, see the package doc
		// Read-only too: shared with the containers of an equal spec.
		Resources: &c.spec.cfg.Resources,
	}
	if x := c.x; x != nil {
		st.ExitCode, st.Reason, st.Message, st.FinishedAt = x.exitCode, x.reason, x.message, x.finished
	}
	return st
}

// config returns a copy of what c was created with.
func (c *container) config() runtime.ContainerConfig {
	cfg := cloneConfig(&c.spec.cfg)
	cfg.Name, cfg.Attempt, cfg.Image, cfg.Labels = c.name, c.attempt, c.img.ref, maps.Clone(c.labels)
	return cfg
}

func (r *Runtime) container(id string) (*container, error) {
	if c := r.lookupContainer(id); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("fake: container %s: %w", id, runtime.ErrNotFound)
}

// lookupContainer returns the container with that id, or nil.
func (r *Runtime) lookupContainer(id string) *container {
	seq, ok := seqOf(id)
	if !ok {
		return nil
	}
	if c := r.containers[seq]; c != nil && c.id == id {
		return c
	}
	return nil
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
	if !sb.ready {
		err := fmt.Errorf("fake: create container %s: sandbox %s is not ready", cfg.Name, sandboxID)
		r.record(rec, err)
		return "", err
	}
	img := r.images[cfg.Image]
	if img == nil {
		err := fmt.Errorf("fake: create container %s: no such image: %s: %w", cfg.Name, cfg.Image, runtime.ErrNotFound)
		r.record(rec, err)
		return "", err
	}
	if err := checkSecurity(cfg); err != nil {
		r.record(rec, err)
		return "", err
	}
	if err := r.checkRecursiveReadOnly(cfg); err != nil {
		r.record(rec, err)
		return "", err
	}
	if err := r.checkImageMounts(cfg); err != nil {
		r.record(rec, err)
		return "", err
	}
	if err := r.checkTarget(sb, cfg.Name, cfg.TargetContainerID); err != nil {
		r.record(rec, err)
		return "", err
	}
	if err := r.injected(OpCreateContainer, sb.ns, sb.pod, sb.uid, cfg.Name, cfg.Image); err != nil {
		r.record(rec, err)
		return "", err
	}
	seq, id := r.newID()
	c := &container{
		id: id, sb: sb, name: cfg.Name, attempt: cfg.Attempt, img: img,
		labels: maps.Clone(cfg.Labels), spec: r.internSpec(cfg),
		state: runtime.ContainerCreated, created: r.clock.Now(), b: &noBehavior,
	}
	r.containers[seq] = c
	last := &sb.ctrs
	for *last != nil {
		last = &(*last).next
	}
	*last = c
	rec.ID = id
	r.record(rec, nil)
	return id, nil
}

// checkRecursiveReadOnly refuses what the runtime's handlers would: a
// recursively read-only mount without read-only or with propagation, or
// any where it makes none (WithoutRecursiveReadOnly).
func (r *Runtime) checkRecursiveReadOnly(cfg *runtime.ContainerConfig) error {
	for _, m := range cfg.Mounts {
		switch {
		case !m.RecursiveReadOnly:
		case r.noRRO:
			return fmt.Errorf("fake: create container %s: mount %s: %w", cfg.Name, m.ContainerPath, runtime.ErrRecursiveReadOnly)
		case !m.ReadOnly || m.Propagation != runtime.PropagationPrivate:
			return fmt.Errorf("fake: create container %s: mount %s: recursively read-only needs read-only and private propagation", cfg.Name, m.ContainerPath)
		}
	}
	return nil
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
	c.Security = cfg.Security.Clone()
	return c
}

// behavior resolves what a container does: the most recent matching rule,
// else its command line, else the zero Behavior.
func (r *Runtime) behavior(c *container) *Behavior {
	for i := len(r.rules) - 1; i >= 0; i-- {
		if c.matches(r.rules[i].m) {
			return &r.rules[i].b // rules are only appended to, never changed
		}
	}
	cmd, args := c.spec.cfg.Command, c.spec.cfg.Args
	if len(cmd)+len(args) == 0 {
		return &noBehavior
	}
	argv := append(slices.Clone(cmd), args...)
	if stdout, stderr, code, ok := r.podCommand(c, argv); ok {
		return &Behavior{Logs: stdout, Stderr: stderr, Exit: &Exit{Code: code}}
	}
	if b, ok := r.fillCommand(c, argv); ok {
		return b
	}
	if b, ok := command(argv, c.spec.cfg.TerminationMessagePath); ok {
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
		err := fmt.Errorf("fake: start container %s: container is %s, not Created", id, c.state)
		r.record(rec, err)
		return err
	}
	if !c.sb.ready {
		err := fmt.Errorf("fake: start container %s: sandbox %s is not ready", id, c.sb.id)
		r.record(rec, err)
		return err
	}
	if err := r.checkTarget(c.sb, c.name, c.spec.cfg.TargetContainerID); err != nil {
		r.record(rec, err)
		return err
	}
	now := r.clock.Now()
	if err := r.injectedFor(OpStartContainer, c); err != nil {
		r.record(rec, err)
		c.started = now
		r.exit(c, 128, "StartError", now)
		c.more().message = err.Error()
		return err
	}
	c.b = r.behavior(c)
	c.healthy = !c.b.Unhealthy
	c.state = runtime.ContainerRunning
	c.started = now
	if c.x != nil || c.b.CPUMillis != 0 || c.b.MemoryBytes != 0 {
		x := c.more()
		x.usageAt, x.cpuMillis, x.memory = now, c.b.CPUMillis, c.b.MemoryBytes
		if x.memory == 0 {
			x.memory = DefaultMemoryBytes
		}
	}
	r.record(rec, nil)
	r.publish(runtime.Event{Type: runtime.EventContainerStarted, ID: id, SandboxID: c.sb.id, PodUID: c.sb.uid, Time: now})
	if len(c.b.Logs)+len(c.b.Stderr) > 0 {
		x := c.more()
		for _, l := range c.b.Logs {
			x.logs = append(x.logs, logLine{t: now, stream: "stdout", text: l})
		}
		for _, l := range c.b.Stderr {
			x.logs = append(x.logs, logLine{t: now, stream: "stderr", text: l})
		}
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
		c.more().timer = r.clock.AfterFunc(e.After, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if c.state == runtime.ContainerRunning && r.lookupContainer(c.id) == c {
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
	x := c.more()
	if c.state == runtime.ContainerRunning {
		x.cpuNanos += usage(x.cpuMillis, at.Sub(x.usageAt))
		x.usageAt = at
	}
	if m := c.b.TerminationMessage; m != "" && c.state == runtime.ContainerRunning && c.spec.cfg.TerminationMessagePath != "" {
		x.message = runtime.JoinMessages(x.message, lastBytes(m, runtime.MaxTerminationMessage))
	}
	c.state = runtime.ContainerExited
	x.exitCode, x.reason, x.finished = code, reason, at
	if x.done != nil {
		close(x.done)
	}
	c.wake()
	rec := c.record(OpExit)
	rec.Time, rec.ExitCode, rec.Reason = at, code, reason
	r.record(rec, nil)
	r.publish(runtime.Event{Type: runtime.EventContainerExited, ID: c.id, SandboxID: c.sb.id, PodUID: c.sb.uid, Time: at})
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
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
	if err := r.injectedFor(OpStopContainer, c); err != nil {
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
	if c.state == runtime.ContainerExited {
		r.mu.Unlock()
		return nil
	}
	done := c.exited()
	r.mu.Unlock()
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
	if err := r.injectedFor(OpRemoveContainer, c); err != nil {
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
	seq, _ := seqOf(c.id)
	delete(r.containers, seq)
	r.releaseSpec(c.spec)
	for p := &c.sb.ctrs; *p != nil; p = &(*p).next {
		if *p == c {
			*p = c.next
			break
		}
	}
}

// ListContainers implements runtime.Runtime, in creation order.
func (r *Runtime) ListContainers(ctx context.Context, f runtime.Filter) ([]runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return nil, err
	}
	uid, byUID := f.Labels[runtime.LabelPodUID]
	var out []runtime.ContainerStatus
	switch {
	case f.SandboxID != "":
		// Of one sandbox: where the pod uid is given too, of that pod's.
		sb := r.lookupSandbox(f.SandboxID)
		if sb == nil || byUID && sb.uid != uid {
			return []runtime.ContainerStatus{}, nil
		}
		out = appendStatuses(out, sb.ctrs, f)
	case byUID:
		// The pod's sandboxes are linked newest first; their containers
		// oldest first.
		var sbs int
		for sb := r.byPod[uid]; sb != nil; sb = sb.older {
			out = appendStatuses(out, sb.ctrs, f)
			sbs++
		}
		if sbs > 1 {
			slices.SortFunc(out, func(a, b runtime.ContainerStatus) int { return strings.Compare(a.ID, b.ID) })
		}
	default:
		cs := inOrder(r.containers, func(c *container) bool { return labelsMatch(c.labels, f.Labels) })
		out = make([]runtime.ContainerStatus, len(cs))
		for i, c := range cs {
			out[i] = c.status()
		}
	}
	if out == nil {
		out = []runtime.ContainerStatus{}
	}
	return out, nil
}

// appendStatuses appends the statuses of c and the containers after it that
// have f's labels.
func appendStatuses(out []runtime.ContainerStatus, c *container, f runtime.Filter) []runtime.ContainerStatus {
	for ; c != nil; c = c.next {
		if labelsMatch(c.labels, f.Labels) {
			out = append(out, c.status())
		}
	}
	return out
}

// each calls fn for every running container matching m, in creation
// order, and returns how many there were. r.mu is held.
func (r *Runtime) each(m Match, fn func(c *container)) int {
	cs := inOrder(r.containers, func(c *container) bool { return c.state == runtime.ContainerRunning && c.matches(m) })
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
		x := c.more()
		x.cpuNanos += usage(x.cpuMillis, now.Sub(x.usageAt))
		x.usageAt, x.cpuMillis, x.memory = now, cpuMillis, memoryBytes
	})
}

// Log writes a line of output ("stdout" or "stderr") to the running
// containers matching m.
func (r *Runtime) Log(m Match, stream, line string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	return r.each(m, func(c *container) {
		x := c.more()
		x.logs = append(x.logs, logLine{t: now, stream: stream, text: line})
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
	running := c.state == runtime.ContainerRunning
	var cpu float64
	mem := uint64(DefaultMemoryBytes)
	if x := c.x; x != nil {
		cpu, mem = x.cpuNanos, x.memory
		if running {
			cpu += usage(x.cpuMillis, now.Sub(x.usageAt))
		}
	}
	st := runtime.Stats{Timestamp: now, CPUUsageNanos: uint64(cpu)}
	if running {
		st.MemoryWorkingSetBytes = mem
	}
	return st, nil
}
