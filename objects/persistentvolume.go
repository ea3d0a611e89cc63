package objects

import "fmt"

// PersistentVolume is a piece of storage a claim binds to (v1,
// cluster-scoped).
type PersistentVolume struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   PersistentVolumeSpec   `json:"spec,omitempty"`
	Status PersistentVolumeStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (v *PersistentVolume) DeepCopyObject() Object { return v.DeepCopy() }

// PersistentVolumeSpec is the desired state of a volume.
type PersistentVolumeSpec struct {
	Capacity                      ResourceList `json:"capacity,omitempty"`
	PersistentVolumeSource        `json:",inline"`
	AccessModes                   []PersistentVolumeAccessMode  `json:"accessModes,omitempty"`
	ClaimRef                      *ObjectReference              `json:"claimRef,omitempty"`
	PersistentVolumeReclaimPolicy PersistentVolumeReclaimPolicy `json:"persistentVolumeReclaimPolicy,omitempty"`
	StorageClassName              string                        `json:"storageClassName,omitempty"`
	MountOptions                  []string                      `json:"mountOptions,omitempty"`
	VolumeMode                    *PersistentVolumeMode         `json:"volumeMode,omitempty"`
	NodeAffinity                  *VolumeNodeAffinity           `json:"nodeAffinity,omitempty"`
}

// PersistentVolumeSource is where a volume's storage is; exactly one field
// is set.
type PersistentVolumeSource struct {
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
	Local    *LocalVolumeSource    `json:"local,omitempty"`
}

// LocalVolumeSource is a directory or device of one node; the volume needs
// node affinity to that node.
type LocalVolumeSource struct {
	Path   string  `json:"path"`
	FSType *string `json:"fsType,omitempty"`
}

// VolumeNodeAffinity restricts the nodes a volume can be used from.
type VolumeNodeAffinity struct {
	Required *NodeSelector `json:"required,omitempty"`
}

// PersistentVolumeAccessMode says how a volume can be mounted.
type PersistentVolumeAccessMode string

// Access modes.
const (
	ReadWriteOnce    PersistentVolumeAccessMode = "ReadWriteOnce"
	ReadOnlyMany     PersistentVolumeAccessMode = "ReadOnlyMany"
	ReadWriteMany    PersistentVolumeAccessMode = "ReadWriteMany"
	ReadWriteOncePod PersistentVolumeAccessMode = "ReadWriteOncePod"
)

// PersistentVolumeReclaimPolicy says what happens to a released volume.
type PersistentVolumeReclaimPolicy string

// Reclaim policies.
const (
	PersistentVolumeReclaimRecycle PersistentVolumeReclaimPolicy = "Recycle"
	PersistentVolumeReclaimDelete  PersistentVolumeReclaimPolicy = "Delete"
	PersistentVolumeReclaimRetain  PersistentVolumeReclaimPolicy = "Retain"
)

// PersistentVolumeMode is Filesystem or Block.
type PersistentVolumeMode string

// Volume modes.
const (
	PersistentVolumeBlock      PersistentVolumeMode = "Block"
	PersistentVolumeFilesystem PersistentVolumeMode = "Filesystem"
)

// PersistentVolumeStatus is the observed state of a volume.
type PersistentVolumeStatus struct {
	Phase                   PersistentVolumePhase `json:"phase,omitempty"`
	Message                 string                `json:"message,omitempty"`
	Reason                  string                `json:"reason,omitempty"`
	LastPhaseTransitionTime *Time                 `json:"lastPhaseTransitionTime,omitempty"`
}

// PersistentVolumePhase is the life-cycle phase of a volume.
type PersistentVolumePhase string

// Volume phases.
const (
	VolumePending   PersistentVolumePhase = "Pending"
	VolumeAvailable PersistentVolumePhase = "Available"
	VolumeBound     PersistentVolumePhase = "Bound"
	VolumeReleased  PersistentVolumePhase = "Released"
	VolumeFailed    PersistentVolumePhase = "Failed"
)

// PrepareForCreate implements store.CreatePreparer, as Kubernetes'
// strategy: whatever status was sent, a new volume is Pending, since its
// creation.
func (v *PersistentVolume) PrepareForCreate() {
	t := v.CreationTimestamp
	v.Status = PersistentVolumeStatus{Phase: VolumePending, LastPhaseTransitionTime: &t}
}

// Default implements Defaulter: reclaim policy Retain, volume mode
// Filesystem, phase Pending.
func (v *PersistentVolume) Default() {
	if v.Spec.PersistentVolumeReclaimPolicy == "" {
		v.Spec.PersistentVolumeReclaimPolicy = PersistentVolumeReclaimRetain
	}
	if v.Spec.VolumeMode == nil {
		m := PersistentVolumeFilesystem
		v.Spec.VolumeMode = &m
	}
	if v.Status.Phase == "" {
		v.Status.Phase = VolumePending
	}
}

var accessModes = []string{string(ReadOnlyMany), string(ReadWriteMany), string(ReadWriteOnce), string(ReadWriteOncePod)}

