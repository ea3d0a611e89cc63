package podkit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// A mutating hook labels every pod and gives its containers a variable:
// the pods created through the API and those a Deployment's ReplicaSet
// makes get them, and the Deployment's and ReplicaSet's templates, which
// the ReplicaSet's pods share, stay as they were.
func TestAdmissionHookMutates(t *testing.T) {
	stamp := podkit.AdmissionHook{Name: "stamp", Kinds: []string{podkit.KindPod}, Operations: []podkit.AdmissionOperation{podkit.AdmissionCreate},
		Mutate: func(req *podkit.AdmissionRequest) error {
			p := req.Object.(*objects.Pod)
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			p.Labels["stamped"] = "yes"
			for i := range p.Spec.Containers {
				p.Spec.Containers[i].Env = append(p.Spec.Containers[i].Env, objects.EnvVar{Name: "STAMPED", Value: "yes"})
			}
			return nil
		}}
	o := newOrchestrator(t, podkit.WithAdmission(stamp))
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)

	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "lone"}, Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}}}}
	require.NoError(t, o.Create(ctx, p))
	assert.Equal(t, "yes", p.Labels["stamped"])
	assert.Equal(t, []objects.EnvVar{{Name: "STAMPED", Value: "yes"}}, p.Spec.Containers[0].Env)
	assert.Equal(t, objects.PullIfNotPresent, p.Spec.Containers[0].ImagePullPolicy, "defaulted")

	require.NoError(t, o.Apply(ctx, testDeployment("web", 3)))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	web := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	require.NoError(t, o.WaitFor(wctx, web, podkit.Available))
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	require.Len(t, pods, 3)
	for _, p := range pods {
		assert.Equal(t, "yes", p.Labels["stamped"], p.Name)
		assert.Equal(t, []objects.EnvVar{{Name: "STAMPED", Value: "yes"}}, p.Spec.Containers[0].Env, p.Name)
	}
	assert.NotContains(t, web.Spec.Template.Labels, "stamped")
	assert.Empty(t, web.Spec.Template.Spec.Containers[0].Env)
	rss, err := podkit.List[*objects.ReplicaSet](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	require.Len(t, rss, 1)
	assert.NotContains(t, rss[0].Spec.Template.Labels, "stamped")
	assert.Empty(t, rss[0].Spec.Template.Spec.Containers[0].Env)
}

var errTooMany = errors.New("at most 5 replicas")

// A validating hook refuses Deployments of more than 5 replicas, however
// they are written, with its own error; a delete hook protects
// ConfigMaps labelled protected, from Delete and DeleteAll alike; a hook
// reads the store through the request's transaction. Nothing a hook
// refuses is written.
func TestAdmissionHookValidates(t *testing.T) {
	maxReplicas := podkit.AdmissionHook{Name: "max-replicas", Kinds: []string{podkit.KindDeployment},
		Validate: func(req *podkit.AdmissionRequest) error {
			if r := req.Object.(*objects.Deployment).Spec.Replicas; *r > 5 {
				return fmt.Errorf("%d replicas: %w", *r, errTooMany)
			}
			return nil
		}}
	protect := podkit.AdmissionHook{Name: "protect", Kinds: []string{podkit.KindConfigMap}, Operations: []podkit.AdmissionOperation{podkit.AdmissionDelete},
		Validate: func(req *podkit.AdmissionRequest) error {
			if req.Object != nil {
				return errors.New("asked about a delete with an object")
			}
			if req.OldObject.GetObjectMeta().Labels["protected"] == "true" {
				return errors.New("the ConfigMap is protected")
			}
			return nil
		}}
	locked := podkit.AdmissionHook{Name: "lock", Kinds: []string{podkit.KindConfigMap}, Operations: []podkit.AdmissionOperation{podkit.AdmissionCreate},
		Validate: func(req *podkit.AdmissionRequest) error {
			_, err := req.Tx.Get(podkit.KindConfigMap, objects.Key{Namespace: "default", Name: "lock"})
			if err == nil {
				return errors.New("new ConfigMaps are locked")
			}
			return nil
		}}
	o := newOrchestrator(t, podkit.WithAdmission(maxReplicas, protect, locked))
	ctx := t.Context()

	err := o.Create(ctx, testDeployment("big", 6))
	assert.ErrorIs(t, err, errTooMany)
	assert.EqualError(t, err, `admission hook "max-replicas" denied the request: 6 replicas: at most 5 replicas`)
	_, err = podkit.Get[*objects.Deployment](ctx, o, "default", "big")
	assert.ErrorIs(t, err, store.ErrNotFound)

	d := testDeployment("web", 5)
	require.NoError(t, o.Create(ctx, d))
	d.Spec.Replicas = ptr[int32](7)
	assert.ErrorIs(t, o.Update(ctx, d), errTooMany)
	assert.ErrorIs(t, o.Patch(ctx, objects.Key{Name: "web"}, &objects.Deployment{}, podkit.MergePatch, []byte(`{"spec":{"replicas":9}}`)), errTooMany)
	assert.ErrorIs(t, o.UpdateScale(ctx, podkit.KindDeployment, &podkit.Scale{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: podkit.ScaleSpec{Replicas: 8}}), errTooMany)
	assert.ErrorIs(t, o.Apply(ctx, testDeployment("web", 6)), errTooMany)
	got, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, int32(5), *got.Spec.Replicas)

	cm := func(name string, protected bool) *objects.ConfigMap {
		c := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{"set": "a"}}}
		if protected {
			c.Labels["protected"] = "true"
		}
		return c
	}
	require.NoError(t, o.Create(ctx, cm("keep", true)))
	require.NoError(t, o.Create(ctx, cm("drop", false)))
	err = o.Delete(ctx, cm("keep", false))
	assert.EqualError(t, err, `admission hook "protect" denied the request: the ConfigMap is protected`)
	n, err := o.DeleteAll(ctx, podkit.KindConfigMap, []podkit.ListOption{podkit.WithLabels("set=a")})
	assert.Error(t, err)
	assert.Zero(t, n)
	cms, err := podkit.List[*objects.ConfigMap](ctx, o, "default", podkit.WithLabels("set=a"))
	require.NoError(t, err)
	assert.Len(t, cms, 2, "DeleteAll deletes all or nothing")
	require.NoError(t, o.Delete(ctx, cm("drop", false)))

	require.NoError(t, o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "lock"}}))
	assert.ErrorContains(t, o.Create(ctx, cm("late", false)), "new ConfigMaps are locked")
}

