package podkit_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// patchedDeployment stores a Deployment of two containers, app and side,
// and returns it as stored.
func patchedDeployment(t *testing.T, o *podkit.Orchestrator) *objects.Deployment {
	t.Helper()
	d := testDeployment("web", 2)
	d.Labels = map[string]string{"tier": "front", "team": "a"}
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, objects.Container{Name: "side", Image: "side:1"})
	require.NoError(t, o.Create(t.Context(), d))
	return d
}

// Each patch type, as kubectl patch --type strategic, merge and json
// applies it: a strategic merge patch merges containers by name, a merge
// patch replaces the list whole and removes what it sets to null, a JSON
// patch applies its operations in order. The object receives what was
// stored, and a spec change makes a new generation.
func TestPatchTypes(t *testing.T) {
	ctx := t.Context()
	o := newOrchestrator(t)
	d := patchedDeployment(t, o)
	key := objects.Key{Name: "web"}

	got := &objects.Deployment{}
	require.NoError(t, o.Patch(ctx, key, got, podkit.StrategicMergePatch,
		[]byte(`{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28","env":[{"name":"MODE","value":"fast"}]}]}}}}`)))
	assert.Equal(t, int32(3), *got.Spec.Replicas)
	cs := got.Spec.Template.Spec.Containers
	require.Len(t, cs, 2, "the other container is kept")
	assert.Equal(t, "nginx:1.28", cs[0].Image)
	assert.Equal(t, []objects.EnvVar{{Name: "MODE", Value: "fast"}}, cs[0].Env)
	assert.Equal(t, "side:1", cs[1].Image)
	assert.Equal(t, d.Generation+1, got.Generation)
	assert.NotEqual(t, d.ResourceVersion, got.ResourceVersion)
	stored, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, got, stored)

	require.NoError(t, o.Patch(ctx, key, got, podkit.MergePatch,
		[]byte(`{"metadata":{"labels":{"team":null,"env":"prod"}},"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.29"}]}}}}`)))
	assert.Equal(t, map[string]string{"tier": "front", "env": "prod"}, got.Labels)
	require.Len(t, got.Spec.Template.Spec.Containers, 1, "a merge patch replaces a list whole")
	assert.Equal(t, "nginx:1.29", got.Spec.Template.Spec.Containers[0].Image)
	assert.Equal(t, objects.PullIfNotPresent, got.Spec.Template.Spec.Containers[0].ImagePullPolicy, "the patched object is defaulted")

	require.NoError(t, o.Patch(ctx, key, got, podkit.JSONPatch, []byte(`[
		{"op": "test", "path": "/spec/replicas", "value": 3},
		{"op": "replace", "path": "/spec/replicas", "value": 1},
		{"op": "add", "path": "/metadata/annotations", "value": {"note": "one"}},
		{"op": "remove", "path": "/metadata/labels/env"}]`)))
	assert.Equal(t, int32(1), *got.Spec.Replicas)
	assert.Equal(t, "one", got.Annotations["note"])
	assert.Equal(t, map[string]string{"tier": "front"}, got.Labels)
}

