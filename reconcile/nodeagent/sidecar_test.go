package nodeagent_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

// sidecarPod is a pod with init containers, sidecars among them, and
// containers, one image per container.
func (e *env) sidecarPod(name string, inits []objects.Container, containers ...string) *objects.Pod {
	p := e.pod(name, containers...)
	for i := range inits {
		if inits[i].Image == "" {
			inits[i].Image = "registry.local/" + inits[i].Name + ":1"
		}
	}
	p.Spec.InitContainers = inits
	return p
}

func sidecar(name string) objects.Container {
	always := objects.ContainerRestartPolicyAlways
	return objects.Container{Name: name, RestartPolicy: &always}
}

func startOrder(e *env, pod string) string {
	var order []string
	for _, r := range e.rt.Records(fake.OpStartContainer, fake.Pod("default", pod)) {
		order = append(order, r.Container)
	}
	return strings.Join(order, ",")
}

func condition(p *objects.Pod, t objects.PodConditionType) objects.PodCondition {
	if c := objects.GetPodCondition(&p.Status, t); c != nil {
		return *c
	}
	return objects.PodCondition{}
}

// A sidecar starts in its place among the init containers, does not hold
// the next one up, and runs beside the containers, its status a
// container's.
func TestSidecarRunsBesideTheContainers(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/migrate:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	e.create(e.sidecarPod("web", []objects.Container{sidecar("logs"), {Name: "migrate"}}, "app"))
	pod := e.waitPod("web", "running", running)
	if got := startOrder(e, "web"); got != "logs,migrate,app" {
		t.Errorf("start order %s, want logs,migrate,app", got)
	}
	logs := containerStatus(pod, "logs")
	if logs.State.Running == nil || !logs.Ready || logs.Started == nil || !*logs.Started {
		t.Errorf("sidecar status %+v, want running, started and ready", logs)
	}
	if c := condition(pod, objects.PodInitialized); c.Status != objects.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}
}

// The next init container waits for a sidecar's startup probe, and a
// sidecar's readiness counts in the pod's.
func TestSidecarStartupAndReadiness(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/proxy:1"), fake.Behavior{Unhealthy: true})
	e.rt.Script(fake.Image("registry.local/migrate:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	proxy := sidecar("proxy")
	check := objects.ProbeHandler{Exec: &objects.ExecAction{Command: []string{"check"}}}
	proxy.StartupProbe = &objects.Probe{ProbeHandler: check, PeriodSeconds: 1, FailureThreshold: 1000}
	proxy.ReadinessProbe = &objects.Probe{ProbeHandler: check, PeriodSeconds: 1}
	e.create(e.sidecarPod("mesh", []objects.Container{proxy, {Name: "migrate"}}, "app"))

	pod := e.waitPod("mesh", "waiting on its sidecar's startup probe", func(p *objects.Pod) bool {
		return p != nil && strings.Contains(condition(p, objects.PodInitialized).Message, "[proxy migrate]")
	})
	e.wantEventsAtLeast("Unhealthy: Startup probe failed", 2)
	if got := startOrder(e, "mesh"); got != "proxy" {
		t.Errorf("started %s before the sidecar's startup probe passed, want proxy alone", got)
	}
	if pod.Status.Phase != objects.PodPending {
		t.Errorf("phase %s while initializing", pod.Status.Phase)
	}

	// Started, and the readiness probe passes once: the pod is ready.
	e.rt.SetHealthy(fake.Container("default", "mesh", "proxy"), true)
	e.waitPod("mesh", "running", running)
	if got := startOrder(e, "mesh"); got != "proxy,migrate,app" {
		t.Errorf("start order %s", got)
	}

	// The sidecar unready makes the pod unready.
	e.rt.SetHealthy(fake.Container("default", "mesh", "proxy"), false)
	pod = e.waitPod("mesh", "unready with its sidecar", func(p *objects.Pod) bool { return p != nil && !objects.IsPodReady(p) })
	if c := condition(pod, objects.ContainersReady); c.Message != "containers with unready status: [proxy]" {
		t.Errorf("ContainersReady %+v", c)
	}
	if pod.Status.Phase != objects.PodRunning {
		t.Errorf("phase %s", pod.Status.Phase)
	}
}

// A sidecar is restarted whatever the pod's restartPolicy, and does not
// keep the pod from completing: once the container has finished, the
// sidecar is stopped and its exit code does not fail the pod.
func TestSidecarRestartsAndStopsWhenThePodCompletes(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/logs:1"), fake.Behavior{TermExitCode: 143})
	p := e.sidecarPod("job", []objects.Container{sidecar("logs")}, "work")
	p.Spec.RestartPolicy = objects.RestartPolicyNever
	e.create(p)
	e.waitPod("job", "running", running)

	if n := e.rt.Kill(fake.Container("default", "job", "logs"), 1); n != 1 {
		t.Fatalf("killed %d sidecars", n)
	}
	e.waitPod("job", "with its sidecar restarted", func(p *objects.Pod) bool {
		cs := containerStatus(p, "logs")
		return p != nil && cs.RestartCount == 1 && cs.State.Running != nil
	})

	e.rt.Kill(fake.Container("default", "job", "work"), 0)
	pod := e.waitPod("job", "Succeeded", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodSucceeded })
	exits := e.rt.Records(fake.OpExit, fake.Container("default", "job", "logs"))
	if n := len(exits); n != 2 || exits[n-1].ExitCode != 143 {
		t.Errorf("sidecar exits %+v, want the kill's and SIGTERM's (143)", exits)
	}
	e.waitPod("job", "with its sidecar terminated", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "logs").State.Terminated != nil
	})
	if c := condition(pod, objects.PodReady); c.Reason != "PodCompleted" {
		t.Errorf("Ready %+v", c)
	}
}

// A pod being deleted stops its containers first, then its sidecars, the
// last one first, each once those after it have stopped.
func TestDeletionStopsSidecarsLast(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.sidecarPod("bye", []objects.Container{sidecar("first"), sidecar("second")}, "app", "other")
	e.create(p)
	e.waitPod("bye", "running", running)
	deletePod(t, e.store, "bye", 30)
	e.waitPod("bye", "gone from the store", func(p *objects.Pod) bool { return p == nil })
	var order []string
	for _, r := range e.rt.Records(fake.OpExit, fake.Pod("default", "bye")) {
		order = append(order, r.Container)
	}
	if len(order) != 4 || !slices.Equal(order[2:], []string{"second", "first"}) {
		t.Errorf("exit order %v, want app and other, then second, then first", order)
	}
}
