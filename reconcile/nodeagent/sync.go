package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// podState is what a worker remembers between syncs. None of it is needed
// for correctness after a restart: restart counts live in the runtime
// (container attempts); backoffs and probe results start afresh.
type podState struct {
	worker    *podWorker // whose state this is
	last      *objects.Pod
	ctrs      []*ctrState        // few: a linear search beats a map
	sent      *objects.PodStatus // last status queued for the store, until stored
	sentSeq   uint64             // numbers the statuses queued
	stored    bool               // last holds the last status queued
	terminal  bool               // Succeeded or Failed: nothing restarts
	stopped   bool               // containers and sandbox of a terminal pod stopped
	deadline  bool               // activeDeadlineSeconds passed
	killed    bool               // stopped for deletion
	finalized bool               // final status and delete queued
	startTime time.Time
	podIP     string
	sbMessage string // why the sandbox could not be created
	mountErr  string
	retry     time.Duration // delay after a runtime error, doubling
	sel       map[string]string
	qosOf     *objects.Pod // the pod version qos was computed for
	qos       objects.PodQOSClass
	// resync asks for another sync at once, for what a sync leaves to the
	// next: the probes of a container it started (set up by a sync that
	// finds it running), or a container it started that stopped at once
	// (whose exit event may have come before the agent was watching).
	resync bool
}

// ctrState is what a worker remembers about one container of its pod.
type ctrState struct {
	name        string
	restart     backoffEntry
	pull        backoffEntry
	pullImage   string
	pullFailed  time.Time
	waitReason  string
	waitMessage string
	probeID     string         // the container instance the probe state is about
	probes      *[3]probeState // made with probeID (resetProbes)
	hashOf      *objects.Pod   // the pod version hash was computed for
	hash        string
}

// specHash returns containerHash(c), computed once per pod version.
func (cs *ctrState) specHash(pod *objects.Pod, c *objects.Container) string {
	if cs.hashOf != pod {
		cs.hashOf, cs.hash = pod, containerHash(c)
	}
	return cs.hash
}

// rebase makes the state refer to pod, the version a status write of the
// agent made, instead of base, the version it wrote over (equal but for
// the status), so that the older version can be let go; and, when that
// write was of the last status queued (seq), that status too, pod having
// it now. The sync must not be running.
func (st *podState) rebase(base, pod *objects.Pod, seq uint64) {
	if st.last == base {
		st.last = pod
		if seq == st.sentSeq { // the last status queued: pod has it
			st.sent, st.stored = nil, true
		}
	}
	if st.qosOf == base {
		st.qosOf = pod
	}
	for _, c := range st.ctrs {
		if c.hashOf == base {
			c.hashOf = pod
		}
	}
}

// selector returns the labels of what the runtime runs for the pod, made
// once: runtimes only read a Filter.
func (st *podState) selector(a *Agent, uid string) map[string]string {
	if st.sel == nil {
		st.sel = a.selector(uid)
	}
	return st.sel
}

func (st *podState) ctr(name string) *ctrState {
	for _, c := range st.ctrs {
		if c.name == name {
			return c
		}
	}
	c := &ctrState{name: name}
	st.ctrs = append(st.ctrs, c)
	return c
}

// observed is the runtime's view of one pod.
type observed struct {
	sandboxes []runtime.SandboxStatus // oldest first
	ready     *runtime.SandboxStatus  // the newest Ready sandbox
	current   *runtime.SandboxStatus  // ready, else the newest
	insts     map[string][]runtime.ContainerStatus
}

func (o *observed) latest(name string) *runtime.ContainerStatus {
	is := o.insts[name]
	if len(is) == 0 {
		return nil
	}
	return &is[len(is)-1]
}

func (o *observed) previous(name string) *runtime.ContainerStatus {
	is := o.insts[name]
	if len(is) < 2 {
		return nil
	}
	return &is[len(is)-2]
}

// latestIn returns the newest instance of a container in the current
// sandbox.
func (o *observed) latestIn(name string) *runtime.ContainerStatus {
	if o.current == nil {
		return nil
	}
	is := o.insts[name]
	for i := len(is) - 1; i >= 0; i-- {
		if is[i].SandboxID == o.current.ID {
			return &is[i]
		}
	}
	return nil
}

