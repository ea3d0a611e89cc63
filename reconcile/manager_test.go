package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// A host's own kinds: a Widget owns Gadgets (another own kind) and counts
// them in its status.
type widget struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`
	Spec               widgetSpec   `json:"spec,omitempty"`
	Status             widgetStatus `json:"status,omitempty"`
}

type widgetSpec struct {
	Gadgets int `json:"gadgets"`
}

type widgetStatus struct {
	Gadgets int `json:"gadgets"`
}

func (w *widget) DeepCopyObject() objects.Object {
	c := *w
	w.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

type gadget struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata,omitempty"`
	Spec               struct {
		Color string `json:"color,omitempty"`
	} `json:"spec,omitempty"`
}

func (g *gadget) DeepCopyObject() objects.Object {
	c := *g
	g.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	return &c
}

func widgetScheme(t *testing.T) *objects.Scheme {
	s := objects.NewScheme()
	require.NoError(t, s.Register(objects.KindInfo{APIVersion: "example.com/v1", Kind: "Widget", Namespaced: true,
		New: func() objects.Object { return &widget{} }}))
	require.NoError(t, s.Register(objects.KindInfo{APIVersion: "example.com/v1", Kind: "Gadget", Namespaced: true,
		New: func() objects.Object { return &gadget{} }}))
	return s
}

// widgetReconciler keeps spec.gadgets Gadgets per Widget. It relies on the
// client seeing its own writes: it counts gadgets in the cache and creates
// the missing ones, with random names, so a stale read would create too
// many.
type widgetReconciler struct {
	c     *Client
	calls atomic.Int64
}

func (r *widgetReconciler) Reconcile(ctx context.Context, req Request) (Result, error) {
	r.calls.Add(1)
	w, err := Get[*widget](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	gs, err := List[*gadget](ctx, r.c, store.ListOptions{Namespace: w.Namespace, Fields: map[string]string{store.IndexOwner: w.UID}})
	if err != nil {
		return Result{}, err
	}
	for i := len(gs); i < w.Spec.Gadgets; i++ {
		g := &gadget{ObjectMeta: objects.ObjectMeta{Namespace: w.Namespace, GenerateName: w.Name + "-",
			OwnerReferences: []objects.OwnerReference{NewControllerRef(w)}}}
		if err := r.c.Create(ctx, g); err != nil {
			return Result{}, err
		}
	}
	if w.Status.Gadgets != len(gs) {
		w.Status.Gadgets = len(gs)
		if err := r.c.UpdateStatus(ctx, w); err != nil {
			return Result{}, err
		}
	}
	return Result{}, nil
}

func TestOwnKindsWorkLikeBuiltins(t *testing.T) {
	var r *widgetReconciler
	e := newEnv(t, withScheme(widgetScheme(t)), withControllers(func(m *Manager) error {
		r = &widgetReconciler{c: m.Client()}
		// Several workers and a flood of changes: the read-your-writes
		// guarantee must keep the count exact.
		return m.Add(Controller{Name: "widget", For: "Widget", Owns: []string{"Gadget"}, Reconciler: r, Workers: 4})
	}))
	e.create(&widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w"}, Spec: widgetSpec{Gadgets: 5}})
	gadgets := func(tx store.ReadTx) (bool, string) {
		gs, _ := tx.List("Gadget", store.ListOptions{Namespace: "default"})
		w, err := tx.Get("Widget", objects.Key{Namespace: "default", Name: "w"})
		if err != nil {
			return false, err.Error()
		}
		want := w.(*widget).Spec.Gadgets
		return len(gs) == want && w.(*widget).Status.Gadgets == want, fmt.Sprintf("%d gadgets, status %d, want %d", len(gs), w.(*widget).Status.Gadgets, want)
	}
	e.waitFor("5 gadgets", gadgets)

	// Deleting a gadget reconciles its owner through the owner reference.
	g := e.list("Gadget", store.ListOptions{Namespace: "default"})[0]
	require.NoError(t, e.s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Gadget", g.GetObjectMeta().Key(), store.DeleteOptions{})
		return err
	}))
	e.waitFor("a replacement gadget", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get("Gadget", g.GetObjectMeta().Key())
		ok, seen := gadgets(tx)
		return ok && err != nil, seen
	})
	for i := 0; i < 20; i++ {
		e.mutate("Widget", objects.Key{Namespace: "default", Name: "w"}, func(o objects.Object) { o.(*widget).Spec.Gadgets++ })
	}
	e.waitFor("25 gadgets", gadgets)
	require.Len(t, e.list("Gadget", store.ListOptions{}), 25)
}

