package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func jobEnv(t *testing.T, more ...func(m *Manager) error) *env {
	return newEnv(t, withControllers(append([]func(m *Manager) error{
		func(m *Manager) error { return m.Add(traced(JobController(m))) },
	}, more...)...))
}

func newJob(name string, completions, parallelism int32) *objects.Job {
	j := &objects.Job{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.JobSpec{
			Completions: ptr(completions),
			Parallelism: ptr(parallelism),
			Template:    podTemplate(nil, "work:1"),
		},
	}
	j.Spec.Template.Spec.RestartPolicy = objects.RestartPolicyNever
	return j
}

func getJob(tx store.ReadTx, name string) *objects.Job {
	o, err := tx.Get(kindJob, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.Job)
}

func jobCondition(name string, t objects.JobConditionType) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, name)
		if j == nil {
			return false, "no job"
		}
		c := objects.GetJobCondition(&j.Status, t)
		return c != nil && c.Status == objects.ConditionTrue, fmt.Sprintf("status %+v; pods %v", j.Status,
			podNames(podsWhere(tx, nil)))
	}
}

// outcomes decides once per pod whether it succeeds or fails: the first
// `fail` pods fail.
type outcomes struct {
	mu      sync.Mutex
	fail    int
	decided map[string]objects.PodPhase
}

func (o *outcomes) of(uid string) objects.PodPhase {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.decided == nil {
		o.decided = map[string]objects.PodPhase{}
	}
	if ph, ok := o.decided[uid]; ok {
		return ph
	}
	ph := objects.PodSucceeded
	if o.fail > 0 {
		o.fail--
		ph = objects.PodFailed
	}
	o.decided[uid] = ph
	return ph
}

// The case: completions 5, parallelism 2, and two pod failures;
// the retries wait for the backoff on the fake clock.
func TestJobCompletesAfterFailures(t *testing.T) {
	e := jobEnv(t)
	pw, stop := e.watchPodsT(func(pods map[objects.Key]*objects.Pod) string {
		active := 0
		for _, p := range pods {
			if isPodActive(p) {
				active++
			}
		}
		if active > 2 {
			return fmt.Sprintf("%d active pods, parallelism is 2", active)
		}
		return ""
	})
	out := &outcomes{fail: 2}
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		finishPod(p, out.of(p.UID), e.clock.Now())
		return true
	})
	e.create(newJob("batch", 5, 2))

	e.waitFor("two failures counted", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "batch")
		return j != nil && j.Status.Failed == 2, fmt.Sprintf("%+v", j)
	})
	e.waitDelayed("job")
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Len(t, podsWhere(tx, nil), 2, "no retry before the backoff")
	})
	// Two failures: the retry waits 20s. At 19s the controller looks and
	// still waits.
	e.clock.Advance(19 * time.Second)
	e.reconcileNow("job", Request{Namespace: "default", Name: "batch"})
	viewT(t, e.s, func(tx store.ReadTx) { require.Len(t, podsWhere(tx, nil), 2, "no retry before 20s") })
	e.waitDelayed("job")
	e.clock.Advance(time.Second)
	e.waitFor("complete", jobCondition("batch", objects.JobComplete))
	stop()

	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "batch")
		require.Equal(t, int32(5), j.Status.Succeeded)
		require.Equal(t, int32(2), j.Status.Failed)
		require.Equal(t, int32(0), j.Status.Active)
		require.NotNil(t, j.Status.CompletionTime)
		require.NotNil(t, j.Status.StartTime)
		c := objects.GetJobCondition(&j.Status, objects.JobSuccessCriteriaMet)
		require.NotNil(t, c)
		require.Equal(t, objects.ConditionTrue, c.Status)
		pods := podsWhere(tx, nil)
		phases := map[objects.PodPhase]int{}
		for _, p := range pods {
			phases[p.Status.Phase]++
			require.Empty(t, p.Finalizers, "pod %s is counted and let go", p.Name)
			require.Equal(t, j.UID, p.Labels[objects.ControllerUIDLabel])
			require.Equal(t, "batch", p.Labels[objects.JobNameLabel])
			require.Equal(t, j.UID, p.ControllerRef().UID)
		}
		require.Equal(t, map[objects.PodPhase]int{objects.PodSucceeded: 5, objects.PodFailed: 2}, phases)
	})
	require.Empty(t, pw.violations)
	require.True(t, e.events.has("Completed"))
}