func (o *observed) nextAttempt(name string) uint32 {
	if l := o.latest(name); l != nil {
		return l.Attempt + 1
	}
	return 0
}

func (o *observed) running() []runtime.ContainerStatus {
	var out []runtime.ContainerStatus
	for _, is := range o.insts {
		for _, c := range is {
			if c.State == runtime.ContainerRunning || c.State == runtime.ContainerCreated {
				out = append(out, c)
			}
		}
	}
	return out
}

func (a *Agent) selector(uid string) map[string]string {
	return map[string]string{runtime.LabelPodUID: uid, runtime.LabelNode: a.node}
}

// observe lists what the runtime has of the pod with sel's labels (see
// podState.selector).
func (a *Agent) observe(ctx context.Context, sel map[string]string) (*observed, error) {
	f := runtime.Filter{Labels: sel}
	sbs, err := a.rt.ListSandboxes(ctx, f)
	if err != nil {
		return nil, err
	}
	cs, err := a.rt.ListContainers(ctx, f)
	if err != nil {
		return nil, err
	}
	a.knownMu.Lock()
	if a.known == nil {
		a.known = map[string]runtime.ContainerState{}
	}
	for _, c := range cs {
		a.known[c.ID] = c.State
	}
	a.knownMu.Unlock()
	o := &observed{sandboxes: sbs, insts: map[string][]runtime.ContainerStatus{}}
	slices.SortStableFunc(o.sandboxes, func(x, y runtime.SandboxStatus) int {
		if x.Attempt != y.Attempt {
			return int(x.Attempt) - int(y.Attempt)
		}
		return x.CreatedAt.Compare(y.CreatedAt)
	})
	for i := len(o.sandboxes) - 1; i >= 0; i-- {
		if o.sandboxes[i].State == runtime.SandboxReady {
			o.ready = &o.sandboxes[i]
			break
		}
	}
	o.current = o.ready
	if o.current == nil && len(o.sandboxes) > 0 {
		o.current = &o.sandboxes[len(o.sandboxes)-1]
	}
	for _, c := range cs {
		name := c.Labels[runtime.LabelContainerName]
		if name == "" {
			name = c.Name
		}
		o.insts[name] = append(o.insts[name], c)
	}
	for _, is := range o.insts {
		slices.SortStableFunc(is, func(x, y runtime.ContainerStatus) int {
			if x.Attempt != y.Attempt {
				return int(x.Attempt) - int(y.Attempt)
			}
			return x.CreatedAt.Compare(y.CreatedAt)
		})
	}
	return o, nil
}

// syncPod converges the runtime on one pod. It returns when to sync again
// (zero: only on a change) and whether the worker is done for good.
func (a *Agent) syncPod(ctx context.Context, w *podWorker) (time.Time, bool) {
	w.mu.Lock()
	pod, gone := w.pod, w.gone
	w.mu.Unlock()
	st := &w.st
	if pod != nil {
		st.last = pod
	}
	obs, err := a.observe(ctx, st.selector(a, w.uid))
	if err != nil {
		return a.retryLater(ctx, st, pod, "observe the runtime", err), false
	}
	if gone || pod == nil {
		if err := a.cleanupPod(ctx, w.uid, st, obs); err != nil {
			return a.retryLater(ctx, st, pod, "clean up", err), false
		}
		return time.Time{}, true
	}
	if pod.DeletionTimestamp != nil {
		wake, err := a.terminatePod(ctx, pod, st, obs)
		if err != nil {
			return a.retryLater(ctx, st, pod, "stop", err), false
		}
		st.retry = 0
		return wake, false
	}
	wake, err := a.runPod(ctx, pod, st, obs)
	if err != nil {
		return a.retryLater(ctx, st, pod, "sync", err), false
	}
	st.retry = 0
	return wake, false
}

// retryLater logs a failed sync and returns when to try again: 1s doubling
// to the backoff cap.
func (a *Agent) retryLater(ctx context.Context, st *podState, pod *objects.Pod, what string, err error) time.Time {
	if ctx.Err() != nil {
		return time.Time{}
	}
	st.retry = min(max(2*st.retry, time.Second), a.cfg.backoffMax)
	name := ""
	if pod != nil {
		name = pod.Namespace + "/" + pod.Name
	}
	if errors.Is(err, runtime.ErrUnavailable) {
		a.log.Debug("runtime unavailable", "pod", name, "action", what, "retry", st.retry)
	} else {
		a.log.Warn("pod sync failed", "pod", name, "action", what, "err", err, "retry", st.retry)
	}
	return a.clock.Now().Add(st.retry)
}

