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
// pod of it running image and ready, and returns its pods.
func rolledOutTo(t *testing.T, ctx context.Context, o *podkit.Orchestrator, name, image string) []*objects.Pod {
	t.Helper()
	return workloadRolledOutTo(t, ctx, o, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: name}}, image)
}

// workloadRolledOutTo waits until the Deployment, DaemonSet or StatefulSet
// (w names it) is Available with its template and every active pod of it
// (labelled app=<name>) running image and ready, as many as it wants, and
// returns its pods. It looks again on every change in the namespace.
func workloadRolledOutTo(t *testing.T, ctx context.Context, o *podkit.Orchestrator, w objects.Object, image string) []*objects.Pod {
	t.Helper()
	name := w.GetObjectMeta().Name
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	check := func() (bool, string) {
		if err := o.Get(wctx, objects.Key{Name: name}, w); err != nil {
			return false, err.Error()
		}
		var want int
		var template *objects.PodTemplateSpec
		switch w := w.(type) {
		case *objects.Deployment:
			want, template = int(*w.Spec.Replicas), &w.Spec.Template
		case *objects.StatefulSet:
			want, template = int(*w.Spec.Replicas), &w.Spec.Template
		case *objects.DaemonSet:
			want, template = int(w.Status.DesiredNumberScheduled), &w.Spec.Template
		}
		if !podkit.Available(w) || template.Spec.Containers[0].Image != image {
			return false, fmt.Sprintf("template %s, status %+v", template.Spec.Containers[0].Image, w)
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
		return active == want, fmt.Sprintf("%d active pods, want %d", active, want)
	}
	watch := func() store.Watcher {
		w, err := o.Watch(wctx, "", podkit.InNamespace("default"))
		require.NoError(t, err)
		return w
	}
	wt := watch()
	defer func() { wt.Stop() }()
	for {
		ok, seen := check()
		if ok {
			break
		}
		select {
		case _, open := <-wt.Events():
			if !open { // fell behind: watch again, and look
				wt.Stop()
				wt = watch()
			}
		case <-wctx.Done():
			t.Fatalf("%T %s rolled out to %s: %v; last seen: %s", w, name, image, wctx.Err(), seen)
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
	require.NoError(t, o.Pause(ctx, podkit.KindDeployment, key))
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	_, err := podkit.WaitUntil(wctx, o, "default", "web", func(d *objects.Deployment) bool {
		c := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
		return d.Spec.Paused && c != nil && c.Reason == reconcile.ReasonDeploymentPaused
	})
	require.NoError(t, err)
	err = o.Rollback(ctx, podkit.KindDeployment, key, 1)
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
	require.NoError(t, o.Resume(ctx, podkit.KindDeployment, key))
	rolledOutTo(t, ctx, o, "web", "nginx:1.29")
	history, err := o.RolloutHistory(ctx, podkit.KindDeployment, key)
	require.NoError(t, err)
	require.Len(t, history, 3)

	// Rollback to revision 1: its ReplicaSet scales up again.
	before := replicaSetImages(t, ctx, o, "web")
	require.Len(t, before, 3)
	require.NoError(t, o.Rollback(ctx, podkit.KindDeployment, key, 1))
	rolledOutTo(t, ctx, o, "web", "nginx:1.27")
	require.Equal(t, before, replicaSetImages(t, ctx, o, "web"), "no new ReplicaSet")
	history, err = o.RolloutHistory(ctx, podkit.KindDeployment, key)
	require.NoError(t, err)
	require.Equal(t, "nginx:1.27", history[len(history)-1].Template.Spec.Containers[0].Image, "revision 1's template is the newest revision")
	require.ErrorIs(t, o.Rollback(ctx, podkit.KindDeployment, key, 99), store.ErrNotFound)

	// Restart: new pods, the same template apart from the restart stamp.
	old := map[string]bool{}
	var oldPods []*objects.Pod
	for _, p := range rolledOutTo(t, ctx, o, "web", "nginx:1.27") {
		if p.DeletionTimestamp == nil {
			old[p.UID] = true
			oldPods = append(oldPods, p)
		}
	}
	require.NoError(t, o.Restart(ctx, podkit.KindDeployment, key))
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
		"pause":    func() error { return o.Pause(ctx, podkit.KindDeployment, objects.Key{Name: "nope"}) },
		"resume":   func() error { return o.Resume(ctx, podkit.KindDeployment, objects.Key{Name: "nope"}) },
		"restart":  func() error { return o.Restart(ctx, podkit.KindDeployment, objects.Key{Name: "nope"}) },
		"rollback": func() error { return o.Rollback(ctx, podkit.KindDeployment, objects.Key{Name: "nope"}, 0) },
	} {
		err := op()
		require.True(t, errors.Is(err, store.ErrNotFound), "%s of a missing deployment: %v", name, err)
	}
}

// The same rollout methods on a DaemonSet and a StatefulSet, named by
// kind as `kubectl rollout undo daemonset/agent` names them: history from
// their ControllerRevisions, undo rolls the pods back, restart replaces
// them, pause is refused; a kind without rollouts is refused too.
func TestOrchestratorRolloutDaemonSetAndStatefulSet(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	labels := map[string]string{"app": "agent"}
	template := func(labels map[string]string, image string) objects.PodTemplateSpec {
		return objects.PodTemplateSpec{
			ObjectMeta: objects.ObjectMeta{Labels: labels},
			Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: image}}},
		}
	}
	ds := func(image string) *objects.DaemonSet {
		return &objects.DaemonSet{ObjectMeta: objects.ObjectMeta{Name: "agent"}, Spec: objects.DaemonSetSpec{
			Selector: &objects.LabelSelector{MatchLabels: labels}, Template: template(labels, image)}}
	}
	dbLabels := map[string]string{"app": "db"}
	sts := func(image string) *objects.StatefulSet {
		return &objects.StatefulSet{ObjectMeta: objects.ObjectMeta{Name: "db"}, Spec: objects.StatefulSetSpec{
			Replicas: ptr[int32](2), ServiceName: "db",
			Selector: &objects.LabelSelector{MatchLabels: dbLabels}, Template: template(dbLabels, image)}}
	}

	for _, tc := range []struct {
		kind string
		obj  func(image string) objects.Object
	}{
		{podkit.KindDaemonSet, func(image string) objects.Object { return ds(image) }},
		{podkit.KindStatefulSet, func(image string) objects.Object { return sts(image) }},
	} {
		key := objects.Key{Name: tc.obj("").GetObjectMeta().Name}
		require.NoError(t, o.Apply(ctx, tc.obj("nginx:1.27")))
		workloadRolledOutTo(t, ctx, o, tc.obj(""), "nginx:1.27")
		require.NoError(t, o.Apply(ctx, tc.obj("nginx:1.28")))
		workloadRolledOutTo(t, ctx, o, tc.obj(""), "nginx:1.28")

		history, err := o.RolloutHistory(ctx, tc.kind, key)
		require.NoError(t, err, tc.kind)
		require.Len(t, history, 2, tc.kind)
		require.Equal(t, "nginx:1.27", history[0].Template.Spec.Containers[0].Image, tc.kind)
		require.NotEmpty(t, history[0].ControllerRevision, tc.kind)

		require.NoError(t, o.Rollback(ctx, tc.kind, key, 0), tc.kind)
		workloadRolledOutTo(t, ctx, o, tc.obj(""), "nginx:1.27")
		require.ErrorIs(t, o.Rollback(ctx, tc.kind, key, 99), store.ErrNotFound, tc.kind)

		old := map[string]bool{}
		var oldPods []*objects.Pod
		for _, p := range workloadRolledOutTo(t, ctx, o, tc.obj(""), "nginx:1.27") {
			if p.DeletionTimestamp == nil {
				old[p.UID] = true
				oldPods = append(oldPods, p)
			}
		}
		require.NoError(t, o.Restart(ctx, tc.kind, key), tc.kind)
		wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
		for _, p := range oldPods {
			require.NoError(t, o.WaitFor(wctx, &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: p.Name}},
				func(obj objects.Object) bool { return obj == nil || obj.GetObjectMeta().UID != p.UID }), "pod %s replaced", p.Name)
		}
		cancel()
		for _, p := range workloadRolledOutTo(t, ctx, o, tc.obj(""), "nginx:1.27") {
			require.False(t, old[p.UID], "pod %s survived the restart", p.Name)
		}
		history, err = o.RolloutHistory(ctx, tc.kind, key)
		require.NoError(t, err)
		require.Len(t, history, 3, "%s: the restart is a revision", tc.kind)
		require.NotEmpty(t, history[2].Template.Annotations[reconcile.RestartedAtAnnotation], tc.kind)

		err = o.Pause(ctx, tc.kind, key)
		require.ErrorIs(t, err, reconcile.ErrNotSupported, tc.kind)
		require.ErrorContains(t, err, "pausing is not supported")
		require.ErrorIs(t, o.Resume(ctx, tc.kind, key), reconcile.ErrNotSupported, tc.kind)
	}
	require.ErrorIs(t, o.Rollback(ctx, podkit.KindPod, objects.Key{Name: "agent"}, 0), reconcile.ErrNotSupported)
	_, err := o.RolloutHistory(ctx, podkit.KindJob, objects.Key{Name: "agent"})
	require.ErrorIs(t, err, reconcile.ErrNotSupported)
}
