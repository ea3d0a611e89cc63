package scheduler

import (
	"fmt"
	"slices"

	"github.com/podkit/podkit/objects"
)

// reasonReadWriteOncePod is VolumeRestrictions' reason, as Kubernetes
// words it.
const reasonReadWriteOncePod = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"

// statusReadWriteOncePod rejects every node; evicting the pod using the
// claim would help.
var statusReadWriteOncePod = monotoneStatus(Unschedulable, reasonReadWriteOncePod)

// NewVolumeRestrictions returns the VolumeRestrictions filter for
// ReadWriteOncePod claims: a pod using such a claim fits nowhere while
// another pod placed on a node, or holding room on its nominated node,
// uses the claim. Each of the pod's claims must exist.
func NewVolumeRestrictions() Plugin { return volumeRestrictions{} }

type volumeRestrictions struct{}

func (volumeRestrictions) Name() string { return "VolumeRestrictions" }

func (volumeRestrictions) Locality() Locality { return LocalityCluster }

// rwopState is the pod's ReadWriteOncePod claims and how many pods in the
// snapshot use them, kept current as pods come and go.
type rwopState struct {
	claims []string
	users  int
}

func (volumeRestrictions) PreFilter(snap *Snapshot, pod *PodInfo) (any, *Status) {
	var st *rwopState
	for _, name := range pod.claims {
		pvc := snap.PersistentVolumeClaim(pod.namespace, name)
		if pvc == nil {
			return nil, NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("persistentvolumeclaim %q not found", name))
		}
		if !slices.Contains(pvc.Spec.AccessModes, objects.ReadWriteOncePod) {
			continue
		}
		if st == nil {
			st = &rwopState{}
		}
		if !slices.Contains(st.claims, name) {
			st.claims = append(st.claims, name)
			st.users += snap.claimUsers[objects.Key{Namespace: pod.namespace, Name: name}]
		}
	}
	if st == nil {
		return nil, statusSkip
	}
	// Unlike Kubernetes, no Skip when no pod uses the claims yet: the state
	// serves the other pods of the group, placed after this one.
	return st, nil
}

func (volumeRestrictions) Filter(state any, _ *PodInfo, _ *NodeInfo) *Status {
	if state.(*rwopState).users > 0 {
		return statusReadWriteOncePod
	}
	return nil
}

func (volumeRestrictions) PodAdded(state any, pod *PodInfo, added *PodInfo, _ *NodeInfo) bool {
	st := state.(*rwopState)
	st.users += st.uses(pod, added)
	return true
}

func (volumeRestrictions) PodRemoved(state any, pod *PodInfo, removed *PodInfo, _ *NodeInfo) bool {
	st := state.(*rwopState)
	st.users -= st.uses(pod, removed)
	return true
}

// uses counts the claims of other that are among pod's ReadWriteOncePod
// claims.
func (st *rwopState) uses(pod, other *PodInfo) int {
	if other.namespace != pod.namespace {
		return 0
	}
	n := 0
	for _, c := range other.claims {
		if slices.Contains(st.claims, c) {
			n++
		}
	}
	return n
}
