package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func podTemplate(labels map[string]string, image string) objects.PodTemplateSpec {
	return objects.PodTemplateSpec{
		ObjectMeta: objects.ObjectMeta{Labels: labels},
		Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: image}}},
	}
}

func newReplicaSet(name string, replicas int32, labels map[string]string) *objects.ReplicaSet {
	return &objects.ReplicaSet{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.ReplicaSetSpec{
			Replicas: ptr(replicas),
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, "app:1"),
		},
	}
}

func rsEnv(t testing.TB) *env {
	return newEnv(t, withControllers(func(m *Manager) error { return m.Add(ReplicaSetController(m)) }))
}

// podsOf lists the active pods whose controller is the object with uid.
func podsOf(tx store.ReadTx, uid string) []*objects.Pod {
	objs, _ := tx.List(kindPod, store.ListOptions{Fields: map[string]string{store.IndexOwner: uid}})
	var out []*objects.Pod
	for _, o := range objs {
		p := o.(*objects.Pod)
		if ref := p.ControllerRef(); ref != nil && ref.UID == uid && isPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}

func getRS(tx store.ReadTx, name string) *objects.ReplicaSet {
	o, err := tx.Get(kindReplicaSet, objects.Key{Namespace: "default", Name: name})
	if err != nil {
		return nil
	}
	return o.(*objects.ReplicaSet)
}

// rsSettled holds when the ReplicaSet has want active pods and a status
// that says so, with ready and available counts.
func rsSettled(name string, want, ready, available int32) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		rs := getRS(tx, name)
		if rs == nil {
			return false, "no replicaset"
		}
		n := int32(len(podsOf(tx, rs.UID)))
		s := rs.Status
		return n == want && s.Replicas == want && s.ReadyReplicas == ready && s.AvailableReplicas == available &&
				s.ObservedGeneration == rs.Generation,
			fmt.Sprintf("%d pods, status %+v", n, s)
	}
}

// setReady plays the node agent: the pod is Running and Ready (or not)
// since now.
func (e *env) setReady(key objects.Key, ready bool) {
	e.t.Helper()
	status := objects.ConditionFalse
	if ready {
		status = objects.ConditionTrue
	}
	for {
		err := e.s.Update(context.Background(), func(tx store.Tx) error {
			o, err := tx.Get(kindPod, key)
			if err != nil {
				return err
			}
			p := o.(*objects.Pod)
			p.Status.Phase = objects.PodRunning
			now := objects.NewTime(e.clock.Now())
			if c := objects.GetPodCondition(&p.Status, objects.PodReady); c != nil {
				if c.Status != status {
					c.Status, c.LastTransitionTime = status, now
				}
			} else {
				p.Status.Conditions = append(p.Status.Conditions, objects.PodCondition{Type: objects.PodReady, Status: status, LastTransitionTime: now})
			}
			return tx.UpdateStatus(p)
		})
		if err == nil {
			return
		}
		require.ErrorIs(e.t, err, store.ErrConflict)
	}
}

func TestReplicaSetCreatesPods(t *testing.T) {
	e := rsEnv(t)
	labels := map[string]string{"app": "web"}
	e.create(newReplicaSet("web", 3, labels))
	e.waitFor("3 pods", rsSettled("web", 3, 0, 0))
	var rs *objects.ReplicaSet
	var pods []*objects.Pod
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		rs = getRS(tx, "web")
		pods = podsOf(tx, rs.UID)
		return nil
	}))
	for _, p := range pods {
		require.True(t, strings.HasPrefix(p.Name, "web-"), p.Name)
		require.Len(t, p.Name, len("web-")+5)
		require.Equal(t, labels, p.Labels)
		ref := p.ControllerRef()
		require.Equal(t, objects.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: rs.UID,
			Controller: ptr(true), BlockOwnerDeletion: ptr(true)}, *ref)
		require.Equal(t, "app:1", p.Spec.Containers[0].Image)
	}
	require.True(t, e.events.has("SuccessfulCreate: Created pod: web-"), e.events.String())

	// A deleted pod is replaced.
	require.NoError(t, e.s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete(kindPod, pods[0].Key(), store.DeleteOptions{})
		return err
	}))
	e.waitFor("a replacement", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindPod, pods[0].Key())
		ok, seen := rsSettled("web", 3, 0, 0)(tx)
		return ok && err != nil, seen
	})

	// Scaling to zero deletes every pod.
	e.mutate(kindReplicaSet, rs.Key(), func(o objects.Object) { o.(*objects.ReplicaSet).Spec.Replicas = ptr[int32](0) })
	e.waitFor("no pods", rsSettled("web", 0, 0, 0))
	require.Empty(t, e.list(kindPod, store.ListOptions{}))
}

