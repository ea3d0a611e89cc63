package objects

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// CronJob creates Jobs on a cron schedule (batch/v1).
type CronJob struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   CronJobSpec   `json:"spec,omitempty"`
	Status CronJobStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (c *CronJob) DeepCopyObject() Object { return c.DeepCopy() }

// CronJobSpec is the desired state of a CronJob.
type CronJobSpec struct {
	// Schedule is a standard five-field cron expression ("*/5 * * * *") or
	// a descriptor such as "@hourly"; see ParseCronSchedule.
	Schedule string `json:"schedule"`
	// TimeZone is an IANA time zone name ("Europe/Paris"); the host's local
	// zone when unset.
	TimeZone *string `json:"timeZone,omitempty"`
	// StartingDeadlineSeconds: a run missed by more than this is skipped.
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// ConcurrencyPolicy defaults to Allow.
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// Suspend defaults to false; it stops future runs, not running Jobs.
	Suspend     *bool           `json:"suspend,omitempty"`
	JobTemplate JobTemplateSpec `json:"jobTemplate"`
	// SuccessfulJobsHistoryLimit defaults to 3, FailedJobsHistoryLimit to 1.
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`
	FailedJobsHistoryLimit     *int32 `json:"failedJobsHistoryLimit,omitempty"`
}

// ConcurrencyPolicy says what happens when a run is due while an earlier
// Job is still running.
type ConcurrencyPolicy string

// Concurrency policies.
const (
	// AllowConcurrent runs Jobs concurrently.
	AllowConcurrent ConcurrencyPolicy = "Allow"
	// ForbidConcurrent skips the run.
	ForbidConcurrent ConcurrencyPolicy = "Forbid"
	// ReplaceConcurrent deletes the running Job and starts a new one.
	ReplaceConcurrent ConcurrencyPolicy = "Replace"
)

// CronJobStatus is the observed state of a CronJob.
type CronJobStatus struct {
	Active             []ObjectReference `json:"active,omitempty"`
	LastScheduleTime   *Time             `json:"lastScheduleTime,omitempty"`
	LastSuccessfulTime *Time             `json:"lastSuccessfulTime,omitempty"`
}

// ParseCronSchedule parses a schedule as CronJobs read it: the standard
// five fields (minute, hour, day of month, month, day of week) or a
// descriptor (@yearly, @monthly, @weekly, @daily, @hourly, @every 1h),
// with robfig/cron's standard parser, as Kubernetes does.
func ParseCronSchedule(schedule string) (cron.Schedule, error) {
	return cron.ParseStandard(schedule)
}

// PrepareForCreate implements store.CreatePreparer: a new CronJob has no
// status, whatever was sent, as Kubernetes' strategy clears it.
func (c *CronJob) PrepareForCreate() { c.Status = CronJobStatus{} }

// Default fills in defaults as Kubernetes' SetDefaults_CronJob does; the
// job template's pod spec is defaulted too. Job-level defaults (completions,
// backoffLimit, ...) are applied to each Job when it is created.
func (c *CronJob) Default() {
	s := &c.Spec
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = AllowConcurrent
	}
	if s.Suspend == nil {
		s.Suspend = ptrTo(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = ptrTo[int32](3)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = ptrTo[int32](1)
	}
	DefaultPodSpec(&s.JobTemplate.Spec.Template.Spec)
}

// cronJobNameMaxLength leaves room for the 11-character suffix of the Jobs'
// names within a 63-character DNS label.
const cronJobNameMaxLength = 52

// Validate checks the CronJob as Kubernetes' ValidateCronJobCreate does.
// No field of a CronJob is immutable.
func (c *CronJob) Validate() ErrorList {
	var errs ErrorList
	if name, p, v := ruleName(&c.ObjectMeta); len(name) > cronJobNameMaxLength {
		limit := cronJobNameMaxLength
		if name != v {
			limit -= len(generatedSuffix) // generateName: room for the random suffix
		}
		errs = append(errs, Invalid(p, v, fmt.Sprintf("must be no more than %d characters", limit)))
	}
	return append(errs, validateCronJobSpec(&c.Spec, NewPath("spec"))...)
}

func validateCronJobSpec(s *CronJobSpec, p *Path) ErrorList {
	var errs ErrorList
	if s.Schedule == "" {
		errs = append(errs, Required(p.Child("schedule"), ""))
	} else {
		errs = append(errs, validateSchedule(s.Schedule, p.Child("schedule"))...)
	}
	if s.StartingDeadlineSeconds != nil {
		errs = append(errs, validateNonnegative(*s.StartingDeadlineSeconds, p.Child("startingDeadlineSeconds"))...)
	}
	errs = append(errs, validateTimeZone(s.TimeZone, p.Child("timeZone"))...)
	switch s.ConcurrencyPolicy {
	case AllowConcurrent, ForbidConcurrent, ReplaceConcurrent:
	case "":
		errs = append(errs, Required(p.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, NotSupported(p.Child("concurrencyPolicy"), string(s.ConcurrencyPolicy),
			[]string{string(AllowConcurrent), string(ForbidConcurrent), string(ReplaceConcurrent)}))
	}
	errs = append(errs, validateJobTemplateSpec(&s.JobTemplate, p.Child("jobTemplate"))...)
	if s.SuccessfulJobsHistoryLimit != nil {
		errs = append(errs, validateNonnegative(int64(*s.SuccessfulJobsHistoryLimit), p.Child("successfulJobsHistoryLimit"))...)
	}
	if s.FailedJobsHistoryLimit != nil {
		errs = append(errs, validateNonnegative(int64(*s.FailedJobsHistoryLimit), p.Child("failedJobsHistoryLimit"))...)
	}
	return errs
}

// validateSchedule checks that the schedule parses. As in Kubernetes, a
// TZ= or CRON_TZ= prefix is refused: the timeZone field says it. (Kubernetes
// still lets objects created before that rule keep one; podkit never
// accepted it.)
func validateSchedule(schedule string, p *Path) ErrorList {
	var errs ErrorList
	if _, err := ParseCronSchedule(schedule); err != nil {
		errs = append(errs, Invalid(p, schedule, err.Error()))
	}
	if strings.Contains(schedule, "TZ") {
		errs = append(errs, Invalid(p, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

// validTimeZoneCharacters follows the IANA naming rules, tolerating digits
// and '+' for legacy names.
var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateTimeZone(tz *string, p *Path) ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return ErrorList{Invalid(p, *tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return ErrorList{Invalid(p, *tz, "unknown time zone "+*tz)}
		}
	}
	var errs ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, Invalid(p, *tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, Invalid(p, *tz, err.Error()))
	}
	return errs
}

// validateJobTemplateSpec checks a CronJob's job template: a valid Job
// spec without a selector, which each Job gets generated.
func validateJobTemplateSpec(t *JobTemplateSpec, p *Path) ErrorList {
	sp := p.Child("spec")
	errs := ValidateLabels(t.Labels, p.Child("metadata", "labels"))
	errs = append(errs, ValidateAnnotations(t.Annotations, p.Child("metadata", "annotations"))...)
	errs = append(errs, validateJobSpec(&t.Spec, sp)...)
	if t.Spec.Selector != nil {
		errs = append(errs, Invalid(sp.Child("selector"), derefForError(t.Spec.Selector), "`selector` will be auto-generated"))
	}
	if t.Spec.ManualSelector != nil && *t.Spec.ManualSelector {
		errs = append(errs, NotSupported(sp.Child("manualSelector"), true, []string{"nil", "false"}))
	}
	return errs
}
