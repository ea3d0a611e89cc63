package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/robfig/cron/v3"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindCronJob = "CronJob"

// tooManyMissed is how many missed runs make the controller warn (it still
// starts the most recent), as Kubernetes does.
const tooManyMissed = 100

// CronJobController returns the CronJob controller, for Manager.Add.
//
// At each time its schedule names (a standard five-field cron expression
// or a descriptor such as @hourly, in spec.timeZone or else the host's
// local zone, read on the manager's clock), a CronJob creates a Job from
// its jobTemplate, named <cronjob>-<minutes since the epoch of the
// scheduled time> and annotated with that time. Only the most recent
// missed time runs; with startingDeadlineSeconds, not if it was missed by
// more than that. concurrencyPolicy decides what happens when the previous
// Job still runs: Allow starts another, Forbid skips the run (it starts
// once the running Job finishes, if still within the deadline), Replace
// deletes the running Jobs first. suspend stops new runs. Finished Jobs
// beyond successfulJobsHistoryLimit and failedJobsHistoryLimit are deleted,
// oldest first. The status lists the active Jobs and the last schedule and
// success times.
func CronJobController(m *Manager) Controller {
	r := &cronJobReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{Name: "cronjob", For: kindCronJob, Owns: []string{kindJob}, Reconciler: r, Workers: 2}
}

type cronJobReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
}

