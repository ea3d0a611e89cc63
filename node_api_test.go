package podkit_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
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

// budgetAllows waits until the budget's status, computed for its
// generation, counts healthy pods and allows that many disruptions.
func budgetAllows(t *testing.T, ctx context.Context, o *podkit.Orchestrator, name string, healthy, allowed int32) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	var seen objects.PodDisruptionBudgetStatus
	_, err := podkit.WaitUntil(wctx, o, "default", name, func(b *objects.PodDisruptionBudget) bool {
		if b == nil {
			return false
		}
		seen = b.Status
		return b.Status.ObservedGeneration == b.Generation && b.Status.CurrentHealthy == healthy && b.Status.DisruptionsAllowed == allowed
	})
	require.NoError(t, err, "budget %s: last seen %+v", name, seen)
}

// Evict and Drain through a running orchestrator with fake-runtime nodes
// and a PodDisruptionBudget over a Deployment of 2 on n1: while the budget
// allows nothing, Evict is refused and Drain gives up when its context
// ends, naming the pods and the budget; with a budget of one, Drain evicts
// one pod, retries the other every 5 seconds (here on a fake clock) until
// the first one's replacement is ready on n2, and returns once both are
// gone from n1.
func TestOrchestratorEvictAndDrainWithBudget(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	require.NoError(t, o.Cordon(ctx, "n2"))
	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 2, "nginx:1.27")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.Equal(t, map[string]int{"n1": 2}, podsByNode(t, ctx, o, "web"))
	require.NoError(t, o.Uncordon(ctx, "n2"))

	minAvailable := func(n int32) *objects.IntOrString { v := objects.FromInt32(n); return &v }
	pdb := &objects.PodDisruptionBudget{ObjectMeta: objects.ObjectMeta{Name: "web"},
		Spec: objects.PodDisruptionBudgetSpec{MinAvailable: minAvailable(2),
			Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	require.NoError(t, o.Apply(ctx, pdb))
	budgetAllows(t, ctx, o, "web", 2, 0)

	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	require.Len(t, pods, 2)
	err = o.Evict(ctx, objects.Key{Name: pods[0].Name})
	require.ErrorIs(t, err, reconcile.ErrDisruptionBudget)
	var be *reconcile.DisruptionBudgetError
	require.True(t, errors.As(err, &be))
	require.Equal(t, "web", be.Budget.Name)
	require.ErrorContains(t, err, "Cannot evict pod as it would violate the pod's disruption budget.")

	dctx, cancel := context.WithCancel(ctx)
	err = o.Drain(dctx, "n1", reconcile.DrainOptions{OnEvictionRefused: func(objects.Key, error) { cancel() }})
	cancel()
	require.ErrorIs(t, err, reconcile.ErrDisruptionBudget)
	require.ErrorIs(t, err, context.Canceled)
	for _, p := range pods {
		require.ErrorContains(t, err, "gave up evicting pod default/"+p.Name)
	}
	require.ErrorContains(t, err, "The disruption budget web needs 2 healthy pods and has 2 currently")
	require.Equal(t, map[string]int{"n1": 2}, podsByNode(t, ctx, o, "web"), "nothing evicted")

	pdb.Spec.MinAvailable = minAvailable(1)
	require.NoError(t, o.Apply(ctx, pdb))
	budgetAllows(t, ctx, o, "web", 2, 1)

	clk := clockwork.NewFakeClockAt(time.Now())
	refused := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() {
		done <- o.Drain(ctx, "n1", reconcile.DrainOptions{Clock: clk,
			OnEvictionRefused: func(objects.Key, error) { refused <- struct{}{} }})
	}()
	retried := false
	for finished := false; !finished; {
		select {
		case <-refused:
			retried = true
			budgetAllows(t, ctx, o, "web", 2, 1) // the replacement is ready on n2
			clk.Advance(reconcile.DrainRetryInterval)
		case err := <-done:
			require.NoError(t, err)
			finished = true
		case <-time.After(apiWaitTimeout):
			t.Fatalf("drain neither finished nor was refused: %v", podsByNode(t, ctx, o, "web"))
		}
	}
	require.True(t, retried, "the second eviction waited for the budget")
	onN1, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithField("spec.nodeName", "n1"))
	require.NoError(t, err)
	require.Empty(t, onN1, "Drain returns once the evicted pods are gone")
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.Equal(t, map[string]int{"n2": 2}, podsByNode(t, ctx, o, "web"))

	budgetAllows(t, ctx, o, "web", 2, 1)
	pods, err = podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	require.NoError(t, o.Evict(ctx, objects.Key{Name: pods[0].Name}), "a budget of one lets one go")
	require.ErrorIs(t, o.Evict(ctx, objects.Key{Name: "nope"}), store.ErrNotFound)
}

// A registered node has the labels the kubelet gives its node, so that a
// pod selecting them, as many charts' pods do, is scheduled there.
func TestRegisterNodeLabels(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 1)
	n, err := podkit.Get[*objects.Node](ctx, o, "", "n1")
	require.NoError(t, err)
	require.Equal(t, "n1", n.Labels[objects.LabelHostname])
	require.Equal(t, "linux", n.Labels[objects.LabelOS])
	require.Equal(t, goruntime.GOARCH, n.Labels[objects.LabelArch])

	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "picky"}, Spec: objects.PodSpec{
		NodeSelector: map[string]string{objects.LabelOS: "linux", objects.LabelArch: goruntime.GOARCH},
		Containers:   []objects.Container{{Name: "app", Image: "nginx:1.27"}}}}
	require.NoError(t, o.Create(ctx, p))
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	require.NoError(t, o.WaitFor(wctx, p, podkit.Running))
}