// Each pod of a burst is admitted on its own: defaulted, seen by the
// admission hook, refused by it with the ReplicaSet's ReplicaFailure
// condition.
func TestReplicaSetAdmitsEachPod(t *testing.T) {
	var (
		mu     sync.Mutex
		admits int
		refuse bool
	)
	hook := func(tx store.Tx, obj, old objects.Object) error {
		p, ok := obj.(*objects.Pod)
		if !ok || old != nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return errors.New("no pods today")
		}
		admits++
		p.Annotations = map[string]string{"admitted": strconv.Itoa(admits)}
		return nil
	}
	e := newEnv(t, withManagerOptions(WithAdmission(hook)),
		withControllers(func(m *Manager) error { return m.Add(ReplicaSetController(m)) }))
	e.create(newReplicaSet("web", 3, map[string]string{"app": "web"}))
	e.waitFor("3 pods", rsSettled("web", 3, 0, 0))
	seen := map[string]bool{}
	for _, o := range e.list(kindPod, store.ListOptions{}) {
		p := o.(*objects.Pod)
		require.NotNil(t, p.Spec.EnableServiceLinks, "pod %s not defaulted", p.Name)
		seen[p.Annotations["admitted"]] = true
	}
	require.Equal(t, map[string]bool{"1": true, "2": true, "3": true}, seen)

	mu.Lock()
	refuse = true
	mu.Unlock()
	e.create(newReplicaSet("api", 2, map[string]string{"app": "api"}))
	e.waitFor("ReplicaFailure", func(tx store.ReadTx) (bool, string) {
		rs := getRS(tx, "api")
		if rs == nil {
			return false, "no replicaset"
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == objects.ReplicaSetReplicaFailure && c.Reason == "FailedCreate" && strings.Contains(c.Message, "no pods today") {
				return len(podsOf(tx, rs.UID)) == 0, fmt.Sprintf("%d pods", len(podsOf(tx, rs.UID)))
			}
		}
		return false, fmt.Sprintf("conditions %+v", rs.Status.Conditions)
	})
	require.True(t, e.events.has("FailedCreate: Error creating: no pods today"), e.events.String())
}

// A pod admission refuses after the first of a burst (a quota spent by
// the pods before it) ends the burst: those before it are created, the
// refusal is a FailedCreate, and the rest are created once admission
// allows them, as Kubernetes' slow-start batches keep what they created.
func TestReplicaSetKeepsPodsCreatedBeforeARefusal(t *testing.T) {
	var (
		mu    sync.Mutex
		limit = 2
	)
	hook := func(tx store.Tx, obj, old objects.Object) error {
		if _, ok := obj.(*objects.Pod); !ok || old != nil {
			return nil
		}
		pods, err := store.PeekList(tx, kindPod, store.ListOptions{Namespace: "default"})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if len(pods) >= limit {
			return fmt.Errorf("only %d pods", limit)
		}
		return nil
	}
	e := newEnv(t, withManagerOptions(WithAdmission(hook)),
		withControllers(func(m *Manager) error { return m.Add(ReplicaSetController(m)) }))
	e.create(newReplicaSet("web", 3, map[string]string{"app": "web"}))
	e.waitFor("2 pods and a FailedCreate", func(tx store.ReadTx) (bool, string) {
		rs := getRS(tx, "web")
		if rs == nil {
			return false, "no replicaset"
		}
		n := len(podsOf(tx, rs.UID))
		return n == 2 && e.events.has("FailedCreate: Error creating: only 2 pods"), fmt.Sprintf("%d pods; events:\n%s", n, e.events)
	})
	require.True(t, e.events.has("SuccessfulCreate: Created pod: web-"), e.events.String())

	mu.Lock()
	limit = 3
	mu.Unlock()
	e.waitFor("3 pods once allowed", rsSettled("web", 3, 0, 0))
}

