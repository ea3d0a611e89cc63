package scheduler

import (
	"fmt"
	"slices"

	"github.com/podkit/podkit/objects"
)

// Reasons of VolumeBinding, as Kubernetes words them.
const (
	reasonVolumeNodeConflict = "node(s) had volume node affinity conflict"
	reasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind"
	reasonPVNotExist         = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	reasonUnboundImmediate   = "pod has unbound immediate PersistentVolumeClaims"

	// AnnotationSelectedNode is set on a WaitForFirstConsumer claim when its
	// pod is bound: the node its volume must be reachable from, for the
	// claim binder or provisioner.
	AnnotationSelectedNode = "volume.kubernetes.io/selected-node"
	// annotationDefaultClass marks the default StorageClass.
	annotationDefaultClass = "storageclass.kubernetes.io/is-default-class"
	// noProvisioner is the provisioner of classes of static volumes only.
	noProvisioner = "kubernetes.io/no-provisioner"
)

var (
	statusVolumeNodeConflict = NewStatus(UnschedulableAndUnresolvable, reasonVolumeNodeConflict)
	statusVolumeBindConflict = NewStatus(UnschedulableAndUnresolvable, reasonVolumeBindConflict)
	statusPVNotExist         = NewStatus(UnschedulableAndUnresolvable, reasonPVNotExist)
)

// NewVolumeBinding returns the VolumeBinding filter for the pod's
// persistentVolumeClaim volumes. A claim must exist. A bound claim's volume
// must exist and its node affinity (a local volume's node) must match the
// node. An unbound claim of a WaitForFirstConsumer class needs, on the node,
// an available volume of its class that is large enough and reachable, or
// a class that provisions volumes there: one with a provisioner whose
// allowedTopologies, if any, match the node's labels. An unbound claim of
// an Immediate class must be bound before the pod can be placed.
func NewVolumeBinding() Plugin { return volumeBinding{} }

type volumeBinding struct{}

func (volumeBinding) Name() string { return "VolumeBinding" }

func (volumeBinding) Locality() Locality { return LocalityNodeObject }

type volumeState struct {
	bound       []*objects.PersistentVolume
	missingPV   bool
	delayed     []delayedClaim // unbound WaitForFirstConsumer claims
	candidates  [][]*objects.PersistentVolume
	provisioned []bool // the claim's class provisions volumes
	// allowed are the topologies of the claim's class where it provisions
	// (none: everywhere).
	allowed [][]objects.TopologySelectorTerm
}

type delayedClaim struct {
	claim *objects.PersistentVolumeClaim
	class string
}

func (volumeBinding) PreFilter(snap *Snapshot, pod *PodInfo) (any, *Status) {
	st := &volumeState{}
	claims := false
	for i := range pod.pod.Spec.Volumes {
		v := &pod.pod.Spec.Volumes[i]
		name := objects.VolumeClaimName(pod.pod, v)
		if name == "" {
			continue
		}
		claims = true
		pvc := snap.PersistentVolumeClaim(pod.namespace, name)
		if pvc == nil {
			return nil, NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if v.Ephemeral != nil && !objects.IsEphemeralClaimOf(pvc, pod.pod) {
			return nil, NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("PVC %s/%s was not created for pod %s/%s (pod is not owner)", pod.namespace, name, pod.namespace, pod.pod.Name))
		}
		if pvc.DeletionTimestamp != nil {
			return nil, NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
		}
		if pvc.Spec.VolumeName != "" {
			pv := snap.PersistentVolume(pvc.Spec.VolumeName)
			if pv == nil {
				st.missingPV = true
				continue
			}
			st.bound = append(st.bound, pv)
			continue
		}
		class := snap.claimClass(pvc)
		if class == nil || class.VolumeBindingMode == nil || *class.VolumeBindingMode != objects.VolumeBindingWaitForFirstConsumer {
			return nil, NewStatus(UnschedulableAndUnresolvable, reasonUnboundImmediate)
		}
		st.delayed = append(st.delayed, delayedClaim{claim: pvc, class: class.Name})
		st.candidates = append(st.candidates, snap.availableVolumes(pvc, class.Name))
		st.provisioned = append(st.provisioned, class.Provisioner != "" && class.Provisioner != noProvisioner)
		st.allowed = append(st.allowed, class.AllowedTopologies)
	}
	if !claims {
		return nil, statusSkip
	}
	return st, nil
}

