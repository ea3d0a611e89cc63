package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/workqueue"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func gcEnv(t *testing.T, opts ...envOption) *env {
	return newEnv(t, append(opts, withControllers(AddBuiltins))...)
}

func (e *env) delete(kind string, key objects.Key, policy store.PropagationPolicy) {
	e.t.Helper()
	require.NoError(e.t, e.s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete(kind, key, store.DeleteOptions{PropagationPolicy: policy})
		return err
	}))
}

func countKind(tx store.ReadTx, kind, ns string) int {
	objs, _ := tx.List(kind, store.ListOptions{Namespace: ns})
	return len(objs)
}

// removals records the revision at which each object left the store.
type removals struct {
	mu   sync.Mutex
	at   map[string]int64 // "Kind name" -> revision
	seen []string         // the changes of Deployments, described, in order
	// foreground holds "Kind name" of the objects seen deleting with the
	// foregroundDeletion finalizer, with the revision of that change.
	foreground map[string]int64
	rev        int64         // of the last event handled
	handled    chan struct{} // a token after each event handled
}

// watchRemovals records removals until the returned stop, which first
// waits until every commit made before it is recorded.
func (e *env) watchRemovals() (*removals, func()) {
	r := &removals{at: map[string]int64{}, foreground: map[string]int64{}, handled: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := e.s.Watch(ctx, store.WatchOptions{Revision: e.s.Revision(), Buffer: 1 << 20})
	require.NoError(e.t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.Events() {
			r.mu.Lock()
			r.record(ev)
			if !ev.More() { // the revision's last event
				r.rev = ev.Revision
			}
			r.mu.Unlock()
			select {
			case r.handled <- struct{}{}:
			default:
			}
		}
	}()
	return r, func() {
		defer func() {
			w.Stop()
			cancel()
			<-done
		}()
		target := e.s.Revision()
		deadline := time.NewTimer(waitTimeout)
		defer deadline.Stop()
		for {
			r.mu.Lock()
			rev := r.rev
			r.mu.Unlock()
			if rev >= target {
				return
			}
			select {
			case <-r.handled:
			case <-deadline.C:
				e.t.Fatalf("the removals' watch is at revision %d, the store at %d", rev, target)
			}
		}
	}
}

// record notes ev. r.mu is held.
func (r *removals) record(ev store.Event) {
	if ev.Kind() == "Event" {
		return
	}
	what := ev.Kind() + " " + ev.Key().Name
	if ev.Kind() == "Deployment" {
		m := ev.Object().GetObjectMeta()
		r.seen = append(r.seen, fmt.Sprintf("%v at %d: deletionTimestamp %v, finalizers %v", ev.Type, ev.Revision, m.DeletionTimestamp, m.Finalizers))
	}
	if ev.Type == store.Deleted {
		r.at[what] = ev.Revision
	} else if m := ev.Object().GetObjectMeta(); m.DeletionTimestamp != nil && m.HasFinalizer(objects.FinalizerForeground) {
		if _, ok := r.foreground[what]; !ok {
			r.foreground[what] = ev.Revision
		}
	}
}

// The bar: deleting a Deployment with foreground propagation
// leaves no ReplicaSet or pod, and the Deployment disappears last.
func TestForegroundDeletionOfDeployment(t *testing.T) {
	e := gcEnv(t)
	e.runKubelet(nil)
	e.create(newDeployment("web", 4, "app:1"))
	e.waitFor("v1", rolledOut("web", "app:1"))
	setImage(e, "web", "app:2")
	e.waitFor("v2", rolledOut("web", "app:2")) // two ReplicaSets now
	require.Len(t, e.list(kindReplicaSet, store.ListOptions{}), 2)

	rm, stop := e.watchRemovals()
	e.delete(kindDeployment, dkey("web"), store.DeletePropagationForeground)
	e.waitFor("deployment gone", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindDeployment, dkey("web"))
		return err != nil, fmt.Sprintf("%d replicasets, %d pods", countKind(tx, kindReplicaSet, ""), countKind(tx, kindPod, ""))
	})
	stop()
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		require.Zero(t, countKind(tx, kindReplicaSet, ""))
		require.Zero(t, countKind(tx, kindPod, ""))
		return nil
	}))
	last := rm.at["Deployment web"]
	require.NotZero(t, last)
	// The deployment was kept, marked for foreground deletion, while its
	// dependents went (the collector may finish before a read could see it,
	// so the watch is what tells).
	marked := rm.foreground["Deployment web"]
	require.NotZero(t, marked, "the deployment is kept with the foregroundDeletion finalizer while its dependents go; its changes: %v", rm.seen)
	require.Less(t, marked, last)
	others := 0
	for what, rev := range rm.at {
		if what != "Deployment web" {
			others++
			require.Less(t, rev, last, "%s went after the deployment", what)
			require.Greater(t, rev, marked, "%s went before the deployment was marked", what)
		}
	}
	require.Equal(t, 2+4, others, "2 replicasets and 4 pods removed: %v", rm.at)
}