func TestReplicaSetStatusMinReadySeconds(t *testing.T) {
	e := rsEnv(t)
	rs := newReplicaSet("web", 2, map[string]string{"app": "web"})
	rs.Spec.MinReadySeconds = 30
	e.create(rs)
	e.waitFor("2 pods", rsSettled("web", 2, 0, 0))
	for _, p := range e.list(kindPod, store.ListOptions{}) {
		e.setReady(p.GetObjectMeta().Key(), true)
	}
	e.waitFor("2 ready, none available", rsSettled("web", 2, 2, 0))
	e.clock.Advance(31 * time.Second)
	e.waitFor("2 available after minReadySeconds", rsSettled("web", 2, 2, 2))
}

func TestReplicaSetAdoptsAndReleases(t *testing.T) {
	e := rsEnv(t)
	labels := map[string]string{"app": "web"}
	orphan := func(name string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
			Spec: podTemplate(labels, "other:1").Spec}
	}
	other := orphan("owned-by-other")
	other.OwnerReferences = []objects.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: "x-uid", Controller: ptr(true)}}
	e.create(orphan("orphan-1"), orphan("orphan-2"), other)
	e.waitCached(kindPod, objects.Key{Namespace: "default", Name: "orphan-2"})
	e.create(newReplicaSet("web", 3, labels))
	e.waitFor("2 adopted + 1 created", rsSettled("web", 3, 0, 0))
	rs := getRSNow(e, "web")
	pods := e.list(kindPod, store.ListOptions{Fields: map[string]string{store.IndexOwner: rs.UID}})
	names := map[string]bool{}
	for _, p := range pods {
		names[p.GetObjectMeta().Name] = true
	}
	require.True(t, names["orphan-1"] && names["orphan-2"], "orphans adopted: %v", names)
	o, err := e.get(kindPod, other.Key())
	require.NoError(t, err)
	require.Equal(t, "x-uid", o.GetObjectMeta().ControllerRef().UID, "a pod another controller owns is left alone")

	// A pod whose labels stop matching is released and replaced.
	e.mutate(kindPod, objects.Key{Namespace: "default", Name: "orphan-1"}, func(o objects.Object) {
		o.GetObjectMeta().Labels = map[string]string{"app": "debug"}
	})
	e.waitFor("orphan-1 released and replaced", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindPod, objects.Key{Namespace: "default", Name: "orphan-1"})
		if err != nil {
			return false, err.Error()
		}
		ok, seen := rsSettled("web", 3, 0, 0)(tx)
		return ok && len(o.GetObjectMeta().OwnerReferences) == 0, seen
	})
}

func getRSNow(e *env, name string) *objects.ReplicaSet {
	o, err := e.get(kindReplicaSet, objects.Key{Namespace: "default", Name: name})
	require.NoError(e.t, err)
	return o.(*objects.ReplicaSet)
}