// A patch applies to the object as stored, so it needs no
// resourceVersion; one the patch sets is a precondition, as in
// Kubernetes. A patch that changes nothing writes nothing.
func TestPatchConcurrency(t *testing.T) {
	ctx := t.Context()
	o := newOrchestrator(t)
	d := patchedDeployment(t, o)
	key := objects.Key{Name: "web"}
	got := &objects.Deployment{}

	require.NoError(t, o.Patch(ctx, key, got, podkit.MergePatch, []byte(`{"spec":{"replicas":2}}`)))
	assert.Equal(t, d.ResourceVersion, got.ResourceVersion, "nothing changed, nothing written")

	stale := fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"replicas":4}}`, d.ResourceVersion)
	require.NoError(t, o.Patch(ctx, key, got, podkit.MergePatch, []byte(stale)))
	assert.Equal(t, int32(4), *got.Spec.Replicas, "the resourceVersion set is the stored one")
	err := o.Patch(ctx, key, got, podkit.MergePatch, []byte(stale))
	assert.ErrorIs(t, err, store.ErrConflict)

	err = o.Patch(ctx, key, got, podkit.MergePatch, []byte(`{"metadata":{"uid":"another"}}`))
	assert.ErrorIs(t, err, objects.ErrInvalid, "as in Kubernetes, where a patched uid fails the update's validation")
	assert.ErrorContains(t, err, `metadata.uid: Invalid value: "another": field is immutable`)

	err = o.Patch(ctx, objects.Key{Name: "nope"}, got, podkit.MergePatch, []byte(`{}`))
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// A patch that cannot apply, or whose result is no Deployment named web,
// fails naming the problem, and one whose result is invalid fails as
// Update does; nothing is written by either.
func TestPatchRefusals(t *testing.T) {
	ctx := t.Context()
	o := newOrchestrator(t)
	d := patchedDeployment(t, o)
	key := objects.Key{Name: "web"}

	for name, tc := range map[string]struct {
		pt      podkit.PatchType
		patch   string
		invalid bool // objects.ErrInvalid, not podkit.ErrInvalidPatch
		msg     string
	}{
		"unknown field":       {pt: podkit.MergePatch, patch: `{"spec":{"replicaz":3}}`, msg: `unknown field "spec.replicaz"`},
		"wrong type":          {pt: podkit.StrategicMergePatch, patch: `{"spec":{"replicas":"three"}}`, msg: "spec.replicas: Invalid value: a JSON string where an integer is expected"},
		"renamed":             {pt: podkit.JSONPatch, patch: `[{"op":"replace","path":"/metadata/name","value":"other"}]`, msg: "the name of the patched object (other) does not match the name of the object (web)"},
		"other namespace":     {pt: podkit.MergePatch, patch: `{"metadata":{"namespace":"kube-system"}}`, msg: "does not match the namespace of the object (default)"},
		"other kind":          {pt: podkit.MergePatch, patch: `{"kind":"StatefulSet"}`, msg: `the patched object's apiVersion and kind ("apps/v1", "StatefulSet") are not the object's ("apps/v1", "Deployment")`},
		"failed test":         {pt: podkit.JSONPatch, patch: `[{"op":"replace","path":"/spec/replicas","value":5},{"op":"test","path":"/spec/paused","value":true}]`, msg: "test"},
		"missing path":        {pt: podkit.JSONPatch, patch: `[{"op":"remove","path":"/spec/nothing"}]`, msg: "unable to remove nonexistent key: nothing"},
		"not a list":          {pt: podkit.JSONPatch, patch: `{"op":"remove"}`, msg: "json: cannot unmarshal object"},
		"merge patch a list":  {pt: podkit.MergePatch, patch: `[1]`, msg: "error decoding patch"},
		"strategic not JSON":  {pt: podkit.StrategicMergePatch, patch: `{spec`, msg: "error decoding patch"},
		"unknown type":        {pt: "application/apply-patch+yaml", patch: `{}`, msg: `unsupported patch type "application/apply-patch+yaml"`},
		"invalid result":      {pt: podkit.MergePatch, patch: `{"spec":{"replicas":-1}}`, invalid: true, msg: "spec.replicas: Invalid value: -1: must be greater than or equal to 0"},
		"immutable selector":  {pt: podkit.JSONPatch, patch: `[{"op":"replace","path":"/spec/selector/matchLabels/app","value":"x"}]`, invalid: true, msg: "field is immutable"},
		"too many operations": {pt: podkit.JSONPatch, patch: manyOps(10001), msg: "the allowed maximum operations in a JSON patch is 10000, got 10001"},
	} {
		t.Run(name, func(t *testing.T) {
			err := o.Patch(ctx, key, &objects.Deployment{}, tc.pt, []byte(tc.patch))
			require.Error(t, err)
			if tc.invalid {
				assert.ErrorIs(t, err, objects.ErrInvalid)
			} else {
				assert.ErrorIs(t, err, podkit.ErrInvalidPatch)
			}
			assert.ErrorContains(t, err, tc.msg)
			got, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
			require.NoError(t, err)
			assert.Equal(t, d.ResourceVersion, got.ResourceVersion, "nothing written")
		})
	}
}

func manyOps(n int) string {
	b := []byte("[")
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":"test","path":"/kind","value":"Deployment"}`...)
	}
	return string(append(b, ']'))
}

