package reconcile

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

func deployEnv(t *testing.T) *env {
	return newEnv(t, withControllers(
		func(m *Manager) error { return m.Add(ReplicaSetController(m)) },
		func(m *Manager) error { return m.Add(traced(DeploymentController(m))) },
	))
}

func newDeployment(name string, replicas int32, image string) *objects.Deployment {
	labels := map[string]string{"app": name}
	return &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
		Spec: objects.DeploymentSpec{
			Replicas: ptr(replicas),
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels, image),
		},
	}
}

func rollingUpdate(surge, unavailable objects.IntOrString) objects.DeploymentStrategy {
	return objects.DeploymentStrategy{Type: objects.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &objects.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}}
}

func dkey(name string) objects.Key { return objects.Key{Namespace: "default", Name: name} }

func getDeployment(tx store.ReadTx, name string) *objects.Deployment {
	o, err := tx.Get(kindDeployment, dkey(name))
	if err != nil {
		return nil
	}
	return o.(*objects.Deployment)
}

func replicaSetsOf(tx store.ReadTx, d *objects.Deployment) []*objects.ReplicaSet {
	objs, _ := tx.List(kindReplicaSet, store.ListOptions{Namespace: d.Namespace, Fields: map[string]string{store.IndexOwner: d.UID}})
	var out []*objects.ReplicaSet
	for _, o := range objs {
		out = append(out, o.(*objects.ReplicaSet))
	}
	return out
}

// rolledOut holds when the Deployment runs image on every replica, all
// available, as `kubectl rollout status` judges it, and the old
// ReplicaSets are scaled to zero.
func rolledOut(name, image string) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, name)
		if d == nil {
			return false, "no deployment"
		}
		want := replicasOf(d.Spec.Replicas)
		s := d.Status
		var rsInfo []string
		oldActive := false
		for _, rs := range replicaSetsOf(tx, d) {
			rsInfo = append(rsInfo, fmt.Sprintf("%s(rev %s, %s) spec=%d status=%d/%d/%d", rs.Name, rs.Annotations[RevisionAnnotation],
				rs.Spec.Template.Spec.Containers[0].Image, replicasOf(rs.Spec.Replicas), rs.Status.Replicas, rs.Status.ReadyReplicas, rs.Status.AvailableReplicas))
			if rs.Spec.Template.Spec.Containers[0].Image != image && (replicasOf(rs.Spec.Replicas) > 0 || rs.Status.Replicas > 0) {
				oldActive = true
			}
		}
		ok := d.Spec.Template.Spec.Containers[0].Image == image && s.ObservedGeneration >= d.Generation &&
			s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want && !oldActive
		return ok, fmt.Sprintf("status %+v; replicasets %v", s, rsInfo)
	}
}

func setImage(e *env, name, image string) {
	e.mutate(kindDeployment, dkey(name), func(o objects.Object) {
		o.(*objects.Deployment).Spec.Template.Spec.Containers[0].Image = image
	})
}

func TestDeploymentCreatesReplicaSet(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	e.create(newDeployment("web", 3, "app:1"))
	e.waitFor("rolled out", rolledOut("web", "app:1"))
	var d *objects.Deployment
	var rss []*objects.ReplicaSet
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		d = getDeployment(tx, "web")
		rss = replicaSetsOf(tx, d)
		return nil
	}))
	require.Len(t, rss, 1)
	rs := rss[0]
	hash := rs.Labels[objects.DefaultDeploymentUniqueLabelKey]
	require.NotEmpty(t, hash)
	require.Equal(t, "web-"+hash, rs.Name)
	require.Equal(t, hash, templateHash(&d.Spec.Template, nil))
	require.Equal(t, hash, rs.Spec.Selector.MatchLabels[objects.DefaultDeploymentUniqueLabelKey])
	require.Equal(t, hash, rs.Spec.Template.Labels[objects.DefaultDeploymentUniqueLabelKey])
	require.Equal(t, "1", rs.Annotations[RevisionAnnotation])
	require.Equal(t, "1", d.Annotations[RevisionAnnotation])
	require.Equal(t, "3", rs.Annotations[DesiredReplicasAnnotation])
	require.Equal(t, "4", rs.Annotations[MaxReplicasAnnotation]) // 3 + 25% rounded up
	ref := rs.ControllerRef()
	require.Equal(t, d.UID, ref.UID)
	require.True(t, *ref.BlockOwnerDeletion)
	for _, p := range e.list(kindPod, store.ListOptions{}) {
		require.Equal(t, hash, p.GetObjectMeta().Labels[objects.DefaultDeploymentUniqueLabelKey])
		require.True(t, strings.HasPrefix(p.GetObjectMeta().Name, rs.Name+"-"))
	}
	e.waitFor("conditions", func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, "web")
		a := objects.GetDeploymentCondition(&d.Status, objects.DeploymentAvailable)
		p := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
		return a != nil && a.Status == objects.ConditionTrue && a.Reason == ReasonMinimumReplicasAvailable &&
			p != nil && p.Status == objects.ConditionTrue && p.Reason == ReasonNewReplicaSetAvailable, fmt.Sprintf("%+v", d.Status.Conditions)
	})
	require.True(t, e.events.has("ScalingReplicaSet: Scaled up replica set web-"+hash+" from 0 to 3"), e.events.String())
}

