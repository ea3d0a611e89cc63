package reconcile

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func cronEnv(t *testing.T) *env {
	return newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(JobController(m)) },
		func(m *Manager) error { return m.Add(traced(CronJobController(m))) },
		func(m *Manager) error { return m.AddRunnable(GarbageCollector(m)) },
	))
}

func newCronJob(name, schedule string, policy objects.ConcurrencyPolicy) *objects.CronJob {
	utc := "UTC"
	cj := &objects.CronJob{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.CronJobSpec{
			Schedule:          schedule,
			TimeZone:          &utc,
			ConcurrencyPolicy: policy,
			JobTemplate: objects.JobTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: map[string]string{"cron": name}},
				Spec:       objects.JobSpec{Template: podTemplate(map[string]string{"cron": name}, "task:1")},
			},
		},
	}
	cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = objects.RestartPolicyNever
	return cj
}

func getCronJob(tx store.ReadTx, name string) *objects.CronJob {
	o, err := tx.Get(kindCronJob, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.CronJob)
}

func jobsOf(tx store.ReadTx) []*objects.Job {
	objs, _ := tx.List(kindJob, store.ListOptions{Namespace: "default"})
	var out []*objects.Job
	for _, o := range objs {
		out = append(out, o.(*objects.Job))
	}
	return out
}

func jobNames(jobs []*objects.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, fmt.Sprintf("%s(finished=%v,deleting=%v)", j.Name, jobFinished(j), j.IsDeleting()))
	}
	return out
}

// runName is the name of the Job a CronJob makes for the run at t.
func runName(cj string, t time.Time) string { return fmt.Sprintf("%s-%d", cj, t.Unix()/60) }

// at returns the env's start time plus d.
func at(d time.Duration) time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(d) }

// advanceTo moves the fake clock to t, once the CronJob controller waits
// for it.
func (e *env) advanceTo(t time.Time) {
	e.t.Helper()
	e.waitDelayed("cronjob")
	e.clock.Advance(t.Sub(e.clock.Now()))
}

// jobsAre holds when the namespace has exactly the named Jobs (not being
// deleted).
func jobsAre(names ...string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		var got []string
		for _, j := range jobsOf(tx) {
			if !j.IsDeleting() {
				got = append(got, j.Name)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(names))
		return slices.Equal(got, want), fmt.Sprint(jobNames(jobsOf(tx)))
	}
}

func succeedPods(e *env) {
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		finishPod(p, objects.PodSucceeded, e.clock.Now())
		return true
	})
}

func TestCronJobRunsOnSchedule(t *testing.T) {
	e := cronEnv(t)
	succeedPods(e)
	cj := newCronJob("tick", "*/5 * * * *", objects.AllowConcurrent)
	cj.Spec.SuccessfulJobsHistoryLimit = ptr[int32](2)
	e.create(cj)
	e.advanceTo(at(4 * time.Minute))
	e.reconcileNow("cronjob", Request{Namespace: "default", Name: "tick"})
	viewT(t, e.s, func(tx store.ReadTx) { require.Empty(t, jobsOf(tx), "nothing before 00:05") })
	e.advanceTo(at(5 * time.Minute))
	first := runName("tick", at(5*time.Minute))
	e.waitFor("first run complete", func(tx store.ReadTx) (bool, string) {
		c := getCronJob(tx, "tick")
		return c.Status.LastSuccessfulTime != nil && len(c.Status.Active) == 0, fmt.Sprintf("%+v %v", c.Status, jobNames(jobsOf(tx)))
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		j := getJob(tx, first)
		require.NotNil(t, j)
		require.Equal(t, "tick", j.Labels["cron"])
		require.Equal(t, "2025-01-01T00:05:00Z", j.Annotations[objects.CronJobScheduledTimestampAnnotation])
		require.Equal(t, getCronJob(tx, "tick").UID, j.ControllerRef().UID)
		require.Equal(t, at(5*time.Minute), getCronJob(tx, "tick").Status.LastScheduleTime.Time)
	})
	// Two more runs; the history keeps the last two successes.
	e.advanceTo(at(10 * time.Minute))
	e.waitFor("second run", jobCondition(runName("tick", at(10*time.Minute)), objects.JobComplete))
	e.advanceTo(at(15 * time.Minute))
	e.waitFor("history of two", jobsAre(runName("tick", at(10*time.Minute)), runName("tick", at(15*time.Minute))))
	require.True(t, e.events.has("Created job "+first))
}

func TestCronJobForbid(t *testing.T) {
	e := cronEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	e.create(newCronJob("slow", "*/5 * * * *", objects.ForbidConcurrent))
	e.advanceTo(at(5 * time.Minute))
	first := runName("slow", at(5*time.Minute))
	e.waitFor("first run active", func(tx store.ReadTx) (bool, string) {
		c := getCronJob(tx, "slow")
		return len(c.Status.Active) == 1 && c.Status.Active[0].Name == first && len(podsWhere(tx, objects.IsPodReady)) == 1,
			fmt.Sprintf("%+v", c.Status)
	})
	e.advanceTo(at(10 * time.Minute))
	// Events are not in the store: poll the recorder.
	require.Eventually(t, func() bool { return e.events.has("JobAlreadyActive") }, waitTimeout, time.Millisecond)
	viewT(t, e.s, func(tx store.ReadTx) { require.Len(t, jobsOf(tx), 1) })
	// The first run finishes: the skipped 00:10 run starts now.
	e.clock.Advance(time.Minute)
	var pods []*objects.Pod
	viewT(t, e.s, func(tx store.ReadTx) { pods = podsWhere(tx, nil) })
	for _, p := range pods {
		e.mutateStatusPod(p.Key(), func(p *objects.Pod) { finishPod(p, objects.PodSucceeded, e.clock.Now()) })
	}
	e.waitFor("the missed run starts", jobsAre(first, runName("slow", at(10*time.Minute))))
}

