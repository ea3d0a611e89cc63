package scheduler

import (
	"math/rand/v2"
	"slices"
)

// Bounds on what the algorithm keeps between pods.
const (
	maxLiveGroups = 32  // groups whose plugin states follow pod changes
	maxClasses    = 256 // classes kept
	maxHeaps      = 8   // classes whose heap follows pod changes
)

// algorithm places pods on the snapshot. It is the pure part of the
// scheduler: given the snapshot and a group it returns a node, or a
// diagnosis saying why there is none. It does no I/O.
type algorithm struct {
	fw   *framework
	snap *Snapshot
	sign *signer
	rng  *rand.Rand

	classes map[uint64]*class
	heaps   []*class
	live    []*group
	tick    uint64

	feasibleBuf []*NodeInfo
	totalBuf    []int64
	scoreBuf    []NodeScore
}

func newAlgorithm(fw *framework, snap *Snapshot, seed uint64) *algorithm {
	a := &algorithm{
		fw: fw, snap: snap, sign: newSigner(),
		rng:     rand.New(rand.NewPCG(seed, seed^0x5DEECE66D)),
		classes: map[uint64]*class{},
	}
	snap.listener = a
	return a
}

// prepare makes g's plugin states current: all PreFilters again when nodes
// changed, and those that pod changes made stale. It returns a Status that
// rejects every node, or nil.
func (a *algorithm) prepare(g *group) *Status {
	fw, snap := a.fw, a.snap
	full := !g.prepared || g.staticEpoch != snap.staticEpoch
	if len(g.states) != len(fw.plugins) {
		g.states = make([]pluginState, len(fw.plugins))
		full = true
	}
	podsChanged := g.podEpoch != snap.podEpoch || g.termsVer != snap.terms.version
	for i, pf := range fw.prefilter {
		st := &g.states[i]
		if pf == nil {
			continue
		}
		rerun := full || st.stale
		if !rerun && podsChanged && fw.locality[i] == LocalityCluster {
			// A plugin that had nothing to say, or that cannot follow pod
			// changes, looks again.
			rerun = st.status.Code() == Skip || fw.observer[i] == nil
		}
		if rerun {
			st.state, st.status = pf.PreFilter(snap, g.pod)
			st.stale = false
		}
	}
	g.prepared = true
	g.staticEpoch, g.podEpoch, g.termsVer = snap.staticEpoch, snap.podEpoch, snap.terms.version
	g.preErr, g.preErrBy = nil, -1
	g.heapPath = true
	for i := range g.states {
		st := g.states[i].status
		switch st.Code() {
		case Success:
			if fw.locality[i] == LocalityCluster {
				g.heapPath = false
			}
		case Skip:
		default:
			if g.preErr == nil {
				g.preErr, g.preErrBy = st, i
			}
		}
	}
	for _, sr := range fw.scores {
		if sr.locality == LocalityCluster && g.states[sr.idx].status == nil {
			if sk, ok := sr.plugin.(scoreSkipper); !ok || !sk.skipScore(g.states[sr.idx].state) {
				g.heapPath = false
			}
		}
	}
	a.makeLive(g)
	return g.preErr
}

// makeLive adds g to the groups whose states follow pod changes, dropping
// the least recently used beyond maxLiveGroups.
func (a *algorithm) makeLive(g *group) {
	a.tick++
	if g.live {
		return
	}
	g.live = true
	a.live = append(a.live, g)
	if len(a.live) > maxLiveGroups {
		old := a.live[0]
		a.live = a.live[1:]
		a.forget(old)
	}
}

// forget drops g's states; they are recomputed when g is scheduled again.
func (a *algorithm) forget(g *group) {
	if g.live {
		g.live = false
		if i := slices.Index(a.live, g); i >= 0 {
			a.live = slices.Delete(a.live, i, i+1)
		}
	}
	g.prepared = false
	g.states = nil
	g.cands, g.dead, g.candClass = nil, nil, nil
}

// podAdded implements snapshotListener.
func (a *algorithm) podAdded(p *PodInfo, n *NodeInfo) {
	for _, g := range a.live {
		a.observe(g, p, n, true)
	}
	for _, c := range a.heaps {
		c.nodeChanged(a.fw, n)
	}
}

