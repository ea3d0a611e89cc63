package podkit_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// A write made with WarningsTo gets the warnings of the policies with the
// Warn action and of the admission hooks, in admission's order, and is
// admitted all the same; a write that warns of nothing gets none.
func TestWarningsTo(t *testing.T) {
	hook := podkit.AdmissionHook{Name: "ports", Kinds: []string{podkit.KindService},
		Validate: func(req *podkit.AdmissionRequest) error {
			if len(req.Object.(*objects.Service).Spec.Ports) > 1 {
				req.Warn("more than one port")
			}
			return nil
		}}
	o := newOrchestrator(t, podkit.WithAdmission(hook))
	ctx := t.Context()
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: app-protocols
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["services"]
  validations:
  - expression: "object.spec.ports.all(p, has(p.appProtocol))"
    message: every port should name its appProtocol
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: app-protocols
spec:
  policyName: app-protocols
  validationActions: [Warn]
`))
	var warnings []string
	wctx := podkit.WarningsTo(ctx, func(m string) { warnings = append(warnings, m) })
	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443}}}}
	require.NoError(t, o.DryRun(wctx, svc))
	require.NoError(t, o.Create(wctx, svc))
	want := []string{
		"Validation failed for ValidatingAdmissionPolicy 'app-protocols' with binding 'app-protocols': every port should name its appProtocol",
		"more than one port",
	}
	assert.Equal(t, append(want, want...), warnings, "the dry run's, then the create's")

	warnings = nil
	http := "http"
	clean := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "clean"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []objects.ServicePort{{Name: "http", Port: 80, AppProtocol: &http}}}}
	require.NoError(t, o.Create(wctx, clean))
	assert.Empty(t, warnings)
}
