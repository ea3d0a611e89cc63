package podkit

import (
	"context"
)

// WarningHandler receives the warnings of a write, as kubectl prints
// those of Kubernetes' answers ("Warning: ..."): a write that is admitted
// all the same, with something its writer should know.
type WarningHandler func(message string)

type warningsKey struct{}

// WarningsTo returns a context whose writes (Create, Update, Apply, Patch,
// UpdateScale, Delete, DeleteAll, DryRun...) report their warnings to h,
// before the write returns, while its transaction runs (on the goroutine
// of whichever writer commits the group it is in): those of
// the ValidatingAdmissionPolicies whose binding has the Warn action, and
// those the admission hooks give (AdmissionRequest.Warn). Without it, the
// warnings are logged at warning level. The writes the controllers make
// log theirs.
//
//	var warnings []string
//	err := o.Apply(podkit.WarningsTo(ctx, func(m string) { warnings = append(warnings, m) }), objs...)
func WarningsTo(ctx context.Context, h WarningHandler) context.Context {
	return context.WithValue(ctx, warningsKey{}, h)
}

// warner returns what reports a warning of a write made with ctx.
func (o *Orchestrator) warner(ctx context.Context) func(string) {
	if h, ok := ctx.Value(warningsKey{}).(WarningHandler); ok && h != nil {
		return h
	}
	return func(m string) { o.log.Warn("admission warning: " + m) }
}
