package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// observed is the runtime's view of one pod.
type observed struct {
	sel       map[string]string       // the labels it was listed by
	sandboxes []runtime.SandboxStatus // oldest first
	ready     *runtime.SandboxStatus  // the newest Ready sandbox
	current   *runtime.SandboxStatus  // ready, else the newest
	all       []runtime.ContainerStatus
	insts     []instances // of all, by container
	// stale are the instances a restart of the whole pod set aside
	// (podState.stale): latestIn does not see them.
	stale map[string]bool
}

// instances are the instances of one container, oldest first.
type instances struct {
	name string
	is   []runtime.ContainerStatus
}

// of returns the instances of container name, oldest first.
func (o *observed) of(name string) []runtime.ContainerStatus {
	for i := range o.insts {
		if o.insts[i].name == name {
			return o.insts[i].is
		}
	}
	return nil
}

func (o *observed) latest(name string) *runtime.ContainerStatus {
	is := o.of(name)
	if len(is) == 0 {
		return nil
	}
	return &is[len(is)-1]
}

func (o *observed) previous(name string) *runtime.ContainerStatus {
	is := o.of(name)
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
	is := o.of(name)
	for i := len(is) - 1; i >= 0; i-- {
		if is[i].SandboxID == o.current.ID {
			if o.stale[is[i].ID] {
				return nil // set aside by a restart of the whole pod
			}
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
	for _, c := range o.all {
		if c.State == runtime.ContainerRunning || c.State == runtime.ContainerCreated {
			out = append(out, c)
		}
	}
	return out
}

func (a *Agent) selector(uid string) map[string]string {
	return map[string]string{runtime.LabelPodUID: uid, runtime.LabelNode: a.node}
}

// ctrName is the name of the container c is an instance of.
func ctrName(c *runtime.ContainerStatus) string {
	if name := c.Labels[runtime.LabelContainerName]; name != "" {
		return name
	}
	return c.Name
}

// byAttempt orders the instances of one container, or the sandboxes of
// one pod, oldest first.
func byAttempt(xa, ya uint32, xt, yt time.Time) int {
	if xa != ya {
		return int(xa) - int(ya)
	}
	return xt.Compare(yt)
}

// observe lists what the runtime has of st's pod, the objects with sel's
// labels (see selector), with the messages logFallback gives failed
// containers of pod (nil once the pod is gone). A sync makes sel once, for all the times it
// looks: keeping it between syncs would cost every pod more than making it
// costs a sync.
func (a *Agent) observe(ctx context.Context, pod *objects.Pod, st *podState, sel map[string]string) (*observed, error) {
	o := &observed{sel: sel}
	f := runtime.Filter{Labels: sel}
	sbs, err := a.rt.ListSandboxes(ctx, f)
	if err != nil {
		return nil, err
	}
	cs, err := a.rt.ListContainers(ctx, f)
	if err != nil {
		return nil, err
	}
	fp := a.runtimePrint(sbs, cs)
	a.knownMu.Lock()
	st.seen = fp
	a.knownMu.Unlock()
	o.setSandboxes(sbs)
	slices.SortStableFunc(cs, func(x, y runtime.ContainerStatus) int {
		if c := strings.Compare(ctrName(&x), ctrName(&y)); c != 0 {
			return c
		}
		return byAttempt(x.Attempt, y.Attempt, x.CreatedAt, y.CreatedAt)
	})
	o.all, o.stale = cs, st.stale
	for i := 0; i < len(cs); {
		name := ctrName(&cs[i])
		j := i + 1
		for j < len(cs) && ctrName(&cs[j]) == name {
			j++
		}
		o.insts = append(o.insts, instances{name: name, is: cs[i:j:j]})
		i = j
	}
	a.logFallback(ctx, pod, st, o)
	return o, nil
}

// Kubernetes' bounds of a termination message taken from the logs.
const (
	fallbackLogLines = 80
	fallbackLogBytes = 2048
)

// logFallback gives the exited instances of pod's containers (ephemeral
// ones too) with terminationMessagePolicy FallbackToLogsOnError that failed without a
// termination message the end of their logs as their message, as the
// kubelet does: of the last 80 lines, the last 2048 bytes. Each instance's
// logs are read once.
func (a *Agent) logFallback(ctx context.Context, pod *objects.Pod, st *podState, o *observed) {
	lr, ok := a.rt.(runtime.LogReader)
	if !ok || pod == nil {
		return
	}
	fallback := func(c *objects.Container) {
		if c.TerminationMessagePolicy != objects.TerminationMessageFallbackToLogsOnError {
			return
		}
		is := o.of(c.Name)
		for j := range is {
			if x := &is[j]; x.State == runtime.ContainerExited && x.ExitCode != 0 && x.Message == "" {
				x.Message = st.ctr(c.Name).troubles().logMessage(ctx, lr, x.ID, is)
			}
		}
	}
	for _, cs := range [][]objects.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			fallback(&cs[i])
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		fallback(pod.Spec.EphemeralContainers[i].Container())
	}
}

// logMessage returns the end of the logs of exited container id, read
// once; live are the container's instances the runtime still has, whose
// messages are kept.
func (t *ctrTrouble) logMessage(ctx context.Context, lr runtime.LogReader, id string, live []runtime.ContainerStatus) string {
	if m, ok := t.logMessages[id]; ok {
		return m
	}
	var end tailBuffer
	if rc, err := lr.ContainerLogs(ctx, id, runtime.LogOptions{Tail: fallbackLogLines}); err == nil {
		_, err = io.Copy(&end, rc)
		rc.Close()
		if err != nil {
			return "" // read again at the next sync
		}
	}
	for k := range t.logMessages {
		if !slices.ContainsFunc(live, func(c runtime.ContainerStatus) bool { return c.ID == k }) {
			delete(t.logMessages, k)
		}
	}
	if t.logMessages == nil {
		t.logMessages = map[string]string{}
	}
	t.logMessages[id] = string(end.b)
	return string(end.b)
}

// tailBuffer keeps the last fallbackLogBytes bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	t.b = append(t.b, p...)
	if len(t.b) > fallbackLogBytes {
		t.b = append(t.b[:0], t.b[len(t.b)-fallbackLogBytes:]...)
	}
	return n, nil
}

