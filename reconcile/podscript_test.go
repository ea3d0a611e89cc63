package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Test helpers of the workload controllers that play node agents and
// drive the fake clock.

// runPodScript plays the node agents until the test ends: fn sees every
// pod (a copy read in a write transaction) each time it changes, and
// returns whether it changed its status, which is then stored. fn may be
// called again for the same state after a conflict, so it must decide
// from the pod, not from how often it was called.
func (e *env) runPodScript(fn func(p *objects.Pod) bool) {
	e.runPodActions(func(p *objects.Pod) podAction {
		if fn(p) {
			return updateStatus
		}
		return noAction
	})
}

// podAction is what a pod script does with a pod.
type podAction int

const (
	noAction     podAction = iota
	updateStatus           // store the status fn set
	removePod              // confirm a graceful deletion: delete with grace 0
)

// runNodeAgents plays the node agents of bound pods: they become Running
// and Ready, and a graceful deletion is confirmed at once.
func (e *env) runNodeAgents() {
	e.runNodeAgentsReadying(func(*objects.Pod) bool { return true })
}

// runNodeAgentsReadying plays the node agents of bound pods as
// runNodeAgents does, except that the pods ready refuses never become
// ready.
func (e *env) runNodeAgentsReadying(ready func(p *objects.Pod) bool) {
	e.runPodActions(func(p *objects.Pod) podAction {
		switch {
		case p.Spec.NodeName == "":
			return noAction
		case p.IsDeleting():
			return removePod
		case ready(p) && makeReady(p, e.clock.Now()):
			return updateStatus
		}
		return noAction
	})
}

// runPodActions is runPodScript with deletions.
func (e *env) runPodActions(fn func(p *objects.Pod) podAction) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.podScript(ctx, fn); err != nil && ctx.Err() == nil {
			e.t.Errorf("pod script: %v", err)
		}
	}()
	e.t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func (e *env) podScript(ctx context.Context, fn func(p *objects.Pod) podAction) error {
	var (
		pods []objects.Object
		rev  int64
	)
	if err := e.s.View(ctx, func(tx store.ReadTx) error {
		var err error
		pods, err = tx.List(kindPod, store.ListOptions{})
		rev = tx.Revision()
		return err
	}); err != nil {
		return err
	}
	w, err := e.s.Watch(ctx, store.WatchOptions{Kind: kindPod, Revision: rev, Buffer: 1 << 16})
	if err != nil {
		return err
	}
	defer w.Stop()
	handle := func(key objects.Key) error {
		for {
			err := e.s.Update(ctx, func(tx store.Tx) error {
				o, err := tx.Get(kindPod, key)
				if err != nil {
					return err
				}
				p := o.(*objects.Pod)
				switch fn(p) {
				case updateStatus:
					return tx.UpdateStatus(p)
				case removePod:
					zero := int64(0)
					_, err := tx.Delete(kindPod, key, store.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &store.Preconditions{UID: p.UID}})
					return err
				}
				return nil
			})
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if !errors.Is(err, store.ErrConflict) {
				return err
			}
		}
	}
	for _, o := range pods {
		if err := handle(o.GetObjectMeta().Key()); err != nil {
			return err
		}
	}
	for ev := range w.Events() {
		if ev.Type == store.Deleted {
			continue
		}
		if err := handle(ev.Key()); err != nil {
			return err
		}
	}
	return w.Err()
}

// finishPod makes the pod's one container exit at now, successfully or
// not, as a node agent reports it.
func finishPod(p *objects.Pod, phase objects.PodPhase, now time.Time) {
	code := int32(0)
	if phase == objects.PodFailed {
		code = 1
	}
	p.Status.Phase = phase
	p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionFalse, LastTransitionTime: objects.NewTime(now)}}
	p.Status.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, objects.ContainerStatus{
			Name: c.Name, Image: c.Image,
			State: objects.ContainerState{Terminated: &objects.ContainerStateTerminated{
				ExitCode: code, FinishedAt: objects.NewTime(now), StartedAt: objects.NewTime(now),
			}},
		})
	}
}

// makeReady makes the pod Running and Ready at now; it reports whether it
// changed anything.
func makeReady(p *objects.Pod, now time.Time) bool {
	if p.IsTerminal() || p.IsDeleting() || objects.IsPodReady(p) {
		return false
	}
	p.Status.Phase = objects.PodRunning
	p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue, LastTransitionTime: objects.NewTime(now)}}
	return true
}