// podWatch follows every pod change in revision order and checks an
// invariant on the set of pods as each revision left it.
type podWatch struct {
	mu         sync.Mutex
	pods       map[objects.Key]*objects.Pod
	revisions  int
	violations []string
	maxPods    int
	minReady   int
}

func (e *env) watchPods(check func(pods map[objects.Key]*objects.Pod) string) (*podWatch, func()) {
	pw := &podWatch{pods: map[objects.Key]*objects.Pod{}, minReady: 1 << 30}
	var objs []objects.Object
	var rev int64
	require.NoError(e.t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		var err error
		objs, err = tx.List(kindPod, store.ListOptions{})
		rev = tx.Revision()
		return err
	}))
	for _, o := range objs {
		pw.pods[o.GetObjectMeta().Key()] = o.(*objects.Pod)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := e.s.Watch(ctx, store.WatchOptions{Kind: kindPod, Revision: rev, Buffer: 1 << 20})
	require.NoError(e.t, err)
	done := make(chan struct{})
	evaluate := func(at int64) {
		pw.revisions++
		active, ready := 0, 0
		for _, p := range pw.pods {
			if isPodActive(p) {
				active++
			}
			if objects.IsPodReady(p) && !p.IsDeleting() {
				ready++
			}
		}
		pw.maxPods = max(pw.maxPods, len(pw.pods))
		pw.minReady = min(pw.minReady, ready)
		if msg := check(pw.pods); msg != "" {
			pw.violations = append(pw.violations, fmt.Sprintf("revision %d: %s", at, msg))
		}
	}
	go func() {
		defer close(done)
		last := rev
		for ev := range w.Events() {
			pw.mu.Lock()
			if ev.Revision != last {
				evaluate(last)
				last = ev.Revision
			}
			if ev.Type == store.Deleted {
				delete(pw.pods, ev.Key())
			} else {
				pw.pods[ev.Key()] = ev.Object().(*objects.Pod)
			}
			pw.mu.Unlock()
		}
		pw.mu.Lock()
		evaluate(last)
		pw.mu.Unlock()
		if err := w.Err(); err != nil {
			e.t.Errorf("pod watch: %v", err)
		}
	}()
	return pw, func() {
		w.Stop()
		cancel()
		<-done
	}
}

// The bar: a rolling update of 10 replicas with maxSurge 2 and
// maxUnavailable 0 never has fewer than 10 ready pods and never more than
// 12 pods, checked on every store revision.
func TestDeploymentRollingUpdateBounds(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	d := newDeployment("web", 10, "app:1")
	d.Spec.Strategy = rollingUpdate(objects.FromInt32(2), objects.FromInt32(0))
	e.create(d)
	e.waitFor("first rollout", rolledOut("web", "app:1"))

	pw, stop := e.watchPods(func(pods map[objects.Key]*objects.Pod) string {
		ready := 0
		for _, p := range pods {
			if objects.IsPodReady(p) && !p.IsDeleting() {
				ready++
			}
		}
		if len(pods) > 12 || ready < 10 {
			return fmt.Sprintf("%d pods, %d ready", len(pods), ready)
		}
		return ""
	})
	start := time.Now()
	setImage(e, "web", "app:2")
	e.waitFor("second rollout", rolledOut("web", "app:2"))
	t.Logf("rolling update of 10 replicas took %v", time.Since(start))
	stop()
	require.Empty(t, pw.violations)
	require.Greater(t, pw.revisions, 20, "the check ran on every revision")
	require.Equal(t, 12, pw.maxPods, "the rollout used its surge")
	require.Equal(t, 10, pw.minReady)
	require.Len(t, e.list(kindPod, store.ListOptions{}), 10)
}

