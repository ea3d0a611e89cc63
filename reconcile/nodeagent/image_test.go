package nodeagent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

// A 30 second pull reporting progress every second gives the pod a
// progress event every 5 seconds, then a Pulled event with the pull's
// duration and the image's size.
func TestPullProgressEvents(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	const img = "registry.local/big:1"
	e.rt.ScriptPull(fake.Image(img), fake.Pull{Size: 40_000_000, Duration: 30 * time.Second, Steps: 30})
	e.create(e.pod("big", "big"))
	for range 30 {
		// The pull's step timer, with the agent's own.
		e.advance(baseTimers+1, time.Second)
	}
	e.waitPod("big", "running", running)
	// Events are recorded from a queue: Pulled, the last, may come after
	// the status.
	e.wantEventsAtLeast("big Pulled: ", 1)

	want := []string{
		`Pulling: Pulling image "registry.local/big:1"`,
		`Pulling: Pulling image "registry.local/big:1": 6.7MB/40.0MB`,
		`Pulling: Pulling image "registry.local/big:1": 13.3MB/40.0MB`,
		`Pulling: Pulling image "registry.local/big:1": 20.0MB/40.0MB`,
		`Pulling: Pulling image "registry.local/big:1": 26.7MB/40.0MB`,
		`Pulling: Pulling image "registry.local/big:1": 33.3MB/40.0MB`,
		`Pulling: Pulling image "registry.local/big:1": 40.0MB/40.0MB`,
	}
	if got := e.rec.about("big", "Pulling"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Pulling events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	pulled := e.rec.about("big", "Pulled")
	wantPulled := `Pulled: Successfully pulled image "registry.local/big:1" in 30s (30s including waiting). Image size: 40000000 bytes.`
	if len(pulled) != 1 || pulled[0] != wantPulled {
		t.Errorf("Pulled events %q, want [%q]", pulled, wantPulled)
	}
}

// Pods pulling one image share one pull, and each is told of its
// progress.
func TestSharedPullProgressReachesEveryPod(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	const img = "registry.local/shared:1"
	e.rt.ScriptPull(fake.Image(img), fake.Pull{Size: 10_000_000, Duration: 10 * time.Second, Steps: 2})
	e.create(e.pod("first", "shared"), e.pod("second", "shared"))
	// Both pods have asked for the image before the pull gets anywhere.
	if !waitFor(waitTimeout, func() bool { return e.rec.count(`Pulling: Pulling image "`+img+`"`) == 2 }) {
		t.Fatalf("the two pods did not both start pulling:\n%v", e.rec)
	}
	e.advance(baseTimers+1, 5*time.Second)
	e.advance(baseTimers+1, 5*time.Second)
	for _, name := range []string{"first", "second"} {
		e.waitPod(name, "running", running)
		e.wantEventsAtLeast(name+" Pulled: ", 1)
		progress := 0
		for _, ev := range e.rec.about(name, "Pulling") {
			if strings.HasSuffix(ev, "MB/10.0MB") {
				progress++
			}
		}
		if progress != 2 {
			t.Errorf("pod %s had %d progress events, want 2 (at 5s and 10s):\n%v", name, progress, e.rec)
		}
		if got := e.rec.about(name, "Pulled"); len(got) != 1 || !strings.Contains(got[0], " in 10s (10s including waiting)") {
			t.Errorf("pod %s: Pulled events %q", name, got)
		}
	}
	if n := len(e.rt.Records(fake.OpPullImage, fake.Image(img))); n != 1 {
		t.Errorf("%d pulls of one image two pods wanted at once, want 1", n)
	}
}

// pullsAndCreates lists, oldest first, the pulls of image and the creates
// of container in pod: "Pull" or "Create" each.
func pullsAndCreates(rt *fake.Runtime, image, pod, container string) []string {
	var out []string
	for _, r := range rt.History() {
		switch {
		case r.Op == fake.OpPullImage && r.Image == image:
			out = append(out, "Pull")
		case r.Op == fake.OpCreateContainer && r.Pod == pod && r.Container == container:
			out = append(out, "Create")
		}
	}
	return out
}

// imagePullPolicy Always pulls before every start of the container, even
// with the image present; so does an image without a tag, or tagged
// latest, whose policy is left unset.
func TestPullPolicyAlways(t *testing.T) {
	const img, latest = "registry.local/crash:1", "registry.local/crash"
	e := newEnv(t, envOpt{fakeClock: true, rt: []fake.Option{fake.WithImages(img, latest)}})
	for _, ref := range []string{img, latest} {
		e.rt.Script(fake.Image(ref), fake.Behavior{Exit: &fake.Exit{Code: 1}})
	}
	always := e.pod("always", "crash")
	always.Spec.Containers[0].ImagePullPolicy = objects.PullAlways
	untagged := e.pod("untagged", "crash")
	untagged.Spec.Containers[0].Image = latest
	e.create(always, untagged)
	restarted := func(n int32) func(*objects.Pod) bool {
		return func(p *objects.Pod) bool {
			return waiting("crash", "CrashLoopBackOff")(p) && containerStatus(p, "crash").RestartCount == n
		}
	}
	// The first restart is at once, the second after the 10s back-off
	// (both pods wait on one timer each).
	e.waitPod("always", "restarted once", restarted(1))
	e.waitPod("untagged", "restarted once", restarted(1))
	e.advance(baseTimers+2, 10*time.Second)
	e.waitPod("always", "restarted twice", restarted(2))
	e.waitPod("untagged", "restarted twice", restarted(2))

	want := "Pull Create Pull Create Pull Create"
	if got := strings.Join(pullsAndCreates(e.rt, img, "always", "crash"), " "); got != want {
		t.Errorf("pulls and creates with policy Always: %s, want %s", got, want)
	}
	if got := strings.Join(pullsAndCreates(e.rt, latest, "untagged", "crash"), " "); got != want {
		t.Errorf("pulls and creates of an untagged image: %s, want %s", got, want)
	}
	if n := e.rec.count("already present on machine"); n != 0 {
		t.Errorf("%d events say an image was present while the policy pulls always:\n%v", n, e.rec)
	}
}

// imagePullPolicy IfNotPresent pulls an absent image once, and a present
// one never, however often the container restarts.
func TestPullPolicyIfNotPresent(t *testing.T) {
	const present, absent = "registry.local/here:1", "registry.local/there:1"
	e := newEnv(t, envOpt{fakeClock: true, rt: []fake.Option{fake.WithImages(present)}})
	for _, ref := range []string{present, absent} {
		e.rt.Script(fake.Image(ref), fake.Behavior{Exit: &fake.Exit{Code: 1}})
	}
	here := e.pod("here", "here")
	here.Spec.Containers[0].ImagePullPolicy = objects.PullIfNotPresent
	there := e.pod("there", "there")
	there.Spec.Containers[0].ImagePullPolicy = objects.PullIfNotPresent
	e.create(here, there)
	restarted := func(c string, n int32) func(*objects.Pod) bool {
		return func(p *objects.Pod) bool {
			return waiting(c, "CrashLoopBackOff")(p) && containerStatus(p, c).RestartCount == n
		}
	}
	e.waitPod("here", "restarted once", restarted("here", 1))
	e.waitPod("there", "restarted once", restarted("there", 1))
	e.advance(baseTimers+2, 10*time.Second)
	e.waitPod("here", "restarted twice", restarted("here", 2))
	e.waitPod("there", "restarted twice", restarted("there", 2))

	if got := strings.Join(pullsAndCreates(e.rt, present, "here", "here"), " "); got != "Create Create Create" {
		t.Errorf("pulls and creates of a present image: %s, want no pull", got)
	}
	if got := strings.Join(pullsAndCreates(e.rt, absent, "there", "there"), " "); got != "Pull Create Create Create" {
		t.Errorf("pulls and creates of an absent image: %s, want one pull first", got)
	}
	e.wantEvents(`Pulled: Container image "`+present+`" already present on machine`, 3)
	if n := len(e.rec.about("here", "Pulled")); n != 3 {
		t.Errorf("want an \"already present\" event at each of the 3 starts:\n%v", e.rec)
	}
}

// A pod's status says it waits while its image is pulled, as the kubelet
// writes it before it pulls; a deletion ends the pod's wait, not the pull
// of another pod that needs the image.
func TestLongPullShowsPendingAndEndsWithDeletion(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	const img = "registry.local/huge:1"
	e.rt.ScriptPull(fake.Image(img), fake.Pull{Duration: 10 * time.Minute})
	e.create(e.pod("doomed", "huge"), e.pod("patient", "huge"))
	if !waitFor(waitTimeout, func() bool { return e.rec.count(`Pulling: Pulling image "`+img+`"`) == 2 }) {
		t.Fatalf("the two pods did not both start pulling:\n%v", e.rec)
	}
	for _, name := range []string{"doomed", "patient"} {
		e.waitPod(name, "Pending while the image is pulled", func(p *objects.Pod) bool {
			return p != nil && p.Status.Phase == objects.PodPending && waiting("huge", "ContainerCreating")(p)
		})
	}
	// The clock stands still: the deletion does not wait for the pull.
	deletePod(t, e.store, "doomed", 30)
	e.waitPod("doomed", "gone from the store", func(p *objects.Pod) bool { return p == nil })
	if p, _ := e.get("patient"); p == nil || !waiting("huge", "ContainerCreating")(p) {
		t.Fatalf("the other pod stopped waiting for the pull:\n%s", describe(p))
	}
	e.advance(baseTimers+1, 10*time.Minute)
	e.waitPod("patient", "running", running)
	pulls := e.rt.Records(fake.OpPullImage, fake.Image(img))
	if len(pulls) != 1 || pulls[0].Err != nil {
		t.Errorf("pulls %+v, want one that succeeded", pulls)
	}
	if n := e.rec.count("ErrImagePull"); n != 0 {
		t.Errorf("%d ErrImagePull events:\n%v", n, e.rec)
	}
}

// A pod whose activeDeadlineSeconds pass while its image is pulled fails
// then, and its pull, which no other pod waits for, stops.
func TestActiveDeadlineEndsLongPull(t *testing.T) {
	e := newEnv(t, envOpt{fakeClock: true})
	const img = "registry.local/huge:1"
	e.rt.ScriptPull(fake.Image(img), fake.Pull{Duration: 10 * time.Minute})
	p := e.pod("late", "huge")
	d := int64(30)
	p.Spec.ActiveDeadlineSeconds = &d
	e.create(p)
	e.waitPod("late", "Pending while the image is pulled", waiting("huge", "ContainerCreating"))
	// The pull's timer and the deadline's, with the agent's own.
	e.advance(baseTimers+2, 30*time.Second)
	pod := e.waitPod("late", "Failed", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodFailed })
	if pod.Status.Reason != "DeadlineExceeded" {
		t.Errorf("reason %q, want DeadlineExceeded", pod.Status.Reason)
	}
	if !waitFor(waitTimeout, func() bool { return len(e.rt.Records(fake.OpPullImage, fake.Image(img))) == 1 }) {
		t.Fatalf("the pull did not end")
	}
	if pull := e.rt.Records(fake.OpPullImage, fake.Image(img))[0]; pull.Err == nil {
		t.Errorf("the pull of a failed pod went on to the end")
	}
	if n := e.rec.count("ErrImagePull"); n != 0 {
		t.Errorf("%d ErrImagePull events:\n%v", n, e.rec)
	}
}