// runtimePrint sums a hash of the id and state of each sandbox and each
// container. A sum, so that relist, which meets a pod's sandboxes and
// containers in another order among the node's, can tell whether they
// changed since the pod's sync last listed them, without the agent keeping
// a copy of what it saw. Sandboxes count, as in the kubelet's PLEG: one
// that became Ready on its own (see reconcileSandboxes) is news.
func (a *Agent) runtimePrint(sbs []runtime.SandboxStatus, cs []runtime.ContainerStatus) uint64 {
	var sum uint64
	for i := range sbs {
		sum += a.stateHash(sbs[i].ID, string(sbs[i].State))
	}
	for i := range cs {
		sum += a.stateHash(cs[i].ID, string(cs[i].State))
	}
	return sum
}

func (a *Agent) stateHash(id, state string) uint64 {
	var h maphash.Hash
	h.SetSeed(a.seed)
	h.WriteString(id)
	h.WriteByte(0)
	h.WriteString(state)
	return h.Sum64()
}

// syncPod converges the runtime on one pod. It returns when to sync again
// (zero: only on a change) and whether the worker is done for good.
func (a *Agent) syncPod(ctx context.Context, w *podWorker) (time.Time, bool) {
	w.mu.Lock()
	pod, gone := w.pod, w.gone
	w.mu.Unlock()
	st := &w.st
	if name, _ := a.runtimeName.Load().(string); name == "" {
		a.learnRuntimeName(ctx)
	}
	obs, err := a.observe(ctx, pod, st, a.selector(w.uid))
	if err != nil {
		return a.retryLater(ctx, st, pod, "observe the runtime", err), false
	}
	if gone || pod == nil {
		if err := a.cleanupPod(ctx, w.uid, pod, st, obs); err != nil {
			return a.retryLater(ctx, st, pod, "clean up", err), false
		}
		return time.Time{}, true
	}
	if pod.DeletionTimestamp != nil {
		wake, err := a.terminatePod(ctx, pod, w, obs)
		if err != nil {
			return a.retryLater(ctx, st, pod, "stop", err), false
		}
		st.synced()
		return wake, false
	}
	if msg := a.takeEviction(w.uid); msg != "" && !st.terminal && !pod.IsTerminal() {
		a.event(pod, EventWarning, ReasonEvicted, msg)
		st.terminal = true
		st.failure = &podFailure{reason: ReasonEvicted, message: msg, now: true}
	}
	wake, err := a.runPod(ctx, pod, w, obs)
	if err != nil {
		return a.retryLater(ctx, st, pod, "sync", err), false
	}
	st.synced()
	return wake, false
}

