package scheduler

import (
	"hash/maphash"
	"maps"
	"slices"

	"github.com/podkit/podkit/objects"
)

// Snapshot is the scheduler's view of the cluster: the nodes, the pods
// placed on them (bound in the store, or assumed by the scheduler while
// their binding is written), the volumes, priority classes and namespaces
// placement depends on, and the disruption budgets preemption reads. It is
// kept up to date from store watches, never rebuilt per pod. Plugins read
// it and never modify it.
type Snapshot struct {
	nodes  []*NodeInfo
	byName map[string]*NodeInfo // also nodes not stored that still have pods
	pods   map[objects.Key]*PodInfo

	namespaces      map[string]map[string]string // labels
	pvs             map[string]*objects.PersistentVolume
	pvcs            map[objects.Key]*objects.PersistentVolumeClaim
	storageClasses  map[string]*objects.StorageClass
	priorityClasses map[string]*objects.PriorityClass
	claimUsers      map[objects.Key]int  // pods in the snapshot by claim they use
	budgets         map[string][]*budget // PodDisruptionBudgets by namespace, for preemption

	terms      termRegistry
	labels     labelInterner
	topologies map[string]*topology

	// reservations are the pods with reserved set: room held for nominated
	// pods.
	reservations []*PodInfo

	// staticEpoch changes when anything LocalityNodeObject plugins read
	// changes: the node list, a node's labels, taints, allocatable,
	// readiness or cordon, volumes, namespace labels.
	staticEpoch uint64
	// podEpoch changes when a pod is added or removed.
	podEpoch uint64
	// releaseEpoch changes when a pod leaves or a node changes: rejections
	// that more pods cannot undo may no longer hold.
	releaseEpoch uint64

	listener snapshotListener
}

// snapshotListener hears of every change to the pods on nodes, to keep
// plugin states and node rankings current.
type snapshotListener interface {
	podAdded(p *PodInfo, n *NodeInfo)
	podRemoved(p *PodInfo, n *NodeInfo)
}

func newSnapshot() *Snapshot {
	s := &Snapshot{
		byName:          map[string]*NodeInfo{},
		pods:            map[objects.Key]*PodInfo{},
		namespaces:      map[string]map[string]string{},
		pvs:             map[string]*objects.PersistentVolume{},
		pvcs:            map[objects.Key]*objects.PersistentVolumeClaim{},
		storageClasses:  map[string]*objects.StorageClass{},
		priorityClasses: map[string]*objects.PriorityClass{},
		claimUsers:      map[objects.Key]int{},
		labels:          labelInterner{seed: maphash.MakeSeed(), sets: map[uint64][]*internedLabels{}},
	}
	s.terms.snap = s
	return s
}

// Nodes returns the stored nodes; the caller must not modify the slice.
func (s *Snapshot) Nodes() []*NodeInfo { return s.nodes }

// Node returns the stored node of that name, or nil.
func (s *Snapshot) Node(name string) *NodeInfo {
	n := s.byName[name]
	if n == nil || n.node == nil {
		return nil
	}
	return n
}

// NamespaceLabels returns the labels of a namespace; the caller must not
// modify them.
func (s *Snapshot) NamespaceLabels(ns string) map[string]string { return s.namespaceLabels(ns) }

func (s *Snapshot) namespaceLabels(ns string) map[string]string { return s.namespaces[ns] }

// PersistentVolumeClaim returns a claim, or nil.
func (s *Snapshot) PersistentVolumeClaim(namespace, name string) *objects.PersistentVolumeClaim {
	return s.pvcs[objects.Key{Namespace: namespace, Name: name}]
}

// PersistentVolume returns a volume, or nil.
func (s *Snapshot) PersistentVolume(name string) *objects.PersistentVolume { return s.pvs[name] }

// Pod returns a pod placed on a node in the snapshot, or nil.
func (s *Snapshot) Pod(namespace, name string) *PodInfo {
	return s.pods[objects.Key{Namespace: namespace, Name: name}]
}

// setNode adds or updates a node. It reports whether anything placement
// reads changed.
func (s *Snapshot) setNode(node *objects.Node) bool {
	n := s.byName[node.Name]
	if n == nil {
		n = &NodeInfo{name: node.Name, idx: -1}
		s.byName[node.Name] = n
	}
	changed := n.node == nil || nodeStaticChanged(n.node, node)
	if !changed {
		n.node = node // heartbeats and other status: nothing placement reads
		return false
	}
	n.setNode(node)
	if n.idx < 0 {
		n.idx = len(s.nodes)
		s.nodes = append(s.nodes, n)
	}
	s.staticEpoch++
	s.releaseEpoch++
	if n.withAffinity > 0 {
		s.rebuildTerms() // topology values of the pods there may have changed
	}
	return true
}

