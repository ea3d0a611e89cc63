package nodeagent

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// Conditions the agent owns; the others (PodScheduled, readiness gates,
// DisruptionTarget) belong to whoever set them and are kept.
var agentConditions = []objects.PodConditionType{
	objects.PodReadyToStartContainers, objects.PodInitialized, objects.ContainersReady, objects.PodReady,
	objects.PodResizePending, objects.PodResizeInProgress, objects.AllContainersRestarting,
}

// publish computes the pod's status and queues it for the store when it
// changed since the last one queued, or once that one is stored (see
// podState.storedAs), when writing it would change what pod has.
func (a *Agent) publish(pod *objects.Pod, w *podWorker, obs *observed) *objects.PodStatus {
	st := &w.st
	status := a.computeStatus(pod, st, obs)
	now := a.clock.Now()
	switch {
	case st.sent != nil:
		if reflect.DeepEqual(st.sent, status) {
			return status
		}
	case st.stored:
		if reflect.DeepEqual(mergeStatus(pod, status, now), &pod.Status) {
			return status
		}
	}
	st.sent, st.stored = status, false
	st.sentSeq++
	a.writer.submit(writeKey{"pod", pod.UID}, statusOp(pod, status, now, false, w, st.sentSeq))
	return status
}

// computeStatus derives the pod's status from the runtime and the worker's
// memory, as the kubelet's status manager does. Condition transition times
// are left zero: the write fills them in against the stored status.
func (a *Agent) computeStatus(pod *objects.Pod, st *podState, obs *observed) *objects.PodStatus {
	// As the kubelet's GetPodQOS: the class is the pod's for life, and the
	// stored status has it from the first write on.
	qos := pod.Status.QOSClass
	if qos == "" {
		qos = objects.PodQOS(pod)
	}
	// The generation acted on, for the status and each of the agent's
	// conditions, as the kubelet's PodObservedGenerationTracking.
	s := &objects.PodStatus{QOSClass: qos, ObservedGeneration: pod.Generation}
	if st.startTime != 0 {
		s.StartTime = objects.NewTimePtr(time.Unix(0, st.startTime))
	}
	if f := st.failure; f != nil && f.rejected {
		// As the kubelet's rejectPod: nothing of the pod ran, or will.
		s.Phase, s.Reason, s.Message = objects.PodFailed, f.reason, f.message
		return s
	}
	if ip := a.podIP(pod, st); ip != "" {
		s.PodIP, s.PodIPs = ip, []objects.PodIP{{IP: ip}}
	}
	if ip := a.hostIP(); ip != "" {
		s.HostIP, s.HostIPs = ip, []objects.HostIP{{IP: ip}}
	}
	done := initDone(pod, st, obs)
	// Sized once: the last status sent is kept for every pod.
	if n := len(pod.Spec.InitContainers); n > 0 {
		s.InitContainerStatuses = make([]objects.ContainerStatus, 0, n)
	}
	s.ContainerStatuses = make([]objects.ContainerStatus, 0, len(pod.Spec.Containers))
	s.Conditions = make([]objects.PodCondition, 0, len(agentConditions))
	for i := range pod.Spec.InitContainers {
		s.InitContainerStatuses = append(s.InitContainerStatuses, a.containerStatus(pod, &pod.Spec.InitContainers[i], st, obs, true, done))
	}
	for i := range pod.Spec.Containers {
		s.ContainerStatuses = append(s.ContainerStatuses, a.containerStatus(pod, &pod.Spec.Containers[i], st, obs, false, done))
	}
	if n := len(pod.Spec.EphemeralContainers); n > 0 {
		// Not counted for the phase or readiness.
		s.EphemeralContainerStatuses = make([]objects.ContainerStatus, 0, n)
		for i := range pod.Spec.EphemeralContainers {
			s.EphemeralContainerStatuses = append(s.EphemeralContainerStatuses, a.ephemeralStatus(pod.Spec.EphemeralContainers[i].Container(), st, obs))
		}
	}
	s.Phase = podPhase(pod, s, done)
	if st.killed && s.Phase != objects.PodSucceeded {
		// Stopped for deletion: what ran to completion succeeded, the rest
		// failed, as the kubelet reports a deleted pod's last phase.
		s.Phase = objects.PodFailed
		if allSucceeded(s.ContainerStatuses) {
			s.Phase = objects.PodSucceeded
		}
	}
	if f := st.failure; f != nil {
		s.Phase, s.Reason, s.Message = objects.PodFailed, f.reason, f.message
	}
	terminal := s.Phase == objects.PodSucceeded || s.Phase == objects.PodFailed

	cond := func(t objects.PodConditionType, ok bool, reason, msg string) {
		c := objects.PodCondition{Type: t, Status: objects.ConditionTrue}
		if !ok {
			c.Status, c.Reason, c.Message = objects.ConditionFalse, reason, msg
		}
		s.Conditions = append(s.Conditions, c)
	}
	cond(objects.PodReadyToStartContainers, obs.ready != nil && !terminal, "", "")
	if done || len(pod.Spec.InitContainers) == 0 {
		cond(objects.PodInitialized, true, "", "")
	} else {
		cond(objects.PodInitialized, false, "ContainersNotInitialized", "containers with incomplete status: ["+strings.Join(notDone(pod.Spec.InitContainers, s.InitContainerStatuses), " ")+"]")
	}
	// As the kubelet's GenerateContainersReadyCondition: the sidecars,
	// then the containers.
	var unready []string
	for i, cs := range s.InitContainerStatuses {
		if pod.Spec.InitContainers[i].IsSidecar() && !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	for _, cs := range s.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	switch {
	case terminal:
		// As the kubelet's generatePodReadyConditionForTerminalPhase.
		reason := "PodCompleted"
		if s.Phase == objects.PodFailed {
			reason = "PodFailed"
		}
		cond(objects.ContainersReady, false, reason, "")
		cond(objects.PodReady, false, reason, "")
	case len(unready) > 0:
		msg := "containers with unready status: [" + strings.Join(unready, " ") + "]"
		cond(objects.ContainersReady, false, "ContainersNotReady", msg)
		cond(objects.PodReady, false, "ContainersNotReady", msg)
	default:
		cond(objects.ContainersReady, true, "", "")
		cond(objects.PodReady, true, "", "")
		gateReady(pod, s, &pod.Status)
	}
	if !terminal {
		resizeConditions(pod, st, obs, s)
	}
	if pod.Spec.RestartsAllOnSomeExit() {
		// As the kubelet's GenerateAllContainersRestartingCondition.
		c := objects.PodCondition{Type: objects.AllContainersRestarting, Status: objects.ConditionFalse}
		switch {
		case s.Phase == objects.PodSucceeded:
			c.Reason = "PodCompleted"
		case s.Phase == objects.PodFailed:
			c.Reason = "PodFailed"
		case st.restarting:
			c.Status, c.Reason, c.Message = objects.ConditionTrue, "RestartAllContainersStarted", "container exited with restart policy rule"
		}
		s.Conditions = append(s.Conditions, c)
	}
	switch {
	case st.failure != nil:
	case st.trouble == nil:
	case st.trouble.sandbox != "":
		s.Message = "Failed to create pod sandbox: " + st.trouble.sandbox
	case st.trouble.mount != "":
		s.Message = st.trouble.mount
	}
	for i := range s.Conditions {
		s.Conditions[i].ObservedGeneration = pod.Generation
	}
	return s
}

// podIP is the pod's IP as its status reports it, which is also what its
// containers see (status.podIP), its probes and hooks reach, as the
// kubelet uses the status' IPs: the sandbox's, or the node's for a
// hostNetwork pod whose sandbox has none.
func (a *Agent) podIP(pod *objects.Pod, st *podState) string {
	if st.podIP == "" && pod.Spec.HostNetwork {
		return a.hostIP()
	}
	return st.podIP
}

// notDone names the init containers, of statuses ss, that have not
// completed, or not started for sidecars.
func notDone(inits []objects.Container, ss []objects.ContainerStatus) []string {
	var out []string
	for i, cs := range ss {
		if inits[i].IsSidecar() {
			if cs.Started == nil || !*cs.Started {
				out = append(out, cs.Name)
			}
			continue
		}
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			out = append(out, cs.Name)
		}
	}
	return out
}