// retryLater logs a failed sync and returns when to try again: 1s doubling
// to the backoff cap.
func (a *Agent) retryLater(ctx context.Context, st *podState, pod *objects.Pod, what string, err error) time.Time {
	if ctx.Err() != nil {
		return time.Time{}
	}
	t := st.troubles()
	t.retry = min(max(2*t.retry, time.Second), a.cfg.backoffMax)
	name := ""
	if pod != nil {
		name = pod.Namespace + "/" + pod.Name
	}
	if errors.Is(err, runtime.ErrUnavailable) {
		a.log.Debug("runtime unavailable", "pod", name, "action", what, "retry", t.retry)
	} else {
		a.log.Warn("pod sync failed", "pod", name, "action", what, "err", err, "retry", t.retry)
	}
	return a.clock.Now().Add(t.retry)
}

// runPod is the sync of a pod that is not being deleted.
func (a *Agent) runPod(ctx context.Context, pod *objects.Pod, w *podWorker, obs *observed) (wake time.Time, err error) {
	st := &w.st
	now := a.clock.Now()
	if st.startTime == 0 {
		start := now
		if t := pod.Status.StartTime; t != nil && !t.IsZero() {
			start = t.Time
		}
		st.startTime = start.UnixNano()
	}
	if pod.IsTerminal() {
		st.terminal = true
	}
	if st.failure == nil && len(obs.sandboxes) == 0 && len(obs.all) == 0 {
		// Admission, as the kubelet's of a pod it is given: a pod that
		// has nothing in the runtime yet, or was refused before the agent
		// restarted (it failed for the reason it would fail now).
		if r := a.admit(pod); r != nil && (!st.terminal || pod.Status.Reason == r.reason) {
			if !st.terminal {
				a.event(pod, EventWarning, r.reason, r.message)
			}
			st.failure = &podFailure{reason: r.reason, message: "Pod was rejected: " + r.message, rejected: true}
			st.terminal = true
		}
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil && !st.terminal {
		deadline := time.Unix(0, st.startTime).Add(time.Duration(*d) * time.Second)
		if !now.Before(deadline) {
			a.event(pod, EventNormal, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
			st.terminal = true
			st.failure = &podFailure{reason: "DeadlineExceeded", message: "Pod was active on the node longer than the specified deadline"}
		} else {
			defer func() { wake = earliest(wake, deadline) }()
		}
	}
	if st.terminal {
		if !st.stopped {
			// A finished pod has nothing running but its sidecars, and one
			// past its deadline may have more: each is stopped as a deleted
			// pod is. An evicted pod's are killed at once.
			grace, preStop := stopGrace(pod), true
			if f := st.failure; f != nil && f.now {
				grace, preStop = 0, false
			}
			if err := a.stopAll(ctx, pod, obs, grace, preStop); err != nil {
				return time.Time{}, err
			}
			st.stopped = true
			// Nothing of it runs again: its volumes go, an emptyDir's
			// data with them, as the kubelet unmounts a terminated pod's.
			a.teardownVolumes(pod.UID)
			var err error
			if obs, err = a.observe(ctx, pod, st, obs.sel); err != nil {
				return time.Time{}, err
			}
		}
		a.publish(pod, w, obs)
		return time.Time{}, nil
	}

	if readySandboxes(obs) > 1 {
		if obs, err = a.reconcileSandboxes(ctx, pod, st, obs); err != nil {
			return time.Time{}, err
		}
	}

	// The sandbox, unless the pod lost it after its containers ran and has
	// none to run again, as the kubelet's computePodActions: a Never pod, or
	// an OnFailure pod whose containers all succeeded, is finished, not
	// restarted.
	var before *observed
	if obs.ready == nil {
		ran := len(obs.all) > 0
		if ran && (pod.Spec.RestartPolicy == objects.RestartPolicyNever || allFinished(pod, obs)) {
			st.terminal = true
			return a.runPod(ctx, pod, w, obs)
		}
		if err := a.stopAll(ctx, pod, obs, 0, false); err != nil {
			return time.Time{}, err
		}
		var attempt uint32
		if n := len(obs.sandboxes); n > 0 {
			attempt = obs.sandboxes[n-1].Attempt + 1
		}
		cfg, err := a.sandboxConfig(pod, attempt)
		if err == nil {
			err = a.setRuntimeHandler(ctx, pod, cfg)
		}
		if err == nil {
			_, err = a.rt.RunSandbox(ctx, cfg)
		}
		if err != nil {
			if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
				return time.Time{}, err
			}
			st.sandboxFailed(err.Error())
			a.event(pod, EventWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: "+err.Error())
			a.publish(pod, w, obs)
			return time.Time{}, err
		}
		st.sandboxFailed("")
		if len(obs.sandboxes) > 0 {
			a.event(pod, EventNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		}
		if ran {
			before = obs
			obs, err = a.observe(ctx, pod, st, obs.sel)
		} else {
			// No container ran, so none was stopped: the sandbox is news.
			err = a.observeSandboxes(ctx, obs)
		}
		if err != nil {
			return time.Time{}, err
		}
		if obs.ready == nil {
			return time.Time{}, fmt.Errorf("sandbox of pod %s/%s is not ready after RunSandbox", pod.Namespace, pod.Name)
		}
	}
	if obs.ready.IP != "" {
		st.podIP = obs.ready.IP
	}

	res := a.resolver(ctx, pod, a.podIP(pod, st))
	vols, err := a.volumes.Setup(pod, res)
	if err == nil {
		err = a.setVolumeOwnership(pod, res, vols)
	}
	if err != nil {
		if st.trouble == nil || st.trouble.mount != err.Error() {
			a.event(pod, EventWarning, "FailedMount", err.Error())
		}
		st.mountFailed(err.Error())
		a.publish(pod, w, obs)
		var ve *volumes.Error
		if errors.As(err, &ve) {
			return now.Add(a.cfg.backoffBase), nil // and on any change of what it mounts
		}
		return time.Time{}, err
	}
	st.mountFailed("")

	sc := &syncCtx{a: a, ctx: ctx, w: w, pod: pod, st: st, obs: obs, before: before, vols: vols, res: res, now: now}
	a.restartAll(sc)
	if sc.err == nil {
		a.syncResize(sc)
	}
	if sc.err == nil && a.syncInit(sc) {
		a.syncContainers(sc)
	}
	a.syncEphemeral(sc)
	sc.endWaits()
	if sc.err != nil {
		return time.Time{}, sc.err
	}
	if sc.changed {
		if obs, err = a.observe(ctx, pod, st, obs.sel); err != nil {
			return time.Time{}, err
		}
		if sc.stoppedSince(obs) {
			st.resync = true
		}
	}
	a.removeOld(ctx, st, obs)
	status := a.publish(pod, w, obs)
	if status.Phase == objects.PodSucceeded || status.Phase == objects.PodFailed {
		st.terminal = true
		return a.runPod(ctx, pod, w, obs)
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
	w       *podWorker
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
	// before is the runtime as it was before this sync made a new sandbox
	// (nil when it did not): which containers succeeded is decided on it,
	// not on the instances the sync stopped.
	before *observed
	// waits is the context of the sync's long waits (see waitCtx), nil
	// until one; endWait ends it.
	waits   context.Context
	endWait func()
}

// waitCtx returns the context of a wait of the sync that may last long (an
// image pull, a postStart hook). It ends when the agent stops, and when the
// pod must stop, deleted (see Agent.interrupt) or past its
// activeDeadlineSeconds, as the kubelet cancels the sync of a pod to
// terminate. Made by the first such wait: most syncs have none.
func (sc *syncCtx) waitCtx() context.Context {
	if sc.waits != nil {
		return sc.waits
	}
	a, uid := sc.a, sc.pod.UID
	ctx, cancel := context.WithCancel(sc.ctx)
	var deadline clockwork.Timer
	if d := sc.pod.Spec.ActiveDeadlineSeconds; d != nil {
		at := time.Unix(0, sc.st.startTime).Add(time.Duration(*d) * time.Second)
		deadline = a.clock.AfterFunc(at.Sub(a.clock.Now()), cancel)
	}
	a.mu.Lock()
	if a.interrupts == nil {
		a.interrupts = map[string]context.CancelFunc{}
	}
	a.interrupts[uid] = cancel
	a.mu.Unlock()
	// A deletion that came before the cancel was listed.
	sc.w.mu.Lock()
	deleted := sc.w.gone || sc.w.pod == nil || sc.w.pod.DeletionTimestamp != nil
	sc.w.mu.Unlock()
	if deleted {
		cancel()
	}
	sc.waits = ctx
	sc.endWait = func() {
		if deadline != nil {
			deadline.Stop()
		}
		a.mu.Lock()
		delete(a.interrupts, uid)
		a.mu.Unlock()
		cancel()
	}
	return ctx
}

// interrupted reports whether a wait of the sync ended because the pod
// must stop: the sync starts nothing more, and the next one stops the pod.
func (sc *syncCtx) interrupted() bool {
	return sc.waits != nil && sc.waits.Err() != nil && sc.ctx.Err() == nil
}

// endWaits ends the context of the sync's waits, once they are over.
func (sc *syncCtx) endWaits() {
	if sc.endWait == nil {
		return
	}
	if sc.interrupted() {
		sc.st.resync = true
	}
	sc.endWait()
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
		for i := range obs.all {
			if obs.all[i].ID == id {
				running = obs.all[i].State == runtime.ContainerRunning
			}
		}
		if !running {
			return true
		}
	}
	return false
}

// fail records a runtime error; unreachable runtimes end the sync. It
// also reports whether the error is the end of a wait for the pod to stop
// (see waitCtx), which is no failure of the container.
func (sc *syncCtx) fail(err error) bool {
	if errors.Is(err, runtime.ErrUnavailable) || sc.ctx.Err() != nil {
		sc.err = err
		return true
	}
	return sc.interrupted()
}

// initDone reports whether the pod's init containers have all completed in
// the current sandbox, its sidecars started (see sidecarStarted), or its
// containers have started, which means they had.
func initDone(pod *objects.Pod, st *podState, obs *observed) bool {
	if len(pod.Spec.InitContainers) == 0 {
		return true
	}
	for i := range pod.Spec.Containers {
		if obs.latestIn(pod.Spec.Containers[i].Name) != nil {
			return true
		}
	}
	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		c := obs.latestIn(ic.Name)
		if ic.IsSidecar() {
			if !sidecarStarted(ic, st, c) {
				return false
			}
			continue
		}
		if c == nil || c.State != runtime.ContainerExited || c.ExitCode != 0 {
			return false
		}
	}
	return true
}

// sidecarStarted reports whether sidecar c, whose newest instance in the
// current sandbox is cur (nil: none), has started: it runs, and has passed
// its startup probe if it has one. Its postStart hook, which the sync that
// started it ran, has returned.
func sidecarStarted(c *objects.Container, st *podState, cur *runtime.ContainerStatus) bool {
	if cur == nil || cur.State != runtime.ContainerRunning {
		return false
	}
	if c.StartupProbe == nil {
		return true
	}
	cs := st.findCtr(c.Name)
	return cs.probing(cur.ID) && cs.started(c)
}

// syncInit runs the init containers in order, each to success or, for a
// sidecar, until it has started, and reports whether they all have.
func (a *Agent) syncInit(sc *syncCtx) bool {
	if initDone(sc.pod, sc.st, sc.obs) {
		return true
	}
	for i := range sc.pod.Spec.InitContainers {
		c := &sc.pod.Spec.InitContainers[i]
		if c.IsSidecar() {
			if !a.syncSidecarInit(sc, c) {
				return false
			}
			continue
		}
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
		case !c.Restarts(sc.pod.Spec.RestartPolicy, cur.ExitCode):
			return false // the pod has failed
		default:
			a.restart(sc, c, cur, true)
			return false
		}
	}
	return true
}

// syncSidecarInit starts, probes or restarts sidecar c while the pod
// initializes, and reports whether it has started: the next init container
// may start. A sidecar started by this sync without a startup probe has,
// once its postStart hook returned.
func (a *Agent) syncSidecarInit(sc *syncCtx, c *objects.Container) bool {
	a.syncContainer(sc, c, objects.RestartPolicyAlways)
	if sc.err != nil || sc.interrupted() {
		return false
	}
	if sc.changed {
		obs, err := a.observe(sc.ctx, sc.pod, sc.st, sc.obs.sel)
		if err != nil {
			sc.err = err
			return false
		}
		sc.obs = obs
	}
	return sidecarStarted(c, sc.st, sc.obs.latestIn(c.Name))
}

// syncContainers starts, probes and restarts the pod's sidecars, then its
// containers.
func (a *Agent) syncContainers(sc *syncCtx) {
	for i := range sc.pod.Spec.InitContainers {
		if c := &sc.pod.Spec.InitContainers[i]; c.IsSidecar() {
			a.syncContainer(sc, c, objects.RestartPolicyAlways)
		}
	}
	for i := range sc.pod.Spec.Containers {
		a.syncContainer(sc, &sc.pod.Spec.Containers[i], sc.pod.Spec.RestartPolicy)
	}
}

// syncContainer starts, probes and restarts one container, or sidecar,
// under restart policy policy.
func (a *Agent) syncContainer(sc *syncCtx, c *objects.Container, policy objects.RestartPolicy) {
	if sc.err != nil || sc.interrupted() {
		return
	}
	cur := sc.obs.latestIn(c.Name)
	if cur == nil {
		prior := sc.obs
		if sc.before != nil {
			prior = sc.before
		}
		if !finished(c, policy, prior) {
			a.startContainer(sc, c, sc.obs.nextAttempt(c.Name), false)
		}
		return
	}
	switch cur.State {
	case runtime.ContainerCreated:
		a.startCreated(sc, c, cur)
		return
	case runtime.ContainerRunning:
		reason := ""
		if label := cur.Labels[runtime.LabelContainerHash]; !sc.st.ctr(c.Name).specHash(c).is(label) && !legacyHash(c).is(label) {
			reason = fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
		} else {
			reason = a.probeContainer(sc, c, cur)
		}
		if reason == "" {
			return
		}
		a.event(sc.pod, EventNormal, "Killing", reason)
		grace := podGrace(sc.pod)
		if p := failingProbe(c, sc.st.findCtr(c.Name)); p != nil && p.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
		}
		if err := a.stopContainer(sc.ctx, sc.pod, c, cur.ID, grace, true); err != nil {
			if sc.fail(err) {
				return
			}
		}
		sc.changed = true
		sc.st.ctr(c.Name).forgetProbes()
		obs, err := a.observe(sc.ctx, sc.pod, sc.st, sc.obs.sel)
		if err != nil {
			sc.err = err
			return
		}
		sc.obs = obs
		cur = obs.latestIn(c.Name)
		if cur == nil || cur.State != runtime.ContainerExited {
			return
		}
	}
	if cur.State == runtime.ContainerExited && c.Restarts(policy, cur.ExitCode) {
		a.restart(sc, c, cur, false)
	}
}

