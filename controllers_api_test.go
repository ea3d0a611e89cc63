package podkit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

// apiWaitTimeout bounds the waits of the API tests: a safety net, not a
// speed check.
const apiWaitTimeout = 30 * time.Second

// rolledOutTo waits until the Deployment is Available with every active
// pod of it running image and ready, and returns its pods. It looks again
// on every change in the namespace.
func rolledOutTo(t *testing.T, ctx context.Context, o *podkit.Orchestrator, name, image string) []*objects.Pod {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	check := func() (bool, string) {
		d, err := podkit.Get[*objects.Deployment](wctx, o, "default", name)
		if err != nil {
			return false, err.Error()
		}
		if !podkit.Available(d) || d.Spec.Template.Spec.Containers[0].Image != image {
			return false, fmt.Sprintf("%+v", d.Status)
		}
		pods, err := podkit.List[*objects.Pod](wctx, o, "default", podkit.WithLabels("app="+name))
		if err != nil {
			return false, err.Error()
		}
		active := 0
		for _, p := range pods {
			if p.DeletionTimestamp != nil || p.Status.Phase == objects.PodSucceeded || p.Status.Phase == objects.PodFailed {
				continue
			}
			active++
			if p.Spec.Containers[0].Image != image || !objects.IsPodReady(p) {
				return false, fmt.Sprintf("%s runs %s, ready %v", p.Name, p.Spec.Containers[0].Image, objects.IsPodReady(p))
			}
		}
		return active == int(*d.Spec.Replicas), fmt.Sprintf("%d active pods", active)
	}
	watch := func() store.Watcher {
		w, err := o.Watch(wctx, "", podkit.InNamespace("default"))
		require.NoError(t, err)
		return w
	}
	w := watch()
	defer func() { w.Stop() }()
	for {
		ok, seen := check()
		if ok {
			break
		}
		select {
		case _, open := <-w.Events():
			if !open { // fell behind: watch again, and look
				w.Stop()
				w = watch()
			}
		case <-wctx.Done():
			t.Fatalf("deployment %s rolled out to %s: %v; last seen: %s", name, image, wctx.Err(), seen)
		}
	}
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app="+name))
	require.NoError(t, err)
	return pods
}

func deploymentWithImage(name string, replicas int32, image string) *objects.Deployment {
	d := testDeployment(name, replicas)
	d.Spec.Template.Spec.Containers[0].Image = image
	return d
}

func replicaSetImages(t *testing.T, ctx context.Context, o *podkit.Orchestrator, app string) map[string]string {
	t.Helper()
	rss, err := podkit.List[*objects.ReplicaSet](ctx, o, "default", podkit.WithLabels("app="+app))
	require.NoError(t, err)
	out := map[string]string{}
	for _, rs := range rss {
		out[rs.Name] = rs.Spec.Template.Spec.Containers[0].Image
	}
	return out
}

// The rollout operations through a running orchestrator with fake-runtime
// nodes: pause holds a template change back, resume rolls it out,
// rollback returns to revision 1 without a new ReplicaSet, restart
// replaces every pod with the template unchanged.
func TestOrchestratorRolloutOperations(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	key := objects.Key{Name: "web"} // the default namespace is implied

	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 2, "nginx:1.27")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 2, "nginx:1.28")))
	rolledOutTo(t, ctx, o, "web", "nginx:1.28")

	// Pause: the controller records it, and a template change made while
	// paused makes no ReplicaSet.
	require.NoError(t, o.Pause(ctx, key))
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	_, err := podkit.WaitUntil(wctx, o, "default", "web", func(d *objects.Deployment) bool {
		c := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
		return d.Spec.Paused && c != nil && c.Reason == reconcile.ReasonDeploymentPaused
	})
	require.NoError(t, err)
	err = o.Rollback(ctx, key, 1)
	require.ErrorIs(t, err, reconcile.ErrPaused, "kubectl refuses to roll back a paused deployment")
	require.NoError(t, o.Apply(ctx, deploymentWithImage("web", 2, "nginx:1.29")))
	d, err := podkit.WaitUntil(wctx, o, "default", "web", func(d *objects.Deployment) bool {
		return d.Status.ObservedGeneration == d.Generation
	})
	require.NoError(t, err)
	require.True(t, d.Spec.Paused, "Apply keeps the pause it never set")
	require.Equal(t, "nginx:1.29", d.Spec.Template.Spec.Containers[0].Image)
	for name, img := range replicaSetImages(t, ctx, o, "web") {
		require.NotEqual(t, "nginx:1.29", img, name)
	}
	pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=web"))
	require.NoError(t, err)
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue // a pod of 1.27 still terminating: the rollout to 1.28 is done without waiting for it
		}
		require.Equal(t, "nginx:1.28", p.Spec.Containers[0].Image, "paused: %s keeps the old template", p.Name)
	}

	// Resume: the change rolls out.
	require.NoError(t, o.Resume(ctx, key))
	rolledOutTo(t, ctx, o, "web", "nginx:1.29")
	history, err := o.RolloutHistory(ctx, key)
	require.NoError(t, err)
	require.Len(t, history, 3)

	// Rollback to revision 1: its ReplicaSet scales up again.
	before := replicaSetImages(t, ctx, o, "web")
	require.Len(t, before, 3)
	require.NoError(t, o.Rollback(ctx, key, 1))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.Equal(t, before, replicaSetImages(t, ctx, o, "web"), "no new ReplicaSet")
	history, err = o.RolloutHistory(ctx, key)
	require.NoError(t, err)
	require.Equal(t, "nginx:1.27", history[len(history)-1].Template.Spec.Containers[0].Image, "revision 1's template is the newest revision")
	require.ErrorIs(t, o.Rollback(ctx, key, 99), store.ErrNotFound)

	// Restart: new pods, the same template apart from the restart stamp.
	old := map[string]bool{}
	var oldPods []*objects.Pod
	for _, p := range rolledOutTo(t, ctx, o, "web", "nginx:1.27") {
		if p.DeletionTimestamp == nil {
			old[p.UID] = true
			oldPods = append(oldPods, p)
		}
	}
	require.NoError(t, o.Restart(ctx, key))
	wctx2, cancel2 := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel2()
	for _, p := range oldPods {
		require.NoError(t, o.WaitFor(wctx2, &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: p.Name}},
			func(obj objects.Object) bool { return obj == nil || obj.GetObjectMeta().UID != p.UID }), "pod %s replaced", p.Name)
	}
	for _, p := range rolledOutTo(t, ctx, o, "web", "nginx:1.27") {
		require.False(t, old[p.UID], "pod %s survived the restart", p.Name)
	}
	d, err = podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	at, err := time.Parse(time.RFC3339, d.Spec.Template.Annotations[reconcile.RestartedAtAnnotation])
	require.NoError(t, err, "the template is stamped with the restart time")
	require.WithinDuration(t, time.Now(), at, time.Minute)
	require.Equal(t, "nginx:1.27", d.Spec.Template.Spec.Containers[0].Image)

	for name, op := range map[string]func() error{
		"pause":    func() error { return o.Pause(ctx, objects.Key{Name: "nope"}) },
		"resume":   func() error { return o.Resume(ctx, objects.Key{Name: "nope"}) },
		"restart":  func() error { return o.Restart(ctx, objects.Key{Name: "nope"}) },
		"rollback": func() error { return o.Rollback(ctx, objects.Key{Name: "nope"}, 0) },
	} {
		err := op()
		require.True(t, errors.Is(err, store.ErrNotFound), "%s of a missing deployment: %v", name, err)
	}
}