func TestJobBackoffLimitExceeded(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		finishPod(p, objects.PodFailed, e.clock.Now())
		return true
	})
	j := newJob("doomed", 1, 1)
	j.Spec.BackoffLimit = ptr[int32](2)
	e.create(j)
	// Failures 1 and 2 are retried after 10s and 20s; the third fails the Job.
	for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second} {
		e.waitFor(fmt.Sprintf("%d failures", i+1), func(tx store.ReadTx) (bool, string) {
			j := getJob(tx, "doomed")
			return j != nil && j.Status.Failed == int32(i+1), fmt.Sprintf("%+v", j.Status)
		})
		e.waitDelayed("job")
		e.clock.Advance(wait)
	}
	e.waitFor("failed", jobCondition("doomed", objects.JobFailed))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "doomed")
		require.Equal(t, int32(3), j.Status.Failed)
		c := objects.GetJobCondition(&j.Status, objects.JobFailed)
		require.Equal(t, JobReasonBackoffLimitExceeded, c.Reason)
		require.NotNil(t, objects.GetJobCondition(&j.Status, objects.JobFailureTarget))
		require.Nil(t, j.Status.CompletionTime)
		require.Len(t, podsWhere(tx, nil), 3)
	})
}

func TestJobActiveDeadline(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := newJob("slow", 4, 2)
	j.Spec.ActiveDeadlineSeconds = ptr[int64](60)
	e.create(j)
	e.waitFor("2 running", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "slow")
		return j != nil && j.Status.Active == 2 && j.Status.Ready != nil && *j.Status.Ready == 2, fmt.Sprintf("%+v", j.Status)
	})
	e.waitDelayed("job")
	e.clock.Advance(60 * time.Second)
	e.waitFor("failed", jobCondition("slow", objects.JobFailed))
	e.waitFor("pods deleted and let go", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		return len(pods) == 0, fmt.Sprint(podNames(pods))
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "slow")
		require.Equal(t, JobReasonDeadlineExceeded, objects.GetJobCondition(&j.Status, objects.JobFailed).Reason)
		require.Equal(t, int32(2), j.Status.Failed, "the running pods of a failed Job count as failed, as in Kubernetes")
		require.Equal(t, int32(0), j.Status.Active)
	})
}

// A Job past its backoff limit while other pods run: they are deleted and
// count as failed too, as in Kubernetes.
func TestJobBackoffLimitCountsRunningPods(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := newJob("fragile", 3, 3)
	j.Spec.BackoffLimit = ptr[int32](0)
	e.create(j)
	e.waitFor("3 running", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "fragile")
		return j != nil && j.Status.Ready != nil && *j.Status.Ready == 3, fmt.Sprintf("%+v", j)
	})
	var first objects.Key
	viewT(t, e.s, func(tx store.ReadTx) { first = podsWhere(tx, nil)[0].Key() })
	e.mutateStatusPod(first, func(p *objects.Pod) { finishPod(p, objects.PodFailed, e.clock.Now()) })
	e.waitFor("failed", jobCondition("fragile", objects.JobFailed))
	e.waitFor("pods let go", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, func(p *objects.Pod) bool { return len(p.Finalizers) > 0 || p.IsDeleting() })
		return len(pods) == 0, fmt.Sprint(podNames(podsWhere(tx, nil)))
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "fragile")
		require.Equal(t, JobReasonBackoffLimitExceeded, objects.GetJobCondition(&j.Status, objects.JobFailed).Reason)
		require.Equal(t, int32(3), j.Status.Failed, "one failed pod and two deleted running ones")
		require.Equal(t, int32(0), j.Status.Active)
		require.Len(t, podsWhere(tx, nil), 1, "the failed pod stays; the running ones are gone")
	})
}

