package objects

import "regexp"

// PodDisruptionBudget bounds the voluntary disruption (eviction, node
// drain) of the pods its selector matches (policy/v1): an eviction is
// refused while it would leave fewer than minAvailable of them healthy,
// or more than maxUnavailable unhealthy.
type PodDisruptionBudget struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   PodDisruptionBudgetSpec   `json:"spec,omitempty"`
	Status PodDisruptionBudgetStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (b *PodDisruptionBudget) DeepCopyObject() Object { return b.DeepCopy() }

// PodDisruptionBudgetSpec is the desired bound; at most one of
// minAvailable and maxUnavailable is set.
type PodDisruptionBudgetSpec struct {
	// MinAvailable is how many of the selected pods (or what percentage of
	// the pods their controllers want) must stay healthy; "100%" forbids
	// every eviction.
	MinAvailable *IntOrString `json:"minAvailable,omitempty"`
	// Selector picks the pods in the budget's namespace: a nil selector
	// selects none, an empty one ({}) every pod.
	Selector *LabelSelector `json:"selector,omitempty" patchStrategy:"replace"`
	// MaxUnavailable is how many of the pods their controllers want (or
	// what percentage, rounded up) may be unhealthy; 0 forbids every
	// eviction.
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	// UnhealthyPodEvictionPolicy says when a running pod that is not
	// ready may be evicted; unset means IfHealthyBudget.
	UnhealthyPodEvictionPolicy *UnhealthyPodEvictionPolicyType `json:"unhealthyPodEvictionPolicy,omitempty"`
}

// UnhealthyPodEvictionPolicyType says when a running pod that is not yet
// healthy may be evicted.
type UnhealthyPodEvictionPolicyType string

// Unhealthy pod eviction policies.
const (
	// IfHealthyBudget: an unhealthy running pod may be evicted only while
	// the application is not disrupted (currentHealthy is at least
	// desiredHealthy). The behaviour when the policy is unset.
	IfHealthyBudget UnhealthyPodEvictionPolicyType = "IfHealthyBudget"
	// AlwaysAllow: an unhealthy running pod may always be evicted.
	AlwaysAllow UnhealthyPodEvictionPolicyType = "AlwaysAllow"
)

// EvictionPolicy returns the unhealthy pod eviction policy in force:
// spec.unhealthyPodEvictionPolicy, or IfHealthyBudget when it is unset.
// Kubernetes stores no default for the field, and neither does podkit.
func (s *PodDisruptionBudgetSpec) EvictionPolicy() UnhealthyPodEvictionPolicyType {
	if s.UnhealthyPodEvictionPolicy == nil {
		return IfHealthyBudget
	}
	return *s.UnhealthyPodEvictionPolicy
}