// Percentages: maxSurge rounds up, maxUnavailable down (25% of 10: 3 and 2).
func TestDeploymentRollingUpdatePercentBounds(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	e.create(newDeployment("web", 10, "app:1")) // default 25%/25%
	e.waitFor("first rollout", rolledOut("web", "app:1"))
	pw, stop := e.watchPods(func(pods map[objects.Key]*objects.Pod) string {
		ready := 0
		for _, p := range pods {
			if objects.IsPodReady(p) && !p.IsDeleting() {
				ready++
			}
		}
		if len(pods) > 13 || ready < 8 {
			return fmt.Sprintf("%d pods, %d ready", len(pods), ready)
		}
		return ""
	})
	setImage(e, "web", "app:2")
	e.waitFor("second rollout", rolledOut("web", "app:2"))
	stop()
	require.Empty(t, pw.violations)
	require.Equal(t, 13, pw.maxPods)
}

func TestResolveFenceposts(t *testing.T) {
	for _, tc := range []struct {
		surge, unavail objects.IntOrString
		desired        int32
		wantS, wantU   int32
	}{
		{objects.FromString("25%"), objects.FromString("25%"), 10, 3, 2},
		{objects.FromString("25%"), objects.FromString("25%"), 1, 1, 0},
		{objects.FromString("0%"), objects.FromString("10%"), 5, 0, 1}, // both 0: unavailable 1
		{objects.FromInt32(2), objects.FromInt32(0), 10, 2, 0},
		{objects.FromString("50%"), objects.FromString("50%"), 3, 2, 1},
	} {
		s, u := resolveFenceposts(&objects.RollingUpdateDeployment{MaxSurge: &tc.surge, MaxUnavailable: &tc.unavail}, tc.desired)
		require.Equal(t, [2]int32{tc.wantS, tc.wantU}, [2]int32{s, u}, "%v %v of %d", tc.surge.String(), tc.unavail.String(), tc.desired)
	}
}

func TestEqualIgnoreHash(t *testing.T) {
	const hashKey = objects.DefaultDeploymentUniqueLabelKey
	base := func() objects.PodTemplateSpec { return podTemplate(map[string]string{"app": "web"}, "app:1") }
	for _, tc := range []struct {
		name   string
		change func(a, b *objects.PodTemplateSpec)
		want   bool
	}{
		{"same", func(a, b *objects.PodTemplateSpec) {}, true},
		{"hash on one side", func(a, b *objects.PodTemplateSpec) { b.Labels[hashKey] = "abc" }, true},
		{"different hashes", func(a, b *objects.PodTemplateSpec) { a.Labels[hashKey], b.Labels[hashKey] = "abc", "def" }, true},
		{"only the hash against no labels", func(a, b *objects.PodTemplateSpec) { a.Labels = nil; b.Labels = map[string]string{hashKey: "abc"} }, true},
		{"empty against missing labels", func(a, b *objects.PodTemplateSpec) { a.Labels = nil; b.Labels = map[string]string{} }, true},
		{"empty against missing list", func(a, b *objects.PodTemplateSpec) { a.Spec.Volumes = []objects.Volume{} }, true},
		{"other label", func(a, b *objects.PodTemplateSpec) { b.Labels["tier"] = "front" }, false},
		{"other label value", func(a, b *objects.PodTemplateSpec) { b.Labels["app"] = "api" }, false},
		{"label in place of the hash", func(a, b *objects.PodTemplateSpec) { a.Labels[hashKey] = "abc"; b.Labels["tier"] = "front" }, false},
		{"annotation", func(a, b *objects.PodTemplateSpec) { b.Annotations = map[string]string{"a": "b"} }, false},
		{"image", func(a, b *objects.PodTemplateSpec) { b.Spec.Containers[0].Image = "app:2" }, false},
	} {
		a, b := base(), base()
		tc.change(&a, &b)
		require.Equal(t, tc.want, equalIgnoreHash(&a, &b), tc.name)
		require.Equal(t, tc.want, equalIgnoreHash(&b, &a), tc.name+", swapped")
	}
}

