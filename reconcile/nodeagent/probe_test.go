package nodeagent_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

func execProbe(cmd ...string) *objects.Probe {
	return &objects.Probe{ProbeHandler: objects.ProbeHandler{Exec: &objects.ExecAction{Command: cmd}},
		PeriodSeconds: 10, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
}

func TestLivenessProbeRestarts(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("live", "app")
	p.Spec.Containers[0].LivenessProbe = execProbe("check")
	e.create(p)
	e.waitPod("live", "running", running)
	m := fake.Container("default", "live", "app")
	if !waitFor(waitTimeout, func() bool { return len(e.rt.Records(fake.OpExec, m)) == 1 }) {
		t.Fatalf("the first probe did not run")
	}
	if n := e.rt.SetHealthy(m, false); n != 1 {
		t.Fatalf("SetHealthy changed %d containers", n)
	}
	// Probes at 0s (passed), 10s, 20s, 30s: the third failure kills it.
	for i := 0; i < 3; i++ {
		e.advance(baseTimers+1, 10*time.Second)
		want := i + 2
		if !waitFor(waitTimeout, func() bool { return len(e.rt.Records(fake.OpExec, m)) >= want }) {
			t.Fatalf("probe %d did not run; events:\n%v", want, e.rec)
		}
		if i < 2 {
			if got := containerStatus(e.waitPod("live", "probed", func(*objects.Pod) bool { return true }), "app"); got.RestartCount != 0 {
				t.Fatalf("restarted after %d failures", i+1)
			}
		}
	}
	pod := e.waitPod("live", "restarted once", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "app").RestartCount == 1 && containerStatus(p, "app").State.Running != nil
	})
	e.wantEvents("Unhealthy: Liveness probe failed", 3)
	e.wantEvents("Killing: Container app failed liveness probe, will be restarted", 1)
	if cs := containerStatus(pod, "app"); cs.LastTerminationState.Terminated == nil {
		t.Errorf("no lastState after a liveness restart: %+v", cs)
	}
}

func TestReadinessProbeMakesNotReady(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("ready", "app")
	p.Spec.Containers[0].ReadinessProbe = execProbe("check")
	e.create(p)
	e.waitPod("ready", "running and ready", running)
	m := fake.Container("default", "ready", "app")
	e.rt.SetHealthy(m, false)
	for i := 0; i < 5; i++ {
		e.advance(baseTimers+1, 10*time.Second)
	}
	pod := e.waitPod("ready", "not ready", func(p *objects.Pod) bool {
		return p != nil && p.Status.Phase == objects.PodRunning && !objects.IsPodReady(p)
	})
	cs := containerStatus(pod, "app")
	if cs.Ready || cs.State.Running == nil || cs.RestartCount != 0 {
		t.Errorf("container after failed readiness: %+v; want running, not ready, never restarted", cs)
	}
	if c := objects.GetPodCondition(&pod.Status, objects.ContainersReady); c == nil || c.Reason != "ContainersNotReady" {
		t.Errorf("ContainersReady = %+v", c)
	}
	e.rt.SetHealthy(m, true)
	e.advance(baseTimers+1, 10*time.Second)
	e.waitPod("ready", "ready again", running)
	if n := len(e.rt.Records(fake.OpCreateContainer, m)); n != 1 {
		t.Errorf("readiness failures created %d containers, want 1", n)
	}
}

func TestHTTPAndTCPProbesThroughTheRuntime(t *testing.T) {
	e := newEnv(t, envOpt{})
	var healthy atomic.Bool
	healthy.Store(true)
	e.rt.Script(fake.Image("registry.local/web:1"), fake.Behavior{HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	})})
	p := e.pod("http", "web")
	c := &p.Spec.Containers[0]
	c.Ports = []objects.ContainerPort{{Name: "http", ContainerPort: 8080}}
	c.ReadinessProbe = &objects.Probe{ProbeHandler: objects.ProbeHandler{HTTPGet: &objects.HTTPGetAction{Path: "/healthz", Port: objects.FromString("http")}},
		PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
	c.LivenessProbe = &objects.Probe{ProbeHandler: objects.ProbeHandler{TCPSocket: &objects.TCPSocketAction{Port: objects.FromInt32(8080)}},
		PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3}
	e.create(p)
	e.waitPod("http", "ready through an HTTP probe", running)
	healthy.Store(false)
	e.waitPod("http", "not ready after /healthz fails", func(p *objects.Pod) bool { return p != nil && !objects.IsPodReady(p) })
	healthy.Store(true)
	e.waitPod("http", "ready again", running)
	if got := containerStatus(e.waitPod("http", "", func(*objects.Pod) bool { return true }), "web").RestartCount; got != 0 {
		t.Errorf("restartCount %d: the TCP liveness probe failed", got)
	}
}

func TestStartupProbeGatesLiveness(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("slowstart", "app")
	p.Spec.Containers[0].StartupProbe = execProbe("started")
	p.Spec.Containers[0].LivenessProbe = execProbe("alive")
	e.create(p)
	pod := e.waitPod("slowstart", "running and ready", running)
	if cs := containerStatus(pod, "app"); cs.Started == nil || !*cs.Started {
		t.Errorf("started = %v after the startup probe passed", cs.Started)
	}
	execs := e.rt.Records(fake.OpExec, fake.Container("default", "slowstart", "app"))
	if len(execs) != 2 {
		t.Errorf("%d probes ran at start, want the startup probe then the liveness probe", len(execs))
	}
}

