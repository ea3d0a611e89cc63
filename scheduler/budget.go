package scheduler

import (
	"slices"

	"github.com/podkit/podkit/objects"
)

// budget is what preemption reads of a PodDisruptionBudget.
type budget struct {
	name       string
	generation int64
	// selector is nil when the budget selects no pod for preemption: a
	// nil, empty or invalid spec.selector, as Kubernetes' preemption has
	// it (an empty selector selects every pod for the disruption
	// controller, none here).
	selector  objects.Selector
	allowed   int32                   // status.disruptionsAllowed
	disrupted map[string]objects.Time // status.disruptedPods; the store's, read-only
}

// setBudget adds or updates a budget. Only preemption reads budgets, and
// only to rank the nodes where it may evict: a change makes no waiting pod
// schedulable, so it moves no epoch.
func (s *Snapshot) setBudget(pdb *objects.PodDisruptionBudget) {
	list := s.budgets[pdb.Namespace]
	i := slices.IndexFunc(list, func(b *budget) bool { return b.name == pdb.Name })
	b := &budget{name: pdb.Name, generation: -1}
	if i >= 0 {
		b = list[i]
	}
	if b.generation != pdb.Generation { // the selector may have changed
		b.generation = pdb.Generation
		b.selector = nil
		if sel, err := objects.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil && !sel.Empty() {
			b.selector = sel
		}
	}
	b.allowed = pdb.Status.DisruptionsAllowed
	b.disrupted = pdb.Status.DisruptedPods
	if i < 0 {
		if s.budgets == nil {
			s.budgets = map[string][]*budget{}
		}
		s.budgets[pdb.Namespace] = append(list, b)
	}
}

// deleteBudget forgets a budget.
func (s *Snapshot) deleteBudget(pdb *objects.PodDisruptionBudget) {
	list := s.budgets[pdb.Namespace]
	list = slices.DeleteFunc(list, func(b *budget) bool { return b.name == pdb.Name })
	if len(list) == 0 {
		delete(s.budgets, pdb.Namespace)
	} else {
		s.budgets[pdb.Namespace] = list
	}
}

// violatingFirst is Kubernetes' filterPodsWithPDBViolation: it returns
// pods (sorted most important first) with those whose eviction would
// violate a budget first, each part in its order, and how many those are.
// Each budget's disruptionsAllowed is spent once per pod it selects, in
// order, but for the pods in its disruptedPods (their eviction is already
// granted); a pod violates when that leaves a budget below 0. As in
// Kubernetes, observedGeneration is not looked at: a budget whose status
// was never computed allows 0 disruptions. Without budgets in the pods'
// namespaces pods is returned as it is.
func (s *Snapshot) violatingFirst(pods []*PodInfo) ([]*PodInfo, int) {
	if len(s.budgets) == 0 {
		return pods, 0
	}
	type spending struct {
		b     *budget
		spent int32
	}
	var spent []spending // few: the budgets over a node's pods
	var violating []bool
	n := 0
	for i, p := range pods {
		if len(p.labels) == 0 {
			continue // a pod without labels matches no budget
		}
		v := false
		for _, b := range s.budgets[p.namespace] {
			if b.selector == nil || !b.selector.Matches(p.labels) {
				continue
			}
			if _, ok := b.disrupted[p.name]; ok {
				continue
			}
			k := slices.IndexFunc(spent, func(x spending) bool { return x.b == b })
			if k < 0 {
				k = len(spent)
				spent = append(spent, spending{b: b})
			}
			if spent[k].spent++; b.allowed-spent[k].spent < 0 {
				v = true
			}
		}
		if v {
			if violating == nil {
				violating = make([]bool, len(pods))
			}
			violating[i] = true
			n++
		}
	}
	if n == 0 {
		return pods, 0
	}
	out := make([]*PodInfo, 0, len(pods))
	for i, p := range pods {
		if violating[i] {
			out = append(out, p)
		}
	}
	for i, p := range pods {
		if !violating[i] {
			out = append(out, p)
		}
	}
	return out, n
}
