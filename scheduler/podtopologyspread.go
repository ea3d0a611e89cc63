package scheduler

import (
	"math"

	"github.com/podkit/podkit/objects"
)

// Reasons of PodTopologySpread, as Kubernetes words them.
const (
	reasonSpread        = "node(s) didn't match pod topology spread constraints"
	reasonSpreadMissing = reasonSpread + " (missing required label)"
)

var (
	statusSpread        = NewStatus(Unschedulable, reasonSpread)
	statusSpreadMissing = NewStatus(UnschedulableAndUnresolvable, reasonSpreadMissing)
)

// NewPodTopologySpread returns the PodTopologySpread plugin, with
// Kubernetes' semantics. For each DoNotSchedule constraint, a node fits when
// the number of matching pods in its domain, plus one if the pod matches
// the constraint itself, exceeds the lowest count of any domain by at most
// maxSkew (the lowest count is 0 while there are fewer domains than
// minDomains); a node without the topology key does not fit. Only nodes
// passing the pod's node affinity (nodeAffinityPolicy Honor, the default)
// and, with nodeTaintsPolicy Honor, its tolerations count, and only pods in
// the pod's namespace that are not terminating. ScheduleAnyway constraints
// score: fewer matching pods in the domain, higher score.
//
// Counts per domain are kept up to date as pods are placed.
func NewPodTopologySpread() Plugin { return podTopologySpread{} }

type podTopologySpread struct{}

func (podTopologySpread) Name() string { return "PodTopologySpread" }

type spreadState struct {
	filter []*spreadConstraint
	score  []*spreadConstraint
}

type spreadConstraint struct {
	maxSkew    int64
	key        string
	topo       *topology
	selector   objects.Selector
	minDomains int
	selfMatch  int64
	namespace  string
	eligible   []bool // by node index: counted, as policy and keys say

	counts  []int64 // by domain number
	present []bool  // by domain number: the domain has an eligible node
	domains int     // domains present
	hist    map[int64]int
	min     int64
	weight  float64 // scoring: log(domains + 2)
}

func (podTopologySpread) PreFilter(snap *Snapshot, pod *PodInfo) (any, *Status) {
	cs := pod.pod.Spec.TopologySpreadConstraints
	if len(cs) == 0 {
		return nil, statusSkip
	}
	st := &spreadState{}
	required := newRequiredNodeAffinity(&pod.pod.Spec)
	var filterKeys, scoreKeys []string
	for i := range cs {
		if cs[i].WhenUnsatisfiable == objects.ScheduleAnyway {
			scoreKeys = append(scoreKeys, cs[i].TopologyKey)
		} else {
			filterKeys = append(filterKeys, cs[i].TopologyKey)
		}
	}
	for i := range cs {
		c := &cs[i]
		sc, err := newSpreadConstraint(pod, c)
		if err != nil {
			return nil, NewStatus(UnschedulableAndUnresolvable, err.Error())
		}
		sc.topo = snap.topologyOf(c.TopologyKey)
		sc.counts = make([]int64, len(sc.topo.values))
		sc.present = make([]bool, len(sc.topo.values))
		keys := filterKeys
		if c.WhenUnsatisfiable == objects.ScheduleAnyway {
			keys = scoreKeys
		}
		honorAffinity := c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == objects.NodeInclusionPolicyHonor
		honorTaints := c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == objects.NodeInclusionPolicyHonor
		sc.eligible = make([]bool, len(snap.nodes))
		for _, n := range snap.nodes {
			ok := hasKeys(n, keys)
			if ok && honorAffinity {
				ok = required.matches(n)
			}
			if ok && honorTaints {
				ok = taintToleration{}.Filter(nil, pod, n) == nil
			}
			sc.eligible[n.idx] = ok
			if !ok {
				continue
			}
			d := sc.topo.of(n)
			if !sc.present[d] {
				sc.present[d] = true
				sc.domains++
			}
			for _, p := range n.pods {
				if sc.matches(p) {
					sc.counts[d]++
				}
			}
		}
		sc.initMin()
		if c.WhenUnsatisfiable == objects.ScheduleAnyway {
			st.score = append(st.score, sc)
		} else {
			st.filter = append(st.filter, sc)
		}
	}
	return st, nil
}

func newSpreadConstraint(pod *PodInfo, c *objects.TopologySpreadConstraint) (*spreadConstraint, error) {
	ls := c.LabelSelector
	if len(c.MatchLabelKeys) > 0 && ls != nil {
		merged := ls.DeepCopy()
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.labels[k]; ok {
				merged.MatchExpressions = append(merged.MatchExpressions, objects.LabelSelectorRequirement{
					Key: k, Operator: objects.LabelSelectorOpIn, Values: []string{v}})
			}
		}
		ls = merged
	}
	sel, err := objects.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, err
	}
	sc := &spreadConstraint{
		maxSkew: int64(c.MaxSkew), key: c.TopologyKey, selector: sel, namespace: pod.namespace,
		minDomains: 1, hist: map[int64]int{},
	}
	if c.MinDomains != nil {
		sc.minDomains = int(*c.MinDomains)
	}
	if sel.Matches(pod.labels) {
		sc.selfMatch = 1
	}
	return sc, nil
}