func TestBackgroundDeletion(t *testing.T) {
	e := gcEnv(t)
	e.create(newReplicaSet("web", 3, map[string]string{"app": "web"}))
	e.waitFor("3 pods", rsSettled("web", 3, 0, 0))
	e.delete(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"}, store.DeletePropagationBackground)
	_, err := e.get(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"})
	require.ErrorIs(t, err, store.ErrNotFound, "the owner goes at once")
	e.waitFor("pods collected", func(tx store.ReadTx) (bool, string) {
		n := countKind(tx, kindPod, "")
		return n == 0, fmt.Sprint(n, " pods")
	})
}

func TestOrphanDeletion(t *testing.T) {
	e := gcEnv(t)
	e.create(newReplicaSet("web", 3, map[string]string{"app": "web"}))
	e.waitFor("3 pods", rsSettled("web", 3, 0, 0))
	e.delete(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"}, store.DeletePropagationOrphan)
	e.waitFor("replicaset gone, pods orphaned", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"})
		objs, _ := tx.List(kindPod, store.ListOptions{})
		orphans := 0
		for _, o := range objs {
			if len(o.GetObjectMeta().OwnerReferences) == 0 {
				orphans++
			}
		}
		return err != nil && orphans == 3 && len(objs) == 3, fmt.Sprintf("%d pods, %d orphans", len(objs), orphans)
	})
}

func TestDependentWithTwoOwners(t *testing.T) {
	e := gcEnv(t)
	a := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "a"}}
	b := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "b"}}
	e.create(a, b)
	dep := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "dep", OwnerReferences: []objects.OwnerReference{
		{APIVersion: "v1", Kind: "ConfigMap", Name: "a", UID: a.UID},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "b", UID: b.UID},
	}}}
	e.create(dep)
	e.delete("ConfigMap", a.Key(), "")
	e.waitFor("reference to a removed", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get("ConfigMap", dep.Key())
		if err != nil {
			return false, err.Error()
		}
		refs := o.GetObjectMeta().OwnerReferences
		return len(refs) == 1 && refs[0].UID == b.UID, fmt.Sprintf("%+v", refs)
	})
	e.delete("ConfigMap", b.Key(), "")
	e.waitFor("dependent collected", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get("ConfigMap", dep.Key())
		return err != nil, fmt.Sprint(err)
	})
}

// An object created with a reference to an owner that no longer exists is
// collected; one whose owner kind the store does not know is left alone.
func TestDanglingReference(t *testing.T) {
	e := gcEnv(t)
	e.create(
		&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "dangling", OwnerReferences: []objects.OwnerReference{
			{APIVersion: "v1", Kind: "ConfigMap", Name: "ghost", UID: "ghost-uid"}}}},
		&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "foreign", OwnerReferences: []objects.OwnerReference{
			{APIVersion: "example.com/v1", Kind: "Unknown", Name: "x", UID: "x-uid"}}}},
	)
	e.waitFor("dangling collected", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: "dangling"})
		return err != nil, fmt.Sprint(err)
	})
	_, err := e.get("ConfigMap", objects.Key{Namespace: "default", Name: "foreign"})
	require.NoError(t, err)
}

func TestGarbageCollectsHostKinds(t *testing.T) {
	e := gcEnv(t, withScheme(widgetScheme(t)), withControllers(func(m *Manager) error {
		return m.Add(Controller{Name: "widget", For: "Widget", Owns: []string{"Gadget"}, Reconciler: &widgetReconciler{c: m.Client()}})
	}))
	e.create(&widget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "w"}, Spec: widgetSpec{Gadgets: 3}})
	e.waitFor("3 gadgets", func(tx store.ReadTx) (bool, string) {
		n := countKind(tx, "Gadget", "")
		return n == 3, fmt.Sprint(n)
	})
	e.delete("Widget", objects.Key{Namespace: "default", Name: "w"}, store.DeletePropagationForeground)
	e.waitFor("widget and gadgets gone", func(tx store.ReadTx) (bool, string) {
		g := countKind(tx, "Gadget", "")
		w := countKind(tx, "Widget", "")
		return g == 0 && w == 0, fmt.Sprintf("%d widgets %d gadgets", w, g)
	})
}

