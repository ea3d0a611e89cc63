package podkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// sidecarPolicy is the example of Kubernetes' documentation on
// MutatingAdmissionPolicy, without its parameter kind: every new pod gets
// a mesh-proxy sidecar, merged into its init containers.
const sidecarPolicy = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: "sidecar-policy.example.com"
spec:
  matchConstraints:
    resourceRules:
    - apiGroups:   [""]
      apiVersions: ["v1"]
      operations:  ["CREATE"]
      resources:   ["pods"]
  matchConditions:
    - name: does-not-already-have-sidecar
      expression: "!has(object.spec.initContainers) || !object.spec.initContainers.exists(ic, ic.name == \"mesh-proxy\")"
  failurePolicy: Fail
  reinvocationPolicy: IfNeeded
  mutations:
    - patchType: "ApplyConfiguration"
      applyConfiguration:
        expression: >
          Object{
            spec: Object.spec{
              initContainers: [
                Object.spec.initContainers{
                  name: "mesh-proxy",
                  image: "mesh/proxy:v1.0.0",
                  args: ["proxy", "sidecar"],
                  restartPolicy: "Always"
                }
              ]
            }
          }
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: "sidecar-binding.example.com"
spec:
  policyName: "sidecar-policy.example.com"
`

// The sidecar is merged into the init containers of the pods created
// through the API and of those a Deployment's ReplicaSet makes, after the
// pod's own, and defaulted as they are; the Deployment's template stays as
// it was.
func TestMutatingAdmissionPolicySidecar(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 1)
	require.NoError(t, applyManifests(t, ctx, o, sidecarPolicy))

	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "lone"}, Spec: objects.PodSpec{
		InitContainers: []objects.Container{{Name: "setup", Image: "setup:1"}},
		Containers:     []objects.Container{{Name: "app", Image: "app:1"}}}}
	require.NoError(t, o.Create(ctx, p))
	require.Len(t, p.Spec.InitContainers, 2)
	assert.Equal(t, "setup", p.Spec.InitContainers[0].Name)
	proxy := p.Spec.InitContainers[1]
	assert.Equal(t, "mesh-proxy", proxy.Name)
	assert.Equal(t, "mesh/proxy:v1.0.0", proxy.Image)
	assert.Equal(t, []string{"proxy", "sidecar"}, proxy.Args)
	require.NotNil(t, proxy.RestartPolicy)
	assert.Equal(t, objects.ContainerRestartPolicyAlways, *proxy.RestartPolicy)
	assert.Equal(t, objects.PullIfNotPresent, proxy.ImagePullPolicy, "defaulted after the mutation")

	require.NoError(t, o.Apply(ctx, testDeployment("web", 2)))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	web := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	require.NoError(t, o.WaitFor(wctx, web, podkit.Available))
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	require.Len(t, pods, 2)
	for _, p := range pods {
		require.Len(t, p.Spec.InitContainers, 1, p.Name)
		assert.Equal(t, "mesh-proxy", p.Spec.InitContainers[0].Name)
	}
	assert.Empty(t, web.Spec.Template.Spec.InitContainers)
}

// A JSON Patch mutation labels new ConfigMaps from a parameter, unless a
// test operation finds the label already there; a mutation that makes an
// object with an unknown field refuses the write under failurePolicy Fail
// and is skipped under Ignore; a policy never changes the name.
func TestMutatingAdmissionPolicyJSONPatch(t *testing.T) {
	o := newOrchestrator(t)
	ctx := t.Context()
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: team
  namespace: kube-system
data:
  name: payments
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: team-label
spec:
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["configmaps"]
  reinvocationPolicy: Never
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        has(object.metadata.labels) ? [
          JSONPatch{op: "test", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/team"), value: "none"},
          JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/team"), value: params.data.name}
        ] : [
          JSONPatch{op: "add", path: "/metadata/labels", value: {"example.com/team": params.data.name}}
        ]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: team-label
spec:
  policyName: team-label
  paramRef:
    name: team
    namespace: kube-system
    parameterNotFoundAction: Deny
`))
	plain := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "plain"}}
	require.NoError(t, o.Create(ctx, plain))
	assert.Equal(t, map[string]string{"example.com/team": "payments"}, plain.Labels)
	none := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "none", Labels: map[string]string{"example.com/team": "none"}}}
	require.NoError(t, o.Create(ctx, none))
	assert.Equal(t, "payments", none.Labels["example.com/team"], "the test passed: replaced")
	own := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "own", Labels: map[string]string{"example.com/team": "ours"}}}
	require.NoError(t, o.Create(ctx, own))
	assert.Equal(t, "ours", own.Labels["example.com/team"], "the test failed: left alone")

	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: breaks-secrets
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["secrets"]
  reinvocationPolicy: Never
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: '[JSONPatch{op: "add", path: "/unknownField", value: 1}]'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: breaks-secrets
spec:
  policyName: breaks-secrets
`))
	err := o.Create(ctx, &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "s"}})
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), "policy 'breaks-secrets' with binding 'breaks-secrets' denied request: the mutated object:")
	assert.Contains(t, err.Error(), "unknownField")
	pol, err := podkit.Get[*objects.MutatingAdmissionPolicy](ctx, o, "", "breaks-secrets")
	require.NoError(t, err)
	pol.Spec.FailurePolicy = ptr(objects.FailurePolicyIgnore)
	require.NoError(t, o.Update(ctx, pol))
	require.NoError(t, o.Create(ctx, &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "s"}}))

	pol.Spec.FailurePolicy = ptr(objects.FailurePolicyFail)
	pol.Spec.Mutations[0].JSONPatch.Expression = `[JSONPatch{op: "replace", path: "/metadata/name", value: "other"}]`
	require.NoError(t, o.Update(ctx, pol))
	err = o.Create(ctx, &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "t"}})
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), "may not change the kind, name or namespace")
}

// A policy with reinvocationPolicy IfNeeded is applied once more when a
// policy after it changed the object; with Never it is not.
func TestMutatingAdmissionPolicyReinvocation(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   map[string]string
	}{
		{"IfNeeded", map[string]string{"tier-seen": "web"}},
		{"Never", nil},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			o := newOrchestrator(t)
			ctx := t.Context()
			require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: a-annotate-tier
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  matchConditions:
  - name: has-tier
    expression: "has(object.metadata.labels) && 'tier' in object.metadata.labels"
  reinvocationPolicy: `+tc.policy+`
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{annotations: {"tier-seen": object.metadata.labels["tier"]}}}'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: a-annotate-tier
spec:
  policyName: a-annotate-tier
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: b-set-tier
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'Object{metadata: Object.metadata{labels: {"tier": "web"}}}'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: b-set-tier
spec:
  policyName: b-set-tier
`))
			cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}}
			require.NoError(t, o.Create(ctx, cm))
			assert.Equal(t, "web", cm.Labels["tier"])
			assert.Equal(t, tc.want, cm.Annotations)
		})
	}
}

// A mutating policy's expressions are compiled when it is written.
func TestMutatingAdmissionPolicyChecked(t *testing.T) {
	o := newOrchestrator(t)
	err := applyManifests(t, t.Context(), o, `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: bad
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["pods"]
  reinvocationPolicy: Never
  variables:
  - name: broken
    expression: "1 +"
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: 'Object{}'
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: 'object.spec +'
`)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), "spec.variables[0].expression")
	assert.Contains(t, err.Error(), "spec.mutations[0].jsonPatch.expression")
	assert.Contains(t, err.Error(), "spec.mutations[1].applyConfiguration.expression")
}
