package scheduler

import "math"

// Reasons of InterPodAffinity, as Kubernetes words them.
const (
	reasonAffinityRules              = "node(s) didn't match pod affinity rules"
	reasonAntiAffinityRules          = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAntiAffinity       = "node(s) didn't satisfy existing pods anti-affinity rules"
	hardPodAffinityWeight      int64 = 1
)

var (
	statusAffinityRules        = NewStatus(UnschedulableAndUnresolvable, reasonAffinityRules)
	statusAntiAffinityRules    = monotoneStatus(Unschedulable, reasonAntiAffinityRules)
	statusExistingAntiAffinity = monotoneStatus(Unschedulable, reasonExistingAntiAffinity)
)

// NewInterPodAffinity returns the InterPodAffinity plugin, with
// Kubernetes' semantics. As a filter: the pod's required affinity terms
// must each find a matching pod in the node's topology domain (a pod
// matching its own terms may start a group where none runs yet); its
// required anti-affinity terms must find none; and no pod already placed
// may have a required anti-affinity term that selects the pod in the
// node's domain. As a score: the pod's preferred terms, and those of the
// pods already placed that select it, add or subtract their weights.
//
// Counts of matching pods per topology domain are kept up to date as pods
// are placed, so a group of pods costs one pass over the pods, not one per
// pod.
func NewInterPodAffinity() Plugin { return interPodAffinity{} }

type interPodAffinity struct{}

func (interPodAffinity) Name() string { return "InterPodAffinity" }

type interPodState struct {
	snap    *Snapshot
	version uint64 // of snap.terms when existing was computed

	terms *podTerms
	// Counts by term, each by domain number of the term's topology key:
	// pods matching every required term (counted under each), pods
	// matching each required anti-affinity term, and the weights of the
	// preferred terms.
	affinity      []domainCounts
	affinityTotal int64
	anti          []domainCounts
	preferred     []domainCounts
	preferredAnti []domainCounts

	existingAnti  []*termEntry // placed pods' required anti-affinity terms selecting the pod
	existingScore []*termEntry // placed pods' preferred (and required affinity) terms selecting it
	antiTopo      []*topology  // of existingAnti
	scoreTopo     []*topology  // of existingScore
}

// domainCounts counts something per domain of one topology.
type domainCounts struct {
	topo   *topology
	counts []int64
}

func newDomainCounts(snap *Snapshot, terms []affinityTerm) []domainCounts {
	out := make([]domainCounts, len(terms))
	for i := range terms {
		t := snap.topologyOf(terms[i].topologyKey)
		out[i] = domainCounts{topo: t, counts: make([]int64, len(t.values))}
	}
	return out
}

func (c *domainCounts) add(n *NodeInfo, v int64) {
	if d := c.topo.of(n); d >= 0 {
		c.counts[d] += v
	}
}

func (c *domainCounts) at(n *NodeInfo) (int64, bool) {
	d := c.topo.of(n)
	if d < 0 {
		return 0, false
	}
	return c.counts[d], true
}

func (interPodAffinity) PreFilter(snap *Snapshot, pod *PodInfo) (any, *Status) {
	st := &interPodState{snap: snap, terms: pod.terms}
	st.scanExisting(pod)
	if st.terms == nil && len(st.existingAnti) == 0 && len(st.existingScore) == 0 {
		return nil, statusSkip
	}
	if t := st.terms; t != nil {
		st.affinity = newDomainCounts(snap, t.required)
		st.anti = newDomainCounts(snap, t.requiredAnti)
		st.preferred = newDomainCounts(snap, t.preferred)
		st.preferredAnti = newDomainCounts(snap, t.preferredAnti)
		for _, n := range snap.nodes {
			for _, p := range n.pods {
				st.count(p, n, 1)
			}
		}
	}
	return st, nil
}

// scanExisting finds the terms of placed pods that select pod.
func (st *interPodState) scanExisting(pod *PodInfo) {
	st.version = st.snap.terms.version
	st.existingAnti, st.existingScore = st.existingAnti[:0], st.existingScore[:0]
	st.antiTopo, st.scoreTopo = st.antiTopo[:0], st.scoreTopo[:0]
	for _, e := range st.snap.terms.entries {
		if !e.term.matches(pod, st.snap) {
			continue
		}
		t := st.snap.topologyOf(e.term.topologyKey)
		if e.kind == kindRequiredAnti {
			st.existingAnti = append(st.existingAnti, e)
			st.antiTopo = append(st.antiTopo, t)
		} else {
			st.existingScore = append(st.existingScore, e)
			st.scoreTopo = append(st.scoreTopo, t)
		}
	}
}