// A mutating hook may not rename what it is asked about, and what it
// makes is validated as the object is.
func TestAdmissionHookMutationChecked(t *testing.T) {
	rename := podkit.AdmissionHook{Name: "rename", Kinds: []string{podkit.KindConfigMap},
		Mutate: func(req *podkit.AdmissionRequest) error { req.Object.GetObjectMeta().Name = "other"; return nil }}
	breakImage := podkit.AdmissionHook{Name: "break", Kinds: []string{podkit.KindPod},
		Mutate: func(req *podkit.AdmissionRequest) error {
			req.Object.(*objects.Pod).Spec.Containers[0].Image = ""
			return nil
		}}
	o := newOrchestrator(t, podkit.WithAdmission(rename, breakImage))
	ctx := t.Context()
	err := o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}})
	assert.EqualError(t, err, `admission hook "rename" changed the kind, namespace or name of ConfigMap "c"`)
	err = o.Create(ctx, &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p"}, Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}}}})
	assert.ErrorIs(t, err, objects.ErrInvalid)
	assert.ErrorContains(t, err, "spec.containers[0].image: Required value")
}

func TestWithAdmissionRefusesBadHooks(t *testing.T) {
	ok := func(*podkit.AdmissionRequest) error { return nil }
	for _, tc := range []struct {
		hook podkit.AdmissionHook
		msg  string
	}{
		{podkit.AdmissionHook{Validate: ok}, "WithAdmission: hook 0 has no name"},
		{podkit.AdmissionHook{Name: "idle"}, `WithAdmission: hook "idle" has neither Mutate nor Validate`},
		{podkit.AdmissionHook{Name: "op", Validate: ok, Operations: []podkit.AdmissionOperation{"CONNECT"}}, `WithAdmission: hook "op": unknown operation "CONNECT"`},
	} {
		_, err := podkit.New(podkit.WithAdmission(tc.hook))
		assert.EqualError(t, err, tc.msg)
	}
}

// Hooks are told when nothing will be stored: a dry run of Apply or Patch.
func TestAdmissionHookSeesDryRun(t *testing.T) {
	var seen []bool
	record := func(req *podkit.AdmissionRequest) error { seen = append(seen, req.DryRun); return nil }
	o := newOrchestrator(t, podkit.WithAdmission(podkit.AdmissionHook{Name: "record", Kinds: []string{podkit.KindConfigMap}, Mutate: record, Validate: record}))
	ctx := t.Context()
	cm := func() *objects.ConfigMap {
		return &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "1"}}
	}
	require.NoError(t, o.DryRun(ctx, cm()))
	require.NoError(t, o.Create(ctx, cm()))
	require.NoError(t, o.Patch(ctx, objects.Key{Name: "c"}, &objects.ConfigMap{}, podkit.MergePatch, []byte(`{"data":{"a":"2"}}`), podkit.PatchDryRun()))
	assert.Equal(t, []bool{true, true, false, false, true, true}, seen, "mutate and validate of each write")
}
