package podkit

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// AdmissionOperation is the write an admission hook is asked about, named
// as Kubernetes' admission names it.
type AdmissionOperation string

// The operations of AdmissionRequest.
const (
	AdmissionCreate AdmissionOperation = "CREATE"
	AdmissionUpdate AdmissionOperation = "UPDATE"
	AdmissionDelete AdmissionOperation = "DELETE"
)

// AdmissionRequest is one write an admission hook decides on.
type AdmissionRequest struct {
	Operation AdmissionOperation
	// Kind is the object's kind, "Pod".
	Kind string
	// Object is what is to be stored: the new object of a create (its
	// name may still be empty, with a generateName), the new state of an
	// update; nil for a delete. A mutating hook changes it in place.
	Object objects.Object
	// OldObject is the object as stored, for an update or a delete; nil
	// for a create. It must not be modified.
	OldObject objects.Object
	// Tx reads the store within the write's transaction: the objects the
	// write will commit with.
	Tx store.ReadTx
	// DryRun says nothing will be stored (DryRun, PatchDryRun): a hook
	// with effects outside the store leaves them out, as a webhook does
	// for a request with dryRun.
	DryRun bool
	// Warn gives the writer a warning, as a webhook's answer does (see
	// WarningsTo); never nil.
	Warn func(message string)
}

// AdmissionHook is an admission plugin of the host's own: what
// Kubernetes' mutating and validating admission webhooks are to a
// cluster, as a Go function run in the process, within the transaction
// of the write it is asked about.
//
// It is asked about the creates and updates of the kinds it names made
// through the Orchestrator (Create, Update, Apply, Patch, UpdateScale,
// RegisterNode, DryRun), about the objects the controllers create (a
// ReplicaSet's pods, a Deployment's ReplicaSets, a StatefulSet's pods and
// claims, a Job's pods...) and those they update through
// reconcile.Client.Update, and about the deletes made through Delete and
// DeleteAll. As a webhook whose rules name no subresource, it is not
// asked about status writes (UpdateStatus, the node agents' and
// controllers' reports), nor about what Resize and
// UpdateEphemeralContainers write. Nor is it asked about the deletes the
// controllers and the garbage collector make, nor the bookkeeping writes
// of controllers (a rollout's revision annotations, an autoscaler's
// replicas), which Kubernetes' webhooks see.
//
// The order is Kubernetes': defaults; the mutating hooks, in the order
// given to WithAdmission, then defaults again; the object's validation;
// the built-in admission (service accounts, priorities, LimitRanges,
// RuntimeClasses, Service addresses); the validating hooks; ResourceQuotas
// last. A hook's error refuses the write, and nothing of it is stored.
//
// A hook runs while the store's writers wait: it must be quick, and must
// not call the Orchestrator (read what it needs through Tx).
type AdmissionHook struct {
	// Name names the hook in its refusals:
	// `admission hook "NAME" denied the request: ...`.
	Name string
	// Kinds are the kinds it is asked about; none: every kind.
	Kinds []string
	// Operations are those it is asked about; none: all.
	Operations []AdmissionOperation
	// Mutate, when set, may change req.Object of a create or an update
	// (labels, defaults of the host's, a sidecar container...), but not
	// its kind, namespace or name. It must not keep req.Object, nor
	// anything it refers to.
	Mutate func(req *AdmissionRequest) error
	// Validate, when set, accepts the write (nil) or refuses it (an
	// error, which the refusal wraps: errors.Is finds the hook's own
	// error values).
	Validate func(req *AdmissionRequest) error
}

// WithAdmission adds admission hooks, asked in the order given (see
// AdmissionHook).
func WithAdmission(hooks ...AdmissionHook) Option {
	return func(c *config) error {
		for i, h := range hooks {
			switch {
			case h.Name == "":
				return fmt.Errorf("WithAdmission: hook %d has no name", i)
			case h.Mutate == nil && h.Validate == nil:
				return fmt.Errorf("WithAdmission: hook %q has neither Mutate nor Validate", h.Name)
			}
			for _, op := range h.Operations {
				if op != AdmissionCreate && op != AdmissionUpdate && op != AdmissionDelete {
					return fmt.Errorf("WithAdmission: hook %q: unknown operation %q", h.Name, op)
				}
			}
		}
		c.hooks = append(c.hooks, hooks...)
		return nil
	}
}

// asks reports whether h is asked about op on kind.
func (h *AdmissionHook) asks(kind string, op AdmissionOperation) bool {
	return (len(h.Kinds) == 0 || slices.Contains(h.Kinds, kind)) &&
		(len(h.Operations) == 0 || slices.Contains(h.Operations, op))
}

