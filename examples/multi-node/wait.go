package main

import (
	"context"
	"fmt"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/objects"
)

// waitPods blocks until cond holds for the pods in default matching
// selector, or ctx ends. It lists again after every change to a pod.
func waitPods(ctx context.Context, o *podkit.Orchestrator, selector string, cond func([]*objects.Pod) bool) error {
	return waitList(ctx, o, podkit.KindPod, func() (bool, string, error) {
		ps, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels(selector))
		if err != nil {
			return false, "", err
		}
		seen := ""
		for _, p := range ps {
			seen += fmt.Sprintf(" %s(%s on %s)", p.Name, kubectl.PodStatus(p), p.Spec.NodeName)
		}
		return cond(ps), "pods:" + seen, nil
	})
}

// waitNodes blocks until cond holds for the nodes, or ctx ends.
func waitNodes(ctx context.Context, o *podkit.Orchestrator, cond func([]*objects.Node) bool) error {
	return waitList(ctx, o, podkit.KindNode, func() (bool, string, error) {
		ns, err := podkit.List[*objects.Node](ctx, o, "")
		if err != nil {
			return false, "", err
		}
		seen := ""
		for _, n := range ns {
			seen += fmt.Sprintf(" %s(%s, %d taints)", n.Name, nodeStatus(n), len(n.Spec.Taints))
		}
		return cond(ns), "nodes:" + seen, nil
	})
}

// waitList checks check once, then again after each change to kind, until
// it holds or ctx ends; the error then says what was seen last. The watch
// starts before the first check, so no change between the two is missed.
func waitList(ctx context.Context, o *podkit.Orchestrator, kind string, check func() (bool, string, error)) error {
	w, err := o.Watch(ctx, kind)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		ok, seen, err := check()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last seen %s", ctx.Err(), seen)
		case _, open := <-w.Events():
			if !open {
				if ctx.Err() != nil {
					return fmt.Errorf("%w; last seen %s", ctx.Err(), seen)
				}
				// Fell behind: watch again; the next check lists afresh.
				w.Stop()
				if w, err = o.Watch(ctx, kind); err != nil {
					return err
				}
			}
		}
	}
}
