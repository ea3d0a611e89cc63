package objects

import (
	"fmt"
	"maps"
)

// PodSchedulingGate holds a pod back from scheduling while it is in the
// pod's spec.schedulingGates. A pod is created with its gates; they can
// then only be removed, by whatever controller set them, and the pod is
// scheduled once none is left. While gated, a pod's nodeSelector may
// still gain terms, as Kubernetes' mutable scheduling directives allow.
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
		p.Status.Conditions = append(p.Status.Conditions, PodCondition{Type: PodScheduled, Status: ConditionFalse,
			Reason: PodReasonSchedulingGated, Message: podSchedulingGatedMsg})
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
// terms only added. It copies what it allows into mut, the old spec the
// rest of the update is compared with.
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
	if len(old.SchedulingGates) == 0 || maps.Equal(old.NodeSelector, p.NodeSelector) {
		return errs
	}
	mut.NodeSelector = p.NodeSelector // checked here, not as an immutable field
	for k, v := range old.NodeSelector {
		if nv, ok := p.NodeSelector[k]; !ok || nv != v {
			return append(errs, Invalid(sp.Child("nodeSelector"), fmt.Sprint(p.NodeSelector), "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
		}
	}
	return errs
}
