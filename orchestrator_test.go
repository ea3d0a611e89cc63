package podkit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newOrchestrator(t *testing.T, opts ...podkit.Option) *podkit.Orchestrator {
	t.Helper()
	// Volumes provisioned in a directory of the test's own, not the
	// default under $TMPDIR, which a claim retained or deleted after the
	// orchestrator stopped would outlive; a test's own choice comes after.
	local := podkit.WithControllers(reconcile.WithLocalPath(reconcile.LocalPathOptions{Root: t.TempDir()}))
	o, err := podkit.New(append([]podkit.Option{local}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	return o
}

func decodeFiles(t *testing.T, pattern string) []objects.Object {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var all []objects.Object
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		objs, err := objects.NewScheme().DecodeBytes(b)
		require.NoError(t, err, f)
		all = append(all, objs...)
	}
	return all
}

// The example manifest set — Deployment, Service, ConfigMap, Secret,
// StatefulSet with volumeClaimTemplates, Job, CronJob, DaemonSet, Ingress and
// HorizontalPodAutoscaler, written as for a real cluster — decodes,
// validates, applies and reads back equal.
func TestApplyManifestSetReadsBackEqual(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	objs := decodeFiles(t, "examples/manifests/*.yaml")
	kinds := map[string]bool{}
	for _, obj := range objs {
		kinds[obj.GetTypeMeta().Kind] = true
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "StatefulSet", "Job", "CronJob", "DaemonSet", "Ingress", "HorizontalPodAutoscaler"} {
		assert.True(t, kinds[k], "the manifest set has a %s", k)
	}

	// What Apply should store: the decoded objects, defaulted.
	want := make([]objects.Object, len(objs))
	for i, obj := range objs {
		want[i] = obj.DeepCopyObject()
		o.Scheme().Default(want[i])
	}
	require.NoError(t, o.Apply(ctx, objs...))

	for i, obj := range objs {
		info, err := o.Scheme().KindOf(obj)
		require.NoError(t, err)
		got := info.New()
		require.NoError(t, o.Get(ctx, obj.GetObjectMeta().Key(), got))
		assert.Equal(t, obj, got, "Apply left the stored version in the object")

		// Equal to what was decoded, apart from the fields the store sets.
		m := got.GetObjectMeta()
		assert.NotEmpty(t, m.UID)
		assert.NotEmpty(t, m.ResourceVersion)
		assert.Equal(t, int64(1), m.Generation)
		assert.False(t, m.CreationTimestamp.IsZero())
		w := want[i].GetObjectMeta()
		w.UID, w.ResourceVersion, w.Generation, w.CreationTimestamp = m.UID, m.ResourceVersion, m.Generation, m.CreationTimestamp
		if w.Namespace == "" && info.Namespaced {
			w.Namespace = podkit.DefaultNamespace
		}
		assert.NotEmpty(t, m.Annotations[podkit.LastAppliedAnnotation], "Apply records what was applied")
		w.Annotations = m.Annotations
		if j, ok := want[i].(*objects.Job); ok { // its selector is generated from the uid
			j.UID = m.UID
			j.GenerateSelector()
			require.NotNil(t, got.(*objects.Job).Spec.Selector, "a Job gets a selector at creation")
		}
		if s, ok := want[i].(*objects.Service); ok { // cluster IPs are allocated
			gs := got.(*objects.Service)
			if s.Spec.ClusterIP != objects.ClusterIPNone {
				assert.NotEmpty(t, gs.Spec.ClusterIP, "service %s gets a cluster IP", s.Name)
			}
			s.Spec.ClusterIP, s.Spec.ClusterIPs = gs.Spec.ClusterIP, gs.Spec.ClusterIPs
			s.Spec.IPFamilies, s.Spec.IPFamilyPolicy = gs.Spec.IPFamilies, gs.Spec.IPFamilyPolicy
		}
		if s, ok := want[i].(*objects.Secret); ok {
			s.StringData = got.(*objects.Secret).StringData
		}
		assert.Equal(t, want[i], got, "%s %s reads back as decoded", info.Kind, m.Name)
	}

	// Applying the same manifests again changes nothing but is accepted.
	again := decodeFiles(t, "examples/manifests/*.yaml")
	require.NoError(t, o.Apply(ctx, again...))
	for i := range again {
		assert.Equal(t, objs[i].GetObjectMeta().Generation, again[i].GetObjectMeta().Generation,
			"%s: generation unchanged by an identical apply", again[i].GetObjectMeta().Name)
	}
}

func TestApplyStreamWithUnknownFieldStoresNothing(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	stream := `apiVersion: v1
kind: ConfigMap
metadata: {name: first}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicaz: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`
	objs, err := o.Scheme().DecodeBytes([]byte(stream))
	require.Error(t, err)
	assert.Empty(t, objs)
	msg := err.Error()
	assert.Contains(t, msg, "document 2")
	assert.Contains(t, msg, `Deployment "web"`)
	assert.Contains(t, msg, "spec.replicaz")

	cms, err := podkit.List[*objects.ConfigMap](ctx, o, "")
	require.NoError(t, err)
	assert.Empty(t, cms, "nothing of the stream is stored")
}

func TestApplyIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	rev := o.Store().Revision()
	good := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "good"}}
	bad := &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: "web"},
		Spec: objects.DeploymentSpec{
			Selector: &objects.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: map[string]string{"app": "other"}},
				Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "web"}}},
			},
		},
	}
	err := o.Apply(ctx, good, bad)
	require.Error(t, err)
	assert.True(t, errors.Is(err, objects.ErrInvalid), "%v", err)
	msg := err.Error()
	assert.Contains(t, msg, `Deployment "web" is invalid`)
	assert.Contains(t, msg, "spec.template.spec.containers[0].image: Required value")
	assert.Contains(t, msg, "spec.template.metadata.labels")
	assert.Equal(t, rev, o.Store().Revision(), "no commit happened")
	_, err = podkit.Get[*objects.ConfigMap](ctx, o, "default", "good")
	assert.True(t, errors.Is(err, store.ErrNotFound), "%v", err)
}