// count adds (sign 1) or removes (-1) a placed pod p on node n to the
// counts of the pod's own terms.
func (st *interPodState) count(p *PodInfo, n *NodeInfo, sign int64) {
	t := st.terms
	if t == nil || n.idx < 0 {
		return
	}
	if len(t.required) > 0 {
		all := true
		for i := range t.required {
			if !t.required[i].matches(p, st.snap) {
				all = false
				break
			}
		}
		if all {
			counted := false
			for i := range st.affinity {
				if st.affinity[i].topo.of(n) >= 0 {
					st.affinity[i].add(n, sign)
					counted = true
				}
			}
			if counted {
				st.affinityTotal += sign
			}
		}
	}
	for i := range t.requiredAnti {
		if t.requiredAnti[i].matches(p, st.snap) {
			st.anti[i].add(n, sign)
		}
	}
	for i := range t.preferred {
		if t.preferred[i].matches(p, st.snap) {
			st.preferred[i].add(n, sign*int64(t.preferred[i].weight))
		}
	}
	for i := range t.preferredAnti {
		if t.preferredAnti[i].matches(p, st.snap) {
			st.preferredAnti[i].add(n, sign*int64(t.preferredAnti[i].weight))
		}
	}
}

func (interPodAffinity) PodAdded(state any, pod *PodInfo, added *PodInfo, node *NodeInfo) bool {
	st := state.(*interPodState)
	if st.version != st.snap.terms.version {
		st.scanExisting(pod)
	}
	st.count(added, node, 1)
	return true
}

func (interPodAffinity) PodRemoved(state any, pod *PodInfo, removed *PodInfo, node *NodeInfo) bool {
	st := state.(*interPodState)
	if st.version != st.snap.terms.version {
		st.scanExisting(pod)
	}
	st.count(removed, node, -1)
	return true
}

func (interPodAffinity) Filter(state any, pod *PodInfo, node *NodeInfo) *Status {
	st := state.(*interPodState)
	if st.version != st.snap.terms.version {
		st.scanExisting(pod)
	}
	if t := st.terms; t != nil {
		if len(t.required) > 0 && !st.satisfiesAffinity(pod, node) {
			return statusAffinityRules
		}
		for i := range st.anti {
			if c, ok := st.anti[i].at(node); ok && c > 0 {
				return statusAntiAffinityRules
			}
		}
	}
	for i, e := range st.existingAnti {
		if st.existingAt(e, st.antiTopo[i], node) > 0 {
			return statusExistingAntiAffinity
		}
	}
	return nil
}

// existingAt is the count of an existing pods' term in node's domain.
func (st *interPodState) existingAt(e *termEntry, t *topology, node *NodeInfo) int64 {
	d := t.of(node)
	if d < 0 {
		return 0
	}
	return st.snap.countAt(e, t, d)
}

// skipScore reports that no term rates nodes for this pod.
func (interPodAffinity) skipScore(state any) bool {
	st := state.(*interPodState)
	return len(st.preferred)+len(st.preferredAnti)+len(st.existingScore) == 0
}

func (st *interPodState) satisfiesAffinity(pod *PodInfo, node *NodeInfo) bool {
	exist := true
	for i := range st.affinity {
		c, ok := st.affinity[i].at(node)
		if !ok {
			return false // every topology label must exist on the node
		}
		if c <= 0 {
			exist = false
		}
	}
	if exist {
		return true
	}
	// The first pod of a group with affinity to itself: allowed when no
	// pod matches anywhere and the pod matches its own terms.
	if st.affinityTotal > 0 {
		return false
	}
	for i := range st.terms.required {
		if !st.terms.required[i].matches(pod, st.snap) {
			return false
		}
	}
	return true
}

func (interPodAffinity) Score(state any, _ *PodInfo, node *NodeInfo) int64 {
	st := state.(*interPodState)
	var s int64
	for i := range st.preferred {
		c, _ := st.preferred[i].at(node)
		s += c
	}
	for i := range st.preferredAnti {
		c, _ := st.preferredAnti[i].at(node)
		s -= c
	}
	for i, e := range st.existingScore {
		c := st.existingAt(e, st.scoreTopo[i], node)
		switch e.kind {
		case kindPreferred:
			s += c
		case kindPreferredAnti:
			s -= c
		case kindRequired:
			s += hardPodAffinityWeight * c
		}
	}
	return s
}

// NormalizeScores maps the scores linearly onto 0..MaxNodeScore, lowest to
// highest, as Kubernetes does.
func (interPodAffinity) NormalizeScores(_ any, _ *PodInfo, scores []NodeScore) {
	minS, maxS := int64(math.MaxInt64), int64(math.MinInt64)
	for i := range scores {
		minS = min(minS, scores[i].Score)
		maxS = max(maxS, scores[i].Score)
	}
	diff := maxS - minS
	for i := range scores {
		var f float64
		if diff > 0 {
			f = float64(MaxNodeScore) * float64(scores[i].Score-minS) / float64(diff)
		}
		scores[i].Score = int64(f)
	}
}