// Scaling down removes the least valuable pods first.
func TestReplicaSetDeletesLeastValuableFirst(t *testing.T) {
	e := rsEnv(t)
	e.create(newReplicaSet("web", 6, map[string]string{"app": "web"}))
	e.waitFor("6 pods", rsSettled("web", 6, 0, 0))
	pods := e.list(kindPod, store.ListOptions{})
	keys := make([]objects.Key, len(pods))
	for i, p := range pods {
		keys[i] = p.GetObjectMeta().Key()
	}
	bind := func(k objects.Key, node string) {
		e.mutate(kindPod, k, func(o objects.Object) { o.(*objects.Pod).Spec.NodeName = node })
	}
	// keys[0]: unscheduled. keys[1]: scheduled, Pending. keys[2]: running,
	// not ready. keys[3..5]: ready, at different times.
	bind(keys[1], "n1")
	bind(keys[2], "n1")
	e.setReady(keys[2], false)
	for i, k := range keys[3:] {
		bind(k, fmt.Sprintf("n%d", i+2))
	}
	e.setReady(keys[3], true)
	e.clock.Advance(time.Hour)
	e.setReady(keys[4], true)
	e.clock.Advance(2 * time.Hour)
	e.setReady(keys[5], true) // ready for the least time among the ready ones

	steps := []struct {
		replicas int32
		gone     objects.Key
	}{{5, keys[0]}, {4, keys[1]}, {3, keys[2]}, {2, keys[5]}}
	for _, s := range steps {
		e.mutate(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"}, func(o objects.Object) {
			o.(*objects.ReplicaSet).Spec.Replicas = ptr(s.replicas)
		})
		e.waitFor(fmt.Sprintf("scaled to %d without %s", s.replicas, s.gone.Name), func(tx store.ReadTx) (bool, string) {
			rs := getRS(tx, "web")
			var active []string
			for _, p := range podsOf(tx, rs.UID) {
				active = append(active, p.Name)
			}
			sort.Strings(active)
			ok := len(active) == int(s.replicas)
			for _, n := range active {
				if n == s.gone.Name {
					ok = false
				}
			}
			return ok, fmt.Sprintf("active %v", active)
		})
	}
}

// However often a ReplicaSet is reconciled while its pods appear, it
// creates exactly spec.replicas pods: its reads wait for its own writes.
func TestReplicaSetNeverOvercreates(t *testing.T) {
	e := rsEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := e.s.Watch(ctx, store.WatchOptions{Kind: kindPod, Buffer: 1 << 16})
	require.NoError(t, err)
	defer w.Stop()
	e.create(newReplicaSet("web", 40, map[string]string{"app": "web"}))
	for i := 0; i < 30; i++ {
		e.mutate(kindReplicaSet, objects.Key{Namespace: "default", Name: "web"}, func(o objects.Object) {
			if o.GetObjectMeta().Annotations == nil {
				o.GetObjectMeta().Annotations = map[string]string{}
			}
			o.GetObjectMeta().Annotations["poke"] = fmt.Sprint(i)
		})
	}
	e.waitFor("40 pods", rsSettled("web", 40, 0, 0))
	created := 0
	for created < 40 {
		ev := <-w.Events()
		if ev.Type == store.Added {
			created++
		}
	}
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected pod event %s %s", ev.Type, ev.Key())
	default:
	}
}

