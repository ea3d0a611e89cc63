package scheduler

import (
	"math"
	"slices"
)

// Preemption's words, as Kubernetes has them.
const (
	msgPreemptNever           = "not eligible due to preemptionPolicy=Never."
	msgTerminatingOnNominated = "not eligible due to a terminating pod on the nominated node."
	reasonNoVictims           = "No preemption victims found for incoming pod"
	reasonNotHelpful          = "Preemption is not helpful for scheduling"
)

var (
	statusNoVictims  = NewStatus(UnschedulableAndUnresolvable, reasonNoVictims)
	statusNotHelpful = NewStatus(UnschedulableAndUnresolvable, reasonNotHelpful)
)

// Kubernetes' bounds on the nodes a preemption dry-runs.
const (
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

// preemption is the outcome of a successful dry run: the node and the pods
// to evict there.
type preemption struct {
	node    *NodeInfo
	victims []*PodInfo
}

// preempt looks for a node where evicting pods of lower priority than g's
// pod lets it run, as Kubernetes' DefaultPreemption does: the nodes where
// a filter rejected the pod for a reason eviction could change are dry-run
// (from a random offset, at least 10% of them and 100), each evicting every
// lower-priority pod and then keeping back, most important first, every
// pod the preemptor still fits beside. Among the candidates it picks the
// one whose most important victim has the lowest priority, then the lowest
// sum of priorities, then the fewest victims, then the latest started.
// Without a candidate it returns why, for the pod's message.
func (a *algorithm) preempt(g *group, d *diagnosis) (*preemption, string) {
	pod := g.pod
	if pod.preemptNever {
		return nil, msgPreemptNever
	}
	if nn := pod.nominatedNode; nn != "" {
		if node := a.snap.Node(nn); node != nil && d.statusOf(node).Code() != UnschedulableAndUnresolvable {
			for _, p := range node.pods {
				if p.terminating && p.priority < pod.priority {
					return nil, msgTerminatingOnNominated
				}
			}
		}
	}
	statuses := make([]*Status, len(d.nodes))
	var potential []int
	for i, st := range d.statuses {
		if st.Code() == UnschedulableAndUnresolvable || d.preFilter != nil {
			statuses[i] = statusNotHelpful
		} else {
			potential = append(potential, i)
		}
	}
	var best *preemption
	if len(potential) > 0 {
		want := min(len(potential), max(len(potential)*minCandidateNodesPercentage/100, minCandidateNodesAbsolute))
		offset := a.rng.IntN(len(potential))
		found := 0
		for k := 0; k < len(potential) && found < want; k++ {
			i := potential[(offset+k)%len(potential)]
			c, st := a.selectVictims(g, d.nodes[i])
			if c == nil {
				statuses[i] = st
				continue
			}
			found++
			if best == nil || betterCandidate(c, best) {
				best = c
			}
		}
	}
	if best != nil {
		return best, ""
	}
	return nil, fitMessage(d.numNodes, nil, statuses)
}

// selectVictims dry-runs preemption on one node. The snapshot is changed
// and restored, so plugin states follow through their observers.
func (a *algorithm) selectVictims(g *group, node *NodeInfo) (*preemption, *Status) {
	pod := g.pod
	if low, ok := node.lowestPriority(); !ok || low >= pod.priority {
		return nil, statusNoVictims
	}
	var removed []*PodInfo
	for _, p := range node.pods {
		// Reservations of lower priority are not in the snapshot
		// (hideNominations); no reservation is a victim.
		if p.priority < pod.priority && !p.reserved {
			removed = append(removed, p)
		}
	}
	for _, p := range removed {
		a.snap.detach(p)
	}
	restore := func(ps []*PodInfo) {
		for _, p := range ps {
			a.snap.attach(p, node)
		}
		a.refresh(g)
	}
	a.refresh(g)
	if st := a.filterAll(g, node); st != nil {
		restore(removed)
		return nil, st
	}
	// Most important first: higher priority, then longer running.
	slices.SortStableFunc(removed, func(x, y *PodInfo) int {
		if x.priority != y.priority {
			return int(y.priority) - int(x.priority)
		}
		return int(x.startTime - y.startTime)
	})
	c := &preemption{node: node}
	var evicted []*PodInfo
	for _, p := range removed {
		a.snap.attach(p, node)
		a.refresh(g)
		if a.filterAll(g, node) == nil {
			continue
		}
		a.snap.detach(p)
		a.refresh(g)
		evicted = append(evicted, p)
		c.victims = append(c.victims, p)
	}
	restore(evicted)
	return c, nil
}

// betterCandidate is Kubernetes' pickOneNodeForPreemption order.
func betterCandidate(x, y *preemption) bool {
	hx, hy := highestPriority(x.victims), highestPriority(y.victims)
	if hx != hy {
		return hx < hy
	}
	sx, sy := prioritySum(x.victims), prioritySum(y.victims)
	if sx != sy {
		return sx < sy
	}
	if len(x.victims) != len(y.victims) {
		return len(x.victims) < len(y.victims)
	}
	return earliestStart(x.victims, hx) > earliestStart(y.victims, hy)
}

func highestPriority(ps []*PodInfo) int64 {
	h := int64(math.MinInt32) - 1
	for _, p := range ps {
		h = max(h, int64(p.priority))
	}
	return h
}

func prioritySum(ps []*PodInfo) int64 {
	var s int64
	for _, p := range ps {
		s += int64(p.priority) + math.MaxInt32 + 1 // every victim adds, whatever its sign
	}
	return s
}

// earliestStart is the earliest start among the victims of priority h.
func earliestStart(ps []*PodInfo, h int64) int64 {
	e := int64(math.MaxInt64)
	for _, p := range ps {
		if int64(p.priority) == h {
			e = min(e, p.startTime)
		}
	}
	return e
}
