package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindJob = "Job"

// Retry backoff of a Job's pods, as Kubernetes has it: 10s after the first
// failure, doubling with each failure since the last success, at most six
// minutes.
const (
	JobBackoffBase = 10 * time.Second
	JobBackoffMax  = 6 * time.Minute
)

// Reasons of Job conditions and events, as Kubernetes words them.
const (
	JobReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	JobReasonDeadlineExceeded     = "DeadlineExceeded"
	JobReasonCompletionsReached   = "CompletionsReached"
	JobReasonSuspended            = "JobSuspended"
	JobReasonResumed              = "JobResumed"
)

// jobCompletionIndexEnv is the variable an Indexed Job's containers find
// their index in.
const jobCompletionIndexEnv = "JOB_COMPLETION_INDEX"

// JobController returns the Job controller, for Manager.Add.
//
// It runs a Job's pods until spec.completions of them succeed (NonIndexed)
// or every index 0..completions-1 has a successful pod (Indexed, where each
// pod gets its index in the batch.kubernetes.io/job-completion-index
// annotation and label, the JOB_COMPLETION_INDEX variable and the hostname
// <job>-<index>), at most spec.parallelism at a time. Without completions
// (a work queue) it starts no pod once one has succeeded, and the Job
// completes when the others have stopped too. Pods carry the
// batch.kubernetes.io/job-tracking finalizer until they are counted in the
// Job's status, so a finished pod deleted early still counts, and is
// counted once. A pod that fails (or is deleted before it succeeds) counts
// as failed; after a failure, new pods wait 10s, doubling with each failure
// since the last success up to 6 minutes, on the manager's clock. More
// failures than backoffLimit (or, with restartPolicy OnFailure, as many
// container restarts) or a Job active for longer than
// activeDeadlineSeconds fails it: the FailureTarget and Failed conditions
// are set and its running pods deleted, and they count as failed too.
// Success sets SuccessCriteriaMet and Complete. A suspended Job has no
// pods. A finished Job with ttlSecondsAfterFinished is deleted
// (foreground) that long after it finished.
func JobController(m *Manager) Controller {
	r := &jobReconciler{c: m.Client(), clock: m.Clock(), rec: m.Recorder()}
	return Controller{
		Name:       "job",
		For:        kindJob,
		Owns:       []string{kindPod},
		Watches:    []Watch{{Kind: kindPod, Map: r.orphanPodOwners}},
		Reconciler: r,
		Workers:    5,
	}
}

type jobReconciler struct {
	c     *Client
	clock clockwork.Clock
	rec   EventRecorder
}

func (r *jobReconciler) orphanPodOwners(obj objects.Object) []Request {
	return matchingOwners(r.c, obj, kindJob, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.Job).Spec.Selector
	})
}

func (r *jobReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	job, err := Get[*objects.Job](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, r.releaseGonePods(ctx, req)
	}
	if err != nil {
		return Result{}, err
	}
	if job.Spec.Selector == nil {
		return Result{}, nil // created without a uid-based selector yet; the store completes it
	}
	sel, err := objects.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return Result{}, Terminal(fmt.Errorf("job %s: invalid selector: %w", req, err))
	}
	pods, err := claimPods(ctx, r.c, r.c.list, job, sel, nil) // finished ones too
	if err != nil {
		return Result{}, err
	}
	now := r.clock.Now()
	if job.IsDeleting() || jobFinished(job) {
		// Nothing more is counted: let every pod go.
		if err := removeTrackingFinalizers(ctx, r.c, pods); err != nil {
			return Result{}, err
		}
		if job.IsDeleting() {
			return Result{}, nil
		}
		return r.expire(ctx, job, now)
	}
	return r.sync(ctx, job, pods, now)
}

// jobState is what one reconcile computes about a Job.
type jobState struct {
	job      *objects.Job
	status   objects.JobStatus
	active   []*objects.Pod // neither finished nor being deleted
	counted  []*objects.Pod // finished, tracked, counted by this reconcile
	finished []*objects.Pod // finished, or deleted by others, counted now or before
	indexes  intervals      // succeeded indexes (Indexed)
	now      time.Time
}

