package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"
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
	// JobReasonPodFailurePolicy: a failed pod matched a FailJob rule.
	JobReasonPodFailurePolicy = "PodFailurePolicy"
	// JobReasonMaxFailedIndexesExceeded: more indexes failed than
	// spec.maxFailedIndexes.
	JobReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	// JobReasonFailedIndexes: every index finished and some failed.
	JobReasonFailedIndexes = "FailedIndexes"
	// JobReasonSuccessPolicy: the succeeded indexes met a rule of
	// spec.successPolicy.
	JobReasonSuccessPolicy = "SuccessPolicy"
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
// activeDeadlineSeconds fails it. A suspended Job has no pods. A finished
// Job with ttlSecondsAfterFinished is deleted (foreground) that long after
// it finished.
//
// The policies of batch/v1 behave as in Kubernetes:
//
//   - podFailurePolicy: each failed pod is matched against the rules in
//     order, the first match deciding. FailJob fails the Job at once
//     (reason PodFailurePolicy, with Kubernetes' message, "Container main
//     for pod default/x failed with exit code 42 matching FailJob rule at
//     index 1"); Ignore does not count the failure (the pod is replaced);
//     FailIndex fails the pod's index; Count, or no match, counts it.
//   - podReplacementPolicy Failed (implied by a pod failure policy): a pod
//     being deleted is neither active nor failed until its node agent
//     reports it finished (or nothing will: deleted without a grace
//     period, as Kubernetes' pod garbage collector then marks it Failed);
//     only then is it counted and replaced. With TerminatingOrFailed it
//     counts as failed, and is replaced, at once. Either way
//     status.terminating counts the pods being deleted.
//   - backoffLimitPerIndex (Indexed): each index is retried that many
//     times, its retries backing off from 10s on their own; the failure
//     count travels in the batch.kubernetes.io/job-index-failure-count
//     annotation, the last failed pod of an index keeping its finalizer
//     until its replacement exists. An index over its limit is failed and
//     listed in status.failedIndexes. The Job fails (reason FailedIndexes)
//     once every index has succeeded or failed and some failed, or at once
//     (reason MaxFailedIndexesExceeded) when more than maxFailedIndexes
//     failed.
//   - successPolicy (Indexed): the first rule the succeeded indexes meet
//     completes the Job (reason SuccessPolicy, "Matched rules at index 0"),
//     and its other pods are terminated, not counted as failures.
//   - managedBy other than kubernetes.io/job-controller: the Job is left
//     alone (only ttlSecondsAfterFinished still applies, as Kubernetes'
//     TTL-after-finished controller is a separate one).
//
// An Indexed Job is elastic, as in Kubernetes 1.31: when its completions
// change (together with parallelism, see objects.Job.ValidateUpdate), the
// pods of the indexes at or above the new completions are deleted without
// counting as failures, the new indexes are started, and its status
// (completedIndexes, failedIndexes, succeeded, and the failures counted
// from then on) covers only the indexes below completions: an index
// dropped and added back runs again. Index sets are kept as runs, so an
// Indexed Job of up to MaxInt32 completions costs per reconcile what its
// pods and runs of finished indexes cost, not its completions.
//
// A Job that ends gets its interim condition first, FailureTarget or
// SuccessCriteriaMet, with the reason and message of the outcome, and its
// running pods are deleted: those of a failed Job count as failed, those
// of a successful one do not. The terminal condition, Failed or Complete
// (with completionTime), follows once none of its pods is still
// terminating, at once when none was bound to a node, as Kubernetes 1.31
// and later do.
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

	mu sync.Mutex
	// terminatingFailures remembers, by Job, the failures counted of pods
	// still terminating, with their times: once counted (untracked) such
	// a pod looks like one the controller deleted itself, which is no
	// failure, yet its failure must delay the next pods until it has
	// finished and shows it. Kubernetes keeps its backoff in memory too.
	terminatingFailures map[Request]terminatingFailures
}

// terminatingFailures are the failure times of one Job's pods, by pod uid.
type terminatingFailures struct {
	jobUID string
	at     map[string]time.Time
}

func (r *jobReconciler) orphanPodOwners(obj objects.Object) []Request {
	return matchingOwners(r.c, obj, kindJob, func(o objects.Object) *objects.LabelSelector {
		return o.(*objects.Job).Spec.Selector
	})
}

