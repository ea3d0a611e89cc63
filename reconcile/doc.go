// Package reconcile runs podkit's controllers: level-based loops that read
// the objects in a store and write what converges them towards their
// specs. The built-in ones keep ReplicaSets' and ReplicationControllers'
// pods, roll Deployments out, run StatefulSets, DaemonSets, Jobs and
// CronJobs, watch node leases and evict from unreachable nodes, autoscale
// (HorizontalPodAutoscaler), keep PodDisruptionBudgets' status, give every namespace its default
// ServiceAccount, aggregate ClusterRoles (ClusterRoleAggregationController),
// keep ResourceQuotas' status.used (ResourceQuotaController:
// recomputed from what exists when objects go or finish, when a quota
// changes, and every five minutes), bind, provision and clone volumes, and
// collect garbage (owner references and namespace deletion); a host
// program adds its own, for built-in kinds or kinds of its own registered
// in the store's scheme, through the same API.
//
// # Engine
//
// A Manager runs controllers over one store:
//
//	m, err := reconcile.NewManager(st, reconcile.WithLogger(log), reconcile.WithClock(clk),
//		reconcile.WithEventRecorder(rec))
//	err = reconcile.AddBuiltins(m)          // every built-in controller
//	err = m.Add(reconcile.Controller{
//		Name: "widget", For: "Widget", Owns: []string{"Pod"},
//		Reconciler: &widgetReconciler{c: m.Client()},
//	})
//	err = m.Run(ctx)                        // blocks until ctx ends
//
// For each kind some controller watches, the Manager keeps a cache (an
// informer) that lists the kind and then watches it from the list's
// revision, and lists again when the watch falls behind. Changes go to the
// work queues of the controllers that watch the kind: a change to a For
// object queues that object; a change to an Owns object queues its
// controller owner; a change to a Watches object queues what its Map
// returns. A queue holds each request once, never gives one request to two
// workers at once, delays RequeueAfter on the Manager's clock, and retries
// errors with per-request exponential backoff (in real time). Each
// controller has Workers workers; each reconcile runs under Timeout, and a
// panic is recovered and retried. A Terminal error is logged and not
// retried.
//
// Run starts the caches, waits until each has listed its kind, starts the
// workers and the runnables (AddRunnable), and when ctx ends stops the
// workers, then the caches, and returns once every goroutine it started has
// returned.
//
// # Reading and writing
//
// Controllers use the Manager's Client: reads come from the caches and are
// copies; writes go to the store, in a transaction when several must
// commit together (Client.Txn). A read waits until the cache holds every
// write this client made to that kind, so a controller never acts twice on
// a cache that has not yet seen its own creations or deletions — the
// guarantee Kubernetes' controllers keep with "expectations". Updates carry
// the resourceVersion read, so a write based on stale data fails with
// store.ErrConflict and is retried.
//
// Creates are defaulted and validated like the orchestrator's, and refused
// in a namespace being deleted (ErrNamespaceTerminating) or for an owner
// being deleted (ErrOwnerDeleting).
//
// # Rollouts
//
// Rollback, History, Restart, Pause and Resume act on a workload in the
// store, named by kind and key as `kubectl rollout undo daemonset/agent`
// names it; its controller does the rest:
//
//	hist, err := reconcile.History(ctx, st, "DaemonSet", key)   // revisions and change causes
//	err = reconcile.Rollback(ctx, st, "DaemonSet", key, 0)      // 0: the previous revision
//	err = reconcile.Restart(ctx, st, "StatefulSet", key, time.Now())
//
// A Deployment's revisions are its ReplicaSets; a DaemonSet's and a
// StatefulSet's are the ControllerRevisions their controllers keep, one
// per pod template rolled out (spec.revisionHistoryLimit of them besides
// those in use), and a rollback restores the template one holds. Pause
// and Resume apply to Deployments only; other kinds are refused with an
// error wrapping ErrNotSupported, as kubectl refuses them.
//
// # Evictions, drains and disruption budgets
//
// Evict is Kubernetes' eviction API (the pods/eviction subresource): it
// deletes a pod gracefully unless its PodDisruptionBudget allows no
// disruption now, checking and spending the budget in the same store
// transaction as the deletion, so that concurrent evictions cannot
// overspend it. A refusal wraps ErrDisruptionBudget (Kubernetes' 429) and
// may succeed later. Drain, like kubectl drain, cordons a node and evicts
// its pods through Evict, asking again every DrainRetryInterval (5
// seconds) for those a budget refused until they go or its context ends:
//
//	err := reconcile.Evict(ctx, st, key, reconcile.EvictOptions{})
//	if errors.Is(err, reconcile.ErrDisruptionBudget) { ... } // retry later
//	err = reconcile.Drain(ctx, st, "node-1", reconcile.DrainOptions{Force: true})
//
// The disruption controller (DisruptionController) computes each budget's
// status from the pods it selects and their controllers' scale, as
// Kubernetes' does: the healthy and desired pods, the disruptions allowed,
// and the DisruptionAllowed condition; it forgets an eviction's entry in
// disruptedPods once the pod is seen being deleted, or after two minutes.
package reconcile
