package exampleutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Delete deletes objs in reverse order (dependents before what they
// depend on, when objs came in apply order), printing each as `kubectl
// delete` does (deployment.apps "web" deleted). Objects already gone are
// skipped. Their pods are deleted by the garbage collector in the
// background: see WaitGone.
func Delete(ctx context.Context, out io.Writer, o *podkit.Orchestrator, objs ...objects.Object) error {
	var errs []error
	for _, obj := range slices.Backward(objs) {
		if _, err := o.Scheme().SetTypeMeta(obj); err != nil {
			errs = append(errs, err)
			continue
		}
		err := o.Delete(ctx, obj)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			errs = append(errs, fmt.Errorf("deleting %s: %w", Ref(obj), err))
		default:
			fmt.Fprintf(out, "%s %q deleted\n", resource(obj), obj.GetObjectMeta().Name)
		}
	}
	return errors.Join(errs...)
}

// resource is the kind as kubectl names it in messages: deployment.apps,
// service, ingress.networking.k8s.io.
func resource(obj objects.Object) string {
	tm := obj.GetTypeMeta()
	r := strings.ToLower(tm.Kind)
	if group, _, ok := strings.Cut(tm.APIVersion, "/"); ok {
		r += "." + group
	}
	return r
}

// WaitGone waits until namespace holds no pods and c's runtime holds no
// sandbox or container of a pod of namespace on c's nodes (see
// Leftovers). The error lists what is left when ctx ends first.
func WaitGone(ctx context.Context, c *cluster.Cluster, namespace string) error {
	if err := WaitPods(ctx, c.Orchestrator, namespace, "", func(ps []*objects.Pod) bool { return len(ps) == 0 }); err != nil {
		return fmt.Errorf("pods left in namespace %s: %w", namespace, err)
	}
	// The runtime tells of no change: ask it again until it holds nothing.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		left, err := Leftovers(ctx, c, namespace)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("left in the %s runtime: %s: %w", c.RuntimeName, strings.Join(left, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}

// Leftovers lists the sandboxes and containers c's runtime holds for pods
// of namespace on c's nodes, found by the labels podkit's node agents put
// on them (runtime.LabelNode, runtime.LabelPodNamespace).
func Leftovers(ctx context.Context, c *cluster.Cluster, namespace string) ([]string, error) {
	return c.Leftovers(ctx, namespace)
}

// PrintApplied prints a line per applied object, as `kubectl apply` names
// them: deployment.apps/web applied.
func PrintApplied(out io.Writer, objs ...objects.Object) {
	for _, obj := range objs {
		fmt.Fprintf(out, "%s/%s applied\n", resource(obj), obj.GetObjectMeta().Name)
	}
}
