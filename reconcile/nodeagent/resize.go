package nodeagent

import (
	"fmt"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// In-place resize, as the kubelet does it (KEP 1287). A pod's spec
// resources are what is desired; what the agent admitted is allocated,
// reported as each container's status.allocatedResources; what the runtime
// applies is actual, reported as status.resources. When the desired
// resources of any container or sidecar differ from the allocated ones the
// agent admits the whole resize, or none of it: it fits when the pod's new
// requests fit the node's allocatable beside every other pod bound to the
// node (each counted at the most of its desired and allocated requests).
// One that could never fit is Infeasible, one that does not fit now is
// Deferred and admitted once it does; both are the PodResizePending
// condition. An admitted resize is PodResizeInProgress until every running
// container runs with its allocated resources: a resource whose
// resizePolicy is RestartContainer restarts the container, the others are
// applied in place through runtime.ResourceUpdater. A memory limit below
// what the container uses is not applied (the kernel would kill it): the
// condition's reason is then Error, and the agent tries again.
//
// Nothing of it is kept only in memory: after a restart the agent reads
// what it allocated back from the pod's status and what is applied from
// the runtime.

// resizeState is a pod's resize while the agent's allocation of it may
// differ from what the pod's status holds.
type resizeState struct {
	alloc map[string]*objects.ResourceRequirements // by container name; read-only
	// pending is why the resize is not admitted (a PodResizePending
	// reason and message), for the resources of desired.
	pendingReason, pendingMessage string
	desired                       *objects.Pod // the pod whose spec pending is about
	failed                        string       // why applying it failed; retried
}

// resizable calls fn with each container of pod that may be resized: the
// sidecars and the containers.
func resizable(pod *objects.Pod, fn func(c *objects.Container)) {
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; c.IsSidecar() {
			fn(c)
		}
	}
	for i := range pod.Spec.Containers {
		fn(&pod.Spec.Containers[i])
	}
}

// allocated returns the requests and limits the agent admitted for c: the
// resize's, else those the pod's status reports, else the spec's. The
// result is read-only, and may be c.Resources itself.
func allocated(pod *objects.Pod, st *podState, c *objects.Container) *objects.ResourceRequirements {
	if st.resize != nil {
		if r, ok := st.resize.alloc[c.Name]; ok {
			return r
		}
	}
	if r := statusAllocated(pod, c.Name); r != nil {
		return r
	}
	return &c.Resources
}

// statusAllocated returns what pod's status says was allocated to
// container name, or nil when it says nothing.
func statusAllocated(pod *objects.Pod, name string) *objects.ResourceRequirements {
	for _, ss := range [2][]objects.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for i := range ss {
			cs := &ss[i]
			if cs.Name != name || cs.AllocatedResources == nil && cs.Resources == nil {
				continue
			}
			if cs.Resources != nil && objects.ResizeResourcesEqual(&objects.ResourceRequirements{Requests: cs.Resources.Requests},
				&objects.ResourceRequirements{Requests: cs.AllocatedResources}) {
				return cs.Resources // as the agent writes it: no resize under way
			}
			r := &objects.ResourceRequirements{Requests: cs.AllocatedResources}
			if cs.Resources != nil {
				r.Limits = cs.Resources.Limits
			}
			return r
		}
	}
	return nil
}

// syncResize admits a resize of sc's pod, or keeps it pending, and applies
// what is allocated to the running containers that do not have it.
func (a *Agent) syncResize(sc *syncCtx) {
	pod, st := sc.pod, sc.st
	differs, settled := false, true
	resizable(pod, func(c *objects.Container) {
		al := allocated(pod, st, c)
		if !objects.ResizeResourcesEqual(&c.Resources, al) {
			differs = true
		}
		if st.resize != nil && settled {
			if s := statusAllocated(pod, c.Name); s == nil || !objects.ResizeResourcesEqual(s, al) {
				settled = false
			}
		}
	})
	switch {
	case differs:
		a.admitResize(sc)
	case st.resize != nil && settled && st.resize.failed == "":
		st.resize = nil // the status holds the allocation
	case st.resize != nil:
		st.resize.pendingReason, st.resize.pendingMessage, st.resize.desired = "", "", nil
	}
	a.applyResize(sc)
}