// finished reports whether container c, if it has no instance in the
// current sandbox, is not to run in it: its last instance exited and it
// does not restart in a pod of restart policy policy (the kubelet's
// ShouldContainerBeRestarted). So an OnFailure pod that lost its sandbox
// does not run again what succeeded in the old one. An instance a restart
// of the whole pod set aside does not finish its container.
func finished(c *objects.Container, policy objects.RestartPolicy, obs *observed) bool {
	l := obs.latest(c.Name)
	return l != nil && l.State == runtime.ContainerExited && !obs.stale[l.ID] && !c.Restarts(policy, l.ExitCode)
}

// allFinished reports whether none of pod's containers is to run again;
// sidecars do not count.
func allFinished(pod *objects.Pod, obs *observed) bool {
	for i := range pod.Spec.Containers {
		if !finished(&pod.Spec.Containers[i], pod.Spec.RestartPolicy, obs) {
			return false
		}
	}
	return true
}

// restart starts the next instance of an exited container unless it is in
// CrashLoopBackOff, which is of the container's current spec.
func (a *Agent) restart(sc *syncCtx, c *objects.Container, cur *runtime.ContainerStatus, isInit bool) {
	if a.backingOff(sc, c, cur) {
		return
	}
	a.startContainer(sc, c, cur.Attempt+1, isInit)
}

