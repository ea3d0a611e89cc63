package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// The eviction API, as Kubernetes' pods/eviction subresource serves it: a
// graceful deletion that the pod's PodDisruptionBudget may refuse.

// ErrDisruptionBudget is wrapped by the error of an eviction a
// PodDisruptionBudget refuses, where Kubernetes answers 429
// TooManyRequests: the eviction may succeed later, once the budget allows
// a disruption again. errors.As finds the *DisruptionBudgetError.
var ErrDisruptionBudget = errors.New("refused by a disruption budget")

// DisruptionBudgetError is an eviction refused by the pod's budget.
type DisruptionBudgetError struct {
	// Budget names the PodDisruptionBudget.
	Budget objects.Key
	// Cause says why, as the cause of Kubernetes' error does: "The
	// disruption budget web needs 2 healthy pods and has 2 currently".
	Cause string
}

// Error is Kubernetes' message followed by the cause.
func (e *DisruptionBudgetError) Error() string {
	return "Cannot evict pod as it would violate the pod's disruption budget. " + e.Cause
}

// Is makes the error match ErrDisruptionBudget.
func (e *DisruptionBudgetError) Is(target error) bool { return target == ErrDisruptionBudget }

// ErrMultipleDisruptionBudgets is returned by the eviction of a pod that
// more than one PodDisruptionBudget selects, with Kubernetes' message.
var ErrMultipleDisruptionBudgets = errors.New("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")

// MaxDisruptedPods bounds a budget's status.disruptedPods: past it,
// evictions of its pods are refused until the disruption controller has
// seen the pods deleted (Kubernetes' MaxDisruptedPodSize).
const MaxDisruptedPods = 2000

// EvictOptions tune Evict.
type EvictOptions struct {
	// GracePeriodSeconds overrides the pod's
	// terminationGracePeriodSeconds; nil keeps the pod's own.
	GracePeriodSeconds *int64
	// Clock stamps the pod's DisruptionTarget condition and the budget's
	// disruptedPods entry (default the real clock).
	Clock clockwork.Clock
}

// Evict deletes the pod gracefully, as Kubernetes' eviction subresource
// does, in one store transaction:
//
//   - a pod that has finished, is Pending or is already being deleted is
//     deleted (or left to finish its deletion) whatever its budgets say;
//   - a pod that more than one PodDisruptionBudget of its namespace
//     selects is refused (ErrMultipleDisruptionBudgets), as Kubernetes
//     does;
//   - a pod its budget covers is refused, with an error wrapping
//     ErrDisruptionBudget, while the budget's status is not yet computed
//     for its generation or allows no disruption; else the budget's
//     disruptionsAllowed is decremented and the pod recorded in its
//     disruptedPods, in the same transaction as the deletion, so that two
//     evictions at once cannot both spend a budget of one. A pod that is
//     not ready spends nothing when the budget's
//     unhealthyPodEvictionPolicy is AlwaysAllow, or, under
//     IfHealthyBudget, when the budget has its desired healthy pods.
//
// The evicted pod gets the DisruptionTarget condition (reason
// EvictionByEvictionAPI) and is deleted with its grace period, so its node
// agent stops it and its controller replaces it. A missing pod is an
// error wrapping store.ErrNotFound.
func Evict(ctx context.Context, s store.Store, key objects.Key, opts EvictOptions) error {
	clk := opts.Clock
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		return evict(tx, key, "", opts.GracePeriodSeconds, clk.Now())
	})
	if err != nil {
		return fmt.Errorf("evict pod %s: %w", key, err)
	}
	return nil
}

// evict is Evict within tx; a non-empty uid evicts only that pod (a
// replaced pod counts as evicted).
func evict(tx store.Tx, key objects.Key, uid string, grace *int64, now time.Time) error {
	o, err := tx.Get(kindPod, key)
	if err != nil {
		return err
	}
	p := o.(*objects.Pod)
	if uid != "" && p.UID != uid {
		return nil
	}
	if grace == nil {
		g := p.DeletionGracePeriod()
		grace = &g
	}
	// A finished, pending or terminating pod disrupts nothing more.
	if p.IsTerminal() || p.Status.Phase == objects.PodPending || p.IsDeleting() {
		return evictPod(tx, p, ReasonEvictionByDrain, "Eviction API: evicting", grace, now)
	}
	budgets, err := podBudgetsIn(tx, p)
	if err != nil {
		return err
	}
	switch {
	case len(budgets) > 1:
		return ErrMultipleDisruptionBudgets
	case len(budgets) == 1 && spendsBudget(budgets[0], p):
		b := budgets[0]
		if err := checkAndDecrement(b, p.Name, now); err != nil {
			return err
		}
		if err := tx.UpdateStatus(b); err != nil {
			return err
		}
	}
	return evictPod(tx, p, ReasonEvictionByDrain, "Eviction API: evicting", grace, now)
}

// podBudgetsIn returns the budgets of the pod's namespace that select it.
func podBudgetsIn(tx store.ReadTx, p *objects.Pod) ([]*objects.PodDisruptionBudget, error) {
	objs, err := tx.List(kindPDB, store.ListOptions{Namespace: p.Namespace})
	if err != nil {
		return nil, err
	}
	var out []*objects.PodDisruptionBudget
	for _, o := range objs {
		if b := o.(*objects.PodDisruptionBudget); budgetSelects(b, p) {
			out = append(out, b)
		}
	}
	return out, nil
}

// spendsBudget reports whether evicting p must be allowed by b: a ready
// pod always; one not ready unless b's policy lets it go (AlwaysAllow, or
// IfHealthyBudget with the budget's desired healthy pods there).
func spendsBudget(b *objects.PodDisruptionBudget, p *objects.Pod) bool {
	if objects.IsPodReady(p) {
		return true
	}
	if b.Spec.EvictionPolicy() == objects.AlwaysAllow {
		return false
	}
	return b.Status.CurrentHealthy < b.Status.DesiredHealthy || b.Status.DesiredHealthy <= 0
}

// checkAndDecrement spends one disruption of b on pod, or says why it
// cannot, as Kubernetes' eviction handler does.
func checkAndDecrement(b *objects.PodDisruptionBudget, pod string, now time.Time) error {
	st := &b.Status
	switch {
	case st.ObservedGeneration < b.Generation:
		return &DisruptionBudgetError{Budget: b.Key(),
			Cause: fmt.Sprintf("The disruption budget %s is still being processed by the server.", b.Name)}
	case st.DisruptionsAllowed < 0:
		return fmt.Errorf("poddisruptionbudget.policy %q is forbidden: pdb disruptions allowed is negative", b.Name)
	case len(st.DisruptedPods) > MaxDisruptedPods:
		return fmt.Errorf("poddisruptionbudget.policy %q is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller", b.Name)
	case st.DisruptionsAllowed == 0:
		return &DisruptionBudgetError{Budget: b.Key(),
			Cause: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", b.Name, st.DesiredHealthy, st.CurrentHealthy)}
	}
	st.DisruptionsAllowed--
	if st.DisruptionsAllowed == 0 {
		updateDisruptionAllowedCondition(st, now)
	}
	if st.DisruptedPods == nil {
		st.DisruptedPods = map[string]objects.Time{}
	}
	// Until the controller sees the pod deleted, it counts it disrupted.
	st.DisruptedPods[pod] = objects.NewTime(now)
	return nil
}
