package podkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/admissionpolicy"
	"github.com/podkit/podkit/internal/events"
	"github.com/podkit/podkit/internal/quota"
	"github.com/podkit/podkit/internal/satoken"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/ipam"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/scheduler"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// DefaultNamespace is the namespace objects go to when they name none.
const DefaultNamespace = "default"

// Namespaces every orchestrator creates, as a Kubernetes cluster has them.
var systemNamespaces = []string{DefaultNamespace, "kube-system", "kube-node-lease"}

// Namespaces that may not be deleted, as Kubernetes' NamespaceLifecycle
// admission refuses to.
var immortalNamespaces = []string{DefaultNamespace, "kube-system", "kube-public"}

// Orchestrator is podkit's entry point: it validates, defaults and stores
// objects, records events, and runs the loops that act on them.
//
// Its methods are safe for concurrent use. Run starts the loops and blocks
// until its context ends; Close releases the store when the orchestrator
// created it.
type Orchestrator struct {
	cfg      config
	store    store.Store
	scheme   *objects.Scheme
	log      *slog.Logger
	clock    clockwork.Clock
	ownStore bool
	events   *events.Recorder
	ctrl     *reconcile.Manager
	net      *network.Network
	metrics  *reconcile.MemoryMetrics
	group    *nodeagent.Group
	sched    *scheduler.Scheduler
	quota    *quota.Evaluator
	policies *admissionpolicy.Evaluator
	tokens   *satoken.Issuer

	running atomic.Bool

	nodesMu sync.Mutex
	nodes   map[string]*node
	runCtx  context.Context // Run's context while it runs, for agents started then
	agents  sync.WaitGroup
}

