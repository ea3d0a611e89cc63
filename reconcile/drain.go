package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
// a pod Evict (and so Drain) evicts, as Kubernetes' eviction API writes it.
const ReasonEvictionByDrain = "EvictionByEvictionAPI"

// DrainRetryInterval is how long Drain waits before it asks again to
// evict a pod whose disruption budget refused it, as kubectl drain does.
const DrainRetryInterval = 5 * time.Second

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
	// Clock stamps the pods' DisruptionTarget condition and times the
	// retries of evictions a disruption budget refused (default the real
	// clock).
	Clock clockwork.Clock
	// OnEvictionRefused, when set, is called each time a pod's disruption
	// budget refuses its eviction (err wraps ErrDisruptionBudget), once
	// Drain has set the timer of its retry DrainRetryInterval later; kubectl
	// drain prints "error when evicting pods/... (will retry after 5s)"
	// there. It is called from Drain's goroutine.
	OnEvictionRefused func(pod objects.Key, err error)
}

// Drain cordons the node, evicts its pods through the eviction API (see
// Evict: each is marked with the DisruptionTarget condition and deleted
// with its grace period, so its node agent stops it and its controller
// replaces it elsewhere, unless its PodDisruptionBudget refuses) and waits
// until they are gone or ctx ends. Finished pods are deleted, DaemonSet
// and mirror pods left alone. Pods that need Force or DeleteEmptyDirData
// make Drain fail, after cordoning, with an error wrapping
// ErrDrainBlocked that lists them, and nothing is evicted; a missing node
// is an error wrapping store.ErrNotFound.
//
// As kubectl drain, Drain asks for every pod's eviction, each in its own
// transaction, and asks again, every DrainRetryInterval on opts.Clock, for
// those a disruption budget refused, until each is evicted (typically once its controller's
// replacement is ready on another node) or ctx ends: then the error names
// each pod still refused and its budget, and wraps both
// ErrDisruptionBudget and ctx's error. Another failure to evict a pod
// (ErrMultipleDisruptionBudgets, say) is returned for that pod once the
// others are done with.
func Drain(ctx context.Context, s store.Store, node string, opts DrainOptions) error {
	if err := Cordon(ctx, s, node); err != nil {
		return err
	}
	clk := opts.Clock
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	victims, err := drainVictims(ctx, s, node, opts)
	if err != nil {
		return err
	}
	evicted := map[string]bool{}
	var failed []error
	for len(victims) > 0 {
		var refused []*objects.Pod
		var refusals []error
		for _, p := range victims {
			err := s.Update(ctx, func(tx store.Tx) error {
				return evict(tx, p.Key(), p.UID, opts.GracePeriodSeconds, clk.Now())
			})
			switch {
			case err == nil:
				evicted[p.UID] = true
			case errors.Is(err, store.ErrNotFound):
				// Gone already.
			case errors.Is(err, ErrDisruptionBudget):
				refused, refusals = append(refused, p), append(refusals, err)
			case ctx.Err() != nil:
				return fmt.Errorf("drain node %s: %w", node, err)
			default:
				failed = append(failed, fmt.Errorf("drain node %s: evict pod %s: %w", node, p.Key(), err))
			}
		}
		if len(refused) == 0 {
			break
		}
		retry := clk.NewTimer(DrainRetryInterval)
		if opts.OnEvictionRefused != nil {
			for i, p := range refused {
				opts.OnEvictionRefused(p.Key(), refusals[i])
			}
		}
		select {
		case <-retry.Chan():
			victims = refused
		case <-ctx.Done():
			retry.Stop()
			for i, p := range refused {
				failed = append(failed, fmt.Errorf("drain node %s: gave up evicting pod %s: %w: %w", node, p.Key(), refusals[i], ctx.Err()))
			}
			return errors.Join(failed...)
		}
	}
	if err := waitPodsGone(ctx, s, node, evicted); err != nil {
		failed = append(failed, err)
	}
	return errors.Join(failed...)
}

// drainVictims returns the pods Drain evicts from node, or an error
// wrapping ErrDrainBlocked naming the pods that need an option.
func drainVictims(ctx context.Context, s store.Store, node string, opts DrainOptions) ([]*objects.Pod, error) {
	var victims []*objects.Pod
	err := s.View(ctx, func(tx store.ReadTx) error {
		objs, err := tx.List(kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}})
		if err != nil {
			return err
		}
		var unmanaged, local []string
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
		return nil
	})
	return victims, err
}

// waitPodsGone waits until none of the pods with the given uids is bound
// to node any more.
func waitPodsGone(ctx context.Context, s store.Store, node string, uids map[string]bool) error {
	if len(uids) == 0 {
		return nil
	}
	opts := store.ListOptions{Fields: map[string]string{store.IndexNodeName: node}}
	for {
		left := 0
		var rev int64
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
