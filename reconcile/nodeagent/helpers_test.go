package nodeagent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout is a safety net for waits, not a speed check.
const waitTimeout = 20 * time.Second

// epoch is where fake clocks start.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// recorder keeps the events an agent records.
type recorder struct {
	mu     sync.Mutex
	events []string // "Reason: message"
}

func (r *recorder) Event(_ context.Context, obj objects.Object, eventType, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, obj.GetObjectMeta().Name+" "+reason+": "+message)
}

func (r *recorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if strings.Contains(e, substr) {
			n++
		}
	}
	return n
}

// about returns the events recorded about pod with reason, as "Reason:
// message".
func (r *recorder) about(pod, reason string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if rest, ok := strings.CutPrefix(e, pod+" "); ok && strings.HasPrefix(rest, reason+": ") {
			out = append(out, rest)
		}
	}
	return out
}

// wantEvents waits until want events containing substr have been
// recorded (the agent records events from a queue, after the status that
// tells of them may be seen) and fails unless exactly want were.
func (e *env) wantEvents(substr string, want int) {
	e.t.Helper()
	waitFor(waitTimeout, func() bool { return e.rec.count(substr) >= want })
	if n := e.rec.count(substr); n != want {
		e.t.Errorf("%d events %q, want %d; events:\n%v", n, substr, want, e.rec)
	}
}

// wantEventsAtLeast waits until at least want events containing substr
// have been recorded, and fails if that does not happen in time.
func (e *env) wantEventsAtLeast(substr string, want int) {
	e.t.Helper()
	if !waitFor(waitTimeout, func() bool { return e.rec.count(substr) >= want }) {
		e.t.Errorf("%d events %q, want at least %d; events:\n%v", e.rec.count(substr), substr, want, e.rec)
	}
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, "\n")
}

// env is a store, a fake runtime and a running agent.
type env struct {
	t     *testing.T
	store store.Store
	clock clockwork.Clock
	fake  *clockwork.FakeClock // nil with the real clock
	rt    *fake.Runtime
	agent runtime.Runtime // the agent's runtime: rt, or what envOpt.wrap made of it
	rec   *recorder
	node  string
	root  string

	cancel context.CancelFunc
	done   chan error
}

type envOpt struct {
	fakeClock bool
	agent     []nodeagent.Option
	rt        []fake.Option
	// wrap, when set, gives the agent wrap(rt) instead of rt.
	wrap func(*fake.Runtime) runtime.Runtime
}

func newEnv(t *testing.T, o envOpt) *env {
	t.Helper()
	e := &env{t: t, rec: &recorder{}, node: "n1", root: t.TempDir()}
	if o.fakeClock {
		e.fake = clockwork.NewFakeClockAt(epoch)
		e.clock = e.fake
	} else {
		e.clock = clockwork.NewRealClock()
	}
	s, err := memdb.New(memdb.WithScheme(objects.NewScheme()), memdb.WithClock(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	e.store = s
	t.Cleanup(func() { s.Close() })
	rt, err := fake.New(append([]fake.Option{fake.WithClock(e.clock)}, o.rt...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.rt, e.agent = rt, rt
	if o.wrap != nil {
		e.agent = o.wrap(rt)
	}
	e.createNode(e.node)
	e.start(o.agent...)
	return e
}

func (e *env) agentOpts(extra ...nodeagent.Option) []nodeagent.Option {
	return append([]nodeagent.Option{
		nodeagent.WithClock(e.clock), nodeagent.WithEventRecorder(e.rec), nodeagent.WithRootDir(e.root),
	}, extra...)
}

// start runs an agent for e.node over e.rt until stop or the test's end.
func (e *env) start(opts ...nodeagent.Option) {
	e.t.Helper()
	a, err := nodeagent.New(e.store, e.node, e.agent, e.agentOpts(opts...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- a.Run(ctx) }()
	e.t.Cleanup(e.stop)
}

// stop stops the agent and waits for Run to return.
func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		e.t.Errorf("Run did not return within %v of its context ending", waitTimeout)
	}
	e.cancel = nil
}

func (e *env) createNode(name string) {
	e.t.Helper()
	n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}, Status: objects.NodeStatus{
		Capacity:  objects.ResourceList{"cpu": objects.MustParseQuantity("4"), "memory": objects.MustParseQuantity("8Gi"), "pods": objects.MustParseQuantity("110")},
		Addresses: []objects.NodeAddress{{Type: objects.NodeInternalIP, Address: "192.168.0.10"}},
	}}
	n.Default()
	st := n.Status
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Create(n); err != nil {
			return err
		}
		n.Status = st
		return tx.UpdateStatus(n)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// pod returns a pod bound to e.node with one container per name.
func (e *env) pod(name string, containers ...string) *objects.Pod {
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, objects.Container{Name: c, Image: "registry.local/" + c + ":1"})
	}
	p.Spec.NodeName = e.node
	return p
}

