package podkit

import (
	"errors"
	"fmt"

	"github.com/podkit/podkit/internal/quota"
	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// admitQuota checks a write against the ResourceQuotas of its namespace
// and charges them in tx, as Kubernetes' ResourceQuota admission plugin
// does (see quota.Evaluator.Admit), and words a refusal as Kubernetes:
// `pods "web-1" is forbidden: exceeded quota: compute, requested:
// pods=1, used: pods=2, limited: pods=2`.
func (o *Orchestrator) admitQuota(tx store.Tx, obj, old objects.Object) error {
	info, err := o.scheme.KindOf(obj)
	if err != nil {
		return err
	}
	return o.quotaRefusal(obj, o.quota.Admit(tx, info.Kind, obj, old, o.clock.Now()))
}

// quotaRefusal words a quota's refusal of a write of obj as Kubernetes.
func (o *Orchestrator) quotaRefusal(obj objects.Object, err error) error {
	var r *quota.Refusal
	if !errors.As(err, &r) {
		return err
	}
	info, kerr := o.scheme.KindOf(obj)
	if kerr != nil {
		return kerr
	}
	return fmt.Errorf("%s %q is forbidden: %s: %w", storecore.Resource(info), objectName(obj.GetObjectMeta()), r.Reason, ErrForbidden)
}
