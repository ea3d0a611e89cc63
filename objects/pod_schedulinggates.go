package objects

import (
	"fmt"
	"maps"
)

// PodSchedulingGate holds a pod back from scheduling while it is in the
// pod's spec.schedulingGates. A pod is created with its gates; they can
// then only be removed, by whatever controller set them, and the pod is
// scheduled once none is left.
//
// While gated, a pod's scheduling directives may still narrow where it can
// run, as Kubernetes' mutable pod scheduling directives (1.30 and later)
// allow: its nodeSelector may gain entries, and its node affinity may
// change as validateGatedNodeAffinityUpdate says: required terms only
// gain requirements, preferred terms change freely.
type PodSchedulingGate struct {
	Name string `json:"name"`
}

// Scheduling gate condition, as Kubernetes sets it on a gated pod.
const (
	PodReasonSchedulingGated = "SchedulingGated"
	podSchedulingGatedMsg    = "Scheduling is blocked due to non-empty scheduling gates"
)

// IsSchedulingGated reports whether the pod has scheduling gates left.
func (p *Pod) IsSchedulingGated() bool { return len(p.Spec.SchedulingGates) > 0 }

// schedulingGatedCondition is the PodScheduled condition of a pod created
// with scheduling gates.
func (p *Pod) setSchedulingGatedCondition() {
	if p.IsSchedulingGated() {
		// A new pod's generation is 1 (the store sets it when it stores it).
		p.Status.Conditions = append(p.Status.Conditions, PodCondition{Type: PodScheduled, Status: ConditionFalse,
			Reason: PodReasonSchedulingGated, Message: podSchedulingGatedMsg, ObservedGeneration: 1})
	}
}

// validateSchedulingGates checks gate names: qualified names, once each.
func validateSchedulingGates(gates []PodSchedulingGate, p *Path) ErrorList {
	var errs ErrorList
	seen := map[string]bool{}
	for i, g := range gates {
		ip := p.Index(i).Child("name")
		errs = appendMsgs(errs, ip, g.Name, IsQualifiedName(g.Name))
		if seen[g.Name] {
			errs = append(errs, Duplicate(ip, g.Name))
		}
		seen[g.Name] = true
	}
	return errs
}

// validateGatedNodeName refuses a node name on a pod with gates left.
func validateGatedNodeName(s *PodSpec, p *Path) ErrorList {
	if len(s.SchedulingGates) > 0 && s.NodeName != "" {
		return ErrorList{Forbidden(p.Child("nodeName"), "cannot be set until all schedulingGates have been cleared")}
	}
	return nil
}

// validateSchedulingGatesUpdate checks what an update may change of a
// pod's scheduling while it is gated: gates only removed, nodeSelector
// entries only added, node affinity only narrowed. It copies what it
// allows into mut, the old spec the rest of the update is compared with.
func validateSchedulingGatesUpdate(p, old *PodSpec, mut *PodSpec, sp *Path) ErrorList {
	var errs ErrorList
	had := map[string]bool{}
	for _, g := range old.SchedulingGates {
		had[g.Name] = true
	}
	for _, g := range p.SchedulingGates {
		if !had[g.Name] {
			errs = append(errs, Forbidden(sp.Child("schedulingGates").Child(g.Name), "only deletion is allowed, but found new scheduling gate"))
		}
	}
	mut.SchedulingGates = p.SchedulingGates
	if len(old.SchedulingGates) == 0 {
		return errs
	}
	if !maps.Equal(old.NodeSelector, p.NodeSelector) {
		mut.NodeSelector = p.NodeSelector // checked here, not as an immutable field
		for k, v := range old.NodeSelector {
			if nv, ok := p.NodeSelector[k]; !ok || nv != v {
				errs = append(errs, Invalid(sp.Child("nodeSelector"), fmt.Sprint(p.NodeSelector), "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
	}
	return append(errs, validateGatedNodeAffinityUpdate(p, old, mut, sp)...)
}

// validateGatedNodeAffinityUpdate checks a change to a gated pod's
// spec.affinity.nodeAffinity as Kubernetes does, and copies the new node
// affinity into mut (pod affinity and anti-affinity stay immutable):
//
//   - without required node affinity before, any node affinity may be set;
//   - otherwise its nodeSelectorTerms keep their number (none added,
//     removed or unset), and each term keeps its matchExpressions and
//     matchFields, in order, adding requirements after them only; a term
//     that had none stays empty (it matches no node, and more
//     requirements would not change that);
//   - preferredDuringSchedulingIgnoredDuringExecution may change freely:
//     preferences do not widen where the pod may run.
func validateGatedNodeAffinityUpdate(p, old *PodSpec, mut *PodSpec, sp *Path) ErrorList {
	oldNA, newNA := nodeAffinityOf(old), nodeAffinityOf(p)
	if semanticEqual(oldNA, newNA) {
		return nil
	}
	switch {
	case p.Affinity == nil && mut.Affinity != nil:
		mut.Affinity.NodeAffinity = nil
		if semanticEqual(mut.Affinity, &Affinity{}) {
			mut.Affinity = nil
		}
	case p.Affinity != nil:
		if mut.Affinity == nil {
			mut.Affinity = &Affinity{}
		}
		mut.Affinity.NodeAffinity = newNA
	}
	if oldNA == nil || oldNA.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	oldTerms := oldNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	var newTerms []NodeSelectorTerm
	if newNA != nil && newNA.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		newTerms = newNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	tp := sp.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	if len(oldTerms) > 0 && len(oldTerms) != len(newTerms) {
		return ErrorList{Invalid(tp, derefForError(newTerms), "no additions/deletions to non-empty NodeSelectorTerms list are allowed")}
	}
	var errs ErrorList
	for i := range oldTerms {
		if !nodeSelectorTermOnlyGains(&newTerms[i], &oldTerms[i]) {
			errs = append(errs, Invalid(tp.Index(i), derefForError(newTerms[i]), "only additions are allowed (no mutations or deletions)"))
		}
	}
	return errs
}

func nodeAffinityOf(s *PodSpec) *NodeAffinity {
	if s.Affinity == nil {
		return nil
	}
	return s.Affinity.NodeAffinity
}

// nodeSelectorTermOnlyGains reports whether term is old with requirements
// appended (an empty old term must stay empty).
func nodeSelectorTermOnlyGains(term, old *NodeSelectorTerm) bool {
	if len(old.MatchExpressions) == 0 && len(old.MatchFields) == 0 {
		return len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0
	}
	prefix := func(reqs, old []NodeSelectorRequirement) bool {
		return len(old) == 0 || (len(reqs) >= len(old) && semanticEqual(reqs[:len(old)], old))
	}
	return prefix(term.MatchExpressions, old.MatchExpressions) && prefix(term.MatchFields, old.MatchFields)
}