// New returns an orchestrator with an in-memory store (store/memdb) unless
// WithStore gives another. It creates the default, kube-system and
// kube-node-lease namespaces and the system PriorityClasses if they do not
// exist, and reconciles Kubernetes' default ClusterRoles and
// ClusterRoleBindings (cluster-admin, admin, edit, view, ...; see
// rbac.ReconcileBootstrapPolicy).
func New(opts ...Option) (*Orchestrator, error) {
	cfg := config{
		logger:     slog.New(slog.DiscardHandler),
		clock:      clockwork.NewRealClock(),
		eventTTL:   time.Hour,
		eventLimit: DefaultEventLimit,
		name:       "podkit",
	}
	for _, opt := range opts {
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	o := &Orchestrator{cfg: cfg, log: cfg.logger, clock: cfg.clock, nodes: map[string]*node{}}
	switch {
	case cfg.store != nil:
		if cfg.scheme != nil && cfg.scheme != cfg.store.Scheme() {
			return nil, errors.New("podkit.New: WithScheme names a different scheme than the store given with WithStore uses")
		}
		o.store = cfg.store
	default:
		if cfg.scheme == nil {
			cfg.scheme = objects.NewScheme()
		}
		opts := []memdb.Option{memdb.WithScheme(cfg.scheme), memdb.WithClock(cfg.clock)}
		for _, ix := range ipam.Indexes() {
			opts = append(opts, memdb.WithIndex(ix))
		}
		s, err := memdb.New(opts...)
		if err != nil {
			return nil, fmt.Errorf("podkit.New: %w", err)
		}
		o.store, o.ownStore = s, true
	}
	o.scheme = o.store.Scheme()
	o.policies = admissionpolicy.New(o.scheme, o.log)
	o.quota = quota.New(o.scheme)
	o.events = events.New(o.store, o.clock, o.log, events.Source{Component: cfg.name}, cfg.eventTTL,
		events.WithLimit(cfg.eventLimit))
	ctrl, err := reconcile.NewManager(o.store, reconcile.WithLogger(o.log),
		reconcile.WithClock(o.clock), reconcile.WithEventRecorder(o.events),
		reconcile.WithAdmission(o.admitForControllers))
	o.metrics = reconcile.NewMemoryMetrics(reconcile.WithMetricsClock(o.clock))
	if err == nil {
		err = reconcile.AddBuiltinsWith(ctrl, append([]reconcile.BuiltinOption{reconcile.WithMetricsSource(o.metrics)}, cfg.builtins...)...)
	}
	if err == nil {
		netOpts := []network.Option{network.WithLogger(o.log)}
		if !cfg.netOn {
			netOpts = append(netOpts, network.WithoutDNS(), network.WithDataPlane(network.DataPlaneNone),
				network.WithoutNetworkPolicy("podkit runs no pod networking without podkit.WithNetwork"))
		}
		o.net, err = network.New(o.store, append(netOpts, cfg.network...)...)
	}
	if err == nil {
		err = o.net.AddControllers(ctrl)
	}
	if err == nil {
		o.tokens, err = o.newTokenIssuer()
	}
	if err == nil {
		o.group, err = nodeagent.NewGroup(o.store, append([]nodeagent.Option{
			nodeagent.WithClock(o.clock),
			nodeagent.WithLogger(o.log.With("component", "nodeagent")),
			nodeagent.WithClusterDNS(o.net.ClusterDomain(), o.net.DNSServers()...),
			nodeagent.WithHostDNS(o.net.HostDNS()),
			nodeagent.WithServiceAccountTokens(o),
		}, cfg.agent...)...)
	}
	if err == nil {
		o.sched, err = scheduler.New(o.store, append([]scheduler.Option{
			scheduler.WithLogger(o.log.With("component", "scheduler")),
			scheduler.WithClock(o.clock),
			scheduler.WithEventRecorder(o.events.WithSource(events.Source{Component: objects.DefaultSchedulerName})),
		}, cfg.scheduler...)...)
	}
	if err != nil {
		o.Close()
		return nil, fmt.Errorf("podkit.New: %w", err)
	}
	o.ctrl = ctrl
	if err := o.ensureSystemObjects(context.Background()); err != nil {
		o.Close()
		return nil, fmt.Errorf("podkit.New: %w", err)
	}
	return o, nil
}

func (o *Orchestrator) ensureSystemObjects(ctx context.Context) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		for _, name := range systemNamespaces {
			_, err := tx.Get(KindNamespace, objects.Key{Name: name})
			if err == nil {
				continue
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			ns := &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: name}}
			o.scheme.Default(ns)
			if err := tx.Create(ns); err != nil {
				return err
			}
		}
		for _, pc := range objects.SystemPriorityClasses() {
			if _, err := tx.Get(KindPriorityClass, objects.Key{Name: pc.Name}); !errors.Is(err, store.ErrNotFound) {
				if err != nil {
					return err
				}
				continue
			}
			o.scheme.Default(pc)
			if err := tx.Create(pc); err != nil {
				return err
			}
		}
		return o.ensureBootstrapRBAC(tx)
	})
}

// Store returns the store the orchestrator keeps its objects in.
func (o *Orchestrator) Store() store.Store { return o.store }

// Scheme returns the scheme of kinds the orchestrator accepts.
func (o *Orchestrator) Scheme() *objects.Scheme { return o.scheme }

// Network returns the orchestrator's service networking: the cluster IP
// allocator, the DNS server (Network().DNS(), nil without WithNetwork) and
// the proxy's data plane.
func (o *Orchestrator) Network() *network.Network { return o.net }

// Logger returns the orchestrator's logger.
func (o *Orchestrator) Logger() *slog.Logger { return o.log }

// Clock returns the orchestrator's clock.
func (o *Orchestrator) Clock() clockwork.Clock { return o.clock }