func allSucceeded(ss []objects.ContainerStatus) bool {
	for _, cs := range ss {
		if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			return false
		}
	}
	return len(ss) > 0
}

func (a *Agent) containerID(id string) string {
	name, _ := a.runtimeName.Load().(string)
	if name == "" {
		name = "runtime"
	}
	return name + "://" + id
}

func (a *Agent) terminated(c *runtime.ContainerStatus) *objects.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = "Error"
		if c.ExitCode == 0 {
			reason = "Completed"
		}
	}
	return &objects.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: reason, Message: c.Message,
		StartedAt: objects.NewTime(c.StartedAt), FinishedAt: objects.NewTime(c.FinishedAt),
		ContainerID: a.containerID(c.ID),
	}
}

func (a *Agent) containerStatus(pod *objects.Pod, c *objects.Container, st *podState, obs *observed, isInit, initDone bool) objects.ContainerStatus {
	out := a.containerState(pod, c, st, obs, isInit, initDone)
	resizeStatus(pod, st, c, obs.latest(c.Name), &out)
	out.VolumeMounts = a.volumeMountStatuses(pod, c)
	return out
}

// containerState is containerStatus but for the resources.
func (a *Agent) containerState(pod *objects.Pod, c *objects.Container, st *podState, obs *observed, isInit, initDone bool) objects.ContainerStatus {
	out := objects.ContainerStatus{Name: c.Name, Image: c.Image}
	// A sidecar's status is a container's: started and ready, restarted
	// whenever it exits.
	sidecar := isInit && c.IsSidecar()
	if sidecar {
		isInit = false
	}
	cs := st.findCtr(c.Name) // nil for a container nothing was done for yet
	reason, message := cs.waiting()
	f := false
	cur := obs.latest(c.Name)
	var setAside *runtime.ContainerStatus // by a restart of the whole pod, not followed yet
	if cur != nil && obs.stale[cur.ID] {
		setAside, cur = cur, nil
	}
	if cur == nil {
		switch {
		case setAside != nil && st.restarting:
			reason, message = "RestartingAllContainers", "The container is removed because RestartAllContainers in place"
		case reason == "":
			reason = "ContainerCreating"
			if !isInit && !sidecar && !initDone {
				reason = "PodInitializing"
			}
		}
		out.State.Waiting = &objects.ContainerStateWaiting{Reason: reason, Message: message}
		if setAside != nil {
			out.RestartCount = int32(setAside.Attempt) + 1
			out.LastTerminationState.Terminated = a.terminated(setAside)
		}
		if !isInit {
			out.Started = &f
		}
		return out
	}
	out.ContainerID = a.containerID(cur.ID)
	out.ImageID = cur.ImageID
	out.RestartCount = int32(cur.Attempt)
	if prev := obs.previous(c.Name); prev != nil && prev.State == runtime.ContainerExited {
		out.LastTerminationState.Terminated = a.terminated(prev)
	}
	switch cur.State {
	case runtime.ContainerRunning:
		out.State.Running = &objects.ContainerStateRunning{StartedAt: objects.NewTime(cur.StartedAt)}
		if !isInit {
			probing := cs.probing(cur.ID)
			started := !probing && c.StartupProbe == nil || probing && cs.started(c)
			out.Started = &started
			out.Ready = cs.ready(c, cur.ID) && !st.killed && !st.terminal
		}
	case runtime.ContainerExited:
		restarting := !st.terminal && !st.killed && (!isInit || sidecar || cur.ExitCode != 0) &&
			c.Restarts(pod.Spec.RestartPolicy, cur.ExitCode)
		if restarting {
			if reason == "" {
				reason = "ContainerCreating"
			}
			out.State.Waiting = &objects.ContainerStateWaiting{Reason: reason, Message: message}
			out.LastTerminationState = objects.ContainerState{Terminated: a.terminated(cur)}
		} else {
			out.State.Terminated = a.terminated(cur)
			out.Ready = isInit && cur.ExitCode == 0
		}
		if !isInit {
			out.Started = &f
		}
	default:
		if reason == "" {
			reason = "ContainerCreating"
		}
		out.State.Waiting = &objects.ContainerStateWaiting{Reason: reason, Message: message}
		if !isInit {
			out.Started = &f
		}
	}
	return out
}

