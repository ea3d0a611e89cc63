// Package pset is a persistent sorted set of strings: a copy-on-write B+tree
// whose every version stays valid and unchanged once its writer is done, so
// that readers of an old version never see a later write.
//
// A writer passes an Owner to its changes. Nodes created under an owner are
// changed in place by later changes under the same owner, so a transaction
// that adds many names to one set copies each node at most once; nodes of
// any other owner are copied first. An owner must be used by one goroutine,
// and dropped once its versions are published to readers.
//
// Memory is about 16 bytes per name (the string header; the name's bytes
// are shared with the caller) plus a node every 64 names.
package pset

import (
	"slices"
	"strings"
)

const (
	maxItems = 64           // per node
	minItems = maxItems / 4 // a smaller node is merged with a neighbour when both fit in one
)

// Owner marks the nodes one writer may change in place.
type Owner struct{ _ byte } // not zero-sized: distinct owners must have distinct addresses

// Set is one version of a set. The zero Set is empty. Sets are values: a
// change returns a new Set and leaves the old one as it was.
type Set struct {
	root *node
	len  int
}

// node is a leaf (kids nil) holding names, or an inner node holding the
// smallest name of each child.
type node struct {
	owner *Owner
	items []string
	kids  []*node
}

// Len returns the number of names.
func (s Set) Len() int { return s.len }

// Has reports whether x is in the set.
func (s Set) Has(x string) bool {
	n := s.root
	if n == nil {
		return false
	}
	for n.kids != nil {
		n = n.kids[n.child(x)]
	}
	_, ok := slices.BinarySearch(n.items, x)
	return ok
}

// Ascend calls fn for each name in order until fn returns false.
func (s Set) Ascend(fn func(string) bool) {
	if s.root != nil {
		s.root.ascend(fn)
	}
}

// All returns the names in order.
func (s Set) All() []string {
	out := make([]string, 0, s.len)
	s.Ascend(func(x string) bool { out = append(out, x); return true })
	return out
}

func (n *node) ascend(fn func(string) bool) bool {
	if n.kids == nil {
		for _, x := range n.items {
			if !fn(x) {
				return false
			}
		}
		return true
	}
	for _, k := range n.kids {
		if !k.ascend(fn) {
			return false
		}
	}
	return true
}

// child returns the index of the child whose range holds x.
func (n *node) child(x string) int {
	i, found := slices.BinarySearch(n.items, x)
	if found || i == 0 {
		return i
	}
	return i - 1
}

// mut returns n if o may change it, else a copy owned by o.
func (n *node) mut(o *Owner) *node {
	if n.owner == o {
		return n
	}
	c := &node{owner: o, items: make([]string, len(n.items), len(n.items)+1)}
	copy(c.items, n.items)
	if n.kids != nil {
		c.kids = make([]*node, len(n.kids), len(n.kids)+1)
		copy(c.kids, n.kids)
	}
	return c
}

// Insert returns the set with x added.
func (s Set) Insert(x string, o *Owner) Set {
	if s.root == nil {
		return Set{root: &node{owner: o, items: []string{x}}, len: 1}
	}
	root, added, sib := s.root.insert(x, o)
	if !added {
		return s
	}
	if sib != nil {
		root = &node{owner: o, items: []string{root.items[0], sib.items[0]}, kids: []*node{root, sib}}
	}
	return Set{root: root, len: s.len + 1}
}

// insert adds x under n; it returns n or its replacement, whether x was
// added, and the right half of n when n had to split.
func (n *node) insert(x string, o *Owner) (*node, bool, *node) {
	if n.kids == nil {
		i, found := slices.BinarySearch(n.items, x)
		if found {
			return n, false, nil
		}
		n = n.mut(o)
		n.items = slices.Insert(n.items, i, x)
		return n, true, n.split(o)
	}
	i := n.child(x)
	c, added, sib := n.kids[i].insert(x, o)
	if !added {
		return n, false, nil
	}
	n = n.mut(o)
	n.kids[i], n.items[i] = c, c.items[0]
	if sib != nil {
		n.items = slices.Insert(n.items, i+1, sib.items[0])
		n.kids = slices.Insert(n.kids, i+1, sib)
	}
	return n, true, n.split(o)
}

