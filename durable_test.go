package podkit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/etcdtest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store/bolt"
	"github.com/podkit/podkit/store/etcd"
)

// An orchestrator on a store/bolt file stops; a new one opens the file.
// It finds every object where the first left it: the pods keep their
// uids, the node agent adopts their containers (the runtime, like a
// container daemon, outlives both) and makes none again, the Service keeps
// its cluster IP and a new one gets another, and the Deployment goes on
// from where it was.
func TestRestartOnDurableStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "podkit.db")
	rt, err := fake.New()
	require.NoError(t, err)
	defer rt.Close()

	start := func() (*podkit.Orchestrator, func()) {
		s, err := bolt.Open(path)
		require.NoError(t, err)
		o, err := podkit.New(podkit.WithStore(s))
		require.NoError(t, err)
		require.NoError(t, o.RegisterNode(ctx, &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("4")}}}, rt))
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- o.Run(runCtx) }()
		return o, func() {
			stop()
			require.NoError(t, <-done)
			require.NoError(t, o.Close())
			require.NoError(t, s.Close())
		}
	}
	containers := func() []string {
		ctrs, err := rt.ListContainers(ctx, runtime.Filter{})
		require.NoError(t, err)
		var ids []string
		for _, c := range ctrs {
			require.Equal(t, runtime.ContainerRunning, c.State, c.ID)
			ids = append(ids, c.ID)
		}
		slices.Sort(ids)
		return ids
	}
	uids := func(o *podkit.Orchestrator) []string {
		pods, err := podkit.List[*objects.Pod](ctx, o, "default")
		require.NoError(t, err)
		var out []string
		for _, p := range pods {
			out = append(out, p.UID)
		}
		slices.Sort(out)
		return out
	}
	svc := func(name string) *objects.Service {
		return &objects.Service{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name},
			Spec: objects.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []objects.ServicePort{{Port: 80}}}}
	}
	deployment := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}

	o, stop := start()
	require.NoError(t, o.Apply(ctx, testDeployment("web", 3), svc("web")))
	require.NoError(t, o.WaitFor(ctx, deployment, podkit.Available))
	pods, ctrs := uids(o), containers()
	require.Len(t, pods, 3)
	require.Len(t, ctrs, 3)
	web, err := podkit.Get[*objects.Service](ctx, o, "default", "web")
	require.NoError(t, err)
	require.NotEmpty(t, web.Spec.ClusterIP)
	stop()

	o, stop = start()
	defer stop()
	require.NoError(t, o.WaitFor(ctx, deployment, podkit.Available))
	require.Equal(t, pods, uids(o), "the pods")
	require.Equal(t, ctrs, containers(), "the containers")
	got, err := podkit.Get[*objects.Service](ctx, o, "default", "web")
	require.NoError(t, err)
	require.Equal(t, web.Spec.ClusterIP, got.Spec.ClusterIP)
	require.NoError(t, o.Apply(ctx, svc("other")))
	other, err := podkit.Get[*objects.Service](ctx, o, "default", "other")
	require.NoError(t, err)
	require.NotEqual(t, web.Spec.ClusterIP, other.Spec.ClusterIP, "the allocator knows the loaded Service's address")

	require.NoError(t, o.Apply(ctx, testDeployment("web", 4)))
	require.NoError(t, o.WaitFor(ctx, deployment, func(obj objects.Object) bool {
		d := obj.(*objects.Deployment)
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 4
	}))
	now := containers()
	require.Len(t, now, 4)
	require.Subset(t, now, ctrs, "the three containers are still the old ones")
}

