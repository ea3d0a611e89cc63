package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/events"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// Group runs the agents of many nodes in one process. Its agents share one
// pod watch (dispatched by spec.nodeName), one watch per configuration
// kind, and one status writer that batches the writes of all of them, so
// the store's cost grows with the pods, not with the nodes.
//
// Nodes can be added and removed before and while Run runs. Methods are
// safe for concurrent use.
type Group struct {
	store  store.Store
	cfg    config
	writer *writer
	events *events.Queue

	mu      sync.Mutex
	members map[string]*member
	ctx     context.Context // of Run, while it runs
	synced  bool
	// pods are the pods bound to nodes without a running agent, by node
	// and UID, for when one starts. A running agent holds its node's.
	pods map[string]map[string]*objects.Pod
}

type member struct {
	agent  *Agent
	cancel context.CancelFunc
	done   chan struct{}
}

// NewGroup returns an empty group. opts apply to every agent; Add can add
// per-node ones.
func NewGroup(s store.Store, opts ...Option) (*Group, error) {
	if s == nil {
		return nil, errors.New("nodeagent.NewGroup: store is nil")
	}
	cfg := defaultConfig()
	if err := cfg.apply(opts); err != nil {
		return nil, err
	}
	g := &Group{store: s, cfg: cfg, members: map[string]*member{}, pods: map[string]map[string]*objects.Pod{}}
	g.writer = newWriter(s, &g.cfg)
	g.events = newEventQueue(&g.cfg)
	return g, nil
}

// Add runs an agent for node on rt, with the group's options and then
// opts. While Run runs the agent starts at once; otherwise when Run starts.
// Adding a node again replaces its agent (the new one adopts what the old
// one ran, when given the same runtime); ctx bounds the wait for the old
// agent to stop.
func (g *Group) Add(ctx context.Context, node string, rt runtime.Runtime, opts ...Option) error {
	cfg := g.cfg
	if err := cfg.apply(opts); err != nil {
		return err
	}
	a, err := newAgent(g.store, node, rt, cfg)
	if err != nil {
		return err
	}
	a.writer, a.events, a.grouped = g.writer, g.events, true
	g.mu.Lock()
	stopOld := g.dropLocked(node)
	g.mu.Unlock()
	if stopOld != nil {
		if err := stopOld(ctx); err != nil {
			return fmt.Errorf("nodeagent: replacing the agent of %s: %w", node, err)
		}
	}
	m := &member{agent: a}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members[node] != nil {
		return fmt.Errorf("nodeagent: node %s was added twice at once", node)
	}
	g.members[node] = m
	if g.ctx != nil {
		g.startLocked(m)
	}
	return nil
}

// Remove stops the agent of node and waits for it to return (or for ctx to
// end). Its pods keep running in the runtime. Removing an unknown node does
// nothing.
func (g *Group) Remove(ctx context.Context, node string) error {
	g.mu.Lock()
	stop := g.dropLocked(node)
	g.mu.Unlock()
	if stop == nil {
		return nil
	}
	return stop(ctx)
}

// Agent returns the agent of node, if the group has one.
func (g *Group) Agent(node string) (*Agent, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.members[node]
	if m == nil {
		return nil, false
	}
	return m.agent, true
}

