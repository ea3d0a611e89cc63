package nodeagent_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// An agent runs the pods bound to its node on a runtime, here the fake one.
func Example() {
	s, _ := memdb.New()
	defer s.Close()
	rt, _ := fake.New()
	dir, _ := os.MkdirTemp("", "agent")
	defer os.RemoveAll(dir)

	agent, err := nodeagent.New(s, "n1", rt, nodeagent.WithRootDir(dir))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- agent.Run(ctx) }()

	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: objects.PodSpec{NodeName: "n1", Containers: []objects.Container{{Name: "app", Image: "nginx:1.27"}}}}
	s.Scheme().Default(pod)
	w, _ := s.Watch(ctx, store.WatchOptions{Kind: "Pod"})
	s.Update(ctx, func(tx store.Tx) error { return tx.Create(pod) })

	timeout := time.After(10 * time.Second)
	for ready := false; !ready; {
		select {
		case ev := <-w.Events():
			p := ev.Peek().(*objects.Pod)
			if ready = objects.IsPodReady(p); ready {
				fmt.Println(p.Status.Phase, p.Status.ContainerStatuses[0].Ready)
			}
		case <-timeout:
			fmt.Println("timed out")
			ready = true
		}
	}
	w.Stop()
	cancel()
	fmt.Println(<-done)
	// Output:
	// Running true
	// <nil>
}