// The bar: rollback to revision 1 restores the first template,
// with no new ReplicaSet created.
func TestDeploymentRollback(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	e.create(newDeployment("web", 3, "app:1"))
	e.waitFor("v1", rolledOut("web", "app:1"))
	setImage(e, "web", "app:2")
	e.waitFor("v2", rolledOut("web", "app:2"))
	var before []*objects.ReplicaSet
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		before = replicaSetsOf(tx, getDeployment(tx, "web"))
		return nil
	}))
	require.Len(t, before, 2)

	ctx := context.Background()
	require.ErrorIs(t, Rollback(ctx, e.s, kindDeployment, dkey("web"), 7), store.ErrNotFound)
	require.ErrorIs(t, Rollback(ctx, e.s, kindDeployment, dkey("nope"), 1), store.ErrNotFound)
	require.NoError(t, Rollback(ctx, e.s, kindDeployment, dkey("web"), 1))
	e.waitFor("back on v1", rolledOut("web", "app:1"))
	e.waitFor("revision 3", func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, "web")
		return d.Annotations[RevisionAnnotation] == "3", fmt.Sprintf("annotations %v", d.Annotations)
	})
	var d *objects.Deployment
	var after []*objects.ReplicaSet
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		d = getDeployment(tx, "web")
		after = replicaSetsOf(tx, d)
		return nil
	}))
	require.Len(t, after, 2, "no new ReplicaSet")
	for _, rs := range after {
		var was *objects.ReplicaSet
		for _, b := range before {
			if b.UID == rs.UID {
				was = b
			}
		}
		require.NotNil(t, was, "replica set %s is new", rs.Name)
		if rs.Spec.Template.Spec.Containers[0].Image == "app:1" {
			require.Equal(t, "3", rs.Annotations[RevisionAnnotation])
			require.Equal(t, "1", rs.Annotations[RevisionHistoryAnnotation])
			require.True(t, equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template))
			require.Equal(t, int32(3), replicasOf(rs.Spec.Replicas))
		} else {
			require.Equal(t, int32(0), replicasOf(rs.Spec.Replicas))
		}
	}
	_, hasHash := d.Spec.Template.Labels[objects.DefaultDeploymentUniqueLabelKey]
	require.False(t, hasHash, "the deployment's template has no pod-template-hash label")

	// Revision 0 is the previous one: back to app:2.
	require.NoError(t, Rollback(ctx, e.s, kindDeployment, dkey("web"), 0))
	e.waitFor("back on v2", rolledOut("web", "app:2"))
	hist, err := History(ctx, e.s, kindDeployment, dkey("web"))
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, int64(3), hist[0].Number)
	require.Equal(t, "app:1", hist[0].Template.Spec.Containers[0].Image)
	require.Equal(t, int64(4), hist[1].Number)

	require.NoError(t, Pause(ctx, e.s, kindDeployment, dkey("web")))
	require.ErrorIs(t, Rollback(ctx, e.s, kindDeployment, dkey("web"), 3), ErrPaused)
}

func TestDeploymentRecreate(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	d := newDeployment("web", 4, "app:1")
	d.Spec.Strategy = objects.DeploymentStrategy{Type: objects.RecreateDeploymentStrategyType}
	e.create(d)
	e.waitFor("v1", rolledOut("web", "app:1"))
	pw, stop := e.watchPods(func(pods map[objects.Key]*objects.Pod) string {
		images := map[string]int{}
		for _, p := range pods {
			images[p.Spec.Containers[0].Image]++
		}
		if len(images) > 1 {
			return fmt.Sprintf("old and new pods together: %v", images)
		}
		return ""
	})
	setImage(e, "web", "app:2")
	e.waitFor("v2", rolledOut("web", "app:2"))
	stop()
	require.Empty(t, pw.violations)
}