func validateAccessModes(modes []PersistentVolumeAccessMode, p *Path) ErrorList {
	var errs ErrorList
	if len(modes) == 0 {
		return ErrorList{Required(p, "at least 1 access mode is required")}
	}
	rwop := false
	for _, m := range modes {
		switch m {
		case ReadWriteOncePod:
			rwop = true
		case ReadWriteOnce, ReadOnlyMany, ReadWriteMany:
		default:
			errs = append(errs, NotSupported(p, string(m), accessModes))
		}
	}
	if rwop && len(modes) > 1 {
		errs = append(errs, Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validateVolumeMode(m *PersistentVolumeMode, p *Path) ErrorList {
	if m != nil && *m != PersistentVolumeBlock && *m != PersistentVolumeFilesystem {
		return ErrorList{NotSupported(p, string(*m), []string{string(PersistentVolumeBlock), string(PersistentVolumeFilesystem)})}
	}
	return nil
}

// Validate implements Validator.
func (v *PersistentVolume) Validate() ErrorList {
	p := NewPath("spec")
	s := &v.Spec
	errs := validateAccessModes(s.AccessModes, p.Child("accessModes"))
	cp := p.Child("capacity")
	if len(s.Capacity) == 0 {
		errs = append(errs, Required(cp, ""))
	} else if st, ok := s.Capacity[ResourceStorage]; !ok || len(s.Capacity) > 1 {
		errs = append(errs, NotSupported(cp, fmt.Sprint(sortedResourceNames(s.Capacity)), []string{string(ResourceStorage)}))
	} else if st.Sign() <= 0 {
		errs = append(errs, Invalid(cp.Key(string(ResourceStorage)), st.String(), "must be greater than zero"))
	}
	switch s.PersistentVolumeReclaimPolicy {
	case PersistentVolumeReclaimRecycle, PersistentVolumeReclaimDelete, PersistentVolumeReclaimRetain:
	default:
		errs = append(errs, NotSupported(p.Child("persistentVolumeReclaimPolicy"), string(s.PersistentVolumeReclaimPolicy),
			[]string{string(PersistentVolumeReclaimDelete), string(PersistentVolumeReclaimRecycle), string(PersistentVolumeReclaimRetain)}))
	}
	if s.StorageClassName != "" {
		errs = appendMsgs(errs, p.Child("storageClassName"), s.StorageClassName, IsDNS1123Subdomain(s.StorageClassName))
	}
	errs = append(errs, validateVolumeMode(s.VolumeMode, p.Child("volumeMode"))...)
	if na := s.NodeAffinity; na != nil {
		ap := p.Child("nodeAffinity")
		if na.Required == nil {
			errs = append(errs, Required(ap.Child("required"), "must specify required node constraints"))
		} else {
			errs = append(errs, ValidateNodeSelector(na.Required, ap.Child("required"))...)
		}
	}
	n := 0
	if s.HostPath != nil {
		n++
		hp := p.Child("hostPath")
		if s.HostPath.Path == "" {
			errs = append(errs, Required(hp.Child("path"), ""))
		} else {
			errs = append(errs, validateNoBacksteps(s.HostPath.Path, hp.Child("path"))...)
		}
	}
	if s.Local != nil {
		lp := p.Child("local")
		if n > 0 {
			errs = append(errs, Forbidden(lp, "may not specify more than 1 volume type"))
		} else {
			n++
			if s.Local.Path == "" {
				errs = append(errs, Required(lp.Child("path"), ""))
			} else {
				errs = append(errs, validateNoBacksteps(s.Local.Path, lp.Child("path"))...)
			}
			if s.NodeAffinity == nil || s.NodeAffinity.Required == nil {
				errs = append(errs, Required(p.Child("nodeAffinity"), "Local volumes require node affinity"))
			}
		}
	}
	if n == 0 {
		errs = append(errs, Required(p, "must specify a volume type"))
	}
	if r := s.ClaimRef; r != nil {
		if r.Name == "" {
			errs = append(errs, Required(p.Child("claimRef", "name"), ""))
		}
		if r.Namespace == "" {
			errs = append(errs, Required(p.Child("claimRef", "namespace"), ""))
		}
	}
	return errs
}

// ValidateUpdate implements UpdateValidator: the volume source and mode
// never change; node affinity may only be added.
func (v *PersistentVolume) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*PersistentVolume)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a PersistentVolume against it")}
	}
	var errs ErrorList
	p := NewPath("spec")
	if !jsonEqual(v.Spec.PersistentVolumeSource, o.Spec.PersistentVolumeSource) {
		errs = append(errs, Forbidden(p.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	if !jsonEqual(v.Spec.VolumeMode, o.Spec.VolumeMode) {
		errs = append(errs, Invalid(p.Child("volumeMode"), derefMode(v.Spec.VolumeMode), "field is immutable"))
	}
	if o.Spec.NodeAffinity != nil && !jsonEqual(v.Spec.NodeAffinity, o.Spec.NodeAffinity) {
		errs = append(errs, Forbidden(p.Child("nodeAffinity"), "field is immutable once set"))
	}
	return errs
}

func derefMode(m *PersistentVolumeMode) string {
	if m == nil {
		return ""
	}
	return string(*m)
}