// podRemoved implements snapshotListener.
func (a *algorithm) podRemoved(p *PodInfo, n *NodeInfo) {
	for _, g := range a.live {
		a.observe(g, p, n, false)
	}
	for _, c := range a.heaps {
		c.nodeChanged(a.fw, n)
	}
}

func (a *algorithm) observe(g *group, p *PodInfo, n *NodeInfo, added bool) {
	if !g.prepared {
		return
	}
	for i := range g.states {
		st := &g.states[i]
		if st.status != nil || st.stale || a.fw.prefilter[i] == nil {
			continue
		}
		if ob := a.fw.observer[i]; ob != nil {
			var ok bool
			if added {
				ok = ob.PodAdded(st.state, g.pod, p, n)
			} else {
				ok = ob.PodRemoved(st.state, g.pod, p, n)
			}
			st.stale = !ok
		} else if a.fw.locality[i] == LocalityCluster {
			st.stale = true
		}
	}
}

// classOf returns g's class, built against the current snapshot.
func (a *algorithm) classOf(g *group) *class {
	c := a.classes[g.classKey]
	if c == nil {
		c = &class{key: g.classKey}
		if len(a.classes) >= maxClasses {
			a.evictClass()
		}
		a.classes[g.classKey] = c
	}
	c.lastUse = a.tick
	if !c.built || c.epoch != a.snap.staticEpoch {
		c.build(a.fw, a.snap, g)
	}
	return c
}

func (a *algorithm) evictClass() {
	var oldest *class
	for _, c := range a.classes {
		if oldest == nil || c.lastUse < oldest.lastUse {
			oldest = c
		}
	}
	if oldest != nil {
		a.dropHeap(oldest)
		delete(a.classes, oldest.key)
	}
}

func (a *algorithm) dropHeap(c *class) {
	if i := slices.Index(a.heaps, c); i >= 0 {
		a.heaps = slices.Delete(a.heaps, i, i+1)
	}
	c.dropHeap()
}

func (a *algorithm) enableHeap(c *class) {
	if c.heapOn {
		return
	}
	if len(a.heaps) >= maxHeaps {
		oldest := a.heaps[0]
		for _, h := range a.heaps {
			if h.lastUse < oldest.lastUse {
				oldest = h
			}
		}
		a.dropHeap(oldest)
	}
	c.buildHeap(a.fw, a.snap)
	a.heaps = append(a.heaps, c)
}

// place returns the best node for the next pod of g (prepared), or nil.
func (a *algorithm) place(g *group) *NodeInfo {
	if g.preErr != nil || len(a.snap.nodes) == 0 {
		return nil
	}
	a.refresh(g)
	c := a.classOf(g)
	if g.heapPath {
		a.enableHeap(c)
		if idx := c.best(); idx >= 0 {
			return a.snap.nodes[idx]
		}
		return nil
	}
	return a.placeSampled(g, c)
}

// refresh reruns the PreFilters that pod changes made stale.
func (a *algorithm) refresh(g *group) {
	stale := g.staticEpoch != a.snap.staticEpoch
	for i := range g.states {
		if g.states[i].stale {
			stale = true
		}
	}
	if stale {
		a.prepare(g)
	}
}

// placeSampled is Kubernetes' search: filter the class's nodes round-robin
// from where the last search stopped until enough are feasible, score
// those, take the best. Nodes rejected for a reason more pods cannot undo
// (resources, ports, anti-affinity) are left out of the group's later
// searches until a pod leaves or a node changes.
func (a *algorithm) placeSampled(g *group, c *class) *NodeInfo {
	snap := a.snap
	if g.candClass != c || g.candEpoch != c.epoch {
		g.candClass, g.candEpoch = c, c.epoch
		g.cands = append(g.cands[:0], c.feasible...)
		g.dead = resize(g.dead, len(snap.nodes))
		g.candRelease = ^snap.releaseEpoch
		g.next = 0
	}
	if g.candRelease != snap.releaseEpoch {
		g.candRelease = snap.releaseEpoch
		clear(g.dead)
		g.deadCount = 0
		if len(g.cands) != len(c.feasible) {
			g.cands = append(g.cands[:0], c.feasible...)
		}
	}
	n := len(g.cands)
	if n == 0 {
		return nil
	}
	want := a.fw.numFeasibleNodesToFind(len(snap.nodes))
	feasible := a.feasibleBuf[:0]
	i := g.next % n
	for visited := 0; visited < n && len(feasible) < want; visited++ {
		idx := g.cands[i]
		if i++; i == n {
			i = 0
		}
		if g.dead[idx] {
			continue
		}
		node := snap.nodes[idx]
		st := a.filterDynamic(g, node)
		if st == nil {
			feasible = append(feasible, node)
		} else if st.monotone {
			g.dead[idx] = true
			g.deadCount++
		}
	}
	g.next = i
	if g.deadCount > 64 && g.deadCount > n/2 {
		g.cands = slices.DeleteFunc(g.cands, func(idx int32) bool { return g.dead[idx] })
		clear(g.dead)
		g.deadCount = 0
		g.next = 0
	}
	a.feasibleBuf = feasible
	switch len(feasible) {
	case 0:
		return nil
	case 1:
		return feasible[0]
	}
	return a.best(g, c, feasible)
}

