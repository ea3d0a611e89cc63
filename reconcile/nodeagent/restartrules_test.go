package nodeagent_test

import (
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

func restartPolicy(p objects.ContainerRestartPolicy) *objects.ContainerRestartPolicy { return &p }

// retryOn restarts a container that exits with one of codes.
func retryOn(codes ...int32) []objects.ContainerRestartRule {
	return []objects.ContainerRestartRule{{Action: objects.ContainerRestartRuleActionRestart,
		ExitCodes: &objects.ContainerRestartRuleOnExitCodes{Operator: objects.ContainerRestartRuleOnExitCodesOpIn, Values: codes}}}
}

// A container's restartPolicy overrides its pod's, and its
// restartPolicyRules, by exit code, override both (Kubernetes'
// ContainerRestartRules).
func TestContainerRestartRules(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/retriable:1"), fake.Behavior{Exit: &fake.Exit{Code: 42}})
	e.rt.Script(fake.Image("registry.local/fatal:1"), fake.Behavior{Exit: &fake.Exit{Code: 3}})
	e.rt.Script(fake.Image("registry.local/ok:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})

	// A Never pod retries the exit code its rule names...
	retried := e.pod("retried", "retriable")
	retried.Spec.RestartPolicy = objects.RestartPolicyNever
	retried.Spec.Containers[0].RestartPolicy = restartPolicy(objects.ContainerRestartPolicyNever)
	retried.Spec.Containers[0].RestartPolicyRules = retryOn(42)
	// ...and fails on another.
	failed := e.pod("failed", "fatal")
	failed.Spec.RestartPolicy = objects.RestartPolicyNever
	failed.Spec.Containers[0].RestartPolicy = restartPolicy(objects.ContainerRestartPolicyNever)
	failed.Spec.Containers[0].RestartPolicyRules = retryOn(42)
	// An Always pod's container that runs once, beside one that keeps
	// running.
	once := e.pod("once", "ok", "app")
	once.Spec.Containers[0].RestartPolicy = restartPolicy(objects.ContainerRestartPolicyNever)
	// An Always pod whose only container is OnFailure completes.
	completes := e.pod("completes", "ok")
	completes.Spec.Containers[0].RestartPolicy = restartPolicy(objects.ContainerRestartPolicyOnFailure)
	// A Never pod whose init container is OnFailure retries it rather
	// than failing.
	initRetried := e.pod("init-retried", "app")
	initRetried.Spec.RestartPolicy = objects.RestartPolicyNever
	initRetried.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "registry.local/fatal:1",
		RestartPolicy: restartPolicy(objects.ContainerRestartPolicyOnFailure)}}
	e.create(retried, failed, once, completes, initRetried)

	p := e.waitPod("retried", "restarted after exit code 42", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "retriable").RestartCount >= 1
	})
	if p.Status.Phase == objects.PodFailed {
		t.Errorf("a Never pod whose container is retried by its rule failed: %+v", p.Status)
	}
	p = e.waitPod("failed", "Failed", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodFailed })
	if cs := containerStatus(p, "fatal"); cs.RestartCount != 0 || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 {
		t.Errorf("a container exiting with a code no rule names: %+v", cs)
	}
	p = e.waitPod("once", "its run-once container exited, the other running", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "ok").State.Terminated != nil && containerStatus(p, "app").State.Running != nil
	})
	if p.Status.Phase != objects.PodRunning {
		t.Errorf("phase %s, want Running", p.Status.Phase)
	}
	e.waitPod("completes", "Succeeded", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodSucceeded })
	p = e.waitPod("init-retried", "init container restarted", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "setup").RestartCount >= 1
	})
	if p.Status.Phase != objects.PodPending {
		t.Errorf("a Never pod retrying its OnFailure init container is %s, want Pending", p.Status.Phase)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "once", "ok"))); n != 1 {
		t.Errorf("the run-once container was created %d times", n)
	}
}

