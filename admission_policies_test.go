package podkit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// applyManifests decodes manifests and applies them.
func applyManifests(t *testing.T, ctx context.Context, o *podkit.Orchestrator, manifests string) error {
	t.Helper()
	objs, err := objects.DecodeYAML(strings.NewReader(manifests))
	require.NoError(t, err)
	return o.Apply(ctx, objs...)
}

// The example of Kubernetes' documentation on ValidatingAdmissionPolicy,
// as written there: Deployments of more than 5 replicas are refused in the
// namespaces labelled environment=test, on create, update and scale.
func TestValidatingAdmissionPolicyDocumentationExample(t *testing.T) {
	o := newOrchestrator(t)
	ctx := t.Context()
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: "demo-policy.example.com"
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups:   ["apps"]
      apiVersions: ["v1"]
      operations:  ["CREATE", "UPDATE"]
      resources:   ["deployments"]
  validations:
    - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: "demo-binding-test.example.com"
spec:
  policyName: "demo-policy.example.com"
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels:
        environment: test
---
apiVersion: v1
kind: Namespace
metadata:
  name: test
  labels:
    environment: test
`))

	d := testDeployment("web", 6)
	d.Namespace = "test"
	err := o.Create(ctx, d)
	require.Error(t, err)
	assert.Equal(t, "ValidatingAdmissionPolicy 'demo-policy.example.com' with binding 'demo-binding-test.example.com' denied request: failed expression: object.spec.replicas <= 5", err.Error())
	assert.ErrorIs(t, err, objects.ErrInvalid, "reason Invalid, the default")
	var denied *podkit.PolicyDeniedError
	require.ErrorAs(t, err, &denied)
	assert.Equal(t, objects.ReasonInvalid, denied.Reason)
	_, err = podkit.Get[*objects.Deployment](ctx, o, "test", "web")
	require.Error(t, err, "nothing stored")

	other := testDeployment("web", 6)
	require.NoError(t, o.Create(ctx, other), "the binding selects namespace test only")

	d = testDeployment("web", 5)
	d.Namespace = "test"
	require.NoError(t, o.Create(ctx, d))
	d.Spec.Replicas = ptr(int32(7))
	require.ErrorIs(t, o.Update(ctx, d), objects.ErrInvalid)
	err = o.UpdateScale(ctx, podkit.KindDeployment, &podkit.Scale{ObjectMeta: objects.ObjectMeta{Namespace: "test", Name: "web"}, Spec: podkit.ScaleSpec{Replicas: 9}})
	require.ErrorIs(t, err, objects.ErrInvalid, "a scale writes the Deployment")
	got, err := podkit.Get[*objects.Deployment](ctx, o, "test", "web")
	require.NoError(t, err)
	assert.Equal(t, int32(5), *got.Spec.Replicas)

	// Without the binding the policy does nothing.
	require.NoError(t, o.Delete(ctx, &objects.ValidatingAdmissionPolicyBinding{ObjectMeta: objects.ObjectMeta{Name: "demo-binding-test.example.com"}}))
	got.Spec.Replicas = ptr(int32(7))
	require.NoError(t, o.Update(ctx, got))
}

// A policy's parameters: a ConfigMap the binding names holds the limit,
// which the policy's message reads too. Before it exists, Deny as the
// parameterNotFoundAction refuses every write the policy matches; when it
// changes, the new limit applies at once.
func TestValidatingAdmissionPolicyParams(t *testing.T) {
	o := newOrchestrator(t)
	ctx := t.Context()
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit
spec:
  paramKind:
    apiVersion: v1
    kind: ConfigMap
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["deployments"]
  variables:
  - name: limit
    expression: int(params.data.maxReplicas)
  validations:
  - expression: object.spec.replicas <= variables.limit
    messageExpression: "'replicas ' + string(object.spec.replicas) + ' above the limit of ' + string(variables.limit) + ' in ' + namespaceObject.metadata.name"
    reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit
spec:
  policyName: replica-limit
  paramRef:
    name: limits
    parameterNotFoundAction: Deny
  validationActions: [Deny]
`))
	err := o.Create(ctx, testDeployment("web", 3))
	require.ErrorIs(t, err, podkit.ErrPolicyDenied)
	assert.Contains(t, err.Error(), "failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction")

	limits := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "limits"}, Data: map[string]string{"maxReplicas": "4"}}
	require.NoError(t, o.Create(ctx, limits))
	require.NoError(t, o.Create(ctx, testDeployment("web", 3)))
	err = o.Create(ctx, testDeployment("big", 5))
	require.ErrorIs(t, err, podkit.ErrPolicyDenied, "reason Forbidden")
	assert.NotErrorIs(t, err, objects.ErrInvalid)
	assert.Equal(t, "ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit' denied request: replicas 5 above the limit of 4 in default", err.Error())

	limits.Data["maxReplicas"] = "10"
	require.NoError(t, o.Update(ctx, limits))
	require.NoError(t, o.Create(ctx, testDeployment("big", 5)))

	// The parameter is in the namespace of the object written: another
	// namespace has none, and Allow admits what finds none.
	require.NoError(t, o.Create(ctx, &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "other"}}))
	d := testDeployment("web", 50)
	d.Namespace = "other"
	require.ErrorIs(t, o.Create(ctx, d), podkit.ErrPolicyDenied)
	b, err := podkit.Get[*objects.ValidatingAdmissionPolicyBinding](ctx, o, "", "replica-limit")
	require.NoError(t, err)
	b.Spec.ParamRef.ParameterNotFoundAction = ptr(objects.AllowAction)
	require.NoError(t, o.Update(ctx, b))
	require.NoError(t, o.Create(ctx, d))
}

