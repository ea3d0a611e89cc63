package nodeagent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

// addEphemeral adds an ephemeral container to the stored pod, as the
// orchestrator's subresource writes it.
func (e *env) addEphemeral(pod string, ec objects.EphemeralContainer) {
	e.t.Helper()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: pod})
		if err != nil {
			return err
		}
		p := o.(*objects.Pod).DeepCopy()
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		p.Default()
		return tx.Update(p)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func debugger(name, target string) objects.EphemeralContainer {
	return objects.EphemeralContainer{
		EphemeralContainerCommon: objects.EphemeralContainerCommon{Name: name, Image: "registry.local/debug:1", Command: []string{"ps"}},
		TargetContainerName:      target,
	}
}

func ephemeralStatus(p *objects.Pod, name string) (objects.ContainerStatus, bool) {
	if p == nil {
		return objects.ContainerStatus{}, false
	}
	for _, cs := range p.Status.EphemeralContainerStatuses {
		if cs.Name == name {
			return cs, true
		}
	}
	return objects.ContainerStatus{}, false
}

func ephemeralTerminated(name string) func(*objects.Pod) bool {
	return func(p *objects.Pod) bool {
		cs, ok := ephemeralStatus(p, name)
		return ok && cs.State.Terminated != nil
	}
}

// configOf returns what the newest instance of a container of pod was
// created with.
func (e *env) configOf(pod, container string) (fake.ContainerConfig, bool) {
	var out fake.ContainerConfig
	found := false
	for _, c := range e.rt.Configs() {
		if c.Config.Labels[runtime.LabelPodName] == pod && c.Config.Name == container {
			out, found = c, true
		}
	}
	return out, found
}