// Recreate waits for old pods being deleted gracefully to be gone.
func TestDeploymentRecreateWaitsForTerminatingPods(t *testing.T) {
	e := deployEnv(t)
	d := newDeployment("web", 2, "app:1")
	d.Spec.Strategy = objects.DeploymentStrategy{Type: objects.RecreateDeploymentStrategyType}
	e.create(d)
	e.waitFor("2 pods", func(tx store.ReadTx) (bool, string) {
		objs, _ := tx.List(kindPod, store.ListOptions{})
		return len(objs) == 2, fmt.Sprint(len(objs))
	})
	// Bind the pods to a node: they are then deleted gracefully.
	old := e.list(kindPod, store.ListOptions{})
	for _, p := range old {
		e.mutate(kindPod, p.GetObjectMeta().Key(), func(o objects.Object) { o.(*objects.Pod).Spec.NodeName = "n1" })
		e.setReady(p.GetObjectMeta().Key(), true)
	}
	e.waitFor("v1", rolledOut("web", "app:1"))
	setImage(e, "web", "app:2")
	e.waitFor("old pods terminating", func(tx store.ReadTx) (bool, string) {
		objs, _ := tx.List(kindPod, store.ListOptions{})
		terminating := 0
		for _, o := range objs {
			if o.GetObjectMeta().IsDeleting() {
				terminating++
			}
		}
		return terminating == 2 && len(objs) == 2, fmt.Sprintf("%d pods, %d terminating", len(objs), terminating)
	})
	// The node agent finishes: each old pod goes. Only then new pods appear.
	for i, p := range old {
		require.Len(t, e.list(kindPod, store.ListOptions{}), 2-i, "no new pod while an old one runs")
		require.NoError(t, e.s.Update(context.Background(), func(tx store.Tx) error {
			_, err := tx.Delete(kindPod, p.GetObjectMeta().Key(), store.DeleteOptions{GracePeriodSeconds: ptr[int64](0)})
			return err
		}))
	}
	e.waitFor("new pods", func(tx store.ReadTx) (bool, string) {
		objs, _ := tx.List(kindPod, store.ListOptions{})
		n := 0
		for _, o := range objs {
			if o.(*objects.Pod).Spec.Containers[0].Image == "app:2" {
				n++
			}
		}
		return n == 2 && len(objs) == 2, fmt.Sprint(len(objs))
	})
}

func TestDeploymentPauseResume(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	e.create(newDeployment("web", 2, "app:1"))
	e.waitFor("v1", rolledOut("web", "app:1"))
	ctx := context.Background()
	require.NoError(t, Pause(ctx, e.s, kindDeployment, dkey("web")))
	e.waitFor("paused condition", func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, "web")
		c := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
		return c != nil && c.Reason == ReasonDeploymentPaused && c.Status == objects.ConditionUnknown, fmt.Sprintf("%+v", c)
	})
	setImage(e, "web", "app:2")
	// Scaling applies while paused; the template change does not.
	e.mutate(kindDeployment, dkey("web"), func(o objects.Object) { o.(*objects.Deployment).Spec.Replicas = ptr[int32](3) })
	e.waitFor("scaled while paused", func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, "web")
		rss := replicaSetsOf(tx, d)
		return len(rss) == 1 && replicasOf(rss[0].Spec.Replicas) == 3 && d.Status.AvailableReplicas == 3 &&
			d.Status.ObservedGeneration == d.Generation, fmt.Sprintf("%d replicasets, status %+v", len(rss), d.Status)
	})
	require.Len(t, e.list(kindReplicaSet, store.ListOptions{}), 1, "no rollout while paused")
	require.NoError(t, Resume(ctx, e.s, kindDeployment, dkey("web")))
	e.waitFor("v2 after resume", rolledOut("web", "app:2"))
	require.NoError(t, Restart(ctx, e.s, kindDeployment, dkey("web"), e.clock.Now()))
	e.waitFor("restarted", func(tx store.ReadTx) (bool, string) {
		ok, seen := rolledOut("web", "app:2")(tx)
		return ok && len(replicaSetsOf(tx, getDeployment(tx, "web"))) == 3, seen
	})
}

// Scaling a Deployment in the middle of a rollout spreads the new replicas
// over the old and new ReplicaSets in proportion, as Kubernetes'
// documentation shows it: 10 replicas, maxSurge 3, maxUnavailable 2, new
// pods never ready (5 new, 8 old); scaled to 15 the new ReplicaSet gets 7
// and the old one 11.
func TestDeploymentProportionalScaling(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(func(p *objects.Pod) bool { return p.Spec.Containers[0].Image == "app:1" })
	d := newDeployment("web", 10, "app:1")
	d.Spec.Strategy = rollingUpdate(objects.FromInt32(3), objects.FromInt32(2))
	e.create(d)
	e.waitFor("v1", rolledOut("web", "app:1"))
	setImage(e, "web", "app:bad")
	sizes := func(oldWant, newWant int32) func(tx store.ReadTx) (bool, string) {
		return oldAndNewSizes("web", "app:1", oldWant, newWant)
	}
	e.waitFor("rollout stuck at 8 old + 5 new", sizes(8, 5))
	e.mutate(kindDeployment, dkey("web"), func(o objects.Object) { o.(*objects.Deployment).Spec.Replicas = ptr[int32](15) })
	e.waitFor("11 old + 7 new", sizes(11, 7))
	e.mutate(kindDeployment, dkey("web"), func(o objects.Object) { o.(*objects.Deployment).Spec.Replicas = ptr[int32](5) })
	// Down to 5: allowed 5+3 = 8 of 18, old 11 -> 5 and new 7 -> 3; then the
	// rollout goes on within its bounds until it is stuck again at 3 old
	// (minimum available 5-2) and 5 new (surge 5+3-3).
	e.waitFor("scaled down, then stuck at 3 old + 5 new", sizes(3, 5))
}