// backingOff reports whether exited container c, whose instance is cur,
// waits in CrashLoopBackOff before it is restarted (the sync wakes when
// the wait ends); if not, the restart about to be made counts in its
// back-off.
func (a *Agent) backingOff(sc *syncCtx, c *objects.Container, cur *runtime.ContainerStatus) bool {
	cs := sc.st.ctr(c.Name)
	finished := cur.FinishedAt
	if finished.IsZero() {
		finished = sc.now
	}
	t := cs.troubles()
	if h := cs.specHash(c); t.restartOf != h {
		t.restart, t.restartOf = backoffEntry{}, h
	}
	if t.restart.inBackoffSince(&sc.a.cfg, finished, sc.now) {
		until := finished.Add(t.restart.delay)
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", t.restart.delay, c.Name, sc.pod.Name, sc.pod.Namespace, sc.pod.UID)
		if t.reason != "CrashLoopBackOff" || t.message != msg {
			a.event(sc.pod, EventWarning, "BackOff", fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, sc.pod.Name, sc.pod.Namespace, sc.pod.UID))
		}
		t.reason, t.message = "CrashLoopBackOff", msg
		sc.wakeAt(until)
		return true
	}
	t.restart.next(&sc.a.cfg, finished, sc.now)
	return false
}

// restartAll restarts the pod in place when one of its containers exited
// by a RestartAllContainers rule (objects.Container.RestartsAll), as the
// kubelet does: every other container of the pod (its ephemeral ones
// aside) is killed at once, without preStop hooks, and all of their
// instances in the sandbox are set aside (podState.stale), so that the
// sync goes on from the first init container, in the same sandbox. The
// instances set aside stay, for their logs, and the new ones continue
// their attempts (restart counts). The pod's AllContainersRestarting
// condition is True in the status published meanwhile. The restart waits
// out the exited container's CrashLoopBackOff, as a restart of it alone
// would.
func (a *Agent) restartAll(sc *syncCtx) {
	pod, st := sc.pod, sc.st
	if st.terminal || st.killed || sc.obs.current == nil || !pod.Spec.RestartsAllOnSomeExit() {
		return
	}
	var source *objects.Container
	var exited *runtime.ContainerStatus
	specs := map[string]*objects.Container{}
	for _, cs := range [][]objects.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			c := &cs[i]
			specs[c.Name] = c
			if cur := sc.obs.latestIn(c.Name); source == nil && cur != nil && cur.State == runtime.ContainerExited && c.RestartsAll(cur.ExitCode) {
				source, exited = c, cur
			}
		}
	}
	if source == nil || a.backingOff(sc, source, exited) {
		return
	}
	a.event(pod, EventNormal, "Killing", fmt.Sprintf("Container %s exited with code %d: restarting all containers of the pod (restartPolicyRules)", source.Name, exited.ExitCode))
	st.restarting = true
	defer func() { st.restarting = false }()
	a.publish(pod, sc.w, sc.obs)
	sc.changed = true
	for _, c := range sc.obs.running() {
		if spec := specs[ctrName(&c)]; spec != nil && c.SandboxID == sc.obs.current.ID {
			if err := a.stopContainer(sc.ctx, pod, spec, c.ID, 0, false); err != nil && sc.fail(err) {
				return
			}
		}
	}
	if st.stale == nil {
		st.stale = map[string]bool{}
	}
	for _, c := range sc.obs.all {
		if name := ctrName(&c); specs[name] != nil && c.SandboxID == sc.obs.current.ID {
			st.stale[c.ID] = true
			st.ctr(name).forgetProbes()
		}
	}
	obs, err := a.observe(sc.ctx, pod, st, sc.obs.sel)
	if err != nil {
		sc.err = err
		return
	}
	sc.obs = obs
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
		sc.st.ctr(c.Name).setWaiting("RunContainerError", err.Error())
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
	if !a.ensureImages(sc, c, cs) {
		return
	}
	cfg, err := a.containerConfig(sc, c, attempt)
	if err != nil {
		if sc.fail(err) {
			return
		}
		msg := err.Error()
		if reason, message := cs.waiting(); reason != "CreateContainerConfigError" || message != msg {
			a.event(sc.pod, EventWarning, "Failed", "Error: "+msg)
		}
		cs.setWaiting("CreateContainerConfigError", msg)
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
		cs.setWaiting("CreateContainerError", err.Error())
		sc.wakeAt(sc.now.Add(a.cfg.backoffBase))
		return
	}
	a.event(sc.pod, EventNormal, "Created", "Created container "+c.Name)
	if err := a.startOwn(sc.ctx, id); err != nil {
		if sc.fail(err) {
			return
		}
		a.event(sc.pod, EventWarning, "Failed", "Error: "+err.Error())
		cs.setWaiting("RunContainerError", err.Error())
		return
	}
	cs.setWaiting("", "")
	a.event(sc.pod, EventNormal, "Started", "Started container "+c.Name)
	sc.started(c, id)
	if !isInit {
		a.postStart(sc, c, id)
	}
}

