package objects

// StorageClass describes a kind of storage: which provisioner creates its
// volumes, with what parameters, and when claims bind
// (storage.k8s.io/v1, cluster-scoped). As in Kubernetes it has no spec.
type StorageClass struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Provisioner names the volume plugin, such as "rancher.io/local-path";
	// immutable.
	Provisioner string `json:"provisioner"`
	// Parameters are passed to the provisioner; immutable.
	Parameters map[string]string `json:"parameters,omitempty"`
	// ReclaimPolicy of the volumes provisioned; defaults to Delete;
	// immutable.
	ReclaimPolicy        *PersistentVolumeReclaimPolicy `json:"reclaimPolicy,omitempty"`
	MountOptions         []string                       `json:"mountOptions,omitempty"`
	AllowVolumeExpansion *bool                          `json:"allowVolumeExpansion,omitempty"`
	// VolumeBindingMode defaults to Immediate; immutable.
	VolumeBindingMode *VolumeBindingMode `json:"volumeBindingMode,omitempty"`
	// AllowedTopologies restricts where volumes may be provisioned; any
	// term may match.
	AllowedTopologies []TopologySelectorTerm `json:"allowedTopologies,omitempty"`
}

// DeepCopyObject implements Object.
func (c *StorageClass) DeepCopyObject() Object { return c.DeepCopy() }

// AnnotationIsDefaultStorageClass set to "true" on a StorageClass makes it
// the class of claims that name none.
const AnnotationIsDefaultStorageClass = "storageclass.kubernetes.io/is-default-class"

// VolumeBindingMode says when a claim of the class is bound.
type VolumeBindingMode string

// Volume binding modes.
const (
	// VolumeBindingImmediate binds and provisions as soon as the claim is
	// created.
	VolumeBindingImmediate VolumeBindingMode = "Immediate"
	// VolumeBindingWaitForFirstConsumer waits until a pod using the claim is
	// scheduled, so that the volume is made where the pod runs.
	VolumeBindingWaitForFirstConsumer VolumeBindingMode = "WaitForFirstConsumer"
)

// TopologySelectorTerm is a set of topology label requirements, all of
// which must hold (v1).
type TopologySelectorTerm struct {
	MatchLabelExpressions []TopologySelectorLabelRequirement `json:"matchLabelExpressions,omitempty"`
}

// TopologySelectorLabelRequirement requires the label Key to have one of
// Values.
type TopologySelectorLabelRequirement struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// Default fills in defaults as Kubernetes' SetDefaults_StorageClass does.
func (c *StorageClass) Default() {
	if c.ReclaimPolicy == nil {
		c.ReclaimPolicy = ptrTo(PersistentVolumeReclaimDelete)
	}
	if c.VolumeBindingMode == nil {
		c.VolumeBindingMode = ptrTo(VolumeBindingImmediate)
	}
}

const (
	maxProvisionerParameterSize = 256 * 1024
	maxProvisionerParameterLen  = 512
)

// Validate checks the class as Kubernetes' ValidateStorageClass does.
func (c *StorageClass) Validate() ErrorList {
	var errs ErrorList
	pp := NewPath("provisioner")
	if c.Provisioner == "" {
		errs = append(errs, Required(pp, ""))
	} else {
		errs = appendMsgs(errs, pp, c.Provisioner, IsQualifiedName(lowerASCII(c.Provisioner)))
	}

	params := NewPath("parameters")
	if len(c.Parameters) > maxProvisionerParameterLen {
		errs = append(errs, TooLong(params, "Provisioner Parameters exceeded max allowed", maxProvisionerParameterLen))
	} else {
		size := 0
		for k, v := range c.Parameters {
			if k == "" {
				errs = append(errs, Invalid(params, k, "field can not be empty."))
			}
			size += len(k) + len(v)
		}
		if size > maxProvisionerParameterSize {
			errs = append(errs, TooLong(params, "", maxProvisionerParameterSize))
		}
	}

	if r := c.ReclaimPolicy; r != nil && *r != "" && *r != PersistentVolumeReclaimDelete && *r != PersistentVolumeReclaimRetain {
		errs = append(errs, NotSupported(NewPath("reclaimPolicy"), string(*r),
			[]string{string(PersistentVolumeReclaimDelete), string(PersistentVolumeReclaimRetain)}))
	}

	mp := NewPath("volumeBindingMode")
	switch {
	case c.VolumeBindingMode == nil:
		errs = append(errs, Required(mp, ""))
	case *c.VolumeBindingMode != VolumeBindingImmediate && *c.VolumeBindingMode != VolumeBindingWaitForFirstConsumer:
		errs = append(errs, NotSupported(mp, string(*c.VolumeBindingMode),
			[]string{string(VolumeBindingImmediate), string(VolumeBindingWaitForFirstConsumer)}))
	}

	return append(errs, validateAllowedTopologies(c.AllowedTopologies, NewPath("allowedTopologies"))...)
}

// ValidateUpdate rejects changes to the provisioner, its parameters, the
// reclaim policy and the binding mode.
func (c *StorageClass) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*StorageClass)
	if !ok {
		return ErrorList{wrongOldType(old, c)}
	}
	var errs ErrorList
	if !semanticEqual(c.Parameters, o.Parameters) {
		errs = append(errs, Forbidden(NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if c.Provisioner != o.Provisioner {
		errs = append(errs, Forbidden(NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !semanticEqual(c.ReclaimPolicy, o.ReclaimPolicy) {
		errs = append(errs, Forbidden(NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(errs, validateImmutable(c.VolumeBindingMode, o.VolumeBindingMode, NewPath("volumeBindingMode"))...)
}

func validateAllowedTopologies(terms []TopologySelectorTerm, p *Path) ErrorList {
	var errs ErrorList
	var seen []map[string]map[string]bool
	for i, term := range terms {
		tp := p.Index(i)
		ep := tp.Child("matchLabelExpressions")
		exprs := map[string]map[string]bool{}
		for j, r := range term.MatchLabelExpressions {
			rp := ep.Index(j)
			values := map[string]bool{}
			if len(r.Values) == 0 {
				errs = append(errs, Required(rp.Child("values"), ""))
			}
			for k, v := range r.Values {
				if values[v] {
					errs = append(errs, Duplicate(rp.Child("values").Index(k), v))
				}
				values[v] = true
			}
			errs = appendMsgs(errs, rp.Child("key"), r.Key, IsQualifiedName(r.Key))
			if _, dup := exprs[r.Key]; dup {
				errs = append(errs, Duplicate(rp.Child("key"), r.Key))
			}
			exprs[r.Key] = values
		}
		for _, s := range seen {
			if semanticEqual(s, exprs) {
				errs = append(errs, Duplicate(ep, ""))
				break
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
