package podkit

import (
	"context"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
)

// RegisterController adds a controller — for a built-in kind or a kind the
// host registered in the scheme — to the ones Run starts. Register
// controllers before calling Run.
func (o *Orchestrator) RegisterController(c reconcile.Controller) error { return o.ctrl.Add(c) }

// RegisterRunnable adds a long-running part of the host's own that Run
// starts and stops with the controllers.
func (o *Orchestrator) RegisterRunnable(r reconcile.Runnable) error { return o.ctrl.AddRunnable(r) }

// ControllerClient returns the client controllers read and write through:
// reads come from the shared caches and see the client's own writes.
func (o *Orchestrator) ControllerClient() *reconcile.Client { return o.ctrl.Client() }

// Rollback returns a workload to the pod template of an earlier revision
// (0: the previous one), like `kubectl rollout undo`: a Deployment reuses
// that revision's ReplicaSet (and is refused while paused, with
// reconcile.ErrPaused); a DaemonSet or StatefulSet gets the template its
// ControllerRevision holds. Rolling back to the current template changes
// nothing.
//
// Rollback, RolloutHistory, Restart, Pause and Resume act on the
// Deployment, DaemonSet or StatefulSet of kind (KindDeployment,
// KindDaemonSet, KindStatefulSet) and key (in the default namespace when
// key names none), as `kubectl rollout` does on TYPE/NAME:
//
//	err := o.Rollback(ctx, podkit.KindDaemonSet, objects.Key{Name: "agent"}, 0) // kubectl rollout undo daemonset/agent
//
// Another kind is an error wrapping reconcile.ErrNotSupported, and so are
// Pause and Resume of anything but a Deployment; a missing workload or
// revision is one wrapping store.ErrNotFound.
func (o *Orchestrator) Rollback(ctx context.Context, kind string, key objects.Key, revision int64) error {
	return reconcile.Rollback(ctx, o.store, kind, o.namespaced(key), revision)
}

// Pause stops a Deployment's rollouts until Resume, like `kubectl rollout
// pause`; other kinds cannot be paused (see Rollback).
func (o *Orchestrator) Pause(ctx context.Context, kind string, key objects.Key) error {
	return reconcile.Pause(ctx, o.store, kind, o.namespaced(key))
}

// Resume lets a paused Deployment roll out again, like `kubectl rollout
// resume`.
func (o *Orchestrator) Resume(ctx context.Context, kind string, key objects.Key) error {
	return reconcile.Resume(ctx, o.store, kind, o.namespaced(key))
}

// Restart rolls out a workload's pods again with an unchanged template,
// like `kubectl rollout restart`.
func (o *Orchestrator) Restart(ctx context.Context, kind string, key objects.Key) error {
	return reconcile.Restart(ctx, o.store, kind, o.namespaced(key), o.clock.Now())
}

// RolloutHistory lists a workload's revisions kept, oldest first, like
// `kubectl rollout history`.
func (o *Orchestrator) RolloutHistory(ctx context.Context, kind string, key objects.Key) ([]reconcile.Revision, error) {
	return reconcile.History(ctx, o.store, kind, o.namespaced(key))
}

func (o *Orchestrator) namespaced(k objects.Key) objects.Key {
	if k.Namespace == "" {
		k.Namespace = DefaultNamespace
	}
	return k
}
