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
// 'BINDING' denied request: MESSAGE".
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
// logs the failure at warning level, Audit at info level, with the
// policy's audit annotations: podkit's API returns no warnings and keeps
// no audit log.
func (o *Orchestrator) admitPolicies(tx store.ReadTx, info *objects.KindInfo, op AdmissionOperation, obj, old objects.Object, dryRun bool) error {
	return o.policies.Admit(context.Background(), tx, admissionpolicy.Request{
		Operation: string(op), Info: info, Object: obj, OldObject: old, DryRun: dryRun,
	})
}

// validatePolicyExpressions adds to the validation of a
// ValidatingAdmissionPolicy the compilation of its CEL expressions.
func validatePolicyExpressions(obj objects.Object) error {
	p, ok := obj.(*objects.ValidatingAdmissionPolicy)
	if !ok {
		return nil
	}
	return admissionpolicy.CheckExpressions(p).ToError(KindValidatingAdmissionPolicy, p.Name)
}