func hasKeys(n *NodeInfo, keys []string) bool {
	for _, k := range keys {
		if _, ok := n.labels[k]; !ok {
			return false
		}
	}
	return true
}

func (c *spreadConstraint) matches(p *PodInfo) bool {
	return !p.terminating && p.namespace == c.namespace && c.selector.Matches(p.labels)
}

func (c *spreadConstraint) initMin() {
	c.min = math.MaxInt64
	for d, n := range c.counts {
		if c.present[d] {
			c.hist[n]++
			c.min = min(c.min, n)
		}
	}
	if c.domains == 0 {
		c.min = 0
	}
	c.weight = math.Log(float64(c.domains + 2))
}

// minMatch is the lowest count over the domains: 0 while there are fewer
// domains than minDomains.
func (c *spreadConstraint) minMatch() int64 {
	if c.domains < c.minDomains {
		return 0
	}
	return c.min
}

func (c *spreadConstraint) add(n *NodeInfo, p *PodInfo, sign int64) {
	if n.idx < 0 || n.idx >= len(c.eligible) || !c.eligible[n.idx] || !c.matches(p) {
		return
	}
	d := c.topo.of(n)
	old := c.counts[d]
	now := old + sign
	c.counts[d] = now
	if c.hist[old]--; c.hist[old] == 0 {
		delete(c.hist, old)
	}
	c.hist[now]++
	switch {
	case now < c.min:
		c.min = now
	case old == c.min && c.hist[old] == 0:
		c.min = now
	}
}

func (podTopologySpread) PodAdded(state any, _ *PodInfo, added *PodInfo, node *NodeInfo) bool {
	st := state.(*spreadState)
	for _, c := range st.filter {
		c.add(node, added, 1)
	}
	for _, c := range st.score {
		c.add(node, added, 1)
	}
	return true
}

func (podTopologySpread) PodRemoved(state any, _ *PodInfo, removed *PodInfo, node *NodeInfo) bool {
	st := state.(*spreadState)
	for _, c := range st.filter {
		c.add(node, removed, -1)
	}
	for _, c := range st.score {
		c.add(node, removed, -1)
	}
	return true
}

func (podTopologySpread) Filter(state any, _ *PodInfo, node *NodeInfo) *Status {
	st := state.(*spreadState)
	for _, c := range st.filter {
		d := c.topo.of(node)
		if d < 0 {
			return statusSpreadMissing
		}
		var cnt int64
		if c.present[d] {
			cnt = c.counts[d]
		}
		if cnt+c.selfMatch-c.minMatch() > c.maxSkew {
			return statusSpread
		}
	}
	return nil
}

// PreScore weighs each scoring constraint by the number of its domains
// among the candidate nodes that have every topology key (for
// kubernetes.io/hostname, the number of such nodes), as Kubernetes does.
func (podTopologySpread) PreScore(state any, _ *PodInfo, nodes []*NodeInfo) {
	st := state.(*spreadState)
	if len(st.score) == 0 {
		return
	}
	keys := make([]string, len(st.score))
	for i, c := range st.score {
		keys[i] = c.key
	}
	for _, c := range st.score {
		seen := make([]bool, len(c.topo.values))
		n := 0
		for _, node := range nodes {
			if !hasKeys(node, keys) {
				continue
			}
			if d := c.topo.of(node); d >= 0 && !seen[d] {
				seen[d] = true
				n++
			}
		}
		c.weight = math.Log(float64(n + 2))
	}
}

// skipScore reports that the pod has no ScheduleAnyway constraint.
func (podTopologySpread) skipScore(state any) bool { return len(state.(*spreadState).score) == 0 }

// invalidScore marks a node missing a topology key; it scores 0.
const invalidScore = -1

func (podTopologySpread) Score(state any, _ *PodInfo, node *NodeInfo) int64 {
	st := state.(*spreadState)
	if len(st.score) == 0 {
		return 0
	}
	var s float64
	for _, c := range st.score {
		d := c.topo.of(node)
		if d < 0 {
			return invalidScore
		}
		var cnt int64
		if c.present[d] {
			cnt = c.counts[d]
		}
		s += float64(cnt)*c.weight + float64(c.maxSkew-1)
	}
	return int64(math.Round(s))
}

// NormalizeScores turns fewer matching pods into a higher score, mapping
// the range of raw scores onto MaxNodeScore as Kubernetes does.
func (podTopologySpread) NormalizeScores(state any, _ *PodInfo, scores []NodeScore) {
	if len(state.(*spreadState).score) == 0 {
		return
	}
	minS, maxS := int64(math.MaxInt64), int64(0)
	for i := range scores {
		if scores[i].Score == invalidScore {
			continue
		}
		minS = min(minS, scores[i].Score)
		maxS = max(maxS, scores[i].Score)
	}
	for i := range scores {
		switch s := scores[i].Score; {
		case s == invalidScore:
			scores[i].Score = 0
		case maxS == 0:
			scores[i].Score = MaxNodeScore
		default:
			scores[i].Score = MaxNodeScore * (maxS + minS - s) / maxS
		}
	}
}
