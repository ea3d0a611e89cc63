package podkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// RegisterNode stores node (creating it, or updating the spec, labels and
// status of a node of that name) and makes rt the runtime its pods run on.
// Allocatable defaults to capacity, the pod capacity to 110 and the
// kubernetes.io/hostname label to the node's name, as on a Kubernetes node. Registering a node again replaces its runtime.
func (o *Orchestrator) RegisterNode(ctx context.Context, node *objects.Node, rt runtime.Runtime) error {
	if node == nil {
		return errors.New("RegisterNode: node is nil")
	}
	if rt == nil {
		return fmt.Errorf("RegisterNode %s: runtime is nil", node.Name)
	}
	n := node.DeepCopy()
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if _, ok := n.Labels[objects.LabelHostname]; !ok {
		n.Labels[objects.LabelHostname] = n.Name // as the kubelet labels its node
	}
	if n.Status.Capacity == nil {
		n.Status.Capacity = objects.ResourceList{}
	}
	if _, ok := n.Status.Capacity[objects.ResourcePods]; !ok {
		n.Status.Capacity[objects.ResourcePods] = objects.MustParseQuantity("110")
	}
	if n.Status.Allocatable == nil {
		n.Status.Allocatable = objects.ResourceList{}
		for k, v := range n.Status.Capacity {
			n.Status.Allocatable[k] = v
		}
	}
	err := o.store.Update(ctx, func(tx store.Tx) error {
		old, err := tx.Get(KindNode, objects.Key{Name: n.Name})
		switch {
		case errors.Is(err, store.ErrNotFound):
			if _, err := o.admit(tx, n, nil); err != nil {
				return err
			}
			status := n.Status
			if err := tx.Create(n); err != nil {
				return err
			}
			n.Status = status
		case err != nil:
			return err
		default:
			n.UID, n.ResourceVersion = old.GetObjectMeta().UID, ""
			if _, err := o.admit(tx, n, old); err != nil {
				return err
			}
			status := n.Status
			if err := tx.Update(n); err != nil {
				return err
			}
			n.Status = status
		}
		return tx.UpdateStatus(n)
	})
	if err != nil {
		return err
	}
	o.nodesMu.Lock()
	o.nodes[n.Name] = rt
	o.nodesMu.Unlock()
	*node = *n
	return nil
}

// RemoveNode forgets a node's runtime and deletes the Node object. The pods
// bound to it stay, as on a Kubernetes node that is deleted, for their
// controllers and the garbage collector to handle.
func (o *Orchestrator) RemoveNode(ctx context.Context, name string) error {
	o.nodesMu.Lock()
	delete(o.nodes, name)
	o.nodesMu.Unlock()
	return o.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Delete(KindNode, objects.Key{Name: name}, store.DeleteOptions{})
		return err
	})
}

// NodeRuntime returns the runtime registered for a node.
func (o *Orchestrator) NodeRuntime(name string) (runtime.Runtime, bool) {
	o.nodesMu.Lock()
	defer o.nodesMu.Unlock()
	rt, ok := o.nodes[name]
	return rt, ok
}