func TestCreateInMissingNamespace(t *testing.T) {
	o := newOrchestrator(t)
	err := o.Create(context.Background(), &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "a", Namespace: "nope"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `namespaces "nope" not found`)
}

func TestUpdateConflictAndStatus(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	d := testDeployment("web", 2)
	require.NoError(t, o.Create(ctx, d))
	assert.Equal(t, int64(1), d.Generation)

	stale := d.DeepCopy()
	d.Spec.Replicas = ptr[int32](3)
	require.NoError(t, o.Update(ctx, d))
	assert.Equal(t, int64(2), d.Generation, "a spec change bumps generation")

	stale.Spec.Replicas = ptr[int32](5)
	err := o.Update(ctx, stale)
	assert.True(t, errors.Is(err, store.ErrConflict), "a stale write conflicts: %v", err)

	// Status goes through UpdateStatus only.
	d.Status.Replicas = 3
	require.NoError(t, o.UpdateStatus(ctx, d))
	assert.Equal(t, int64(2), d.Generation, "status does not bump generation")
	d.Status.Replicas = 99
	d.Labels = map[string]string{"changed": "yes"}
	require.NoError(t, o.Update(ctx, d))
	got, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, int32(3), got.Status.Replicas, "Update leaves status alone")
	assert.Equal(t, "yes", got.Labels["changed"])

	// Immutable fields are refused on update.
	got.Spec.Selector = &objects.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	got.Spec.Template.Labels = map[string]string{"app": "other"}
	err = o.Update(ctx, got)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.selector")
	assert.Contains(t, err.Error(), "field is immutable")
}