// Run runs the orchestrator's loops until ctx ends, then returns after every
// goroutine it started has returned. It returns nil when ctx ended, or the
// error that stopped a loop; when its store stopped serving on its own
// (see store.Lifetime: store/etcd losing its lock), an error wrapping the
// store's. Run may be called once at a time.
func (o *Orchestrator) Run(ctx context.Context) error {
	if !o.running.CompareAndSwap(false, true) {
		return errors.New("podkit: Run is already running")
	}
	defer o.running.Store(false)
	o.log.Info("orchestrator running")
	defer o.log.Info("orchestrator stopped")
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return o.events.Run(ctx) })
	g.Go(func() error { return o.ctrl.Run(ctx) })
	g.Go(func() error { return o.net.Run(ctx) })
	g.Go(func() error { return o.sched.Run(ctx) })
	g.Go(func() error { return o.group.Run(ctx) })
	g.Go(func() error { return o.runNodeLoops(ctx) })
	err := g.Wait()
	if l, ok := o.store.(store.Lifetime); ok {
		select {
		case <-l.Done(): // the components ended because the store did
			return fmt.Errorf("podkit: the store stopped serving: %w", l.Err())
		default:
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// Close releases the cluster DNS sockets bound for nodes (see
// RegisterNode) and the store if New created it. Stop Run first.
func (o *Orchestrator) Close() error {
	var err error
	if o.net != nil {
		err = o.net.Close()
	}
	if o.ownStore {
		err = errors.Join(err, o.store.Close())
	}
	return err
}

// admit fills apiVersion, kind and the default namespace, applies defaults
// and validates obj as new (old nil) or as a replacement for old. Inside a
// write transaction it also checks that the namespace exists.
func (o *Orchestrator) admit(ctx context.Context, tx store.Tx, obj, old objects.Object, dryRun bool) (*objects.KindInfo, error) {
	info, err := o.scheme.SetTypeMeta(obj)
	if err != nil {
		return nil, err
	}
	meta := obj.GetObjectMeta()
	if info.Namespaced && meta.Namespace == "" {
		meta.Namespace = DefaultNamespace
	}
	if svc, ok := obj.(*objects.Service); ok && old != nil {
		svc.PatchAllocatedValues(old.(*objects.Service)) // keep the allocated cluster IPs and node ports
	}
	o.scheme.Default(obj)
	mutated, err := o.mutatePolicies(ctx, tx, info, obj, old, dryRun)
	if err != nil {
		return nil, err
	}
	if mutated != nil {
		copyInto(obj, mutated)
	}
	ran := false
	if len(o.cfg.hooks) > 0 {
		if ran, err = o.mutateHooks(ctx, tx, info, obj, old, dryRun); err != nil {
			return nil, err
		}
	}
	if mutated != nil || ran {
		o.scheme.Default(obj)
	}
	if err := o.validate(obj, old); err != nil {
		return nil, err
	}
	if err := o.complete(ctx, tx, obj, old, dryRun); err != nil {
		return nil, err
	}
	if info.Namespaced && old == nil {
		ns, err := tx.Get(KindNamespace, objects.Key{Name: meta.Namespace})
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("create %s %q: namespaces %q not found: %w", info.Kind, objectName(meta), meta.Namespace, store.ErrNotFound)
			}
			return nil, err
		}
		if ns.GetObjectMeta().IsDeleting() {
			return nil, fmt.Errorf("create %s %q: namespace %s is being terminated: %w", info.Kind, objectName(meta), meta.Namespace, ErrForbidden)
		}
	}
	return info, nil
}

// validate validates obj as a create (old nil) or as an update of old.
func (o *Orchestrator) validate(obj, old objects.Object) error {
	var err error
	if old == nil {
		err = o.scheme.Validate(obj)
	} else {
		err = o.scheme.ValidateUpdate(obj, old)
	}
	if err != nil {
		return err
	}
	return validatePolicyExpressions(obj)
}

// admitForControllers is the admission controllers' writes get: what the
// store cannot do alone, such as allocating a Service's addresses (and
// keeping them on update), a new pod's priority, its LimitRanges'
// defaults and limits, and the namespace's ResourceQuotas.
func (o *Orchestrator) admitForControllers(tx store.Tx, obj, old objects.Object) error {
	ctx := context.Background() // a controller's write: its warnings are logged
	if svc, ok := obj.(*objects.Service); ok && old != nil {
		svc.PatchAllocatedValues(old.(*objects.Service))
	}
	if err := o.mutateForControllers(ctx, tx, obj, old); err != nil {
		return err
	}
	return o.complete(ctx, tx, obj, old, false)
}

