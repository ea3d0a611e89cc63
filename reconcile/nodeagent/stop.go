package nodeagent

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// Stopping a pod's containers, terminating a pod being deleted, cleaning
// up after one that left the store, and removing old instances.

// minGrace is the least time a container has between SIGTERM and SIGKILL,
// however short its grace period or however much of it a preStop hook
// used: the kubelet's minimumGracePeriodInSeconds.
const minGrace = 2 * time.Second

// minStopGrace is the least grace period of a pod being stopped, as the
// kubelet's calculateEffectiveGracePeriod gives: a pod deleted with a grace
// period of 0 still runs its preStop hooks.
const minStopGrace = time.Second

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

// stopGrace is the grace period of a pod being stopped, deleted or past its
// deadline: podGrace, at least minStopGrace.
func stopGrace(p *objects.Pod) time.Duration {
	return max(podGrace(p), minStopGrace)
}

// stopAll stops every running container of the pod, then the sandbox: the
// containers (and an init container) in parallel, each after its preStop
// hook (when preStop), and the sidecars each once the containers and the
// sidecars after it have stopped, as the kubelet orders a pod's
// termination; all within grace, but each with at least minGrace after
// its signal.
func (a *Agent) stopAll(ctx context.Context, pod *objects.Pod, obs *observed, grace time.Duration, preStop bool) error {
	// spec returns the container or sidecar name is an instance of (nil
	// for an init container, or when pod is nil) and, for a sidecar, its
	// place among the init containers (else -1).
	spec := func(name string) (*objects.Container, int) {
		if pod == nil {
			return nil, -1
		}
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == name {
				return &pod.Spec.Containers[i], -1
			}
		}
		for i := range pod.Spec.InitContainers {
			if c := &pod.Spec.InitContainers[i]; c.Name == name && c.IsSidecar() {
				return c, i
			}
		}
		return nil, -1
	}
	run := obs.running()
	specs := make([]*objects.Container, len(run))
	order := make([]int, len(run))
	stopped := make([]chan struct{}, len(run))
	for i := range run {
		specs[i], order[i] = spec(run[i].Labels[runtime.LabelContainerName])
		stopped[i] = make(chan struct{})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(run))
	for i, c := range run {
		name := c.Labels[runtime.LabelContainerName]
		if pod != nil && c.State == runtime.ContainerRunning {
			a.event(pod, EventNormal, "Killing", "Stopping container "+name)
		}
		var after []chan struct{}
		if order[i] >= 0 {
			for j := range run {
				if order[j] < 0 || order[j] > order[i] {
					after = append(after, stopped[j])
				}
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(stopped[i])
			a.self.expect(c.ID, runtime.EventContainerExited)
			errs[i] = a.stopContainerAfter(ctx, pod, specs[i], c.ID, grace, preStop, after)
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
func (a *Agent) terminatePod(ctx context.Context, pod *objects.Pod, w *podWorker, obs *observed) (time.Time, error) {
	st := &w.st
	if !st.killed {
		if err := a.stopAll(ctx, pod, obs, stopGrace(pod), true); err != nil {
			return time.Time{}, err
		}
		st.killed = true
		var err error
		if obs, err = a.observe(ctx, pod, st, obs.sel); err != nil {
			return time.Time{}, err
		}
	}
	if !st.finalized {
		status := a.computeStatus(pod, st, obs)
		st.sentSeq++
		a.writer.submit(writeKey{"pod", pod.UID}, finalizeOp(pod, status, a.clock.Now(), w, st.sentSeq))
		st.finalized = true
	}
	return time.Time{}, nil
}

// cleanupPod removes everything of a pod that left the store (or never was
// in it, then pod is nil): containers, sandboxes and volumes. Containers
// still running are stopped with the grace period of one second the
// kubelet gives pods force-deleted or unknown to it, preStop hooks first.
func (a *Agent) cleanupPod(ctx context.Context, uid string, pod *objects.Pod, st *podState, obs *observed) error {
	if !st.killed {
		if err := a.stopAll(ctx, pod, obs, minStopGrace, true); err != nil {
			return err
		}
	}
	for _, c := range obs.all {
		a.self.forget(c.ID)
		if err := a.rt.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
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
// stopped and hold no container left. What it removes leaves st's
// fingerprint (see runtimePrint), as the sync's doing.
func (a *Agent) removeOld(ctx context.Context, st *podState, obs *observed) {
	stale := slices.ContainsFunc(obs.sandboxes, func(sb runtime.SandboxStatus) bool { return sb.State != runtime.SandboxReady })
	var keep map[string]bool // sandboxes holding a container, when some may go
	if stale {
		keep = map[string]bool{}
	}
	for _, g := range obs.insts {
		for i, c := range g.is {
			if i < len(g.is)-2 && c.State == runtime.ContainerExited {
				a.self.forget(c.ID)
				if err := a.rt.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					a.log.Debug("remove old container", "id", c.ID, "err", err)
					if keep != nil {
						keep[c.SandboxID] = true
					}
					continue
				}
				h := a.stateHash(c.ID, string(c.State))
				a.knownMu.Lock()
				st.seen -= h
				a.knownMu.Unlock()
				continue
			}
			if keep != nil {
				keep[c.SandboxID] = true
			}
		}
	}
	if !stale {
		return
	}
	for _, sb := range obs.sandboxes {
		if sb.State != runtime.SandboxReady && !keep[sb.ID] {
			a.self.forget(sb.ID)
			if err := a.rt.RemoveSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				a.log.Debug("remove old sandbox", "id", sb.ID, "err", err)
				continue
			}
			h := a.stateHash(sb.ID, string(sb.State))
			a.knownMu.Lock()
			st.seen -= h
			a.knownMu.Unlock()
		}
	}
}