// admitResize admits the resize of sc's pod when it fits the node.
func (a *Agent) admitResize(sc *syncCtx) {
	pod, st := sc.pod, sc.st
	if st.resize != nil && st.resize.desired != nil && st.resize.pendingReason == objects.PodReasonInfeasible &&
		sameResources(st.resize.desired, pod) {
		return // not looked at again until the resources change
	}
	reason, msg, err := a.resizeFits(sc, pod)
	if err != nil {
		sc.fail(err)
		return
	}
	if st.resize == nil {
		st.resize = &resizeState{}
	}
	r := st.resize
	if reason != "" {
		if r.pendingReason != reason || r.pendingMessage != msg {
			a.event(pod, EventWarning, "Resize"+reason, "Pod resize "+reason+": "+msg)
		}
		r.pendingReason, r.pendingMessage, r.desired = reason, msg, pod
		a.setDeferred(pod.UID, reason == objects.PodReasonDeferred)
		if reason == objects.PodReasonDeferred {
			sc.wakeAt(sc.now.Add(resizeRetry))
		}
		return
	}
	r.pendingReason, r.pendingMessage, r.desired = "", "", nil
	a.setDeferred(pod.UID, false)
	a.retryDeferred(pod.UID) // a resize may shrink the pod
	alloc := map[string]*objects.ResourceRequirements{}
	resizable(pod, func(c *objects.Container) { alloc[c.Name] = &c.Resources })
	r.alloc = alloc
	a.event(pod, EventNormal, "ResizeStarted", "Pod resize started")
}

// sameResources reports whether a and b ask for the same resources.
func sameResources(a, b *objects.Pod) bool {
	same := true
	resizable(b, func(c *objects.Container) {
		var o *objects.Container
		resizable(a, func(x *objects.Container) {
			if x.Name == c.Name {
				o = x
			}
		})
		same = same && o != nil && objects.ResizeResourcesEqual(&o.Resources, &c.Resources)
	})
	return same
}

