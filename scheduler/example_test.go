package scheduler_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/scheduler"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// The scheduler binds pending pods of the store to its nodes until its
// context ends.
func Example() {
	st, _ := memdb.New()
	defer st.Close()
	ctx := context.Background()
	_ = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(&objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"},
			Status: objects.NodeStatus{Allocatable: objects.ResourceList{"cpu": objects.MustParseQuantity("4"), "pods": objects.MustParseQuantity("110")}}}); err != nil {
			return err
		}
		return tx.Create(&objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web-1"},
			Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "web:1"}}}})
	})

	s, err := scheduler.New(st, scheduler.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Watch the pod from the store's current revision on: its binding is
	// a change after it.
	w, err := st.Watch(ctx, store.WatchOptions{Kind: "Pod"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for ev := range w.Events() {
		if p := ev.Object().(*objects.Pod); p.Spec.NodeName != "" {
			fmt.Println("bound to", p.Spec.NodeName)
			break
		}
	}
	cancel()
	<-done
	// Output: bound to n1
}

// gpuNodes keeps pods asking for a GPU off nodes without one. It reads the
// pod's annotations and the Node object only: LocalityNodeObject lets the
// scheduler ask it once per group of identical pods and node, and
// PodKey tells it which pods differ for this plugin.
type gpuNodes struct{}

func (gpuNodes) Name() string { return "GPUNodes" }

func (gpuNodes) Locality() scheduler.Locality { return scheduler.LocalityNodeObject }

func (gpuNodes) PodKey(p *scheduler.PodInfo) string { return p.Pod().Annotations["example.com/gpu"] }

func (gpuNodes) Filter(_ any, p *scheduler.PodInfo, n *scheduler.NodeInfo) *scheduler.Status {
	if p.Pod().Annotations["example.com/gpu"] == "true" && n.Labels()["example.com/gpu"] == "" {
		return scheduler.NewStatus(scheduler.UnschedulableAndUnresolvable, "node(s) had no GPU")
	}
	return nil
}

// A host adds its own filter after Kubernetes' default plugins; a node it
// rejects is counted in the pod's message under its reason.
func ExampleWithPlugins() {
	st, _ := memdb.New()
	defer st.Close()
	s, err := scheduler.New(st, scheduler.WithPlugins(gpuNodes{}))
	fmt.Println(s != nil, err)
	// Output: true <nil>
}

// A profile chooses the plugins, their order and weights: here bin packing,
// and the host's plugin ahead of the others.
func ExampleWithProfile() {
	p := scheduler.BinPackingProfile()
	p.Plugins = append([]scheduler.WeightedPlugin{{Plugin: gpuNodes{}}}, p.Plugins...)
	p.PercentageOfNodesToScore = 20
	st, _ := memdb.New()
	defer st.Close()
	_, err := scheduler.New(st, scheduler.WithProfile(p))
	fmt.Println(err)
	// Output: <nil>
}
