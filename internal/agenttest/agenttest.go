// Package agenttest runs a real node agent over a runtime, with pods written
// to an in-memory store already bound to the agent's node (Env), or the
// whole orchestrator over runtimes (Cluster), for the end-to-end tests and
// benchmarks of the runtime backends.
package agenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// WaitTimeout bounds WaitPod.
const WaitTimeout = 90 * time.Second

// Env is one node's agent over a runtime and a store of its own.
type Env struct {
	T     *testing.T
	Store store.Store
	Node  string
	Root  string // the agent's volume directory

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
	owned  []io.Closer
}

// New returns an environment for a node named prefix plus a random suffix;
// it stops the agent and closes what it owns when the test ends.
func New(t *testing.T, prefix string) *Env {
	s, err := memdb.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	e := &Env{T: t, Store: s, Node: prefix + hex.EncodeToString(b), Root: t.TempDir()}
	t.Cleanup(e.close)
	return e
}

// Start runs an agent for the node over rt until Stop, with short
// CrashLoopBackOff and relist periods, and then opts.
func (e *Env) Start(rt runtime.Runtime, opts ...nodeagent.Option) {
	e.T.Helper()
	opts = append([]nodeagent.Option{nodeagent.WithRootDir(e.Root),
		nodeagent.WithCrashLoopBackOff(100*time.Millisecond, time.Second, time.Minute),
		nodeagent.WithRelist(time.Second, 10*time.Second)}, opts...)
	a, err := nodeagent.New(e.Store, e.Node, rt, opts...)
	if err != nil {
		e.T.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	e.mu.Lock()
	e.cancel, e.done = cancel, done
	e.mu.Unlock()
}

// Stop stops the agent and waits for Run to return; the pods keep running.
func (e *Env) Stop() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.cancel, e.done = nil, nil
	e.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			e.T.Errorf("agent Run: %v", err)
		}
	case <-time.After(time.Minute):
		e.T.Errorf("agent Run did not return within a minute of its context ending")
	}
}

// Own closes c after the agent has stopped, at the end of the test.
func (e *Env) Own(c io.Closer) {
	e.mu.Lock()
	e.owned = append(e.owned, c)
	e.mu.Unlock()
}

func (e *Env) close() {
	e.Stop()
	for _, c := range e.owned {
		c.Close()
	}
}

// Create stores p, defaulted and bound to the node.
func (e *Env) Create(p *objects.Pod) {
	e.T.Helper()
	p.Spec.NodeName = e.Node
	e.Store.Scheme().Default(p)
	if err := e.Store.Update(context.Background(), func(tx store.Tx) error { return tx.Create(p) }); err != nil {
		e.T.Fatalf("create pod %s: %v", p.Name, err)
	}
}

// Pod reads the pod named name in namespace default.
func (e *Env) Pod(name string) (*objects.Pod, error) {
	var p *objects.Pod
	err := e.Store.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: name})
		if err == nil {
			p = o.(*objects.Pod)
		}
		return err
	})
	return p, err
}

// WaitPod waits until cond holds for the pod, watching the store, and
// fails the test with the pod's last status after WaitTimeout.
func (e *Env) WaitPod(name, what string, cond func(*objects.Pod) bool) *objects.Pod {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	var last *objects.Pod
	for {
		var rev int64
		err := e.Store.View(ctx, func(tx store.ReadTx) error {
			rev = tx.Revision()
			o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: name})
			if err == nil {
				last = o.(*objects.Pod)
			}
			return err
		})
		if err == nil && cond(last) {
			return last
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			e.T.Fatalf("read pod %s: %v", name, err)
		}
		w, err := e.Store.Watch(ctx, store.WatchOptions{Kind: "Pod", Revision: rev,
			ListOptions: store.ListOptions{Namespace: "default"}})
		if err != nil {
			e.T.Fatalf("watch pods: %v", err)
		}
		for ev := range w.Events() {
			if ev.Key().Name != name || ev.Type == store.Deleted {
				continue
			}
			last = ev.Object().(*objects.Pod)
			if cond(last) {
				w.Stop()
				return last
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			if last != nil {
				e.T.Fatalf("pod %s not %s within %v; status %+v", name, what, WaitTimeout, last.Status)
			}
			e.T.Fatalf("pod %s not %s within %v: not found", name, what, WaitTimeout)
		}
		// The watch fell behind: read again and resume.
	}
}

// PodDir is the directory of the agent for pod uid's volumes.
func (e *Env) PodDir(uid string) string { return filepath.Join(e.Root, e.Node, "pods", uid) }

// staleHostIP is an address no agent reports (TEST-NET-1, RFC 5737).
const staleHostIP = "192.0.2.1"

