package objects

import (
	"fmt"
	"maps"
)

// Job runs pods until a number of them succeed (batch/v1).
type Job struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   JobSpec   `json:"spec,omitempty"`
	Status JobStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (j *Job) DeepCopyObject() Object { return j.DeepCopy() }

// Labels and annotations of Jobs and their pods, as Kubernetes names them.
const (
	// JobNameLabel holds the Job's name on its pods.
	JobNameLabel = "batch.kubernetes.io/job-name"
	// ControllerUIDLabel holds the Job's uid on its pods; the generated
	// selector matches it.
	ControllerUIDLabel = "batch.kubernetes.io/controller-uid"
	// LegacyJobNameLabel and LegacyControllerUIDLabel are the unprefixed
	// forms Kubernetes still sets for compatibility.
	LegacyJobNameLabel       = "job-name"
	LegacyControllerUIDLabel = "controller-uid"
	// JobCompletionIndexAnnotation holds an Indexed Job pod's index; the
	// pod also gets the JOB_COMPLETION_INDEX environment variable and a
	// label of the same key.
	JobCompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index"
	// JobTrackingFinalizer keeps a Job's pods until the Job has counted them.
	JobTrackingFinalizer = "batch.kubernetes.io/job-tracking"
	// CronJobScheduledTimestampAnnotation holds, on a Job made by a CronJob,
	// the time it was scheduled for (RFC 3339).
	CronJobScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"
)

// JobSpec is the desired state of a Job.
//
// As in Kubernetes, a Job without manualSelector gets its selector and its
// template's controller-uid and job-name labels generated from its uid (see
// GenerateSelector) when it is created, and may not be created with a
// selector of its own (see ValidateCreate).
type JobSpec struct {
	// Parallelism and Completions both default to 1 when both are unset;
	// Parallelism alone defaults to 1.
	//
	// Completions is immutable, except in an Indexed Job (elastic Indexed
	// Jobs), where it may change together with parallelism so that the
	// two stay equal. As in Kubernetes, an Indexed Job's completions have
	// no limit of their own (up to MaxInt32); its parallelism is at most
	// 100000, and with backoffLimitPerIndex and more than 100000
	// completions, parallelism and maxFailedIndexes are at most 10000 and
	// maxFailedIndexes is required.
	Parallelism           *int32 `json:"parallelism,omitempty"`
	Completions           *int32 `json:"completions,omitempty"`
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// PodFailurePolicy matches each failed pod against its rules, in order;
	// the first rule that matches decides: FailJob fails the Job at once
	// (reason PodFailurePolicy) and terminates its running pods, Ignore
	// does not count the failure towards backoffLimit (the pod is
	// replaced), FailIndex fails the pod's index (with
	// backoffLimitPerIndex), Count counts it, as when no rule matches.
	// It requires the template's restartPolicy Never, and makes
	// podReplacementPolicy Failed: a pod being deleted counts as failed
	// only once it has finished. Immutable.
	PodFailurePolicy *PodFailurePolicy `json:"podFailurePolicy,omitempty"`
	// SuccessPolicy (Indexed Jobs) declares the Job succeeded once one of
	// its rules is met by the succeeded indexes: the Job gets
	// SuccessCriteriaMet (reason SuccessPolicy), its remaining pods are
	// terminated, and then it gets Complete. Immutable.
	SuccessPolicy *SuccessPolicy `json:"successPolicy,omitempty"`
	// BackoffLimit is the number of retries before the Job fails; default
	// 6, or unlimited (MaxInt32) when backoffLimitPerIndex is set.
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// BackoffLimitPerIndex (Indexed Jobs) is the number of retries of each
	// index: an index whose pods failed more often is failed and not
	// retried, while the others run on. The Job fails (reason
	// FailedIndexes) once every index has succeeded or failed and some
	// failed. Each pod carries its index's failure count in the
	// batch.kubernetes.io/job-index-failure-count annotation; retries of
	// an index wait 10s, doubling with each failure of that index.
	// Immutable.
	BackoffLimitPerIndex *int32 `json:"backoffLimitPerIndex,omitempty"`
	// MaxFailedIndexes, with backoffLimitPerIndex, fails the Job at once
	// (reason MaxFailedIndexesExceeded) when more indexes than this have
	// failed.
	MaxFailedIndexes *int32          `json:"maxFailedIndexes,omitempty"`
	Selector         *LabelSelector  `json:"selector,omitempty"`
	ManualSelector   *bool           `json:"manualSelector,omitempty"`
	Template         PodTemplateSpec `json:"template"`
	// TTLSecondsAfterFinished: the Job is deleted this long after it
	// completes or fails; never when unset.
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// CompletionMode defaults to NonIndexed.
	CompletionMode *CompletionMode `json:"completionMode,omitempty"`
	// Suspend defaults to false; a suspended Job runs no pods.
	Suspend *bool `json:"suspend,omitempty"`
	// PodReplacementPolicy says when a pod being deleted is replaced:
	// TerminatingOrFailed (the default without podFailurePolicy) replaces
	// it at once and counts it as failed; Failed (the default, and the
	// only value allowed, with podFailurePolicy) waits until it has
	// finished. Pods being deleted are counted in status.terminating.
	PodReplacementPolicy *PodReplacementPolicy `json:"podReplacementPolicy,omitempty"`
	// ManagedBy names the controller that runs the Job: unset or
	// "kubernetes.io/job-controller" is podkit's Job controller; any other
	// domain-prefixed path (at most 63 characters) makes it leave the Job
	// alone, for a controller of the host's own. Immutable.
	ManagedBy *string `json:"managedBy,omitempty"`
}

