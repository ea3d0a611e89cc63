package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout is a safety net, not a speed check.
const waitTimeout = 20 * time.Second

// env is a store, a fake clock and a manager running the given controllers.
type env struct {
	t      testing.TB
	s      store.Store
	clock  *clockwork.FakeClock
	m      *Manager
	events *eventLog
	cancel context.CancelFunc
	done   chan error
}

type envOption func(*envConfig)

type envConfig struct {
	scheme *objects.Scheme
	add    []func(m *Manager) error
	opts   []Option
}

func withScheme(s *objects.Scheme) envOption { return func(c *envConfig) { c.scheme = s } }

func withControllers(fns ...func(m *Manager) error) envOption {
	return func(c *envConfig) { c.add = append(c.add, fns...) }
}

func withManagerOptions(opts ...Option) envOption {
	return func(c *envConfig) { c.opts = append(c.opts, opts...) }
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("PODKIT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newEnv starts a manager; it is stopped, and checked to return, when the
// test ends.
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	cfg := envConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.scheme == nil {
		cfg.scheme = objects.NewScheme()
	}
	clk := clockwork.NewFakeClockAt(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := memdb.New(memdb.WithScheme(cfg.scheme), memdb.WithClock(clk))
	require.NoError(t, err)
	e := &env{t: t, s: s, clock: clk, events: &eventLog{}}
	e.m, err = NewManager(s, append([]Option{WithClock(clk), WithLogger(testLogger(t)), WithEventRecorder(e.events)}, cfg.opts...)...)
	require.NoError(t, err)
	for _, add := range cfg.add {
		require.NoError(t, add(e.m))
	}
	e.createNamespace("default")
	e.start()
	t.Cleanup(func() {
		e.stop()
		s.Close()
	})
	return e
}

func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.m.Run(ctx) }()
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		require.NoError(e.t, err)
	case <-time.After(waitTimeout):
		e.t.Fatal("Manager.Run did not return after its context ended")
	}
	e.cancel = nil
}

func (e *env) createNamespace(name string) {
	e.t.Helper()
	e.create(&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: name}})
}

// create stores objects as the orchestrator would: defaulted and
// validated.
func (e *env) create(objs ...objects.Object) {
	e.t.Helper()
	require.NoError(e.t, e.s.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			if _, err := e.s.Scheme().SetTypeMeta(o); err != nil {
				return err
			}
			e.s.Scheme().Default(o)
			if err := e.s.Scheme().Validate(o); err != nil {
				return err
			}
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	}))
}

// mutate reads the object of kind with key, applies fn and writes it back
// (retrying conflicts with the controllers).
func (e *env) mutate(kind string, key objects.Key, fn func(obj objects.Object)) {
	e.t.Helper()
	for {
		err := e.s.Update(context.Background(), func(tx store.Tx) error {
			obj, err := tx.Get(kind, key)
			if err != nil {
				return err
			}
			fn(obj)
			e.s.Scheme().Default(obj)
			return tx.Update(obj)
		})
		if err == nil {
			return
		}
		require.ErrorIs(e.t, err, store.ErrConflict)
	}
}

func (e *env) get(kind string, key objects.Key) (objects.Object, error) {
	var obj objects.Object
	err := e.s.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		obj, err = tx.Get(kind, key)
		return err
	})
	return obj, err
}

func (e *env) list(kind string, opts store.ListOptions) []objects.Object {
	e.t.Helper()
	var objs []objects.Object
	require.NoError(e.t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		objs, err = tx.List(kind, opts)
		return err
	}))
	return objs
}

// waitFor waits until cond holds on the store, re-checking on every
// commit. cond returns whether it holds and what it saw, printed on
// timeout.
func (e *env) waitFor(what string, cond func(tx store.ReadTx) (bool, string)) {
	e.t.Helper()
	waitStore(e.t, e.s, what, cond)
}

func waitStore(t testing.TB, s store.Store, what string, cond func(tx store.ReadTx) (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	start := time.Now()
	var (
		seen string
		rev  int64
	)
	check := func() bool {
		var ok bool
		require.NoError(t, s.View(ctx, func(tx store.ReadTx) error {
			ok, seen = cond(tx)
			rev = tx.Revision()
			return nil
		}))
		return ok
	}
	for {
		if check() {
			return
		}
		w, err := s.Watch(ctx, store.WatchOptions{Revision: rev, Buffer: 1 << 16})
		require.NoError(t, err)
		select {
		case <-w.Events():
		case <-ctx.Done():
			w.Stop()
			t.Fatalf("waiting for %s: timed out after %v; last seen: %s", what, time.Since(start), seen)
		}
		w.Stop()
	}
}

// eventLog is an EventRecorder that keeps what it is told.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) Event(_ context.Context, obj objects.Object, eventType, reason, message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, fmt.Sprintf("%s %s %s: %s", eventType, obj.GetObjectMeta().Name, reason, message))
}

func (l *eventLog) has(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.evs, "\n")
}

func ptr[T any](v T) *T { return &v }

// waitCached waits until the manager's cache of kind holds key, for tests
// whose outcome depends on what a controller sees first (each kind's cache
// follows its own watch).
func (e *env) waitCached(kind string, key objects.Key) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	require.Eventually(e.t, func() bool { return e.m.currentRun().informer(kind) != nil }, waitTimeout, time.Millisecond)
	require.NoError(e.t, e.m.currentRun().informer(kind).WaitFor(ctx, func(v informer.Locked) bool { return v.Has(key) }))
}
