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

// A pod created with scheduling gates waits, unscheduled, with
// Kubernetes' SchedulingGated condition, while another gains a
// nodeSelector term; once its last gate is removed it is scheduled where
// its selector says, and runs.
func TestSchedulingGates(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	n2, err := podkit.Get[*objects.Node](ctx, o, "", "n2")
	require.NoError(t, err)
	n2.Labels["pool"] = "batch"
	require.NoError(t, o.Update(ctx, n2))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	gated := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "gated"}, Spec: objects.PodSpec{
		SchedulingGates: []objects.PodSchedulingGate{{Name: "example.com/quota"}, {Name: "example.com/placement"}},
		Containers:      []objects.Container{{Name: "app", Image: "nginx:1.27"}},
	}}
	free := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "free"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "nginx:1.27"}},
	}}
	require.NoError(t, o.Apply(ctx, gated, free))
	require.NoError(t, o.WaitFor(wctx, free, podkit.Running), "the scheduler works meanwhile")

	p, err := podkit.Get[*objects.Pod](ctx, o, "default", "gated")
	require.NoError(t, err)
	assert.Empty(t, p.Spec.NodeName)
	c := objects.GetPodCondition(&p.Status, objects.PodScheduled)
	require.NotNil(t, c)
	assert.Equal(t, objects.PodReasonSchedulingGated, c.Reason)

	// One gate off, a selector term on: still gated.
	p.Spec.SchedulingGates = p.Spec.SchedulingGates[1:]
	p.Spec.NodeSelector = map[string]string{"pool": "batch"}
	require.NoError(t, o.Update(ctx, p))
	p, err = podkit.Get[*objects.Pod](ctx, o, "default", "gated")
	require.NoError(t, err)
	assert.Empty(t, p.Spec.NodeName)
	p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, objects.PodSchedulingGate{Name: "example.com/new"})
	require.ErrorContains(t, o.Update(ctx, p), "only deletion is allowed")

	// The last gate off: scheduled on n2, as its selector says.
	p, err = podkit.Get[*objects.Pod](ctx, o, "default", "gated")
	require.NoError(t, err)
	p.Spec.SchedulingGates = nil
	require.NoError(t, o.Update(ctx, p))
	require.NoError(t, o.WaitFor(wctx, p, podkit.Running))
	assert.Equal(t, "n2", p.Spec.NodeName)
	c = objects.GetPodCondition(&p.Status, objects.PodScheduled)
	require.NotNil(t, c)
	assert.Equal(t, objects.ConditionTrue, c.Status)
}