// complete does the part of admission that needs the store: a Service's
// cluster IPs and node ports, a new pod's service account and priority, a
// new Ingress's default class, then, as Kubernetes orders its admission
// plugins, the namespace's LimitRanges (defaults, then limits), a new
// pod's RuntimeClass (its overhead and scheduling), the
// ValidatingAdmissionPolicies, the host's validating admission hooks and
// last its ResourceQuotas, charged in tx: a quota's usage commits with
// the write it admits, or not at all.
func (o *Orchestrator) complete(ctx context.Context, tx store.Tx, obj, old objects.Object, dryRun bool) error {
	if err := o.net.Allocate(tx, obj, old); err != nil {
		return err
	}
	if old == nil {
		switch obj := obj.(type) {
		case *objects.Pod:
			if err := admitServiceAccount(tx, obj); err != nil {
				return err
			}
			if err := admitPodPriority(tx, obj); err != nil {
				return err
			}
		case *objects.Ingress:
			if err := admitIngressClass(tx, obj); err != nil {
				return err
			}
		}
	}
	if err := admitLimitRanges(tx, obj, old); err != nil {
		return err
	}
	if c, ok := obj.(*objects.PersistentVolumeClaim); ok && old != nil {
		if err := admitClaimResize(tx, c, old.(*objects.PersistentVolumeClaim)); err != nil {
			return err
		}
	}
	if pod, ok := obj.(*objects.Pod); ok && old == nil {
		if err := admitRuntimeClass(tx, pod); err != nil {
			return err
		}
	}
	info, err := o.scheme.KindOf(obj)
	if err != nil {
		return err
	}
	if err := o.admitPolicies(ctx, tx, info, operation(old), obj, old, dryRun); err != nil {
		return err
	}
	if err := o.validateHooks(ctx, tx, info.Kind, operation(old), obj, old, dryRun); err != nil {
		return err
	}
	return o.admitQuota(tx, obj, old)
}

// ErrForbidden is returned for writes the orchestrator refuses for a reason
// other than the object's own fields, such as creating in a namespace that
// is being deleted.
var ErrForbidden = errors.New("forbidden")

func objectName(m *objects.ObjectMeta) string {
	if m.Name == "" {
		return m.GenerateName
	}
	return m.Name
}

// Create validates, defaults and stores a new object. As in Kubernetes,
// the status sent is not kept (a Node's excepted): a pod starts Pending, a
// namespace Active, a PersistentVolume or claim Pending, others with none;
// write one with UpdateStatus afterwards. obj receives what was stored
// (uid, resourceVersion, defaults, a generated name, the status).
func (o *Orchestrator) Create(ctx context.Context, obj objects.Object) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		if _, err := o.admit(ctx, tx, obj, nil, false); err != nil {
			return err
		}
		return tx.Create(obj)
	})
}

// Update replaces an object's metadata and spec; its status is kept. A set
// resourceVersion must match the stored one (else an error wrapping
// store.ErrConflict). obj receives what was stored.
func (o *Orchestrator) Update(ctx context.Context, obj objects.Object) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		info, err := o.scheme.SetTypeMeta(obj)
		if err != nil {
			return err
		}
		old, err := tx.Get(info.Kind, keyOf(info, obj))
		if err != nil {
			return err
		}
		if _, err := o.admit(ctx, tx, obj, old, false); err != nil {
			return err
		}
		if err := tx.Update(obj); err != nil {
			return err
		}
		if err := readBack(tx, info, obj); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil // the update removed the last finalizer of a deleted object
	})
}