func TestWatchMapsOtherKinds(t *testing.T) {
	var seen sync.Map
	e := newEnv(t, withControllers(func(m *Manager) error {
		return m.Add(Controller{
			Name: "cm", For: "Secret",
			Watches: []Watch{{Kind: "ConfigMap", Map: func(obj objects.Object) []Request {
				if s := obj.GetObjectMeta().Labels["secret"]; s != "" {
					return []Request{{Namespace: obj.GetObjectMeta().Namespace, Name: s}}
				}
				return nil
			}}},
			Reconciler: ReconcilerFunc(func(ctx context.Context, req Request) (Result, error) {
				seen.Store(req, true)
				return Result{}, nil
			}),
		})
	}))
	e.create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c", Labels: map[string]string{"secret": "s1"}}})
	require.Eventually(t, func() bool { _, ok := seen.Load(Request{Namespace: "default", Name: "s1"}); return ok }, waitTimeout, time.Millisecond)
}

// script is a reconciler whose behaviour per call is given by a function.
type script struct {
	mu    sync.Mutex
	calls int
	fn    func(ctx context.Context, call int) (Result, error)
	ch    chan int
}

func (s *script) Reconcile(ctx context.Context, _ Request) (Result, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	res, err := s.fn(ctx, n)
	s.ch <- n
	return res, err
}

func (s *script) waitCall(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case got := <-s.ch:
			if got >= n {
				return
			}
		case <-deadline:
			t.Fatalf("reconcile call %d did not happen", n)
		}
	}
}

func (s *script) noCall(t *testing.T) {
	t.Helper()
	select {
	case n := <-s.ch:
		t.Fatalf("unexpected reconcile call %d", n)
	default:
	}
}

func scriptEnv(t *testing.T, sc *script, spec Controller) *env {
	sc.ch = make(chan int, 100)
	spec.Name, spec.For, spec.Reconciler = "script", "ConfigMap", sc
	e := newEnv(t, withControllers(func(m *Manager) error { return m.Add(spec) }))
	e.create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c"}})
	return e
}

func TestPanicIsRecoveredAndRetried(t *testing.T) {
	sc := &script{fn: func(ctx context.Context, call int) (Result, error) {
		if call == 1 {
			panic("boom")
		}
		return Result{}, nil
	}}
	scriptEnv(t, sc, Controller{})
	sc.waitCall(t, 2)
}

func TestErrorsBackOffTerminalErrorsStop(t *testing.T) {
	sc := &script{fn: func(ctx context.Context, call int) (Result, error) {
		if call < 4 {
			return Result{}, errors.New("transient")
		}
		return Result{}, Terminal(errors.New("bad spec"))
	}}
	e := scriptEnv(t, sc, Controller{BaseDelay: time.Millisecond})
	sc.waitCall(t, 4)
	// A terminal error is not retried: stopping the manager proves no
	// further call was queued (a retry would be a fifth call by now or
	// never, so check the queue instead of waiting).
	r := e.m.currentRun()
	require.Eventually(t, func() bool { return r.controllers[0].queue.Waiting() == 0 && r.controllers[0].queue.Len() == 0 },
		waitTimeout, time.Millisecond)
	sc.noCall(t)
	require.True(t, IsTerminal(fmt.Errorf("wrapped: %w", Terminal(errors.New("x")))))
	require.Nil(t, Terminal(nil))
}

func TestRequeueAfterUsesTheClock(t *testing.T) {
	sc := &script{fn: func(ctx context.Context, call int) (Result, error) {
		return Result{RequeueAfter: time.Minute}, nil
	}}
	e := scriptEnv(t, sc, Controller{})
	sc.waitCall(t, 1)
	require.NoError(t, e.clock.BlockUntilContext(context.Background(), 1))
	sc.noCall(t)
	e.clock.Advance(time.Minute)
	sc.waitCall(t, 2)
}

func TestReconcileTimeout(t *testing.T) {
	sc := &script{fn: func(ctx context.Context, call int) (Result, error) {
		if call == 1 {
			<-ctx.Done() // a reconcile that hangs until its deadline
			return Result{}, ctx.Err()
		}
		return Result{}, nil
	}}
	scriptEnv(t, sc, Controller{Timeout: 10 * time.Millisecond})
	sc.waitCall(t, 2)
}

func TestRunStopsWhenStoreCloses(t *testing.T) {
	e := newEnv(t, withControllers(func(m *Manager) error {
		return m.Add(Controller{Name: "x", For: "Pod", Reconciler: ReconcilerFunc(func(context.Context, Request) (Result, error) {
			return Result{}, nil
		})})
	}))
	require.NoError(t, e.s.Close())
	select {
	case err := <-e.done:
		require.ErrorIs(t, err, store.ErrClosed)
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return when the store closed")
	}
	e.cancel()
	e.cancel = nil
}

func TestAddValidates(t *testing.T) {
	m, err := NewManager(newStoreForTest(t))
	require.NoError(t, err)
	ok := ReconcilerFunc(func(context.Context, Request) (Result, error) { return Result{}, nil })
	require.ErrorIs(t, m.Add(Controller{Name: "a", For: "Nope", Reconciler: ok}), store.ErrUnknownKind)
	require.Error(t, m.Add(Controller{Name: "a", For: "Pod"}))
	require.NoError(t, m.Add(Controller{Name: "a", For: "Pod", Reconciler: ok}))
	require.Error(t, m.Add(Controller{Name: "a", For: "Pod", Reconciler: ok}))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	require.Eventually(t, func() bool { return m.currentRun() != nil }, waitTimeout, time.Millisecond)
	require.Error(t, m.Add(Controller{Name: "b", For: "Pod", Reconciler: ok}))
	require.Error(t, m.Run(ctx))
	cancel()
	require.NoError(t, <-done)
	// Run may run again.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- m.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
}

