package nodeagent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

// baseTimers are the agent's own timers on the fake clock: the heartbeat
// and the relist tickers. Each pod waiting for something adds one.
const baseTimers = 2

func TestCrashLoopBackOff(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.Script(fake.Image("registry.local/crash:1"), fake.Behavior{Exit: &fake.Exit{Code: 1}})
	e.create(e.pod("crasher", "crash"))

	backoff := func(restarts int32, delay string) func(*objects.Pod) bool { return inBackOff("crash", restarts, delay) }
	p := e.waitPod("crasher", "in CrashLoopBackOff after 1 restart", backoff(1, "10s"))
	if cs := containerStatus(p, "crash"); cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 || cs.LastTerminationState.Terminated.Reason != "Error" {
		t.Errorf("lastState = %+v, want terminated with exit code 1 (Error)", cs.LastTerminationState)
	}
	if p.Status.Phase != objects.PodRunning || objects.IsPodReady(p) {
		t.Errorf("phase %s ready %v, want Running and not Ready", p.Status.Phase, objects.IsPodReady(p))
	}
	e.advance(baseTimers+1, 10*time.Second)
	e.waitPod("crasher", "in CrashLoopBackOff after 2 restarts", backoff(2, "20s"))
	e.advance(baseTimers+1, 20*time.Second)
	e.waitPod("crasher", "in CrashLoopBackOff after 3 restarts", backoff(3, "40s"))
	e.advance(baseTimers+1, 40*time.Second)
	e.waitPod("crasher", "in CrashLoopBackOff after 4 restarts", backoff(4, "1m20s"))

	starts := e.rt.Records(fake.OpStartContainer, fake.Container("default", "crasher", "crash"))
	var gaps []time.Duration
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i].Time.Sub(starts[i-1].Time))
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	if len(gaps) != len(want) {
		t.Fatalf("restart gaps = %v, want %v", gaps, want)
	}
	for i := range want {
		if gaps[i] != want[i] {
			t.Errorf("restart gaps = %v, want %v", gaps, want)
			break
		}
	}
	e.wantEventsAtLeast("BackOff: Back-off restarting failed container crash", 4)
}

func TestCrashLoopBackOffResetsAfterRunningLong(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	// Runs 11 minutes, longer than the 10 minute reset, then fails.
	e.rt.Script(fake.Image("registry.local/slow:1"), fake.Behavior{Exit: &fake.Exit{Code: 2, After: 11 * time.Minute}})
	e.create(e.pod("slow", "slow"))
	e.waitPod("slow", "running", running)
	e.advance(baseTimers+1, 11*time.Minute) // the exit timer of the fake container
	e.waitPod("slow", "restarted once", func(p *objects.Pod) bool { return p != nil && containerStatus(p, "slow").RestartCount == 1 })
	// Without the reset this second failure would wait 10s; after running
	// longer than the reset period it restarts at once.
	e.advance(baseTimers+1, 11*time.Minute)
	e.waitPod("slow", "restarted twice", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "slow").RestartCount == 2 && containerStatus(p, "slow").State.Running != nil
	})
	if n := e.rec.count("BackOff"); n != 0 {
		t.Errorf("%d BackOff events for a container that ran longer than the reset period:\n%v", n, e.rec)
	}
}

func TestRestartPolicies(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/ok:1"), fake.Behavior{Exit: &fake.Exit{Code: 0}})
	e.rt.Script(fake.Image("registry.local/fail:1"), fake.Behavior{Exit: &fake.Exit{Code: 3}})
	never := e.pod("never-fail", "fail")
	never.Spec.RestartPolicy = objects.RestartPolicyNever
	onFailure := e.pod("onfailure-ok", "ok")
	onFailure.Spec.RestartPolicy = objects.RestartPolicyOnFailure
	neverOK := e.pod("never-ok", "ok", "fail")
	neverOK.Spec.RestartPolicy = objects.RestartPolicyNever
	e.create(never, onFailure, neverOK)

	p := e.waitPod("never-fail", "Failed", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodFailed })
	if cs := containerStatus(p, "fail"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 || cs.RestartCount != 0 {
		t.Errorf("container of a failed Never pod: %+v", cs)
	}
	// As the kubelet: PodFailed for a Failed pod, PodCompleted for a
	// Succeeded one.
	for _, ct := range []objects.PodConditionType{objects.PodReady, objects.ContainersReady} {
		if c := objects.GetPodCondition(&p.Status, ct); c == nil || c.Status != objects.ConditionFalse || c.Reason != "PodFailed" {
			t.Errorf("%s condition of a Failed pod = %+v, want False with reason PodFailed", ct, c)
		}
	}
	p = e.waitPod("onfailure-ok", "Succeeded", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodSucceeded })
	for _, ct := range []objects.PodConditionType{objects.PodReady, objects.ContainersReady} {
		if c := objects.GetPodCondition(&p.Status, ct); c == nil || c.Status != objects.ConditionFalse || c.Reason != "PodCompleted" {
			t.Errorf("%s condition of a Succeeded pod = %+v, want False with reason PodCompleted", ct, c)
		}
	}
	e.waitPod("never-ok", "Failed", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodFailed })
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "never-fail"))); n != 1 {
		t.Errorf("a Never pod's container was created %d times", n)
	}
	// A finished pod's sandbox is stopped.
	if stops := e.rt.Records(fake.OpStopSandbox, fake.Pod("default", "never-fail")); len(stops) == 0 {
		t.Errorf("the sandbox of a finished pod was not stopped")
	}
}