// A work queue (completions unset): once a pod has succeeded no new pod
// starts, but the running ones are left to finish, as in Kubernetes; the
// Job completes when they have.
func TestJobWorkQueueLetsOthersFinish(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := newJob("queue", 0, 3)
	j.Spec.Completions = nil
	e.create(j)
	e.waitFor("3 running", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "queue")
		return j != nil && j.Status.Ready != nil && *j.Status.Ready == 3, fmt.Sprintf("%+v", j)
	})
	var keys []objects.Key
	viewT(t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, nil) {
			keys = append(keys, p.Key())
		}
	})
	require.Len(t, keys, 3)
	e.mutateStatusPod(keys[0], func(p *objects.Pod) { finishPod(p, objects.PodSucceeded, e.clock.Now()) })
	e.waitFor("a success counted", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "queue")
		return j.Status.Succeeded == 1, fmt.Sprintf("%+v", j.Status)
	})
	e.reconcileNow("job", Request{Namespace: "default", Name: "queue"})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "queue")
		require.Len(t, podsWhere(tx, nil), 3, "no new pod, none deleted: %v", podNames(podsWhere(tx, nil)))
		require.Len(t, podsWhere(tx, isPodActive), 2)
		require.Equal(t, int32(2), j.Status.Active)
		require.False(t, jobFinished(j), "the others still run")
	})
	for _, k := range keys[1:] {
		e.mutateStatusPod(k, func(p *objects.Pod) { finishPod(p, objects.PodSucceeded, e.clock.Now()) })
	}
	e.waitFor("complete", jobCondition("queue", objects.JobComplete))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "queue")
		require.Equal(t, int32(3), j.Status.Succeeded)
		require.Equal(t, int32(0), j.Status.Failed)
		require.Len(t, podsWhere(tx, nil), 3)
	})
}

func TestJobIndexed(t *testing.T) {
	e := jobEnv(t)
	var mu sync.Mutex
	failedOnce := map[string]bool{}
	env := map[string]string{}        // by pod: JOB_COMPLETION_INDEX
	annotation := map[string]string{} // by pod: its completion index annotation
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		idx := p.Annotations[objects.JobCompletionIndexAnnotation]
		mu.Lock()
		defer mu.Unlock()
		annotation[p.Name] = idx
		for _, v := range p.Spec.Containers[0].Env {
			if v.Name == "JOB_COMPLETION_INDEX" {
				env[p.Name] = v.Value
			}
		}
		phase := objects.PodSucceeded
		if idx == "2" && (!failedOnce[idx] || failedOnce[p.UID]) {
			failedOnce[idx], failedOnce[p.UID] = true, true
			phase = objects.PodFailed
		}
		finishPod(p, phase, e.clock.Now())
		return true
	})
	j := newJob("idx", 4, 4)
	j.Spec.CompletionMode = ptr(objects.IndexedCompletion)
	e.create(j)
	e.waitFor("index 2 failed once", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "idx")
		return j != nil && j.Status.Failed == 1 && j.Status.CompletedIndexes == "0,1,3", fmt.Sprintf("%+v", j.Status)
	})
	e.waitDelayed("job")
	e.clock.Advance(10 * time.Second)
	e.waitFor("complete", jobCondition("idx", objects.JobComplete))
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, "idx")
		require.Equal(t, "0-3", j.Status.CompletedIndexes)
		require.Equal(t, int32(4), j.Status.Succeeded)
		require.Equal(t, int32(1), j.Status.Failed)
		byIndex := map[string]int{}
		for _, p := range podsWhere(tx, nil) {
			idx := p.Annotations[objects.JobCompletionIndexAnnotation]
			byIndex[idx]++
			require.Equal(t, idx, p.Labels[objects.JobCompletionIndexAnnotation])
			require.Equal(t, "idx-"+idx, p.Spec.Hostname)
			require.Regexp(t, "^idx-"+idx+"-", p.Name)
		}
		require.Equal(t, map[string]int{"0": 1, "1": 1, "2": 2, "3": 1}, byIndex)
	})
	mu.Lock()
	defer mu.Unlock()
	for name, v := range env {
		_, err := strconv.Atoi(v)
		require.NoError(t, err, name)
		require.Equal(t, annotation[name], v, "pod %s: JOB_COMPLETION_INDEX is its completion index", name)
	}
	require.Len(t, env, 5)
	require.Len(t, annotation, 5)
}

func TestJobTTLAfterFinished(t *testing.T) {
	e := jobEnv(t, func(m *Manager) error { return m.AddRunnable(GarbageCollector(m)) })
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		finishPod(p, objects.PodSucceeded, e.clock.Now())
		return true
	})
	j := newJob("short", 1, 1)
	j.Spec.TTLSecondsAfterFinished = ptr[int32](100)
	e.create(j)
	e.waitFor("complete", jobCondition("short", objects.JobComplete))
	e.waitDelayed("job")
	e.clock.Advance(99 * time.Second)
	e.reconcileNow("job", Request{Namespace: "default", Name: "short"})
	_, err := e.get(kindJob, dkey("short"))
	require.NoError(t, err, "not deleted before its TTL")
	e.waitDelayed("job")
	e.clock.Advance(time.Second)
	e.waitFor("job and pod gone", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "short")
		pods := podsWhere(tx, nil)
		return j == nil && len(pods) == 0, fmt.Sprint(podNames(pods))
	})
}

