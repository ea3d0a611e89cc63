package scheduler

import (
	"slices"
	"strconv"

	"github.com/podkit/podkit/objects"
)

const reasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

// NewNodeAffinity returns the NodeAffinity plugin. As a filter it keeps the
// nodes matching the pod's spec.nodeSelector and its required node affinity
// (any term; within a term every expression, with operators In, NotIn,
// Exists, DoesNotExist, Gt, Lt, and matchFields on metadata.name). As a
// score it adds the weights of the preferred terms a node matches, scaled
// so the best node scores MaxNodeScore.
func NewNodeAffinity() Plugin { return nodeAffinity{} }

type nodeAffinity struct{}

var statusNodeAffinity = NewStatus(UnschedulableAndUnresolvable, reasonNodeAffinity)

func (nodeAffinity) Name() string { return "NodeAffinity" }

func (nodeAffinity) Locality() Locality { return LocalityNodeObject }

// nodeAffinityState is the pod's node constraints, compiled once.
type nodeAffinityState struct {
	required  requiredNodeAffinity
	preferred []weightedTerm
}

type weightedTerm struct {
	weight int64
	term   nodeSelectorTerm
}

func (nodeAffinity) PreFilter(_ *Snapshot, pod *PodInfo) (any, *Status) {
	st := &nodeAffinityState{required: newRequiredNodeAffinity(&pod.pod.Spec)}
	if a := pod.pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		for _, t := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if t.Weight == 0 {
				continue
			}
			st.preferred = append(st.preferred, weightedTerm{weight: int64(t.Weight), term: compileNodeSelectorTerm(&t.Preference)})
		}
	}
	return st, nil
}

func (nodeAffinity) Filter(state any, _ *PodInfo, node *NodeInfo) *Status {
	if !state.(*nodeAffinityState).required.matches(node) {
		return statusNodeAffinity
	}
	return nil
}

func (nodeAffinity) Score(state any, _ *PodInfo, node *NodeInfo) int64 {
	var s int64
	for _, t := range state.(*nodeAffinityState).preferred {
		if t.term.matches(node) {
			s += t.weight
		}
	}
	return s
}

func (nodeAffinity) NormalizeScores(_ any, _ *PodInfo, scores []NodeScore) {
	defaultNormalizeScore(MaxNodeScore, false, scores)
}

// requiredNodeAffinity is spec.nodeSelector and the required node affinity
// of a pod, compiled.
type requiredNodeAffinity struct {
	selector map[string]string
	terms    []nodeSelectorTerm // any may match; nil for no required affinity
	hasTerms bool
}

func newRequiredNodeAffinity(spec *objects.PodSpec) requiredNodeAffinity {
	r := requiredNodeAffinity{selector: spec.NodeSelector}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		r.hasTerms = true
		for i := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			r.terms = append(r.terms, compileNodeSelectorTerm(&a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[i]))
		}
	}
	return r
}

func (r *requiredNodeAffinity) matches(node *NodeInfo) bool {
	for k, v := range r.selector {
		if have, ok := node.labels[k]; !ok || have != v {
			return false
		}
	}
	if !r.hasTerms {
		return true
	}
	for i := range r.terms {
		if r.terms[i].matches(node) {
			return true
		}
	}
	return false
}

// nodeSelectorTerm is a compiled NodeSelectorTerm: every requirement must
// hold. A term without requirements matches no node, as in Kubernetes.
type nodeSelectorTerm struct {
	labels []nodeRequirement
	fields []nodeRequirement
	valid  bool
}

type nodeRequirement struct {
	key    string
	op     objects.NodeSelectorOperator
	values []string
	num    int64 // the value of Gt and Lt
}

func compileNodeSelectorTerm(t *objects.NodeSelectorTerm) nodeSelectorTerm {
	out := nodeSelectorTerm{valid: len(t.MatchExpressions)+len(t.MatchFields) > 0}
	for _, e := range t.MatchExpressions {
		r, ok := compileNodeRequirement(e)
		if !ok {
			out.valid = false
		}
		out.labels = append(out.labels, r)
	}
	for _, e := range t.MatchFields {
		if e.Key != "metadata.name" || (e.Operator != objects.NodeSelectorOpIn && e.Operator != objects.NodeSelectorOpNotIn) {
			out.valid = false
		}
		out.fields = append(out.fields, nodeRequirement{key: e.Key, op: e.Operator, values: e.Values})
	}
	return out
}

func compileNodeRequirement(e objects.NodeSelectorRequirement) (nodeRequirement, bool) {
	r := nodeRequirement{key: e.Key, op: e.Operator, values: e.Values}
	switch e.Operator {
	case objects.NodeSelectorOpIn, objects.NodeSelectorOpNotIn:
		return r, len(e.Values) > 0
	case objects.NodeSelectorOpExists, objects.NodeSelectorOpDoesNotExist:
		return r, len(e.Values) == 0
	case objects.NodeSelectorOpGt, objects.NodeSelectorOpLt:
		if len(e.Values) != 1 {
			return r, false
		}
		n, err := strconv.ParseInt(e.Values[0], 10, 64)
		r.num = n
		return r, err == nil
	}
	return r, false
}

func (t *nodeSelectorTerm) matches(node *NodeInfo) bool {
	if !t.valid {
		return false
	}
	for i := range t.labels {
		r := &t.labels[i]
		v, ok := node.labels[r.key]
		if !r.matchesValue(v, ok) {
			return false
		}
	}
	for i := range t.fields {
		r := &t.fields[i]
		if !r.matchesValue(node.name, true) {
			return false
		}
	}
	return true
}

func (r *nodeRequirement) matchesValue(v string, ok bool) bool {
	switch r.op {
	case objects.NodeSelectorOpIn:
		return ok && slices.Contains(r.values, v)
	case objects.NodeSelectorOpNotIn:
		return !ok || !slices.Contains(r.values, v)
	case objects.NodeSelectorOpExists:
		return ok
	case objects.NodeSelectorOpDoesNotExist:
		return !ok
	case objects.NodeSelectorOpGt, objects.NodeSelectorOpLt:
		if !ok {
			return false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if r.op == objects.NodeSelectorOpGt {
			return n > r.num
		}
		return n < r.num
	}
	return false
}

// matchesNodeSelector reports whether a node matches a NodeSelector (any
// term), as a PersistentVolume's node affinity requires.
func matchesNodeSelector(s *objects.NodeSelector, node *NodeInfo) bool {
	for i := range s.NodeSelectorTerms {
		t := compileNodeSelectorTerm(&s.NodeSelectorTerms[i])
		if t.matches(node) {
			return true
		}
	}
	return false
}