// UpdateStatus replaces an object's status only, with the same concurrency
// rule as Update. The status is validated as Kubernetes validates a status
// update (see objects.StatusValidator); an invalid one is refused whole
// with an error wrapping objects.ErrInvalid, and nothing is written.
func (o *Orchestrator) UpdateStatus(ctx context.Context, obj objects.Object) error {
	return o.store.Update(ctx, func(tx store.Tx) error {
		info, err := o.scheme.SetTypeMeta(obj)
		if err != nil {
			return err
		}
		old, err := store.Peek(tx, info.Kind, keyOf(info, obj))
		if err != nil {
			return err
		}
		if err := o.scheme.ValidateStatusUpdate(obj, old); err != nil {
			return err
		}
		if err := tx.UpdateStatus(obj); err != nil {
			return err
		}
		return readBack(tx, info, obj)
	})
}

// DeleteOption tunes a Delete.
type DeleteOption func(*store.DeleteOptions)

// PropagationPolicy chooses what happens to the object's dependents:
// store.DeletePropagationBackground (the default), Foreground or Orphan.
func PropagationPolicy(p store.PropagationPolicy) DeleteOption {
	return func(o *store.DeleteOptions) { o.PropagationPolicy = p }
}

// GracePeriod overrides the grace period of a pod's termination; 0 deletes
// at once. As in Kubernetes, it applies only to a pod bound to a node and
// not terminated: any other pod, and any object of another kind, is
// deleted at once (finalizers still keep it).
func GracePeriod(seconds int64) DeleteOption {
	return func(o *store.DeleteOptions) { o.GracePeriodSeconds = &seconds }
}

// Preconditions makes the delete fail unless the stored object still has
// this uid and, when set, resourceVersion.
func Preconditions(uid, resourceVersion string) DeleteOption {
	return func(o *store.DeleteOptions) {
		o.Preconditions = &store.Preconditions{UID: uid, ResourceVersion: resourceVersion}
	}
}

// Delete deletes the object of obj's kind, namespace and name. As in
// Kubernetes, a pod bound to a node is deleted gracefully: it is kept with a
// deletion timestamp for its node agent to stop it within
// terminationGracePeriodSeconds. Finalizers keep an object until they are
// removed; a namespace keeps its "kubernetes" one until it is empty. The
// default, kube-system and kube-public namespaces may not be deleted (an
// error wrapping ErrForbidden).
func (o *Orchestrator) Delete(ctx context.Context, obj objects.Object, opts ...DeleteOption) error {
	info, err := o.scheme.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	if info.Namespaced && obj.GetObjectMeta().Namespace == "" {
		obj.GetObjectMeta().Namespace = DefaultNamespace
	}
	if err := checkDeletable(info.Kind, keyOf(info, obj)); err != nil {
		return err
	}
	var do store.DeleteOptions
	for _, opt := range opts {
		opt(&do)
	}
	return o.store.Update(ctx, func(tx store.Tx) error {
		d := do
		if d.GracePeriodSeconds == nil && info.Kind == KindPod {
			cur, err := tx.Get(KindPod, keyOf(info, obj))
			if err != nil {
				return err
			}
			d.GracePeriodSeconds = podGrace(cur)
		}
		if err := o.admitDelete(ctx, tx, info.Kind, keyOf(info, obj)); err != nil {
			return err
		}
		_, err := tx.Delete(info.Kind, keyOf(info, obj), d)
		return err
	})
}