// readySince returns when the pod's Ready condition last turned True, or
// false when it is not True.
func readySince(p *objects.Pod) (time.Time, bool) {
	c := objects.GetPodCondition(&p.Status, objects.PodReady)
	if c == nil || c.Status != objects.ConditionTrue {
		return time.Time{}, false
	}
	return c.LastTransitionTime.Time, true
}

// execTimes returns when the probes of a container ran, as offsets from
// the epoch.
func execTimes(rt *fake.Runtime, m fake.Match) []string {
	var out []string
	for _, r := range rt.Records(fake.OpExec, m) {
		out = append(out, r.Time.Sub(epoch).String())
	}
	return out
}

func TestProbeInitialDelay(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("delayed", "app")
	p.Spec.Containers[0].ReadinessProbe = execProbe("check")
	p.Spec.Containers[0].ReadinessProbe.InitialDelaySeconds = 30
	e.create(p)
	e.waitPod("delayed", "running, not ready", func(p *objects.Pod) bool {
		return p != nil && p.Status.Phase == objects.PodRunning && !objects.IsPodReady(p)
	})
	m := fake.Container("default", "delayed", "app")
	e.advance(baseTimers+1, 29*time.Second)
	e.advance(baseTimers+1, time.Second)
	pod := e.waitPod("delayed", "ready", running)
	if got := execTimes(e.rt, m); strings.Join(got, " ") != "30s" {
		t.Errorf("probes ran at %v, want once, at 30s", got)
	}
	if at, _ := readySince(pod); !at.Equal(epoch.Add(30 * time.Second)) {
		t.Errorf("ready since %v, want 30s after the start", at.Sub(epoch))
	}
}

// A readiness probe with successThreshold 3 makes the container ready at
// the third success in a row, again after a failure.
func TestProbeSuccessThreshold(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("picky", "app")
	p.Spec.Containers[0].ReadinessProbe = execProbe("check")
	p.Spec.Containers[0].ReadinessProbe.SuccessThreshold = 3
	p.Spec.Containers[0].ReadinessProbe.FailureThreshold = 1
	e.create(p)
	m := fake.Container("default", "picky", "app")
	probed := func(n int) {
		t.Helper()
		if !waitFor(waitTimeout, func() bool { return len(e.rt.Records(fake.OpExec, m)) == n }) {
			t.Fatalf("probe %d did not run; ran at %v", n, execTimes(e.rt, m))
		}
	}
	probed(1)
	e.advance(baseTimers+1, 10*time.Second)
	probed(2)
	e.advance(baseTimers+1, 10*time.Second)
	pod := e.waitPod("picky", "ready after 3 successes", running)
	if at, _ := readySince(pod); !at.Equal(epoch.Add(20 * time.Second)) {
		t.Errorf("ready since %v, want 20s: the third probe (probes ran at %v)", at.Sub(epoch), execTimes(e.rt, m))
	}
	// One failure makes it unready; it takes three successes again.
	e.rt.SetHealthy(m, false)
	e.advance(baseTimers+1, 10*time.Second)
	e.waitPod("picky", "not ready after a failure", func(p *objects.Pod) bool { return p != nil && !objects.IsPodReady(p) })
	e.rt.SetHealthy(m, true)
	for range 3 {
		e.advance(baseTimers+1, 10*time.Second)
	}
	pod = e.waitPod("picky", "ready again", running)
	if at, _ := readySince(pod); !at.Equal(epoch.Add(60 * time.Second)) {
		t.Errorf("ready again since %v, want 60s (probes ran at %v)", at.Sub(epoch), execTimes(e.rt, m))
	}
}

// A probe whose command outlives timeoutSeconds fails. The timeout bounds
// the probe's I/O, so it is on the real clock.
func TestProbeTimeout(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("slowprobe", "app")
	probe := execProbe("sleep", "1h") // on the runtime's (fake) clock: never ends by itself
	probe.TimeoutSeconds = 2
	probe.FailureThreshold = 1
	p.Spec.Containers[0].ReadinessProbe = probe
	began := time.Now() // before the probe's timeout can start
	e.create(p)
	if !waitFor(waitTimeout, func() bool {
		return e.rec.count(`Unhealthy: Readiness probe failed: command "sleep 1h" timed out`) == 1
	}) {
		t.Fatalf("no Unhealthy event for a timed out probe:\n%v", e.rec)
	}
	// Not a speed check: a lower bound only, which the 1s default would
	// not meet.
	if d := time.Since(began); d < 2*time.Second {
		t.Errorf("the probe failed %v after the pod was created, before its timeoutSeconds (2s) could pass", d)
	}
	pod := e.waitPod("slowprobe", "running, not ready", func(p *objects.Pod) bool {
		return p != nil && p.Status.Phase == objects.PodRunning && !objects.IsPodReady(p)
	})
	if cs := containerStatus(pod, "app"); cs.RestartCount != 0 || cs.State.Running == nil {
		t.Errorf("container after a readiness timeout: %+v", cs)
	}
}