func (r *jobReconciler) sync(ctx context.Context, job *objects.Job, pods []*objects.Pod, now time.Time) (Result, error) {
	s := &jobState{job: job, status: *job.Status.DeepCopy(), now: now}
	indexed := isIndexedJob(job)
	completions := job.Spec.Completions
	if indexed {
		s.indexes = parseIntervals(s.status.CompletedIndexes, int(*completions))
	}
	for _, p := range pods {
		tracked := p.HasFinalizer(objects.JobTrackingFinalizer)
		// Pods the controller deleted itself (untracked first) are no
		// failures and do not delay the next ones.
		if p.IsTerminal() || (p.IsDeleting() && tracked) {
			s.finished = append(s.finished, p)
		}
		switch {
		case p.Status.Phase == objects.PodSucceeded:
			if tracked {
				s.counted = append(s.counted, p)
				if !indexed {
					s.status.Succeeded++
				} else if i, ok := podCompletionIndex(p, int(*completions)); ok {
					s.indexes.add(i)
				}
			}
		case p.Status.Phase == objects.PodFailed || p.IsDeleting():
			if tracked {
				s.counted = append(s.counted, p)
				s.status.Failed++
			}
		default:
			s.active = append(s.active, p)
		}
	}
	if indexed {
		s.status.Succeeded = int32(s.indexes.total())
		s.status.CompletedIndexes = s.indexes.String()
	}

	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	var res Result
	var manageErr error
	switch {
	case suspended:
		manageErr = r.suspend(ctx, s)
	default:
		if c := objects.GetJobCondition(&s.status, objects.JobSuspended); c != nil && c.Status == objects.ConditionTrue {
			setJobCondition(&s.status, objects.JobSuspended, objects.ConditionFalse, JobReasonResumed, "Job resumed", now)
			s.status.StartTime = nil // the deadline counts from the resumption
			r.rec.Event(ctx, job, EventNormal, "Resumed", "Job resumed")
		}
		if s.status.StartTime == nil {
			s.status.StartTime = objects.NewTimePtr(now)
		}
		reason, message, deadline := r.failure(s)
		switch {
		case reason != "":
			manageErr = r.finish(ctx, s, objects.JobFailureTarget, objects.JobFailed, reason, message)
		case jobSucceeded(s):
			manageErr = r.finish(ctx, s, objects.JobSuccessCriteriaMet, objects.JobComplete, JobReasonCompletionsReached, "Reached expected number of succeeded pods")
		default:
			var wait time.Duration
			wait, manageErr = r.manage(ctx, s)
			res.RequeueAfter = wait
			if deadline > 0 && (res.RequeueAfter == 0 || deadline < res.RequeueAfter) {
				res.RequeueAfter = deadline
			}
		}
	}
	s.status.Active = int32(len(s.active))
	ready := int32(0)
	for _, p := range s.active {
		if objects.IsPodReady(p) {
			ready++
		}
	}
	s.status.Ready = &ready
	if err := r.writeStatus(ctx, s); err != nil {
		return Result{}, errors.Join(manageErr, err)
	}
	if manageErr != nil {
		return Result{}, manageErr
	}
	if jobFinished(job) {
		return r.expire(ctx, job, now)
	}
	return res, nil
}

// failure returns why the Job fails now, or the time left before its
// active deadline.
func (r *jobReconciler) failure(s *jobState) (reason, message string, untilDeadline time.Duration) {
	job := s.job
	limit := int32(6)
	if job.Spec.BackoffLimit != nil {
		limit = *job.Spec.BackoffLimit
	}
	if s.status.Failed > limit || pastBackoffLimitOnFailure(job, s.active) {
		return JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit", 0
	}
	if ads := job.Spec.ActiveDeadlineSeconds; ads != nil && s.status.StartTime != nil {
		deadline := s.status.StartTime.Add(time.Duration(*ads) * time.Second)
		if !s.now.Before(deadline) {
			return JobReasonDeadlineExceeded, "Job was active longer than specified deadline", 0
		}
		return "", "", deadline.Sub(s.now)
	}
	return "", "", 0
}

// pastBackoffLimitOnFailure counts container restarts as failures when pods
// restart OnFailure, as Kubernetes does.
func pastBackoffLimitOnFailure(job *objects.Job, active []*objects.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != objects.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range active {
		for _, cs := range [][]objects.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, c := range cs {
				restarts += c.RestartCount
			}
		}
	}
	limit := int32(6)
	if job.Spec.BackoffLimit != nil {
		limit = *job.Spec.BackoffLimit
	}
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

func jobSucceeded(s *jobState) bool {
	job := s.job
	if c := job.Spec.Completions; c != nil {
		return s.status.Succeeded >= *c
	}
	// A work queue: done once one pod succeeded and the others stopped.
	return s.status.Succeeded > 0 && len(s.active) == 0
}