func TestDeleteWithFinalizerAndPropagation(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}
	require.NoError(t, o.Create(ctx, cm))
	require.NoError(t, o.Delete(ctx, cm))
	got, err := podkit.Get[*objects.ConfigMap](ctx, o, "default", "held")
	require.NoError(t, err, "a finalizer keeps the object")
	require.NotNil(t, got.DeletionTimestamp)
	got.Finalizers = nil
	require.NoError(t, o.Update(ctx, got))
	_, err = podkit.Get[*objects.ConfigMap](ctx, o, "default", "held")
	assert.True(t, errors.Is(err, store.ErrNotFound), "removing the last finalizer removes the object: %v", err)

	d := testDeployment("fg", 1)
	require.NoError(t, o.Create(ctx, d))
	require.NoError(t, o.Delete(ctx, d, podkit.PropagationPolicy(store.DeletePropagationForeground)))
	gd, err := podkit.Get[*objects.Deployment](ctx, o, "default", "fg")
	require.NoError(t, err)
	assert.Contains(t, gd.Finalizers, objects.FinalizerForeground, "foreground propagation is recorded for the garbage collector")
}

func TestDeleteBoundPodIsGraceful(t *testing.T) {
	ctx := context.Background()
	clk := clockwork.NewFakeClockAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o := newOrchestrator(t, podkit.WithClock(clk))
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p"}, Spec: objects.PodSpec{
		NodeName:                      "n1",
		TerminationGracePeriodSeconds: ptr[int64](20),
		Containers:                    []objects.Container{{Name: "a", Image: "busybox:1.36"}},
	}}
	require.NoError(t, o.Create(ctx, p))
	require.NoError(t, o.Delete(ctx, p))
	got, err := podkit.Get[*objects.Pod](ctx, o, "default", "p")
	require.NoError(t, err, "a bound pod waits for its node agent")
	require.NotNil(t, got.DeletionTimestamp)
	assert.Equal(t, clk.Now().Add(20*time.Second), got.DeletionTimestamp.Time)
	require.NoError(t, o.Delete(ctx, p, podkit.GracePeriod(0)))
	_, err = podkit.Get[*objects.Pod](ctx, o, "default", "p")
	assert.True(t, errors.Is(err, store.ErrNotFound))
}

// DeleteAll deletes what its selector matches in one transaction, each
// object as Delete would: bound pods gracefully with their own grace
// period, the others at once.
func TestDeleteAll(t *testing.T) {
	ctx := context.Background()
	clk := clockwork.NewFakeClockAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o := newOrchestrator(t, podkit.WithClock(clk))
	pod := func(name, app, node string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{"app": app}}, Spec: objects.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr[int64](20),
			Containers:                    []objects.Container{{Name: "a", Image: "busybox:1.36"}},
		}}
	}
	for _, p := range []*objects.Pod{pod("web-1", "web", "n1"), pod("web-2", "web", ""), pod("db-1", "db", "n1")} {
		require.NoError(t, o.Create(ctx, p))
	}

	n, err := o.DeleteAll(ctx, podkit.KindPod, []podkit.ListOption{podkit.InNamespace("default"), podkit.WithLabels("app=web")})
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	bound, err := podkit.Get[*objects.Pod](ctx, o, "default", "web-1")
	require.NoError(t, err, "a bound pod waits for its node agent")
	require.NotNil(t, bound.DeletionTimestamp)
	assert.Equal(t, clk.Now().Add(20*time.Second), bound.DeletionTimestamp.Time, "its own grace period")
	_, err = podkit.Get[*objects.Pod](ctx, o, "default", "web-2")
	assert.True(t, errors.Is(err, store.ErrNotFound), "an unbound pod goes at once: %v", err)
	db, err := podkit.Get[*objects.Pod](ctx, o, "default", "db-1")
	require.NoError(t, err)
	assert.Nil(t, db.DeletionTimestamp, "not selected")

	n, err = o.DeleteAll(ctx, podkit.KindPod, nil, podkit.GracePeriod(0))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "web-1, still terminating, and db-1")
	pods, err := podkit.List[*objects.Pod](ctx, o, "")
	require.NoError(t, err)
	assert.Empty(t, pods)

	_, err = o.DeleteAll(ctx, "Gizmo", nil)
	assert.True(t, errors.Is(err, store.ErrUnknownKind), "%v", err)
	_, err = o.DeleteAll(ctx, podkit.KindPod, []podkit.ListOption{podkit.WithLabels("app in (")})
	assert.ErrorContains(t, err, "label selector")
}

