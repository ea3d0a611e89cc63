package objects

import "fmt"

// StatefulSet runs pods with stable names (web-0, web-1, ...), stable
// network identities and per-pod persistent volume claims (apps/v1).
type StatefulSet struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   StatefulSetSpec   `json:"spec,omitempty"`
	Status StatefulSetStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (s *StatefulSet) DeepCopyObject() Object { return s.DeepCopy() }

// Labels the StatefulSet controller puts on its pods.
const (
	// ControllerRevisionHashLabelKey holds the revision a StatefulSet or
	// DaemonSet pod was created from.
	ControllerRevisionHashLabelKey = "controller-revision-hash"
	// StatefulSetPodNameLabel holds the pod's own name, so a Service can
	// select one pod of the set.
	StatefulSetPodNameLabel = "statefulset.kubernetes.io/pod-name"
	// PodIndexLabel holds the pod's ordinal.
	PodIndexLabel = "apps.kubernetes.io/pod-index"
)

// StatefulSetSpec is the desired state of a StatefulSet.
type StatefulSetSpec struct {
	// Replicas defaults to 1.
	Replicas *int32          `json:"replicas,omitempty"`
	Selector *LabelSelector  `json:"selector"`
	Template PodTemplateSpec `json:"template"`
	// VolumeClaimTemplates are stamped out once per pod, named
	// <claim>-<statefulset>-<ordinal>, and mounted where the template's
	// containers mount a volume of the claim's name.
	VolumeClaimTemplates []PersistentVolumeClaim `json:"volumeClaimTemplates,omitempty"`
	// ServiceName is the headless Service giving pods their DNS names
	// (<pod>.<serviceName>.<namespace>.svc.cluster.local). Optional.
	ServiceName string `json:"serviceName,omitempty"`
	// PodManagementPolicy defaults to OrderedReady.
	PodManagementPolicy PodManagementPolicyType `json:"podManagementPolicy,omitempty"`
	// UpdateStrategy defaults to RollingUpdate with partition 0 and
	// maxUnavailable 1.
	UpdateStrategy StatefulSetUpdateStrategy `json:"updateStrategy,omitempty"`
	// RevisionHistoryLimit defaults to 10.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	MinReadySeconds      int32  `json:"minReadySeconds,omitempty"`
	// PersistentVolumeClaimRetentionPolicy defaults to Retain on deletion
	// and on scale-down.
	PersistentVolumeClaimRetentionPolicy *StatefulSetPersistentVolumeClaimRetentionPolicy `json:"persistentVolumeClaimRetentionPolicy,omitempty"`
	// Ordinals numbers the pods from ordinals.start instead of 0.
	Ordinals *StatefulSetOrdinals `json:"ordinals,omitempty"`
}

// PodManagementPolicyType is OrderedReady or Parallel.
type PodManagementPolicyType string

// Pod management policies.
const (
	// OrderedReadyPodManagement creates pods in increasing ordinal order,
	// each Running and Ready before the next, and deletes in reverse.
	OrderedReadyPodManagement PodManagementPolicyType = "OrderedReady"
	// ParallelPodManagement creates and deletes pods without waiting.
	ParallelPodManagement PodManagementPolicyType = "Parallel"
)

// StatefulSetUpdateStrategy says how pods are replaced when the template
// changes.
type StatefulSetUpdateStrategy struct {
	Type          StatefulSetUpdateStrategyType     `json:"type,omitempty"`
	RollingUpdate *RollingUpdateStatefulSetStrategy `json:"rollingUpdate,omitempty"`
}

// StatefulSetUpdateStrategyType is RollingUpdate or OnDelete.
type StatefulSetUpdateStrategyType string

// StatefulSet update strategies.
const (
	// RollingUpdateStatefulSetStrategyType replaces pods from the highest
	// ordinal down to the partition.
	RollingUpdateStatefulSetStrategyType StatefulSetUpdateStrategyType = "RollingUpdate"
	// OnDeleteStatefulSetStrategyType replaces a pod only when it is deleted.
	OnDeleteStatefulSetStrategyType StatefulSetUpdateStrategyType = "OnDelete"
)

// RollingUpdateStatefulSetStrategy bounds a StatefulSet rolling update.
type RollingUpdateStatefulSetStrategy struct {
	// Partition: pods with an ordinal below it keep the old revision.
	Partition *int32 `json:"partition,omitempty"`
	// MaxUnavailable is how many pods may be unavailable during the
	// update, a number or a percentage of replicas (rounded down, at least
	// 1); not 0. Defaults to 1.
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
}