func TestRankedPodsOrder(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name, node string, phase objects.PodPhase, readySince time.Duration, restarts int32, age time.Duration) *objects.Pod {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name, UID: name, CreationTimestamp: objects.NewTime(now.Add(-age))}}
		p.Spec.NodeName = node
		p.Status.Phase = phase
		if readySince > 0 {
			p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue,
				LastTransitionTime: objects.NewTime(now.Add(-readySince))}}
		}
		p.Status.ContainerStatuses = []objects.ContainerStatus{{RestartCount: restarts}}
		return p
	}
	pods := []*objects.Pod{
		mk("ready-old", "n1", objects.PodRunning, 100*time.Hour, 0, 100*time.Hour),
		mk("ready-new", "n2", objects.PodRunning, time.Minute, 0, 100*time.Hour),
		mk("unassigned", "", objects.PodPending, 0, 0, time.Hour),
		mk("pending", "n3", objects.PodPending, 0, 0, time.Hour),
		mk("unknown", "n4", objects.PodUnknown, 0, 0, time.Hour),
		mk("notready-restarts", "n5", objects.PodRunning, 0, 5, time.Hour),
		mk("notready", "n6", objects.PodRunning, 0, 0, time.Hour),
	}
	got := podsToDelete(pods, nil, len(pods)-1, now)
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"unassigned", "pending", "unknown", "notready-restarts", "notready", "ready-new"}, names)

	// Doubled up on a node: deleted before a pod alone on its node.
	a := mk("alone", "n1", objects.PodRunning, time.Hour, 0, time.Hour)
	b := mk("crowded", "n2", objects.PodRunning, time.Hour, 0, time.Hour)
	c := mk("crowded-2", "n2", objects.PodRunning, 100*time.Hour, 0, 100*time.Hour)
	got = podsToDelete([]*objects.Pod{a, b}, []*objects.Pod{a, b, c}, 1, now)
	require.Equal(t, "crowded", got[0].Name)
}

func TestIsPodAvailable(t *testing.T) {
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &objects.Pod{Status: objects.PodStatus{Conditions: []objects.PodCondition{{
		Type: objects.PodReady, Status: objects.ConditionTrue, LastTransitionTime: objects.NewTime(since)}}}}
	require.True(t, isPodAvailable(p, 0, since))
	// Available strictly after minReadySeconds, as in Kubernetes.
	require.False(t, isPodAvailable(p, 10, since.Add(10*time.Second)))
	require.True(t, isPodAvailable(p, 10, since.Add(10*time.Second+time.Nanosecond)))
	d, ok := untilAvailable(p, 10, since.Add(4*time.Second))
	require.True(t, ok)
	require.Equal(t, 7*time.Second, d)
	p.Status.Conditions[0].Status = objects.ConditionFalse
	require.False(t, isPodAvailable(p, 0, since))
}

// controller.kubernetes.io/pod-deletion-cost ranks after readiness and
// before the doubled-up rule, as in Kubernetes' ActivePodsWithRanks; an
// invalid value counts as 0.
func TestRankedPodsDeletionCost(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name, node string, ready bool, age time.Duration, cost string) *objects.Pod {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name, UID: name, CreationTimestamp: objects.NewTime(now.Add(-age))}}
		p.Spec.NodeName = node
		p.Status.Phase = objects.PodRunning
		if ready {
			p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue,
				LastTransitionTime: objects.NewTime(now.Add(-age))}}
		}
		if cost != "" {
			p.Annotations = map[string]string{objects.PodDeletionCostAnnotation: cost}
		}
		return p
	}
	names := func(pods []*objects.Pod) []string {
		var out []string
		for _, p := range pods {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		pods    []*objects.Pod
		related []*objects.Pod // nil: pods
		want    []string       // deletion order
	}{{
		name: "lower cost first, whatever the age",
		pods: []*objects.Pod{
			mk("new-costly", "n1", true, time.Minute, "100"),
			mk("old-cheap", "n2", true, 100*time.Hour, "-5"),
			mk("middle-default", "n3", true, time.Hour, ""),
		},
		want: []string{"old-cheap", "middle-default", "new-costly"},
	}, {
		name: "readiness before cost",
		pods: []*objects.Pod{
			mk("ready-cheap", "n1", true, time.Hour, "-1000"),
			mk("notready-costly", "n2", false, time.Hour, "1000"),
		},
		want: []string{"notready-costly", "ready-cheap"},
	}, {
		name: "cost before doubled-up",
		pods: []*objects.Pod{
			mk("crowded-costly", "n1", true, time.Hour, "10"),
			mk("alone-cheap", "n2", true, time.Hour, "1"),
		},
		related: []*objects.Pod{
			mk("crowded-costly", "n1", true, time.Hour, "10"),
			mk("crowded-other", "n1", true, time.Hour, ""),
			mk("alone-cheap", "n2", true, time.Hour, "1"),
		},
		want: []string{"alone-cheap", "crowded-costly"},
	}, {
		name: "equal cost: the doubled-up rule decides",
		pods: []*objects.Pod{
			mk("alone", "n2", true, time.Hour, "7"),
			mk("crowded", "n1", true, time.Hour, "7"),
		},
		related: []*objects.Pod{
			mk("alone", "n2", true, time.Hour, "7"),
			mk("crowded", "n1", true, time.Hour, "7"),
			mk("crowded-other", "n1", true, time.Hour, ""),
		},
		want: []string{"crowded", "alone"},
	}, {
		name: "invalid values count as 0",
		pods: []*objects.Pod{
			mk("one", "n1", true, 100*time.Hour, "1"),
			mk("plus", "n2", true, 100*time.Hour, "+5"),
			mk("leading-zero", "n3", true, 100*time.Hour, "007"),
			mk("word", "n4", true, 100*time.Hour, "cheap"),
			mk("too-big", "n5", true, 100*time.Hour, "2147483648"),
			mk("minus-one", "n6", true, 100*time.Hour, "-1"),
		},
		// -1 < 0 (the invalid ones, tied, by uid) < 1.
		want: []string{"minus-one", "leading-zero", "plus", "too-big", "word", "one"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			related := tc.related
			if related == nil {
				related = tc.pods
			}
			// All but one, in order; the last is what is kept.
			got := names(podsToDelete(tc.pods, related, len(tc.pods)-1, now))
			require.Equal(t, tc.want[:len(tc.want)-1], got)
		})
	}
}

