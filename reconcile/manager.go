package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Option configures a Manager.
type Option func(*config) error

type config struct {
	log     *slog.Logger
	clock   clockwork.Clock
	rec     EventRecorder
	indexes []store.FieldIndex
	buffer  int
	admit   Admission
}

// Admission completes or refuses a write made through the Client, after
// defaulting and validation, inside the write's transaction: old is nil for
// a create. The orchestrator uses it to allocate Services' cluster IPs and
// node ports for controllers as for the host, and to charge ResourceQuotas
// in the transaction that writes what they count.
//
// The hook may set obj's fields, but must not modify the maps, slices and
// pointed-to values they hold: it replaces them instead. A controller's
// burst of new objects (a ReplicaSet's pods) shares them, and they become
// stored objects' as they are. It may write other objects in tx; when it
// refuses obj it must have written nothing, for the copies of a burst
// admitted before it are created (see ReplicaSetController).
type Admission func(tx store.Tx, obj, old objects.Object) error

// WithAdmission sets the hook Client.Create and Client.Update run.
func WithAdmission(a Admission) Option {
	return func(c *config) error {
		if a == nil {
			return errors.New("reconcile.WithAdmission: hook is nil")
		}
		c.admit = a
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("reconcile.WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithClock sets the clock that time-dependent logic reads
// (minReadySeconds, progress deadlines, Result.RequeueAfter). Retries after
// errors back off in real time whatever the clock, so a test that drives a
// fake clock by hand never stalls a retry.
func WithClock(clk clockwork.Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return errors.New("reconcile.WithClock: clock is nil")
		}
		c.clock = clk
		return nil
	}
}

// WithEventRecorder sets where controllers record Events (default:
// nowhere).
func WithEventRecorder(r EventRecorder) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("reconcile.WithEventRecorder: recorder is nil")
		}
		c.rec = r
		return nil
	}
}

// WithCacheIndex adds a field index to the caches, beside
// store.DefaultIndexes, so that Client.List can answer
// ListOptions.Fields on that field from the cache. Give the store the
// same index for reads of uncached kinds.
func WithCacheIndex(ix store.FieldIndex) Option {
	return func(c *config) error {
		if ix.Field == "" || ix.Func == nil {
			return errors.New("reconcile.WithCacheIndex: Field and Func are required")
		}
		c.indexes = append(c.indexes, ix)
		return nil
	}
}

// WithWatchBuffer sets the watch queue length of each cache (default
// 16384). A cache whose queue fills lists its kind again.
func WithWatchBuffer(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("reconcile.WithWatchBuffer: %d: must be at least 1", n)
		}
		c.buffer = n
		return nil
	}
}

// Runnable is a long-running part the Manager runs beside its controllers:
// Run blocks until ctx ends and returns after every goroutine it started
// has returned. An error other than ctx's stops the Manager.
type Runnable interface {
	Run(ctx context.Context) error
}

// RunnableFunc adapts a function to Runnable.
type RunnableFunc func(ctx context.Context) error

// Run calls f.
func (f RunnableFunc) Run(ctx context.Context) error { return f(ctx) }

// Manager runs controllers: one shared cache per watched kind, fed by a
// store watch, and for each controller a work queue and its workers.
//
// Register controllers with Add (and other loops with AddRunnable), then
// call Run. Run starts the caches, waits until each has listed its kind,
// starts the workers and runnables, and when ctx ends stops them in
// reverse order. The Manager's methods are safe for concurrent use; Add
// and AddRunnable fail while Run runs. Run may be called again after it
// returned: it builds fresh caches and queues.
type Manager struct {
	store  store.Store
	scheme *objects.Scheme
	cfg    config
	client *Client

	mu          sync.Mutex
	running     bool
	controllers []Controller
	runnables   []Runnable
	// cur is nil unless Run is running. Every read through the Client and
	// every event mapped to requests looks it up: no lock.
	cur atomic.Pointer[run]
}