// deleteNode removes a node; its pods stay in the snapshot, on a node that
// takes no new pods, until they go too.
func (s *Snapshot) deleteNode(name string) {
	n := s.byName[name]
	if n == nil || n.node == nil {
		return
	}
	last := len(s.nodes) - 1
	s.nodes[n.idx] = s.nodes[last]
	s.nodes[n.idx].idx = n.idx
	s.nodes[last] = nil
	s.nodes = s.nodes[:last]
	n.idx = -1
	n.node = nil
	n.generation++
	if len(n.pods) == 0 {
		delete(s.byName, name)
	}
	s.staticEpoch++
	s.releaseEpoch++
}

// nodeStaticChanged reports whether what placement reads differs between
// two versions of a node.
func nodeStaticChanged(a, b *objects.Node) bool {
	if a.Spec.Unschedulable != b.Spec.Unschedulable || !maps.Equal(a.Labels, b.Labels) {
		return true
	}
	if !slices.EqualFunc(a.Spec.Taints, b.Spec.Taints, func(x, y objects.Taint) bool {
		return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect
	}) {
		return true
	}
	if !resourceListEqual(a.Status.Allocatable, b.Status.Allocatable) || !resourceListEqual(a.Status.Capacity, b.Status.Capacity) {
		return true
	}
	return nodeReadiness(a) != nodeReadiness(b)
}

func resourceListEqual(a, b objects.ResourceList) bool {
	return maps.EqualFunc(a, b, func(x, y objects.Quantity) bool { return x.Cmp(y) == 0 })
}

// nodeReadiness is the status of the node's Ready condition, "" when it
// has none.
func nodeReadiness(n *objects.Node) objects.ConditionStatus {
	if c := objects.GetNodeCondition(&n.Status, objects.NodeReady); c != nil {
		return c.Status
	}
	return ""
}

// addPod places p on the node named node, creating a placeholder for a
// node not stored yet.
func (s *Snapshot) addPod(p *PodInfo, node string) {
	n := s.byName[node]
	if n == nil {
		n = &NodeInfo{name: node, idx: -1}
		s.byName[node] = n
	}
	s.attach(p, n)
	if p.reserved {
		s.reservations = append(s.reservations, p)
	}
}

// removePod takes p off its node and drops it.
func (s *Snapshot) removePod(p *PodInfo) {
	n := p.node
	if n == nil {
		return
	}
	s.detach(p)
	s.labels.release(p.labels)
	if n.node == nil && len(n.pods) == 0 {
		delete(s.byName, n.name)
	}
	if p.reserved {
		if i := slices.Index(s.reservations, p); i >= 0 {
			s.reservations = slices.Delete(s.reservations, i, i+1)
		}
	}
}

// attach puts p on n.
func (s *Snapshot) attach(p *PodInfo, n *NodeInfo) {
	s.pods[objects.Key{Namespace: p.namespace, Name: p.name}] = p
	for _, c := range p.claims {
		s.claimUsers[objects.Key{Namespace: p.namespace, Name: c}]++
	}
	n.addPod(p)
	s.terms.add(p, n)
	s.podEpoch++
	if s.listener != nil {
		s.listener.podAdded(p, n)
	}
}

// detach takes p off its node, keeping it for attach.
func (s *Snapshot) detach(p *PodInfo) {
	n := p.node
	key := objects.Key{Namespace: p.namespace, Name: p.name}
	if s.pods[key] == p {
		delete(s.pods, key)
	}
	for _, c := range p.claims {
		ck := objects.Key{Namespace: p.namespace, Name: c}
		if s.claimUsers[ck]--; s.claimUsers[ck] <= 0 {
			delete(s.claimUsers, ck)
		}
	}
	s.terms.remove(p, n)
	n.removePod(p)
	s.podEpoch++
	s.releaseEpoch++
	if s.listener != nil {
		s.listener.podRemoved(p, n)
	}
}

// rebuildTerms recounts the term registry, after node labels changed.
func (s *Snapshot) rebuildTerms() {
	version := s.terms.version
	s.terms = termRegistry{version: version + 1, snap: s}
	for _, n := range s.byName {
		if n.withAffinity == 0 {
			continue
		}
		for _, p := range n.pods {
			s.terms.add(p, n)
		}
	}
}

// setNamespace records a namespace's labels.
func (s *Snapshot) setNamespace(ns *objects.Namespace) {
	if maps.Equal(s.namespaces[ns.Name], ns.Labels) {
		if _, ok := s.namespaces[ns.Name]; ok {
			return
		}
	}
	labels := ns.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	s.namespaces[ns.Name] = labels
	s.staticEpoch++
	s.terms.version++ // namespace selectors may select differently
}