// MarkStale marks the status of the named pods as written by no agent,
// for WaitResynced; call it while no agent runs. The mark is in
// status.hostIP, which an agent sets in every status it publishes (empty
// here: the node is not registered) and never reads.
func (e *Env) MarkStale(names ...string) {
	e.T.Helper()
	err := e.Store.Update(context.Background(), func(tx store.Tx) error {
		for _, n := range names {
			o, err := tx.Get("Pod", objects.Key{Namespace: "default", Name: n})
			if err != nil {
				return err
			}
			p := o.(*objects.Pod)
			p.Status.HostIP, p.Status.HostIPs = staleHostIP, []objects.HostIP{{IP: staleHostIP}}
			if err := tx.UpdateStatus(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.T.Fatalf("marking pods %v stale: %v", names, err)
	}
}

// WaitResynced waits until an agent has replaced the mark of MarkStale in
// the named pods' status, and returns them. An agent publishes a pod's
// status at the end of a sync when it differs from what it last published
// (a new agent has published nothing), after it has listed the pod in the
// runtime and created or started what was missing: so when the mark is
// gone, an agent has completed a sync of the pod since MarkStale, and
// whatever that sync made is in the runtime.
func (e *Env) WaitResynced(names ...string) []*objects.Pod {
	e.T.Helper()
	var out []*objects.Pod
	for _, n := range names {
		out = append(out, e.WaitPod(n, "synced by an agent since MarkStale", func(p *objects.Pod) bool {
			return p.Status.HostIP != staleHostIP
		}))
	}
	return out
}

// Poll calls check every interval until it reports done, and fails the test
// with check's last description of what it saw if timeout passes first. It
// is for conditions with no change feed to wait on, such as what a daemon
// holds.
func Poll(t testing.TB, timeout, every time.Duration, check func() (done bool, seen string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		done, seen := check()
		if done {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("not done within %v: %s", timeout, seen)
		case <-tick.C:
		}
	}
}

// WaitOldInstancesRemoved waits until the runtime holds at most two
// instances of the container name of pod uid, the running one and the
// previous one: the agent removes older ones after a restart, in a sync
// that may come after the status that reports the restart.
func WaitOldInstancesRemoved(t testing.TB, rt runtime.Runtime, uid, name string) {
	t.Helper()
	Poll(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		cs, err := rt.ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid, runtime.LabelContainerName: name}})
		if err != nil {
			return false, err.Error()
		}
		return len(cs) <= 2, fmt.Sprintf("%d instances of %s", len(cs), name)
	})
}

// StatusContainerIDs returns the ids of the containers p's status reports,
// without their runtime:// prefix.
func StatusContainerIDs(p *objects.Pod) []string {
	var ids []string
	for _, cs := range p.Status.ContainerStatuses {
		if _, id, ok := strings.Cut(cs.ContainerID, "://"); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// SameSet reports whether a and b hold the same strings, in any order
// (each string once).
func SameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// RegisterNode stores the Node object of the agent's node, whose Ready
// condition the agent then keeps (WaitNodeReady).
func (e *Env) RegisterNode() {
	e.T.Helper()
	node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: e.Node}}
	e.Store.Scheme().Default(node)
	if err := e.Store.Update(context.Background(), func(tx store.Tx) error { return tx.Create(node) }); err != nil {
		e.T.Fatalf("register node %s: %v", e.Node, err)
	}
}

// WaitNodeReady waits until the node's Ready condition has status want,
// and returns the condition.
func (e *Env) WaitNodeReady(want objects.ConditionStatus) objects.NodeCondition {
	e.T.Helper()
	var c objects.NodeCondition
	Poll(e.T, WaitTimeout, 20*time.Millisecond, func() (bool, string) {
		err := e.Store.View(context.Background(), func(tx store.ReadTx) error {
			o, err := tx.Get("Node", objects.Key{Name: e.Node})
			if err == nil {
				if rc := objects.GetNodeCondition(&o.(*objects.Node).Status, objects.NodeReady); rc != nil {
					c = *rc
				}
			}
			return err
		})
		return err == nil && c.Status == want, fmt.Sprintf("node %s: Ready condition %+v, %v; want %s", e.Node, c, err, want)
	})
	return c
}

// DeletePods deletes the named pods of namespace default in one
// transaction, with the grace period grace (seconds).
func (e *Env) DeletePods(grace int64, names ...string) {
	e.T.Helper()
	err := e.Store.Update(context.Background(), func(tx store.Tx) error {
		for _, n := range names {
			if _, err := tx.Delete("Pod", objects.Key{Namespace: "default", Name: n}, store.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.T.Fatalf("delete pods %v: %v", names, err)
	}
}

// CreatePods creates n pods, prefix-0 to prefix-(n-1), as pod makes them,
// and returns their names.
func (e *Env) CreatePods(n int, prefix string, pod func(name string) *objects.Pod) []string {
	e.T.Helper()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
		e.Create(pod(names[i]))
	}
	return names
}
