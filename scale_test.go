package podkit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// The scale subresource, as kubectl scale uses it: a Deployment's scale
// reports its replicas and selector; UpdateScale changes spec.replicas
// and the pods follow; a stale resourceVersion is a conflict, negative
// replicas are refused with Kubernetes' message, a kind without the
// subresource is not found, and nothing is written by a refusal.
func TestScaleSubresource(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	require.NoError(t, o.Apply(ctx, testDeployment("web", 2)))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	web := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	require.NoError(t, o.WaitFor(wctx, web, podkit.Available))

	s, err := o.GetScale(ctx, "Deployment", objects.Key{Name: "web"})
	require.NoError(t, err)
	assert.Equal(t, "web", s.Name)
	assert.Equal(t, "default", s.Namespace)
	assert.Equal(t, int32(2), s.Spec.Replicas)
	assert.Equal(t, int32(2), s.Status.Replicas)
	assert.Equal(t, "app=web", s.Status.Selector)
	stale := s.ResourceVersion

	s.Spec.Replicas = 4
	require.NoError(t, o.UpdateScale(ctx, "Deployment", s))
	assert.Equal(t, int32(4), s.Spec.Replicas)
	assert.NotEqual(t, stale, s.ResourceVersion)
	require.NoError(t, o.WaitFor(wctx, web, func(obj objects.Object) bool {
		d, ok := obj.(*objects.Deployment)
		return ok && d.Status.AvailableReplicas == 4 && d.Status.Replicas == 4
	}))
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	assert.Len(t, pods, 4)

	err = o.UpdateScale(ctx, "Deployment", &podkit.Scale{ObjectMeta: objects.ObjectMeta{Name: "web", ResourceVersion: stale}, Spec: podkit.ScaleSpec{Replicas: 1}})
	assert.ErrorIs(t, err, store.ErrConflict)
	err = o.UpdateScale(ctx, "Deployment", &podkit.Scale{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: podkit.ScaleSpec{Replicas: -1}})
	assert.ErrorIs(t, err, objects.ErrInvalid)
	assert.EqualError(t, err, `Scale "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`)
	_, err = o.GetScale(ctx, "Pod", objects.Key{Name: pods[0].Name})
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = o.GetScale(ctx, "Deployment", objects.Key{Name: "nope"})
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = o.GetScale(ctx, "Nonsense", objects.Key{Name: "web"})
	assert.True(t, errors.Is(err, store.ErrUnknownKind), "%v", err)

	s, err = o.GetScale(ctx, "Deployment", objects.Key{Name: "web"})
	require.NoError(t, err)
	assert.Equal(t, int32(4), s.Spec.Replicas, "a refused scale wrote something")

	// A StatefulSet has one too.
	ss := &objects.StatefulSet{ObjectMeta: objects.ObjectMeta{Name: "db"}, Spec: objects.StatefulSetSpec{
		Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Template: testDeployment("db", 1).Spec.Template}}
	require.NoError(t, o.Apply(ctx, ss))
	require.NoError(t, o.UpdateScale(ctx, "StatefulSet", &podkit.Scale{ObjectMeta: objects.ObjectMeta{Name: "db"}, Spec: podkit.ScaleSpec{Replicas: 3}}))
	got := &objects.StatefulSet{}
	require.NoError(t, o.Get(ctx, objects.Key{Name: "db"}, got))
	assert.Equal(t, int32(3), *got.Spec.Replicas)
}