// NewManager returns a manager of controllers over s.
func NewManager(s store.Store, opts ...Option) (*Manager, error) {
	if s == nil {
		return nil, errors.New("reconcile.NewManager: store is nil")
	}
	cfg := config{
		log:     slog.New(slog.DiscardHandler),
		clock:   clockwork.NewRealClock(),
		rec:     discardRecorder{},
		indexes: append(store.DefaultIndexes(), orphanIndex),
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	m := &Manager{store: s, scheme: s.Scheme(), cfg: cfg}
	m.client = newClient(m)
	return m, nil
}

// Client returns the client controllers read and write through. Reads are
// served from the caches while Run runs (from the store otherwise).
func (m *Manager) Client() *Client { return m.client }

// Store returns the store the manager watches.
func (m *Manager) Store() store.Store { return m.store }

// Scheme returns the store's scheme.
func (m *Manager) Scheme() *objects.Scheme { return m.scheme }

// Logger returns the manager's logger.
func (m *Manager) Logger() *slog.Logger { return m.cfg.log }

// Clock returns the manager's clock.
func (m *Manager) Clock() clockwork.Clock { return m.cfg.clock }

// Recorder returns the manager's event recorder.
func (m *Manager) Recorder() EventRecorder { return m.cfg.rec }

// Add registers a controller. Its kinds must be registered in the store's
// scheme and its name unique.
func (m *Manager) Add(c Controller) error {
	if err := c.validate(m.scheme); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return fmt.Errorf("reconcile: add controller %q: the manager is running; add controllers before Run", c.Name)
	}
	for _, o := range m.controllers {
		if o.Name == c.Name {
			return fmt.Errorf("reconcile: add controller %q: a controller of that name is already registered", c.Name)
		}
	}
	m.controllers = append(m.controllers, c)
	return nil
}

// AddRunnable registers a loop to run once the caches are filled.
func (m *Manager) AddRunnable(r Runnable) error {
	if r == nil {
		return errors.New("reconcile: AddRunnable: nil runnable")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running {
		return errors.New("reconcile: AddRunnable: the manager is running; add runnables before Run")
	}
	m.runnables = append(m.runnables, r)
	return nil
}

// run is the state of one Run: caches and controllers.
type run struct {
	informers   map[string]*informer.Informer
	controllers []*controller
}

func (r *run) informer(kind string) *informer.Informer {
	if r == nil {
		return nil
	}
	return r.informers[kind]
}

func (m *Manager) currentRun() *run { return m.cur.Load() }

// Run runs the caches, controllers and runnables until ctx ends, then
// returns after every goroutine it started has returned. It returns nil
// when ctx ended, or the error that stopped a cache or runnable (the store
// closing, say).
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("reconcile: Run is already running")
	}
	m.running = true
	r := m.build()
	m.cur.Store(r)
	runnables := append([]Runnable(nil), m.runnables...)
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		m.cur.Store(nil)
		m.mu.Unlock()
	}()

	log := m.cfg.log
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// An informer may fail until the deferred waits below, after Run has
	// read firstErr: the mutex orders the two.
	var (
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		stop()
	}

	// Caches run on their own context: they stop last, after every worker
	// that reads them.
	infCtx, stopInformers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopInformers()
	var infWG sync.WaitGroup
	for _, inf := range r.informers {
		infWG.Add(1)
		go func() {
			defer infWG.Done()
			if err := inf.Run(infCtx); err != nil {
				fail(err)
			}
		}()
	}
	defer infWG.Wait()
	defer stopInformers()

	start := m.cfg.clock.Now()
	for kind, inf := range r.informers {
		if err := inf.WaitForSync(runCtx); err != nil {
			log.Debug("manager stopped before caches were filled", "kind", kind)
			break
		}
	}
	if runCtx.Err() == nil {
		log.Info("caches filled; starting controllers", "kinds", len(r.informers), "controllers", len(r.controllers),
			"took", m.cfg.clock.Since(start))
	}

	var wg sync.WaitGroup
	if runCtx.Err() == nil {
		for _, c := range r.controllers {
			c.start(runCtx, &wg)
		}
		for _, rn := range runnables {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := rn.Run(runCtx); err != nil && runCtx.Err() == nil {
					fail(err)
				}
			}()
		}
	}
	<-runCtx.Done()
	for _, c := range r.controllers {
		c.queue.ShutDown()
	}
	wg.Wait()
	errMu.Lock()
	defer errMu.Unlock()
	return firstErr
}

// build makes the caches and controllers of one Run. Call with m.mu held.
func (m *Manager) build() *run {
	r := &run{informers: map[string]*informer.Informer{}}
	inf := func(kind string) *informer.Informer {
		if i, ok := r.informers[kind]; ok {
			return i
		}
		i := informer.New(m.store, kind, informer.Options{
			Indexes: m.cfg.indexes, Logger: m.cfg.log, WatchBuffer: m.cfg.buffer,
		})
		r.informers[kind] = i
		return i
	}
	for _, spec := range m.controllers {
		c := newController(m, spec)
		r.controllers = append(r.controllers, c)
		c.watch(inf)
	}
	return r
}

// defaultTimeout bounds one reconcile unless the Controller says otherwise.
const defaultTimeout = time.Minute