func (s *Snapshot) deleteNamespace(name string) {
	delete(s.namespaces, name)
	s.staticEpoch++
	s.terms.version++
}

// priorityOf resolves a pod's priority: spec.priority, else its
// PriorityClass's value, else the global default class's, else 0; and
// whether it may preempt.
func (s *Snapshot) priorityOf(spec *objects.PodSpec) (priority int32, preemptNever bool) {
	var class *objects.PriorityClass
	if spec.PriorityClassName != "" {
		class = s.priorityClass(spec.PriorityClassName)
	} else {
		for _, c := range s.priorityClasses {
			if c.GlobalDefault && (class == nil || c.Value > class.Value) {
				class = c
			}
		}
	}
	switch {
	case spec.Priority != nil:
		priority = *spec.Priority
	case class != nil:
		priority = class.Value
	}
	switch {
	case spec.PreemptionPolicy != nil:
		preemptNever = *spec.PreemptionPolicy == objects.PreemptNever
	case class != nil && class.PreemptionPolicy != nil:
		preemptNever = *class.PreemptionPolicy == objects.PreemptNever
	}
	return priority, preemptNever
}

func (s *Snapshot) priorityClass(name string) *objects.PriorityClass {
	if c := s.priorityClasses[name]; c != nil {
		return c
	}
	for _, c := range objects.SystemPriorityClasses() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// newPodInfo extracts what placement needs from a pod. object says whether
// to keep the object itself (for the pod being scheduled). The labels are
// interned: release them with labels.release when the PodInfo is dropped.
func (s *Snapshot) newPodInfo(p *objects.Pod, object bool) (*PodInfo, error) {
	pi := &PodInfo{
		namespace:   p.Namespace,
		name:        p.Name,
		uid:         p.UID,
		labels:      s.labels.intern(p.Labels),
		terminating: p.DeletionTimestamp != nil,
		generation:  p.Generation,
		startTime:   p.CreationTimestamp.Unix(),
	}
	if object {
		pi.pod = p
	}
	if p.Status.StartTime != nil {
		pi.startTime = p.Status.StartTime.Unix()
	}
	spec := &p.Spec
	if p.Spec.NodeName != "" && objects.ResizeInFlight(p) {
		// A pod being resized holds the most of its old and new requests.
		pi.resizing = true
		if s := objects.ResizeFitSpec(p); s != nil {
			spec = s
		}
	}
	pi.requests, pi.nonZeroCPU, pi.nonZeroMem = podRequests(spec)
	pi.ports = podHostPorts(&p.Spec)
	for i := range p.Spec.Volumes {
		if name := objects.VolumeClaimName(p, &p.Spec.Volumes[i]); name != "" {
			pi.claims = append(pi.claims, name)
		}
	}
	pi.priority, pi.preemptNever = s.priorityOf(&p.Spec)
	pi.gracePeriod = objects.DefaultTerminationGracePeriodSeconds
	if g := p.Spec.TerminationGracePeriodSeconds; g != nil {
		pi.gracePeriod = *g
	}
	terms, err := compilePodTerms(p.Namespace, &p.Spec)
	pi.terms = terms
	return pi, err
}

// internedLabels is one distinct label set shared by the pods carrying it.
type internedLabels struct {
	labels map[string]string
	refs   int
}

// labelInterner shares equal label maps between pods: the pods of one
// ReplicaSet all carry the same labels.
type labelInterner struct {
	seed maphash.Seed
	sets map[uint64][]*internedLabels
}

func (li *labelInterner) hash(m map[string]string) uint64 {
	var h uint64
	for k, v := range m {
		// Summing per-pair hashes makes the hash independent of map order.
		h += maphash.Comparable(li.seed, [2]string{k, v})
	}
	return h
}

func (li *labelInterner) intern(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	h := li.hash(m)
	for _, e := range li.sets[h] {
		if maps.Equal(e.labels, m) {
			e.refs++
			return e.labels
		}
	}
	// m itself: it comes from an object the scheduler keeps read-only.
	e := &internedLabels{labels: m, refs: 1}
	li.sets[h] = append(li.sets[h], e)
	return e.labels
}

func (li *labelInterner) release(m map[string]string) {
	if len(m) == 0 {
		return
	}
	h := li.hash(m)
	list := li.sets[h]
	for i, e := range list {
		if maps.Equal(e.labels, m) {
			if e.refs--; e.refs == 0 {
				list = slices.Delete(list, i, i+1)
				if len(list) == 0 {
					delete(li.sets, h)
				} else {
					li.sets[h] = list
				}
			}
			return
		}
	}
}