// As in Kubernetes, only a pod bound to a node and not terminated is
// deleted gracefully; any other object goes at once, whatever grace period
// is asked for, its finalizers still holding it. The start of a deletion
// increases the generation.
func TestGracePeriodOnlyForBoundPods(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	pod := func(name, node string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.PodSpec{
			NodeName: node, Containers: []objects.Container{{Name: "a", Image: "busybox:1.36"}}}}
	}
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "c"}, Data: map[string]string{"a": "b"}}
	unbound, done := pod("unbound", ""), pod("done", "n1")
	for _, obj := range []objects.Object{cm, unbound, done, testDeployment("web", 1)} {
		require.NoError(t, o.Create(ctx, obj))
	}
	done.Status.Phase = objects.PodSucceeded
	require.NoError(t, o.UpdateStatus(ctx, done))
	for _, obj := range []objects.Object{cm, unbound, done} {
		require.NoError(t, o.Delete(ctx, obj, podkit.GracePeriod(30)))
		err := o.Get(ctx, obj.GetObjectMeta().Key(), obj)
		assert.ErrorIs(t, err, store.ErrNotFound, "%s %s is deleted at once", obj.GetTypeMeta().Kind, obj.GetObjectMeta().Name)
	}
	n, err := o.DeleteAll(ctx, podkit.KindDeployment, []podkit.ListOption{podkit.InNamespace("default")}, podkit.GracePeriod(10))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	assert.ErrorIs(t, err, store.ErrNotFound)

	held := testDeployment("held", 1)
	held.Finalizers = []string{"example.com/keep"}
	require.NoError(t, o.Create(ctx, held))
	require.NoError(t, o.Delete(ctx, held, podkit.GracePeriod(30)))
	got, err := podkit.Get[*objects.Deployment](ctx, o, "default", "held")
	require.NoError(t, err, "its finalizer keeps it")
	assert.Equal(t, ptr[int64](0), got.DeletionGracePeriodSeconds, "with no grace period")
	assert.Equal(t, int64(2), got.Generation, "the start of its deletion increases its generation")
}

// As Kubernetes' strategies do, Create does not keep the status sent: a
// pod starts Pending, a namespace Active, a workload with none. A Node
// keeps its own.
func TestCreateResetsStatus(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	d := testDeployment("web", 3)
	d.Status = objects.DeploymentStatus{ObservedGeneration: 7, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3,
		Conditions: []objects.DeploymentCondition{{Type: objects.DeploymentAvailable, Status: objects.ConditionTrue}}}
	require.NoError(t, o.Create(ctx, d))
	assert.Equal(t, objects.DeploymentStatus{}, d.Status, "the caller sees what was stored")
	gd, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, objects.DeploymentStatus{}, gd.Status)
	assert.False(t, podkit.Available(gd))

	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p"}, Spec: objects.PodSpec{Containers: []objects.Container{{Name: "c", Image: "x"}}},
		Status: objects.PodStatus{Phase: objects.PodSucceeded, PodIP: "10.0.0.9"}}
	require.NoError(t, o.Create(ctx, p))
	gp, err := podkit.Get[*objects.Pod](ctx, o, "default", "p")
	require.NoError(t, err)
	assert.Equal(t, objects.PodStatus{Phase: objects.PodPending, QOSClass: objects.PodQOSBestEffort}, gp.Status)

	j := &objects.Job{ObjectMeta: objects.ObjectMeta{Name: "j"}, Spec: objects.JobSpec{Template: objects.PodTemplateSpec{Spec: objects.PodSpec{
		RestartPolicy: objects.RestartPolicyNever, Containers: []objects.Container{{Name: "c", Image: "x"}}}}},
		Status: objects.JobStatus{Succeeded: 1, Conditions: []objects.JobCondition{{Type: objects.JobComplete, Status: objects.ConditionTrue}}}}
	require.NoError(t, o.Create(ctx, j))
	assert.False(t, podkit.Complete(j))
	assert.Equal(t, objects.JobStatus{}, j.Status)

	ns := &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "team"}, Status: objects.NamespaceStatus{Phase: objects.NamespaceTerminating}}
	require.NoError(t, o.Create(ctx, ns))
	assert.Equal(t, objects.NamespaceStatus{Phase: objects.NamespaceActive}, ns.Status)

	n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"},
		Status: objects.NodeStatus{Capacity: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("4")}}}
	require.NoError(t, o.Create(ctx, n))
	gn, err := podkit.Get[*objects.Node](ctx, o, "", "n1")
	require.NoError(t, err)
	cpu := gn.Status.Capacity[objects.ResourceCPU]
	assert.Equal(t, int64(4), cpu.Value(), "a Node keeps the status its kubelet creates it with")
}