func TestJobSuspendAndResume(t *testing.T) {
	e := jobEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	e.create(newJob("paused", 3, 3))
	e.waitFor("3 active", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "paused")
		return j != nil && j.Status.Active == 3, fmt.Sprintf("%+v", j.Status)
	})
	e.mutate(kindJob, dkey("paused"), func(o objects.Object) { o.(*objects.Job).Spec.Suspend = ptr(true) })
	e.waitFor("suspended, no pods", func(tx store.ReadTx) (bool, string) {
		ok, seen := jobCondition("paused", objects.JobSuspended)(tx)
		return ok && len(podsWhere(tx, isPodActive)) == 0 && getJob(tx, "paused").Status.Active == 0, seen
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, int32(0), getJob(tx, "paused").Status.Failed) })
	e.mutate(kindJob, dkey("paused"), func(o objects.Object) { o.(*objects.Job).Spec.Suspend = ptr(false) })
	e.waitFor("resumed", func(tx store.ReadTx) (bool, string) {
		j := getJob(tx, "paused")
		c := objects.GetJobCondition(&j.Status, objects.JobSuspended)
		return c != nil && c.Status == objects.ConditionFalse && j.Status.Active == 3, fmt.Sprintf("%+v", j.Status)
	})
}

// A finished pod deleted before the controller counted it still counts:
// the finalizer keeps it until then.
func TestJobTrackingFinalizer(t *testing.T) {
	e := jobEnv(t)
	e.create(newJob("tracked", 2, 2))
	e.waitFor("2 pods", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		return len(pods) == 2, fmt.Sprint(podNames(pods))
	})
	var keys []objects.Key
	viewT(t, e.s, func(tx store.ReadTx) {
		for _, p := range podsWhere(tx, nil) {
			require.Equal(t, []string{objects.JobTrackingFinalizer}, p.Finalizers)
			keys = append(keys, p.Key())
		}
	})
	sort.Slice(keys, func(i, j int) bool { return keys[i].Name < keys[j].Name })
	require.NoError(t, e.s.Update(t.Context(), func(tx store.Tx) error {
		for _, k := range keys {
			o, err := tx.Get(kindPod, k)
			if err != nil {
				return err
			}
			p := o.(*objects.Pod)
			finishPod(p, objects.PodSucceeded, e.clock.Now())
			if err := tx.UpdateStatus(p); err != nil {
				return err
			}
			if _, err := tx.Delete(kindPod, k, store.DeleteOptions{}); err != nil {
				return err
			}
		}
		return nil
	}))
	e.waitFor("complete", jobCondition("tracked", objects.JobComplete))
	e.waitFor("pods gone", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		return len(pods) == 0, fmt.Sprint(podNames(pods))
	})
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, int32(2), getJob(tx, "tracked").Status.Succeeded) })
}

func TestIntervals(t *testing.T) {
	for _, tc := range []struct {
		in   string
		add  []int
		want string
		n    int
	}{
		{"", nil, "", 0},
		{"", []int{3, 1, 2}, "1-3", 3},
		{"0,2-3", []int{1}, "0-3", 4},
		{"0,5", []int{9, 7}, "0,5,7,9", 4},
		{"1-2,9-12", nil, "1,2,9", 3}, // beyond completions: cut; a run of two as Kubernetes writes it
		{"", []int{4, 5, 6, 8, 9}, "4-6,8,9", 5},
		{"", []int{4, 4, 5, 4}, "4,5", 2},
		{"0-2,3,4-5", nil, "0-5", 6},      // adjacent runs merge
		{"7,1-3,2-5", []int{6}, "1-7", 7}, // out of order and overlapping: sorted and merged
		{"x,1-y,3-2,-1,4", nil, "4", 1},   // malformed runs skipped
		{"0-9", []int{3}, "0-9", 10},
		{"10,11-20", nil, "", 0},
	} {
		iv := parseIntervals(tc.in, 10).with(tc.add...)
		require.Equal(t, tc.want, iv.String(), tc.in)
		require.Equal(t, tc.n, iv.total(), tc.in)
		for i := -1; i <= 10; i++ {
			require.Equal(t, strings.Contains(","+expand(tc.want)+",", ","+strconv.Itoa(i)+","), iv.has(i), "%s has %d", tc.in, i)
		}
	}
}

