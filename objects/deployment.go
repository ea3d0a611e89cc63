package objects

// Deployment declares a set of pods and rolls changes to them out through
// ReplicaSets (apps/v1).
type Deployment struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   DeploymentSpec   `json:"spec,omitempty"`
	Status DeploymentStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (d *Deployment) DeepCopyObject() Object { return d.DeepCopy() }

// DeploymentSpec is the desired state of a Deployment.
type DeploymentSpec struct {
	// Replicas defaults to 1.
	Replicas *int32          `json:"replicas,omitempty"`
	Selector *LabelSelector  `json:"selector"`
	Template PodTemplateSpec `json:"template"`
	// Strategy defaults to RollingUpdate with maxSurge and maxUnavailable 25%.
	Strategy        DeploymentStrategy `json:"strategy,omitempty" patchStrategy:"retainKeys"`
	MinReadySeconds int32              `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is how many old ReplicaSets are kept for
	// rollback; defaults to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	Paused               bool   `json:"paused,omitempty"`
	// ProgressDeadlineSeconds defaults to 600.
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
}

// DefaultDeploymentUniqueLabelKey is the label a Deployment adds to the
// pods and selector of each of its ReplicaSets, valued with the template's
// hash.
const DefaultDeploymentUniqueLabelKey = "pod-template-hash"

// DeploymentStrategy says how pods are replaced by new ones.
type DeploymentStrategy struct {
	Type          DeploymentStrategyType   `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
}

// DeploymentStrategyType is Recreate or RollingUpdate.
type DeploymentStrategyType string

// Deployment strategies.
const (
	// RecreateDeploymentStrategyType deletes all old pods before creating
	// new ones.
	RecreateDeploymentStrategyType DeploymentStrategyType = "Recreate"
	// RollingUpdateDeploymentStrategyType scales the new ReplicaSet up and
	// the old ones down gradually.
	RollingUpdateDeploymentStrategyType DeploymentStrategyType = "RollingUpdate"
)

// RollingUpdateDeployment bounds a rolling update. Percentages are of the
// desired replicas: maxUnavailable rounds down, maxSurge rounds up.
type RollingUpdateDeployment struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// DeploymentStatus is the observed state of a Deployment.
type DeploymentStatus struct {
	ObservedGeneration  int64                 `json:"observedGeneration,omitempty"`
	Replicas            int32                 `json:"replicas,omitempty"`
	UpdatedReplicas     int32                 `json:"updatedReplicas,omitempty"`
	ReadyReplicas       int32                 `json:"readyReplicas,omitempty"`
	AvailableReplicas   int32                 `json:"availableReplicas,omitempty"`
	UnavailableReplicas int32                 `json:"unavailableReplicas,omitempty"`
	Conditions          []DeploymentCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	CollisionCount      *int32                `json:"collisionCount,omitempty"`
}

// DeploymentConditionType names a Deployment condition.
type DeploymentConditionType string

// Deployment conditions.
const (
	// DeploymentAvailable is true when at least the minimum available
	// replicas have been ready for minReadySeconds.
	DeploymentAvailable DeploymentConditionType = "Available"
	// DeploymentProgressing is true while a rollout makes progress; its
	// reason is ProgressDeadlineExceeded once progressDeadlineSeconds pass
	// without progress.
	DeploymentProgressing DeploymentConditionType = "Progressing"
	// DeploymentReplicaFailure is set when a pod could not be created or
	// deleted.
	DeploymentReplicaFailure DeploymentConditionType = "ReplicaFailure"
)

// DeploymentCondition describes one aspect of a Deployment's state.
type DeploymentCondition struct {
	Type               DeploymentConditionType `json:"type"`
	Status             ConditionStatus         `json:"status"`
	LastUpdateTime     Time                    `json:"lastUpdateTime,omitempty"`
	LastTransitionTime Time                    `json:"lastTransitionTime,omitempty"`
	Reason             string                  `json:"reason,omitempty"`
	Message            string                  `json:"message,omitempty"`
}

