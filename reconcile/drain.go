package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Node maintenance, as kubectl cordon, uncordon and drain perform it: plain
// functions over a store that an orchestrator exposes as methods. The node
// lifecycle controller adds and removes the
// node.kubernetes.io/unschedulable taint that goes with a cordon.

// ErrDrainBlocked is wrapped by Drain when pods on the node may not be
// evicted without an option (DrainOptions.Force, DeleteEmptyDirData).
var ErrDrainBlocked = errors.New("cannot drain node")

// mirrorPodAnnotation marks the API copy of a static pod, which kubectl
// drain leaves alone.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

// ReasonEvictionByDrain is the reason of the DisruptionTarget condition of
// a pod Drain evicts (Kubernetes' eviction API writes the same).
const ReasonEvictionByDrain = "EvictionByEvictionAPI"

// Cordon marks the node unschedulable: the scheduler places no new pod
// there (except those tolerating node.kubernetes.io/unschedulable, such as
// DaemonSet pods); its pods keep running. It fails with an error wrapping
// store.ErrNotFound when the node does not exist.
func Cordon(ctx context.Context, s store.Store, node string) error {
	return setUnschedulable(ctx, s, node, true)
}

// Uncordon makes the node schedulable again.
func Uncordon(ctx context.Context, s store.Store, node string) error {
	return setUnschedulable(ctx, s, node, false)
}

func setUnschedulable(ctx context.Context, s store.Store, node string, v bool) error {
	return s.Update(ctx, func(tx store.Tx) error {
		o, err := tx.Get(kindNode, objects.Key{Name: node})
		if err != nil {
			return fmt.Errorf("node %q: %w", node, err)
		}
		n := o.(*objects.Node)
		if n.Spec.Unschedulable == v {
			return nil
		}
		n.Spec.Unschedulable = v
		return tx.Update(n)
	})
}

// DrainOptions tune Drain, as kubectl drain's flags do. DaemonSet pods are
// always left in place (kubectl's --ignore-daemonsets): their controller
// would only start them again, and they tolerate the cordon.
type DrainOptions struct {
	// GracePeriodSeconds overrides each pod's
	// terminationGracePeriodSeconds (kubectl --grace-period); nil keeps
	// the pods' own.
	GracePeriodSeconds *int64
	// Force evicts pods that no controller manages, which nothing
	// recreates (kubectl --force). Without it Drain evicts nothing while
	// such a pod runs on the node.
	Force bool
	// DeleteEmptyDirData evicts pods with emptyDir volumes, whose data is
	// lost (kubectl --delete-emptydir-data). Without it Drain evicts
	// nothing while such a pod runs on the node.
	DeleteEmptyDirData bool
	// Clock stamps the pods' DisruptionTarget condition (default the real
	// clock).
	Clock clockwork.Clock
}

// Drain cordons the node, evicts its pods gracefully (each is marked with
// the DisruptionTarget condition and deleted with its grace period, so its
// node agent stops it and its controller replaces it elsewhere) and waits
// until they are gone or ctx ends. Finished pods are deleted, DaemonSet
// and mirror pods left alone. Pods that need Force or DeleteEmptyDirData
// make Drain fail, after cordoning, with an error wrapping
// ErrDrainBlocked that lists them, and nothing is evicted; a missing node
// is an error wrapping store.ErrNotFound.
func Drain(ctx context.Context, s store.Store, node string, opts DrainOptions) error {
	if err := Cordon(ctx, s, node); err != nil {
		return err
	}
	clk := opts.Clock
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	var (
		evicted map[string]bool
		rev     int64
	)
	err := s.Update(ctx, func(tx store.Tx) error {
		objs, err := tx.List(kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}})
		if err != nil {
			return err
		}
		var unmanaged, local []string
		var victims []*objects.Pod
		for _, o := range objs {
			p := o.(*objects.Pod)
			name := p.Namespace + "/" + p.Name
			ref := p.ControllerRef()
			switch {
			case p.Annotations[mirrorPodAnnotation] != "":
				continue
			case p.IsTerminal():
			case ref != nil && ref.Kind == kindDaemonSet:
				continue
			case ref == nil && !opts.Force:
				unmanaged = append(unmanaged, name)
				continue
			case !opts.DeleteEmptyDirData && slices.ContainsFunc(p.Spec.Volumes, func(v objects.Volume) bool { return v.EmptyDir != nil }):
				local = append(local, name)
				continue
			}
			victims = append(victims, p)
		}
		var msgs []string
		if len(unmanaged) > 0 {
			msgs = append(msgs, "cannot delete Pods that declare no controller (use DrainOptions.Force to override): "+strings.Join(unmanaged, ", "))
		}
		if len(local) > 0 {
			msgs = append(msgs, "cannot delete Pods with local storage (use DrainOptions.DeleteEmptyDirData to override): "+strings.Join(local, ", "))
		}
		if len(msgs) > 0 {
			return fmt.Errorf("%w %s: %s", ErrDrainBlocked, node, strings.Join(msgs, "; "))
		}
		evicted = map[string]bool{}
		now := clk.Now()
		for _, p := range victims {
			grace := opts.GracePeriodSeconds
			if grace == nil {
				g := p.DeletionGracePeriod()
				grace = &g
			}
			if err := evictPod(tx, p, ReasonEvictionByDrain, "Eviction API: evicting", grace, now); err != nil {
				return err
			}
			evicted[p.UID] = true
		}
		rev = tx.Revision()
		return nil
	})
	if err != nil {
		return err
	}
	return waitPodsGone(ctx, s, node, evicted, rev)
}

// waitPodsGone waits until none of the pods with the given uids is bound
// to node any more.
func waitPodsGone(ctx context.Context, s store.Store, node string, uids map[string]bool, rev int64) error {
	if len(uids) == 0 {
		return nil
	}
	opts := store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}}
	for {
		left := 0
		err := s.View(ctx, func(tx store.ReadTx) error {
			objs, err := tx.List(kindPod, opts)
			for _, o := range objs {
				if uids[o.GetObjectMeta().UID] {
					left++
				}
			}
			rev = tx.Revision()
			return err
		})
		if err != nil || left == 0 {
			return err
		}
		w, err := s.Watch(ctx, store.WatchOptions{Kind: kindPod, ListOptions: opts, Revision: rev})
		if err != nil {
			return err
		}
		for left > 0 {
			ev, ok := <-w.Events()
			if !ok {
				break // fell behind or ended: look again
			}
			if ev.Type == store.Deleted && uids[ev.Peek().GetObjectMeta().UID] {
				left--
			}
		}
		w.Stop()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("drain node %s: %d pods still terminating: %w", node, left, err)
		}
	}
}