// UpdateStatus validates the status as Kubernetes' status strategies do:
// a bad one is refused whole, naming each field, and nothing is written.
func TestUpdateStatusIsValidated(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	d := testDeployment("web", 2)
	require.NoError(t, o.Create(ctx, d))
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p"}, Spec: objects.PodSpec{Containers: []objects.Container{{Name: "c", Image: "x"}}}}
	require.NoError(t, o.Create(ctx, p))
	rev := o.Store().Revision()

	d.Status.Replicas, d.Status.ObservedGeneration = -5, -3
	err := o.UpdateStatus(ctx, d)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.EqualError(t, err, `Deployment "web" is invalid: [status.observedGeneration: Invalid value: -3: must be greater than or equal to 0, `+
		`status.replicas: Invalid value: -5: must be greater than or equal to 0, `+
		`status.updatedReplicas: Invalid value: 0: cannot be greater than status.replicas, `+
		`status.readyReplicas: Invalid value: 0: cannot be greater than status.replicas, `+
		`status.availableReplicas: Invalid value: 0: cannot be greater than status.replicas]`)

	ns, err := podkit.Get[*objects.Namespace](ctx, o, "", "default")
	require.NoError(t, err)
	ns.Status.Phase = "Bogus"
	err = o.UpdateStatus(ctx, ns)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.ErrorContains(t, err, `status.phase: Invalid value: "Bogus": may only be 'Active' if `+"`deletionTimestamp`"+` is empty`)

	p.Status.Phase, p.Status.PodIP = "Nonsense", "not-an-ip"
	err = o.UpdateStatus(ctx, p)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.ErrorContains(t, err, `status.phase: Unsupported value: "Nonsense"`)
	assert.ErrorContains(t, err, `status.podIP: Invalid value: "not-an-ip"`)
	assert.Equal(t, rev, o.Store().Revision(), "nothing was written")

	p.Status.Phase, p.Status.PodIP = objects.PodRunning, "10.0.0.9"
	require.NoError(t, o.UpdateStatus(ctx, p))
	assert.Equal(t, objects.PodRunning, p.Status.Phase)
}

// The default, kube-system and kube-public namespaces may not be deleted,
// as Kubernetes' NamespaceLifecycle admission refuses to; others may.
func TestSystemNamespacesCannotBeDeleted(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	require.NoError(t, o.Create(ctx, &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "kube-public"}}))
	for _, name := range []string{"default", "kube-system", "kube-public"} {
		err := o.Delete(ctx, &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: name}})
		require.ErrorIs(t, err, podkit.ErrForbidden, name)
		assert.EqualError(t, err, fmt.Sprintf(`namespaces %q is forbidden: this namespace may not be deleted: forbidden`, name))
	}
	_, err := o.DeleteAll(ctx, podkit.KindNamespace, nil)
	require.ErrorIs(t, err, podkit.ErrForbidden)
	lease, err := podkit.Get[*objects.Namespace](ctx, o, "", "kube-node-lease")
	require.NoError(t, err)
	assert.Nil(t, lease.DeletionTimestamp, "a refused DeleteAll deletes nothing")

	require.NoError(t, o.Delete(ctx, lease))
	lease, err = podkit.Get[*objects.Namespace](ctx, o, "", "kube-node-lease")
	require.NoError(t, err, "kept, with its finalizer, until the namespace controller empties it")
	assert.NotNil(t, lease.DeletionTimestamp)
}

