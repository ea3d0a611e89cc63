package podkit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

// runOrchestrator starts o.Run and stops it, waiting for it to return, when
// the test ends.
func runOrchestrator(t *testing.T, o *podkit.Orchestrator) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		assert.NoError(t, o.Run(ctx))
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ctx
}

func registerFakeNodes(t *testing.T, ctx context.Context, o *podkit.Orchestrator, n int) map[string]*fake.Runtime {
	t.Helper()
	rts := map[string]*fake.Runtime{}
	for i := range n {
		rt, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.88.%d.0/24", i)))
		require.NoError(t, err)
		name := fmt.Sprintf("n%d", i+1)
		node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{
				objects.ResourceCPU:    objects.MustParseQuantity("4"),
				objects.ResourceMemory: objects.MustParseQuantity("8Gi"),
			}}}
		require.NoError(t, o.RegisterNode(ctx, node, rt))
		rts[name] = rt
	}
	return rts
}

// A Deployment of 6 and a Service on 3 fake-runtime nodes: 6 pods Running
// and Ready, spread over the nodes, and the Service's endpoints list them.
func TestDeploymentOnFakeNodes(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 3)

	d := testDeployment("web", 6)
	d.Spec.Template.Spec.Containers[0].Ports = []objects.ContainerPort{{Name: "http", ContainerPort: 8080}}
	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports:    []objects.ServicePort{{Name: "http", Port: 80, TargetPort: objects.FromString("http")}},
	}}
	start := time.Now()
	require.NoError(t, o.Apply(ctx, d, svc))

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, o.WaitFor(wctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}, podkit.Available))
	t.Logf("6 replicas available after %v", time.Since(start))

	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	require.Len(t, pods, 6)
	perNode := map[string]int{}
	for _, p := range pods {
		assert.Equal(t, objects.PodRunning, p.Status.Phase, p.Name)
		assert.True(t, objects.IsPodReady(p), p.Name)
		assert.NotEmpty(t, p.Status.PodIP, p.Name)
		perNode[p.Spec.NodeName]++
	}
	assert.Len(t, perNode, 3, "pods spread over the three nodes: %v", perNode)

	require.NoError(t, o.WaitFor(wctx, &objects.Endpoints{ObjectMeta: objects.ObjectMeta{Name: "web"}}, func(obj objects.Object) bool {
		ep, ok := obj.(*objects.Endpoints)
		if !ok || len(ep.Subsets) != 1 {
			return false
		}
		return len(ep.Subsets[0].Addresses) == 6 && ep.Subsets[0].Ports[0].Port == 8080
	}), "the Service's endpoints are the 6 pods on their named port")
	assert.Eventually(t, func() bool {
		ss, err := podkit.List[*objects.EndpointSlice](ctx, o, "default", podkit.WithLabels(objects.LabelServiceName+"=web"))
		if err != nil || len(ss) != 1 || len(ss[0].Endpoints) != 6 || len(ss[0].Ports) != 1 || *ss[0].Ports[0].Port != 8080 {
			return false
		}
		for _, ep := range ss[0].Endpoints {
			if !*ep.Conditions.Ready {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "the Service's endpoint slice lists the 6 pods, ready, on their named port")
}