// An ephemeral container added to a running pod is started once, in its
// target's PID namespace; it exits and is not started again, however
// often the pod syncs and whatever the pod's restartPolicy (Always here);
// its status is reported apart and the pod stays Running and Ready.
func TestEphemeralContainerRunsOnce(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/debug:1"), fake.Behavior{Exit: &fake.Exit{Code: 3}})
	e.create(e.pod("web", "app"))
	e.waitPod("web", "running", running)

	e.addEphemeral("web", debugger("debugger", "app"))
	pod := e.waitPod("web", "with its ephemeral container exited", ephemeralTerminated("debugger"))
	cs, _ := ephemeralStatus(pod, "debugger")
	if cs.State.Terminated.ExitCode != 3 || cs.State.Terminated.Reason != "Error" || cs.Ready || cs.RestartCount != 0 ||
		!strings.HasPrefix(cs.ContainerID, "fake://") || cs.Image != "registry.local/debug:1" {
		t.Errorf("ephemeral container status %+v, want terminated with exit code 3, not ready, no restart", cs)
	}
	if pod.Status.Phase != objects.PodRunning || !objects.IsPodReady(pod) || len(pod.Status.ContainerStatuses) != 1 {
		t.Errorf("pod phase %s, ready %v, %d container statuses: the ephemeral container counted", pod.Status.Phase, objects.IsPodReady(pod), len(pod.Status.ContainerStatuses))
	}
	app, _ := e.configOf("web", "app")
	dbg, ok := e.configOf("web", "debugger")
	if !ok || dbg.Config.TargetContainerID != app.ID || dbg.Config.Attempt != 0 {
		t.Errorf("debugger created with target %q attempt %d, want the app's container %s, attempt 0", dbg.Config.TargetContainerID, dbg.Config.Attempt, app.ID)
	}
	e.wantEvents("web Started: Started container debugger", 1)
	e.wantEvents("web Created: Created container debugger", 1)

	// The app exits and is restarted, which syncs the pod again: the
	// ephemeral container stays as it ended.
	e.rt.Kill(fake.Container("default", "web", "app"), 1)
	pod = e.waitPod("web", "with app restarted", func(p *objects.Pod) bool {
		return running(p) && containerStatus(p, "app").RestartCount == 1
	})
	if n := len(e.rt.Records(fake.OpStartContainer, fake.Container("default", "web", "debugger"))); n != 1 {
		t.Errorf("debugger started %d times, want once", n)
	}
	if cs, _ := ephemeralStatus(pod, "debugger"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 {
		t.Errorf("after the app's restart, ephemeral status %+v, want terminated with 3", cs)
	}
	// The app's new instance is no target of anything already run.
	e.wantEvents("web Started: Started container debugger", 1)
}

// An ephemeral container that runs is reported Running, and is stopped
// with its pod when the pod is deleted.
func TestEphemeralContainerStopsWithPod(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.create(e.pod("web", "app"))
	e.waitPod("web", "running", running)
	shell := debugger("shell", "")
	shell.Command = nil // runs until stopped
	e.addEphemeral("web", shell)
	pod := e.waitPod("web", "with its ephemeral container running", func(p *objects.Pod) bool {
		cs, ok := ephemeralStatus(p, "shell")
		return ok && cs.State.Running != nil
	})
	if !objects.IsPodReady(pod) {
		t.Errorf("pod not ready with a running ephemeral container")
	}
	if cfg, _ := e.configOf("web", "shell"); cfg.Config.TargetContainerID != "" {
		t.Errorf("an ephemeral container without a target was created with one: %q", cfg.Config.TargetContainerID)
	}
	deletePod(t, e.store, "web", 30) // graceful: the agent stops it, then removes it
	e.waitPod("web", "gone", func(p *objects.Pod) bool { return p == nil })
	if n := len(e.rt.Records(fake.OpStopContainer, fake.Container("default", "web", "shell"))); n == 0 {
		t.Errorf("the ephemeral container was not stopped with its pod")
	}
	e.wantEvents("web Killing: Stopping container shell", 1)
}

// An ephemeral container whose target is not running waits in
// RunContainerError, as the kubelet's, and starts once its target runs
// again.
func TestEphemeralContainerWaitsForItsTarget(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/job:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	p := e.pod("web", "app", "job")
	p.Spec.RestartPolicy = objects.RestartPolicyOnFailure
	e.create(p)
	e.waitPod("web", "with job done", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "job").State.Terminated != nil && containerStatus(p, "app").State.Running != nil
	})
	e.addEphemeral("web", debugger("debugger", "job"))
	pod := e.waitPod("web", "with the debugger waiting for its target", func(p *objects.Pod) bool {
		cs, ok := ephemeralStatus(p, "debugger")
		return ok && cs.State.Waiting != nil && cs.State.Waiting.Reason == "RunContainerError"
	})
	cs, _ := ephemeralStatus(pod, "debugger")
	if cs.State.Waiting.Message != "unable to find target container job" {
		t.Errorf("waiting message %q", cs.State.Waiting.Message)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "web", "debugger"))); n != 0 {
		t.Errorf("debugger created %d times without a running target", n)
	}
	e.wantEventsAtLeast("web Failed: Error: unable to find target container job", 1)
}

// An ephemeral container with terminationMessagePolicy
// FallbackToLogsOnError that fails without a message gets the end of its
// logs as its message, as the pod's other containers do.
func TestEphemeralContainerMessageFromLogs(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/debug:1"), fake.Behavior{Exit: &fake.Exit{Code: 1}, Logs: []string{"looking", "nothing found"}})
	e.create(e.pod("web", "app"))
	e.waitPod("web", "running", running)
	dbg := debugger("debugger", "")
	dbg.TerminationMessagePolicy = objects.TerminationMessageFallbackToLogsOnError
	e.addEphemeral("web", dbg)
	pod := e.waitPod("web", "with its ephemeral container's message", func(p *objects.Pod) bool {
		cs, ok := ephemeralStatus(p, "debugger")
		return ok && cs.State.Terminated != nil && cs.State.Terminated.Message != ""
	})
	if cs, _ := ephemeralStatus(pod, "debugger"); cs.State.Terminated.Message != "looking\nnothing found\n" {
		t.Errorf("message %q, want the container's logs", cs.State.Terminated.Message)
	}
}
