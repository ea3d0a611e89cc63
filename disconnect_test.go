package podkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
)

// A node that vanishes (DisconnectNode) goes Unknown once its Lease
// expires, is tainted unreachable, and its pods are evicted and replaced
// on the other node while its containers keep running; when it comes back
// (ReconnectNode) it is Ready again, untainted, and its agent removes the
// containers of the pods evicted meanwhile, whose deletion then completes.
func TestDisconnectAndReconnectNode(t *testing.T) {
	o := newOrchestrator(t,
		podkit.WithNodeAgent(nodeagent.WithHeartbeat(100*time.Millisecond, 500*time.Millisecond)),
		podkit.WithControllers(reconcile.WithNodeLifecycle(reconcile.NodeLifecycleOptions{GracePeriod: time.Second, DefaultTolerationSeconds: 1})))
	ctx := runOrchestrator(t, o)
	rts := registerFakeNodes(t, ctx, o, 2)
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	running := func() int {
		cs, err := rts["n1"].ListContainers(ctx, runtime.Filter{})
		require.NoError(t, err)
		n := 0
		for _, c := range cs {
			if c.State == runtime.ContainerRunning {
				n++
			}
		}
		return n
	}

	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 4, "nginx:1.27")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	before := podsByNode(t, ctx, o, "web")["n1"]
	require.Positive(t, before, "spread over both nodes")

	require.ErrorContains(t, o.DisconnectNode(ctx, "n9"), "node n9 is not registered")
	require.NoError(t, o.DisconnectNode(ctx, "n1"))
	_, err := podkit.WaitUntil(wctx, o, "", "n1", func(n *objects.Node) bool {
		c := objects.GetNodeCondition(&n.Status, objects.NodeReady)
		return c != nil && c.Status == objects.ConditionUnknown && hasNodeTaint(n, objects.TaintNodeUnreachable, objects.TaintEffectNoExecute)
	})
	require.NoError(t, err, "n1 Unknown and tainted unreachable")
	require.Eventually(t, func() bool { return podsByNode(t, ctx, o, "web")["n2"] == 4 }, apiWaitTimeout, 10*time.Millisecond,
		"the Deployment's pods replaced on n2")
	require.Equal(t, before, running(), "the lost node's containers keep running")

	require.NoError(t, o.ReconnectNode(ctx, "n1"))
	_, err = podkit.WaitUntil(wctx, o, "", "n1", func(n *objects.Node) bool {
		c := objects.GetNodeCondition(&n.Status, objects.NodeReady)
		return c != nil && c.Status == objects.ConditionTrue && !hasNodeTaint(n, objects.TaintNodeUnreachable, objects.TaintEffectNoExecute)
	})
	require.NoError(t, err, "n1 Ready and untainted")
	require.Eventually(t, func() bool {
		pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"), podkit.WithField("spec.nodeName", "n1"))
		return err == nil && len(pods) == 0 && running() == 0
	}, apiWaitTimeout, 10*time.Millisecond, "the evicted pods gone from the store and from n1's runtime")
	require.NoError(t, o.ReconnectNode(ctx, "n1"), "a connected node is left as it is")
}