// finish sets the Job's terminal condition, after its interim one, and
// deletes its running pods. The pods of a failed Job count as failed, as
// in Kubernetes ("active pods are terminated when the job has completed,
// thus they count as failures").
func (r *jobReconciler) finish(ctx context.Context, s *jobState, interim, final objects.JobConditionType, reason, message string) error {
	del := r.deleteActive
	if final == objects.JobFailed {
		del = r.failActive
	}
	if err := del(ctx, s, s.active); err != nil {
		return err
	}
	setJobCondition(&s.status, interim, objects.ConditionTrue, reason, message, s.now)
	setJobCondition(&s.status, final, objects.ConditionTrue, reason, message, s.now)
	if final == objects.JobComplete {
		s.status.CompletionTime = objects.NewTimePtr(s.now)
		r.rec.Event(ctx, s.job, EventNormal, "Completed", "Job completed")
	} else {
		r.rec.Event(ctx, s.job, EventWarning, reason, message)
	}
	return nil
}

func (r *jobReconciler) suspend(ctx context.Context, s *jobState) error {
	if err := r.deleteActive(ctx, s, s.active); err != nil {
		return err
	}
	if c := objects.GetJobCondition(&s.status, objects.JobSuspended); c == nil || c.Status != objects.ConditionTrue {
		setJobCondition(&s.status, objects.JobSuspended, objects.ConditionTrue, JobReasonSuspended, "Job suspended", s.now)
		r.rec.Event(ctx, s.job, EventNormal, "Suspended", "Job suspended")
	}
	return nil
}

// deleteActive deletes pods the Job no longer wants, removing their
// tracking finalizer in the same transaction: a pod the controller removes
// is not a failure.
func (r *jobReconciler) deleteActive(ctx context.Context, s *jobState, victims []*objects.Pod) error {
	_, err := r.deletePods(ctx, s, victims, untrackDeleted)
	return err
}

// failActive deletes the running pods of a failed Job and counts them as
// failed. They keep their tracking finalizer until writeStatus lets go of
// them in the transaction that stores the count: should that write fail,
// the next reconcile counts them as it counts any tracked pod being
// deleted, so each is counted once.
func (r *jobReconciler) failActive(ctx context.Context, s *jobState, victims []*objects.Pod) error {
	deleted, err := r.deletePods(ctx, s, victims, keepTracking)
	for _, p := range deleted {
		if p.HasFinalizer(objects.JobTrackingFinalizer) {
			s.counted = append(s.counted, p)
			s.status.Failed++
		}
	}
	return err
}

// deletedPodTracking says what becomes of the tracking finalizer of a pod
// the controller deletes.
type deletedPodTracking int

const (
	untrackDeleted deletedPodTracking = iota // removed with the pod: no failure
	keepTracking                             // kept for writeStatus to count the pod
)

// deletePods deletes victims in one transaction and returns those it
// deleted (not those already gone or replaced).
func (r *jobReconciler) deletePods(ctx context.Context, s *jobState, victims []*objects.Pod, tracking deletedPodTracking) ([]*objects.Pod, error) {
	if len(victims) == 0 {
		return nil, nil
	}
	var deleted []*objects.Pod
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		deleted = deleted[:0]
		for _, p := range victims {
			if tracking == untrackDeleted {
				if err := untrackPod(tx, p); err != nil {
					return err
				}
			}
			err := store.Remove(tx, kindPod, p.Key(), store.DeleteOptions{Preconditions: &store.Preconditions{UID: p.UID}})
			switch {
			case err == nil:
				deleted = append(deleted, p)
			case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict):
				return err
			}
		}
		return nil
	})
	if err != nil {
		r.rec.Event(ctx, s.job, EventWarning, "FailedDelete", "Error deleting: "+err.Error())
		return nil, err
	}
	gone := map[string]bool{}
	msgs := make([]string, len(victims))
	for i, p := range victims {
		gone[p.UID] = true
		msgs[i] = "Deleted pod: " + p.Name
	}
	recordEach(ctx, r.rec, s.job, EventNormal, "SuccessfulDelete", msgs)
	s.active = slices.DeleteFunc(s.active, func(p *objects.Pod) bool { return gone[p.UID] })
	return deleted, nil
}