func (r *cronJobReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	cj, err := Get[*objects.CronJob](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	jobs, err := r.ownedJobs(ctx, cj)
	if err != nil {
		return Result{}, err
	}
	now := r.clock.Now()
	st := *cj.Status.DeepCopy()
	var active []*objects.Job
	for _, j := range jobs {
		if !jobFinished(j) {
			active = append(active, j)
			continue
		}
		if c := objects.GetJobCondition(&j.Status, objects.JobComplete); c != nil && c.Status == objects.ConditionTrue {
			done := jobFinishTime(j)
			if st.LastSuccessfulTime == nil || done.After(st.LastSuccessfulTime.Time) {
				st.LastSuccessfulTime = objects.NewTimePtr(done)
			}
		}
		if slices.ContainsFunc(cj.Status.Active, func(ref objects.ObjectReference) bool { return ref.UID == j.UID }) {
			r.rec.Event(ctx, cj, EventNormal, "SawCompletedJob", fmt.Sprintf("Saw completed job: %s, condition: %s", j.Name, finishedCondition(j)))
		}
	}
	st.Active = jobRefs(active)
	if err := r.cleanHistory(ctx, cj, jobs); err != nil {
		return Result{}, err
	}
	res, err := r.schedule(ctx, cj, &st, active, now)
	if werr := r.writeStatus(ctx, cj, st); werr != nil {
		return Result{}, errors.Join(err, werr)
	}
	return res, err
}

func (r *cronJobReconciler) writeStatus(ctx context.Context, cj *objects.CronJob, st objects.CronJobStatus) error {
	if reflect.DeepEqual(st, cj.Status) {
		return nil
	}
	cj.Status = st
	return r.c.UpdateStatus(ctx, cj)
}

// schedule starts the Job of the most recent missed time, if it may, and
// returns when the next time comes.
func (r *cronJobReconciler) schedule(ctx context.Context, cj *objects.CronJob, st *objects.CronJobStatus, active []*objects.Job, now time.Time) (Result, error) {
	if cj.IsDeleting() || (cj.Spec.Suspend != nil && *cj.Spec.Suspend) {
		return Result{}, nil
	}
	sched, err := objects.ParseCronSchedule(cj.Spec.Schedule)
	if err != nil {
		r.rec.Event(ctx, cj, EventWarning, "UnparseableSchedule", fmt.Sprintf("unparseable schedule: %q : %s", cj.Spec.Schedule, err))
		return Result{}, Terminal(fmt.Errorf("cronjob %s: schedule %q: %w", cj.Name, cj.Spec.Schedule, err))
	}
	loc := time.Local
	if tz := cj.Spec.TimeZone; tz != nil {
		if loc, err = time.LoadLocation(*tz); err != nil {
			r.rec.Event(ctx, cj, EventWarning, "UnknownTimeZone", fmt.Sprintf("invalid timeZone: %q: %s", *tz, err))
			return Result{}, Terminal(fmt.Errorf("cronjob %s: time zone %q: %w", cj.Name, *tz, err))
		}
	}
	now = now.In(loc)
	next := Result{RequeueAfter: sched.Next(now).Sub(now)}
	scheduled, missed := mostRecentScheduleTime(cj, sched, now)
	if missed > tooManyMissed {
		r.rec.Event(ctx, cj, EventWarning, "TooManyMissedTimes",
			fmt.Sprintf("too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed))
	}
	if scheduled.IsZero() {
		return next, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		r.rec.Event(ctx, cj, EventWarning, "MissSchedule", fmt.Sprintf("Missed scheduled time to start a job: %s", scheduled.Format(time.RFC1123Z)))
		return next, nil
	}
	switch {
	case len(active) > 0 && cj.Spec.ConcurrencyPolicy == objects.ForbidConcurrent:
		r.rec.Event(ctx, cj, EventNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return next, nil
	case len(active) > 0 && cj.Spec.ConcurrencyPolicy == objects.ReplaceConcurrent:
		for _, j := range active {
			_, err := r.c.Delete(ctx, kindJob, j.Key(), store.DeleteOptions{
				PropagationPolicy: store.DeletePropagationBackground, Preconditions: &store.Preconditions{UID: j.UID},
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				r.rec.Event(ctx, cj, EventWarning, "FailedDelete", fmt.Sprintf("Deleted job %s: %v", j.Name, err))
				return Result{}, err
			}
			r.rec.Event(ctx, cj, EventNormal, "SuccessfulDelete", "Deleted job "+j.Name)
		}
		st.Active = nil
	}
	job := jobFromCronJob(cj, scheduled)
	err = r.c.Create(ctx, job)
	switch {
	case errors.Is(err, store.ErrAlreadyExists):
		// Created before (this run was counted and its status lost, or the
		// name is someone else's): never twice.
		existing, gerr := Get[*objects.Job](ctx, r.c, job.Key())
		if gerr != nil {
			return Result{}, gerr
		}
		if ref := existing.ControllerRef(); ref == nil || ref.UID != cj.UID {
			r.rec.Event(ctx, cj, EventWarning, "FailedCreate", fmt.Sprintf("Error creating job: job %s exists and is not owned by this CronJob", job.Name))
			return next, nil
		}
		job = existing
	case errors.Is(err, ErrOwnerDeleting):
		return Result{}, nil
	case err != nil:
		r.rec.Event(ctx, cj, EventWarning, "FailedCreate", "Error creating job: "+err.Error())
		return Result{}, err
	default:
		r.rec.Event(ctx, cj, EventNormal, "SuccessfulCreate", "Created job "+job.Name)
	}
	if !jobFinished(job) && !slices.ContainsFunc(st.Active, func(ref objects.ObjectReference) bool { return ref.UID == job.UID }) {
		st.Active = append(st.Active, jobRefs([]*objects.Job{job})...)
	}
	st.LastScheduleTime = objects.NewTimePtr(scheduled)
	return next, nil
}

// mostRecentScheduleTime returns the latest time of the schedule that has
// come and not been run (zero when none) and how many such times there
// are: after the last scheduled run (or the CronJob's creation), no
// earlier than startingDeadlineSeconds ago, up to now.
func mostRecentScheduleTime(cj *objects.CronJob, sched cron.Schedule, now time.Time) (time.Time, int) {
	earliest := cj.CreationTimestamp.Time
	if t := cj.Status.LastScheduleTime; t != nil {
		earliest = t.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if cutoff := now.Add(-time.Duration(*d) * time.Second); cutoff.After(earliest) {
			earliest = cutoff
		}
	}
	earliest = earliest.In(now.Location())
	var last time.Time
	n := 0
	for t := sched.Next(earliest); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		last = t
		n++
	}
	return last, n
}

// jobFromCronJob makes the Job of the run scheduled at t.
func jobFromCronJob(cj *objects.CronJob, t time.Time) *objects.Job {
	tmpl := &cj.Spec.JobTemplate
	j := &objects.Job{
		ObjectMeta: objects.ObjectMeta{
			Namespace:       cj.Namespace,
			Name:            fmt.Sprintf("%s-%d", cj.Name, t.Unix()/60),
			Labels:          maps.Clone(tmpl.Labels),
			Annotations:     maps.Clone(tmpl.Annotations),
			OwnerReferences: []objects.OwnerReference{NewControllerRef(cj)},
		},
	}
	if j.Annotations == nil {
		j.Annotations = map[string]string{}
	}
	j.Annotations[objects.CronJobScheduledTimestampAnnotation] = t.Format(time.RFC3339)
	tmpl.Spec.DeepCopyInto(&j.Spec)
	return j
}

// ownedJobs returns the Jobs the CronJob controls.
func (r *cronJobReconciler) ownedJobs(ctx context.Context, cj *objects.CronJob) ([]*objects.Job, error) {
	objs, err := r.c.list(ctx, kindJob, store.ListOptions{Namespace: cj.Namespace, Fields: map[string]string{store.IndexOwner: cj.UID}},
		func(o objects.Object) bool {
			ref := o.GetObjectMeta().ControllerRef()
			return ref != nil && ref.UID == cj.UID
		})
	if err != nil {
		return nil, err
	}
	jobs := make([]*objects.Job, len(objs))
	for i, o := range objs {
		jobs[i] = o.(*objects.Job)
	}
	return jobs, nil
}

// cleanHistory deletes the oldest finished Jobs beyond the history limits.
func (r *cronJobReconciler) cleanHistory(ctx context.Context, cj *objects.CronJob, jobs []*objects.Job) error {
	var succeeded, failed []*objects.Job
	for _, j := range jobs {
		if j.IsDeleting() || !jobFinished(j) {
			continue
		}
		if c := objects.GetJobCondition(&j.Status, objects.JobComplete); c != nil && c.Status == objects.ConditionTrue {
			succeeded = append(succeeded, j)
		} else {
			failed = append(failed, j)
		}
	}
	var victims []*objects.Job
	for _, h := range []struct {
		jobs  []*objects.Job
		limit *int32
	}{{succeeded, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if h.limit == nil || len(h.jobs) <= int(*h.limit) {
			continue
		}
		slices.SortFunc(h.jobs, func(a, b *objects.Job) int { return jobStart(a).Compare(jobStart(b)) })
		victims = append(victims, h.jobs[:len(h.jobs)-int(*h.limit)]...)
	}
	for _, j := range victims {
		_, err := r.c.Delete(ctx, kindJob, j.Key(), store.DeleteOptions{
			PropagationPolicy: store.DeletePropagationBackground, Preconditions: &store.Preconditions{UID: j.UID},
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			return err
		}
		r.rec.Event(ctx, cj, EventNormal, "SuccessfulDelete", "Deleted job "+j.Name)
	}
	return nil
}

func jobStart(j *objects.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

func finishedCondition(j *objects.Job) objects.JobConditionType {
	if c := objects.GetJobCondition(&j.Status, objects.JobComplete); c != nil && c.Status == objects.ConditionTrue {
		return objects.JobComplete
	}
	return objects.JobFailed
}

func jobRefs(jobs []*objects.Job) []objects.ObjectReference {
	if len(jobs) == 0 {
		return nil
	}
	refs := make([]objects.ObjectReference, len(jobs))
	for i, j := range jobs {
		refs[i] = objects.ObjectReference{Kind: kindJob, Namespace: j.Namespace, Name: j.Name, UID: j.UID,
			APIVersion: "batch/v1"}
	}
	slices.SortFunc(refs, func(a, b objects.ObjectReference) int { return strings.Compare(a.Name, b.Name) })
	return refs
}