// podPhase is the kubelet's getPhase.
// With every container stopped, the pod runs on while one of them is to
// restart (Container.Restarts); otherwise it has succeeded if they all
// exited 0, else failed.
func podPhase(pod *objects.Pod, s *objects.PodStatus, initDone bool) objects.PodPhase {
	policy := pod.Spec.RestartPolicy
	for i, cs := range s.InitContainerStatuses {
		c := &pod.Spec.InitContainers[i]
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 && !c.IsSidecar() && !c.Restarts(policy, t.ExitCode) {
			return objects.PodFailed
		}
	}
	if !initDone {
		return objects.PodPending
	}
	var running, waiting, stopped, finished, succeeded int
	for i, cs := range s.ContainerStatuses {
		c := &pod.Spec.Containers[i]
		t := cs.State.Terminated
		if t == nil {
			t = cs.LastTerminationState.Terminated
		}
		switch {
		case cs.State.Running != nil:
			running++
			continue
		case t == nil:
			waiting++
			continue
		}
		stopped++
		if !c.Restarts(policy, t.ExitCode) {
			finished++
		}
		if cs.State.Terminated != nil && t.ExitCode == 0 {
			succeeded++
		}
	}
	switch {
	case waiting > 0:
		return objects.PodPending
	case running > 0:
		return objects.PodRunning
	case stopped > 0:
		if stopped != finished {
			return objects.PodRunning
		}
		if stopped == succeeded {
			return objects.PodSucceeded
		}
		return objects.PodFailed
	}
	return objects.PodPending
}

