package quota

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Refusal is a write a quota refuses, with the reason Kubernetes gives
// ("exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2").
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// Admit checks a create (old nil) or an update of obj, an object of kind,
// against the quotas of its namespace in tx, as Kubernetes' ResourceQuota
// admission plugin (CheckRequest) does, and charges each quota that limits
// what obj uses in tx: its status.used grows by obj's usage, or by what an
// update adds to it. A quota refusing returns a *Refusal, and nothing is
// written. Updates count for pods whose Terminating scope changes, for
// Services and for claims; other updates use nothing new.
//
// A quota whose status.hard differs from its spec.hard (its controller
// has not computed it since it was created or changed) is computed from
// the objects in tx first, where Kubernetes refuses what it limits until
// its controller has: a quota limits from the transaction that creates it.
//
// In a namespace without quotas Admit reads one empty list.
func (e *Evaluator) Admit(tx store.Tx, kind string, obj, old objects.Object, now time.Time) error {
	if !handles(kind, obj, old) {
		return nil
	}
	return e.admit(tx, kind, obj, old, now)
}

// AdmitResize is Admit for an in-place resize of pod old into obj (a write
// to pods/resize, which Kubernetes' pod evaluator handles): what it asks
// for beyond old is charged.
func (e *Evaluator) AdmitResize(tx store.Tx, obj, old *objects.Pod, now time.Time) error {
	return e.admit(tx, kindPod, obj, old, now)
}

func (e *Evaluator) admit(tx store.Tx, kind string, obj, old objects.Object, now time.Time) error {
	ns := obj.GetObjectMeta().Namespace
	if _, ok := e.counts[kind]; !ok || ns == "" {
		return nil
	}
	quotas, err := store.PeekList(tx, kindResourceQuota, store.ListOptions{Namespace: ns})
	if err != nil || len(quotas) == 0 {
		return err
	}
	usage := e.Usage(kind, obj, now)
	var oldUsage objects.ResourceList
	if old != nil {
		oldUsage = e.Usage(kind, old, now)
	}
	type charge struct {
		q          *objects.ResourceQuota
		hard, used objects.ResourceList
	}
	var charges []charge
	for _, o := range quotas { // by name
		q := o.(*objects.ResourceQuota)
		names := slices.Sorted(maps.Keys(q.Spec.Hard))
		restricted := e.Matching(kind, names)
		if len(restricted) == 0 || !MatchesScopes(q, kind, obj) {
			continue
		}
		if p, ok := obj.(*objects.Pod); ok {
			if err := constraints(p, restricted); err != nil {
				return &Refusal{fmt.Sprintf("failed quota: %s: %v", q.Name, err)}
			}
		}
		delta := usage
		if old != nil && MatchesScopes(q, kind, old) {
			delta = subtractNonNegative(usage, oldUsage)
		}
		requested := objects.ResourceList{}
		for _, n := range names {
			if v, ok := delta[n]; ok && !v.IsZero() {
				requested[n] = v
			}
		}
		if len(requested) == 0 {
			continue
		}
		hard, used := q.Status.Hard, q.Status.Used
		if !Equal(hard, q.Spec.Hard) {
			hard = q.Spec.Hard
			if used, err = e.Used(tx, q, hard, now); err != nil {
				return err
			}
		}
		next := add(used, requested)
		var exceeded []objects.ResourceName
		for n := range requested {
			if lim, ok := hard[n]; ok && next[n].Cmp(lim) > 0 {
				exceeded = append(exceeded, n)
			}
		}
		if len(exceeded) > 0 {
			return &Refusal{fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
				prettyPrint(requested, exceeded), prettyPrint(used, exceeded), prettyPrint(hard, exceeded))}
		}
		charges = append(charges, charge{q, hard, next})
	}
	for _, c := range charges {
		cp := c.q.DeepCopy() // a stored object is never modified
		cp.Status = objects.ResourceQuotaStatus{Hard: copyList(c.hard), Used: c.used}
		if err := tx.UpdateStatus(cp); err != nil {
			return fmt.Errorf("charge quota %s: %w", c.q.Name, err)
		}
	}
	return nil
}

// handles reports whether a write may use more of a quota, as each of
// Kubernetes' evaluators' Handles.
func handles(kind string, obj, old objects.Object) bool {
	switch {
	case old == nil:
		return true
	case kind == kindPod:
		return isTerminating(old.(*objects.Pod)) != isTerminating(obj.(*objects.Pod))
	}
	return kind == kindService || kind == kindPVC
}

// validationSet are the pod resources a quota makes every container set.
var validationSet = []objects.ResourceName{
	objects.ResourceCPU, objects.ResourceMemory, objects.ResourceRequestsCPU,
	objects.ResourceRequestsMemory, objects.ResourceLimitsCPU, objects.ResourceLimitsMemory,
}

// constraints refuses a pod with a container that does not set a request
// or limit a quota limits, as Kubernetes' podEvaluator.Constraints.
func constraints(p *objects.Pod, restricted []objects.ResourceName) error {
	var required []objects.ResourceName
	for _, n := range restricted {
		if slices.Contains(validationSet, n) {
			required = append(required, n)
		}
	}
	if len(required) == 0 {
		return nil
	}
	missing := map[objects.ResourceName][]string{}
	for _, cs := range [2][]objects.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for i := range cs {
			set := objects.ResourceList{}
			addCompute(set, cs[i].Resources.Requests, cs[i].Resources.Limits)
			for _, n := range required {
				if _, ok := set[n]; !ok && !slices.Contains(missing[n], cs[i].Name) {
					missing[n] = append(missing[n], cs[i].Name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(missing))
	for _, n := range slices.Sorted(maps.Keys(missing)) {
		slices.Sort(missing[n])
		msgs = append(msgs, fmt.Sprintf("%s for: %s", n, strings.Join(missing[n], ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}

// prettyPrint renders the named entries of l as Kubernetes' quota
// messages do: "limits.cpu=2,pods=1", sorted by name.
func prettyPrint(l objects.ResourceList, names []objects.ResourceName) string {
	names = slices.Sorted(slices.Values(names))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		v, ok := l[n]
		if !ok {
			continue
		}
		parts = append(parts, string(n)+"="+v.String())
	}
	return strings.Join(parts, ",")
}

// add returns a+b for every name of either.
func add(a, b objects.ResourceList) objects.ResourceList {
	out := copyList(a)
	if out == nil {
		out = objects.ResourceList{}
	}
	for n, v := range b {
		cur := out[n]
		cur.Add(v)
		out[n] = cur
	}
	return out
}

// subtractNonNegative returns a−b, each value at least zero.
func subtractNonNegative(a, b objects.ResourceList) objects.ResourceList {
	out := objects.ResourceList{}
	for n, v := range a {
		if w, ok := b[n]; ok {
			v.Sub(w)
			if v.Sign() < 0 {
				v = objects.NewQuantity(0, objects.DecimalSI)
			}
		}
		out[n] = v
	}
	return out
}

func copyList(l objects.ResourceList) objects.ResourceList {
	if l == nil {
		return nil
	}
	return maps.Clone(l)
}