// runPod is the sync of a pod that is not being deleted.
func (a *Agent) runPod(ctx context.Context, pod *objects.Pod, st *podState, obs *observed) (wake time.Time, err error) {
	now := a.clock.Now()
	if st.startTime.IsZero() {
		st.startTime = now
		if pod.Status.StartTime != nil {
			st.startTime = pod.Status.StartTime.Time
		}
	}
	if pod.IsTerminal() {
		st.terminal = true
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil && !st.terminal {
		deadline := st.startTime.Add(time.Duration(*d) * time.Second)
		if !now.Before(deadline) {
			a.event(pod, EventNormal, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
			st.terminal, st.deadline = true, true
		} else {
			defer func() { wake = earliest(wake, deadline) }()
		}
	}
	if st.terminal {
		if !st.stopped {
			// A finished pod has nothing running, but one past its deadline
			// has: it is stopped as a deleted pod is.
			grace, preStop := time.Duration(0), false
			if st.deadline {
				grace, preStop = podGrace(pod), true
			}
			if err := a.stopAll(ctx, pod, obs, grace, preStop); err != nil {
				return time.Time{}, err
			}
			st.stopped = true
			var err error
			if obs, err = a.observe(ctx, st.selector(a, pod.UID)); err != nil {
				return time.Time{}, err
			}
		}
		a.publish(pod, st, obs)
		return time.Time{}, nil
	}

	// The sandbox, unless a Never pod whose containers ran lost it: that pod
	// is finished, not restarted.
	if obs.ready == nil {
		ran := len(obs.insts) > 0
		if pod.Spec.RestartPolicy == objects.RestartPolicyNever && ran {
			st.terminal = true
			return a.runPod(ctx, pod, st, obs)
		}
		if err := a.stopAll(ctx, pod, obs, 0, false); err != nil {
			return time.Time{}, err
		}
		var attempt uint32
		if n := len(obs.sandboxes); n > 0 {
			attempt = obs.sandboxes[n-1].Attempt + 1
		}
		cfg := a.sandboxConfig(pod, attempt)
		if _, err := a.rt.RunSandbox(ctx, cfg); err != nil {
			if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
				return time.Time{}, err
			}
			st.sbMessage = err.Error()
			a.event(pod, EventWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+err.Error())
			a.publish(pod, st, obs)
			return time.Time{}, err
		}
		st.sbMessage = ""
		if len(obs.sandboxes) > 0 {
			a.event(pod, EventNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		}
		var err error
		if obs, err = a.observe(ctx, st.selector(a, pod.UID)); err != nil {
			return time.Time{}, err
		}
		if obs.ready == nil {
			return time.Time{}, fmt.Errorf("sandbox of pod %s/%s is not ready after RunSandbox", pod.Namespace, pod.Name)
		}
	}
	if obs.ready.IP != "" {
		st.podIP = obs.ready.IP
	}

	res := a.resolver(ctx, pod, st.podIP)
	vols, err := a.volumes.Setup(pod, res)
	if err != nil {
		if st.mountErr != err.Error() {
			a.event(pod, EventWarning, "FailedMount", err.Error())
		}
		st.mountErr = err.Error()
		a.publish(pod, st, obs)
		var ve *volumes.Error
		if errors.As(err, &ve) {
			return now.Add(a.cfg.backoffBase), nil // and on any change of what it mounts
		}
		return time.Time{}, err
	}
	st.mountErr = ""

	sc := &syncCtx{a: a, ctx: ctx, pod: pod, st: st, obs: obs, vols: vols, res: res, now: now}
	if a.syncInit(sc) {
		a.syncContainers(sc)
	}
	if sc.err != nil {
		return time.Time{}, sc.err
	}
	if sc.changed {
		if obs, err = a.observe(ctx, st.selector(a, pod.UID)); err != nil {
			return time.Time{}, err
		}
		if sc.stoppedSince(obs) {
			st.resync = true
		}
	}
	a.removeOld(ctx, obs)
	status := a.publish(pod, st, obs)
	if status.Phase == objects.PodSucceeded || status.Phase == objects.PodFailed {
		st.terminal = true
		return a.runPod(ctx, pod, st, obs)
	}
	return sc.wake, nil
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// syncCtx carries one sync of a running pod.
type syncCtx struct {
	a       *Agent
	ctx     context.Context
	pod     *objects.Pod
	st      *podState
	obs     *observed
	vols    map[string]volumes.Volume
	res     *resolver
	now     time.Time
	wake    time.Time
	changed bool  // the runtime was changed: observe again before status
	err     error // a runtime error that ends the sync
	// startedIDs are the container instances started in this sync.
	startedIDs []string
}

func (sc *syncCtx) wakeAt(t time.Time) {
	if !t.IsZero() && (sc.wake.IsZero() || t.Before(sc.wake)) {
		sc.wake = t
	}
}

// started notes that instance id of c was started in this sync.
func (sc *syncCtx) started(c *objects.Container, id string) {
	sc.startedIDs = append(sc.startedIDs, id)
	if c.StartupProbe != nil || c.LivenessProbe != nil || c.ReadinessProbe != nil {
		sc.st.resync = true
	}
}

// stoppedSince reports whether a container the sync started is no longer
// running in obs.
func (sc *syncCtx) stoppedSince(obs *observed) bool {
	for _, id := range sc.startedIDs {
		running := false
		for _, is := range obs.insts {
			for i := range is {
				if is[i].ID == id {
					running = is[i].State == runtime.ContainerRunning
				}
			}
		}
		if !running {
			return true
		}
	}
	return false
}

// fail records a runtime error; unreachable runtimes end the sync.
func (sc *syncCtx) fail(err error) bool {
	if errors.Is(err, runtime.ErrUnavailable) || sc.ctx.Err() != nil {
		sc.err = err
		return true
	}
	return false
}

// initDone reports whether the pod's init containers have all completed in
// the current sandbox (or its containers have started, which means they
// had).
func initDone(pod *objects.Pod, obs *observed) bool {
	if len(pod.Spec.InitContainers) == 0 {
		return true
	}
	for i := range pod.Spec.Containers {
		if obs.latestIn(pod.Spec.Containers[i].Name) != nil {
			return true
		}
	}
	for i := range pod.Spec.InitContainers {
		c := obs.latestIn(pod.Spec.InitContainers[i].Name)
		if c == nil || c.State != runtime.ContainerExited || c.ExitCode != 0 {
			return false
		}
	}
	return true
}

// syncInit runs the init containers in order, each to success, and reports
// whether they all have.
func (a *Agent) syncInit(sc *syncCtx) bool {
	if initDone(sc.pod, sc.obs) {
		return true
	}
	for i := range sc.pod.Spec.InitContainers {
		c := &sc.pod.Spec.InitContainers[i]
		cur := sc.obs.latestIn(c.Name)
		switch {
		case cur == nil:
			a.startContainer(sc, c, sc.obs.nextAttempt(c.Name), true)
			return false
		case cur.State == runtime.ContainerRunning:
			return false
		case cur.State == runtime.ContainerCreated:
			a.startCreated(sc, c, cur)
			return false
		case cur.ExitCode == 0:
			continue
		case sc.pod.Spec.RestartPolicy == objects.RestartPolicyNever:
			return false // the pod has failed
		default:
			a.restart(sc, c, cur, true)
			return false
		}
	}
	return true
}

// syncContainers starts, probes and restarts the pod's containers.
func (a *Agent) syncContainers(sc *syncCtx) {
	for i := range sc.pod.Spec.Containers {
		if sc.err != nil {
			return
		}
		c := &sc.pod.Spec.Containers[i]
		cur := sc.obs.latestIn(c.Name)
		if cur == nil {
			a.startContainer(sc, c, sc.obs.nextAttempt(c.Name), false)
			continue
		}
		switch cur.State {
		case runtime.ContainerCreated:
			a.startCreated(sc, c, cur)
			continue
		case runtime.ContainerRunning:
			reason := ""
			if h := sc.st.ctr(c.Name).specHash(sc.pod, c); cur.Labels[runtime.LabelContainerHash] != h {
				reason = fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
			} else {
				reason = a.probeContainer(sc, c, cur)
			}
			if reason == "" {
				continue
			}
			a.event(sc.pod, EventNormal, "Killing", reason)
			grace := podGrace(sc.pod)
			if p := failingProbe(c, sc.st.ctr(c.Name)); p != nil && p.TerminationGracePeriodSeconds != nil {
				grace = time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
			}
			if err := a.stopContainer(sc.ctx, sc.pod, c, cur.ID, grace, true); err != nil {
				if sc.fail(err) {
					return
				}
			}
			sc.changed = true
			sc.st.ctr(c.Name).probeID = ""
			obs, err := a.observe(sc.ctx, sc.st.selector(a, sc.pod.UID))
			if err != nil {
				sc.err = err
				return
			}
			sc.obs = obs
			cur = obs.latestIn(c.Name)
			if cur == nil || cur.State != runtime.ContainerExited {
				continue
			}
		}
		if cur.State == runtime.ContainerExited && shouldRestart(sc.pod.Spec.RestartPolicy, cur.ExitCode) {
			a.restart(sc, c, cur, false)
		}
	}
}

func shouldRestart(p objects.RestartPolicy, exitCode int32) bool {
	switch p {
	case objects.RestartPolicyNever:
		return false
	case objects.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// restart starts the next instance of an exited container unless it is in
// CrashLoopBackOff.
func (a *Agent) restart(sc *syncCtx, c *objects.Container, cur *runtime.ContainerStatus, isInit bool) {
	cs := sc.st.ctr(c.Name)
	finished := cur.FinishedAt
	if finished.IsZero() {
		finished = sc.now
	}
	if cs.restart.inBackoffSince(&sc.a.cfg, finished, sc.now) {
		until := finished.Add(cs.restart.delay)
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", cs.restart.delay, c.Name, sc.pod.Name, sc.pod.Namespace, sc.pod.UID)
		if cs.waitReason != "CrashLoopBackOff" || cs.waitMessage != msg {
			a.event(sc.pod, EventWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, sc.pod.Name, sc.pod.Namespace, sc.pod.UID))
		}
		cs.waitReason, cs.waitMessage = "CrashLoopBackOff", msg
		sc.wakeAt(until)
		return
	}
	cs.restart.next(&sc.a.cfg, finished, sc.now)
	a.startContainer(sc, c, cur.Attempt+1, isInit)
}

// startCreated starts a container that was created but never started (an
// agent stopped in between).
func (a *Agent) startCreated(sc *syncCtx, c *objects.Container, cur *runtime.ContainerStatus) {
	sc.changed = true
	if err := a.startOwn(sc.ctx, cur.ID); err != nil {
		if sc.fail(err) {
			return
		}
		a.event(sc.pod, EventWarning, "Failed", "Error: "+err.Error())
		cs := sc.st.ctr(c.Name)
		cs.waitReason, cs.waitMessage = "RunContainerError", err.Error()
		return
	}
	a.event(sc.pod, EventNormal, "Started", "Started container "+c.Name)
	sc.started(c, cur.ID)
	a.postStart(sc, c, cur.ID)
}

// startContainer pulls the image if needed, then creates and starts
// instance attempt of c, and runs its postStart hook.
func (a *Agent) startContainer(sc *syncCtx, c *objects.Container, attempt uint32, isInit bool) {
	cs := sc.st.ctr(c.Name)
	if !a.ensureImage(sc, c, cs) {
		return
	}
	cfg, err := a.containerConfig(sc, c, attempt)
	if err != nil {
		msg := err.Error()
		if cs.waitReason != "CreateContainerConfigError" || cs.waitMessage != msg {
			a.event(sc.pod, EventWarning, "Failed", "Error: "+msg)
		}
		cs.waitReason, cs.waitMessage = "CreateContainerConfigError", msg
		sc.wakeAt(sc.now.Add(a.cfg.backoffBase))
		return
	}
	sc.changed = true
	id, err := a.rt.CreateContainer(sc.ctx, sc.obs.current.ID, cfg)
	if err != nil {
		if sc.fail(err) {
			return
		}
		a.event(sc.pod, EventWarning, "Failed", "Error: "+err.Error())
		cs.waitReason, cs.waitMessage = "CreateContainerError", err.Error()
		sc.wakeAt(sc.now.Add(a.cfg.backoffBase))
		return
	}
	a.event(sc.pod, EventNormal, "Created", "Created container "+c.Name)
	if err := a.startOwn(sc.ctx, id); err != nil {
		if sc.fail(err) {
			return
		}
		a.event(sc.pod, EventWarning, "Failed", "Error: "+err.Error())
		cs.waitReason, cs.waitMessage = "RunContainerError", err.Error()
		return
	}
	cs.waitReason, cs.waitMessage = "", ""
	a.event(sc.pod, EventNormal, "Started", "Started container "+c.Name)
	sc.started(c, id)
	if !isInit {
		a.postStart(sc, c, id)
	}
}

func (a *Agent) postStart(sc *syncCtx, c *objects.Container, id string) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	msg, err := a.runHook(sc.ctx, sc.pod, c, id, sc.st.podIP, c.Lifecycle.PostStart, podGrace(sc.pod))
	if err == nil {
		return
	}
	if sc.fail(err) {
		return
	}
	a.event(sc.pod, EventWarning, "FailedPostStartHook", msg)
	a.event(sc.pod, EventNormal, "Killing", fmt.Sprintf("FailedPostStartHook: container %s will be restarted", c.Name))
	if err := a.stopContainer(sc.ctx, sc.pod, c, id, podGrace(sc.pod), false); err != nil {
		sc.fail(err)
	}
}

// stopContainer stops one container: preStop (when asked), then SIGTERM,
// then SIGKILL after what is left of grace.
func (a *Agent) stopContainer(ctx context.Context, pod *objects.Pod, c *objects.Container, id string, grace time.Duration, preStop bool) error {
	if preStop && c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		start := a.clock.Now()
		if msg, err := a.runHook(ctx, pod, c, id, "", c.Lifecycle.PreStop, grace); err != nil {
			if errors.Is(err, runtime.ErrUnavailable) {
				return err
			}
			a.event(pod, EventWarning, "FailedPreStopHook", msg)
		}
		grace -= a.clock.Since(start)
		if grace < minGrace {
			grace = minGrace
		}
	}
	err := a.rt.StopContainer(ctx, id, runtime.StopOptions{Grace: grace, Signal: syscall.SIGTERM})
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	return err
}

// startOwn starts a container, telling runtimeEvents that the start event
// that follows is the agent's own doing.
func (a *Agent) startOwn(ctx context.Context, id string) error {
	a.self.expect(id, runtime.EventContainerStarted)
	err := a.rt.StartContainer(ctx, id)
	if err != nil {
		a.self.forget(id)
	}
	return err
}

// selfEvents are the runtime events the agent's own calls are about to
// cause, by container or sandbox id: a start, or a stop for deletion. The
// sync that made the call looks at the runtime again afterwards, so such an
// event needs no sync of its own; without this every pod would be synced
// once more for each of them. Stops that a pod must react to (a container
// to restart) are not listed.
type selfEvents struct {
	mu   sync.Mutex
	want map[string]runtime.EventType
}

func (s *selfEvents) expect(id string, t runtime.EventType) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.want == nil {
		s.want = map[string]runtime.EventType{}
	}
	s.want[id] = t
}

func (s *selfEvents) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.want, id)
}