// statusOp writes status over the stored pod's, if it is still the same
// pod: the agent's conditions replace the stored ones (keeping transition
// times of those that did not change), the others stay, and a terminal
// phase is never left. A write is reported to w, when not nil, as the
// status numbered seq (see podWorker.isEcho).
func statusOp(pod *objects.Pod, status *objects.PodStatus, now time.Time, del bool, w *podWorker, seq uint64) writeOp {
	key, uid := pod.Key(), pod.UID
	return func(tx store.Tx) error {
		if p, err := writeSeenStatus(tx, pod, status, now); p != nil || err != nil {
			if err != nil {
				return err
			}
			if w != nil {
				w.wrote(pod, p, &p.Status, seq)
			}
			if !del {
				return nil
			}
			return deleteNow(tx, key, uid)
		}
		o, err := tx.Get("Pod", key)
		if err != nil {
			return err
		}
		cur := o.(*objects.Pod)
		if cur.UID != uid {
			return nil
		}
		merged := mergeStatus(cur, status, now)
		if !reflect.DeepEqual(&cur.Status, merged) {
			base := *cur // its metadata and spec, as read
			cur.Status = *merged
			cur.ResourceVersion = ""
			if err := tx.UpdateStatus(cur); err != nil {
				return err
			}
			if w != nil {
				w.wrote(&base, cur, merged, seq)
			}
		}
		if del {
			return deleteNow(tx, key, uid)
		}
		return nil
	}
}