// oldAndNewSizes holds when the Deployment name's ReplicaSet of oldImage
// has oldWant replicas and its other one newWant, in spec and status, and
// the Deployment's status has seen the latest spec.
func oldAndNewSizes(name, oldImage string, oldWant, newWant int32) func(tx store.ReadTx) (bool, string) {
	return func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, name)
		var oldN, newN, oldS, newS int32
		for _, rs := range replicaSetsOf(tx, d) {
			if rs.Spec.Template.Spec.Containers[0].Image == oldImage {
				oldN, oldS = replicasOf(rs.Spec.Replicas), rs.Status.Replicas
			} else {
				newN, newS = replicasOf(rs.Spec.Replicas), rs.Status.Replicas
			}
		}
		return oldN == oldWant && newN == newWant && oldS == oldWant && newS == newWant && d.Status.ObservedGeneration == d.Generation &&
				d.Status.Replicas == oldWant+newWant,
			fmt.Sprintf("old %d/%d new %d/%d, status %+v", oldN, oldS, newN, newS, d.Status)
	}
}

// Proportional shares are rounded as Kubernetes rounds them, from the
// exact quotient: 8 replicas with maxSurge 25% and maxUnavailable 1 stuck
// at 7 old + 3 new (10 at most), scaled to 36 (45 at most), give the old
// ReplicaSet round(7*45/10) = 32 and the new one the remaining 13; computed
// as 7/10*45 in floating point the old one got 31 and the new one 14.
func TestDeploymentProportionalScalingRounding(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(func(p *objects.Pod) bool { return p.Spec.Containers[0].Image == "app:1" })
	d := newDeployment("web", 8, "app:1")
	d.Spec.Strategy = rollingUpdate(objects.FromString("25%"), objects.FromInt32(1))
	e.create(d)
	e.waitFor("v1", rolledOut("web", "app:1"))
	setImage(e, "web", "app:bad")
	e.waitFor("rollout stuck at 7 old + 3 new", oldAndNewSizes("web", "app:1", 7, 3))
	e.mutate(kindDeployment, dkey("web"), func(o objects.Object) { o.(*objects.Deployment).Spec.Replicas = ptr[int32](36) })
	e.waitFor("32 old + 13 new", oldAndNewSizes("web", "app:1", 32, 13))
}

func TestProportionalSizes(t *testing.T) {
	d := newDeployment("web", 15, "x")
	d.Spec.Strategy = rollingUpdate(objects.FromInt32(3), objects.FromInt32(2))
	mk := func(n int32) *objects.ReplicaSet {
		rs := newReplicaSet("rs", n, map[string]string{"a": "b"})
		rs.Annotations = map[string]string{MaxReplicasAnnotation: "13", DesiredReplicasAnnotation: "10"}
		return rs
	}
	require.Equal(t, int32(3), proportion(mk(8), d, 5, 0))
	require.Equal(t, int32(2), proportion(mk(5), d, 5, 3))
}

