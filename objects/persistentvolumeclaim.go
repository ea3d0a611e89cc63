package objects

import "fmt"

// PersistentVolumeClaim is a request for storage, bound to one
// PersistentVolume (v1).
type PersistentVolumeClaim struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   PersistentVolumeClaimSpec   `json:"spec,omitempty"`
	Status PersistentVolumeClaimStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (c *PersistentVolumeClaim) DeepCopyObject() Object { return c.DeepCopy() }

// PersistentVolumeClaimSpec is what a claim asks for.
type PersistentVolumeClaimSpec struct {
	AccessModes      []PersistentVolumeAccessMode `json:"accessModes,omitempty"`
	Selector         *LabelSelector               `json:"selector,omitempty"`
	Resources        VolumeResourceRequirements   `json:"resources,omitempty"`
	VolumeName       string                       `json:"volumeName,omitempty"`
	StorageClassName *string                      `json:"storageClassName,omitempty"`
	VolumeMode       *PersistentVolumeMode        `json:"volumeMode,omitempty"`
}

// VolumeResourceRequirements is the storage a claim requests (and at most
// uses).
type VolumeResourceRequirements struct {
	Limits   ResourceList `json:"limits,omitempty"`
	Requests ResourceList `json:"requests,omitempty"`
}

// PersistentVolumeClaimStatus is the observed state of a claim.
type PersistentVolumeClaimStatus struct {
	Phase       PersistentVolumeClaimPhase       `json:"phase,omitempty"`
	AccessModes []PersistentVolumeAccessMode     `json:"accessModes,omitempty"`
	Capacity    ResourceList                     `json:"capacity,omitempty"`
	Conditions  []PersistentVolumeClaimCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	// AllocatedResources is the storage an expansion of the claim's volume
	// (a bigger spec.resources.requests.storage) was given.
	AllocatedResources ResourceList `json:"allocatedResources,omitempty"`
}

// PersistentVolumeClaimPhase is Pending, Bound or Lost.
type PersistentVolumeClaimPhase string

// Claim phases.
const (
	ClaimPending PersistentVolumeClaimPhase = "Pending"
	ClaimBound   PersistentVolumeClaimPhase = "Bound"
	ClaimLost    PersistentVolumeClaimPhase = "Lost"
)

// PersistentVolumeClaimConditionType names a claim condition.
type PersistentVolumeClaimConditionType string

// PersistentVolumeClaimCondition is one condition of a claim.
type PersistentVolumeClaimCondition struct {
	Type               PersistentVolumeClaimConditionType `json:"type"`
	Status             ConditionStatus                    `json:"status"`
	LastProbeTime      Time                               `json:"lastProbeTime,omitempty"`
	LastTransitionTime Time                               `json:"lastTransitionTime,omitempty"`
	Reason             string                             `json:"reason,omitempty"`
	Message            string                             `json:"message,omitempty"`
}

// PrepareForCreate implements store.CreatePreparer: whatever status was
// sent, a new claim is Pending, as Kubernetes' strategy clears the status
// and its defaulting sets the phase.
func (c *PersistentVolumeClaim) PrepareForCreate() {
	c.Status = PersistentVolumeClaimStatus{Phase: ClaimPending}
}

// Default implements Defaulter: volume mode Filesystem, phase Pending.
func (c *PersistentVolumeClaim) Default() {
	DefaultPersistentVolumeClaimSpec(&c.Spec)
	if c.Status.Phase == "" {
		c.Status.Phase = ClaimPending
	}
}

// DefaultPersistentVolumeClaimSpec fills in a claim spec's defaults, for
// claims and for StatefulSet volumeClaimTemplates.
func DefaultPersistentVolumeClaimSpec(s *PersistentVolumeClaimSpec) {
	if s.VolumeMode == nil {
		m := PersistentVolumeFilesystem
		s.VolumeMode = &m
	}
}

// Validate implements Validator.
func (c *PersistentVolumeClaim) Validate() ErrorList {
	return ValidatePersistentVolumeClaimSpec(&c.Spec, NewPath("spec"))
}

// ValidatePersistentVolumeClaimSpec checks a claim spec: access modes,
// selector, a positive storage request, class name and volume mode.
func ValidatePersistentVolumeClaimSpec(s *PersistentVolumeClaimSpec, p *Path) ErrorList {
	errs := validateAccessModes(s.AccessModes, p.Child("accessModes"))
	if s.Selector != nil {
		errs = append(errs, ValidateLabelSelector(s.Selector, p.Child("selector"))...)
	}
	rp := p.Child("resources")
	if st, ok := s.Resources.Requests[ResourceStorage]; !ok {
		errs = append(errs, Required(rp.Key("requests"), "storage request is required"))
	} else if st.Sign() <= 0 {
		errs = append(errs, Invalid(rp.Child("requests").Key(string(ResourceStorage)), st.String(), "must be greater than zero"))
	}
	for _, l := range []struct {
		name string
		list ResourceList
	}{{"requests", s.Resources.Requests}, {"limits", s.Resources.Limits}} {
		for _, name := range sortedResourceNames(l.list) {
			kp := rp.Child(l.name).Key(string(name))
			if name != ResourceStorage {
				errs = append(errs, NotSupported(kp, string(name), []string{string(ResourceStorage)}))
			} else if q := l.list[name]; q.Sign() < 0 {
				errs = append(errs, Invalid(kp, q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	if lim, ok := s.Resources.Limits[ResourceStorage]; ok {
		if req, ok := s.Resources.Requests[ResourceStorage]; ok && req.Cmp(lim) > 0 {
			errs = append(errs, Invalid(rp.Child("requests"), req.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", ResourceStorage, lim.String())))
		}
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = appendMsgs(errs, p.Child("storageClassName"), *s.StorageClassName, IsDNS1123Subdomain(*s.StorageClassName))
	}
	return append(errs, validateVolumeMode(s.VolumeMode, p.Child("volumeMode"))...)
}

// ValidateUpdate implements UpdateValidator: the spec is immutable except
// that volumeName may be set once (binding), and a bound claim's storage
// request may grow.
func (c *PersistentVolumeClaim) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*PersistentVolumeClaim)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a PersistentVolumeClaim against it")}
	}
	var errs ErrorList
	mut := o.Spec.DeepCopy()
	if mut.VolumeName == "" {
		mut.VolumeName = c.Spec.VolumeName
	}
	if o.Status.Phase == ClaimBound {
		newReq, okNew := c.Spec.Resources.Requests[ResourceStorage]
		oldReq, okOld := o.Spec.Resources.Requests[ResourceStorage]
		if okNew && okOld {
			if newReq.Cmp(oldReq) < 0 {
				errs = append(errs, Forbidden(NewPath("spec", "resources", "requests", "storage"), "field can not be less than previous value"))
			}
			mut.Resources.Requests[ResourceStorage] = newReq
		}
	}
	if !jsonEqual(mut, &c.Spec) {
		errs = append(errs, Forbidden(NewPath("spec"), "spec is immutable after creation except resources.requests for bound claims"))
	}
	return errs
}
