package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ptr[T any](v T) *T { return &v }

// nodeOpt and podOpt tweak test objects.
type (
	nodeOpt func(*objects.Node)
	podOpt  func(*objects.Pod)
)

func makeNode(name, cpu, mem string, opts ...nodeOpt) *objects.Node {
	n := &objects.Node{
		ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{LabelHostname: name}},
		Status: objects.NodeStatus{Allocatable: objects.ResourceList{
			objects.ResourceCPU:    objects.MustParseQuantity(cpu),
			objects.ResourceMemory: objects.MustParseQuantity(mem),
			objects.ResourcePods:   objects.MustParseQuantity("110"),
		}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabels(kv ...string) nodeOpt {
	return func(n *objects.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaint(key, value string, effect objects.TaintEffect) nodeOpt {
	return func(n *objects.Node) {
		n.Spec.Taints = append(n.Spec.Taints, objects.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withMaxPods(n string) nodeOpt {
	return func(node *objects.Node) { node.Status.Allocatable[objects.ResourcePods] = objects.MustParseQuantity(n) }
}

func cordoned() nodeOpt { return func(n *objects.Node) { n.Spec.Unschedulable = true } }

func withReady(s objects.ConditionStatus) nodeOpt {
	return func(n *objects.Node) {
		n.Status.Conditions = append(n.Status.Conditions, objects.NodeCondition{Type: objects.NodeReady, Status: s})
	}
}

func makePod(name, cpu, mem string, opts ...podOpt) *objects.Pod {
	req := objects.ResourceList{}
	if cpu != "" {
		req[objects.ResourceCPU] = objects.MustParseQuantity(cpu)
	}
	if mem != "" {
		req[objects.ResourceMemory] = objects.MustParseQuantity(mem)
	}
	p := &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{}},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1",
			Resources: objects.ResourceRequirements{Requests: req}}}},
	}
	for _, o := range opts {
		o(p)
	}
	p.Default()
	return p
}

func podLabels(kv ...string) podOpt {
	return func(p *objects.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func nodeSelector(kv ...string) podOpt {
	return func(p *objects.Pod) {
		p.Spec.NodeSelector = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func tolerate(t objects.Toleration) podOpt {
	return func(p *objects.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, t) }
}

func priority(v int32) podOpt { return func(p *objects.Pod) { p.Spec.Priority = &v } }

func withHostPort(port int32) podOpt {
	return func(p *objects.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, objects.ContainerPort{ContainerPort: port, HostPort: port, Protocol: objects.ProtocolTCP})
	}
}

func onNode(n string) podOpt { return func(p *objects.Pod) { p.Spec.NodeName = n } }

func newStore(t testing.TB, opts ...memdb.Option) *memdb.Store {
	t.Helper()
	s, err := memdb.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// create stores objects as given, status included: a new object's status
// is reset, as Kubernetes does it, so it is written after.
func create(t testing.TB, s store.Store, objs ...objects.Object) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			c := o.DeepCopyObject()
			if err := tx.Create(c); err != nil {
				return err
			}
			if !s.Scheme().Lookup(c.GetTypeMeta().Kind).HasStatus() {
				continue
			}
			st := o.DeepCopyObject()
			st.GetObjectMeta().Name = c.GetObjectMeta().Name
			if err := tx.UpdateStatus(st); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// update replaces an object's metadata, spec and status.
func update(t testing.TB, s store.Store, obj objects.Object) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		o := obj.DeepCopyObject()
		if err := tx.Update(o); err != nil {
			return err
		}
		o2 := obj.DeepCopyObject()
		return tx.UpdateStatus(o2)
	})
	require.NoError(t, err)
}

// recorder keeps events for tests.
type recorder struct {
	mu     sync.Mutex
	events []recorded
}

type recorded struct {
	obj                  objects.Key
	kind                 string
	typ, reason, message string
}

func (r *recorder) Event(_ context.Context, obj objects.Object, eventType, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recorded{obj: obj.GetObjectMeta().Key(), kind: obj.GetTypeMeta().Kind, typ: eventType, reason: reason, message: message})
}

func (r *recorder) find(reason string, key objects.Key) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, e := range r.events {
		if e.reason == reason && e.obj == key {
			out = append(out, e)
		}
	}
	return out
}

// run starts a scheduler on s and stops it when the test ends, checking
// that Run returned and left no goroutine behind.
func run(t testing.TB, s store.Store, opts ...Option) *Scheduler {
	t.Helper()
	sch, err := New(s, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})
	return sch
}

func getPod(t testing.TB, s store.Store, key objects.Key) *objects.Pod {
	t.Helper()
	var p *objects.Pod
	err := s.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Pod", key)
		if err != nil {
			return err
		}
		p = o.(*objects.Pod)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	return p
}

func key(name string) objects.Key { return objects.Key{Namespace: "default", Name: name} }

// waitPod waits until cond holds for the pod, and fails showing the pod
// as last seen.
func waitPod(t testing.TB, s store.Store, k objects.Key, what string, cond func(*objects.Pod) bool) *objects.Pod {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond) // polling interval, not synchronisation
	defer tick.Stop()
	var last *objects.Pod
	for time.Now().Before(deadline) {
		last = getPod(t, s, k)
		if last != nil && cond(last) {
			return last
		}
		<-tick.C
	}
	t.Fatalf("pod %s: %s: not reached; last seen: %s", k, what, describePod(last))
	return nil
}

func describePod(p *objects.Pod) string {
	if p == nil {
		return "<gone>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nodeName=%q nominated=%q deleting=%v", p.Spec.NodeName, p.Status.NominatedNodeName, p.DeletionTimestamp != nil)
	for _, c := range p.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message)
	}
	return b.String()
}

func waitBound(t testing.TB, s store.Store, name string) *objects.Pod {
	t.Helper()
	return waitPod(t, s, key(name), "bound", func(p *objects.Pod) bool { return p.Spec.NodeName != "" })
}

func waitUnschedulable(t testing.TB, s store.Store, name, message string) *objects.Pod {
	t.Helper()
	return waitPod(t, s, key(name), "unschedulable with "+message, func(p *objects.Pod) bool {
		c := objects.GetPodCondition(&p.Status, objects.PodScheduled)
		return c != nil && c.Status == objects.ConditionFalse && c.Reason == objects.PodReasonUnschedulable && c.Message == message
	})
}

var _ clockwork.Clock = clockwork.NewFakeClock()
