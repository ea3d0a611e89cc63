package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// newRC returns a ReplicationController whose selector is left for
// defaulting to take from the template's labels, as old manifests often do.
func newRC(name string, replicas int32, labels map[string]string) *objects.ReplicationController {
	t := podTemplate(labels, "app:1")
	return &objects.ReplicationController{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec:       objects.ReplicationControllerSpec{Replicas: ptr(replicas), Template: &t},
	}
}

func rcEnv(t testing.TB, more ...func(m *Manager) error) *env {
	return newEnv(t, withControllers(append([]func(m *Manager) error{
		func(m *Manager) error { return m.Add(ReplicationControllerController(m)) },
	}, more...)...))
}

func getRC(tx store.ReadTx, name string) *objects.ReplicationController {
	o, err := tx.Get(kindReplicationController, objects.Key{Namespace: "default", Name: name})
	if err != nil {
		return nil
	}
	return o.(*objects.ReplicationController)
}

// rcSettled holds when the ReplicationController has want active pods and
// a status that says so, with ready and available counts.
func rcSettled(name string, want, ready, available int32) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		rc := getRC(tx, name)
		if rc == nil {
			return false, "no replicationcontroller"
		}
		n := int32(len(podsOf(tx, rc.UID)))
		s := rc.Status
		return n == want && s.Replicas == want && s.FullyLabeledReplicas == want && s.ReadyReplicas == ready &&
				s.AvailableReplicas == available && s.ObservedGeneration == rc.Generation,
			fmt.Sprintf("%d pods, status %+v", n, s)
	}
}

func TestReplicationControllerCreatesAndScales(t *testing.T) {
	e := rcEnv(t)
	labels := map[string]string{"app": "redis", "role": "master"}
	e.create(newRC("redis", 3, labels))
	e.waitFor("3 pods", rcSettled("redis", 3, 0, 0))
	var rc *objects.ReplicationController
	var pods []*objects.Pod
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		rc = getRC(tx, "redis")
		pods = podsOf(tx, rc.UID)
		return nil
	}))
	require.Equal(t, labels, rc.Spec.Selector, "selector defaulted from the template")
	for _, p := range pods {
		require.True(t, strings.HasPrefix(p.Name, "redis-"), p.Name)
		require.Equal(t, labels, p.Labels)
		require.Equal(t, objects.OwnerReference{APIVersion: "v1", Kind: "ReplicationController", Name: "redis", UID: rc.UID,
			Controller: ptr(true), BlockOwnerDeletion: ptr(true)}, *p.ControllerRef())
	}
	require.True(t, e.events.has("SuccessfulCreate: Created pod: redis-"), e.events.String())

	// A deleted pod is replaced.
	require.NoError(t, e.s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete(kindPod, pods[0].Key(), store.DeleteOptions{})
		return err
	}))
	e.waitFor("a replacement", func(tx store.ReadTx) (bool, string) {
		_, err := tx.Get(kindPod, pods[0].Key())
		ok, seen := rcSettled("redis", 3, 0, 0)(tx)
		return ok && err != nil, seen
	})

	e.mutate(kindReplicationController, rc.Key(), func(o objects.Object) {
		o.(*objects.ReplicationController).Spec.Replicas = ptr[int32](5)
	})
	e.waitFor("scaled up to 5", rcSettled("redis", 5, 0, 0))
	e.mutate(kindReplicationController, rc.Key(), func(o objects.Object) {
		o.(*objects.ReplicationController).Spec.Replicas = ptr[int32](1)
	})
	e.waitFor("scaled down to 1", rcSettled("redis", 1, 0, 0))
	require.True(t, e.events.has("SuccessfulDelete: Deleted pod: redis-"), e.events.String())
	e.waitFor("deleted pods gone", func(tx store.ReadTx) (bool, string) {
		objs, _ := tx.List(kindPod, store.ListOptions{})
		return len(objs) == 1, fmt.Sprint(len(objs), " pods")
	})
}

func TestReplicationControllerStatusMinReadySeconds(t *testing.T) {
	e := rcEnv(t)
	rc := newRC("web", 2, map[string]string{"app": "web"})
	rc.Spec.MinReadySeconds = 30
	e.create(rc)
	e.waitFor("2 pods", rcSettled("web", 2, 0, 0))
	for _, p := range e.list(kindPod, store.ListOptions{}) {
		e.setReady(p.GetObjectMeta().Key(), true)
	}
	e.waitFor("2 ready, none available", rcSettled("web", 2, 2, 0))
	e.clock.Advance(31 * time.Second)
	e.waitFor("2 available after minReadySeconds", rcSettled("web", 2, 2, 2))
}