// A namespace has the "kubernetes" finalizer from its creation: deleted
// before Run, it is kept, and emptied and removed once Run runs, rather
// than leaving its content behind.
func TestNamespaceDeletedBeforeRunIsEmptied(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := newOrchestrator(t)
	ns := &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "team"}}
	require.NoError(t, o.Create(ctx, ns))
	assert.Equal(t, []string{string(objects.FinalizerKubernetes)}, ns.Finalizers)
	require.NoError(t, o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "cfg", Namespace: "team"}}))
	require.NoError(t, o.Delete(ctx, ns))
	got, err := podkit.Get[*objects.Namespace](ctx, o, "", "team")
	require.NoError(t, err, "kept until it is empty")
	require.NotNil(t, got.DeletionTimestamp)

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()
	_, err = podkit.WaitUntil(ctx, o, "", "team", func(n *objects.Namespace) bool { return n == nil })
	require.NoError(t, err)
	cms, err := podkit.List[*objects.ConfigMap](ctx, o, "team")
	require.NoError(t, err)
	assert.Empty(t, cms, "its content went first")
}

// generateName is checked by the kind's own name rule, with the random
// suffix the store appends; a generated namespace name is labelled too.
func TestGenerateNameFollowsTheKindsRule(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{GenerateName: "1web-"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	err := o.Create(ctx, svc)
	require.ErrorIs(t, err, objects.ErrInvalid)
	assert.ErrorContains(t, err, `metadata.generateName: Invalid value: "1web-": a DNS-1035 label`)
	err = o.Create(ctx, &objects.Namespace{ObjectMeta: objects.ObjectMeta{GenerateName: "a.b-"}})
	require.ErrorIs(t, err, objects.ErrInvalid)

	ns := &objects.Namespace{ObjectMeta: objects.ObjectMeta{GenerateName: "team-"}}
	require.NoError(t, o.Create(ctx, ns))
	require.True(t, strings.HasPrefix(ns.Name, "team-"), ns.Name)
	assert.Equal(t, ns.Name, ns.Labels[objects.LabelMetadataName])
	got, err := podkit.Get[*objects.Namespace](ctx, o, "", ns.Name)
	require.NoError(t, err)
	assert.Equal(t, ns.Name, got.Labels[objects.LabelMetadataName])
}

func TestListAndTypedHelpers(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	for _, name := range []string{"a", "b", "c"} {
		cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: name, Labels: map[string]string{"tier": name}}}
		require.NoError(t, o.Create(ctx, cm))
	}
	got, err := podkit.List[*objects.ConfigMap](ctx, o, "default", podkit.WithLabels("tier in (a,c)"))
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "a", got[0].Name)
	assert.Equal(t, "c", got[1].Name)
	_, err = podkit.List[*objects.ConfigMap](ctx, o, "default", podkit.WithLabels("tier in (a"))
	assert.Error(t, err)
}

func TestWaitFor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := newOrchestrator(t)
	d := testDeployment("web", 2)
	require.NoError(t, o.Create(ctx, d))

	done := make(chan error, 1)
	target := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}
	go func() { done <- o.WaitFor(ctx, target, podkit.Available) }()

	d.Status = objects.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
		Conditions: []objects.DeploymentCondition{{Type: objects.DeploymentAvailable, Status: objects.ConditionTrue}}}
	require.NoError(t, o.UpdateStatus(ctx, d))
	require.NoError(t, <-done)
	assert.Equal(t, int32(2), target.Status.AvailableReplicas)

	// A timeout names what was seen last.
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	err := o.WaitFor(short, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}, podkit.Deleted)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "availableReplicas")

	// The typed form returns the version that satisfied the condition.
	got, err := podkit.WaitUntil(ctx, o, "default", "web", func(d *objects.Deployment) bool {
		return d != nil && d.Status.AvailableReplicas == 2
	})
	require.NoError(t, err)
	assert.Equal(t, "web", got.Name)
	assert.Equal(t, int32(2), got.Status.AvailableReplicas)

	require.NoError(t, o.Delete(ctx, d))
	require.NoError(t, o.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: "web"}}, podkit.Deleted))
	gone, err := podkit.WaitUntil(ctx, o, "default", "web", func(d *objects.Deployment) bool { return d == nil })
	require.NoError(t, err)
	assert.Nil(t, gone)
}

