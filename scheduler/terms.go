package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/objects"
)

// affinityTerm is a compiled PodAffinityTerm: which pods it selects and the
// topology key naming its domain.
type affinityTerm struct {
	namespaces  []string         // pods in these namespaces match
	nsSelector  objects.Selector // or in namespaces whose labels this matches; nil for none
	selector    objects.Selector
	topologyKey string
	weight      int32  // for preferred terms
	key         string // identity: equal keys select the same pods in the same topology
}

// matches reports whether the term selects pod p.
func (t *affinityTerm) matches(p *PodInfo, snap *Snapshot) bool {
	if !slices.Contains(t.namespaces, p.namespace) {
		if t.nsSelector == nil || !t.nsSelector.Matches(snap.namespaceLabels(p.namespace)) {
			return false
		}
	}
	return t.selector.Matches(p.labels)
}

// compileTerm compiles a term of a pod in namespace ns, as Kubernetes does:
// no namespaces and no namespace selector mean the pod's own namespace; a
// nil label selector selects nothing.
func compileTerm(ns string, t *objects.PodAffinityTerm, weight int32) (affinityTerm, error) {
	sel, err := objects.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		return affinityTerm{}, fmt.Errorf("labelSelector: %w", err)
	}
	out := affinityTerm{selector: sel, topologyKey: t.TopologyKey, weight: weight}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		out.namespaces = []string{ns}
	} else {
		out.namespaces = slices.Clone(t.Namespaces)
		slices.Sort(out.namespaces)
		out.namespaces = slices.Compact(out.namespaces)
		if t.NamespaceSelector != nil {
			nsSel, err := objects.LabelSelectorAsSelector(t.NamespaceSelector)
			if err != nil {
				return affinityTerm{}, fmt.Errorf("namespaceSelector: %w", err)
			}
			out.nsSelector = nsSel
		}
	}
	var b strings.Builder
	b.WriteString(strings.Join(out.namespaces, ","))
	b.WriteByte('|')
	if out.nsSelector != nil {
		b.WriteString(selectorKey(t.NamespaceSelector, out.nsSelector))
	}
	b.WriteByte('|')
	b.WriteString(selectorKey(t.LabelSelector, sel))
	b.WriteByte('|')
	b.WriteString(t.TopologyKey)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(int(weight)))
	out.key = b.String()
	return out, nil
}

// selectorKey is a selector's canonical string; a nil LabelSelector, which
// selects nothing, has a key of its own (its String is "", as everything's).
func selectorKey(ls *objects.LabelSelector, sel objects.Selector) string {
	if ls == nil {
		return "\x00nothing"
	}
	return sel.String()
}

// podTerms are a pod's compiled pod affinity and anti-affinity terms.
type podTerms struct {
	required      []affinityTerm
	requiredAnti  []affinityTerm
	preferred     []affinityTerm
	preferredAnti []affinityTerm
}

func (t *podTerms) empty() bool {
	return len(t.required)+len(t.requiredAnti)+len(t.preferred)+len(t.preferredAnti) == 0
}

// compilePodTerms compiles the pod (anti-)affinity of spec for a pod in
// namespace ns; nil when there is none.
func compilePodTerms(ns string, spec *objects.PodSpec) (*podTerms, error) {
	a := spec.Affinity
	if a == nil || (a.PodAffinity == nil && a.PodAntiAffinity == nil) {
		return nil, nil
	}
	var t podTerms
	var err error
	compile := func(in []objects.PodAffinityTerm) []affinityTerm {
		var out []affinityTerm
		for i := range in {
			c, e := compileTerm(ns, &in[i], 0)
			if e != nil && err == nil {
				err = e
			}
			out = append(out, c)
		}
		return out
	}
	compileWeighted := func(in []objects.WeightedPodAffinityTerm) []affinityTerm {
		var out []affinityTerm
		for i := range in {
			c, e := compileTerm(ns, &in[i].PodAffinityTerm, in[i].Weight)
			if e != nil && err == nil {
				err = e
			}
			out = append(out, c)
		}
		return out
	}
	if pa := a.PodAffinity; pa != nil {
		t.required = compile(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		t.preferred = compileWeighted(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		t.requiredAnti = compile(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		t.preferredAnti = compileWeighted(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if err != nil {
		return nil, err
	}
	if t.empty() {
		return nil, nil
	}
	return &t, nil
}

// termKind says which list of a pod a term came from.
type termKind uint8

const (
	kindRequired termKind = iota
	kindRequiredAnti
	kindPreferred
	kindPreferredAnti
)

// termEntry is one distinct term held by pods in the snapshot, with where
// its holders run: for each value of its topology key, the number of
// holders (for preferred terms, the sum of their weights).
type termEntry struct {
	term    affinityTerm
	kind    termKind
	holders int
	byTopo  map[string]int64

	// byTopo by domain number of domTopo, built on demand (countAt).
	dom      []int64
	domTopo  *topology
	domEpoch uint64
}

// termRegistry indexes the terms of the pods in the snapshot, so that a
// pod being scheduled finds the existing pods whose anti-affinity rejects
// it (and whose preferences rate it) without visiting every pod.
type termRegistry struct {
	// version changes when a distinct term appears or disappears.
	version uint64
	entries map[string]*termEntry
	snap    *Snapshot
}

func (r *termRegistry) add(p *PodInfo, n *NodeInfo) { r.update(p, n, 1) }

func (r *termRegistry) remove(p *PodInfo, n *NodeInfo) { r.update(p, n, -1) }

func (r *termRegistry) update(p *PodInfo, n *NodeInfo, sign int64) {
	t := p.terms
	if t == nil {
		return
	}
	for kind, list := range [...][]affinityTerm{t.required, t.requiredAnti, t.preferred, t.preferredAnti} {
		for i := range list {
			r.updateTerm(&list[i], termKind(kind), n, sign)
		}
	}
}

func (r *termRegistry) updateTerm(t *affinityTerm, kind termKind, n *NodeInfo, sign int64) {
	key := string(rune('0'+kind)) + t.key
	e := r.entries[key]
	if e == nil {
		if sign < 0 {
			return
		}
		if r.entries == nil {
			r.entries = map[string]*termEntry{}
		}
		e = &termEntry{term: *t, kind: kind, byTopo: map[string]int64{}}
		r.entries[key] = e
		r.version++
	}
	e.holders += int(sign)
	if v, ok := n.labels[t.topologyKey]; ok {
		amount := sign
		if kind == kindPreferred || kind == kindPreferredAnti {
			amount = sign * int64(t.weight)
		}
		if e.byTopo[v] += amount; e.byTopo[v] == 0 {
			delete(e.byTopo, v)
		}
		if e.dom != nil {
			tp := e.domTopo
			if r.snap != nil && tp.built && tp.epoch == r.snap.staticEpoch && e.domEpoch == tp.epoch && tp.of(n) >= 0 {
				e.dom[tp.of(n)] += amount
			} else {
				e.dom = nil // rebuilt when next read
			}
		}
	}
	if e.holders <= 0 {
		delete(r.entries, key)
		r.version++
	}
}
