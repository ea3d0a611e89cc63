package nodeagent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// cluster is a store and a group of agents over fake runtimes.
type cluster struct {
	t     *testing.T
	store store.Store
	group *nodeagent.Group
	rts   map[string]*fake.Runtime
	rec   *recorder
}

func newCluster(t *testing.T, nodes int, opts ...nodeagent.Option) *cluster {
	t.Helper()
	s, err := memdb.New(memdb.WithScheme(objects.NewScheme()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &cluster{t: t, store: s, rts: map[string]*fake.Runtime{}, rec: &recorder{}}
	c.group, err = nodeagent.NewGroup(s, append([]nodeagent.Option{nodeagent.WithRootDir(t.TempDir())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: s}
	for i := range nodes {
		name := fmt.Sprintf("node-%d", i)
		e.createNode(name)
		c.addNode(name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.group.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Group.Run: %v", err)
		}
	})
	return c
}

func (c *cluster) addNode(name string) {
	c.t.Helper()
	rt, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.%d.0.0/16", 100+len(c.rts))))
	if err != nil {
		c.t.Fatal(err)
	}
	c.rts[name] = rt
	if err := c.group.Add(context.Background(), name, rt, nodeagent.WithEventRecorder(c.rec)); err != nil {
		c.t.Fatal(err)
	}
}

func TestGroupRunsPodsOnThreeNodes(t *testing.T) {
	c := newCluster(t, 3)
	start := time.Now()
	createPods(t, c.store, 60, func(i int, p *objects.Pod) { p.Spec.NodeName = fmt.Sprintf("node-%d", i%3) }) // bound as a scheduler would
	waitAllRunning(t, c.store, 60)
	t.Logf("60 pods on 3 nodes Running and Ready in %v", time.Since(start))
	for name, rt := range c.rts {
		if n := len(rt.Records(fake.OpStartContainer, fake.Match{})); n != 20 {
			t.Errorf("%s started %d containers, want 20", name, n)
		}
	}

	// Registering a node again replaces its agent, which adopts its pods.
	if err := c.group.Add(context.Background(), "node-0", c.rts["node-0"], nodeagent.WithEventRecorder(c.rec)); err != nil {
		t.Fatal(err)
	}
	touchAll(t, c.store, "node-0")
	// The new agent is at work once it restarts a container that died.
	if n := c.rts["node-0"].Kill(fake.Pod("default", "web-00"), 1); n != 1 {
		t.Fatalf("killed %d containers", n)
	}
	waitPodIn(t, c.store, "web-00", "restarted by the new agent", func(p *objects.Pod) bool {
		return running(p) && containerStatus(p, "app").RestartCount == 1
	}, c.rec)
	waitAllRunning(t, c.store, 60)
	if n := len(c.rts["node-0"].Records(fake.OpCreateContainer, fake.Match{})); n != 21 {
		t.Errorf("node-0 created %d containers after its agent was replaced, want the 20 it had and 1 restart", n)
	}

	// A node added while running gets its pods; a removed node's agent stops.
	e := &env{t: t, store: c.store}
	e.createNode("late")
	c.addNode("late")
	e.node = "late"
	e.create(e.pod("late-pod", "app"))
	waitPodIn(t, c.store, "late-pod", "running on a node added late", running, c.rec)
	if err := c.group.Remove(context.Background(), "late"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.group.Agent("late"); ok {
		t.Errorf("removed node still has an agent")
	}
}

// An agent that replaces another, or that comes back after its node was
// removed, takes over the node's pods from the group without any of them
// changing: it restarts their containers, removes nothing as an orphan and
// creates nothing twice.
func TestGroupAgentTakesOverItsNodesPods(t *testing.T) {
	c := newCluster(t, 2)
	createPods(t, c.store, 20, func(i int, p *objects.Pod) { p.Spec.NodeName = fmt.Sprintf("node-%d", i%2) })
	waitAllRunning(t, c.store, 20)

	if err := c.group.Add(context.Background(), "node-0", c.rts["node-0"], nodeagent.WithEventRecorder(c.rec)); err != nil {
		t.Fatal(err)
	}
	if err := c.group.Remove(context.Background(), "node-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.group.Add(context.Background(), "node-1", c.rts["node-1"], nodeagent.WithEventRecorder(c.rec)); err != nil {
		t.Fatal(err)
	}
	// Only an agent that has the pod restarts its container; one without
	// would remove it as an orphan.
	for i, name := range []string{"web-00", "web-01"} {
		node := fmt.Sprintf("node-%d", i)
		if n := c.rts[node].Kill(fake.Pod("default", name), 1); n != 1 {
			t.Fatalf("killed %d containers of %s", n, name)
		}
		waitPodIn(t, c.store, name, "restarted by the agent that took over", func(p *objects.Pod) bool {
			return running(p) && containerStatus(p, "app").RestartCount == 1
		}, c.rec)
	}
	waitAllRunning(t, c.store, 20)
	for node, rt := range c.rts {
		if n := len(rt.Records(fake.OpCreateContainer, fake.Match{})); n != 11 {
			t.Errorf("%s created %d containers, want its 10 pods' and 1 restart", node, n)
		}
		if n := len(rt.Records(fake.OpRemoveContainer, fake.Match{})) + len(rt.Records(fake.OpRemoveSandbox, fake.Match{})); n != 0 {
			t.Errorf("%s removed %d containers and sandboxes, want none", node, n)
		}
	}
}

// waitAllRunning waits until n pods are Running and Ready.
// createPods creates pods web-00, web-01… of one container in one
// transaction, each completed by set (with its index) before defaulting.
func createPods(t *testing.T, s store.Store, n int, set func(i int, p *objects.Pod)) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for i := range n {
			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("web-%02d", i), Namespace: "default"}}
			p.Spec.Containers = []objects.Container{{Name: "app", Image: "registry.local/web:1"}}
			set(i, p)
			s.Scheme().Default(p)
			if err := tx.Create(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func waitAllRunning(t *testing.T, s store.Store, n int) {
	t.Helper()
	var ready int
	ok := waitFor(waitTimeout, func() bool {
		ready = 0
		s.View(context.Background(), func(tx store.ReadTx) error {
			pods, err := tx.List("Pod", store.ListOptions{})
			for _, o := range pods {
				if running(o.(*objects.Pod)) {
					ready++
				}
			}
			return err
		})
		return ready >= n
	})
	if !ok {
		t.Fatalf("%d of %d pods Running and Ready after %v", ready, n, waitTimeout)
	}
}

// touchAll updates the annotations of every pod bound to node.
func touchAll(t *testing.T, s store.Store, node string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		pods, err := tx.List("Pod", store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}})
		if err != nil {
			return err
		}
		for _, o := range pods {
			p := o.(*objects.Pod)
			p.Annotations = map[string]string{"touched": "yes"}
			if err := tx.Update(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