// Owners deleted while the collector was not running are found when it
// starts again.
func TestGarbageCollectorCatchesUp(t *testing.T) {
	e := gcEnv(t)
	e.create(newReplicaSet("web", 2, map[string]string{"app": "web"}))
	e.waitFor("2 pods", rsSettled("web", 2, 0, 0))
	e.stop()
	e.delete(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"}, "")
	require.Len(t, e.list(kindPod, store.ListOptions{}), 2)
	e.start()
	e.waitFor("pods collected", func(tx store.ReadTx) (bool, string) {
		n := countKind(tx, kindPod, "")
		return n == 0, fmt.Sprint(n)
	})
}

func TestNamespaceDeletion(t *testing.T) {
	e := gcEnv(t)
	e.runKubelet(nil)
	e.createNamespace("team")
	e.waitFor("namespace finalizer", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindNamespace, objects.Key{Name: "team"})
		if err != nil {
			return false, err.Error()
		}
		return o.GetObjectMeta().HasFinalizer(namespaceFinalizer), fmt.Sprint(o.GetObjectMeta().Finalizers)
	})
	d := newDeployment("web", 3, "app:1")
	d.Namespace = "team"
	// A finalizer of the host's holds one object until the test lets go.
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "team", Name: "cfg", Finalizers: []string{"example.com/hold"}}}
	e.create(d, cm)
	e.waitFor("3 pods in team", func(tx store.ReadTx) (bool, string) {
		n := countKind(tx, kindPod, "team")
		return n == 3, fmt.Sprint(n)
	})
	keep := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "keep"}}
	e.create(keep)

	e.delete(kindNamespace, objects.Key{Name: "team"}, "")
	o, err := e.get(kindNamespace, objects.Key{Name: "team"})
	require.NoError(t, err, "the namespace is kept while it has content")
	require.True(t, o.GetObjectMeta().IsDeleting())
	// Nothing new may be created in it meanwhile.
	err = e.m.Client().Create(context.Background(), &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "team", Name: "late"}})
	require.ErrorIs(t, err, ErrNamespaceTerminating)
	e.waitFor("everything else gone, namespace Terminating", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindNamespace, objects.Key{Name: "team"})
		if err != nil {
			return false, err.Error()
		}
		left := 0
		for _, k := range e.s.Scheme().Kinds() {
			if k.Namespaced {
				left += countKind(tx, k.Kind, "team")
			}
		}
		return left == 1 && o.(*objects.Namespace).Status.Phase == objects.NamespaceTerminating, fmt.Sprintf("%d left", left)
	})
	e.mutate("ConfigMap", cm.Key(), func(o objects.Object) { o.GetObjectMeta().Finalizers = nil })

	e.waitFor("namespace gone", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindNamespace, objects.Key{Name: "team"})
		left := 0
		for _, k := range e.s.Scheme().Kinds() {
			if k.Namespaced {
				left += countKind(tx, k.Kind, "team")
			}
		}
		return err != nil && left == 0, fmt.Sprintf("namespace: %v; %d objects left", err, left)
	})
	_, err = e.get("ConfigMap", keep.Key())
	require.NoError(t, err, "other namespaces are untouched")
}

// A namespace removed at once (its finalizer removed by hand) still has
// its content removed. (A namespace the collector never saw is left
// alone.)
func TestVanishedNamespaceIsEmptied(t *testing.T) {
	e := gcEnv(t)
	e.create(&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "gone"}},
		&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "gone", Name: "cfg"}})
	// The namespace has its finalizer from its creation; removed, it is
	// given back by the collector, once it has seen the namespace.
	e.mutate(kindNamespace, objects.Key{Name: "gone"}, func(o objects.Object) { o.GetObjectMeta().Finalizers = nil })
	e.waitFor("the collector saw the namespace", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindNamespace, objects.Key{Name: "gone"})
		return err == nil && o.GetObjectMeta().HasFinalizer(namespaceFinalizer), fmt.Sprint(err)
	})
	require.NoError(t, e.s.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get(kindNamespace, objects.Key{Name: "gone"})
		if err != nil {
			return err
		}
		o.GetObjectMeta().Finalizers = nil
		if err := tx.Update(o); err != nil {
			return err
		}
		_, err = tx.Delete(kindNamespace, objects.Key{Name: "gone"}, store.DeleteOptions{})
		return err
	}))
	e.waitFor("content removed", func(tx store.ReadTx) (bool, string) {
		n := countKind(tx, "ConfigMap", "gone")
		return n == 0, fmt.Sprint(n)
	})
}

