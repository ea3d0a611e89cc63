package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/internal/workqueue"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Controller registers a Reconciler with a Manager and says which changes
// reconcile which objects.
type Controller struct {
	// Name identifies the controller in logs; unique within a Manager.
	Name string
	// For is the kind reconciled: every change to an object of this kind
	// reconciles that object.
	For string
	// Owns lists kinds whose objects a For object controls: a change to one
	// reconciles the owner its controller ownerReference (controller=true)
	// names, before and after the change.
	Owns []string
	// ForChanged, when set, picks the changes of For objects that
	// reconcile them, as Watch.Changed picks a watch's: the quota
	// controller leaves out the status writes of admission.
	ForChanged func(old, new objects.Object) bool
	// Watches maps changes to other kinds to requests.
	Watches []Watch
	// Reconciler does the work.
	Reconciler Reconciler
	// Workers is the number of requests reconciled concurrently (default 1).
	Workers int
	// Timeout bounds one reconcile (default one minute).
	Timeout time.Duration
	// BaseDelay and MaxDelay bound the exponential backoff of a request
	// whose reconcile fails (defaults 5ms and 1000s, as Kubernetes'
	// controllers have them).
	BaseDelay, MaxDelay time.Duration
}

// Watch maps changes to objects of Kind to the requests they affect.
type Watch struct {
	Kind string
	// Map returns the requests an object of Kind affects. It is called with
	// the object before a change and with the object after it, from the
	// cache's goroutine: it must not modify obj and must return quickly
	// (reads from Client's caches are fine).
	Map func(obj objects.Object) []Request
	// Changed, when set, picks the changes Map sees: it is called with
	// the object before and after each change (old nil for a creation,
	// new nil for a deletion), from the cache's goroutine under Map's
	// rules, and Map runs only for changes it reports true for. A
	// controller that cares about few of a busy kind's changes (the
	// quota controller: pods that finish or go) skips the rest cheaply.
	Changed func(old, new objects.Object) bool
}

func (c *Controller) validate(s *objects.Scheme) error {
	if c.Name == "" {
		return errors.New("reconcile: controller has no Name")
	}
	if c.Reconciler == nil {
		return fmt.Errorf("reconcile: controller %q has no Reconciler", c.Name)
	}
	if c.For == "" {
		return fmt.Errorf("reconcile: controller %q: For is required", c.Name)
	}
	kinds := append([]string{c.For}, c.Owns...)
	for _, w := range c.Watches {
		if w.Map == nil {
			return fmt.Errorf("reconcile: controller %q: watch of %s has no Map", c.Name, w.Kind)
		}
		kinds = append(kinds, w.Kind)
	}
	for _, k := range kinds {
		if s.Lookup(k) == nil {
			return fmt.Errorf("reconcile: controller %q: kind %q: %w", c.Name, k, store.ErrUnknownKind)
		}
	}
	return nil
}

// controller is one registered Controller during one Run.
type controller struct {
	spec    Controller
	forInfo *objects.KindInfo
	queue   *workqueue.Queue[Request]
	log     *slog.Logger
	m       *Manager
}

func newController(m *Manager, spec Controller) *controller {
	if spec.Workers <= 0 {
		spec.Workers = 1
	}
	if spec.Timeout <= 0 {
		spec.Timeout = defaultTimeout
	}
	return &controller{
		spec:    spec,
		forInfo: m.scheme.Lookup(spec.For),
		queue: workqueue.New[Request](workqueue.Options{
			Clock: m.cfg.clock, BaseDelay: spec.BaseDelay, MaxDelay: spec.MaxDelay,
		}),
		log: m.cfg.log.With("controller", spec.Name),
		m:   m,
	}
}

// watch adds the controller's handlers to the caches it needs.
func (c *controller) watch(inf func(kind string) *informer.Informer) {
	inf(c.spec.For).AddHandler(func(old, new objects.Object) {
		if c.spec.ForChanged != nil && !c.spec.ForChanged(old, new) {
			return
		}
		if new != nil {
			c.queue.Add(RequestFor(new))
		} else {
			c.queue.Add(RequestFor(old))
		}
	})
	for _, kind := range c.spec.Owns {
		inf(kind).AddHandler(func(old, new objects.Object) {
			var prev Request
			for _, o := range [2]objects.Object{old, new} {
				if o == nil {
					continue
				}
				// Most changes (a pod's status) keep the owner: queue it once.
				if req, ok := c.ownerRequest(o); ok && req != prev {
					c.queue.Add(req)
					prev = req
				}
			}
		})
	}
	for _, w := range c.spec.Watches {
		inf(w.Kind).AddHandler(func(old, new objects.Object) {
			if w.Changed != nil && !w.Changed(old, new) {
				return
			}
			for _, o := range [2]objects.Object{old, new} {
				if o == nil {
					continue
				}
				for _, req := range w.Map(o) {
					c.queue.Add(req)
				}
			}
		})
	}
}

// ownerRequest returns the request for obj's controller, when that is an
// object of the controller's kind.
func (c *controller) ownerRequest(obj objects.Object) (Request, bool) {
	m := obj.GetObjectMeta()
	ref := m.ControllerRef()
	if ref == nil || !refersTo(ref, c.forInfo) {
		return Request{}, false
	}
	req := Request{Name: ref.Name}
	if c.forInfo.Namespaced {
		req.Namespace = m.Namespace
	}
	return req, true
}

// refersTo reports whether ref names an object of kind info: same kind and
// API group (the version may differ, as in Kubernetes).
func refersTo(ref *objects.OwnerReference, info *objects.KindInfo) bool {
	return ref.Kind == info.Kind && groupOf(ref.APIVersion) == info.Group()
}

func groupOf(apiVersion string) string {
	for i := 0; i < len(apiVersion); i++ {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}

func (c *controller) start(ctx context.Context, wg *sync.WaitGroup) {
	w := &workers[Request]{
		queue: c.queue, timeout: c.spec.Timeout, log: c.log,
		fn: c.spec.Reconciler.Reconcile,
	}
	for i := 0; i < c.spec.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
}

// workers take items from a queue and process them: the engine shared by
// the controllers and the garbage collector.
type workers[T comparable] struct {
	queue   *workqueue.Queue[T]
	fn      func(ctx context.Context, item T) (Result, error)
	timeout time.Duration
	log     *slog.Logger
}

func (w *workers[T]) run(ctx context.Context) {
	for {
		item, shutdown := w.queue.Get()
		if shutdown {
			return
		}
		w.process(ctx, item)
	}
}

func (w *workers[T]) process(ctx context.Context, item T) {
	defer w.queue.Done(item)
	res, err := w.call(ctx, item)
	switch {
	case ctx.Err() != nil:
		// Stopping: the item is dropped with the queue.
	case err == nil:
		w.queue.Forget(item)
		if res.RequeueAfter > 0 {
			w.queue.AddAfter(item, res.RequeueAfter)
		}
	case IsTerminal(err):
		w.queue.Forget(item)
		w.log.Error("reconcile failed; not retrying", "item", item, "err", err)
	default:
		n := w.queue.NumRequeues(item)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, errStaleCache) {
			w.log.Debug("reconcile conflicted; retrying", "item", item, "err", err)
		} else {
			w.log.Warn("reconcile failed; retrying", "item", item, "err", err, "retries", n)
		}
		w.queue.AddRateLimited(item)
	}
}

// call runs fn with the timeout, turning a panic into an error.
func (w *workers[T]) call(ctx context.Context, item T) (res Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("reconcile panicked", "item", item, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("reconcile panicked: %v", p)
		}
	}()
	return w.fn(ctx, item)
}