func (volumeBinding) Filter(state any, _ *PodInfo, node *NodeInfo) *Status {
	st := state.(*volumeState)
	if st.missingPV {
		return statusPVNotExist
	}
	for _, pv := range st.bound {
		if na := pv.Spec.NodeAffinity; na != nil && na.Required != nil && !matchesNodeSelector(na.Required, node) {
			return statusVolumeNodeConflict
		}
	}
	for i := range st.delayed {
		if slices.ContainsFunc(st.candidates[i], func(pv *objects.PersistentVolume) bool {
			na := pv.Spec.NodeAffinity
			return na == nil || na.Required == nil || matchesNodeSelector(na.Required, node)
		}) {
			continue
		}
		if !st.provisioned[i] || !matchesTopology(st.allowed[i], node.labels) {
			return statusVolumeBindConflict
		}
	}
	return nil
}

// matchesTopology is Kubernetes' MatchTopologySelectorTerms: no terms
// match every node; otherwise some term with expressions must have every
// one of them met.
func matchesTopology(terms []objects.TopologySelectorTerm, labels map[string]string) bool {
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		if len(t.MatchLabelExpressions) == 0 {
			continue
		}
		if !slices.ContainsFunc(t.MatchLabelExpressions, func(r objects.TopologySelectorLabelRequirement) bool {
			v, ok := labels[r.Key]
			return !ok || !slices.Contains(r.Values, v)
		}) {
			return true
		}
	}
	return false
}

// claimClass returns the StorageClass of a claim: the one it names, or the
// default class when it names none; nil when there is none.
func (s *Snapshot) claimClass(pvc *objects.PersistentVolumeClaim) *objects.StorageClass {
	if pvc.Spec.StorageClassName != nil {
		if *pvc.Spec.StorageClassName == "" {
			return nil
		}
		return s.storageClasses[*pvc.Spec.StorageClassName]
	}
	for _, c := range s.storageClasses {
		if c.Annotations[annotationDefaultClass] == "true" {
			return c
		}
	}
	return nil
}

// availableVolumes lists the volumes an unbound claim could bind to: of its
// class, not claimed by another claim, large enough, with the access modes
// and volume mode asked for.
func (s *Snapshot) availableVolumes(pvc *objects.PersistentVolumeClaim, class string) []*objects.PersistentVolume {
	var out []*objects.PersistentVolume
	want := pvc.Spec.Resources.Requests[objects.ResourceStorage]
	for _, pv := range s.pvs {
		if pv.Spec.StorageClassName != class || pv.DeletionTimestamp != nil {
			continue
		}
		if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != pvc.Namespace || ref.Name != pvc.Name) {
			continue
		}
		if pv.Status.Phase != "" && pv.Status.Phase != objects.VolumeAvailable && pv.Spec.ClaimRef == nil {
			continue
		}
		if have := pv.Spec.Capacity[objects.ResourceStorage]; have.Cmp(want) < 0 {
			continue
		}
		if !slices.ContainsFunc(pvc.Spec.AccessModes, func(m objects.PersistentVolumeAccessMode) bool { return !slices.Contains(pv.Spec.AccessModes, m) }) &&
			volumeModeOf(pv.Spec.VolumeMode) == volumeModeOf(pvc.Spec.VolumeMode) {
			out = append(out, pv)
		}
	}
	return out
}

func volumeModeOf(m *objects.PersistentVolumeMode) objects.PersistentVolumeMode {
	if m == nil {
		return objects.PersistentVolumeFilesystem
	}
	return *m
}