// A RestartAllContainers rule restarts the whole pod in place when its
// container exits with a code it names: the other containers are killed,
// and the pod runs again from its first init container, in the same
// sandbox, every restart count going on.
func TestRestartAllContainers(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/setup:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	e.rt.Script(fake.Image("registry.local/watcher:1"), fake.Behavior{Exit: &fake.Exit{Code: 88}})
	p := e.pod("trainer", "app", "watcher")
	p.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "registry.local/setup:1"}}
	w := &p.Spec.Containers[1]
	w.RestartPolicy = restartPolicy(objects.ContainerRestartPolicyNever)
	w.RestartPolicyRules = []objects.ContainerRestartRule{{Action: objects.ContainerRestartRuleActionRestartAllContainers,
		ExitCodes: &objects.ContainerRestartRuleOnExitCodes{Operator: objects.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{88}}}}
	e.create(p)

	got := e.waitPod("trainer", "init container and app run again", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "setup").RestartCount >= 1 && containerStatus(p, "app").RestartCount >= 1 &&
			containerStatus(p, "app").State.Running != nil
	})
	if n := len(e.rt.Records(fake.OpRunSandbox, fake.Pod("default", "trainer"))); n != 1 {
		t.Errorf("%d sandboxes, want the pod restarted in its one sandbox", n)
	}
	if cs := containerStatus(got, "app"); cs.LastTerminationState.Terminated == nil {
		t.Errorf("app's last state = %+v, want the instance killed by the restart", cs.LastTerminationState)
	}
	if c := objects.GetPodCondition(&got.Status, objects.AllContainersRestarting); c == nil || c.Status != objects.ConditionFalse {
		t.Errorf("AllContainersRestarting = %+v, want False once restarted", c)
	}
	if got.Status.Phase == objects.PodFailed || got.Status.Phase == objects.PodSucceeded {
		t.Errorf("phase %s", got.Status.Phase)
	}
	e.wantEventsAtLeast("Killing: Container watcher exited with code 88: restarting all containers of the pod (restartPolicyRules)", 1)
	// The watcher exits 88 again: the next restart of the pod waits out
	// its CrashLoopBackOff, as a restart of the watcher alone would.
	e.waitPod("trainer", "the next restart of the pod backing off", waiting("watcher", "CrashLoopBackOff"))
	if n := len(e.rt.Records(fake.OpStartContainer, fake.Container("default", "trainer", "setup"))); n != 2 {
		t.Errorf("init container started %d times, want twice: once, and again after the restart", n)
	}
}

// Kubernetes' example: a Never pod whose watcher sidecar exits 88 (here
// after 200ms, once the container runs) runs
// again from its first init container, its sidecar and its container
// restarted in place, not failed.
func TestRestartAllContainersFromASidecar(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/setup:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	e.rt.Script(fake.Image("registry.local/watcher:1"), fake.Behavior{Exit: &fake.Exit{Code: 88, After: 200 * time.Millisecond}})
	p := e.pod("ml-worker", "app")
	p.Spec.RestartPolicy = objects.RestartPolicyNever
	p.Spec.InitContainers = []objects.Container{
		{Name: "setup", Image: "registry.local/setup:1"},
		{Name: "watcher", Image: "registry.local/watcher:1", RestartPolicy: restartPolicy(objects.ContainerRestartPolicyAlways),
			RestartPolicyRules: []objects.ContainerRestartRule{{Action: objects.ContainerRestartRuleActionRestartAllContainers,
				ExitCodes: &objects.ContainerRestartRuleOnExitCodes{Operator: objects.ContainerRestartRuleOnExitCodesOpIn, Values: []int32{88}}}}},
	}
	e.create(p)
	got := e.waitPod("ml-worker", "restarted in place from its init container", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "setup").RestartCount >= 1 && containerStatus(p, "app").RestartCount >= 1
	})
	if got.Status.Phase == objects.PodFailed || got.Status.Phase == objects.PodSucceeded {
		t.Errorf("a Never pod restarted by its sidecar's rule is %s", got.Status.Phase)
	}
	if n := len(e.rt.Records(fake.OpRunSandbox, fake.Pod("default", "ml-worker"))); n != 1 {
		t.Errorf("%d sandboxes, want one", n)
	}
}
