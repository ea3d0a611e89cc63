package objects

import (
	"fmt"
	"strconv"
	"strings"
)

// The policies of a Job (batch/v1): how failed pods count (podFailurePolicy,
// backoffLimitPerIndex), when the Job succeeds early (successPolicy), when a
// pod is replaced (podReplacementPolicy) and which controller runs it
// (managedBy), with Kubernetes' validation.

// Annotations and names of the Job policies, as Kubernetes names them.
const (
	// JobIndexFailureCountAnnotation holds, on a pod of an Indexed Job with
	// backoffLimitPerIndex, how many pods of its index failed before it
	// (failures an Ignore rule matched not included).
	JobIndexFailureCountAnnotation = "batch.kubernetes.io/job-index-failure-count"
	// JobIndexIgnoredFailureCountAnnotation holds how many failures of the
	// pod's index an Ignore rule of the pod failure policy matched; absent
	// means none.
	JobIndexIgnoredFailureCountAnnotation = "batch.kubernetes.io/job-index-ignored-failure-count"
	// JobControllerName is the spec.managedBy of Jobs the built-in Job
	// controller runs, the same as leaving it unset.
	JobControllerName = "kubernetes.io/job-controller"
)

// PodFailurePolicy says how failed pods count against a Job. Its rules are
// matched in order against each failed pod; the first that matches decides.
// A pod no rule matches counts towards backoffLimit.
type PodFailurePolicy struct {
	// Rules, at most 20.
	Rules []PodFailurePolicyRule `json:"rules"`
}

// PodFailurePolicyRule is one rule of a pod failure policy: an action and
// exactly one of onExitCodes and onPodConditions.
type PodFailurePolicyRule struct {
	Action PodFailurePolicyAction `json:"action"`
	// OnExitCodes matches a failed pod by the exit codes of its containers.
	OnExitCodes *PodFailurePolicyOnExitCodesRequirement `json:"onExitCodes,omitempty"`
	// OnPodConditions matches a failed pod that has one of these
	// conditions; at most 20.
	OnPodConditions []PodFailurePolicyOnPodConditionsPattern `json:"onPodConditions,omitempty"`
}

// PodFailurePolicyAction is what a matched pod failure does.
type PodFailurePolicyAction string

// Pod failure policy actions.
const (
	// PodFailurePolicyActionFailJob fails the Job at once and terminates
	// its running pods.
	PodFailurePolicyActionFailJob PodFailurePolicyAction = "FailJob"
	// PodFailurePolicyActionFailIndex fails the pod's index, which is not
	// retried; it needs backoffLimitPerIndex.
	PodFailurePolicyActionFailIndex PodFailurePolicyAction = "FailIndex"
	// PodFailurePolicyActionIgnore does not count the failure towards
	// backoffLimit (nor backoffLimitPerIndex); the pod is replaced.
	PodFailurePolicyActionIgnore PodFailurePolicyAction = "Ignore"
	// PodFailurePolicyActionCount counts the failure, as when no rule
	// matches.
	PodFailurePolicyActionCount PodFailurePolicyAction = "Count"
)

// PodFailurePolicyOnExitCodesRequirement matches a failed pod whose
// containers (app and init) exited with some codes. Containers that
// exited 0 are never matched.
type PodFailurePolicyOnExitCodesRequirement struct {
	// ContainerName restricts the rule to one container or init container
	// of the template; unset, any container matches.
	ContainerName *string                             `json:"containerName,omitempty"`
	Operator      PodFailurePolicyOnExitCodesOperator `json:"operator"`
	// Values, sorted, without duplicates, at most 255; 0 is not allowed
	// with In.
	Values []int32 `json:"values"`
}

// PodFailurePolicyOnExitCodesOperator relates exit codes to the values.
type PodFailurePolicyOnExitCodesOperator string

