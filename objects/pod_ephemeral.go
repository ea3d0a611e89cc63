package objects

// EphemeralVolumeSource is a generic ephemeral volume: a
// PersistentVolumeClaim made from VolumeClaimTemplate for one pod, named
// "<pod name>-<volume name>" (EphemeralClaimName), owned by the pod and
// so deleted with it. The claim is provisioned and bound as any other;
// the pod is scheduled once it exists, and only if the pod owns it: a
// claim of that name made otherwise keeps the pod from being scheduled.
type EphemeralVolumeSource struct {
	VolumeClaimTemplate *PersistentVolumeClaimTemplate `json:"volumeClaimTemplate,omitempty"`
}

// PersistentVolumeClaimTemplate is what the claim of an ephemeral volume
// is made from: its labels and annotations, and its spec. Other metadata
// is not used; the claim's name is derived from the pod's.
type PersistentVolumeClaimTemplate struct {
	ObjectMeta `json:"metadata,omitempty"`
	Spec       PersistentVolumeClaimSpec `json:"spec"`
}

// EphemeralClaimName is the name of the claim of pod's ephemeral volume
// vol: "<pod name>-<volume name>".
func EphemeralClaimName(pod *Pod, vol *Volume) string { return pod.Name + "-" + vol.Name }

// VolumeClaimName is the claim a pod's volume uses: the one it names, or
// the one made for it when it is an ephemeral volume; "" for a volume of
// another type.
func VolumeClaimName(pod *Pod, vol *Volume) string {
	switch {
	case vol.PersistentVolumeClaim != nil:
		return vol.PersistentVolumeClaim.ClaimName
	case vol.Ephemeral != nil:
		return EphemeralClaimName(pod, vol)
	}
	return ""
}

// IsEphemeralClaimOf reports whether claim is the one made for pod's
// ephemeral volume: pod is its controller.
func IsEphemeralClaimOf(claim *PersistentVolumeClaim, pod *Pod) bool {
	ref := claim.ControllerRef()
	return ref != nil && ref.UID == pod.UID && ref.Kind == "Pod"
}

// NewEphemeralClaim returns the claim of pod's ephemeral volume vol, owned
// by pod.
func NewEphemeralClaim(pod *Pod, vol *Volume) *PersistentVolumeClaim {
	t := vol.Ephemeral.VolumeClaimTemplate
	yes := true
	c := &PersistentVolumeClaim{
		ObjectMeta: ObjectMeta{
			Namespace: pod.Namespace, Name: EphemeralClaimName(pod, vol),
			OwnerReferences: []OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
				Controller: &yes, BlockOwnerDeletion: &yes}},
		},
	}
	t = t.DeepCopy()
	c.Labels, c.Annotations, c.Spec = t.Labels, t.Annotations, t.Spec
	return c
}

// validateEphemeralVolumeSource checks an ephemeral volume as Kubernetes
// does: a template, valid labels and annotations, a valid claim spec.
func validateEphemeralVolumeSource(s *EphemeralVolumeSource, p *Path) ErrorList {
	t := s.VolumeClaimTemplate
	tp := p.Child("volumeClaimTemplate")
	if t == nil {
		return ErrorList{Required(tp, "")}
	}
	mp := tp.Child("metadata")
	errs := ValidateLabels(t.Labels, mp.Child("labels"))
	errs = append(errs, ValidateAnnotations(t.Annotations, mp.Child("annotations"))...)
	return append(errs, ValidatePersistentVolumeClaimSpec(&t.Spec, tp.Child("spec"))...)
}