// stopper returns a function that stops the member's agent and waits for
// it. The group's mu is held; the function is called without it.
func (m *member) stopper() func(context.Context) error {
	cancel, done := m.cancel, m.done
	return func(ctx context.Context) error {
		if cancel == nil {
			return nil
		}
		cancel()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startLocked starts a member's agent in the group's Run. g.mu is held.
func (g *Group) startLocked(m *member) {
	ctx, cancel := context.WithCancel(g.ctx)
	m.cancel, m.done = cancel, make(chan struct{})
	m.agent.start(ctx)
	go func() {
		defer close(m.done)
		m.agent.run(ctx)
	}()
	if g.synced {
		pods := make([]*objects.Pod, 0, len(g.pods[m.agent.node]))
		for _, p := range g.pods[m.agent.node] {
			pods = append(pods, p)
		}
		delete(g.pods, m.agent.node)
		m.agent.replacePods(pods)
	}
}

// dropLocked removes the member of node, if any, taking back the pods its
// agent holds, and returns what stops the agent (nil: none runs). g.mu is
// held.
func (g *Group) dropLocked(node string) func(context.Context) error {
	m := g.members[node]
	if m == nil {
		return nil
	}
	delete(g.members, node)
	if m.cancel != nil && g.synced {
		// The agent has had every event of its pods, under g.mu.
		for _, p := range m.agent.boundPods() {
			g.cacheLocked(p)
		}
	}
	return m.stopper()
}

// Run runs every agent, present and future, until ctx ends, then returns
// after all of them have. It returns nil when ctx ended, or the error that
// stopped it (the store closed).
func (g *Group) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	g.mu.Lock()
	if g.ctx != nil {
		g.mu.Unlock()
		return errors.New("nodeagent.Group: Run is already running")
	}
	g.ctx = ctx
	for _, m := range g.members {
		g.startLocked(m)
	}
	g.mu.Unlock()

	eg.Go(func() error { return g.writer.run(ctx) })
	eg.Go(func() error { g.events.Run(ctx); return nil })
	cs := newConfigSource(g.store, g.cfg.log, g.configChanged)
	eg.Go(func() error { return cs.run(ctx) })
	src := &podSource{store: g.store, log: g.cfg.log, sink: g, after: cs.watching}
	eg.Go(func() error { return src.run(ctx) })
	err := eg.Wait()

	g.mu.Lock()
	g.ctx = nil
	g.synced = false
	g.pods = map[string]map[string]*objects.Pod{}
	var ms []*member
	var stops []func(context.Context) error
	for _, m := range g.members {
		ms = append(ms, m)
		stops = append(stops, m.stopper())
	}
	g.mu.Unlock()
	for _, stop := range stops {
		stop(context.Background())
	}
	g.mu.Lock()
	for _, m := range ms {
		m.cancel, m.done = nil, nil
	}
	g.mu.Unlock()
	return ignoreCanceled(err)
}

func (g *Group) replacePods(pods []*objects.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pods = map[string]map[string]*objects.Pod{}
	byNode := map[string][]*objects.Pod{}
	for _, p := range pods {
		if m := g.members[p.Spec.NodeName]; m != nil && m.cancel != nil {
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		} else {
			g.cacheLocked(p)
		}
	}
	g.synced = true
	for node, m := range g.members {
		if m.cancel != nil {
			m.agent.replacePods(byNode[node])
		}
	}
}

func (g *Group) cacheLocked(p *objects.Pod) {
	byUID := g.pods[p.Spec.NodeName]
	if byUID == nil {
		byUID = map[string]*objects.Pod{}
		g.pods[p.Spec.NodeName] = byUID
	}
	byUID[p.UID] = p
}

// running returns the member of node whose agent runs, or nil. g.mu is
// held.
func (g *Group) running(node string) *member {
	if m := g.members[node]; m != nil && m.cancel != nil {
		return m
	}
	return nil
}

func (g *Group) podUpdated(p *objects.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.running(p.Spec.NodeName); m != nil {
		m.agent.podUpdated(p)
	} else {
		g.cacheLocked(p)
	}
}

func (g *Group) podDeleted(p *objects.Pod) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.running(p.Spec.NodeName); m != nil {
		m.agent.podDeleted(p)
		return
	}
	if byUID := g.pods[p.Spec.NodeName]; byUID != nil {
		delete(byUID, p.UID)
		if len(byUID) == 0 {
			delete(g.pods, p.Spec.NodeName)
		}
	}
}

func (g *Group) configChanged(kind, namespace, name string) {
	g.mu.Lock()
	var as []*Agent
	for _, m := range g.members {
		if m.cancel != nil {
			as = append(as, m.agent)
		}
	}
	g.mu.Unlock()
	for _, a := range as {
		a.configChanged(kind, namespace, name)
	}
}
