package scheduler

// class is what the pods of a class (same class key: node selector and
// affinity, tolerations, requests, host ports, claims) have in common: the
// nodes passing the LocalityNodeObject filters, with the normalized scores
// of the LocalityNodeObject score plugins; and, for groups whose placement
// does not depend on other pods, a heap of the feasible nodes by total
// score, kept current as pods come and go.
//
// The heap is what makes placing a pod cost O(log nodes) instead of
// O(nodes): the best node is on top; placing a pod changes one node, whose
// entry is re-scored and moved.
type class struct {
	key     uint64
	epoch   uint64 // snapshot staticEpoch the class was built at
	built   bool
	pod     *PodInfo
	states  []pluginState // the builder's, for NodeObject and Node plugins
	lastUse uint64

	feasible    []int32 // nodes passing the NodeObject filters
	staticOK    []bool  // by node index
	staticScore []int64 // by node index: weighted NodeObject scores

	heapOn bool
	heap   []int32 // node indices, best first
	pos    []int32 // by node index: position in heap, -1 when out
	score  []int64 // by node index: total score
	tie    []uint32
}

// build evaluates the NodeObject filters and scores for every node.
func (c *class) build(fw *framework, snap *Snapshot, g *group) {
	c.epoch = snap.staticEpoch
	c.built = true
	c.pod = g.pod
	c.states = g.states
	n := len(snap.nodes)
	c.feasible = c.feasible[:0]
	c.staticOK = resize(c.staticOK, n)
	c.staticScore = resize(c.staticScore, n)
	for _, node := range snap.nodes {
		ok := true
		for _, i := range fw.filters {
			if fw.locality[i] != LocalityNodeObject || c.states[i].status != nil {
				continue
			}
			if !fw.plugins[i].(FilterPlugin).Filter(c.states[i].state, c.pod, node).IsSuccess() {
				ok = false
				break
			}
		}
		c.staticOK[node.idx] = ok
		c.staticScore[node.idx] = 0
		if ok {
			c.feasible = append(c.feasible, int32(node.idx))
		}
	}
	var buf []NodeScore
	for _, sr := range fw.scores {
		if sr.locality != LocalityNodeObject || c.states[sr.idx].status != nil {
			continue
		}
		buf = buf[:0]
		if sr.prescorer != nil {
			nodes := make([]*NodeInfo, len(c.feasible))
			for i, idx := range c.feasible {
				nodes[i] = snap.nodes[idx]
			}
			sr.prescorer.PreScore(c.states[sr.idx].state, c.pod, nodes)
		}
		for _, idx := range c.feasible {
			node := snap.nodes[idx]
			buf = append(buf, NodeScore{Node: node, Score: sr.plugin.Score(c.states[sr.idx].state, c.pod, node)})
		}
		if sr.normalizer != nil {
			sr.normalizer.NormalizeScores(c.states[sr.idx].state, c.pod, buf)
		}
		for _, ns := range buf {
			c.staticScore[ns.Node.idx] += sr.weight * ns.Score
		}
	}
	if c.heapOn {
		c.buildHeap(fw, snap)
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// localFit runs the LocalityNode filters, in profile order.
func (c *class) localFit(fw *framework, node *NodeInfo) *Status {
	for _, i := range fw.filters {
		if fw.locality[i] != LocalityNode || c.states[i].status != nil {
			continue
		}
		if st := fw.plugins[i].(FilterPlugin).Filter(c.states[i].state, c.pod, node); !st.IsSuccess() {
			return st
		}
	}
	return nil
}

// localScore adds the weighted LocalityNode scores to the static ones.
func (c *class) localScore(fw *framework, node *NodeInfo) int64 {
	s := c.staticScore[node.idx]
	for _, sr := range fw.scores {
		if sr.locality != LocalityNode || c.states[sr.idx].status != nil {
			continue
		}
		s += sr.weight * sr.plugin.Score(c.states[sr.idx].state, c.pod, node)
	}
	return s
}

// tieBreak spreads pods over nodes of equal score, as Kubernetes' random
// choice among the best does, but deterministically: it changes whenever
// the node does.
func tieBreak(node *NodeInfo) uint32 {
	x := uint64(node.idx)*0x9E3779B97F4A7C15 ^ node.generation*0xBF58476D1CE4E5B9
	x ^= x >> 31
	x *= 0x94D049BB133111EB
	return uint32(x >> 32)
}

func (c *class) buildHeap(fw *framework, snap *Snapshot) {
	n := len(snap.nodes)
	c.heapOn = true
	c.heap = c.heap[:0]
	c.pos = resize(c.pos, n)
	c.score = resize(c.score, n)
	c.tie = resize(c.tie, n)
	for i := range c.pos {
		c.pos[i] = -1
	}
	for _, idx := range c.feasible {
		node := snap.nodes[idx]
		if !c.localFit(fw, node).IsSuccess() {
			continue
		}
		c.score[idx] = c.localScore(fw, node)
		c.tie[idx] = tieBreak(node)
		c.pos[idx] = int32(len(c.heap))
		c.heap = append(c.heap, idx)
	}
	for i := len(c.heap)/2 - 1; i >= 0; i-- {
		c.down(i)
	}
}

func (c *class) dropHeap() {
	c.heapOn = false
	c.heap, c.pos, c.score, c.tie = nil, nil, nil, nil
}

// nodeChanged re-ranks a node after its pods changed.
func (c *class) nodeChanged(fw *framework, node *NodeInfo) {
	idx := node.idx
	if !c.heapOn || idx < 0 || idx >= len(c.staticOK) || !c.staticOK[idx] {
		return
	}
	if !c.localFit(fw, node).IsSuccess() {
		if p := c.pos[idx]; p >= 0 {
			c.remove(int(p))
		}
		return
	}
	c.score[idx] = c.localScore(fw, node)
	c.tie[idx] = tieBreak(node)
	if p := c.pos[idx]; p >= 0 {
		if !c.down(int(p)) {
			c.up(int(p))
		}
		return
	}
	c.pos[idx] = int32(len(c.heap))
	c.heap = append(c.heap, int32(idx))
	c.up(len(c.heap) - 1)
}

// best returns the highest-scoring feasible node, or -1.
func (c *class) best() int {
	if len(c.heap) == 0 {
		return -1
	}
	return int(c.heap[0])
}

func (c *class) less(i, j int) bool { // i ranks above j
	a, b := c.heap[i], c.heap[j]
	if c.score[a] != c.score[b] {
		return c.score[a] > c.score[b]
	}
	if c.tie[a] != c.tie[b] {
		return c.tie[a] > c.tie[b]
	}
	return a < b
}

func (c *class) swap(i, j int) {
	c.heap[i], c.heap[j] = c.heap[j], c.heap[i]
	c.pos[c.heap[i]] = int32(i)
	c.pos[c.heap[j]] = int32(j)
}

func (c *class) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !c.less(j, i) {
			break
		}
		c.swap(i, j)
		j = i
	}
}

func (c *class) down(i0 int) bool {
	i, n := i0, len(c.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && c.less(r, l) {
			j = r
		}
		if !c.less(j, i) {
			break
		}
		c.swap(i, j)
		i = j
	}
	return i > i0
}

func (c *class) remove(p int) {
	last := len(c.heap) - 1
	idx := c.heap[p]
	if p != last {
		c.swap(p, last)
	}
	c.heap = c.heap[:last]
	c.pos[idx] = -1
	if p != last {
		if !c.down(p) {
			c.up(p)
		}
	}
}