// A cluster-scoped owner (a Node) collects its namespaced dependents.
func TestClusterScopedOwner(t *testing.T) {
	e := gcEnv(t)
	n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"}}
	e.create(n)
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "per-node", OwnerReferences: []objects.OwnerReference{
		{APIVersion: "v1", Kind: "Node", Name: "n1", UID: n.UID}}}}
	e.create(cm)
	e.delete("Node", objects.Key{Name: "n1"}, "")
	e.waitFor("dependent of the node collected", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get("ConfigMap", cm.Key())
		return err != nil, fmt.Sprint(err)
	})
}

// Events are in the graph only while they have owners (the collector skips
// the changes of the others): an owned Event goes with its owner, one whose
// reference was removed and one that never had any stay, and an Event that
// owns an object takes it along.
func TestEventsInTheGraph(t *testing.T) {
	e := gcEnv(t)
	owner := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "owner"}}
	e.create(owner)
	ref := []objects.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}}
	event := func(name string, refs []objects.OwnerReference) *objects.Event {
		return &objects.Event{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name, OwnerReferences: refs},
			InvolvedObject: objects.ObjectReference{Kind: "ConfigMap", Namespace: "default", Name: "owner"}, Reason: "Test", Type: objects.EventTypeNormal}
	}
	owned, freed, loose := event("owned", ref), event("freed", ref), event("loose", nil)
	e.create(owned, freed, loose)
	e.mutate("Event", freed.Key(), func(obj objects.Object) { obj.GetObjectMeta().OwnerReferences = nil })
	e.delete("ConfigMap", owner.Key(), "")
	e.waitFor("the owned event collected", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get("Event", owned.Key())
		return errors.Is(err, store.ErrNotFound), fmt.Sprint(err)
	})
	for _, ev := range []*objects.Event{freed, loose} {
		_, err := e.get("Event", ev.Key())
		require.NoError(t, err, "event %s has no owner", ev.Name)
	}

	dep := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "dep", OwnerReferences: []objects.OwnerReference{
		{APIVersion: "v1", Kind: "Event", Name: "loose", UID: loose.UID}}}}
	e.create(dep)
	e.delete("Event", loose.Key(), "")
	e.waitFor("the event's dependent collected", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get("ConfigMap", dep.Key())
		return errors.Is(err, store.ErrNotFound), fmt.Sprint(err)
	})
}

// The graph keeps an Event while it has owners and only then: changes of
// Events without owners leave it as it was.
func TestGraphOfEvents(t *testing.T) {
	gc := &garbageCollector{nodes: map[string]objects.Object{}, dependents: map[string]int32{}, namespaces: map[string]nsState{},
		queue: workqueue.New[gcItem](workqueue.Options{})}
	defer gc.queue.ShutDown()
	ref := []objects.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "owner-uid"}}
	event := func(uid string, refs []objects.OwnerReference) *objects.Event {
		ev := &objects.Event{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: uid, UID: uid, OwnerReferences: refs}}
		ev.Kind = kindEvent
		return ev
	}
	graph := func() string {
		return fmt.Sprintf("%d nodes, %d events, %d dependents of owner", len(gc.nodes), gc.events, gc.dependents["owner-uid"])
	}

	gc.changed(event("loose", nil))
	require.Equal(t, "0 nodes, 0 events, 0 dependents of owner", graph())
	gc.changed(event("a", ref))
	gc.changed(event("b", ref))
	gc.changed(event("a", ref)) // a new version
	require.Equal(t, "2 nodes, 2 events, 2 dependents of owner", graph())
	gc.changed(event("a", nil)) // its reference removed
	require.Equal(t, "1 nodes, 1 events, 1 dependents of owner", graph())
	gc.deleted(event("loose", nil))
	gc.deleted(event("a", nil))
	require.Equal(t, "1 nodes, 1 events, 1 dependents of owner", graph())
	gc.deleted(event("b", ref))
	require.Equal(t, "0 nodes, 0 events, 0 dependents of owner", graph())
}
