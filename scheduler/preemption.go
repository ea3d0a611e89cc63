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

// preemption is the outcome of a successful dry run: the node, the pods to
// evict there, and how many of those violate a disruption budget.
type preemption struct {
	node       *NodeInfo
	victims    []*PodInfo
	violations int
}

// preempt looks for a node where evicting pods of lower priority than g's
// pod lets it run, as Kubernetes' DefaultPreemption does. The nodes where
// a filter rejected the pod for a reason eviction could change are
// dry-run, from a random offset, until 10% of them (at least 100) are
// candidates and one of those violates no disruption budget, or no node is
// left. On each, every lower-priority pod is evicted, then kept back if
// the preemptor still fits beside it: first the pods whose eviction would
// violate a budget, then the others, each most important first. Among the
// candidates (of those violating a budget, only as many as wanted, the
// first found) it picks the one with the fewest victims violating a
// budget, then whose most important victim has the lowest priority, then
// the lowest sum of priorities, then the fewest victims, then the latest
// started. Budgets are best effort: when every candidate violates one,
// one of them still wins. Without a candidate it returns why, for the
// pod's message.
//
// nominated is the node the pod being placed (one of g's) is nominated
// to, as the scheduler last decided it, which the store may not show yet.
// As Kubernetes' PodEligibleToPreemptOthers has it, a pod whose nominated
// node still has pods of lower priority leaving does not preempt again:
// it waits for the room it has already freed. The victims of a preemption
// whose eviction the store does not show yet count as leaving; else a
// preemptor tried again meanwhile would evict more pods elsewhere.
func (a *algorithm) preempt(g *group, nominated string, d *diagnosis) (*preemption, string) {
	pod := g.pod
	if pod.preemptNever {
		return nil, msgPreemptNever
	}
	if nominated != "" {
		if node := a.snap.Node(nominated); node != nil && d.statusOf(node).Code() != UnschedulableAndUnresolvable {
			for _, p := range node.pods {
				if (p.terminating || p.evicting) && p.priority < pod.priority {
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
	var best preemption // by value: a dry run allocates no candidate
	if len(potential) > 0 {
		want := min(len(potential), max(len(potential)*minCandidateNodesPercentage/100, minCandidateNodesAbsolute))
		offset := a.rng.IntN(len(potential))
		// Kubernetes' DryRunPreemption keeps up to want candidates of each
		// kind, and stops once it has want with one violating nothing.
		clean, violating := 0, 0
		for k := 0; k < len(potential) && (clean == 0 || clean+violating < want); k++ {
			i := potential[(offset+k)%len(potential)]
			c, st := a.selectVictims(g, d.nodes[i])
			if st != nil {
				statuses[i] = st
				continue
			}
			switch {
			case c.violations == 0:
				clean++
			case violating == want:
				continue // Kubernetes keeps no more of them
			default:
				violating++
			}
			if best.node == nil || betterCandidate(&c, &best) {
				best = c
			}
		}
	}
	if best.node != nil {
		return &best, ""
	}
	return nil, fitMessage(d.numNodes, nil, statuses)
}

// selectVictims dry-runs preemption on one node, or says why it cannot
// help there. The snapshot is changed and restored, so plugin states
// follow through their observers.
func (a *algorithm) selectVictims(g *group, node *NodeInfo) (preemption, *Status) {
	pod := g.pod
	if low, ok := node.lowestPriority(); !ok || low >= pod.priority {
		return preemption{}, statusNoVictims
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
		return preemption{}, st
	}
	slices.SortStableFunc(removed, moreImportant)
	// The pods a budget protects are kept back first, as in Kubernetes.
	ordered, protected := a.snap.violatingFirst(removed)
	c := preemption{node: node}
	var evicted []*PodInfo
	for k, p := range ordered {
		a.snap.attach(p, node)
		a.refresh(g)
		if a.filterAll(g, node) == nil {
			continue
		}
		a.snap.detach(p)
		a.refresh(g)
		evicted = append(evicted, p)
		c.victims = append(c.victims, p)
		if k < protected {
			c.violations++
		}
	}
	restore(evicted)
	if protected > 0 && protected < len(ordered) {
		slices.SortStableFunc(c.victims, moreImportant)
	}
	return c, nil
}

// moreImportant orders pods most important first: higher priority, then
// longer running.
func moreImportant(x, y *PodInfo) int {
	if x.priority != y.priority {
		return int(y.priority) - int(x.priority)
	}
	return int(x.startTime - y.startTime)
}

// betterCandidate is Kubernetes' pickOneNodeForPreemption order.
func betterCandidate(x, y *preemption) bool {
	if x.violations != y.violations {
		return x.violations < y.violations
	}
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
