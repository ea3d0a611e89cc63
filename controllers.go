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

// Rollback returns a Deployment to the pod template of an earlier revision
// (0: the previous one), reusing that revision's ReplicaSet, like `kubectl
// rollout undo`.
func (o *Orchestrator) Rollback(ctx context.Context, key objects.Key, revision int64) error {
	return reconcile.Rollback(ctx, o.store, o.namespaced(key).Namespace, key.Name, revision)
}

// Pause stops a Deployment's rollouts until Resume, like `kubectl rollout
// pause`.
func (o *Orchestrator) Pause(ctx context.Context, key objects.Key) error {
	return reconcile.Pause(ctx, o.store, o.namespaced(key).Namespace, key.Name)
}

// Resume lets a paused Deployment roll out again.
func (o *Orchestrator) Resume(ctx context.Context, key objects.Key) error {
	return reconcile.Resume(ctx, o.store, o.namespaced(key).Namespace, key.Name)
}

// Restart rolls out a Deployment's pods again with an unchanged template,
// like `kubectl rollout restart`.
func (o *Orchestrator) Restart(ctx context.Context, key objects.Key) error {
	return reconcile.Restart(ctx, o.store, o.namespaced(key).Namespace, key.Name, o.clock.Now())
}

// RolloutHistory lists a Deployment's revisions, like `kubectl rollout
// history`.
func (o *Orchestrator) RolloutHistory(ctx context.Context, key objects.Key) ([]reconcile.Revision, error) {
	return reconcile.History(ctx, o.store, o.namespaced(key).Namespace, key.Name)
}

func (o *Orchestrator) namespaced(k objects.Key) objects.Key {
	if k.Namespace == "" {
		k.Namespace = DefaultNamespace
	}
	return k
}