// postStart runs c's postStart hook, if any, in container instance id. As
// the kubelet's, it has no time limit: the sync waits until it returns, or
// the pod must stop (see waitCtx).
func (a *Agent) postStart(sc *syncCtx, c *objects.Container, id string) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return
	}
	msg, err := a.runHook(sc.waitCtx(), sc.pod, c, id, sc.res.podIP, c.Lifecycle.PostStart, 0)
	if err == nil {
		return
	}
	if sc.fail(err) {
		return
	}
	a.event(sc.pod, EventWarning, "FailedPostStartHook", msg)
	a.event(sc.pod, EventNormal, "Killing", fmt.Sprintf("FailedPostStartHook: container %s will be restarted", c.Name))
	// Killed as the kubelet's killContainer does, preStop hook first.
	if err := a.stopContainer(sc.ctx, sc.pod, c, id, podGrace(sc.pod), true); err != nil {
		sc.fail(err)
	}
}

// stopContainer stops one container as the kubelet's killContainer does:
// preStop (when asked, and grace is not 0), then SIGTERM, then SIGKILL
// after what is left of grace, but never less than minGrace.
func (a *Agent) stopContainer(ctx context.Context, pod *objects.Pod, c *objects.Container, id string, grace time.Duration, preStop bool) error {
	return a.stopContainerAfter(ctx, pod, c, id, grace, preStop, nil)
}

// stopContainerAfter is stopContainer that, between the preStop hook and
// the signal, waits for every channel of after to be closed, for no longer
// than what is left of grace: the kubelet's termination ordering, by
// which a sidecar is signalled once the containers after it have stopped.
func (a *Agent) stopContainerAfter(ctx context.Context, pod *objects.Pod, c *objects.Container, id string, grace time.Duration, preStop bool, after []chan struct{}) error {
	start := a.clock.Now()
	if preStop && c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		if msg, err := a.runHook(ctx, pod, c, id, "", c.Lifecycle.PreStop, grace); err != nil {
			if errors.Is(err, runtime.ErrUnavailable) {
				return err
			}
			a.event(pod, EventWarning, "FailedPreStopHook", msg)
		}
	}
	if len(after) > 0 && grace-a.clock.Since(start) > 0 {
		t := a.clock.NewTimer(grace - a.clock.Since(start))
	wait:
		for _, ch := range after {
			select {
			case <-ch:
			case <-t.Chan():
				break wait
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		t.Stop()
	}
	grace = max(grace-a.clock.Since(start), minGrace)
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