// Workers: N reconciles of different objects run at once, and never more.
func TestWorkersRunConcurrently(t *testing.T) {
	const workers = 3
	var (
		mu        sync.Mutex
		inFlight  int
		most      int
		allIn     = make(chan struct{})
		closeOnce sync.Once
	)
	e := newEnv(t, withControllers(func(m *Manager) error {
		return m.Add(Controller{Name: "conc", For: "ConfigMap", Workers: workers,
			Reconciler: ReconcilerFunc(func(ctx context.Context, _ Request) (Result, error) {
				mu.Lock()
				inFlight++
				most = max(most, inFlight)
				if inFlight == workers {
					closeOnce.Do(func() { close(allIn) })
				}
				mu.Unlock()
				// Each reconcile holds its worker until all are busy: with
				// fewer workers this never happens and the test times out.
				select {
				case <-allIn:
				case <-ctx.Done():
				}
				mu.Lock()
				inFlight--
				mu.Unlock()
				return Result{}, nil
			})})
	}))
	for i := range 2 * workers {
		e.create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("c%d", i)}})
	}
	select {
	case <-allIn:
	case <-time.After(waitTimeout):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("never %d reconciles at once; at most %d", workers, most)
	}
	c := e.controller("conc")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return c.queue.Len() == 0 && inFlight == 0
	}, waitTimeout, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, workers, most)
}

// gatedStore holds every List of one kind until the test opens the gate,
// so that a cache of that kind cannot fill.
type gatedStore struct {
	store.Store
	kind string
	gate chan struct{}
}

func (s *gatedStore) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	return s.Store.View(ctx, func(tx store.ReadTx) error { return fn(gatedTx{tx, s}) })
}

type gatedTx struct {
	store.ReadTx
	s *gatedStore
}

func (tx gatedTx) List(kind string, opts store.ListOptions) ([]objects.Object, error) {
	if kind == tx.s.kind {
		<-tx.s.gate
	}
	return tx.ReadTx.List(kind, opts)
}

// Workers start only once every cache has listed its kind: while the
// Secret cache cannot fill, the ConfigMap already cached is not
// reconciled, and when it runs the reconcile finds every Secret.
func TestWorkersStartAfterCachesSync(t *testing.T) {
	s := newStoreForTest(t)
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Create(&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "default"}}); err != nil {
			return err
		}
		if err := tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "c"}}); err != nil {
			return err
		}
		for i := range 50 {
			if err := tx.Create(&objects.Secret{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("s%d", i)}}); err != nil {
				return err
			}
		}
		return nil
	}))
	gs := &gatedStore{Store: s, kind: "Secret", gate: make(chan struct{})}
	m, err := NewManager(gs)
	require.NoError(t, err)
	type call struct {
		synced  bool
		secrets int
	}
	calls := make(chan call, 10)
	require.NoError(t, m.Add(Controller{Name: "x", For: "ConfigMap",
		Watches: []Watch{{Kind: "Secret", Map: func(objects.Object) []Request { return nil }}},
		Reconciler: ReconcilerFunc(func(ctx context.Context, req Request) (Result, error) {
			synced := true
			for _, inf := range m.currentRun().informers {
				synced = synced && inf.HasSynced()
			}
			secrets, err := m.Client().List(ctx, "Secret", store.ListOptions{Namespace: "default"})
			calls <- call{synced, len(secrets)}
			return Result{}, err
		})}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var openOnce sync.Once
	open := func() { openOnce.Do(func() { close(gs.gate) }) }
	defer func() {
		open() // a cache blocked in its list would keep Run from returning
		cancel()
		require.NoError(t, <-done)
	}()

	// The ConfigMap cache fills and queues "c"; its worker must not run.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitTimeout)
	for queued := false; !queued; {
		select {
		case c := <-calls:
			t.Fatalf("reconciled before the Secret cache filled: %+v", c)
		case <-deadline:
			t.Fatal("the ConfigMap cache never queued its object")
		case <-tick.C:
			r := m.currentRun()
			queued = r != nil && r.informer("ConfigMap").HasSynced() && r.controllers[0].queue.Len() == 1
		}
	}
	select {
	case c := <-calls:
		t.Fatalf("reconciled before the Secret cache filled: %+v", c)
	default:
	}
	open()
	select {
	case c := <-calls:
		require.True(t, c.synced, "a cache had not synced")
		require.Equal(t, 50, c.secrets)
	case <-time.After(waitTimeout):
		t.Fatal("never reconciled")
	}
}