// resizeFits returns why pod's desired resources do not fit its node, as
// a PodResizePending reason and message in the kubelet's words, or "" when
// they fit.
func (a *Agent) resizeFits(sc *syncCtx, pod *objects.Pod) (reason, msg string, err error) {
	var alloc objects.ResourceList
	used := objects.ResourceList{}
	err = a.store.View(sc.ctx, func(tx store.ReadTx) error {
		o, err := tx.Get("Node", objects.Key{Name: a.node})
		if err != nil {
			return err
		}
		n := o.(*objects.Node)
		alloc = n.Status.Allocatable
		if alloc == nil {
			alloc = n.Status.Capacity
		}
		pods, err := tx.List("Pod", store.ListOptions{Fields: map[string]string{store.IndexNodeName: a.node}})
		if err != nil {
			return err
		}
		for _, o := range pods {
			p := o.(*objects.Pod)
			if p.UID == pod.UID || p.IsTerminal() {
				continue
			}
			for name, q := range objects.PodRequestsForFit(p) {
				cur := used[name]
				cur.Add(q)
				used[name] = cur
			}
		}
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("checking whether the resize of pod %s/%s fits: %w", pod.Namespace, pod.Name, err)
	}
	want := objects.PodRequests(pod)
	for _, name := range [...]objects.ResourceName{objects.ResourceCPU, objects.ResourceMemory} {
		q, ok := want[name]
		if !ok {
			continue
		}
		capacity, has := alloc[name]
		if !has {
			continue // the node does not account it
		}
		req, capv, usedv := amount(name, q), amount(name, capacity), amount(name, used[name])
		if req > capv {
			return objects.PodReasonInfeasible, fmt.Sprintf("Node didn't have enough capacity: %s, requested: %d, capacity: %d", name, req, capv), nil
		}
		if req+usedv > capv {
			return objects.PodReasonDeferred, fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d", name, req, usedv, capv), nil
		}
	}
	return "", "", nil
}

// amount is q as the kubelet's messages count name: thousandths of a
// CPU, bytes of memory.
func amount(name objects.ResourceName, q objects.Quantity) int64 {
	if name == objects.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}

// applyResize gives each running container of sc's pod its allocated
// resources, in place or by a restart as its resizePolicy says. A
// container to restart is stopped here; syncContainer starts it again.
func (a *Agent) applyResize(sc *syncCtx) {
	pod, st := sc.pod, sc.st
	if st.resize == nil || sc.obs.current == nil {
		return
	}
	failed, restarted := "", false
	resizable(pod, func(c *objects.Container) {
		if sc.err != nil {
			return
		}
		cur := sc.obs.latestIn(c.Name)
		if cur == nil || cur.State != runtime.ContainerRunning {
			return
		}
		al := allocated(pod, st, c)
		want := resources(al)
		// A container whose runtime did not record what it was made with
		// (one an older podkit made) is updated, which records it.
		known := cur.Resources != nil
		if known && *cur.Resources == want {
			return
		}
		if known && restartFor(c, *cur.Resources, want) {
			a.event(pod, EventNormal, "Killing", fmt.Sprintf("Container %s resize requires restart", c.Name))
			if err := a.stopContainer(sc.ctx, pod, c, cur.ID, podGrace(pod), true); err != nil {
				sc.fail(err)
				return
			}
			sc.changed, restarted = true, true
			st.ctr(c.Name).forgetProbes()
			return
		}
		if known {
			if msg := a.memoryBelowUse(sc, cur, want); msg != "" {
				failed = msg
				return
			}
		}
		ru, ok := a.rt.(runtime.ResourceUpdater)
		if !ok {
			failed = "the node's container runtime cannot resize containers"
			return
		}
		if err := ru.UpdateContainerResources(sc.ctx, cur.ID, want); err != nil {
			failed = fmt.Sprintf("updating the resources of container %s: %v", c.Name, err)
			return
		}
		sc.changed = true
	})
	if failed != "" && failed != st.resize.failed {
		a.event(pod, EventWarning, "ResizeError", "Pod resize error: "+failed)
	}
	if failed != "" {
		sc.wakeAt(sc.now.Add(resizeRetry))
	}
	st.resize.failed = failed
	if restarted && sc.err == nil {
		// syncContainer starts what was stopped, as it sees it.
		obs, err := a.observe(sc.ctx, pod, st, sc.obs.sel)
		if err != nil {
			sc.err = err
			return
		}
		sc.obs = obs
	}
}

// restartFor reports whether going from cur to want changes a resource
// whose resizePolicy is RestartContainer.
func restartFor(c *objects.Container, cur, want runtime.Resources) bool {
	cpu := cur.CPUShares != want.CPUShares || cur.CPUQuotaMillis != want.CPUQuotaMillis
	mem := cur.MemoryLimitBytes != want.MemoryLimitBytes
	return cpu && c.ResizeRestartPolicy(objects.ResourceCPU) == objects.RestartContainer ||
		mem && c.ResizeRestartPolicy(objects.ResourceMemory) == objects.RestartContainer
}

// memoryBelowUse returns why want's memory limit may not be applied to
// running container cur now, as the kubelet checks a decrease: the
// container uses more. "" when it may, or when the runtime does not say
// what the container uses.
func (a *Agent) memoryBelowUse(sc *syncCtx, cur *runtime.ContainerStatus, want runtime.Resources) string {
	old := cur.Resources.MemoryLimitBytes
	if want.MemoryLimitBytes == 0 || old != 0 && want.MemoryLimitBytes >= old {
		return ""
	}
	sp, ok := a.rt.(runtime.StatsProvider)
	if !ok {
		return ""
	}
	stats, err := sp.ContainerStats(sc.ctx, cur.ID)
	if err != nil || stats.MemoryWorkingSetBytes <= uint64(want.MemoryLimitBytes) {
		return ""
	}
	return fmt.Sprintf("attempting to set the memory limit of container %s (%d) below its usage (%d)",
		ctrName(cur), want.MemoryLimitBytes, stats.MemoryWorkingSetBytes)
}

// resizeConditions appends to s the PodResizePending and
// PodResizeInProgress conditions of pod.
func resizeConditions(pod *objects.Pod, st *podState, obs *observed, s *objects.PodStatus) {
	r := st.resize
	if r == nil {
		return
	}
	if r.pendingReason != "" {
		s.Conditions = append(s.Conditions, objects.PodCondition{Type: objects.PodResizePending, Status: objects.ConditionTrue,
			Reason: r.pendingReason, Message: r.pendingMessage})
	}
	inProgress := false
	resizable(pod, func(c *objects.Container) {
		cur := obs.latestIn(c.Name)
		if cur != nil && cur.State == runtime.ContainerRunning && cur.Resources != nil && *cur.Resources != resources(allocated(pod, st, c)) {
			inProgress = true
		}
	})
	if inProgress || r.failed != "" {
		c := objects.PodCondition{Type: objects.PodResizeInProgress, Status: objects.ConditionTrue}
		if r.failed != "" {
			c.Reason, c.Message = objects.PodReasonError, r.failed
		}
		s.Conditions = append(s.Conditions, c)
	}
}

// resizeStatus sets out's allocatedResources and resources, of container c
// whose latest instance is cur (nil: none).
func resizeStatus(pod *objects.Pod, st *podState, c *objects.Container, cur *runtime.ContainerStatus, out *objects.ContainerStatus) {
	al := allocated(pod, st, c)
	if len(al.Requests) == 0 && len(al.Limits) == 0 {
		return
	}
	out.AllocatedResources = al.Requests
	if cur == nil || cur.State != runtime.ContainerRunning || cur.Resources == nil || *cur.Resources == resources(al) {
		out.Resources = al
		return
	}
	// What the runtime applies, as the kubelet reads it back: the CPU
	// request from the shares, the CPU and memory limits; the rest as
	// allocated.
	act := &objects.ResourceRequirements{Requests: objects.ResourceList{}, Limits: objects.ResourceList{}}
	for name, q := range al.Requests {
		act.Requests[name] = q
	}
	for name, q := range al.Limits {
		act.Limits[name] = q
	}
	r := cur.Resources
	if _, ok := al.Requests[objects.ResourceCPU]; ok {
		act.Requests[objects.ResourceCPU] = objects.NewMilliQuantity(r.CPUShares*1000/1024, objects.DecimalSI)
	}
	if r.CPUQuotaMillis > 0 {
		act.Limits[objects.ResourceCPU] = objects.NewMilliQuantity(r.CPUQuotaMillis, objects.DecimalSI)
	}
	if r.MemoryLimitBytes > 0 {
		act.Limits[objects.ResourceMemory] = objects.NewQuantity(r.MemoryLimitBytes, objects.BinarySI)
	}
	out.Resources = act
}

// resizeRetry is how soon a Deferred resize, or one that could not be
// applied, is looked at again when nothing else wakes its pod: the
// container may use less memory; other pods may have left room, though
// a pod that leaves the node or ends wakes the Deferred ones at once
// (retryDeferred).
const resizeRetry = time.Second

// setDeferred records whether pod uid's resize is Deferred.
func (a *Agent) setDeferred(uid string, on bool) {
	a.deferredMu.Lock()
	defer a.deferredMu.Unlock()
	if on == a.deferred[uid] {
		return
	}
	if on {
		if a.deferred == nil {
			a.deferred = map[string]bool{}
		}
		a.deferred[uid] = true
		a.nDeferred.Add(1)
		return
	}
	delete(a.deferred, uid)
	a.nDeferred.Add(-1)
}

// retryDeferred syncs the pods whose resize is Deferred, but pod uid, as
// the kubelet retries pending resizes when a pod leaves the node: room
// may have been made.
func (a *Agent) retryDeferred(uid string) {
	if a.nDeferred.Load() == 0 {
		return
	}
	a.deferredMu.Lock()
	uids := make([]string, 0, len(a.deferred))
	for u := range a.deferred {
		if u != uid {
			uids = append(uids, u)
		}
	}
	a.deferredMu.Unlock()
	for _, u := range uids {
		if w := a.worker(u); w != nil {
			a.enqueue(w)
		}
	}
}