// Without PatchStatus a patch of the status is ignored, as Kubernetes
// ignores it; with it, only the status is written, and validated as a
// status update.
func TestPatchStatus(t *testing.T) {
	ctx := t.Context()
	o := newOrchestrator(t)
	patchedDeployment(t, o)
	key := objects.Key{Name: "web"}
	got := &objects.Deployment{}

	require.NoError(t, o.Patch(ctx, key, got, podkit.MergePatch, []byte(`{"status":{"replicas":7},"spec":{"replicas":5}}`)))
	assert.Equal(t, int32(5), *got.Spec.Replicas)
	assert.Equal(t, int32(0), got.Status.Replicas)

	require.NoError(t, o.Patch(ctx, key, got, podkit.MergePatch, []byte(`{"status":{"replicas":7},"spec":{"replicas":1}}`), podkit.PatchStatus()))
	assert.Equal(t, int32(7), got.Status.Replicas)
	assert.Equal(t, int32(5), *got.Spec.Replicas, "a status patch leaves the spec")

	err := o.Patch(ctx, key, got, podkit.MergePatch, []byte(`{"status":{"replicas":-2}}`), podkit.PatchStatus())
	assert.ErrorIs(t, err, objects.ErrInvalid)
	assert.ErrorContains(t, err, "status.replicas")

	require.NoError(t, o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}}))
	err = o.Patch(ctx, objects.Key{Name: "c"}, &objects.ConfigMap{}, podkit.MergePatch, []byte(`{"data":{"a":"b"}}`), podkit.PatchStatus())
	assert.ErrorContains(t, err, "ConfigMap has no status")
}

// A dry run answers what the patch would store, validated and admitted,
// and stores nothing.
func TestPatchDryRun(t *testing.T) {
	ctx := t.Context()
	o := newOrchestrator(t)
	d := patchedDeployment(t, o)
	key := objects.Key{Name: "web"}

	got := &objects.Deployment{}
	require.NoError(t, o.Patch(ctx, key, got, podkit.StrategicMergePatch, []byte(`{"spec":{"replicas":9}}`), podkit.PatchDryRun()))
	assert.Equal(t, int32(9), *got.Spec.Replicas)
	assert.Equal(t, d.Generation+1, got.Generation)
	assert.Equal(t, d.ResourceVersion, got.ResourceVersion)
	stored, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, d, stored)

	err = o.Patch(ctx, key, got, podkit.MergePatch, []byte(`{"spec":{"replicas":-1}}`), podkit.PatchDryRun())
	assert.ErrorIs(t, err, objects.ErrInvalid)
}

// A strategic merge patch of a Service merges its ports by port, as
// Kubernetes' patch strategy for them says, and the allocated cluster IP
// stays.
func TestPatchServicePorts(t *testing.T) {
	ctx := t.Context()
	o := newOrchestrator(t)
	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromInt32(8080)}},
	}}
	require.NoError(t, o.Create(ctx, svc))
	require.NotEmpty(t, svc.Spec.ClusterIP)

	got := &objects.Service{}
	require.NoError(t, o.Patch(ctx, objects.Key{Name: "web"}, got, podkit.StrategicMergePatch,
		[]byte(`{"spec":{"ports":[{"name":"https","port":443,"targetPort":8443}]}}`)))
	byPort := map[int32]objects.ServicePort{}
	for _, p := range got.Spec.Ports {
		byPort[p.Port] = p
	}
	require.Len(t, byPort, 2)
	assert.Equal(t, "http", byPort[80].Name)
	assert.Equal(t, "https", byPort[443].Name)
	assert.Equal(t, objects.ProtocolTCP, byPort[443].Protocol, "defaulted")
	assert.Equal(t, svc.Spec.ClusterIP, got.Spec.ClusterIP)

	require.NoError(t, o.Patch(ctx, objects.Key{Name: "web"}, got, podkit.StrategicMergePatch,
		[]byte(`{"spec":{"ports":[{"port":80,"$patch":"delete"}]}}`)))
	require.Len(t, got.Spec.Ports, 1)
	assert.Equal(t, int32(443), got.Spec.Ports[0].Port)
}