// The pods a ReplicaSet creates are admitted as the API's are: a policy
// refusing images from outside a registry leaves the Deployment's
// ReplicaSet without pods and with the refusal in its ReplicaFailure
// condition, as in Kubernetes.
func TestValidatingAdmissionPolicyControllerWrites(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 1)
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: local-images
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["pods"]
  validations:
  - expression: "object.spec.containers.all(c, c.image.startsWith('registry.local/'))"
    message: images must come from registry.local
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: local-images
spec:
  policyName: local-images
  validationActions: [Deny]
`))
	require.NoError(t, o.Apply(ctx, testDeployment("web", 2)))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	waitFor(t, wctx, "the ReplicaSet's ReplicaFailure condition", func() (bool, string) {
		rss, err := podkit.List[*objects.ReplicaSet](ctx, o, "default", podkit.WithLabels("app=web"))
		if err != nil || len(rss) != 1 {
			return false, "no ReplicaSet yet"
		}
		for _, c := range rss[0].Status.Conditions {
			if c.Type == objects.ReplicaSetReplicaFailure {
				return strings.Contains(c.Message, "denied request: images must come from registry.local"), c.Message
			}
		}
		return false, "no condition"
	})
	pods, err := podkit.List[*objects.Pod](ctx, o, "default")
	require.NoError(t, err)
	assert.Empty(t, pods)

	ok := testDeployment("ok", 2)
	ok.Spec.Template.Spec.Containers[0].Image = "registry.local/app:1"
	require.NoError(t, o.Apply(ctx, ok))
	require.NoError(t, o.WaitFor(wctx, ok, podkit.Available))
}

// logBuffer collects what a logger writes, for the tests to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Warn and Audit admit the write and log the failure; match conditions
// narrow the writes a policy applies to; the object selector picks by
// labels; failurePolicy decides what an expression that cannot be
// evaluated does; deletes are asked about with oldObject.
func TestValidatingAdmissionPolicyActionsAndFailures(t *testing.T) {
	var logs logBuffer
	o := newOrchestrator(t, podkit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := t.Context()
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: owner-label
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["configmaps"]
  matchConditions:
  - name: not-kube-root
    expression: "object.metadata.name != 'kube-root-ca.crt'"
  validations:
  - expression: "has(object.metadata.labels) && 'owner' in object.metadata.labels"
    message: every ConfigMap needs an owner label
  auditAnnotations:
  - key: size
    valueExpression: "string(size(object.data))"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: owner-label
spec:
  policyName: owner-label
  validationActions: [Warn, Audit]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: keep-protected
spec:
  matchConstraints:
    objectSelector:
      matchLabels:
        protected: "true"
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["DELETE"]
      resources: ["*"]
  validations:
  - expression: "request.operation == 'DELETE' && object == null && oldObject.metadata.labels.protected != 'true'"
    message: protected
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: keep-protected
spec:
  policyName: keep-protected
  validationActions: [Deny]
`))
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "settings"}, Data: map[string]string{"a": "1", "b": "2"}}
	require.NoError(t, o.Create(ctx, cm), "Warn and Audit do not refuse")
	out := logs.String()
	assert.Contains(t, out, "Validation failed for ValidatingAdmissionPolicy 'owner-label' with binding 'owner-label': every ConfigMap needs an owner label")
	assert.Contains(t, out, "key=owner-label/size value=2")
	assert.NotContains(t, out, "kube-root-ca.crt", "the match condition leaves it out")

	protected := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "keep", Labels: map[string]string{"protected": "true", "owner": "me"}}}
	require.NoError(t, o.Create(ctx, protected))
	err := o.Delete(ctx, protected)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), "ValidatingAdmissionPolicy 'keep-protected' with binding 'keep-protected' denied request: protected")
	n, err := o.DeleteAll(ctx, podkit.KindConfigMap, []podkit.ListOption{podkit.InNamespace("default"), podkit.WithLabels("protected=true")})
	require.Error(t, err)
	assert.Zero(t, n)
	require.NoError(t, o.Delete(ctx, cm), "not selected")

	// An expression that cannot be evaluated (no such key) refuses the
	// write under failurePolicy Fail and is skipped under Ignore.
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: broken
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["secrets"]
  validations:
  - expression: "object.spec.missing == 1"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: broken
