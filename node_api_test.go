package podkit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

// podsByNode counts the active pods of app per node.
func podsByNode(t *testing.T, ctx context.Context, o *podkit.Orchestrator, app string) map[string]int {
	t.Helper()
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app="+app))
	require.NoError(t, err)
	out := map[string]int{}
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out[p.Spec.NodeName]++
		}
	}
	return out
}

func hasNodeTaint(n *objects.Node, key string, effect objects.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

// Cordon, Drain and Uncordon through a running orchestrator with
// fake-runtime nodes: a cordoned node gets no new pods; Drain refuses
// while a pod no controller manages runs there, evicts everything with
// Force and returns once the pods are gone, their Deployment replacing
// them on the other node; after Uncordon the node takes pods again.
func TestOrchestratorCordonDrainUncordon(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()

	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 4, "nginx:1.27")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	spread := podsByNode(t, ctx, o, "web")
	require.Positive(t, spread["n1"], "spread over both nodes: %v", spread)
	require.Positive(t, spread["n2"], "spread over both nodes: %v", spread)

	require.NoError(t, o.Cordon(ctx, "n1"))
	_, err := podkit.WaitUntil(wctx, o, "", "n1", func(n *objects.Node) bool {
		return n.Spec.Unschedulable && hasNodeTaint(n, objects.TaintNodeUnschedulable, objects.TaintEffectNoSchedule)
	})
	require.NoError(t, err, "cordoned and tainted")
	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 6, "nginx:1.27")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	cordoned := podsByNode(t, ctx, o, "web")
	require.Equal(t, map[string]int{"n1": spread["n1"], "n2": 6 - spread["n1"]}, cordoned, "the new pods avoid the cordoned node")

	// A bare pod on n1 blocks a drain without Force; nothing is evicted.
	bare := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "bare"},
		Spec: objects.PodSpec{NodeName: "n1", Containers: []objects.Container{{Name: "app", Image: "nginx:1.27"}}}}
	require.NoError(t, o.Apply(ctx, bare))
	require.NoError(t, o.WaitFor(wctx, bare, podkit.Running))
	err = o.Drain(ctx, "n1", reconcile.DrainOptions{})
	require.ErrorIs(t, err, reconcile.ErrDrainBlocked)
	require.ErrorContains(t, err, "default/bare")
	require.Equal(t, cordoned, podsByNode(t, ctx, o, "web"), "a blocked drain evicts nothing")

	require.NoError(t, o.Drain(ctx, "n1", reconcile.DrainOptions{Force: true}))
	onN1, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithField("spec.nodeName", "n1"))
	require.NoError(t, err)
	require.Empty(t, onN1, "Drain returns once the evicted pods are gone")
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.Equal(t, map[string]int{"n2": 6}, podsByNode(t, ctx, o, "web"), "replaced on n2")

	require.NoError(t, o.Uncordon(ctx, "n1"))
	_, err = podkit.WaitUntil(wctx, o, "", "n1", func(n *objects.Node) bool {
		return !n.Spec.Unschedulable && !hasNodeTaint(n, objects.TaintNodeUnschedulable, objects.TaintEffectNoSchedule)
	})
	require.NoError(t, err, "uncordoned and untainted")
	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 8, "nginx:1.27")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.Positive(t, podsByNode(t, ctx, o, "web")["n1"], "n1 takes pods again")

	for name, err := range map[string]error{
		"cordon":   o.Cordon(ctx, "nope"),
		"uncordon": o.Uncordon(ctx, "nope"),
		"drain":    o.Drain(ctx, "nope", reconcile.DrainOptions{}),
	} {
		require.ErrorIs(t, err, store.ErrNotFound, fmt.Sprintf("%s of a missing node", name))
	}
}