// split moves the upper half of an overfull n, which o owns, into a new
// node and returns it; nil when n is not overfull.
func (n *node) split(o *Owner) *node {
	if len(n.items) <= maxItems {
		return nil
	}
	h := len(n.items) / 2
	sib := &node{owner: o, items: slices.Clone(n.items[h:])}
	clear(n.items[h:])
	n.items = n.items[:h]
	if n.kids != nil {
		sib.kids = slices.Clone(n.kids[h:])
		clear(n.kids[h:])
		n.kids = n.kids[:h]
	}
	return sib
}

// Delete returns the set without x.
func (s Set) Delete(x string, o *Owner) Set {
	if s.root == nil {
		return s
	}
	root, removed := s.root.delete(x, o)
	if !removed {
		return s
	}
	for len(root.kids) == 1 {
		root = root.kids[0]
	}
	if len(root.items) == 0 {
		root = nil
	}
	return Set{root: root, len: s.len - 1}
}

func (n *node) delete(x string, o *Owner) (*node, bool) {
	if n.kids == nil {
		i, found := slices.BinarySearch(n.items, x)
		if !found {
			return n, false
		}
		n = n.mut(o)
		n.items = slices.Delete(n.items, i, i+1)
		return n, true
	}
	i := n.child(x)
	c, removed := n.kids[i].delete(x, o)
	if !removed {
		return n, false
	}
	n = n.mut(o)
	switch {
	case len(c.items) == 0:
		n.items = slices.Delete(n.items, i, i+1)
		n.kids = slices.Delete(n.kids, i, i+1)
	default:
		n.kids[i], n.items[i] = c, c.items[0]
		if len(c.items) < minItems {
			n.merge(i, o)
		}
	}
	return n, true
}

// merge joins child i of n, which o owns, with a neighbour when both fit
// in one node.
func (n *node) merge(i int, o *Owner) {
	j := i + 1
	if j == len(n.kids) {
		i, j = i-1, i
	}
	if i < 0 || len(n.kids[i].items)+len(n.kids[j].items) > maxItems {
		return
	}
	a, b := n.kids[i], n.kids[j]
	m := &node{owner: o, items: slices.Concat(a.items, b.items)}
	if a.kids != nil {
		m.kids = slices.Concat(a.kids, b.kids)
	}
	n.kids[i], n.items[i] = m, m.items[0]
	n.items = slices.Delete(n.items, j, j+1)
	n.kids = slices.Delete(n.kids, j, j+1)
}

// check verifies the tree's invariants, for tests.
func (s Set) check() string {
	if s.root == nil {
		if s.len != 0 {
			return "empty root with a length"
		}
		return ""
	}
	count := 0
	var prev *string
	var walk func(n *node, depth int) (int, string)
	walk = func(n *node, depth int) (int, string) {
		if len(n.items) == 0 || len(n.items) > maxItems {
			return 0, "node size out of range"
		}
		if n.kids == nil {
			for i := range n.items {
				if prev != nil && strings.Compare(*prev, n.items[i]) >= 0 {
					return 0, "leaf items out of order"
				}
				prev = &n.items[i]
				count++
			}
			return depth, ""
		}
		if len(n.kids) != len(n.items) {
			return 0, "inner node: items and kids differ in length"
		}
		d := -1
		for i, k := range n.kids {
			if k.items[0] != n.items[i] {
				return 0, "inner item is not the child's smallest"
			}
			kd, err := walk(k, depth+1)
			if err != "" {
				return 0, err
			}
			if d >= 0 && kd != d {
				return 0, "leaves at different depths"
			}
			d = kd
		}
		return d, ""
	}
	if _, err := walk(s.root, 0); err != "" {
		return err
	}
	if count != s.len {
		return "length differs from the count of names"
	}
	return ""
}