// Two orchestrators share a store/etcd prefix: the first serves, the
// second waits in etcd.Open as a standby. The first loses its lock (its
// etcd client goes, as when its process dies or its machine is cut off):
// its store stops serving, so its Run returns, saying why. The standby
// takes over once the lock expires, adopts the running containers, and
// goes on: a scale-up adds exactly one.
func TestFailoverOnEtcd(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	server := etcdtest.New(t)
	cfg := etcd.Config{Prefix: "/podkit/", LockTTL: 2 * time.Second}
	rt, err := fake.New()
	require.NoError(t, err)
	defer rt.Close()
	node := func() *objects.Node {
		return &objects.Node{ObjectMeta: objects.ObjectMeta{Name: "n1"},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("4")}}}
	}
	serve := func(s *etcd.Store) (*podkit.Orchestrator, chan error) {
		o, err := podkit.New(podkit.WithStore(s))
		require.NoError(t, err)
		require.NoError(t, o.RegisterNode(ctx, node(), rt))
		done := make(chan error, 1)
		go func() { done <- o.Run(ctx) }()
		return o, done
	}
	deployment := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}

	cli1 := server.Client(t)
	s1, err := etcd.Open(ctx, cli1, cfg)
	require.NoError(t, err)
	defer s1.Close()
	o1, done1 := serve(s1)
	require.NoError(t, o1.Apply(ctx, testDeployment("web", 3)))
	require.NoError(t, o1.WaitFor(ctx, deployment, podkit.Available))
	pods, err := podkit.List[*objects.Pod](ctx, o1, "default")
	require.NoError(t, err)
	ctrs, err := rt.ListContainers(ctx, runtime.Filter{})
	require.NoError(t, err)
	require.Len(t, ctrs, 3)

	standby := make(chan *etcd.Store, 1)
	go func() {
		s2, err := etcd.Open(ctx, server.Client(t), cfg)
		assert.NoError(t, err)
		standby <- s2
	}()

	require.NoError(t, cli1.Close())
	select {
	case err := <-done1:
		require.ErrorIs(t, err, etcd.ErrLockLost)
	case <-ctx.Done():
		t.Fatal("Run did not return after its store lost its lock")
	}
	require.ErrorIs(t, s1.Err(), etcd.ErrLockLost)
	require.NoError(t, o1.Close())

	s2 := <-standby
	require.NotNil(t, s2)
	defer s2.Close()
	o2, done2 := serve(s2)
	require.NoError(t, o2.WaitFor(ctx, deployment, podkit.Available))
	got, err := podkit.List[*objects.Pod](ctx, o2, "default")
	require.NoError(t, err)
	require.ElementsMatch(t, uidsOf(pods), uidsOf(got), "the pods")
	now, err := rt.ListContainers(ctx, runtime.Filter{})
	require.NoError(t, err)
	require.ElementsMatch(t, idsOf(ctrs), idsOf(now), "the containers, adopted")

	require.NoError(t, o2.Apply(ctx, testDeployment("web", 4)))
	require.NoError(t, o2.WaitFor(ctx, deployment, func(obj objects.Object) bool {
		d := obj.(*objects.Deployment)
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == 4
	}))
	now, err = rt.ListContainers(ctx, runtime.Filter{})
	require.NoError(t, err)
	require.Len(t, now, 4)
	require.Subset(t, idsOf(now), idsOf(ctrs))
	cancel()
	require.NoError(t, <-done2)
	require.NoError(t, o2.Close())
}

func uidsOf(pods []*objects.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.UID)
	}
	return out
}

func idsOf(ctrs []runtime.ContainerStatus) []string {
	var out []string
	for _, c := range ctrs {
		out = append(out, c.ID)
	}
	return out
}

// Applying again, after a restart on a durable store, the objects applied
// before changes nothing: no write, no new generation. The store went
// through JSON, which keeps no difference between an empty list or map
// and none, and neither does the comparison.
func TestReapplyAfterRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "podkit.db")
	objs := func() []objects.Object {
		d := testDeployment("web", 2)
		d.Spec.Template.Spec.Volumes = []objects.Volume{}
		d.Spec.Template.Spec.Containers[0].Env = []objects.EnvVar{}
		d.Spec.Template.Spec.Containers[0].Args = []string{}
		return []objects.Object{
			d,
			&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "cfg", Labels: map[string]string{}}, Data: map[string]string{}},
			&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"},
				Spec: objects.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []objects.ServicePort{{Port: 80}}, ExternalIPs: []string{}}},
		}
	}
	versions := func(o *podkit.Orchestrator) map[string]string {
		out := map[string]string{}
		for _, obj := range objs() {
			require.NoError(t, o.Get(ctx, obj.GetObjectMeta().Key(), obj))
			m := obj.GetObjectMeta()
			out[obj.GetTypeMeta().Kind+"/"+m.Name] = fmt.Sprintf("rv=%s generation=%d", m.ResourceVersion, m.Generation)
		}
		return out
	}
	for i := range 2 {
		s, err := bolt.Open(path)
		require.NoError(t, err)
		o, err := podkit.New(podkit.WithStore(s))
		require.NoError(t, err)
		if i == 0 {
			require.NoError(t, o.Apply(ctx, objs()...))
		}
		before := versions(o)
		require.NoError(t, o.Apply(ctx, objs()...))
		require.Equal(t, before, versions(o), "run %d", i)
		require.NoError(t, o.Close())
		require.NoError(t, s.Close())
	}
}