// PersistentVolumeClaimRetentionPolicyType is Retain or Delete.
type PersistentVolumeClaimRetentionPolicyType string

// Claim retention policies.
const (
	RetainPersistentVolumeClaimRetentionPolicyType PersistentVolumeClaimRetentionPolicyType = "Retain"
	DeletePersistentVolumeClaimRetentionPolicyType PersistentVolumeClaimRetentionPolicyType = "Delete"
)

// StatefulSetPersistentVolumeClaimRetentionPolicy says whether the claims
// made from volumeClaimTemplates are deleted with the StatefulSet and when
// it scales down.
type StatefulSetPersistentVolumeClaimRetentionPolicy struct {
	WhenDeleted PersistentVolumeClaimRetentionPolicyType `json:"whenDeleted,omitempty"`
	WhenScaled  PersistentVolumeClaimRetentionPolicyType `json:"whenScaled,omitempty"`
}

// StatefulSetOrdinals sets the first ordinal.
type StatefulSetOrdinals struct {
	Start int32 `json:"start"`
}

// StatefulSetStatus is the observed state of a StatefulSet.
type StatefulSetStatus struct {
	ObservedGeneration int64                  `json:"observedGeneration,omitempty"`
	Replicas           int32                  `json:"replicas"`
	ReadyReplicas      int32                  `json:"readyReplicas,omitempty"`
	CurrentReplicas    int32                  `json:"currentReplicas,omitempty"`
	UpdatedReplicas    int32                  `json:"updatedReplicas,omitempty"`
	CurrentRevision    string                 `json:"currentRevision,omitempty"`
	UpdateRevision     string                 `json:"updateRevision,omitempty"`
	CollisionCount     *int32                 `json:"collisionCount,omitempty"`
	Conditions         []StatefulSetCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	AvailableReplicas  int32                  `json:"availableReplicas"`
}

// StatefulSetConditionType names a StatefulSet condition.
type StatefulSetConditionType string

// StatefulSetCondition describes one aspect of a StatefulSet's state.
type StatefulSetCondition struct {
	Type               StatefulSetConditionType `json:"type"`
	Status             ConditionStatus          `json:"status"`
	LastTransitionTime Time                     `json:"lastTransitionTime,omitempty"`
	Reason             string                   `json:"reason,omitempty"`
	Message            string                   `json:"message,omitempty"`
}

// PrepareForCreate implements store.CreatePreparer: a new StatefulSet has
// no status, whatever was sent, as Kubernetes' strategy clears it.
func (s *StatefulSet) PrepareForCreate() { s.Status = StatefulSetStatus{} }

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateStatefulSetStatus.
func (s *StatefulSet) ValidateStatusUpdate(Object) ErrorList {
	st := &s.Status
	p := NewPath("status")
	replicas, ready, current := statusCount{"replicas", st.Replicas}, statusCount{"readyReplicas", st.ReadyReplicas}, statusCount{"currentReplicas", st.CurrentReplicas}
	updated, available := statusCount{"updatedReplicas", st.UpdatedReplicas}, statusCount{"availableReplicas", st.AvailableReplicas}
	errs := validateStatusCounts(p, st.ObservedGeneration, st.CollisionCount, replicas, ready, current, updated, available)
	errs = append(errs, validateNotAbove(p, replicas, ready, current, updated, available)...)
	return append(errs, validateNotAbove(p, ready, available)...)
}