// watchPodsT is watchPods stopped when the test ends, however it ends.
func (e *env) watchPodsT(check func(pods map[objects.Key]*objects.Pod) string) (*podWatch, func()) {
	pw, stop := e.watchPods(check)
	e.t.Cleanup(stop)
	return pw, stop
}

// controller returns the work queue of the running controller name.
func (e *env) controller(name string) *controller {
	e.t.Helper()
	var c *controller
	require.Eventually(e.t, func() bool {
		r := e.m.currentRun()
		if r == nil {
			return false
		}
		for _, x := range r.controllers {
			if x.spec.Name == name {
				c = x
				return true
			}
		}
		return false
	}, waitTimeout, time.Millisecond)
	return c
}

// waitDelayed waits until the controller has a request waiting for the
// clock and none queued, so that advancing the fake clock fires it.
func (e *env) waitDelayed(name string) {
	e.t.Helper()
	c := e.controller(name)
	require.Eventually(e.t, func() bool { return c.queue.Waiting() > 0 && c.queue.Len() == 0 }, waitTimeout, time.Millisecond,
		"controller %s never waited for the clock", name)
}

// podsWhere lists the pods of namespace default that keep accepts.
func podsWhere(tx store.ReadTx, keep func(p *objects.Pod) bool) []*objects.Pod {
	objs, _ := tx.List(kindPod, store.ListOptions{Namespace: "default"})
	var out []*objects.Pod
	for _, o := range objs {
		if p := o.(*objects.Pod); keep == nil || keep(p) {
			out = append(out, p)
		}
	}
	return out
}

func podNames(pods []*objects.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = fmt.Sprintf("%s(%s%s)", p.Name, p.Status.Phase, map[bool]string{true: ",deleting"}[p.IsDeleting()])
	}
	return out
}

func viewT(t testing.TB, s store.Store, fn func(tx store.ReadTx)) {
	t.Helper()
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error { fn(tx); return nil }))
}

// mutateStatusPod changes a pod's status as its node agent would.
func (e *env) mutateStatusPod(key objects.Key, fn func(p *objects.Pod)) {
	e.t.Helper()
	for {
		err := e.s.Update(context.Background(), func(tx store.Tx) error {
			o, err := tx.Get(kindPod, key)
			if err != nil {
				return err
			}
			p := o.(*objects.Pod)
			fn(p)
			return tx.UpdateStatus(p)
		})
		if !errors.Is(err, store.ErrConflict) {
			require.NoError(e.t, err)
			return
		}
	}
}

// traced wraps a controller's Reconciler so that tests can tell when it
// has looked at the world as it is now: see reconcileNow.
func traced(c Controller) Controller {
	c.Reconciler = &tracer{inner: c.Reconciler, changed: make(chan struct{})}
	return c
}

// tracer numbers the reconciles as they start and records, per request,
// the number of the latest one that has returned.
type tracer struct {
	inner   Reconciler
	started atomic.Int64

	mu      sync.Mutex
	done    map[Request]int64
	changed chan struct{} // closed and replaced when done changes
}

func (t *tracer) Reconcile(ctx context.Context, req Request) (Result, error) {
	n := t.started.Add(1)
	res, err := t.inner.Reconcile(ctx, req)
	t.mu.Lock()
	if t.done == nil {
		t.done = map[Request]int64{}
	}
	t.done[req] = max(t.done[req], n)
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
	return res, err
}

// reconcileNow makes the traced controller name reconcile req once its
// cache holds the object as the store has it, and waits until that
// reconcile, or a later one, has returned: whatever the controller does at
// the fake clock's current time it has done by then, so a test may assert
// what it did not do.
func (e *env) reconcileNow(name string, req Request) {
	e.t.Helper()
	c := e.controller(name)
	tr, ok := c.spec.Reconciler.(*tracer)
	require.True(e.t, ok, "controller %s is not traced", name)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if obj, err := e.get(c.spec.For, req.Key()); err == nil {
		rev, err := strconv.ParseInt(obj.GetObjectMeta().ResourceVersion, 10, 64)
		require.NoError(e.t, err)
		require.NoError(e.t, e.m.currentRun().informer(c.spec.For).WaitFor(ctx, func(v informer.Locked) bool {
			return v.Observed(req.Key(), rev, false)
		}), "the %s cache never caught up with %v", c.spec.For, req)
	}
	mark := tr.started.Load()
	c.queue.Add(req)
	for {
		tr.mu.Lock()
		n, ch := tr.done[req], tr.changed
		tr.mu.Unlock()
		if n > mark {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			e.t.Fatalf("controller %s did not reconcile %v", name, req)
		}
	}
}