func TestCronJobReplace(t *testing.T) {
	e := cronEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	e.create(newCronJob("fresh", "*/5 * * * *", objects.ReplaceConcurrent))
	e.advanceTo(at(5 * time.Minute))
	e.waitFor("first run", jobsAre(runName("fresh", at(5*time.Minute))))
	e.advanceTo(at(10 * time.Minute))
	e.waitFor("replaced", jobsAre(runName("fresh", at(10*time.Minute))))
	e.waitFor("active is the new one", func(tx store.ReadTx) (bool, string) {
		c := getCronJob(tx, "fresh")
		return len(c.Status.Active) == 1 && c.Status.Active[0].Name == runName("fresh", at(10*time.Minute)), fmt.Sprintf("%+v", c.Status)
	})
}

func TestCronJobSuspendAndStartingDeadline(t *testing.T) {
	e := cronEnv(t)
	succeedPods(e)
	cj := newCronJob("late", "*/5 * * * *", objects.AllowConcurrent)
	cj.Spec.Suspend = ptr(true)
	cj.Spec.StartingDeadlineSeconds = ptr[int64](60)
	e.create(cj)
	e.waitFor("seen", func(tx store.ReadTx) (bool, string) { return getCronJob(tx, "late") != nil, "" })
	e.clock.Advance(22 * time.Minute) // suspended: runs at 00:05..00:20 are missed
	e.reconcileNow("cronjob", Request{Namespace: "default", Name: "late"})
	viewT(t, e.s, func(tx store.ReadTx) { require.Empty(t, jobsOf(tx)) })
	e.mutate(kindCronJob, dkey("late"), func(o objects.Object) { o.(*objects.CronJob).Spec.Suspend = ptr(false) })
	// 00:20 was missed by more than the 60s deadline: nothing runs.
	e.reconcileNow("cronjob", Request{Namespace: "default", Name: "late"})
	viewT(t, e.s, func(tx store.ReadTx) { require.Empty(t, jobsOf(tx)) })
	e.advanceTo(at(25 * time.Minute))
	e.waitFor("00:25 runs", jobsAre(runName("late", at(25*time.Minute))))
}

func TestMostRecentScheduleTime(t *testing.T) {
	sched, err := objects.ParseCronSchedule("0 * * * *")
	require.NoError(t, err)
	cj := &objects.CronJob{ObjectMeta: objects.ObjectMeta{CreationTimestamp: objects.NewTime(at(0))}}
	got, n := mostRecentScheduleTime(cj, sched, at(30*time.Minute))
	require.True(t, got.IsZero())
	require.Equal(t, 0, n)
	got, n = mostRecentScheduleTime(cj, sched, at(5*time.Hour+time.Minute))
	require.Equal(t, at(5*time.Hour), got)
	require.Equal(t, 5, n)
	cj.Status.LastScheduleTime = objects.NewTimePtr(at(4 * time.Hour))
	_, n = mostRecentScheduleTime(cj, sched, at(5*time.Hour+time.Minute))
	require.Equal(t, 1, n)
	cj.Spec.StartingDeadlineSeconds = ptr[int64](30)
	got, _ = mostRecentScheduleTime(cj, sched, at(5*time.Hour+time.Minute))
	require.True(t, got.IsZero(), "the 05:00 run is beyond the deadline")
}

// failedJobsHistoryLimit keeps the newest failed Jobs, apart from the
// successful ones.
func TestCronJobFailedJobsHistoryLimit(t *testing.T) {
	e := cronEnv(t)
	e.runPodScript(func(p *objects.Pod) bool {
		if p.IsTerminal() || p.IsDeleting() {
			return false
		}
		finishPod(p, objects.PodFailed, e.clock.Now())
		return true
	})
	cj := newCronJob("flaky", "*/5 * * * *", objects.AllowConcurrent)
	cj.Spec.FailedJobsHistoryLimit = ptr[int32](2)
	cj.Spec.SuccessfulJobsHistoryLimit = ptr[int32](0)
	cj.Spec.JobTemplate.Spec.BackoffLimit = ptr[int32](0)
	e.create(cj)
	var runs []string
	for i := 1; i <= 4; i++ {
		at := at(time.Duration(5*i) * time.Minute)
		e.advanceTo(at)
		runs = append(runs, runName("flaky", at))
		e.waitFor(runs[len(runs)-1]+" failed", jobCondition(runs[len(runs)-1], objects.JobFailed))
		keep := runs[max(0, len(runs)-2):]
		e.waitFor(fmt.Sprintf("failed history %v", keep), jobsAre(keep...))
	}
	e.waitFor("the cronjob saw the last failure", func(tx store.ReadTx) (bool, string) {
		c := getCronJob(tx, "flaky")
		return len(c.Status.Active) == 0 && c.Status.LastSuccessfulTime == nil, fmt.Sprintf("%+v", c.Status)
	})
	require.True(t, e.events.has("Deleted job "+runs[0]))
	require.True(t, e.events.has("Deleted job "+runs[1]))
	require.False(t, e.events.has("Deleted job "+runs[2]))
}