// The Deployment's ReplicaFailure condition is the new ReplicaSet's when
// it has one, as Kubernetes' getReplicaFailures prefers it, whatever the
// order of the ReplicaSets; else an old one's.
func TestDeploymentReplicaFailurePrefersNewReplicaSet(t *testing.T) {
	failing := func(name, message string) *objects.ReplicaSet {
		rs := newReplicaSet(name, 1, map[string]string{"app": "web"})
		rs.Status.Conditions = []objects.ReplicaSetCondition{{Type: objects.ReplicaSetReplicaFailure, Status: objects.ConditionTrue,
			Reason: "FailedCreate", Message: message}}
		return rs
	}
	old, newRS := failing("web-old", "old: quota exceeded"), failing("web-new", "new: forbidden")
	c := replicaFailure([]*objects.ReplicaSet{old, newRS}, newRS)
	require.NotNil(t, c)
	require.Equal(t, objects.DeploymentReplicaFailure, c.Type)
	require.Equal(t, "new: forbidden", c.Message)

	newRS.Status.Conditions = nil
	c = replicaFailure([]*objects.ReplicaSet{old, newRS}, newRS)
	require.NotNil(t, c)
	require.Equal(t, "old: quota exceeded", c.Message)
	require.Nil(t, replicaFailure([]*objects.ReplicaSet{newRS}, nil))
}

// A Deployment that makes no progress for progressDeadlineSeconds gets
// Progressing=False with reason ProgressDeadlineExceeded; the time is the
// fake clock's.
func TestDeploymentProgressDeadline(t *testing.T) {
	e := deployEnv(t) // no kubelet: pods never become ready
	d := newDeployment("web", 3, "app:1")
	d.Spec.ProgressDeadlineSeconds = ptr[int32](60)
	e.create(d)
	progressing := func(reason string, status objects.ConditionStatus) func(tx store.ReadTx) (bool, string) {
		return func(tx store.ReadTx) (bool, string) {
			d := getDeployment(tx, "web")
			c := objects.GetDeploymentCondition(&d.Status, objects.DeploymentProgressing)
			return c != nil && c.Reason == reason && c.Status == status && d.Status.Replicas == 3, fmt.Sprintf("%+v", d.Status)
		}
	}
	e.waitFor("progressing", progressing(ReasonReplicaSetUpdated, objects.ConditionTrue))
	// Wait for the deadline check to be scheduled on the fake clock.
	c := e.m.currentRun().controllers[1]
	require.Equal(t, "deployment", c.spec.Name)
	require.Eventually(t, func() bool { return c.queue.Waiting() == 1 && c.queue.Len() == 0 }, waitTimeout, time.Millisecond)
	// At 59s the controller looks and finds the deadline not yet passed.
	e.clock.Advance(59 * time.Second)
	e.reconcileNow("deployment", Request{Namespace: "default", Name: "web"})
	require.False(t, func() bool {
		ok, _ := progressing(ReasonProgressDeadlineExceeded, objects.ConditionFalse)(viewTx(e))
		return ok
	}(), "deadline exceeded at 59s")
	e.waitDelayed("deployment")
	e.clock.Advance(2 * time.Second)
	e.waitFor("deadline exceeded", progressing(ReasonProgressDeadlineExceeded, objects.ConditionFalse))
	require.NoError(t, e.s.View(context.Background(), func(tx store.ReadTx) error {
		d := getDeployment(tx, "web")
		a := objects.GetDeploymentCondition(&d.Status, objects.DeploymentAvailable)
		require.Equal(t, objects.ConditionFalse, a.Status)
		require.Equal(t, ReasonMinimumReplicasUnavailable, a.Reason)
		return nil
	}))
	// Progress again (pods become ready) completes the rollout.
	e.runKubelet(nil)
	e.waitFor("complete", progressing(ReasonNewReplicaSetAvailable, objects.ConditionTrue))
}

func viewTx(e *env) store.ReadTx {
	var got store.ReadTx
	_ = e.s.View(context.Background(), func(tx store.ReadTx) error { got = tx; return nil })
	return got
}

func TestDeploymentRevisionHistoryLimit(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	d := newDeployment("web", 2, "app:1")
	d.Spec.RevisionHistoryLimit = ptr[int32](1)
	e.create(d)
	for i := 1; i <= 4; i++ {
		img := fmt.Sprintf("app:%d", i)
		if i > 1 {
			setImage(e, "web", img)
		}
		e.waitFor(img, rolledOut("web", img))
	}
	e.waitFor("one old revision kept", func(tx store.ReadTx) (bool, string) {
		rss := replicaSetsOf(tx, getDeployment(tx, "web"))
		var revs []string
		for _, rs := range rss {
			revs = append(revs, rs.Annotations[RevisionAnnotation])
		}
		return len(rss) == 2, fmt.Sprint(revs)
	})
	hist, err := History(context.Background(), e.s, kindDeployment, dkey("web"))
	require.NoError(t, err)
	require.Equal(t, []int64{3, 4}, []int64{hist[0].Number, hist[1].Number})
}

