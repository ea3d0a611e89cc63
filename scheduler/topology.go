package scheduler

// topology numbers the domains of one topology key: the distinct values of
// that label among the stored nodes. Plugins count pods per domain number
// in slices, so that a filter looks a node's count up by index instead of
// hashing label values.
type topology struct {
	key    string
	epoch  uint64 // snapshot staticEpoch it was built at
	built  bool
	ids    map[string]int32
	values []string
	domain []int32 // by node index: the node's domain, -1 without the label
}

// topologyOf returns the domains of key for the current nodes.
func (s *Snapshot) topologyOf(key string) *topology {
	if s.topologies == nil {
		s.topologies = map[string]*topology{}
	}
	t := s.topologies[key]
	if t == nil {
		t = &topology{key: key}
		s.topologies[key] = t
	}
	if t.built && t.epoch == s.staticEpoch {
		return t
	}
	t.built, t.epoch = true, s.staticEpoch
	clear(t.ids)
	if t.ids == nil {
		t.ids = map[string]int32{}
	}
	t.values = t.values[:0]
	t.domain = resize(t.domain, len(s.nodes))
	for _, n := range s.nodes {
		v, ok := n.labels[key]
		if !ok {
			t.domain[n.idx] = -1
			continue
		}
		id, seen := t.ids[v]
		if !seen {
			id = int32(len(t.values))
			t.ids[v] = id
			t.values = append(t.values, v)
		}
		t.domain[n.idx] = id
	}
	return t
}

// of returns the domain of node n, or -1 when it has none or is not a
// stored node.
func (t *topology) of(n *NodeInfo) int32 {
	if n.idx < 0 || n.idx >= len(t.domain) {
		return -1
	}
	return t.domain[n.idx]
}

// countAt returns the count of a term entry in domain d of t, rebuilding
// the entry's per-domain counts when the nodes changed.
func (s *Snapshot) countAt(e *termEntry, t *topology, d int32) int64 {
	if e.domTopo != t || e.domEpoch != t.epoch || e.dom == nil {
		e.domTopo, e.domEpoch = t, t.epoch
		e.dom = resize(e.dom, len(t.values))
		clear(e.dom)
		for v, c := range e.byTopo {
			if id, ok := t.ids[v]; ok {
				e.dom[id] = c
			}
		}
	}
	return e.dom[d]
}