func (e *env) create(objs ...objects.Object) {
	e.t.Helper()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			e.store.Scheme().Default(o)
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) get(name string) (*objects.Pod, error) {
	var p *objects.Pod
	err := e.store.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return err
		}
		p = o.(*objects.Pod)
		return nil
	})
	return p, err
}

// waitPod waits until cond holds for the pod (nil when it is gone) and
// returns it; on timeout it fails, showing the last state seen.
func (e *env) waitPod(name, what string, cond func(*objects.Pod) bool) *objects.Pod {
	e.t.Helper()
	return waitPodIn(e.t, e.store, name, what, cond, e.rec)
}

func waitPodIn(t *testing.T, s store.Store, name, what string, cond func(*objects.Pod) bool, rec fmt.Stringer) *objects.Pod {
	t.Helper()
	var last *objects.Pod
	ok := waitFor(waitTimeout, func() bool {
		p, err := getPod(s, name)
		if errors.Is(err, store.ErrNotFound) {
			p = nil
		} else if err != nil {
			return false
		}
		last = p
		return cond(p)
	})
	if !ok {
		t.Fatalf("pod %s: not %s after %v; last seen:\n%s\nevents:\n%v", name, what, waitTimeout, describe(last), rec)
	}
	return last
}

func getPod(s store.Store, name string) (*objects.Pod, error) {
	var p *objects.Pod
	err := s.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return err
		}
		p = o.(*objects.Pod)
		return nil
	})
	return p, err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func describe(p *objects.Pod) string {
	if p == nil {
		return "  (gone)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  phase=%s ip=%s message=%q deleting=%v\n", p.Status.Phase, p.Status.PodIP, p.Status.Message, p.DeletionTimestamp != nil)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, "  condition %s=%s %s\n", c.Type, c.Status, c.Reason)
	}
	for _, cs := range append(append([]objects.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "  container %s ready=%v restarts=%d %s last=%s\n", cs.Name, cs.Ready, cs.RestartCount, stateString(cs.State), stateString(cs.LastTerminationState))
	}
	return b.String()
}

func stateString(s objects.ContainerState) string {
	switch {
	case s.Waiting != nil:
		return "waiting(" + s.Waiting.Reason + ": " + s.Waiting.Message + ")"
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return fmt.Sprintf("terminated(%d %s)", s.Terminated.ExitCode, s.Terminated.Reason)
	}
	return "-"
}

func running(p *objects.Pod) bool {
	return p != nil && p.Status.Phase == objects.PodRunning && objects.IsPodReady(p)
}

func waiting(container, reason string) func(*objects.Pod) bool {
	return func(p *objects.Pod) bool {
		if p == nil {
			return false
		}
		for _, cs := range append(append([]objects.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if cs.Name == container && cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
				return true
			}
		}
		return false
	}
}

func containerStatus(p *objects.Pod, name string) objects.ContainerStatus {
	for _, cs := range append(append([]objects.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if cs.Name == name {
			return cs
		}
	}
	return objects.ContainerStatus{}
}

// advance moves the fake clock once the agent's timers number at least
// waiters (so that what the test expects is scheduled).
func (e *env) advance(waiters int, d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.fake.BlockUntilContext(ctx, waiters); err != nil {
		e.t.Fatalf("waiting for %d timers on the fake clock: %v", waiters, err)
	}
	e.fake.Advance(d)
}