// A ReplicaSet matching a Deployment's selector without an owner is
// adopted.
func TestDeploymentAdoptsReplicaSet(t *testing.T) {
	e := deployEnv(t)
	e.runKubelet(nil)
	d := newDeployment("web", 2, "app:1")
	rs := newReplicaSet("web-orphan", 1, map[string]string{"app": "web"})
	rs.Spec.Template = *d.Spec.Template.DeepCopy()
	rs.Labels = map[string]string{"app": "web"}
	e.create(rs)
	// Once the orphan has its pod, every cache of the manager has it.
	e.waitFor("orphan's pod", rsSettled("web-orphan", 1, 1, 1))
	e.create(d)
	e.waitFor("rolled out through the adopted replica set", func(tx store.ReadTx) (bool, string) {
		ok, seen := rolledOut("web", "app:1")(tx)
		rss := replicaSetsOf(tx, getDeployment(tx, "web"))
		return ok && len(rss) == 1 && rss[0].Name == "web-orphan", seen
	})
}

// Property: for any replicas, maxSurge and maxUnavailable, a rolling update
// keeps every store revision within replicas+surge pods and at least
// replicas-unavailable ready ones (surge rounded up, unavailable down).
func TestDeploymentRollingUpdateBoundsProperty(t *testing.T) {
	values := []objects.IntOrString{
		objects.FromInt32(0), objects.FromInt32(1), objects.FromInt32(3),
		objects.FromString("10%"), objects.FromString("25%"), objects.FromString("50%"), objects.FromString("100%"),
	}
	rnd := rand.New(rand.NewPCG(5, 9)) // fixed: the same cases every run
	for i := 0; i < 8; i++ {
		replicas := int32(1 + rnd.IntN(9))
		surge, unavail := values[rnd.IntN(len(values))], values[rnd.IntN(len(values))]
		if surge.IsZero() && unavail.IsZero() {
			unavail = objects.FromInt32(1) // validation forbids both 0
		}
		name := fmt.Sprintf("r%d-s%s-u%s", replicas, surge.String(), unavail.String())
		t.Run(strings.ReplaceAll(name, "%", "pct"), func(t *testing.T) {
			e := deployEnv(t)
			e.runKubelet(nil)
			d := newDeployment("web", replicas, "app:1")
			d.Spec.Strategy = rollingUpdate(surge, unavail)
			e.create(d)
			e.waitFor("first rollout", rolledOut("web", "app:1"))
			s, u := resolveFenceposts(d.Spec.Strategy.RollingUpdate, replicas)
			maxTotal, minReady := int(replicas+s), int(replicas-min(u, replicas))
			pw, stop := e.watchPods(func(pods map[objects.Key]*objects.Pod) string {
				ready := 0
				for _, p := range pods {
					if objects.IsPodReady(p) && !p.IsDeleting() {
						ready++
					}
				}
				if len(pods) > maxTotal || ready < minReady {
					return fmt.Sprintf("%d pods (max %d), %d ready (min %d)", len(pods), maxTotal, ready, minReady)
				}
				return ""
			})
			setImage(e, "web", "app:2")
			e.waitFor("second rollout", rolledOut("web", "app:2"))
			stop()
			require.Empty(t, pw.violations)
		})
	}
}

// A ReplicaSet of another owner holding the name the template hashes to
// makes the Deployment count a collision and hash again.
func TestDeploymentHashCollision(t *testing.T) {
	e := deployEnv(t)
	d := newDeployment("web", 1, "app:1")
	e.s.Scheme().Default(d)
	hash := templateHash(&d.Spec.Template, nil)
	squatter := newReplicaSet("web-"+hash, 0, map[string]string{"app": "other"})
	e.create(squatter)
	e.create(d)
	e.waitFor("a replica set under another name", func(tx store.ReadTx) (bool, string) {
		d := getDeployment(tx, "web")
		rss := replicaSetsOf(tx, d)
		cc := int32(0)
		if d.Status.CollisionCount != nil {
			cc = *d.Status.CollisionCount
		}
		return len(rss) == 1 && cc == 1 && rss[0].Name == "web-"+templateHash(&d.Spec.Template, ptr[int32](1)),
			fmt.Sprintf("%d replicasets, collisionCount %d", len(rss), cc)
	})
}