// CompletionMode says how pod completions count: NonIndexed or Indexed.
type CompletionMode string

// Completion modes.
const (
	// NonIndexedCompletion: the Job completes after .spec.completions
	// successful pods, all alike.
	NonIndexedCompletion CompletionMode = "NonIndexed"
	// IndexedCompletion: each pod gets an index 0..completions-1, and the
	// Job completes when every index has a successful pod.
	IndexedCompletion CompletionMode = "Indexed"
)

// JobStatus is the observed state of a Job.
type JobStatus struct {
	Conditions              []JobCondition           `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	StartTime               *Time                    `json:"startTime,omitempty"`
	CompletionTime          *Time                    `json:"completionTime,omitempty"`
	Active                  int32                    `json:"active,omitempty"`
	Succeeded               int32                    `json:"succeeded,omitempty"`
	Failed                  int32                    `json:"failed,omitempty"`
	CompletedIndexes        string                   `json:"completedIndexes,omitempty"`
	UncountedTerminatedPods *UncountedTerminatedPods `json:"uncountedTerminatedPods,omitempty"`
	Ready                   *int32                   `json:"ready,omitempty"`
	// FailedIndexes lists, with backoffLimitPerIndex, the indexes that
	// failed, as completedIndexes lists those that succeeded: "1,3-5".
	FailedIndexes *string `json:"failedIndexes,omitempty"`
	// Terminating counts the Job's pods being deleted that have not yet
	// finished.
	Terminating *int32 `json:"terminating,omitempty"`
}

// UncountedTerminatedPods holds the uids of finished pods the Job has not
// yet counted in its status.
type UncountedTerminatedPods struct {
	Succeeded []string `json:"succeeded,omitempty"`
	Failed    []string `json:"failed,omitempty"`
}

// JobConditionType names a Job condition.
type JobConditionType string

// Job conditions.
const (
	JobSuspended          JobConditionType = "Suspended"
	JobComplete           JobConditionType = "Complete"
	JobFailed             JobConditionType = "Failed"
	JobFailureTarget      JobConditionType = "FailureTarget"
	JobSuccessCriteriaMet JobConditionType = "SuccessCriteriaMet"
)

// JobCondition describes one aspect of a Job's state.
type JobCondition struct {
	Type               JobConditionType `json:"type"`
	Status             ConditionStatus  `json:"status"`
	LastProbeTime      Time             `json:"lastProbeTime,omitempty"`
	LastTransitionTime Time             `json:"lastTransitionTime,omitempty"`
	Reason             string           `json:"reason,omitempty"`
	Message            string           `json:"message,omitempty"`
}

// GetJobCondition returns the condition of type t, or nil.
func GetJobCondition(status *JobStatus, t JobConditionType) *JobCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// JobTemplateSpec is the Job a CronJob creates.
type JobTemplateSpec struct {
	ObjectMeta `json:"metadata,omitempty"`
	Spec       JobSpec `json:"spec,omitempty"`
}

// Default fills in defaults as Kubernetes' SetDefaults_Job does, and
// generates the selector once the Job has a uid.
func (j *Job) Default() {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptrTo[int32](1)
		s.Parallelism = ptrTo[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptrTo[int32](1)
	}
	defaultJobPolicies(s)
	if len(j.Labels) == 0 && s.Template.Labels != nil {
		j.Labels = make(map[string]string, len(s.Template.Labels))
		for k, v := range s.Template.Labels {
			j.Labels[k] = v
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptrTo(NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptrTo(false)
	}
	DefaultPodSpec(&s.Template.Spec)
	j.GenerateSelector()
}

// PrepareForCreate implements store.CreatePreparer: once the store has
// assigned the uid, the Job gets its generated selector; it has no status,
// whatever was sent, as Kubernetes' strategy clears it.
func (j *Job) PrepareForCreate() {
	j.Status = JobStatus{}
	j.GenerateSelector()
}

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateJobStatus: no count is negative, and the uids of uncounted
// pods are set and listed once.
func (j *Job) ValidateStatusUpdate(Object) ErrorList {
	st := &j.Status
	p := NewPath("status")
	var errs ErrorList
	for _, c := range []statusCount{{"active", st.Active}, {"succeeded", st.Succeeded}, {"failed", st.Failed}} {
		errs = append(errs, validateNonnegative(int64(c.n), p.Child(c.field))...)
	}
	if st.Ready != nil {
		errs = append(errs, validateNonnegative(int64(*st.Ready), p.Child("ready"))...)
	}
	if st.Terminating != nil {
		errs = append(errs, validateNonnegative(int64(*st.Terminating), p.Child("terminating"))...)
	}
	if u := st.UncountedTerminatedPods; u != nil {
		up := p.Child("uncountedTerminatedPods")
		seen := map[string]bool{}
		for _, l := range []struct {
			field string
			uids  []string
		}{{"succeeded", u.Succeeded}, {"failed", u.Failed}} {
			for i, uid := range l.uids {
				switch {
				case uid == "":
					errs = append(errs, Invalid(up.Child(l.field).Index(i), uid, "must not be empty"))
				case seen[uid]:
					errs = append(errs, Duplicate(up.Child(l.field).Index(i), uid))
				}
				seen[uid] = true
			}
		}
	}
	return errs
}

// GenerateSelector does what Kubernetes does when a Job is created without
// manualSelector: it sets spec.selector to match the Job's uid and labels
// the template with the uid and the Job's name. It does nothing when
// manualSelector is true, when the uid is not yet assigned, or when a
// selector is already set (a selector the user wrote without manualSelector
// is rejected by ValidateCreate before the Job is stored, as in Kubernetes).
func (j *Job) GenerateSelector() {
	s := &j.Spec
	if (s.ManualSelector != nil && *s.ManualSelector) || j.UID == "" || s.Selector != nil {
		return
	}
	// A new map: the template's may be shared (see store.CreatePreparer).
	labels := jobGeneratedLabels(j)
	maps.Copy(labels, s.Template.Labels)
	s.Template.Labels = labels
	s.Selector = &LabelSelector{MatchLabels: map[string]string{ControllerUIDLabel: j.UID}}
}

func jobGeneratedLabels(j *Job) map[string]string {
	return map[string]string{
		ControllerUIDLabel:       j.UID,
		LegacyControllerUIDLabel: j.UID,
		JobNameLabel:             j.Name,
		LegacyJobNameLabel:       j.Name,
	}
}

// maxParallelismForIndexedJob caps an Indexed Job's parallelism, which
// bounds the length of status.completedIndexes.
const maxParallelismForIndexedJob = 100000

// Validate checks the Job as Kubernetes' ValidateJob does. A Job without
// manualSelector omits its selector until its uid is known (ValidateCreate
// rejects one given at create); once the selector is set it must be the
// generated one.
func (j *Job) Validate() ErrorList {
	s := &j.Spec
	p := NewPath("spec")
	var errs ErrorList
	manual := s.ManualSelector != nil && *s.ManualSelector
	if !manual && s.Selector != nil && j.UID != "" {
		errs = append(errs, validateGeneratedJobSelector(j)...)
	}
	errs = append(errs, validateJobSpec(s, p)...)
	switch {
	case s.Selector == nil && manual:
		errs = append(errs, Required(p.Child("selector"), ""))
	case s.Selector != nil:
		errs = append(errs, ValidateLabelSelector(s.Selector, p.Child("selector"))...)
		errs = append(errs, validateSelectorMatchesTemplate(s.Selector, &s.Template, p)...)
	}
	if s.CompletionMode != nil && *s.CompletionMode == IndexedCompletion && s.Completions != nil && *s.Completions > 0 {
		// Pod hostnames are <job>-<index>.
		name, np, v := ruleName(&j.ObjectMeta)
		host := fmt.Sprintf("%s-%d", name, *s.Completions-1)
		if len(IsDNS1123Label(host)) > 0 {
			errs = append(errs, Invalid(np, v, "will not able to create pod with invalid DNS label: "+host))
		}
	}
	return errs
}

// ValidateCreate implements CreateValidator: a new Job without
// manualSelector may not name a selector, since the store generates it from
// the uid it assigns (PrepareForCreate), after validation. Kubernetes
// rejects such a Job with the same error; it lets an empty selector through,
// merging the uid into it, which podkit does not.
func (j *Job) ValidateCreate() ErrorList {
	s := &j.Spec
	if s.Selector == nil || (s.ManualSelector != nil && *s.ManualSelector) {
		return nil
	}
	return ErrorList{Invalid(NewPath("spec", "selector"), derefForError(s.Selector), "`selector` not auto-generated")}
}

// validateGeneratedJobSelector checks that the template carries the
// generated labels and that the selector selects them.
func validateGeneratedJobSelector(j *Job) ErrorList {
	var errs ErrorList
	mp := NewPath("spec", "template", "metadata")
	expected := jobGeneratedLabels(j)
	for _, k := range []string{LegacyControllerUIDLabel, LegacyJobNameLabel, ControllerUIDLabel, JobNameLabel} {
		v, ok := j.Spec.Template.Labels[k]
		switch {
		case !ok:
			errs = append(errs, Required(mp.Child("labels").Key(k), fmt.Sprintf("must be '%s'", expected[k])))
		case v != expected[k]:
			errs = append(errs, Invalid(mp.Child("labels").Key(k), v, fmt.Sprintf("must be '%s'", expected[k])))
		}
	}
	if sel, err := LabelSelectorAsSelector(j.Spec.Selector); err == nil && !sel.Matches(expected) {
		errs = append(errs, Invalid(NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpec checks what a Job and a CronJob's job template share.
func validateJobSpec(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	if s.Parallelism != nil {
		errs = append(errs, validateNonnegative(int64(*s.Parallelism), p.Child("parallelism"))...)
	}
	if s.Completions != nil {
		errs = append(errs, validateNonnegative(int64(*s.Completions), p.Child("completions"))...)
	}
	if s.ActiveDeadlineSeconds != nil {
		errs = append(errs, validateNonnegative(*s.ActiveDeadlineSeconds, p.Child("activeDeadlineSeconds"))...)
	}
	if s.BackoffLimit != nil {
		errs = append(errs, validateNonnegative(int64(*s.BackoffLimit), p.Child("backoffLimit"))...)
	}
	if s.TTLSecondsAfterFinished != nil {
		errs = append(errs, validateNonnegative(int64(*s.TTLSecondsAfterFinished), p.Child("ttlSecondsAfterFinished"))...)
	}
	errs = append(errs, validateJobLimitsPerIndex(s, p)...)
	if s.CompletionMode != nil {
		switch *s.CompletionMode {
		case NonIndexedCompletion:
		case IndexedCompletion:
			if s.Completions == nil {
				errs = append(errs, Required(p.Child("completions"), "when completion mode is Indexed"))
			}
			if s.Parallelism != nil && *s.Parallelism > maxParallelismForIndexedJob {
				errs = append(errs, Invalid(p.Child("parallelism"), *s.Parallelism,
					fmt.Sprintf("must be less than or equal to %d when completion mode is Indexed", maxParallelismForIndexedJob)))
			}
			errs = append(errs, validateIndexedJobLimits(s, p)...)
		default:
			errs = append(errs, NotSupported(p.Child("completionMode"), string(*s.CompletionMode),
				[]string{string(NonIndexedCompletion), string(IndexedCompletion)}))
		}
	}
	if s.CompletionMode == nil || *s.CompletionMode == NonIndexedCompletion {
		errs = append(errs, validateNonIndexedJobLimits(s, p)...)
	}
	errs = append(errs, validateJobPolicies(s, p)...)
	tp := p.Child("template")
	errs = append(errs, ValidatePodTemplateSpec(&s.Template, tp)...)
	// An unset restartPolicy has been defaulted to Always, which a Job's
	// pods may not have: they must be able to finish.
	// Other invalid values are reported by the pod spec's validation.
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp == RestartPolicyAlways:
		errs = append(errs, Required(tp.Child("spec", "restartPolicy"),
			fmt.Sprintf("valid values: %q, %q", RestartPolicyOnFailure, RestartPolicyNever)))
	case rp == RestartPolicyOnFailure && s.PodFailurePolicy != nil:
		errs = append(errs, Invalid(tp.Child("spec", "restartPolicy"), string(rp),
			fmt.Sprintf("only %q is supported when podFailurePolicy is specified", RestartPolicyNever)))
	}
	return errs
}

// ValidateUpdate rejects changes to the selector, completionMode,
// podFailurePolicy, backoffLimitPerIndex, managedBy, successPolicy and,
// unless the Job is suspended, the pod template, as Kubernetes does.
// (Kubernetes lets a suspended Job that never started change only its
// template's scheduling directives; podkit lets a suspended Job change its
// whole template.) Generating the selector of a Job created without one is
// allowed.
//
// Completions is immutable too, except in an Indexed Job, which is
// elastic as in Kubernetes 1.31: completions may change together with
// parallelism, so that the two stay equal
// ("spec.completions: Invalid value: 4: can only be modified in tandem
// with spec.parallelism"). The Job controller then removes the pods of
// the indexes dropped and starts those added; see
// reconcile.JobController.
func (j *Job) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*Job)
	if !ok {
		return ErrorList{wrongOldType(old, j)}
	}
	if o.Spec.Selector == nil && j.Spec.Selector != nil && j.UID != "" {
		// Compare with the old Job as it would look with its selector
		// generated.
		o = o.DeepCopy()
		o.UID = j.UID
		o.GenerateSelector()
	}
	p := NewPath("spec")
	var errs ErrorList
	errs = append(errs, validateImmutable(j.Spec.Selector, o.Spec.Selector, p.Child("selector"))...)
	errs = append(errs, validateCompletionsUpdate(&j.Spec, &o.Spec, p.Child("completions"))...)
	errs = append(errs, validateImmutable(j.Spec.CompletionMode, o.Spec.CompletionMode, p.Child("completionMode"))...)
	if o.Spec.Suspend == nil || !*o.Spec.Suspend {
		errs = append(errs, validateImmutable(j.Spec.Template, o.Spec.Template, p.Child("template"))...)
	}
	errs = append(errs, validateImmutable(j.Spec.PodFailurePolicy, o.Spec.PodFailurePolicy, p.Child("podFailurePolicy"))...)
	errs = append(errs, validateImmutable(j.Spec.BackoffLimitPerIndex, o.Spec.BackoffLimitPerIndex, p.Child("backoffLimitPerIndex"))...)
	errs = append(errs, validateImmutable(j.Spec.ManagedBy, o.Spec.ManagedBy, p.Child("managedBy"))...)
	errs = append(errs, validateImmutable(j.Spec.SuccessPolicy, o.Spec.SuccessPolicy, p.Child("successPolicy"))...)
	return errs
}

// validateCompletionsUpdate lets an Indexed Job change its completions
// only when parallelism changes to the same value (elastic Indexed Jobs);
// other Jobs' completions are immutable. An Indexed Job without
// completions is reported by Validate.
func validateCompletionsUpdate(s, old *JobSpec, p *Path) ErrorList {
	if s.CompletionMode == nil || *s.CompletionMode != IndexedCompletion {
		return validateImmutable(s.Completions, old.Completions, p)
	}
	if s.Completions == nil || (old.Completions != nil && *s.Completions == *old.Completions) {
		return nil
	}
	if s.Parallelism == nil || *s.Parallelism != *s.Completions {
		return ErrorList{Invalid(p, *s.Completions, "can only be modified in tandem with spec.parallelism")}
	}
	return nil
}
