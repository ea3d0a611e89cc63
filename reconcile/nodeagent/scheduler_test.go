package nodeagent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/scheduler"
	"github.com/podkit/podkit/store"
)

// The done-when: memdb, the scheduler and fake runtimes on 3
// nodes; 60 pods all Running and Ready, spread over the nodes.
func TestSixtyPodsOnThreeNodesWithTheScheduler(t *testing.T) {
	c := newCluster(t, 3)
	sched, err := scheduler.New(c.store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
	for i := range 3 {
		name := fmt.Sprintf("node-%d", i)
		if !waitFor(waitTimeout, func() bool { return nodeReady(t, c.store, name) == objects.ConditionTrue }) {
			t.Fatalf("%s never Ready", name)
		}
	}

	start := time.Now()
	createPods(t, c.store, 60, func(_ int, p *objects.Pod) {
		p.Labels = map[string]string{"app": "web"}
		p.Spec.Containers[0].Resources.Requests = objects.ResourceList{"cpu": objects.MustParseQuantity("100m")}
	})
	waitAllRunning(t, c.store, 60)
	t.Logf("60 pods scheduled on 3 nodes and Running and Ready in %v", time.Since(start))

	perNode := map[string]int{}
	c.store.View(context.Background(), func(tx store.ReadTx) error {
		pods, err := tx.List("Pod", store.ListOptions{})
		for _, o := range pods {
			perNode[o.(*objects.Pod).Spec.NodeName]++
		}
		return err
	})
	for i := range 3 {
		if n := perNode[fmt.Sprintf("node-%d", i)]; n < 10 {
			t.Errorf("pods per node %v: not spread", perNode)
			break
		}
	}
}