// Exit code operators: a container exit code is (In) or is not (NotIn)
// among the values.
const (
	PodFailurePolicyOnExitCodesOpIn    PodFailurePolicyOnExitCodesOperator = "In"
	PodFailurePolicyOnExitCodesOpNotIn PodFailurePolicyOnExitCodesOperator = "NotIn"
)

// PodFailurePolicyOnPodConditionsPattern matches a pod condition by type
// and status.
type PodFailurePolicyOnPodConditionsPattern struct {
	Type PodConditionType `json:"type"`
	// Status defaults to True.
	Status ConditionStatus `json:"status"`
}

// SuccessPolicy declares an Indexed Job succeeded before every index has
// succeeded: once one of its rules is met (in order), the Job gets the
// SuccessCriteriaMet condition, its remaining pods are terminated, and it
// completes.
type SuccessPolicy struct {
	// Rules, from 1 to 20.
	Rules []SuccessPolicyRule `json:"rules"`
}

// SuccessPolicyRule is met when the succeeded indexes contain all of
// succeededIndexes, or at least succeededCount of them (of the whole Job
// when succeededIndexes is unset). At least one of the two is set.
type SuccessPolicyRule struct {
	// SucceededIndexes lists indexes as status.completedIndexes does:
	// "0,2-4".
	SucceededIndexes *string `json:"succeededIndexes,omitempty"`
	SucceededCount   *int32  `json:"succeededCount,omitempty"`
}

// PodReplacementPolicy says when a Job replaces a pod.
type PodReplacementPolicy string

// Pod replacement policies.
const (
	// TerminatingOrFailedPodReplacement replaces a pod as soon as it is
	// being deleted or has failed.
	TerminatingOrFailedPodReplacement PodReplacementPolicy = "TerminatingOrFailed"
	// FailedPodReplacement replaces a pod only once it has finished (phase
	// Failed): a pod being deleted is counted neither as active nor as
	// failed until then.
	FailedPodReplacement PodReplacementPolicy = "Failed"
)

// Limits of the Job policies, as Kubernetes has them.
const (
	maxFailedIndexesForIndexedJob              = 100_000
	completionsSoftLimit                       = 100_000
	parallelismLimitForHighCompletions         = 10_000
	maxFailedIndexesLimitForHighCompletions    = 10_000
	maxPodFailurePolicyRules                   = 20
	maxPodFailurePolicyOnExitCodesValues       = 255
	maxPodFailurePolicyOnPodConditionsPatterns = 20
	maxManagedByLength                         = 63
	maxSuccessPolicySucceededIndexesLength     = 64 * 1024
	maxSuccessPolicyRules                      = 20
)

// defaultJobPolicies fills in what Kubernetes' SetDefaults_Job fills in for
// the policies: backoffLimit is unlimited (MaxInt32) when each index has
// its own, onPodConditions statuses default to True, and
// podReplacementPolicy is Failed with a pod failure policy, else
// TerminatingOrFailed.
func defaultJobPolicies(s *JobSpec) {
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptrTo[int32](1<<31 - 1)
		} else {
			s.BackoffLimit = ptrTo[int32](6)
		}
	}
	if pfp := s.PodFailurePolicy; pfp != nil {
		for i := range pfp.Rules {
			for j := range pfp.Rules[i].OnPodConditions {
				if c := &pfp.Rules[i].OnPodConditions[j]; c.Status == "" {
					c.Status = ConditionTrue
				}
			}
		}
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptrTo(FailedPodReplacement)
		} else {
			s.PodReplacementPolicy = ptrTo(TerminatingOrFailedPodReplacement)
		}
	}
}

