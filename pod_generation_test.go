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

// A pod's generation is 1 once scheduled (the binding makes no new one)
// and grows with its spec; the node agent reports the generation it acted
// on in status.observedGeneration and in its conditions, and the
// scheduler in PodScheduled, as Kubernetes' PodObservedGenerationTracking.
func TestPodObservedGeneration(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 1)
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "web", Image: "busybox:1.36"}}}}
	require.NoError(t, o.Create(ctx, pod))

	observed := func(gen int64) podkit.Condition {
		return func(obj objects.Object) bool {
			p, ok := obj.(*objects.Pod)
			if !ok || p.Generation != gen || p.Status.ObservedGeneration != gen || p.Status.Phase != objects.PodRunning {
				return false
			}
			for _, c := range p.Status.Conditions {
				if c.ObservedGeneration != gen {
					return false
				}
			}
			return objects.GetPodCondition(&p.Status, objects.PodScheduled) != nil
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, o.WaitFor(wctx, pod, observed(1)), "running, scheduled, generation 1 observed")

	got, err := podkit.Get[*objects.Pod](ctx, o, "default", "web")
	require.NoError(t, err)
	got.Spec.ActiveDeadlineSeconds = new(int64(3600))
	require.NoError(t, o.Update(ctx, got))
	require.NoError(t, o.WaitFor(wctx, pod, func(obj objects.Object) bool {
		p, ok := obj.(*objects.Pod)
		return ok && p.Generation == 2 && p.Status.ObservedGeneration == 2 &&
			objects.GetPodCondition(&p.Status, objects.PodReady).ObservedGeneration == 2
	}), "the agent acts on the new spec")
	p, err := podkit.Get[*objects.Pod](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, int64(1), objects.GetPodCondition(&p.Status, objects.PodScheduled).ObservedGeneration,
		"the scheduler saw generation 1")

	// A status that names a negative generation is refused.
	p.Status.ObservedGeneration = -1
	err = o.UpdateStatus(ctx, p)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.Contains(t, err.Error(), "status.observedGeneration: Invalid value: -1: must be a non-negative integer")
}
