package nodeagent

import (
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// syncEphemeral starts the pod's ephemeral containers that never ran, as
// the kubelet's computePodActions: each once, in the pod's sandbox, even
// while the pod initializes. One that exited, whatever its exit code and
// the pod's restartPolicy, is not started again; nor is one whose target
// is not running yet, until it is (RunContainerError, tried again after
// the base back-off).
func (a *Agent) syncEphemeral(sc *syncCtx) {
	for i := range sc.pod.Spec.EphemeralContainers {
		if sc.err != nil || sc.interrupted() {
			return
		}
		ec := &sc.pod.Spec.EphemeralContainers[i]
		c := ec.Container()
		if cur := sc.obs.latest(c.Name); cur != nil {
			if cur.State == runtime.ContainerCreated && cur.SandboxID == sc.obs.current.ID {
				a.startCreated(sc, c, cur) // an agent stopped between create and start
			}
			continue
		}
		if _, ok := ephemeralTarget(sc.pod, sc.obs, ec); !ok {
			cs := sc.st.ctr(c.Name)
			msg := "unable to find target container " + ec.TargetContainerName
			if reason, message := cs.waiting(); reason != "RunContainerError" || message != msg {
				a.event(sc.pod, EventWarning, "Failed", "Error: "+msg)
			}
			cs.setWaiting("RunContainerError", msg)
			sc.wakeAt(sc.now.Add(a.cfg.backoffBase))
			continue
		}
		a.startContainer(sc, c, 0, false)
	}
}

// ephemeralSpec returns the ephemeral container of pod named name, or nil.
func ephemeralSpec(pod *objects.Pod, name string) *objects.EphemeralContainer {
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return &pod.Spec.EphemeralContainers[i]
		}
	}
	return nil
}

// ephemeralTarget returns the runtime id of the running instance, in the
// current sandbox, of the container whose PID namespace ec joins
// (runtime.ContainerConfig.TargetContainerID), and whether it can start:
// "" and true when it joins none, having no targetContainerName or being
// in a pod whose containers share a PID namespace already
// (shareProcessNamespace, hostPID), as the kubelet sets the CRI's TARGET
// mode only over a container's own namespace; false when its target is
// not running.
func ephemeralTarget(pod *objects.Pod, obs *observed, ec *objects.EphemeralContainer) (string, bool) {
	if ec.TargetContainerName == "" || pod.Spec.HostPID ||
		pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		return "", true
	}
	t := obs.latestIn(ec.TargetContainerName)
	if t == nil || t.State != runtime.ContainerRunning {
		return "", false
	}
	return t.ID, true
}

// ephemeralStatus is the status of ephemeral container c, as the kubelet
// reports one: never ready, never restarted; waiting until it runs, then
// running, then terminated for good.
func (a *Agent) ephemeralStatus(c *objects.Container, st *podState, obs *observed) objects.ContainerStatus {
	out := objects.ContainerStatus{Name: c.Name, Image: c.Image}
	cur := obs.latest(c.Name)
	if cur == nil || cur.State != runtime.ContainerRunning && cur.State != runtime.ContainerExited {
		reason, message := st.findCtr(c.Name).waiting()
		if reason == "" {
			reason = "ContainerCreating"
		}
		out.State.Waiting = &objects.ContainerStateWaiting{Reason: reason, Message: message}
		return out
	}
	out.ContainerID = a.containerID(cur.ID)
	out.ImageID = cur.ImageID
	if cur.State == runtime.ContainerRunning {
		out.State.Running = &objects.ContainerStateRunning{StartedAt: objects.NewTime(cur.StartedAt)}
	} else {
		out.State.Terminated = a.terminated(cur)
	}
	return out
}
