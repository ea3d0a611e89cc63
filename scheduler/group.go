package scheduler

import (
	"encoding/json"
	"hash/maphash"

	"github.com/podkit/podkit/objects"
)

// group is a set of pending pods that placement cannot tell apart: same
// namespace, labels and scheduling fields. The plugins' PreFilter runs once
// per group, and the pods of a group are placed one after the other
// without repeating what does not change between them.
type group struct {
	key      uint64
	classKey uint64
	pod      *PodInfo // the first pod seen; stands for all

	// Queue bookkeeping.
	ready     []*qpod // members waiting to be scheduled, oldest first
	heapIndex int     // in the queue's active heap; -1 when not there
	members   int     // queue entries pointing at the group
	readySeq  uint64  // arrival order of ready[0]

	// Plugin states from PreFilter, and what they were computed against.
	states      []pluginState
	prepared    bool
	staticEpoch uint64
	podEpoch    uint64
	termsVer    uint64
	live        bool // in the scheduler's list of groups told about pod changes
	preErr      *Status
	preErrBy    int  // the plugin whose PreFilter gave preErr; -1 for none
	heapPath    bool // placed through its class's heap

	// General path: candidate nodes, with the ones that cannot take the
	// group's next pod until a pod leaves dropped lazily.
	cands       []int32
	dead        []bool
	deadCount   int
	next        int
	candEpoch   uint64 // class build the candidates came from
	candRelease uint64 // snapshot releaseEpoch they are valid for
	candClass   *class
}

type pluginState struct {
	state  any
	status *Status // nil, Skip, or a rejection of every node
	stale  bool
}

// signer computes group and class keys. Maps are hashed order-free by
// summing per-entry hashes.
type signer struct {
	seed maphash.Seed
	h    maphash.Hash
}

func newSigner() *signer {
	s := &signer{seed: maphash.MakeSeed()}
	s.h.SetSeed(s.seed)
	return s
}

func (s *signer) mapHash(m map[string]string) uint64 {
	var sum uint64
	for k, v := range m {
		sum += maphash.Comparable(s.seed, [2]string{k, v})
	}
	return sum
}

func (s *signer) str(v string) {
	s.h.WriteString(v)
	s.h.WriteByte(0)
}

func (s *signer) u64(v uint64) {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	s.h.Write(b[:])
}

func (s *signer) jsonOf(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.str(err.Error())
		return
	}
	s.h.Write(b)
	s.h.WriteByte(0)
}

// classKey hashes what LocalityNodeObject and LocalityNode built-in
// plugins read: node selector and node affinity, tolerations, requests,
// host ports and claims, plus what plugins with a PodKeyer say.
func (s *signer) classKey(p *objects.Pod, pi *PodInfo, fw *framework) uint64 {
	s.h.Reset()
	spec := &p.Spec
	s.str(p.Namespace)
	s.u64(s.mapHash(spec.NodeSelector))
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		s.jsonOf(a.NodeAffinity)
	} else {
		s.str("")
	}
	s.u64(uint64(len(spec.Tolerations)))
	for i := range spec.Tolerations {
		t := &spec.Tolerations[i]
		s.str(t.Key)
		s.str(string(t.Operator))
		s.str(t.Value)
		s.str(string(t.Effect))
	}
	s.resources(spec.Containers)
	s.str("init")
	s.resources(spec.InitContainers)
	s.str("overhead")
	s.u64(s.resourceSum(spec.Overhead))
	for i := range spec.Volumes {
		if name := objects.VolumeClaimName(p, &spec.Volumes[i]); name != "" {
			s.str(name) // an ephemeral volume's claim is the pod's own
		}
	}
	s.str(spec.NodeName)
	for i, k := range fw.keyers {
		if k != nil && fw.locality[i] != LocalityCluster {
			s.str(k.PodKey(pi))
		}
	}
	return s.h.Sum64()
}

func (s *signer) resources(cs []objects.Container) {
	s.u64(uint64(len(cs)))
	for i := range cs {
		sum := s.resourceSum(cs[i].Resources.Requests)
		if cs[i].IsSidecar() {
			sum++
		}
		s.u64(sum)
		for _, port := range cs[i].Ports {
			if port.HostPort > 0 {
				s.str(port.HostIP)
				s.str(string(port.Protocol))
				s.u64(uint64(port.HostPort))
			}
		}
	}
}

// resourceSum hashes a resource list, in any order.
func (s *signer) resourceSum(l objects.ResourceList) uint64 {
	var sum uint64
	for name, q := range l {
		sum += maphash.Comparable(s.seed, struct {
			n string
			v int64
		}{string(name), q.MilliValue()})
	}
	return sum
}

// groupKey hashes everything placement reads from a pod: the class key,
// labels, pod (anti-)affinity, spread constraints, priority, and what
// plugins with a PodKeyer say.
func (s *signer) groupKey(p *objects.Pod, pi *PodInfo, classKey uint64, fw *framework) uint64 {
	// pi carries the resolved priority; for keyers it is the pod itself.
	s.h.Reset()
	s.u64(classKey)
	s.u64(s.mapHash(p.Labels))
	spec := &p.Spec
	if a := spec.Affinity; a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil) {
		s.jsonOf(a.PodAffinity)
		s.jsonOf(a.PodAntiAffinity)
	} else {
		s.str("")
	}
	if len(spec.TopologySpreadConstraints) > 0 {
		s.jsonOf(spec.TopologySpreadConstraints)
	}
	s.u64(uint64(uint32(pi.priority)))
	if pi.preemptNever {
		s.str("never")
	}
	s.str(p.Status.NominatedNodeName)
	if fw.perGroupClasses {
		s.u64(s.mapHash(p.Annotations)) // what host plugins most often read
	}
	for i, k := range fw.keyers {
		if k != nil && fw.locality[i] == LocalityCluster {
			s.str(k.PodKey(pi))
		}
	}
	return s.h.Sum64()
}