func TestEventsAreFoldedAndExpire(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clk := clockwork.NewFakeClock()
	o := newOrchestrator(t, podkit.WithClock(clk), podkit.WithEventTTL(time.Hour))
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "a"}}
	require.NoError(t, o.Create(ctx, cm))

	w, err := o.Watch(ctx, podkit.KindEvent, podkit.InNamespace("default"))
	require.NoError(t, err)
	defer w.Stop()
	for range 3 {
		o.Event(ctx, cm, podkit.EventWarning, "Broken", "it broke")
	}
	o.Eventf(ctx, cm, podkit.EventNormal, "Fixed", "fixed after %d tries", 3)
	evs, err := podkit.List[*objects.Event](ctx, o, "default")
	require.NoError(t, err)
	require.Len(t, evs, 2)
	byReason := map[string]*objects.Event{}
	for _, e := range evs {
		byReason[e.Reason] = e
	}
	assert.Equal(t, int32(3), byReason["Broken"].Count)
	assert.Equal(t, "Warning", byReason["Broken"].Type)
	assert.Equal(t, "ConfigMap", byReason["Broken"].InvolvedObject.Kind)
	assert.Equal(t, cm.UID, byReason["Broken"].InvolvedObject.UID)
	assert.Equal(t, "fixed after 3 tries", byReason["Fixed"].Message)
	ev := <-w.Events()
	assert.Equal(t, store.Added, ev.Type, "the host sees events through Watch")

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); assert.NoError(t, o.Run(ctx)) }()
	clk.BlockUntilContext(ctx, 1) // the expiry ticker is waiting
	clk.Advance(2 * time.Hour)
	require.Eventually(t, func() bool {
		evs, err := podkit.List[*objects.Event](ctx, o, "default")
		return err == nil && len(evs) == 0
	}, 5*time.Second, 5*time.Millisecond, "events older than the TTL are deleted")
	cancel()
	wg.Wait()
}

// Past WithEventLimit, recording an event deletes the one seen longest
// ago.
func TestEventLimit(t *testing.T) {
	_, err := podkit.New(podkit.WithEventLimit(-1))
	require.Error(t, err)
	ctx := context.Background()
	clk := clockwork.NewFakeClock()
	o := newOrchestrator(t, podkit.WithClock(clk), podkit.WithEventLimit(3))
	for i := range 5 {
		cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("cm%d", i)}}
		require.NoError(t, o.Create(ctx, cm))
		o.Event(ctx, cm, podkit.EventNormal, "Made", "made")
		clk.Advance(time.Second)
	}
	evs, err := podkit.List[*objects.Event](ctx, o, "default")
	require.NoError(t, err)
	var names []string
	for _, e := range evs {
		names = append(names, e.InvolvedObject.Name)
	}
	assert.ElementsMatch(t, []string{"cm2", "cm3", "cm4"}, names)
}