// Default fills in defaults as Kubernetes' SetDefaults_StatefulSet does.
func (s *StatefulSet) Default() {
	sp := &s.Spec
	if sp.PodManagementPolicy == "" {
		sp.PodManagementPolicy = OrderedReadyPodManagement
	}
	if sp.UpdateStrategy.Type == "" {
		sp.UpdateStrategy.Type = RollingUpdateStatefulSetStrategyType
		if sp.UpdateStrategy.RollingUpdate == nil {
			sp.UpdateStrategy.RollingUpdate = &RollingUpdateStatefulSetStrategy{}
		}
	}
	// maxUnavailable defaults to 1 as Kubernetes defaults it with its
	// MaxUnavailableStatefulSet feature gate (beta, on by default).
	if ru := sp.UpdateStrategy.RollingUpdate; sp.UpdateStrategy.Type == RollingUpdateStatefulSetStrategyType && ru != nil {
		if ru.Partition == nil {
			ru.Partition = ptrTo[int32](0)
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptrTo(FromInt32(1))
		}
	}
	if sp.PersistentVolumeClaimRetentionPolicy == nil {
		sp.PersistentVolumeClaimRetentionPolicy = &StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if sp.PersistentVolumeClaimRetentionPolicy.WhenDeleted == "" {
		sp.PersistentVolumeClaimRetentionPolicy.WhenDeleted = RetainPersistentVolumeClaimRetentionPolicyType
	}
	if sp.PersistentVolumeClaimRetentionPolicy.WhenScaled == "" {
		sp.PersistentVolumeClaimRetentionPolicy.WhenScaled = RetainPersistentVolumeClaimRetentionPolicyType
	}
	if sp.Replicas == nil {
		sp.Replicas = ptrTo[int32](1)
	}
	if sp.RevisionHistoryLimit == nil {
		sp.RevisionHistoryLimit = ptrTo[int32](10)
	}
	DefaultPodSpec(&sp.Template.Spec)
	for i := range sp.VolumeClaimTemplates {
		DefaultPersistentVolumeClaimSpec(&sp.VolumeClaimTemplates[i].Spec)
	}
}

// Validate checks the spec as Kubernetes' ValidateStatefulSetSpec does, and
// also validates the pod template (with each claim template as a volume)
// and the claim templates, which Kubernetes leaves to pod creation.
func (s *StatefulSet) Validate() ErrorList {
	sp := &s.Spec
	p := NewPath("spec")
	var errs ErrorList
	// Pod hostnames are <name>-<ordinal>: the name must be a DNS label.
	errs = append(errs, validateNameRule(&s.ObjectMeta, IsDNS1123Label)...)
	switch sp.PodManagementPolicy {
	case "":
		errs = append(errs, Required(p.Child("podManagementPolicy"), ""))
	case OrderedReadyPodManagement, ParallelPodManagement:
	default:
		errs = append(errs, Invalid(p.Child("podManagementPolicy"), string(sp.PodManagementPolicy),
			fmt.Sprintf("must be '%s' or '%s'", OrderedReadyPodManagement, ParallelPodManagement)))
	}
	errs = append(errs, validateStatefulSetUpdateStrategy(&sp.UpdateStrategy, p.Child("updateStrategy"))...)
	if rp := sp.PersistentVolumeClaimRetentionPolicy; rp != nil {
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetentionPolicyType(rp.WhenDeleted, pp.Child("whenDeleted"))...)
		errs = append(errs, validateRetentionPolicyType(rp.WhenScaled, pp.Child("whenScaled"))...)
	}
	if sp.Replicas != nil {
		errs = append(errs, validateNonnegative(int64(*sp.Replicas), p.Child("replicas"))...)
	}
	errs = append(errs, validateNonnegative(int64(sp.MinReadySeconds), p.Child("minReadySeconds"))...)
	if sp.Ordinals != nil {
		errs = append(errs, validateNonnegative(int64(sp.Ordinals.Start), p.Child("ordinals", "start"))...)
	}
	if sp.RevisionHistoryLimit != nil {
		errs = append(errs, validateNonnegative(int64(*sp.RevisionHistoryLimit), p.Child("revisionHistoryLimit"))...)
	}
	if sp.ServiceName != "" {
		// It becomes the pods' subdomain.
		errs = appendMsgs(errs, p.Child("serviceName"), sp.ServiceName, IsDNS1123Label(sp.ServiceName))
	}

	errs = append(errs, validateWorkloadSelector(sp.Selector, &sp.Template, "StatefulSet", p)...)
	errs = append(errs, ValidatePodTemplateSpec(statefulSetPodTemplate(sp), p.Child("template"))...)
	errs = append(errs, validateAlwaysRestart(&sp.Template, "StatefulSet", p.Child("template"))...)

	cp := p.Child("volumeClaimTemplates")
	names := map[string]bool{}
	for i := range sp.VolumeClaimTemplates {
		c := &sp.VolumeClaimTemplates[i]
		ip := cp.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, Required(ip.Child("metadata", "name"), ""))
		case names[c.Name]:
			errs = append(errs, Duplicate(ip.Child("metadata", "name"), c.Name))
		default:
			errs = appendMsgs(errs, ip.Child("metadata", "name"), c.Name, IsDNS1123Subdomain(c.Name))
		}
		names[c.Name] = true
		errs = append(errs, ValidateLabels(c.Labels, ip.Child("metadata", "labels"))...)
		errs = append(errs, ValidateAnnotations(c.Annotations, ip.Child("metadata", "annotations"))...)
		errs = append(errs, ValidatePersistentVolumeClaimSpec(&c.Spec, ip.Child("spec"))...)
	}
	return errs
}