func TestReplicationControllerAdoptsAndReleases(t *testing.T) {
	e := rcEnv(t)
	labels := map[string]string{"app": "web"}
	orphan := func(name string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": "web"}},
			Spec: podTemplate(labels, "other:1").Spec}
	}
	other := orphan("owned-by-other")
	other.OwnerReferences = []objects.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: "x-uid", Controller: ptr(true)}}
	e.create(orphan("orphan-1"), orphan("orphan-2"), other)
	e.waitCached(kindPod, objects.Key{Namespace: "default", Name: "orphan-2"})
	e.create(newRC("web", 3, labels))
	e.waitFor("2 adopted + 1 created", rcSettled("web", 3, 0, 0))
	o, err := e.get(kindPod, objects.Key{Namespace: "default", Name: "orphan-1"})
	require.NoError(t, err)
	ref := o.GetObjectMeta().ControllerRef()
	require.NotNil(t, ref, "orphan adopted")
	require.Equal(t, "ReplicationController", ref.Kind)
	o, err = e.get(kindPod, other.Key())
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
		ok, seen := rcSettled("web", 3, 0, 0)(tx)
		return ok && len(o.GetObjectMeta().OwnerReferences) == 0, seen
	})

	// An orphan created later is adopted, and the extra pod deleted.
	e.create(orphan("orphan-3"))
	e.waitFor("orphan-3 adopted, back to 3", func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get(kindPod, objects.Key{Namespace: "default", Name: "orphan-3"})
		adopted := err == nil && o.GetObjectMeta().ControllerRef() != nil
		ok, seen := rcSettled("web", 3, 0, 0)(tx)
		return (adopted || err != nil) && ok, seen
	})
}

// A refused pod is a FailedCreate event and the ReplicaFailure condition
// on the ReplicationController, cleared once pods can be created.
func TestReplicationControllerReplicaFailure(t *testing.T) {
	refuse := make(chan struct{})
	hook := func(tx store.Tx, obj, old objects.Object) error {
		if _, ok := obj.(*objects.Pod); !ok || old != nil {
			return nil
		}
		select {
		case <-refuse:
			return nil
		default:
			return errors.New("no pods today")
		}
	}
	e := newEnv(t, withManagerOptions(WithAdmission(hook)),
		withControllers(func(m *Manager) error { return m.Add(ReplicationControllerController(m)) }))
	e.create(newRC("web", 2, map[string]string{"app": "web"}))
	e.waitFor("ReplicaFailure", func(tx store.ReadTx) (bool, string) {
		rc := getRC(tx, "web")
		if rc == nil {
			return false, "no replicationcontroller"
		}
		for _, c := range rc.Status.Conditions {
			if c.Type == objects.ReplicationControllerReplicaFailure && c.Reason == "FailedCreate" && strings.Contains(c.Message, "no pods today") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %+v", rc.Status.Conditions)
	})
	require.True(t, e.events.has("FailedCreate: Error creating: no pods today"), e.events.String())
	close(refuse)
	e.waitFor("2 pods, condition cleared", func(tx store.ReadTx) (bool, string) {
		ok, seen := rcSettled("web", 2, 0, 0)(tx)
		return ok && len(getRC(tx, "web").Status.Conditions) == 0, seen
	})
}

// Deleting a ReplicationController (background propagation) lets the
// garbage collector remove its pods.
func TestReplicationControllerDeletionCollectsPods(t *testing.T) {
	e := rcEnv(t, func(m *Manager) error { return m.AddRunnable(GarbageCollector(m)) })
	e.create(newRC("web", 3, map[string]string{"app": "web"}))
	e.waitFor("3 pods", rcSettled("web", 3, 0, 0))
	e.delete(kindReplicationController, objects.Key{Namespace: "default", Name: "web"}, store.DeletePropagationBackground)
	e.waitFor("pods collected", func(tx store.ReadTx) (bool, string) {
		objs, _ := tx.List(kindPod, store.ListOptions{})
		return len(objs) == 0 && getRC(tx, "web") == nil, fmt.Sprint(len(objs), " pods")
	})
}

// More pods than one burst creates (burstReplicas) come over several
// reconciles.
func TestReplicationControllerBurst(t *testing.T) {
	e := rcEnv(t)
	e.create(newRC("big", burstReplicas+20, map[string]string{"app": "big"}))
	e.waitFor("all pods after more than one burst", rcSettled("big", burstReplicas+20, 0, 0))
}

// A disruption budget counts a ReplicationController's scale, as for a
// ReplicaSet.
func TestDisruptionBudgetOverReplicationController(t *testing.T) {
	e := rcEnv(t, func(m *Manager) error { return m.Add(DisruptionController(m)) })
	runReadiness(e)
	e.create(newRC("web", 4, map[string]string{"app": "web"}))
	e.create(newBudget("max-1", nil, ptr(objects.FromInt32(1))))
	e.waitFor("max-1 of 4", budgetIs("max-1", 4, 3, 4, 1))
}
