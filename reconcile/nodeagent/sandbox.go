package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// A pod's sandboxes: listing them, the runtime handler of a new one, and
// bringing a pod with several Ready sandboxes back to one.

// observeSandboxes lists the pod's sandboxes again, after a change to
// them alone.
func (a *Agent) observeSandboxes(ctx context.Context, o *observed) error {
	sbs, err := a.rt.ListSandboxes(ctx, runtime.Filter{Labels: o.sel})
	if err != nil {
		return err
	}
	o.setSandboxes(sbs)
	return nil
}

func (o *observed) setSandboxes(sbs []runtime.SandboxStatus) {
	o.sandboxes, o.ready, o.current = sbs, nil, nil
	slices.SortStableFunc(o.sandboxes, func(x, y runtime.SandboxStatus) int {
		return byAttempt(x.Attempt, y.Attempt, x.CreatedAt, y.CreatedAt)
	})
	for i := len(o.sandboxes) - 1; i >= 0; i-- {
		if o.sandboxes[i].State == runtime.SandboxReady {
			o.ready = &o.sandboxes[i]
			break
		}
	}
	o.current = o.ready
	if o.current == nil && len(o.sandboxes) > 0 {
		o.current = &o.sandboxes[len(o.sandboxes)-1]
	}
}

// setRuntimeHandler sets cfg's runtime handler to that of pod's
// RuntimeClass, read when its sandbox is made, as the kubelet reads it: a
// class deleted since the pod was admitted fails the sandbox.
func (a *Agent) setRuntimeHandler(ctx context.Context, pod *objects.Pod, cfg *runtime.SandboxConfig) error {
	name := pod.Spec.RuntimeClassName
	if name == nil {
		return nil
	}
	return a.store.View(ctx, func(tx store.ReadTx) error {
		obj, err := tx.Get("RuntimeClass", objects.Key{Name: *name})
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("RuntimeClass %q not found", *name)
		}
		if err != nil {
			return err
		}
		cfg.RuntimeHandler = obj.(*objects.RuntimeClass).Handler
		return nil
	})
}

// readySandboxes counts obs's Ready sandboxes.
func readySandboxes(obs *observed) int {
	n := 0
	for i := range obs.sandboxes {
		if obs.sandboxes[i].State == runtime.SandboxReady {
			n++
		}
	}
	return n
}

// reconcileSandboxes brings a pod with more than one Ready sandbox back to
// one, and returns what the runtime then has of it. A process killed while
// it started a sandbox leaves one that the runtime may finish starting
// after the next process, finding it not ready, gave the pod another.
// Ready sandboxes holding none of the pod's containers are removed, and
// the one holding them (else the newest) stays the pod's. When its
// containers are in more than one, every sandbox is stopped so that the
// pod gets a new one, as the kubelet's computePodActions does for a pod
// with several Ready sandboxes.
func (a *Agent) reconcileSandboxes(ctx context.Context, pod *objects.Pod, st *podState, obs *observed) (*observed, error) {
	holds := map[string]bool{}
	for _, c := range obs.all {
		holds[c.SandboxID] = true
	}
	keep, holders := obs.ready, 0
	for i := range obs.sandboxes {
		if sb := &obs.sandboxes[i]; sb.State == runtime.SandboxReady && holds[sb.ID] {
			keep, holders = sb, holders+1
		}
	}
	if holders > 1 {
		a.log.Info("several ready sandboxes hold the pod's containers: making it a new one", "pod", pod.Namespace+"/"+pod.Name)
		if err := a.stopAll(ctx, pod, obs, 0, false); err != nil {
			return nil, err
		}
	} else {
		for _, sb := range obs.sandboxes {
			if sb.State == runtime.SandboxReady && sb.ID != keep.ID {
				a.log.Info("removing a ready sandbox the pod does not use", "pod", pod.Namespace+"/"+pod.Name, "sandbox", sb.ID)
				a.self.forget(sb.ID)
				if err := a.rt.RemoveSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					return nil, err
				}
			}
		}
	}
	return a.observe(ctx, pod, st, obs.sel)
}