// statefulSetPodTemplate returns the template as the controller will use
// it: each claim template becomes a volume of the same name (replacing a
// template volume so named), so that volume mounts referring to claims
// validate.
func statefulSetPodTemplate(sp *StatefulSetSpec) *PodTemplateSpec {
	if len(sp.VolumeClaimTemplates) == 0 {
		return &sp.Template
	}
	t := sp.Template.DeepCopy()
	claims := map[string]bool{}
	for _, c := range sp.VolumeClaimTemplates {
		claims[c.Name] = true
	}
	vols := t.Spec.Volumes[:0]
	for _, v := range t.Spec.Volumes {
		if !claims[v.Name] {
			vols = append(vols, v)
		}
	}
	added := map[string]bool{}
	for _, c := range sp.VolumeClaimTemplates {
		if c.Name == "" || added[c.Name] {
			continue // reported against volumeClaimTemplates
		}
		added[c.Name] = true
		vols = append(vols, Volume{Name: c.Name, VolumeSource: VolumeSource{
			PersistentVolumeClaim: &PersistentVolumeClaimVolumeSource{ClaimName: c.Name},
		}})
	}
	t.Spec.Volumes = vols
	return t
}

func validateStatefulSetUpdateStrategy(u *StatefulSetUpdateStrategy, p *Path) ErrorList {
	var errs ErrorList
	switch u.Type {
	case "":
		errs = append(errs, Required(p, ""))
	case OnDeleteStatefulSetStrategyType:
		if u.RollingUpdate != nil {
			errs = append(errs, Invalid(p.Child("rollingUpdate"), derefForError(u.RollingUpdate),
				fmt.Sprintf("only allowed for updateStrategy '%s'", RollingUpdateStatefulSetStrategyType)))
		}
	case RollingUpdateStatefulSetStrategyType:
		if ru := u.RollingUpdate; ru != nil {
			rp := p.Child("rollingUpdate")
			if ru.Partition != nil {
				errs = append(errs, validateNonnegative(int64(*ru.Partition), rp.Child("partition"))...)
			}
			if ru.MaxUnavailable != nil {
				mp := rp.Child("maxUnavailable")
				errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, mp)...)
				if intOrPercentValue(ru.MaxUnavailable) == 0 {
					errs = append(errs, Invalid(mp, derefForError(ru.MaxUnavailable), "cannot be 0"))
				}
				errs = append(errs, validateNotMoreThan100Percent(ru.MaxUnavailable, mp)...)
			}
		}
	default:
		errs = append(errs, Invalid(p, string(u.Type), fmt.Sprintf("must be '%s' or '%s'",
			RollingUpdateStatefulSetStrategyType, OnDeleteStatefulSetStrategyType)))
	}
	return errs
}

func validateRetentionPolicyType(t PersistentVolumeClaimRetentionPolicyType, p *Path) ErrorList {
	switch t {
	case RetainPersistentVolumeClaimRetentionPolicyType, DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return ErrorList{NotSupported(p, string(t), []string{
		string(RetainPersistentVolumeClaimRetentionPolicyType), string(DeletePersistentVolumeClaimRetentionPolicyType)})}
}

// ValidateUpdate allows only replicas, ordinals, template, updateStrategy,
// persistentVolumeClaimRetentionPolicy, minReadySeconds and
// revisionHistoryLimit to change, as Kubernetes does: serviceName,
// selector, podManagementPolicy and volumeClaimTemplates are immutable.
func (s *StatefulSet) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*StatefulSet)
	if !ok {
		return ErrorList{wrongOldType(old, s)}
	}
	n := s.Spec.DeepCopy()
	n.Replicas = o.Spec.Replicas
	n.Template = o.Spec.Template
	n.UpdateStrategy = o.Spec.UpdateStrategy
	n.MinReadySeconds = o.Spec.MinReadySeconds
	n.Ordinals = o.Spec.Ordinals
	n.PersistentVolumeClaimRetentionPolicy = o.Spec.PersistentVolumeClaimRetentionPolicy
	n.RevisionHistoryLimit = o.Spec.RevisionHistoryLimit
	if !semanticEqual(n, &o.Spec) {
		return ErrorList{Forbidden(NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
	}
	return nil
}