// GetDeploymentCondition returns the condition of type t, or nil.
func GetDeploymentCondition(status *DeploymentStatus, t DeploymentConditionType) *DeploymentCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// PrepareForCreate implements store.CreatePreparer: a new Deployment has
// no status, whatever was sent, as Kubernetes' strategy clears it.
func (d *Deployment) PrepareForCreate() { d.Status = DeploymentStatus{} }

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateDeploymentStatus: counts are not negative, and no count of
// replicas exceeds status.replicas (nor available ones the ready ones).
func (d *Deployment) ValidateStatusUpdate(Object) ErrorList {
	st := &d.Status
	p := NewPath("status")
	replicas, updated, ready := statusCount{"replicas", st.Replicas}, statusCount{"updatedReplicas", st.UpdatedReplicas}, statusCount{"readyReplicas", st.ReadyReplicas}
	available := statusCount{"availableReplicas", st.AvailableReplicas}
	errs := validateStatusCounts(p, st.ObservedGeneration, st.CollisionCount,
		replicas, updated, ready, available, statusCount{"unavailableReplicas", st.UnavailableReplicas})
	errs = append(errs, validateNotAbove(p, replicas, updated, ready, available)...)
	return append(errs, validateNotAbove(p, ready, available)...)
}

// Default fills in defaults as Kubernetes' SetDefaults_Deployment does.
func (d *Deployment) Default() {
	s := &d.Spec
	if s.Replicas == nil {
		s.Replicas = ptrTo[int32](1)
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &RollingUpdateDeployment{}
		}
		if s.Strategy.RollingUpdate.MaxUnavailable == nil {
			s.Strategy.RollingUpdate.MaxUnavailable = ptrTo(FromString("25%"))
		}
		if s.Strategy.RollingUpdate.MaxSurge == nil {
			s.Strategy.RollingUpdate.MaxSurge = ptrTo(FromString("25%"))
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = ptrTo[int32](10)
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = ptrTo[int32](600)
	}
	DefaultPodSpec(&s.Template.Spec)
}

// Validate checks the spec as Kubernetes' ValidateDeploymentSpec does.
func (d *Deployment) Validate() ErrorList {
	s := &d.Spec
	p := NewPath("spec")
	var errs ErrorList
	if s.Replicas != nil {
		errs = append(errs, validateNonnegative(int64(*s.Replicas), p.Child("replicas"))...)
	}
	errs = append(errs, validateWorkloadTemplate(s.Selector, &s.Template, "Deployment", p)...)
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, p.Child("strategy"))...)
	errs = append(errs, validateNonnegative(int64(s.MinReadySeconds), p.Child("minReadySeconds"))...)
	if s.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonnegative(int64(*s.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	if s.ProgressDeadlineSeconds != nil {
		pp := p.Child("progressDeadlineSeconds")
		errs = append(errs, validateNonnegative(int64(*s.ProgressDeadlineSeconds), pp)...)
		if *s.ProgressDeadlineSeconds <= s.MinReadySeconds {
			errs = append(errs, Invalid(pp, *s.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// ValidateUpdate rejects a changed selector, as apps/v1 does.
func (d *Deployment) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*Deployment)
	if !ok {
		return ErrorList{wrongOldType(old, d)}
	}
	return validateImmutable(d.Spec.Selector, o.Spec.Selector, NewPath("spec", "selector"))
}

func validateDeploymentStrategy(s *DeploymentStrategy, p *Path) ErrorList {
	var errs ErrorList
	switch s.Type {
	case RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			errs = append(errs, Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case RollingUpdateDeploymentStrategyType:
		ru := s.RollingUpdate
		if ru == nil {
			return append(errs, Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil"))
		}
		rp := p.Child("rollingUpdate")
		errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		errs = append(errs, validatePositiveIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		if intOrPercentValue(ru.MaxUnavailable) == 0 && intOrPercentValue(ru.MaxSurge) == 0 {
			errs = append(errs, Invalid(rp.Child("maxUnavailable"), derefForError(ru.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
		}
		errs = append(errs, validateNotMoreThan100Percent(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
	default:
		errs = append(errs, NotSupported(p.Child("type"), string(s.Type),
			[]string{string(RecreateDeploymentStrategyType), string(RollingUpdateDeploymentStrategyType)}))
	}
	return errs
}
