package podkit

import (
	"context"

	"github.com/podkit/podkit/internal/admissionpolicy"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// ErrPolicyDenied is wrapped by the refusals of ValidatingAdmissionPolicies
// whose validation gives the reason Forbidden or
// RequestEntityTooLarge, and by those of a policy or binding that cannot
// be applied (failurePolicy Fail). A validation's default reason,
// Invalid, wraps objects.ErrInvalid instead, as Kubernetes answers 422.
// errors.As finds the refusal's *PolicyDeniedError in both.
var ErrPolicyDenied = admissionpolicy.ErrDenied

// PolicyDeniedError is a ValidatingAdmissionPolicy's refusal, worded as
// Kubernetes words it: "ValidatingAdmissionPolicy 'NAME' with binding
// 'BINDING' denied request: MESSAGE", or a MutatingAdmissionPolicy's
// failure: "policy 'NAME' with binding 'BINDING' denied request: ...".
// Its fields are Policy, Binding, Message and Reason (Invalid, Forbidden
// or RequestEntityTooLarge; Invalid for a mutating policy).
type PolicyDeniedError = admissionpolicy.DeniedError

// admitPolicies applies the ValidatingAdmissionPolicies bound in tx to a
// write of obj over old (obj nil: a delete of old; old nil: a create), as
// kube-apiserver's ValidatingAdmissionPolicy plugin does, after the
// built-in admission and before the host's validating hooks.
//
// The policies apply to the same writes as the host's admission hooks
// (see AdmissionHook): what the Orchestrator's API creates, updates and
// deletes, and what the controllers create and update. A binding whose
// validationActions has Deny refuses a write a validation fails; Warn
// gives the writer a warning (see WarningsTo); Audit logs the failure at
// info level, with the policy's audit annotations: podkit keeps no audit
// log.
func (o *Orchestrator) admitPolicies(ctx context.Context, tx store.ReadTx, info *objects.KindInfo, op AdmissionOperation, obj, old objects.Object, dryRun bool) error {
	return o.policies.Admit(ctx, tx, admissionpolicy.Request{
		Operation: string(op), Info: info, Object: obj, OldObject: old, DryRun: dryRun, Warn: o.warner(ctx),
	})
}

// mutatePolicies applies the MutatingAdmissionPolicies bound in tx to a
// create (old nil) or an update of obj, as kube-apiserver's
// MutatingAdmissionPolicy plugin does, before the host's mutating hooks.
// It returns the mutated object, a new one, or nil when no policy changed
// obj.
func (o *Orchestrator) mutatePolicies(ctx context.Context, tx store.ReadTx, info *objects.KindInfo, obj, old objects.Object, dryRun bool) (objects.Object, error) {
	return o.policies.Mutate(ctx, tx, admissionpolicy.Request{
		Operation: string(operation(old)), Info: info, Object: obj, OldObject: old, DryRun: dryRun,
	})
}

// validatePolicyExpressions adds to the validation of a
// ValidatingAdmissionPolicy or a MutatingAdmissionPolicy the compilation
// of its CEL expressions.
func validatePolicyExpressions(obj objects.Object) error {
	switch p := obj.(type) {
	case *objects.ValidatingAdmissionPolicy:
		return admissionpolicy.CheckExpressions(p).ToError(KindValidatingAdmissionPolicy, p.Name)
	case *objects.MutatingAdmissionPolicy:
		return admissionpolicy.CheckMutatingExpressions(p).ToError(KindMutatingAdmissionPolicy, p.Name)
	}
	return nil
}