// validateJobLimitsPerIndex checks backoffLimitPerIndex, maxFailedIndexes
// and managedBy, the checks Kubernetes makes before the completion mode's.
func validateJobLimitsPerIndex(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	if s.BackoffLimitPerIndex != nil {
		errs = append(errs, validateNonnegative(int64(*s.BackoffLimitPerIndex), p.Child("backoffLimitPerIndex"))...)
	}
	if s.MaxFailedIndexes != nil {
		errs = append(errs, validateNonnegative(int64(*s.MaxFailedIndexes), p.Child("maxFailedIndexes"))...)
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, Required(p.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if s.ManagedBy != nil {
		mp := p.Child("managedBy")
		errs = append(errs, validateDomainPrefixedPath(*s.ManagedBy, mp)...)
		if len(*s.ManagedBy) > maxManagedByLength {
			errs = append(errs, &FieldError{Type: ErrorTypeTooLong, Field: mp.String(), BadValue: *s.ManagedBy,
				Detail: fmt.Sprintf("may not be longer than %d", maxManagedByLength)})
		}
	}
	return errs
}

// validateIndexedJobLimits checks the per-index limits of an Indexed Job.
func validateIndexedJobLimits(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	if s.Completions != nil && s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > *s.Completions {
		errs = append(errs, Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "must be less than or equal to completions"))
	}
	if s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > maxFailedIndexesForIndexedJob {
		errs = append(errs, Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes,
			fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
	}
	if s.Completions != nil && *s.Completions > completionsSoftLimit && s.BackoffLimitPerIndex != nil {
		if s.MaxFailedIndexes == nil {
			errs = append(errs, Required(p.Child("maxFailedIndexes"),
				fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
		}
		high := fmt.Sprintf(" when completions are above %d and used with backoff limit per index", completionsSoftLimit)
		if s.Parallelism != nil && *s.Parallelism > parallelismLimitForHighCompletions {
			errs = append(errs, Invalid(p.Child("parallelism"), *s.Parallelism,
				fmt.Sprintf("must be less than or equal to %d", parallelismLimitForHighCompletions)+high))
		}
		if s.MaxFailedIndexes != nil && *s.MaxFailedIndexes > maxFailedIndexesLimitForHighCompletions {
			errs = append(errs, Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes,
				fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesLimitForHighCompletions)+high))
		}
	}
	return errs
}

// validateNonIndexedJobLimits rejects the per-index limits of a Job that is
// not Indexed.
func validateNonIndexedJobLimits(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	if s.BackoffLimitPerIndex != nil {
		errs = append(errs, Invalid(p.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
	}
	if s.MaxFailedIndexes != nil {
		errs = append(errs, Invalid(p.Child("maxFailedIndexes"), *s.MaxFailedIndexes, "requires indexed completion mode"))
	}
	return errs
}

// validateJobPolicies checks podFailurePolicy, successPolicy and
// podReplacementPolicy.
func validateJobPolicies(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	if s.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(s, p.Child("podFailurePolicy"))...)
	}
	if s.SuccessPolicy != nil {
		if s.CompletionMode == nil || *s.CompletionMode != IndexedCompletion {
			errs = append(errs, Invalid(p.Child("successPolicy"), derefForError(s.SuccessPolicy), "requires indexed completion mode"))
		} else {
			errs = append(errs, validateSuccessPolicy(s, p.Child("successPolicy"))...)
		}
	}
	if rp := s.PodReplacementPolicy; rp != nil {
		pp := p.Child("podReplacementPolicy")
		switch {
		case s.PodFailurePolicy != nil && *rp != FailedPodReplacement:
			errs = append(errs, NotSupported(pp, string(*rp), []string{string(FailedPodReplacement)}))
		case *rp != FailedPodReplacement && *rp != TerminatingOrFailedPodReplacement:
			errs = append(errs, NotSupported(pp, string(*rp),
				[]string{string(FailedPodReplacement), string(TerminatingOrFailedPodReplacement)}))
		}
	}
	return errs
}

// Supported values, sorted as Kubernetes lists them.
var (
	podFailurePolicyActions  = []string{"Count", "FailIndex", "FailJob", "Ignore"}
	onExitCodesOperators     = []string{"In", "NotIn"}
	onPodConditionsStatuses  = []string{"False", "True", "Unknown"}
	validPodFailureActionSet = map[PodFailurePolicyAction]bool{
		PodFailurePolicyActionCount: true, PodFailurePolicyActionFailIndex: true,
		PodFailurePolicyActionFailJob: true, PodFailurePolicyActionIgnore: true,
	}
)

func validatePodFailurePolicy(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	rules := s.PodFailurePolicy.Rules
	rp := p.Child("rules")
	if len(rules) > maxPodFailurePolicyRules {
		errs = append(errs, TooMany(rp, len(rules), maxPodFailurePolicyRules))
	}
	containers := map[string]bool{}
	for _, c := range s.Template.Spec.Containers {
		containers[c.Name] = true
	}
	for _, c := range s.Template.Spec.InitContainers {
		containers[c.Name] = true
	}
	for i := range rules {
		errs = append(errs, validatePodFailurePolicyRule(s, &rules[i], rp.Index(i), containers)...)
	}
	return errs
}

func validatePodFailurePolicyRule(s *JobSpec, r *PodFailurePolicyRule, p *Path, containers map[string]bool) ErrorList {
	var errs ErrorList
	ap := p.Child("action")
	switch {
	case r.Action == "":
		errs = append(errs, Required(ap, fmt.Sprintf("valid values: %q", podFailurePolicyActions)))
	case r.Action == PodFailurePolicyActionFailIndex:
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, Invalid(ap, string(r.Action), "requires the backoffLimitPerIndex to be set"))
		}
	case !validPodFailureActionSet[r.Action]:
		errs = append(errs, NotSupported(ap, string(r.Action), podFailurePolicyActions))
	}
	if r.OnExitCodes != nil {
		errs = append(errs, validateOnExitCodes(r.OnExitCodes, p.Child("onExitCodes"), containers)...)
	}
	if len(r.OnPodConditions) > 0 {
		errs = append(errs, validateOnPodConditions(r.OnPodConditions, p.Child("onPodConditions"))...)
	}
	switch {
	case r.OnExitCodes != nil && len(r.OnPodConditions) > 0:
		errs = append(errs, Invalid(p, nil, "specifying both OnExitCodes and OnPodConditions is not supported"))
	case r.OnExitCodes == nil && len(r.OnPodConditions) == 0:
		errs = append(errs, Invalid(p, nil, "specifying one of OnExitCodes and OnPodConditions is required"))
	}
	return errs
}