// denied words a hook's refusal.
func (h *AdmissionHook) denied(err error) error {
	return fmt.Errorf("admission hook %q denied the request: %w", h.Name, err)
}

// operation is the operation of a write of obj over old (nil: a create).
func operation(old objects.Object) AdmissionOperation {
	if old == nil {
		return AdmissionCreate
	}
	return AdmissionUpdate
}

// mutateHooks runs the mutating hooks asked about writing obj, of kind
// info, over old, and reports whether any ran.
func (o *Orchestrator) mutateHooks(ctx context.Context, tx store.ReadTx, info *objects.KindInfo, obj, old objects.Object, dryRun bool) (bool, error) {
	op := operation(old)
	ran := false
	for i := range o.cfg.hooks {
		h := &o.cfg.hooks[i]
		if h.Mutate == nil || !h.asks(info.Kind, op) {
			continue
		}
		ran = true
		meta := *obj.GetObjectMeta()
		if err := h.Mutate(&AdmissionRequest{Operation: op, Kind: info.Kind, Object: obj, OldObject: old, Tx: tx, DryRun: dryRun, Warn: o.warner(ctx)}); err != nil {
			return ran, h.denied(err)
		}
		tm, m := obj.GetTypeMeta(), obj.GetObjectMeta()
		if tm.Kind != info.Kind || tm.APIVersion != info.APIVersion || m.Namespace != meta.Namespace || m.Name != meta.Name {
			return ran, fmt.Errorf("admission hook %q changed the kind, namespace or name of %s %q", h.Name, info.Kind, objectName(&meta))
		}
	}
	return ran, nil
}

// validateHooks runs the validating hooks asked about op on obj (nil for
// a delete) over old.
func (o *Orchestrator) validateHooks(ctx context.Context, tx store.ReadTx, kind string, op AdmissionOperation, obj, old objects.Object, dryRun bool) error {
	for i := range o.cfg.hooks {
		h := &o.cfg.hooks[i]
		if h.Validate == nil || !h.asks(kind, op) {
			continue
		}
		if err := h.Validate(&AdmissionRequest{Operation: op, Kind: kind, Object: obj, OldObject: old, Tx: tx, DryRun: dryRun, Warn: o.warner(ctx)}); err != nil {
			return h.denied(err)
		}
	}
	return nil
}

// admitDelete asks the ValidatingAdmissionPolicies and the validating
// hooks about deleting the object of kind with key.
func (o *Orchestrator) admitDelete(ctx context.Context, tx store.ReadTx, kind string, key objects.Key) error {
	old, err := store.Peek(tx, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the delete finds nothing
	}
	if err != nil {
		return err
	}
	return o.admitDeleteOf(ctx, tx, kind, old)
}

// admitDeleteOf asks the ValidatingAdmissionPolicies and the validating
// hooks about deleting old, of kind.
func (o *Orchestrator) admitDeleteOf(ctx context.Context, tx store.ReadTx, kind string, old objects.Object) error {
	if err := o.admitPolicies(ctx, tx, o.scheme.Lookup(kind), AdmissionDelete, nil, old, false); err != nil {
		return err
	}
	return o.validateHooks(ctx, tx, kind, AdmissionDelete, nil, old, false)
}

// mutateForControllers runs the MutatingAdmissionPolicies and the mutating
// hooks on a controller's write of obj over old, on a copy: the
// controllers' objects share their maps and slices (see
// reconcile.Admission). What they changed is defaulted and validated
// again, as an API write is.
func (o *Orchestrator) mutateForControllers(ctx context.Context, tx store.ReadTx, obj, old objects.Object) error {
	info, err := o.scheme.KindOf(obj)
	if err != nil {
		return err
	}
	cp, err := o.mutatePolicies(ctx, tx, info, obj, old, false)
	if err != nil {
		return err
	}
	op := operation(old)
	if slices.ContainsFunc(o.cfg.hooks, func(h AdmissionHook) bool { return h.Mutate != nil && h.asks(info.Kind, op) }) {
		if cp == nil {
			cp = obj.DeepCopyObject()
		}
		if _, err := o.mutateHooks(ctx, tx, info, cp, old, false); err != nil {
			return err
		}
	}
	if cp == nil {
		return nil
	}
	o.scheme.Default(cp)
	if err := o.validate(cp, old); err != nil {
		return err
	}
	copyInto(obj, cp)
	return nil
}
