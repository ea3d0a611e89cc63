package objects

import "maps"

// ReplicationController keeps a number of identical pods running (v1). It
// is the ReplicaSet's predecessor, still served by Kubernetes and used by
// older manifests: its selector is a plain label map (equality only) and
// its template a pointer.
type ReplicationController struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   ReplicationControllerSpec   `json:"spec,omitempty"`
	Status ReplicationControllerStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (r *ReplicationController) DeepCopyObject() Object { return r.DeepCopy() }

// ReplicationControllerSpec is the desired state of a ReplicationController.
type ReplicationControllerSpec struct {
	// Replicas defaults to 1.
	Replicas        *int32 `json:"replicas,omitempty"`
	MinReadySeconds int32  `json:"minReadySeconds,omitempty"`
	// Selector defaults to the template's labels.
	Selector map[string]string `json:"selector,omitempty"`
	Template *PodTemplateSpec  `json:"template,omitempty"`
}

// ReplicationControllerStatus is the observed state of a
// ReplicationController.
type ReplicationControllerStatus struct {
	Replicas             int32                            `json:"replicas"`
	FullyLabeledReplicas int32                            `json:"fullyLabeledReplicas,omitempty"`
	ReadyReplicas        int32                            `json:"readyReplicas,omitempty"`
	AvailableReplicas    int32                            `json:"availableReplicas,omitempty"`
	ObservedGeneration   int64                            `json:"observedGeneration,omitempty"`
	Conditions           []ReplicationControllerCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ReplicationControllerConditionType names a ReplicationController
// condition.
type ReplicationControllerConditionType string

// ReplicationControllerReplicaFailure is set when a pod could not be
// created or deleted.
const ReplicationControllerReplicaFailure ReplicationControllerConditionType = "ReplicaFailure"

// ReplicationControllerCondition describes one aspect of a
// ReplicationController's state.
type ReplicationControllerCondition struct {
	Type               ReplicationControllerConditionType `json:"type"`
	Status             ConditionStatus                    `json:"status"`
	LastTransitionTime Time                               `json:"lastTransitionTime,omitempty"`
	Reason             string                             `json:"reason,omitempty"`
	Message            string                             `json:"message,omitempty"`
}

// PrepareForCreate implements store.CreatePreparer: a new
// ReplicationController has no status, whatever was sent.
func (r *ReplicationController) PrepareForCreate() { r.Status = ReplicationControllerStatus{} }

// Default fills in defaults as Kubernetes' SetDefaults_ReplicationController
// does: the selector and the labels (when empty) are the template's labels,
// and replicas is 1.
func (r *ReplicationController) Default() {
	if r.Spec.Replicas == nil {
		r.Spec.Replicas = ptrTo[int32](1)
	}
	t := r.Spec.Template
	if t == nil {
		return
	}
	if t.Labels != nil {
		if len(r.Spec.Selector) == 0 {
			r.Spec.Selector = maps.Clone(t.Labels)
		}
		if len(r.Labels) == 0 {
			r.Labels = maps.Clone(t.Labels)
		}
	}
	DefaultPodSpec(&t.Spec)
}

// Validate checks the spec as Kubernetes' ValidateReplicationControllerSpec
// does.
func (r *ReplicationController) Validate() ErrorList {
	p := NewPath("spec")
	errs := validateNonnegative(int64(r.Spec.MinReadySeconds), p.Child("minReadySeconds"))
	if len(r.Spec.Selector) == 0 {
		errs = append(errs, Required(p.Child("selector"), ""))
	}
	if r.Spec.Replicas == nil {
		errs = append(errs, Required(p.Child("replicas"), ""))
	} else {
		errs = append(errs, validateNonnegative(int64(*r.Spec.Replicas), p.Child("replicas"))...)
	}
	tp := p.Child("template")
	t := r.Spec.Template
	if t == nil {
		return append(errs, Required(tp, ""))
	}
	if !SelectorFromSet(r.Spec.Selector).Matches(t.Labels) {
		errs = append(errs, Invalid(tp.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	errs = append(errs, ValidatePodTemplateSpec(t, tp)...)
	return append(errs, validateAlwaysRestart(t, "ReplicationController", tp)...)
}

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateReplicationControllerStatus.
func (r *ReplicationController) ValidateStatusUpdate(Object) ErrorList {
	st := &r.Status
	p := NewPath("status")
	replicas, ready, available := statusCount{"replicas", st.Replicas}, statusCount{"readyReplicas", st.ReadyReplicas}, statusCount{"availableReplicas", st.AvailableReplicas}
	labeled := statusCount{"fullyLabeledReplicas", st.FullyLabeledReplicas}
	errs := validateStatusCounts(p, st.ObservedGeneration, nil, replicas, labeled, ready, available)
	errs = append(errs, validateNotAbove(p, replicas, labeled, ready, available)...)
	if st.AvailableReplicas > st.ReadyReplicas {
		// Kubernetes names the limit without "status." here.
		errs = append(errs, Invalid(p.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}

// LabelSelector returns the selector as a LabelSelector of matchLabels,
// nil when it is empty.
func (s *ReplicationControllerSpec) LabelSelector() *LabelSelector {
	if len(s.Selector) == 0 {
		return nil
	}
	return &LabelSelector{MatchLabels: maps.Clone(s.Selector)}
}

// SpecReplicas implements Scalable.
func (r *ReplicationController) SpecReplicas() int32 { return defaultReplicas(r.Spec.Replicas) }

// SetSpecReplicas implements Scalable.
func (r *ReplicationController) SetSpecReplicas(n int32) { r.Spec.Replicas = &n }

// StatusReplicas implements Scalable.
func (r *ReplicationController) StatusReplicas() int32 { return r.Status.Replicas }

// ScaleSelector implements Scalable.
func (r *ReplicationController) ScaleSelector() *LabelSelector { return r.Spec.LabelSelector() }