func validateOnPodConditions(patterns []PodFailurePolicyOnPodConditionsPattern, p *Path) ErrorList {
	var errs ErrorList
	if len(patterns) > maxPodFailurePolicyOnPodConditionsPatterns {
		errs = append(errs, TooMany(p, len(patterns), maxPodFailurePolicyOnPodConditionsPatterns))
	}
	for i, c := range patterns {
		cp := p.Index(i)
		errs = appendMsgs(errs, cp.Child("type"), string(c.Type), IsQualifiedName(string(c.Type)))
		switch c.Status {
		case "":
			errs = append(errs, Required(cp.Child("status"), fmt.Sprintf("valid values: %q", onPodConditionsStatuses)))
		case ConditionTrue, ConditionFalse, ConditionUnknown:
		default:
			errs = append(errs, NotSupported(cp.Child("status"), string(c.Status), onPodConditionsStatuses))
		}
	}
	return errs
}

func validateOnExitCodes(r *PodFailurePolicyOnExitCodesRequirement, p *Path, containers map[string]bool) ErrorList {
	var errs ErrorList
	op := p.Child("operator")
	switch r.Operator {
	case "":
		errs = append(errs, Required(op, fmt.Sprintf("valid values: %q", onExitCodesOperators)))
	case PodFailurePolicyOnExitCodesOpIn, PodFailurePolicyOnExitCodesOpNotIn:
	default:
		errs = append(errs, NotSupported(op, string(r.Operator), onExitCodesOperators))
	}
	if r.ContainerName != nil && !containers[*r.ContainerName] {
		errs = append(errs, Invalid(p.Child("containerName"), *r.ContainerName,
			"must be one of the container or initContainer names in the pod template"))
	}
	vp := p.Child("values")
	switch {
	case len(r.Values) == 0:
		errs = append(errs, Invalid(vp, r.Values, "at least one value is required"))
	case len(r.Values) > maxPodFailurePolicyOnExitCodesValues:
		errs = append(errs, TooMany(vp, len(r.Values), maxPodFailurePolicyOnExitCodesValues))
	}
	ordered := true
	seen := map[int32]bool{}
	for i, v := range r.Values {
		if r.Operator == PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, Invalid(vp.Index(i), v, "must not be 0 for the In operator"))
		}
		if seen[v] {
			errs = append(errs, Duplicate(vp.Index(i), v))
		}
		seen[v] = true
		if i > 0 && r.Values[i-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, Invalid(vp, r.Values, "must be ordered"))
	}
	return errs
}