// Through the controller: scaling down deletes the pod with the lowest
// deletion cost, though it has been ready the longest.
func TestReplicaSetHonoursPodDeletionCost(t *testing.T) {
	e := rsEnv(t)
	e.create(newReplicaSet("web", 3, map[string]string{"app": "web"}))
	e.waitFor("3 pods", rsSettled("web", 3, 0, 0))
	var keys []objects.Key
	for _, p := range e.list(kindPod, store.ListOptions{}) {
		keys = append(keys, p.GetObjectMeta().Key())
	}
	// The costs first: the controller has seen them once it has seen the
	// pods get ready, which "3 ready" waits for.
	e.mutate(kindPod, keys[0], func(o objects.Object) {
		o.GetObjectMeta().Annotations = map[string]string{objects.PodDeletionCostAnnotation: "-10"}
	})
	e.mutate(kindPod, keys[2], func(o objects.Object) {
		o.GetObjectMeta().Annotations = map[string]string{objects.PodDeletionCostAnnotation: "10"}
	})
	for i, k := range keys {
		e.mutate(kindPod, k, func(o objects.Object) { o.(*objects.Pod).Spec.NodeName = fmt.Sprintf("n%d", i) })
		e.setReady(k, true)
		e.clock.Advance(time.Hour) // keys[0] has been ready longest
	}
	e.waitFor("3 ready", rsSettled("web", 3, 3, 3))
	for _, s := range []struct {
		replicas int32
		gone     objects.Key
	}{{2, keys[0]}, {1, keys[1]}} {
		e.mutate(kindReplicaSet, dkey("web"), func(o objects.Object) { o.(*objects.ReplicaSet).Spec.Replicas = ptr(s.replicas) })
		e.waitFor(fmt.Sprintf("scaled to %d", s.replicas), rsSettled("web", s.replicas, s.replicas, s.replicas))
		viewT(t, e.s, func(tx store.ReadTx) {
			var active []string
			for _, p := range podsOf(tx, getRS(tx, "web").UID) {
				active = append(active, p.Name)
			}
			require.NotContains(t, active, s.gone.Name)
		})
	}
}