// DeleteAll deletes every object of kind that match selects, in one
// transaction, each as Delete would (Kubernetes' deletecollection, what
// `kubectl delete deployments --all` or `-l app=web` asks for), and
// returns how many it deleted. A Pod's grace period is its own unless opts
// set one. Matching a namespace that may not be deleted deletes nothing
// and returns an error wrapping ErrForbidden.
//
//	n, err := o.DeleteAll(ctx, podkit.KindDeployment, []podkit.ListOption{podkit.InNamespace("default")})
func (o *Orchestrator) DeleteAll(ctx context.Context, kind string, match []ListOption, opts ...DeleteOption) (int, error) {
	lo, err := buildListOptions(match)
	if err != nil {
		return 0, err
	}
	if lo.revision != 0 {
		return 0, fmt.Errorf("delete all %s: FromRevision applies to Watch only", kind)
	}
	if o.scheme.Lookup(kind) == nil {
		return 0, fmt.Errorf("delete all %s: %w", kind, store.ErrUnknownKind)
	}
	var do store.DeleteOptions
	for _, opt := range opts {
		opt(&do)
	}
	var n int
	err = o.store.Update(ctx, func(tx store.Tx) error {
		n = 0
		objs, err := tx.List(kind, lo.ListOptions)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			d := do
			if d.GracePeriodSeconds == nil && kind == KindPod {
				d.GracePeriodSeconds = podGrace(obj)
			}
			key := obj.GetObjectMeta().Key()
			if err := checkDeletable(kind, key); err != nil {
				return err
			}
			if err := o.admitDeleteOf(ctx, tx, kind, obj); err != nil {
				return err
			}
			if _, err := tx.Delete(kind, key, d); err != nil {
				return fmt.Errorf("delete %s %s: %w", kind, key, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// checkDeletable refuses to delete the namespaces a cluster cannot do
// without.
func checkDeletable(kind string, key objects.Key) error {
	if kind == KindNamespace && slices.Contains(immortalNamespaces, key.Name) {
		return fmt.Errorf("namespaces %q is forbidden: this namespace may not be deleted: %w", key.Name, ErrForbidden)
	}
	return nil
}

// podGrace is the grace period a deletion of pod gives it by default: its
// spec's terminationGracePeriodSeconds, when it is bound to a node and not
// terminated.
func podGrace(pod objects.Object) *int64 {
	g := pod.(*objects.Pod).DeletionGracePeriod()
	return &g
}

// Get reads the object of obj's kind with key into obj.
func (o *Orchestrator) Get(ctx context.Context, key objects.Key, obj objects.Object) error {
	info, err := o.scheme.SetTypeMeta(obj)
	if err != nil {
		return err
	}
	if info.Namespaced && key.Namespace == "" {
		key.Namespace = DefaultNamespace
	}
	return o.store.View(ctx, func(tx store.ReadTx) error {
		got, err := tx.Get(info.Kind, key)
		if err != nil {
			return err
		}
		copyInto(obj, got)
		return nil
	})
}

// List returns the objects of kind matching opts.
func (o *Orchestrator) List(ctx context.Context, kind string, opts ...ListOption) ([]objects.Object, error) {
	lo, err := buildListOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.scheme.Lookup(kind) == nil {
		return nil, fmt.Errorf("list %s: %w", kind, store.ErrUnknownKind)
	}
	var out []objects.Object
	err = o.store.View(ctx, func(tx store.ReadTx) error {
		out, err = tx.List(kind, lo.ListOptions)
		return err
	})
	return out, err
}

// Watch streams changes to objects of kind (every kind when empty) that match
// opts, from now or from FromRevision.
func (o *Orchestrator) Watch(ctx context.Context, kind string, opts ...ListOption) (store.Watcher, error) {
	lo, err := buildListOptions(opts)
	if err != nil {
		return nil, err
	}
	if kind != "" && o.scheme.Lookup(kind) == nil {
		return nil, fmt.Errorf("watch %s: %w", kind, store.ErrUnknownKind)
	}
	return o.store.Watch(ctx, store.WatchOptions{Kind: kind, ListOptions: lo.ListOptions, Revision: lo.revision})
}

// keyOf returns obj's key, with the default namespace for namespaced kinds.
func keyOf(info *objects.KindInfo, obj objects.Object) objects.Key {
	k := obj.GetObjectMeta().Key()
	if info.Namespaced && k.Namespace == "" {
		k.Namespace = DefaultNamespace
	}
	return k
}

func readBack(tx store.ReadTx, info *objects.KindInfo, obj objects.Object) error {
	got, err := tx.Get(info.Kind, keyOf(info, obj))
	if err != nil {
		return err
	}
	copyInto(obj, got)
	return nil
}

// copyInto overwrites *dst with *src; both are pointers to the same struct type.
func copyInto(dst, src objects.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
