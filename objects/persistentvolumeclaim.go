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
	// DataSource asks for a volume filled from another object in the
	// claim's namespace: a PersistentVolumeClaim (a clone) or a
	// snapshot.storage.k8s.io VolumeSnapshot.
	DataSource *TypedLocalObjectReference `json:"dataSource,omitempty"`
	// DataSourceRef is DataSource's successor, which may name any kind (a
	// volume populator's). When only one of the two is set, defaulting
	// fills the other, as the API server does.
	DataSourceRef *TypedObjectReference `json:"dataSourceRef,omitempty"`
}

// TypedObjectReference names an object of any kind (v1). APIGroup is empty
// for the core group; Namespace, for the referrer's namespace.
type TypedObjectReference struct {
	APIGroup  *string `json:"apiGroup"`
	Kind      string  `json:"kind"`
	Name      string  `json:"name"`
	Namespace *string `json:"namespace,omitempty"`
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

// Default implements Defaulter: volume mode Filesystem, phase Pending, and
// dataSource and dataSourceRef in step (see NormalizeDataSources).
func (c *PersistentVolumeClaim) Default() {
	DefaultPersistentVolumeClaimSpec(&c.Spec)
	NormalizeDataSources(&c.Spec)
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

// NormalizeDataSources fills whichever of dataSource and dataSourceRef is
// unset from the other, as the API server does for claims (not for claim
// templates): dataSource, only a PersistentVolumeClaim or a VolumeSnapshot
// (Kubernetes drops other kinds there, which validation refuses instead),
// is copied to dataSourceRef; dataSourceRef, of any kind, is copied to
// dataSource unless it names a namespace, which dataSource cannot hold.
func NormalizeDataSources(s *PersistentVolumeClaimSpec) {
	switch ds, ref := s.DataSource, s.DataSourceRef; {
	case ds != nil && ref == nil && isClaimOrSnapshot(ds.APIGroup, ds.Kind):
		s.DataSourceRef = &TypedObjectReference{APIGroup: copyAPIGroup(ds.APIGroup), Kind: ds.Kind, Name: ds.Name}
	case ref != nil && ds == nil && (ref.Namespace == nil || *ref.Namespace == ""):
		s.DataSource = &TypedLocalObjectReference{APIGroup: copyAPIGroup(ref.APIGroup), Kind: ref.Kind, Name: ref.Name}
	}
}

// The kinds spec.dataSource has always accepted.
const (
	dataSourceKindClaim     = "PersistentVolumeClaim"
	dataSourceKindSnapshot  = "VolumeSnapshot"
	dataSourceGroupSnapshot = "snapshot.storage.k8s.io"
)

func isClaimOrSnapshot(apiGroup *string, kind string) bool {
	group := ""
	if apiGroup != nil {
		group = *apiGroup
	}
	return (group == "" && kind == dataSourceKindClaim) || (group == dataSourceGroupSnapshot && kind == dataSourceKindSnapshot)
}

func copyAPIGroup(s *string) *string {
	if s == nil {
		return nil
	}
	v := *s
	return &v
}

// validateDataSources checks dataSource and dataSourceRef with Kubernetes'
// rules, and refuses what Kubernetes would silently drop: a dataSource of
// another kind than PersistentVolumeClaim or VolumeSnapshot without a
// dataSourceRef (it would get an empty volume), and a dataSourceRef
// naming a namespace (cross-namespace sources are an alpha feature, off by
// default, and podkit has no ReferenceGrant to allow them).
func validateDataSources(s *PersistentVolumeClaimSpec, p *Path) ErrorList {
	var errs ErrorList
	check := func(apiGroup *string, kind, name string, fp *Path) {
		if name == "" {
			errs = append(errs, Required(fp.Child("name"), ""))
		}
		if kind == "" {
			errs = append(errs, Required(fp.Child("kind"), ""))
		}
		if apiGroup == nil || *apiGroup == "" {
			if kind != dataSourceKindClaim {
				errs = append(errs, Invalid(fp, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
			}
		} else {
			errs = appendMsgs(errs, fp.Child("apiGroup"), *apiGroup, IsDNS1123Subdomain(*apiGroup))
		}
	}
	ds, ref := s.DataSource, s.DataSourceRef
	if ds != nil {
		dp := p.Child("dataSource")
		check(ds.APIGroup, ds.Kind, ds.Name, dp)
		if ref == nil && ds.APIGroup != nil && *ds.APIGroup != "" && !isClaimOrSnapshot(ds.APIGroup, ds.Kind) {
			errs = append(errs, Invalid(dp.Child("kind"), ds.Kind, "dataSource takes only a PersistentVolumeClaim or a "+
				dataSourceGroupSnapshot+" VolumeSnapshot (Kubernetes ignores other kinds here); name other kinds in dataSourceRef"))
		}
	}
	if ref != nil {
		rp := p.Child("dataSourceRef")
		check(ref.APIGroup, ref.Kind, ref.Name, rp)
		if ref.Namespace != nil && *ref.Namespace != "" {
			if msgs := IsDNS1123Label(*ref.Namespace); len(msgs) > 0 {
				errs = appendMsgs(errs, rp.Child("namespace"), *ref.Namespace, msgs)
			} else {
				errs = append(errs, Forbidden(rp.Child("namespace"), "cross-namespace data sources (Kubernetes' alpha CrossNamespaceVolumeDataSource) are not supported; leave namespace empty to name an object in the claim's namespace"))
			}
			if ds != nil {
				errs = append(errs, Invalid(p, p.Child("dataSource").String(), "may not be specified when dataSourceRef.namespace is specified"))
			}
		} else if ds != nil && !(sameAPIGroup(ds.APIGroup, ref.APIGroup) && ds.Kind == ref.Kind && ds.Name == ref.Name) {
			errs = append(errs, Invalid(p, p.Child("dataSource").String(), "must match dataSourceRef"))
		}
	}
	return errs
}

func sameAPIGroup(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// Validate implements Validator.
func (c *PersistentVolumeClaim) Validate() ErrorList {
	return ValidatePersistentVolumeClaimSpec(&c.Spec, NewPath("spec"))
}

// ValidatePersistentVolumeClaimSpec checks a claim spec: access modes,
// selector, a positive storage request, class name, volume mode and data
// sources.
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
	errs = append(errs, validateVolumeMode(s.VolumeMode, p.Child("volumeMode"))...)
	return append(errs, validateDataSources(s, p)...)
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