// filterDynamic runs the filters that are not LocalityNodeObject (the class
// ran those), in profile order.
func (a *algorithm) filterDynamic(g *group, node *NodeInfo) *Status {
	for _, i := range a.fw.filters {
		if a.fw.locality[i] == LocalityNodeObject {
			continue
		}
		st := &g.states[i]
		if st.status != nil {
			continue
		}
		if s := a.fw.plugins[i].(FilterPlugin).Filter(st.state, g.pod, node); !s.IsSuccess() {
			return s
		}
	}
	return nil
}

// filterAll runs every filter in profile order.
func (a *algorithm) filterAll(g *group, node *NodeInfo) *Status {
	for _, i := range a.fw.filters {
		st := &g.states[i]
		if st.status != nil {
			continue
		}
		if s := a.fw.plugins[i].(FilterPlugin).Filter(st.state, g.pod, node); !s.IsSuccess() {
			return s
		}
	}
	return nil
}

// best scores the feasible nodes and returns the highest, choosing at
// random among equals as Kubernetes does.
func (a *algorithm) best(g *group, c *class, feasible []*NodeInfo) *NodeInfo {
	totals := resize(a.totalBuf, len(feasible))
	for i, node := range feasible {
		totals[i] = c.staticScore[node.idx]
	}
	buf := resize(a.scoreBuf, len(feasible))
	for _, sr := range a.fw.scores {
		st := &g.states[sr.idx]
		if sr.locality == LocalityNodeObject || st.status != nil {
			continue
		}
		if sk, ok := sr.plugin.(scoreSkipper); ok && sk.skipScore(st.state) {
			continue // every node alike: nothing to add
		}
		if sr.prescorer != nil {
			sr.prescorer.PreScore(st.state, g.pod, feasible)
		}
		for i, node := range feasible {
			buf[i] = NodeScore{Node: node, Score: sr.plugin.Score(st.state, g.pod, node)}
		}
		if sr.normalizer != nil {
			sr.normalizer.NormalizeScores(st.state, g.pod, buf)
		}
		for i := range buf {
			totals[i] += sr.weight * buf[i].Score
		}
	}
	a.totalBuf, a.scoreBuf = totals, buf
	bestIdx, ties := 0, 1
	for i := 1; i < len(totals); i++ {
		switch {
		case totals[i] > totals[bestIdx]:
			bestIdx, ties = i, 1
		case totals[i] == totals[bestIdx]:
			ties++
			if a.rng.IntN(ties) == 0 {
				bestIdx = i
			}
		}
	}
	return feasible[bestIdx]
}

// diagnose runs every filter on every node and records the first rejection
// of each, for the pod's message and for preemption. It returns a node that
// passes them all, if there is one after all.
func (a *algorithm) diagnose(g *group) (*diagnosis, *NodeInfo) {
	d := &diagnosis{numNodes: len(a.snap.nodes)}
	if g.preErr != nil {
		d.preFilter = g.preErr
		for _, node := range a.snap.nodes {
			d.add(node, g.preErr, g.preErrBy)
		}
		return d, nil
	}
	for _, node := range a.snap.nodes {
		var failed *Status
		plugin := -1
		for _, i := range a.fw.filters {
			st := &g.states[i]
			if st.status != nil {
				continue
			}
			if s := a.fw.plugins[i].(FilterPlugin).Filter(st.state, g.pod, node); !s.IsSuccess() {
				failed, plugin = s, i
				break
			}
		}
		if failed == nil {
			return nil, node
		}
		d.add(node, failed, plugin)
	}
	return d, nil
}