// PodDisruptionBudgetStatus is what the disruption controller last
// observed, and the evictions granted since.
type PodDisruptionBudgetStatus struct {
	// ObservedGeneration is the generation the counts were computed for;
	// an eviction is refused until it equals the budget's generation.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// DisruptedPods maps the pods whose eviction was granted but whose
	// deletion the controller has not seen yet to when it was granted;
	// the controller forgets an entry after two minutes.
	DisruptedPods map[string]Time `json:"disruptedPods,omitempty"`
	// DisruptionsAllowed is how many more pods may be evicted now.
	DisruptionsAllowed int32 `json:"disruptionsAllowed"`
	// CurrentHealthy is how many selected pods are ready.
	CurrentHealthy int32 `json:"currentHealthy"`
	// DesiredHealthy is how many must stay ready.
	DesiredHealthy int32 `json:"desiredHealthy"`
	// ExpectedPods is how many pods the budget counts.
	ExpectedPods int32 `json:"expectedPods"`
	// Conditions hold DisruptionAllowed.
	Conditions []Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// The DisruptionAllowed condition of a PodDisruptionBudget and its
// reasons, as Kubernetes names them.
const (
	// DisruptionAllowedCondition is True when at least one selected pod
	// may be evicted.
	DisruptionAllowedCondition = "DisruptionAllowed"
	// SyncFailedReason: the controller could not compute the budget, so
	// no disruption is allowed.
	SyncFailedReason = "SyncFailed"
	// SufficientPodsReason: more pods are healthy than required.
	SufficientPodsReason = "SufficientPods"
	// InsufficientPodsReason: no more pods are healthy than required.
	InsufficientPodsReason = "InsufficientPods"
)

// FindStatusCondition returns the condition of type t in conds, or nil,
// as apimachinery's meta.FindStatusCondition does.
func FindStatusCondition(conds []Condition, t string) *Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// PrepareForCreate implements store.CreatePreparer: a new budget has no
// status, whatever was sent, as Kubernetes' strategy clears it.
func (b *PodDisruptionBudget) PrepareForCreate() { b.Status = PodDisruptionBudgetStatus{} }

// Validate checks the spec as Kubernetes' ValidatePodDisruptionBudgetSpec
// does. The spec may change after creation (policy/v1).
func (b *PodDisruptionBudget) Validate() ErrorList {
	s := &b.Spec
	p := NewPath("spec")
	var errs ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, Invalid(p, derefForError(s), "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range []struct {
		name string
		v    *IntOrString
	}{{"minAvailable", s.MinAvailable}, {"maxUnavailable", s.MaxUnavailable}} {
		if f.v != nil {
			errs = append(errs, validatePositiveIntOrPercent(f.v, p.Child(f.name))...)
			errs = append(errs, validateNotMoreThan100Percent(f.v, p.Child(f.name))...)
		}
	}
	errs = append(errs, ValidateLabelSelector(s.Selector, p.Child("selector"))...)
	if pol := s.UnhealthyPodEvictionPolicy; pol != nil && *pol != IfHealthyBudget && *pol != AlwaysAllow {
		errs = append(errs, NotSupported(p.Child("unhealthyPodEvictionPolicy"), string(*pol),
			[]string{string(AlwaysAllow), string(IfHealthyBudget)}))
	}
	return errs
}

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidatePodDisruptionBudgetStatusUpdate: valid conditions and no
// negative count.
func (b *PodDisruptionBudget) ValidateStatusUpdate(Object) ErrorList {
	st := &b.Status
	p := NewPath("status")
	errs := validateConditions(st.Conditions, p.Child("conditions"))
	for _, c := range []statusCount{
		{"disruptionsAllowed", st.DisruptionsAllowed}, {"currentHealthy", st.CurrentHealthy},
		{"desiredHealthy", st.DesiredHealthy}, {"expectedPods", st.ExpectedPods},
	} {
		errs = append(errs, validateNonnegative(int64(c.n), p.Child(c.field))...)
	}
	return errs
}

// Limits and format of metav1.Condition fields.
const (
	maxConditionReasonLen  = 1024
	maxConditionMessageLen = 32 * 1024
	conditionReasonFmt     = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
)

var conditionReasonRe = regexp.MustCompile("^" + conditionReasonFmt + "$")

// validateConditions checks conditions of the metav1.Condition shape as
// apimachinery's ValidateConditions does.
func validateConditions(conds []Condition, p *Path) ErrorList {
	var errs ErrorList
	seen := map[string]bool{}
	for i, c := range conds {
		cp := p.Index(i)
		if seen[c.Type] {
			errs = append(errs, Duplicate(cp.Child("type"), c.Type))
		}
		seen[c.Type] = true
		errs = appendMsgs(errs, cp.Child("type"), c.Type, IsQualifiedName(c.Type))
		switch c.Status {
		case ConditionTrue, ConditionFalse, ConditionUnknown:
		default:
			errs = append(errs, NotSupported(cp.Child("status"), string(c.Status),
				[]string{string(ConditionFalse), string(ConditionTrue), string(ConditionUnknown)}))
		}
		if c.ObservedGeneration < 0 {
			errs = append(errs, Invalid(cp.Child("observedGeneration"), c.ObservedGeneration, "must be greater than or equal to zero"))
		}
		if c.LastTransitionTime.IsZero() {
			errs = append(errs, Required(cp.Child("lastTransitionTime"), "must be set"))
		}
		switch {
		case c.Reason == "":
			errs = append(errs, Required(cp.Child("reason"), "must be set"))
		case !conditionReasonRe.MatchString(c.Reason):
			errs = append(errs, Invalid(cp.Child("reason"), c.Reason, "a condition reason must start with alphabetic character, "+
				"optionally followed by a string of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_' "+
				"(e.g. 'my_name',  or 'MY_NAME',  or 'MyName',  or 'ReasonA,ReasonB',  or 'ReasonA:ReasonB', regex used for validation is '"+
				conditionReasonFmt+"')"))
		}
		if len(c.Reason) > maxConditionReasonLen {
			errs = append(errs, TooLong(cp.Child("reason"), c.Reason, maxConditionReasonLen))
		}
		if len(c.Message) > maxConditionMessageLen {
			errs = append(errs, TooLong(cp.Child("message"), c.Message, maxConditionMessageLen))
		}
	}
	return errs
}