func TestRunReturnsWhenContextEnds(t *testing.T) {
	o := newOrchestrator(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- o.Run(ctx) }()
	cancel()
	select {
	case err := <-errc:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRegisterNode(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	var rt runtime.Runtime = nopRuntime{}
	n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a"}},
		Status: objects.NodeStatus{Capacity: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("4")}}}
	require.NoError(t, o.RegisterNode(ctx, n, rt))
	got, err := podkit.Get[*objects.Node](ctx, o, "", "n1")
	require.NoError(t, err)
	assert.Equal(t, "a", got.Labels["zone"])
	pods := got.Status.Allocatable[objects.ResourcePods]
	assert.Equal(t, int64(110), pods.Value())
	cpu := got.Status.Allocatable[objects.ResourceCPU]
	assert.Equal(t, int64(4000), cpu.MilliValue())
	_, ok := o.NodeRuntime("n1")
	assert.True(t, ok)

	n.Labels["zone"] = "b"
	require.NoError(t, o.RegisterNode(ctx, n, rt), "registering again updates")
	got, err = podkit.Get[*objects.Node](ctx, o, "", "n1")
	require.NoError(t, err)
	assert.Equal(t, "b", got.Labels["zone"])

	require.NoError(t, o.RemoveNode(ctx, "n1"))
	_, ok = o.NodeRuntime("n1")
	assert.False(t, ok)

	err = o.RegisterNode(ctx, &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "Bad_Name"}}, rt)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "metadata.name"), "%v", err)
}

func testDeployment(name string, replicas int32) *objects.Deployment {
	labels := map[string]string{"app": name}
	return &objects.Deployment{
		ObjectMeta: objects.ObjectMeta{Name: name},
		Spec: objects.DeploymentSpec{
			Replicas: &replicas,
			Selector: &objects.LabelSelector{MatchLabels: labels},
			Template: objects.PodTemplateSpec{
				ObjectMeta: objects.ObjectMeta{Labels: labels},
				Spec:       objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "nginx:1.27"}}},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// nopRuntime satisfies runtime.Runtime for registration tests, which start no pods.
type nopRuntime struct{ runtime.Runtime }

// A new Ingress that names no class gets the default IngressClass, the
// newest when several are, and keeps it when the default changes; one that
// names a class, by field or annotation, keeps its own.
func TestDefaultIngressClass(t *testing.T) {
	clk := clockwork.NewFakeClockAt(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	o := newOrchestrator(t, podkit.WithClock(clk))
	ctx := t.Context()
	isDefault := map[string]string{objects.AnnotationIsDefaultIngressClass: "true"}
	ing := func(name string, annotations map[string]string) *objects.Ingress {
		return &objects.Ingress{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default", Annotations: annotations},
			Spec: objects.IngressSpec{DefaultBackend: &objects.IngressBackend{Service: &objects.IngressServiceBackend{Name: "web", Port: objects.ServiceBackendPort{Number: 80}}}}}
	}
	classOf := func(name string) string {
		t.Helper()
		var got objects.Ingress
		require.NoError(t, o.Get(ctx, objects.Key{Namespace: "default", Name: name}, &got))
		if got.Spec.IngressClassName == nil {
			return ""
		}
		return *got.Spec.IngressClassName
	}

	require.NoError(t, o.Create(ctx, ing("before", nil)))
	require.NoError(t, o.Create(ctx, &objects.IngressClass{ObjectMeta: objects.ObjectMeta{Name: "a-old", Annotations: isDefault},
		Spec: objects.IngressClassSpec{Controller: "example.com/old"}}))
	clk.Advance(time.Minute)
	require.NoError(t, o.Create(ctx, &objects.IngressClass{ObjectMeta: objects.ObjectMeta{Name: "b-new", Annotations: isDefault},
		Spec: objects.IngressClassSpec{Controller: "example.com/new"}}))
	require.NoError(t, o.Create(ctx, ing("after", nil)))
	named := ing("named", nil)
	named.Spec.IngressClassName = ptr("other")
	require.NoError(t, o.Create(ctx, named))
	require.NoError(t, o.Create(ctx, ing("annotated", map[string]string{"kubernetes.io/ingress.class": "legacy"})))
	require.NoError(t, o.Delete(ctx, &objects.IngressClass{ObjectMeta: objects.ObjectMeta{Name: "b-new"}}))

	for name, want := range map[string]string{"before": "", "after": "b-new", "named": "other", "annotated": ""} {
		assert.Equal(t, want, classOf(name), name)
	}
}