spec:
  policyName: broken
  validationActions: [Deny]
`))
	s := &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "s"}}
	err = o.Create(ctx, s)
	require.ErrorIs(t, err, podkit.ErrPolicyDenied)
	assert.Contains(t, err.Error(), "no such key: spec")
	p, err := podkit.Get[*objects.ValidatingAdmissionPolicy](ctx, o, "", "broken")
	require.NoError(t, err)
	p.Spec.FailurePolicy = ptr(objects.FailurePolicyIgnore)
	require.NoError(t, o.Update(ctx, p))
	require.NoError(t, o.Create(ctx, s))
}

// A policy's expressions are compiled when it is written: one that does
// not compile, or is not of the type its field needs, refuses the policy
// with the field named. Policies never apply to policies and bindings, so
// one refusing everything can still be deleted.
func TestValidatingAdmissionPolicyChecked(t *testing.T) {
	o := newOrchestrator(t)
	ctx := t.Context()
	err := applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: bad
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["*"]
      resources: ["*"]
  validations:
  - expression: "object.metadata.name +"
  - expression: "'not a bool'"
  - expression: "params.x == 1"
`)
	require.ErrorIs(t, err, objects.ErrInvalid)
	for _, want := range []string{"spec.validations[0].expression", "spec.validations[1].expression", "spec.validations[2].expression", "undeclared reference to 'params'"} {
		assert.Contains(t, err.Error(), want)
	}
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: nothing
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["*"]
      resources: ["*"]
  validations:
  - expression: "false"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: nothing
spec:
  policyName: nothing
  validationActions: [Deny]
`))
	err = o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}})
	require.True(t, errors.Is(err, objects.ErrInvalid), "%v", err)
	require.NoError(t, o.Delete(ctx, &objects.ValidatingAdmissionPolicyBinding{ObjectMeta: objects.ObjectMeta{Name: "nothing"}}))
	require.NoError(t, o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}}))
}

// The authorizer variable checks a ServiceAccount's rights by the RBAC
// objects of the write's transaction: a pod may run only as an account
// allowed to read the namespace's Secrets.
func TestValidatingAdmissionPolicyAuthorizer(t *testing.T) {
	o := newOrchestrator(t)
	ctx := t.Context()
	require.NoError(t, applyManifests(t, ctx, o, `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: reads-secrets
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["pods"]
  variables:
  - name: account
    expression: authorizer.serviceAccount(object.metadata.namespace, object.spec.serviceAccountName)
  validations:
  - expression: variables.account.group('').resource('secrets').namespace(object.metadata.namespace).check('get').allowed()
    messageExpression: "'service account ' + object.spec.serviceAccountName + ' may not read secrets'"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: reads-secrets
spec:
  policyName: reads-secrets
  validationActions: [Deny]
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: secret-reader
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: reader
subjects:
- kind: ServiceAccount
  name: reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: secret-reader
`))
	pod := func(name, account string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name},
			Spec: objects.PodSpec{ServiceAccountName: account, Containers: []objects.Container{{Name: "app", Image: "app:1"}}}}
	}
	err := o.Create(ctx, pod("as-default", ""))
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), "denied request: service account default may not read secrets")
	require.NoError(t, o.Create(ctx, pod("as-reader", "reader")))
}