// manage creates or deletes pods towards the parallelism the Job wants, and
// returns how long creations must wait for the failure backoff.
func (r *jobReconciler) manage(ctx context.Context, s *jobState) (time.Duration, error) {
	job := s.job
	parallelism := int(*job.Spec.Parallelism)
	var want int
	switch c := job.Spec.Completions; {
	case c == nil && s.status.Succeeded > 0:
		want = len(s.active) // a work queue with a success: start no more, let the others finish
	case c == nil:
		want = parallelism
	default:
		want = max(0, min(parallelism, int(*c)-int(s.status.Succeeded)))
	}
	if isIndexedJob(job) {
		return r.manageIndexed(ctx, s, want)
	}
	if len(s.active) > want {
		victims := podsToDelete(s.active, s.active, len(s.active)-want, s.now)
		return 0, r.deleteActive(ctx, s, victims)
	}
	n := min(want-len(s.active), burstReplicas)
	if n <= 0 {
		return 0, nil
	}
	if wait := jobBackoffRemaining(s); wait > 0 {
		return wait, nil
	}
	pods := make([]*objects.Pod, n)
	for i := range pods {
		pods[i] = newJobPod(job, -1)
	}
	return 0, r.createPods(ctx, s, pods)
}

// manageIndexed keeps one pod per index that has not succeeded, lowest
// indexes first, and deletes duplicates and pods of finished or invalid
// indexes.
func (r *jobReconciler) manageIndexed(ctx context.Context, s *jobState, want int) (time.Duration, error) {
	completions := int(*s.job.Spec.Completions)
	byIndex := map[int][]*objects.Pod{}
	var victims []*objects.Pod
	for _, p := range s.active {
		i, ok := podCompletionIndex(p, completions)
		if !ok || s.indexes.has(i) {
			victims = append(victims, p)
			continue
		}
		byIndex[i] = append(byIndex[i], p)
	}
	keep := 0
	for _, ps := range byIndex {
		if len(ps) > 1 {
			// Keep the most valuable; delete the rest.
			victims = append(victims, podsToDelete(ps, ps, len(ps)-1, s.now)...)
		}
		keep++
	}
	if keep > want {
		var extra []*objects.Pod
		for i := completions - 1; i >= 0 && keep > want; i-- {
			if ps := byIndex[i]; len(ps) > 0 {
				extra = append(extra, ps...)
				keep--
			}
		}
		victims = append(victims, extra...)
	}
	if err := r.deleteActive(ctx, s, victims); err != nil {
		return 0, err
	}
	n := min(want-keep, burstReplicas)
	if n <= 0 {
		return 0, nil
	}
	if wait := jobBackoffRemaining(s); wait > 0 {
		return wait, nil
	}
	var pods []*objects.Pod
	for i := 0; i < completions && len(pods) < n; i++ {
		if len(byIndex[i]) == 0 && !s.indexes.has(i) {
			pods = append(pods, newJobPod(s.job, i))
		}
	}
	return 0, r.createPods(ctx, s, pods)
}

// createPods creates pods in one transaction. A pod admission refuses
// after the first (a ResourceQuota spent by those before it) ends the
// batch, keeping those before it, as Kubernetes' slow-start batches do.
func (r *jobReconciler) createPods(ctx context.Context, s *jobState, pods []*objects.Pod) error {
	var (
		created int
		refused error
	)
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		created, refused = 0, nil
		for _, p := range pods {
			if err := r.c.AdmitCreate(tx, p); err != nil {
				if created > 0 {
					refused = err
					return nil
				}
				return err
			}
			if err := tx.Create(p); err != nil {
				return err
			}
			created++
		}
		return nil
	})
	if errors.Is(err, ErrOwnerDeleting) {
		return nil
	}
	if err == nil {
		msgs := make([]string, created)
		for i, p := range pods[:created] {
			s.active = append(s.active, p)
			msgs[i] = "Created pod: " + p.Name
		}
		recordEach(ctx, r.rec, s.job, EventNormal, "SuccessfulCreate", msgs)
		err = refused
	}
	if err != nil {
		r.rec.Event(ctx, s.job, EventWarning, "FailedCreate", "Error creating: "+err.Error())
		return err
	}
	return nil
}

