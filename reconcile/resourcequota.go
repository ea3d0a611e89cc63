package reconcile

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/internal/quota"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const kindResourceQuota = "ResourceQuota"

// DefaultResourceQuotaSyncPeriod is how often the ResourceQuota
// controller computes every quota again, whatever changed, as Kubernetes'
// --resource-quota-sync-period defaults to.
const DefaultResourceQuotaSyncPeriod = 5 * time.Minute

// ResourceQuotaOptions tunes the ResourceQuota controller.
type ResourceQuotaOptions struct {
	// SyncPeriod is how often each quota is computed again (default
	// DefaultResourceQuotaSyncPeriod), on the Manager's clock.
	SyncPeriod time.Duration
}

// kindsReplenished are the kinds whose changes make the quotas of their
// namespace be computed again: those the named quota resources count.
// Other kinds' object counts ("count/deployments.apps") are computed again
// every sync period, and when a quota's spec changes.
var kindsReplenished = []string{kindPod, "Service", "PersistentVolumeClaim", "ConfigMap", "Secret", kindResourceQuota}

// ResourceQuotaController returns the ResourceQuota controller, for
// Manager.Add.
//
// It keeps each quota's status as Kubernetes' resource quota controller
// does: status.hard is spec.hard, and status.used what the objects of the
// quota's namespace that match its scopes use of each resource of
// spec.hard that podkit counts, computed from the store in the
// transaction that writes it. Terminal pods (Succeeded, Failed) count in
// "count/pods" only. A quota is computed when it is created or its spec
// changes, when an object it may have counted goes or stops counting (a
// pod deleted or finished, a Service deleted or changing type, ...), and
// every SyncPeriod. Admission (see podkit's) adds to status.used in the
// transaction of each write it admits; the controller is what frees it.
func ResourceQuotaController(m *Manager, o ResourceQuotaOptions) Controller {
	if o.SyncPeriod <= 0 {
		o.SyncPeriod = DefaultResourceQuotaSyncPeriod
	}
	r := &quotaReconciler{c: m.Client(), clock: m.Clock(), eval: quota.New(m.Scheme()), period: o.SyncPeriod}
	var watches []Watch
	for _, kind := range kindsReplenished {
		watches = append(watches, Watch{
			Kind:    kind,
			Map:     r.namespaceQuotas,
			Changed: func(old, new objects.Object) bool { return quota.ChangeCounts(kind, old, new, r.clock.Now) },
		})
	}
	return Controller{
		Name: "resourcequota",
		For:  kindResourceQuota,
		// Admission writes the status of a quota at every write it
		// admits: computing the namespace again for each would cost
		// what the quota counts, for nothing.
		ForChanged: func(old, new objects.Object) bool {
			return old == nil || new == nil || !quota.Equal(old.(*objects.ResourceQuota).Spec.Hard, new.(*objects.ResourceQuota).Spec.Hard)
		},
		Watches:    watches,
		Reconciler: r,
		Workers:    2,
	}
}

type quotaReconciler struct {
	c      *Client
	clock  clockwork.Clock
	eval   *quota.Evaluator
	period time.Duration
}

// namespaceQuotas maps an object to the quotas of its namespace.
func (r *quotaReconciler) namespaceQuotas(obj objects.Object) []Request {
	ns := obj.GetObjectMeta().Namespace
	quotas, _ := r.c.listShared(context.Background(), kindResourceQuota, store.ListOptions{Namespace: ns}, nil)
	out := make([]Request, len(quotas))
	for i, q := range quotas {
		out[i] = RequestFor(q)
	}
	return out
}

func (r *quotaReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	err := r.c.Txn(ctx, func(tx store.Tx) error {
		obj, err := store.Peek(tx, kindResourceQuota, req.Key())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		q := obj.(*objects.ResourceQuota)
		used, err := r.eval.Used(tx, q, q.Spec.Hard, r.clock.Now())
		if err != nil {
			return err
		}
		if quota.Equal(q.Status.Hard, q.Spec.Hard) && quota.Equal(q.Status.Used, used) {
			return nil
		}
		cp := q.DeepCopy() // a stored object is never modified
		cp.Status = objects.ResourceQuotaStatus{Hard: maps.Clone(q.Spec.Hard), Used: used}
		return tx.UpdateStatus(cp)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{RequeueAfter: r.period}, nil
}