// writeSeenStatus writes the status merged over pod, the pod as the agent
// last saw it, in one write that needs no read: a stored pod is never
// modified, so pod shares everything but the status with what is written,
// and the store keeps what is written as it is (store.AdoptWithStatus).
// It returns what it wrote, or nil when the store cannot (no
// store.StatusUpdater) or the pod changed since (then the caller reads it).
func writeSeenStatus(tx store.Tx, pod *objects.Pod, status *objects.PodStatus, now time.Time) (*objects.Pod, error) {
	su, ok := tx.(store.StatusUpdater)
	if !ok || pod.ResourceVersion == "" || pod.UID == "" {
		return nil, nil
	}
	p := &objects.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: pod.ObjectMeta, Spec: pod.Spec, Status: *mergeStatus(pod, status, now)}
	switch err := store.AdoptWithStatus(su, p); {
	case err == nil:
		return p, nil
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return nil, nil
	default:
		return nil, err
	}
}

func deleteNow(tx store.Tx, key objects.Key, uid string) error {
	zero := int64(0)
	err := store.Remove(tx, "Pod", key, store.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &store.Preconditions{UID: uid}})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// finalizeOp writes a deleted pod's last status and removes it.
func finalizeOp(pod *objects.Pod, status *objects.PodStatus, now time.Time, w *podWorker, seq uint64) writeOp {
	return statusOp(pod, status, now, true, w, seq)
}

func mergeStatus(cur *objects.Pod, next *objects.PodStatus, now time.Time) *objects.PodStatus {
	old := &cur.Status
	out := *next
	if cur.IsTerminal() && next.Phase != old.Phase {
		out.Phase = old.Phase
	}
	if old.StartTime != nil {
		out.StartTime = old.StartTime
	}
	out.NominatedNodeName = old.NominatedNodeName
	if out.Message == "" {
		out.Message, out.Reason = old.Message, old.Reason
	}
	// The others' conditions, then copies of the agent's, in one slice of
	// the size stored: the store keeps it (store.AdoptWithStatus).
	others := 0
	for _, c := range old.Conditions {
		if !slices.Contains(agentConditions, c.Type) {
			others++
		}
	}
	conds := make([]objects.PodCondition, 0, others+len(next.Conditions))
	for _, c := range old.Conditions {
		if !slices.Contains(agentConditions, c.Type) {
			conds = append(conds, c)
		}
	}
	ours := len(conds)
	conds = append(conds, next.Conditions...)
	out.Conditions = conds[ours:]
	gateReady(cur, &out, old)
	for i := range out.Conditions {
		c := &out.Conditions[i]
		if prev := objects.GetPodCondition(old, c.Type); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		} else {
			c.LastTransitionTime = objects.NewTime(now)
		}
	}
	slices.SortStableFunc(conds, func(x, y objects.PodCondition) int { return condOrder(x.Type) - condOrder(y.Type) })
	out.Conditions = conds
	return &out
}

// gateReady turns s's Ready condition False unless every readiness gate's
// condition is True in conds' status.
func gateReady(pod *objects.Pod, s, conds *objects.PodStatus) {
	ready := objects.GetPodCondition(s, objects.PodReady)
	if ready == nil || ready.Status != objects.ConditionTrue {
		return
	}
	for _, g := range pod.Spec.ReadinessGates {
		gc := objects.GetPodCondition(conds, g.ConditionType)
		if gc != nil && gc.Status == objects.ConditionTrue {
			continue
		}
		ready.Status, ready.Reason = objects.ConditionFalse, "ReadinessGatesNotReady"
		ready.Message = "corresponding condition of pod readiness gate \"" + string(g.ConditionType) + "\" does not exist."
		if gc != nil {
			ready.Message = "the status of pod readiness gate \"" + string(g.ConditionType) + "\" is not \"True\", but " + string(gc.Status)
		}
		return
	}
}

func condOrder(t objects.PodConditionType) int {
	switch t {
	case objects.PodReadyToStartContainers:
		return 0
	case objects.PodInitialized:
		return 1
	case objects.PodReady:
		return 2
	case objects.ContainersReady:
		return 3
	case objects.PodScheduled:
		return 4
	}
	return 5
}
