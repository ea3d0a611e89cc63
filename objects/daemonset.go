package objects

// DaemonSet runs one pod on every node its template's scheduling
// constraints allow (apps/v1).
type DaemonSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   DaemonSetSpec   `json:"spec,omitempty"`
	Status DaemonSetStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (d *DaemonSet) DeepCopyObject() Object { return d.DeepCopy() }

// DaemonSetSpec is the desired state of a DaemonSet.
type DaemonSetSpec struct {
	Selector *LabelSelector  `json:"selector"`
	Template PodTemplateSpec `json:"template"`
	// UpdateStrategy defaults to RollingUpdate with maxUnavailable 1 and
	// maxSurge 0.
	UpdateStrategy  DaemonSetUpdateStrategy `json:"updateStrategy,omitempty"`
	MinReadySeconds int32                   `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit defaults to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

// DaemonSetUpdateStrategy says how daemon pods are replaced when the
// template changes.
type DaemonSetUpdateStrategy struct {
	Type          DaemonSetUpdateStrategyType `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDaemonSet     `json:"rollingUpdate,omitempty"`
}

// DaemonSetUpdateStrategyType is RollingUpdate or OnDelete.
type DaemonSetUpdateStrategyType string

// DaemonSet update strategies.
const (
	// RollingUpdateDaemonSetStrategyType replaces pods node by node.
	RollingUpdateDaemonSetStrategyType DaemonSetUpdateStrategyType = "RollingUpdate"
	// OnDeleteDaemonSetStrategyType replaces a pod only when it is deleted.
	OnDeleteDaemonSetStrategyType DaemonSetUpdateStrategyType = "OnDelete"
)

// RollingUpdateDaemonSet bounds a DaemonSet rolling update. Percentages are
// of status.desiredNumberScheduled, rounded up.
type RollingUpdateDaemonSet struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// DaemonSetStatus is the observed state of a DaemonSet.
type DaemonSetStatus struct {
	CurrentNumberScheduled int32                `json:"currentNumberScheduled"`
	NumberMisscheduled     int32                `json:"numberMisscheduled"`
	DesiredNumberScheduled int32                `json:"desiredNumberScheduled"`
	NumberReady            int32                `json:"numberReady"`
	ObservedGeneration     int64                `json:"observedGeneration,omitempty"`
	UpdatedNumberScheduled int32                `json:"updatedNumberScheduled,omitempty"`
	NumberAvailable        int32                `json:"numberAvailable,omitempty"`
	NumberUnavailable      int32                `json:"numberUnavailable,omitempty"`
	CollisionCount         *int32               `json:"collisionCount,omitempty"`
	Conditions             []DaemonSetCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// DaemonSetConditionType names a DaemonSet condition.
type DaemonSetConditionType string

// DaemonSetCondition describes one aspect of a DaemonSet's state.
type DaemonSetCondition struct {
	Type               DaemonSetConditionType `json:"type"`
	Status             ConditionStatus        `json:"status"`
	LastTransitionTime Time                   `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// PrepareForCreate implements store.CreatePreparer: a new DaemonSet has
// no status, whatever was sent, as Kubernetes' strategy clears it.
func (d *DaemonSet) PrepareForCreate() { d.Status = DaemonSetStatus{} }

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateDaemonSetStatus: no count is negative.
func (d *DaemonSet) ValidateStatusUpdate(Object) ErrorList {
	st := &d.Status
	return validateStatusCounts(NewPath("status"), st.ObservedGeneration, st.CollisionCount,
		statusCount{"currentNumberScheduled", st.CurrentNumberScheduled}, statusCount{"numberMisscheduled", st.NumberMisscheduled},
		statusCount{"desiredNumberScheduled", st.DesiredNumberScheduled}, statusCount{"numberReady", st.NumberReady},
		statusCount{"updatedNumberScheduled", st.UpdatedNumberScheduled}, statusCount{"numberAvailable", st.NumberAvailable},
		statusCount{"numberUnavailable", st.NumberUnavailable})
}

// Default fills in defaults as Kubernetes' SetDefaults_DaemonSet does.
func (d *DaemonSet) Default() {
	s := &d.Spec
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = RollingUpdateDaemonSetStrategyType
	}
	if s.UpdateStrategy.Type == RollingUpdateDaemonSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &RollingUpdateDaemonSet{}
		}
		if s.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
			s.UpdateStrategy.RollingUpdate.MaxUnavailable = ptrTo(FromInt32(1))
		}
		if s.UpdateStrategy.RollingUpdate.MaxSurge == nil {
			s.UpdateStrategy.RollingUpdate.MaxSurge = ptrTo(FromInt32(0))
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = ptrTo[int32](10)
	}
	DefaultPodSpec(&s.Template.Spec)
}

// Validate checks the spec as Kubernetes' ValidateDaemonSetSpec does.
func (d *DaemonSet) Validate() ErrorList {
	s := &d.Spec
	p := NewPath("spec")
	errs := validateWorkloadTemplate(s.Selector, &s.Template, "DaemonSet", p)
	errs = append(errs, validateNonnegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	errs = append(errs, validateDaemonSetUpdateStrategy(&s.UpdateStrategy, p.Child("updateStrategy"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonnegative(int64(*s.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	return errs
}

// ValidateUpdate rejects a changed selector, as apps/v1 does.
func (d *DaemonSet) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*DaemonSet)
	if !ok {
		return ErrorList{wrongOldType(old, d)}
	}
	return validateImmutable(d.Spec.Selector, o.Spec.Selector, NewPath("spec", "selector"))
}

func validateDaemonSetUpdateStrategy(u *DaemonSetUpdateStrategy, p *Path) ErrorList {
	switch u.Type {
	case OnDeleteDaemonSetStrategyType:
		return nil
	case RollingUpdateDaemonSetStrategyType:
	default:
		return ErrorList{NotSupported(p.Child("type"), string(u.Type),
			[]string{string(RollingUpdateDaemonSetStrategyType), string(OnDeleteDaemonSetStrategyType)})}
	}
	ru := u.RollingUpdate
	rp := p.Child("rollingUpdate")
	if ru == nil {
		return ErrorList{Required(rp, "")}
	}
	var errs ErrorList
	errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
	errs = append(errs, validatePositiveIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
	errs = append(errs, validateNotMoreThan100Percent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
	errs = append(errs, validateNotMoreThan100Percent(ru.MaxSurge, rp.Child("maxSurge"))...)
	hasUnavailable := intOrPercentValue(ru.MaxUnavailable) != 0
	hasSurge := intOrPercentValue(ru.MaxSurge) != 0
	switch {
	case hasUnavailable && hasSurge:
		errs = append(errs, Invalid(rp.Child("maxSurge"), derefForError(ru.MaxSurge), "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		errs = append(errs, Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
	}
	return errs
}