// newJobPod makes a pod of the Job's template, tracked by the finalizer;
// index >= 0 makes a pod of an Indexed Job.
func newJobPod(job *objects.Job, index int) *objects.Pod {
	p := podFromTemplate(&job.Spec.Template, job)
	p.Finalizers = append(p.Finalizers, objects.JobTrackingFinalizer)
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	if _, ok := p.Labels[objects.JobNameLabel]; !ok {
		// Manual selectors too: releaseGonePods finds a gone Job's pods by it.
		p.Labels[objects.JobNameLabel] = job.Name
	}
	if index < 0 {
		return p
	}
	idx := strconv.Itoa(index)
	p.GenerateName = podNamePrefix(job.Name + "-" + idx)
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Labels[objects.JobCompletionIndexAnnotation] = idx
	p.Annotations[objects.JobCompletionIndexAnnotation] = idx
	if p.Spec.Hostname == "" {
		p.Spec.Hostname = job.Name + "-" + idx
	}
	for _, cs := range [][]objects.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			c := &cs[i]
			c.Env = slices.DeleteFunc(c.Env, func(e objects.EnvVar) bool { return e.Name == jobCompletionIndexEnv })
			c.Env = append(c.Env, objects.EnvVar{Name: jobCompletionIndexEnv, Value: idx})
		}
	}
	return p
}

// podCompletionIndex reads an Indexed Job pod's index.
func podCompletionIndex(p *objects.Pod, completions int) (int, bool) {
	v, ok := p.Annotations[objects.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[objects.JobCompletionIndexAnnotation]
	}
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i >= completions {
		return 0, false
	}
	return i, true
}

// jobBackoffRemaining is how long new pods must still wait after the
// failures since the last success: 10s after the first, doubling, at most
// 6 minutes, counted from the last failure. It reads the pods' finish
// times, so it survives restarts of the controller.
func jobBackoffRemaining(s *jobState) time.Duration {
	var lastSuccess, lastFailure time.Time
	for _, p := range s.finished {
		if t := podFinishTime(p); p.Status.Phase == objects.PodSucceeded && t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	failures := 0
	for _, p := range s.finished {
		if p.Status.Phase == objects.PodSucceeded {
			continue
		}
		t := podFinishTime(p)
		if t.Before(lastSuccess) {
			continue
		}
		failures++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if failures == 0 {
		return 0
	}
	delay := JobBackoffBase
	for i := 1; i < failures && delay < JobBackoffMax; i++ {
		delay *= 2
	}
	delay = min(delay, JobBackoffMax)
	return lastFailure.Add(delay).Sub(s.now)
}

// podFinishTime is when a pod finished: its containers' latest finish,
// else when it was deleted, else its latest condition change.
func podFinishTime(p *objects.Pod) time.Time {
	var t time.Time
	for _, cs := range [][]objects.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, c := range cs {
			if term := c.State.Terminated; term != nil && term.FinishedAt.After(t) {
				t = term.FinishedAt.Time
			}
		}
	}
	if !t.IsZero() {
		return t
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Time
	}
	for _, c := range p.Status.Conditions {
		if c.LastTransitionTime.After(t) {
			t = c.LastTransitionTime.Time
		}
	}
	if t.IsZero() {
		t = p.CreationTimestamp.Time
	}
	return t
}

// writeStatus stores the Job's status and, in the same transaction, lets go
// of the pods it counts, so that each finished pod is counted exactly once.
func (r *jobReconciler) writeStatus(ctx context.Context, s *jobState) error {
	if len(s.counted) == 0 && reflect.DeepEqual(s.status, s.job.Status) {
		return nil
	}
	j := s.job.DeepCopy()
	j.Status = s.status
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		for _, p := range s.counted {
			if err := untrackPod(tx, p); err != nil {
				return err
			}
		}
		return tx.UpdateStatus(j)
	})
	if err != nil {
		return err
	}
	s.job.Status, s.job.ResourceVersion = j.Status, j.ResourceVersion
	return nil
}