func validateSuccessPolicy(s *JobSpec, p *Path) ErrorList {
	var errs ErrorList
	rules := s.SuccessPolicy.Rules
	rp := p.Child("rules")
	if len(rules) == 0 {
		errs = append(errs, Required(rp, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, TooMany(rp, len(rules), maxSuccessPolicyRules))
	}
	for i, r := range rules {
		errs = append(errs, validateSuccessPolicyRule(s, r, rp.Index(i))...)
	}
	return errs
}

func validateSuccessPolicyRule(s *JobSpec, r SuccessPolicyRule, p *Path) ErrorList {
	var errs ErrorList
	if r.SucceededCount == nil && r.SucceededIndexes == nil {
		errs = append(errs, Required(p, "at least one of succeededCount or succeededIndexes must be specified"))
	}
	// An Indexed Job without completions is reported on its own.
	completions, known := int32(0), s.Completions != nil
	if known {
		completions = *s.Completions
	}
	var total int32
	if r.SucceededIndexes != nil {
		ip := p.Child("succeededIndexes")
		if len(*r.SucceededIndexes) > maxSuccessPolicySucceededIndexesLength {
			errs = append(errs, TooLong(ip, *r.SucceededIndexes, maxSuccessPolicySucceededIndexesLength))
		}
		if known {
			var err error
			if total, err = ValidateIndexesFormat(*r.SucceededIndexes, completions); err != nil {
				errs = append(errs, Invalid(ip, *r.SucceededIndexes, "error parsing succeededIndexes: "+err.Error()))
			}
		}
	}
	if r.SucceededCount != nil {
		cp := p.Child("succeededCount")
		errs = append(errs, validateNonnegative(int64(*r.SucceededCount), cp)...)
		if known && *r.SucceededCount > completions {
			errs = append(errs, Invalid(cp, *r.SucceededCount,
				fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
		}
		if known && r.SucceededIndexes != nil && *r.SucceededCount > total {
			errs = append(errs, Invalid(cp, *r.SucceededCount,
				fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
		}
	}
	return errs
}

// ValidateIndexesFormat checks a list of completion indexes written as
// status.completedIndexes is ("1,3-5,7": increasing, each below
// completions) and returns how many indexes it holds. Its errors are
// Kubernetes'.
func ValidateIndexesFormat(indexes string, completions int32) (int32, error) {
	if indexes == "" {
		return 0, nil
	}
	var (
		total int32
		last  int32 = -1
	)
	for _, part := range strings.Split(indexes, ",") {
		x, y, err := parseIndexInterval(part, completions)
		if err != nil {
			return 0, err
		}
		if last >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, x)
		}
		total += y - x + 1
		last = y
	}
	return total, nil
}

func parseIndexInterval(s string, completions int32) (int32, int32, error) {
	limits := strings.Split(s, "-")
	if len(limits) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	x, err := strconv.Atoi(limits[0])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[0])
	}
	if x >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", limits[0])
	}
	if len(limits) == 1 {
		return int32(x), int32(x), nil
	}
	y, err := strconv.Atoi(limits[1])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[1])
	}
	if y >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", limits[1])
	}
	if x >= y {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
	}
	return int32(x), int32(y), nil
}