// The back-off is of the container's spec, as the kubelet keys it by the
// container's hash: a crash-looping container given a new image starts at
// once, and its own back-off starts again from the base delay.
func TestCrashLoopBackOffIsPerSpec(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.Script(fake.Image("registry.local/crash:1"), fake.Behavior{Exit: &fake.Exit{Code: 1}})
	e.rt.Script(fake.Image("registry.local/crash:2"), fake.Behavior{Exit: &fake.Exit{Code: 2}})
	e.create(e.pod("fixed", "crash"))
	e.waitPod("fixed", "in CrashLoopBackOff after 1 restart", inBackOff("crash", 1, "10s"))
	e.advance(baseTimers+1, 10*time.Second)
	e.waitPod("fixed", "in CrashLoopBackOff after 2 restarts", inBackOff("crash", 2, "20s"))
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: "fixed"})
		if err != nil {
			return err
		}
		p := o.(*objects.Pod)
		p.Spec.Containers[0].Image = "registry.local/crash:2"
		return tx.Update(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The clock stands still: the old spec's 20s back-off does not hold
	// the new one.
	e.waitPod("fixed", "restarted with the new image, then in a 10s back-off", func(p *objects.Pod) bool {
		return inBackOff("crash", 3, "10s")(p) && containerStatus(p, "crash").Image == "registry.local/crash:2"
	})
	starts := e.rt.Records(fake.OpStartContainer, fake.Container("default", "fixed", "crash"))
	if n := len(starts); n != 4 || starts[3].Image != "registry.local/crash:2" || !starts[3].Time.Equal(starts[2].Time) {
		t.Errorf("starts %+v, want the fourth of the new image at once", starts)
	}
}

func TestActiveDeadline(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	p := e.pod("deadline", "app")
	d := int64(60)
	p.Spec.ActiveDeadlineSeconds = &d
	e.create(p)
	e.waitPod("deadline", "running", running)
	e.advance(baseTimers+1, time.Minute)
	pod := e.waitPod("deadline", "Failed", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodFailed })
	if pod.Status.Reason != "DeadlineExceeded" {
		t.Errorf("reason %q", pod.Status.Reason)
	}
	if cs := containerStatus(pod, "app"); cs.State.Terminated == nil {
		t.Errorf("container still %s", stateString(cs.State))
	}
}

// The back-off doubles from 10s and stays at its 5 minute cap.
func TestCrashLoopBackOffCap(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	e.rt.Script(fake.Image("registry.local/crash:1"), fake.Behavior{Exit: &fake.Exit{Code: 1}})
	e.create(e.pod("capped", "crash"))
	backoff := func(restarts int32, delay string) func(*objects.Pod) bool { return inBackOff("crash", restarts, delay) }
	delays := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}
	for i, d := range delays {
		e.waitPod("capped", fmt.Sprintf("in CrashLoopBackOff of %v after %d restarts", d, i+1), backoff(int32(i+1), d.String()))
		e.advance(baseTimers+1, d)
	}
	e.waitPod("capped", "restarted once more", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "crash").RestartCount == int32(len(delays)+1)
	})
	starts := e.rt.Records(fake.OpStartContainer, fake.Container("default", "capped", "crash"))
	var gaps []string
	for i := 1; i < len(starts); i++ {
		gaps = append(gaps, starts[i].Time.Sub(starts[i-1].Time).String())
	}
	want := "0s 10s 20s 40s 1m20s 2m40s 5m0s 5m0s 5m0s"
	if strings.Join(gaps, " ") != want {
		t.Errorf("gaps between starts: %s, want %s", strings.Join(gaps, " "), want)
	}
}

// A container the kernel kills for its memory reports OOMKilled: in its
// state when it stays dead, in lastState once restarted.
func TestOOMKilledInStatus(t *testing.T) {
	e := newEnv(t, envOpt{})
	always := e.pod("hog", "app")
	never := e.pod("hog-once", "app")
	never.Spec.RestartPolicy = objects.RestartPolicyNever
	e.create(always, never)
	e.waitPod("hog", "running", running)
	e.waitPod("hog-once", "running", running)
	for _, pod := range []string{"hog", "hog-once"} {
		if n := e.rt.OOMKill(fake.Container("default", pod, "app")); n != 1 {
			t.Fatalf("OOMKill of %s matched %d containers", pod, n)
		}
	}
	oom := func(s *objects.ContainerStateTerminated) bool {
		return s != nil && s.Reason == "OOMKilled" && s.ExitCode == 137 && !s.FinishedAt.IsZero()
	}
	p := e.waitPod("hog", "running again with an OOMKilled lastState", func(p *objects.Pod) bool {
		cs := containerStatus(p, "app")
		return running(p) && cs.RestartCount == 1 && oom(cs.LastTerminationState.Terminated)
	})
	if cs := containerStatus(p, "app"); cs.State.Running == nil {
		t.Errorf("restarted container: %s", stateString(cs.State))
	}
	p = e.waitPod("hog-once", "Failed with an OOMKilled container", func(p *objects.Pod) bool {
		return p != nil && p.Status.Phase == objects.PodFailed && oom(containerStatus(p, "app").State.Terminated)
	})
	if cs := containerStatus(p, "app"); cs.RestartCount != 0 || cs.LastTerminationState.Terminated != nil {
		t.Errorf("container of a Never pod: restarts %d, lastState %s", cs.RestartCount, stateString(cs.LastTerminationState))
	}
}

// inBackOff holds when container is waiting in CrashLoopBackOff after
// restarts restarts, for delay (as the message writes it: "10s", "5m0s").
func inBackOff(container string, restarts int32, delay string) func(*objects.Pod) bool {
	return func(p *objects.Pod) bool {
		if !waiting(container, "CrashLoopBackOff")(p) {
			return false
		}
		cs := containerStatus(p, container)
		return cs.RestartCount == restarts && strings.Contains(cs.State.Waiting.Message, "back-off "+delay+" ")
	}
}