// expire deletes a finished Job once its ttlSecondsAfterFinished has
// passed, as Kubernetes' TTL-after-finished controller does.
func (r *jobReconciler) expire(ctx context.Context, job *objects.Job, now time.Time) (Result, error) {
	ttl := job.Spec.TTLSecondsAfterFinished
	if ttl == nil {
		return Result{}, nil
	}
	at := jobFinishTime(job).Add(time.Duration(*ttl) * time.Second)
	if now.Before(at) {
		return Result{RequeueAfter: at.Sub(now)}, nil
	}
	_, err := r.c.Delete(ctx, kindJob, job.Key(), store.DeleteOptions{
		PropagationPolicy: store.DeletePropagationForeground,
		Preconditions:     &store.Preconditions{UID: job.UID},
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
		return Result{}, nil
	}
	return Result{}, err
}

func jobFinishTime(job *objects.Job) time.Time {
	if t := job.Status.CompletionTime; t != nil {
		return t.Time
	}
	for _, t := range []objects.JobConditionType{objects.JobComplete, objects.JobFailed} {
		if c := objects.GetJobCondition(&job.Status, t); c != nil && c.Status == objects.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// releaseGonePods removes the tracking finalizer from the pods of a Job
// that no longer exists, so that they can go. The pods of a Job with a
// generated selector carry its name in a label.
func (r *jobReconciler) releaseGonePods(ctx context.Context, req Request) error {
	objs, err := r.c.list(ctx, kindPod, store.ListOptions{
		Namespace: req.Namespace, Labels: objects.SelectorFromSet(map[string]string{objects.JobNameLabel: req.Name}),
	}, func(o objects.Object) bool {
		ref := o.GetObjectMeta().ControllerRef()
		return ref != nil && ref.Kind == kindJob && ref.Name == req.Name && o.GetObjectMeta().HasFinalizer(objects.JobTrackingFinalizer)
	})
	if err != nil || len(objs) == 0 {
		return err
	}
	pods := make([]*objects.Pod, len(objs))
	for i, o := range objs {
		pods[i] = o.(*objects.Pod)
	}
	return removeTrackingFinalizers(ctx, r.c, pods)
}

func removeTrackingFinalizers(ctx context.Context, c *Client, pods []*objects.Pod) error {
	if !slices.ContainsFunc(pods, func(p *objects.Pod) bool { return p.HasFinalizer(objects.JobTrackingFinalizer) }) {
		return nil
	}
	return c.Txn(ctx, func(tx store.Tx) error {
		for _, p := range pods {
			if err := untrackPod(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}

// untrackPod removes the Job tracking finalizer from the pod, if it is
// still the pod that was read.
func untrackPod(tx store.Tx, p *objects.Pod) error {
	if !p.HasFinalizer(objects.JobTrackingFinalizer) {
		return nil
	}
	o, err := tx.Get(kindPod, p.Key())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	cur := o.(*objects.Pod)
	if cur.UID != p.UID || !cur.HasFinalizer(objects.JobTrackingFinalizer) {
		return nil
	}
	cur.Finalizers = slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return f == objects.JobTrackingFinalizer })
	return tx.Update(cur)
}

func jobFinished(job *objects.Job) bool {
	for _, t := range []objects.JobConditionType{objects.JobComplete, objects.JobFailed} {
		if c := objects.GetJobCondition(&job.Status, t); c != nil && c.Status == objects.ConditionTrue {
			return true
		}
	}
	return false
}

func isIndexedJob(job *objects.Job) bool {
	m := job.Spec.CompletionMode
	return m != nil && *m == objects.IndexedCompletion && job.Spec.Completions != nil
}

// setJobCondition sets a condition, keeping its transition time when its
// status does not change.
func setJobCondition(s *objects.JobStatus, t objects.JobConditionType, status objects.ConditionStatus, reason, message string, now time.Time) {
	ts := objects.NewTime(now)
	if c := objects.GetJobCondition(s, t); c != nil {
		if c.Status != status {
			c.LastTransitionTime = ts
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, message, ts
		return
	}
	s.Conditions = append(s.Conditions, objects.JobCondition{
		Type: t, Status: status, Reason: reason, Message: message, LastProbeTime: ts, LastTransitionTime: ts,
	})
}

// intervals is a set of completion indexes, written as Kubernetes writes
// status.completedIndexes: "1,3-5,7".
type intervals struct {
	done []bool
	n    int
}

func parseIntervals(s string, completions int) intervals {
	iv := intervals{done: make([]bool, completions)}
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b; i++ {
			iv.add(i)
		}
	}
	return iv
}

func (iv *intervals) add(i int) {
	if i >= 0 && i < len(iv.done) && !iv.done[i] {
		iv.done[i] = true
		iv.n++
	}
}

func (iv *intervals) has(i int) bool { return i >= 0 && i < len(iv.done) && iv.done[i] }

func (iv *intervals) total() int { return iv.n }

func (iv *intervals) String() string {
	var parts []string
	for i := 0; i < len(iv.done); i++ {
		if !iv.done[i] {
			continue
		}
		j := i
		for j+1 < len(iv.done) && iv.done[j+1] {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, strconv.Itoa(i)+"-"+strconv.Itoa(j))
		}
		i = j
	}
	return strings.Join(parts, ",")
}