// expand writes out every index of a compressed list, for checking
// intervals against the obvious implementation.
func expand(s string) string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, ok := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if ok {
			b, _ = strconv.Atoi(hi)
		}
		for i := a; i <= b; i++ {
			out = append(out, strconv.Itoa(i))
		}
	}
	return strings.Join(out, ",")
}

func TestIntervalsSetOperations(t *testing.T) {
	for _, tc := range []struct {
		a, b    string
		union   string
		common  int
		missing []int // the first 4 below 12 in a∪b
	}{
		{"", "", "", 0, []int{0, 1, 2, 3}},
		{"0-3", "", "0-3", 0, []int{4, 5, 6, 7}},
		{"0,2", "1,3", "0-3", 0, []int{4, 5, 6, 7}},
		{"0-5", "3-8", "0-8", 3, []int{9, 10, 11}},
		{"1,5-6", "6-7,11", "1,5-7,11", 1, []int{0, 2, 3, 4}},
		{"0-11", "", "0-11", 0, nil},
		{"2-4,8-9", "0,4-6,9", "0,2-6,8,9", 2, []int{1, 7, 10, 11}},
	} {
		a, b := parseIntervals(tc.a, 100), parseIntervals(tc.b, 100)
		u := a.union(b)
		require.Equal(t, tc.union, u.String(), "%s ∪ %s", tc.a, tc.b)
		require.Equal(t, tc.union, b.union(a).String(), "%s ∪ %s", tc.b, tc.a)
		require.Equal(t, tc.common, a.common(b), "%s ∩ %s", tc.a, tc.b)
		require.Equal(t, tc.common, b.common(a), "%s ∩ %s", tc.b, tc.a)
		require.Equal(t, tc.missing, u.firstMissing(12, 4), "missing from %s", u)
	}
	require.Equal(t, []int{3}, parseIntervals("0-2,4", 10).firstMissing(10, 1))
	require.Nil(t, parseIntervals("0-2", 10).firstMissing(3, 5))
	require.Nil(t, parseIntervals("", 10).firstMissing(10, 0))
}

// Intervals cost nothing per index: the largest Job Kubernetes allows,
// almost done, parses, grows, formats and finds its pending indexes
// without memory for its completions.
func TestIntervalsHugeJob(t *testing.T) {
	const completions = 1<<31 - 1
	allocs := testing.AllocsPerRun(10, func() {
		iv := parseIntervals("0-999999999,1000000001-2147483640", completions).with(1000000000, 2147483645)
		if iv.total() != 2147483642 || iv.String() != "0-2147483640,2147483645" {
			t.Fatalf("got %s (%d)", iv, iv.total())
		}
		if got := iv.firstMissing(completions, 3); !slices.Equal(got, []int{2147483641, 2147483642, 2147483643}) {
			t.Fatalf("missing %v", got)
		}
	})
	require.Less(t, allocs, 20.0)
}

// A Job deleted while its pods run: the garbage collector deletes them and
// the controller lets go of their tracking finalizers, so nothing stays.
func TestJobDeletedReleasesPods(t *testing.T) {
	e := jobEnv(t, func(m *Manager) error { return m.AddRunnable(GarbageCollector(m)) })
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	j := newJob("gone", 3, 3)
	j.Spec.ManualSelector = ptr(true)
	j.Spec.Selector = &objects.LabelSelector{MatchLabels: map[string]string{"batch": "gone"}}
	j.Spec.Template.Labels = map[string]string{"batch": "gone"}
	e.create(j)
	e.waitFor("3 running", func(tx store.ReadTx) (bool, string) {
		return len(podsWhere(tx, objects.IsPodReady)) == 3, ""
	})
	e.delete(kindJob, dkey("gone"), store.DeletePropagationBackground)
	e.waitFor("pods gone", func(tx store.ReadTx) (bool, string) {
		pods := podsWhere(tx, nil)
		return len(pods) == 0, fmt.Sprint(podNames(pods))
	})
}