// own reports whether ev is one the agent expected, and forgets it.
func (s *selfEvents) own(ev runtime.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.want[ev.ID]; ok && t == ev.Type {
		delete(s.want, ev.ID)
		return true
	}
	return false
}

// minGrace is what is left of a grace period that a preStop hook used up,
// as the kubelet's minimum.
const minGrace = 2 * time.Second

// podGrace is the grace period of a pod's containers: the one its deletion
// set, else its spec's.
func podGrace(p *objects.Pod) time.Duration {
	if p.DeletionGracePeriodSeconds != nil {
		return time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
	}
	if p.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return time.Duration(objects.DefaultTerminationGracePeriodSeconds) * time.Second
}

// stopAll stops every running container of the pod, app containers in
// parallel with their preStop hooks (when preStop), then the sandbox.
func (a *Agent) stopAll(ctx context.Context, pod *objects.Pod, obs *observed, grace time.Duration, preStop bool) error {
	specs := map[string]*objects.Container{}
	if pod != nil {
		for i := range pod.Spec.Containers {
			specs[pod.Spec.Containers[i].Name] = &pod.Spec.Containers[i]
		}
	}
	run := obs.running()
	var wg sync.WaitGroup
	errs := make([]error, len(run))
	for i, c := range run {
		name := c.Labels[runtime.LabelContainerName]
		if pod != nil && c.State == runtime.ContainerRunning {
			a.event(pod, EventNormal, "Killing", "Stopping container "+name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.self.expect(c.ID, runtime.EventContainerExited)
			errs[i] = a.stopContainer(ctx, pod, specs[name], c.ID, grace, preStop)
			if errs[i] != nil {
				a.self.forget(c.ID)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, sb := range obs.sandboxes {
		if sb.State == runtime.SandboxReady {
			a.self.expect(sb.ID, runtime.EventSandboxStopped)
			if err := a.rt.StopSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.self.forget(sb.ID)
				return err
			}
		}
	}
	return nil
}

// terminatePod stops a pod being deleted, gracefully, reports its final
// status and deletes it from the store.
func (a *Agent) terminatePod(ctx context.Context, pod *objects.Pod, st *podState, obs *observed) (time.Time, error) {
	if !st.killed {
		if err := a.stopAll(ctx, pod, obs, podGrace(pod), true); err != nil {
			return time.Time{}, err
		}
		st.killed = true
		var err error
		if obs, err = a.observe(ctx, st.selector(a, pod.UID)); err != nil {
			return time.Time{}, err
		}
	}
	if !st.finalized {
		status := a.computeStatus(pod, st, obs)
		st.sentSeq++
		a.writer.submit("pod/"+pod.UID, finalizeOp(pod, status, a.clock.Now(), st.worker, st.sentSeq))
		st.finalized = true
	}
	return time.Time{}, nil
}

// cleanupPod removes everything of a pod that left the store (or never was
// in it): containers, sandboxes and volumes.
func (a *Agent) cleanupPod(ctx context.Context, uid string, st *podState, obs *observed) error {
	if !st.killed {
		if err := a.stopAll(ctx, st.last, obs, 0, false); err != nil {
			return err
		}
	}
	for _, is := range obs.insts {
		for _, c := range is {
			a.self.forget(c.ID)
			if err := a.rt.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return err
			}
		}
	}
	for _, sb := range obs.sandboxes {
		a.self.forget(sb.ID)
		if err := a.rt.RemoveSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	return a.volumes.Teardown(uid)
}

// removeOld removes exited instances of a container older than the
// previous one (kept for its logs and lastState), and sandboxes that are
// stopped and hold no container left.
func (a *Agent) removeOld(ctx context.Context, obs *observed) {
	keep := map[string]bool{}
	for _, is := range obs.insts {
		for i, c := range is {
			if i < len(is)-2 && c.State == runtime.ContainerExited {
				a.self.forget(c.ID)
				if err := a.rt.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					a.log.Debug("remove old container", "id", c.ID, "err", err)
					keep[c.SandboxID] = true
				}
				continue
			}
			keep[c.SandboxID] = true
		}
	}
	for _, sb := range obs.sandboxes {
		if sb.State != runtime.SandboxReady && !keep[sb.ID] {
			a.self.forget(sb.ID)
			if err := a.rt.RemoveSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Debug("remove old sandbox", "id", sb.ID, "err", err)
			}
		}
	}
}

// backoffEntry is the kubelet's per-container backoff: a delay doubling
// from base to max at each restart, forgotten when the container ran
// longer than the reset period before it failed again.
type backoffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
}

// inBackoffSince reports whether a restart after a failure at eventTime
// must still wait.
func (b *backoffEntry) inBackoffSince(cfg *config, eventTime, now time.Time) bool {
	if b.delay == 0 || eventTime.Sub(b.lastUpdate) > cfg.backoffReset {
		return false
	}
	return now.Sub(eventTime) < b.delay
}

// next records a restart (or pull) now after a failure at eventTime.
func (b *backoffEntry) next(cfg *config, eventTime, now time.Time) {
	if b.delay == 0 || eventTime.Sub(b.lastUpdate) > cfg.backoffReset {
		b.delay = cfg.backoffBase
	} else {
		b.delay = min(2*b.delay, cfg.backoffMax)
	}
	b.lastUpdate = now
}