func (r *jobReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	job, err := Get[*objects.Job](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		r.forgetFailures(req)
		return Result{}, r.releaseGonePods(ctx, req)
	}
	if err != nil {
		return Result{}, err
	}
	if !managedByJobController(job) {
		if jobFinished(job) {
			return r.expire(ctx, job, r.clock.Now())
		}
		return Result{}, nil // another controller runs it
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
		r.forgetFailures(req)
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
	job         *objects.Job
	status      objects.JobStatus
	active      []*objects.Pod // neither finished nor being deleted
	terminating []*objects.Pod // being deleted, not finished, their node agents stopping them
	counted     []*objects.Pod // finished, tracked, counted by this reconcile
	finished    []*objects.Pod // finished, or deleted by others, counted now or before
	indexes     intervals      // succeeded indexes (Indexed)
	perIndex    *perIndex      // with backoffLimitPerIndex
	failJob     string         // the message of a FailJob rule a failed pod matched
	// terminatingFailed holds when the pods counted as failed before they
	// finished failed, while they terminate untracked.
	terminatingFailed []time.Time
	now               time.Time
}

// jobVerdict is how a Job ends: its terminal condition, reason and
// message; final is empty while it runs.
type jobVerdict struct {
	final           objects.JobConditionType
	reason, message string
}

func (r *jobReconciler) sync(ctx context.Context, job *objects.Job, pods []*objects.Pod, now time.Time) (Result, error) {
	s := &jobState{job: job, status: *job.Status.DeepCopy(), now: now}
	s.classify(pods)
	s.terminatingFailed = r.rememberFailures(s, pods)

	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	v := interimVerdict(&s.status)
	var deadline time.Duration
	if v.final == "" && !suspended {
		if c := objects.GetJobCondition(&s.status, objects.JobSuspended); c != nil && c.Status == objects.ConditionTrue {
			setJobCondition(&s.status, objects.JobSuspended, objects.ConditionFalse, JobReasonResumed, "Job resumed", now)
			s.status.StartTime = nil // the deadline counts from the resumption
			r.rec.Event(ctx, job, EventNormal, "Resumed", "Job resumed")
		}
		if s.status.StartTime == nil {
			s.status.StartTime = objects.NewTimePtr(now)
		}
		v, deadline = s.verdict()
	}
	var res Result
	var manageErr error
	switch {
	case v.final != "":
		manageErr = r.finish(ctx, s, v)
	case suspended:
		manageErr = r.suspend(ctx, s)
	default:
		var wait time.Duration
		wait, manageErr = r.manage(ctx, s)
		res.RequeueAfter = wait
		if deadline > 0 && (res.RequeueAfter == 0 || deadline < res.RequeueAfter) {
			res.RequeueAfter = deadline
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
	terminating := int32(len(s.terminating))
	s.status.Terminating = &terminating
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

// classify sorts the Job's pods into active, terminating and finished
// ones, and counts the finished ones not yet counted: successes, and
// failures as the pod failure policy says.
func (s *jobState) classify(pods []*objects.Pod) {
	job := s.job
	indexed := isIndexedJob(job)
	completions := 0
	if indexed {
		completions = int(*job.Spec.Completions)
		s.indexes = parseIntervals(s.status.CompletedIndexes, completions)
	}
	var (
		failed    []*objects.Pod // tracked: not yet counted
		succeeded []int          // indexes of the succeeded pods not yet counted
	)
	for _, p := range pods {
		tracked := p.HasFinalizer(objects.JobTrackingFinalizer)
		if podTerminating(p) {
			s.terminating = append(s.terminating, p)
		}
		switch {
		case p.Status.Phase == objects.PodSucceeded:
			s.finished = append(s.finished, p)
			if !tracked {
				break
			}
			s.counted = append(s.counted, p)
			if !indexed {
				s.status.Succeeded++
			} else if i, ok := podCompletionIndex(p, completions); ok {
				succeeded = append(succeeded, i)
			}
		case isPodFailed(p, job):
			if !s.hasIndexOf(p) {
				// Of an index the Job no longer has (its completions
				// scaled down), or of none: let go, no failure, as in
				// Kubernetes.
				if tracked {
					s.counted = append(s.counted, p)
				}
				break
			}
			// Pods the controller deleted itself (untracked first) are
			// no failures and do not delay the next ones.
			if tracked || p.IsTerminal() {
				s.finished = append(s.finished, p)
			}
			if tracked {
				failed = append(failed, p)
			}
		case !p.IsDeleting():
			s.active = append(s.active, p)
		}
	}
	if indexed {
		s.indexes = s.indexes.with(succeeded...)
		s.status.Succeeded = int32(s.indexes.total())
		s.status.CompletedIndexes = s.indexes.String()
		if job.Spec.BackoffLimitPerIndex != nil {
			s.perIndex = newPerIndex(s, failed)
			failedIndexes := s.perIndex.failed.String()
			s.status.FailedIndexes = &failedIndexes
		}
	}
	for _, p := range failed {
		action, msg := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p)
		if action == objects.PodFailurePolicyActionFailJob && s.failJob == "" {
			s.failJob = msg
		}
		if !s.perIndex.isDelayed(p, completions) {
			s.countFailed(p)
		}
	}
}

// hasIndexOf reports whether the pod counts for the Job: any pod of a
// NonIndexed Job, a pod of an Indexed Job only while its index is below
// completions.
func (s *jobState) hasIndexOf(p *objects.Pod) bool {
	if !isIndexedJob(s.job) {
		return true
	}
	_, ok := podCompletionIndex(p, int(*s.job.Spec.Completions))
	return ok
}

// countFailed counts a tracked failed pod, unless an Ignore rule matches
// it; either way writeStatus lets go of it.
func (s *jobState) countFailed(p *objects.Pod) {
	s.counted = append(s.counted, p)
	if s.failureAction(p) != objects.PodFailurePolicyActionIgnore {
		s.status.Failed++
	}
}

// interimVerdict is the outcome a Job already has its interim condition
// for, while its pods terminate.
func interimVerdict(st *objects.JobStatus) jobVerdict {
	if c := objects.GetJobCondition(st, objects.JobSuccessCriteriaMet); c != nil && c.Status == objects.ConditionTrue {
		return jobVerdict{objects.JobComplete, c.Reason, c.Message}
	}
	if c := objects.GetJobCondition(st, objects.JobFailureTarget); c != nil && c.Status == objects.ConditionTrue {
		return jobVerdict{objects.JobFailed, c.Reason, c.Message}
	}
	return jobVerdict{}
}

// verdict returns how the Job ends now, if it does, in Kubernetes' order of
// precedence, or else the time left before its active deadline.
func (s *jobState) verdict() (jobVerdict, time.Duration) {
	job := s.job
	fail := func(reason, message string) (jobVerdict, time.Duration) {
		return jobVerdict{objects.JobFailed, reason, message}, 0
	}
	if s.failJob != "" {
		return fail(JobReasonPodFailurePolicy, s.failJob)
	}
	limit := int32(6)
	if job.Spec.BackoffLimit != nil {
		limit = *job.Spec.BackoffLimit
	}
	if s.status.Failed+s.delayedFailures() > limit || pastBackoffLimitOnFailure(job, s.active) {
		return fail(JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
	}
	var untilDeadline time.Duration
	if ads := job.Spec.ActiveDeadlineSeconds; ads != nil && s.status.StartTime != nil {
		deadline := s.status.StartTime.Add(time.Duration(*ads) * time.Second)
		if !s.now.Before(deadline) {
			return fail(JobReasonDeadlineExceeded, "Job was active longer than specified deadline")
		}
		untilDeadline = deadline.Sub(s.now)
	}
	if pi := s.perIndex; pi != nil {
		failed := pi.failed.total()
		if m := job.Spec.MaxFailedIndexes; m != nil && failed > int(*m) {
			return fail(JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes")
		}
		if failed > 0 && failed+s.indexes.total() >= int(*job.Spec.Completions) {
			return fail(JobReasonFailedIndexes, "Job has failed indexes")
		}
	}
	if msg, ok := matchSuccessPolicy(job, &s.indexes); ok {
		return jobVerdict{objects.JobComplete, JobReasonSuccessPolicy, msg}, 0
	}
	if jobSucceeded(s) {
		return jobVerdict{objects.JobComplete, JobReasonCompletionsReached, "Reached expected number of succeeded pods"}, 0
	}
	return jobVerdict{}, untilDeadline
}

// delayedFailures counts the failures of the pods kept for their index's
// replacement, which count towards backoffLimit before status.failed
// counts them.
func (s *jobState) delayedFailures() int32 {
	var n int32
	if s.perIndex != nil {
		for _, p := range s.perIndex.delayed {
			if s.failureAction(p) != objects.PodFailurePolicyActionIgnore {
				n++
			}
		}
	}
	return n
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

// finish ends the Job as v says. It sets the interim condition
// (FailureTarget or SuccessCriteriaMet), lets go of the pods still
// tracked, deletes the running ones and, once none of its pods is
// terminating, sets the terminal condition (Failed or Complete). When the
// Job fails every unfinished pod counts as failed, as in Kubernetes
// ("active pods are terminated when the job has completed, thus they count
// as failures"); when it succeeds they are no failures.
func (r *jobReconciler) finish(ctx context.Context, s *jobState, v jobVerdict) error {
	failed := v.final == objects.JobFailed
	interim := objects.JobSuccessCriteriaMet
	if failed {
		interim = objects.JobFailureTarget
	}
	if c := objects.GetJobCondition(&s.status, interim); c == nil || c.Status != objects.ConditionTrue {
		setJobCondition(&s.status, interim, objects.ConditionTrue, v.reason, v.message, s.now)
	}
	for _, p := range s.terminating {
		// Being deleted, not yet counted (only failed pods are replaced).
		if p.HasFinalizer(objects.JobTrackingFinalizer) && !isPodFailed(p, s.job) {
			s.counted = append(s.counted, p)
			if failed && s.hasIndexOf(p) {
				s.status.Failed++
			}
		}
	}
	if pi := s.perIndex; pi != nil {
		for _, p := range pi.delayed {
			s.countFailed(p)
		}
		pi.delayed = nil
	}
	del := r.deleteActive
	if failed {
		del = r.failActive
	}
	if err := del(ctx, s, s.active); err != nil {
		return err
	}
	if len(s.terminating) > 0 {
		return nil // the terminal condition waits for them
	}
	setJobCondition(&s.status, v.final, objects.ConditionTrue, v.reason, v.message, s.now)
	if !failed {
		s.status.CompletionTime = objects.NewTimePtr(s.now)
		r.rec.Event(ctx, s.job, EventNormal, "Completed", "Job completed")
	} else {
		r.rec.Event(ctx, s.job, EventWarning, v.reason, v.message)
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
			if s.hasIndexOf(p) {
				s.status.Failed++
			}
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
// deleted (not those already gone or replaced). Those the store keeps
// for their grace period join s.terminating.
func (r *jobReconciler) deletePods(ctx context.Context, s *jobState, victims []*objects.Pod, tracking deletedPodTracking) ([]*objects.Pod, error) {
	if len(victims) == 0 {
		return nil, nil
	}
	var deleted, kept []*objects.Pod
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		deleted, kept = deleted[:0], kept[:0]
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
			if err != nil {
				continue
			}
			if o, err := store.Peek(tx, kindPod, p.Key()); err == nil {
				if q := o.(*objects.Pod); q.UID == p.UID && podTerminating(q) {
					kept = append(kept, q)
				}
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
	s.terminating = append(s.terminating, kept...)
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
	n := min(want-len(s.active)-s.replacing(), burstReplicas)
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

// replacing is how many pods being deleted still stand for the pods that
// will replace them: all of them when only failed pods are replaced.
func (s *jobState) replacing() int {
	if onlyReplaceFailedPods(s.job) {
		return len(s.terminating)
	}
	return 0
}

// manageIndexed keeps one pod per index that has neither succeeded nor
// failed, lowest indexes first, and deletes duplicates and pods of
// finished or invalid indexes, among them those at or above completions
// once an elastic Indexed Job has scaled down (deleted untracked: no
// failures). When only failed pods are replaced, an index whose pod is
// being deleted waits for it. With backoffLimitPerIndex each index backs
// off on its own. Its work grows with the pods and the runs of finished
// indexes, never with completions.
func (r *jobReconciler) manageIndexed(ctx context.Context, s *jobState, want int) (time.Duration, error) {
	completions := int(*s.job.Spec.Completions)
	pi := s.perIndex
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
	running := slices.Sorted(maps.Keys(byIndex))
	for _, i := range running {
		if ps := byIndex[i]; len(ps) > 1 {
			// Keep the most valuable; delete the rest.
			dup := podsToDelete(ps, ps, len(ps)-1, s.now)
			victims = append(victims, dup...)
			byIndex[i] = slices.DeleteFunc(ps, func(p *objects.Pod) bool { return slices.Contains(dup, p) })
		}
	}
	keep := len(running)
	for ; keep > want; keep-- {
		victims = append(victims, byIndex[running[keep-1]]...) // highest indexes first
	}
	if err := r.deleteActive(ctx, s, victims); err != nil {
		return 0, err
	}
	n := min(want-keep-s.replacing(), burstReplicas)
	if n <= 0 {
		return 0, nil
	}
	if pi == nil {
		if wait := jobBackoffRemaining(s); wait > 0 {
			return wait, nil
		}
	}
	busy := running[:keep]
	if onlyReplaceFailedPods(s.job) {
		for _, p := range s.terminating { // waiting for a pod being deleted
			if i, ok := podCompletionIndex(p, completions); ok {
				busy = append(busy, i)
			}
		}
	}
	taken := s.indexes.with(busy...)
	if pi != nil {
		taken = taken.union(pi.failed)
	}
	var (
		pods []*objects.Pod
		wait time.Duration
	)
	for _, i := range taken.firstMissing(completions, n) {
		if pi == nil {
			pods = append(pods, newJobPod(s.job, i))
			continue
		}
		// The first pending indexes are chosen, as in Kubernetes, and
		// those still backing off wait.
		if w := pi.backoffRemaining(i, s.now); w > 0 {
			if wait == 0 || w < wait {
				wait = w
			}
			continue
		}
		p := newJobPod(s.job, i)
		pi.annotate(s, p, i)
		pods = append(pods, p)
	}
	if len(pods) == 0 {
		return wait, nil
	}
	return wait, r.createPods(ctx, s, pods)
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
	failed := slices.Clone(s.terminatingFailed)
	for _, p := range s.finished {
		t := podFinishTime(p)
		if p.Status.Phase != objects.PodSucceeded {
			failed = append(failed, t)
		} else if t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	failures := 0
	for _, t := range failed {
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

// rememberFailures notes the failures this reconcile counts of pods not
// yet finished, forgets those of pods that have finished or gone, and
// returns the times of those still terminating untracked.
func (r *jobReconciler) rememberFailures(s *jobState, pods []*objects.Pod) []time.Time {
	key := Request{Namespace: s.job.Namespace, Name: s.job.Name}
	var unfinished []*objects.Pod
	for _, p := range s.counted {
		if !p.IsTerminal() {
			unfinished = append(unfinished, p)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tf, ok := r.terminatingFailures[key]
	if !ok || tf.jobUID != s.job.UID {
		if len(unfinished) == 0 {
			delete(r.terminatingFailures, key)
			return nil
		}
		tf = terminatingFailures{jobUID: s.job.UID, at: map[string]time.Time{}}
	}
	for _, p := range unfinished {
		tf.at[p.UID] = podFinishTime(p)
	}
	var times []time.Time
	present := make(map[string]bool, len(tf.at))
	for _, p := range pods {
		if t, ok := tf.at[p.UID]; ok && !p.IsTerminal() {
			present[p.UID] = true
			if !p.HasFinalizer(objects.JobTrackingFinalizer) {
				times = append(times, t)
			}
		}
	}
	maps.DeleteFunc(tf.at, func(uid string, _ time.Time) bool { return !present[uid] })
	switch {
	case len(tf.at) == 0:
		delete(r.terminatingFailures, key)
	case r.terminatingFailures == nil:
		r.terminatingFailures = map[Request]terminatingFailures{key: tf}
	default:
		r.terminatingFailures[key] = tf
	}
	return times
}

func (r *jobReconciler) forgetFailures(req Request) {
	r.mu.Lock()
	delete(r.terminatingFailures, req)
	r.mu.Unlock()
}

// podFinishTime is when a pod finished: its containers' latest finish,
// else when it was deleted (its deletionTimestamp less its grace period,
// as Kubernetes estimates it), else its latest condition change.
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
		t = p.DeletionTimestamp.Time
		if g := p.DeletionGracePeriodSeconds; g != nil {
			t = t.Add(-time.Duration(*g) * time.Second)
		}
		return t
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
