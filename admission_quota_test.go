package podkit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

func quotaStatus(t *testing.T, ctx context.Context, o *podkit.Orchestrator, ns, name string) objects.ResourceQuotaStatus {
	t.Helper()
	q, err := podkit.Get[*objects.ResourceQuota](ctx, o, ns, name)
	require.NoError(t, err)
	return q.Status
}

// waitUsed waits until the quota's status.used equals used.
func waitUsed(t *testing.T, ctx context.Context, o *podkit.Orchestrator, ns, name string, used objects.ResourceList) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	var seen objects.ResourceList
	_, err := podkit.WaitUntil(wctx, o, ns, name, func(q *objects.ResourceQuota) bool {
		if q == nil {
			return false
		}
		seen = q.Status.Used
		if len(seen) != len(used) {
			return false
		}
		for n, v := range used {
			if !seen[n].Equal(v) {
				return false
			}
		}
		return true
	})
	require.NoError(t, err, "quota %s/%s: last seen used %v, want %v", ns, name, seen, used)
}

// A write that would take a quota past its hard limit is refused with
// Kubernetes' message; one that fits is charged to the quota's
// status.used in its own transaction, without a running controller.
func TestResourceQuotaAdmission(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, `apiVersion: v1
kind: ResourceQuota
metadata: {name: objects}
spec:
  hard: {pods: "2", services: "2", services.nodeports: "1", services.loadbalancers: "0", configmaps: "1",
    count/deployments.apps: "1", persistentvolumeclaims: "1", requests.storage: 5Gi}
`)
	pod := func(name string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name},
			Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}}}}
	}
	require.NoError(t, o.Create(ctx, pod("a")))
	require.NoError(t, o.Create(ctx, pod("b")))
	err := o.Create(ctx, pod("c"))
	require.ErrorIs(t, err, podkit.ErrForbidden)
	assert.EqualError(t, err, `pods "c" is forbidden: exceeded quota: objects, requested: pods=1, used: pods=2, limited: pods=2: forbidden`)
	st := quotaStatus(t, ctx, o, "default", "objects")
	assert.Equal(t, "2", st.Used.Pods().String())
	assert.Equal(t, "0", st.Used.Name(objects.ResourceServices, objects.DecimalSI).String(), "every resource of spec.hard is counted")
	assert.Equal(t, "2", st.Hard.Pods().String(), "status.hard is spec.hard")

	svc := func(name string, typ objects.ServiceType, ports ...int32) *objects.Service {
		s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, objects.ServicePort{Name: fmt.Sprint("p", p), Port: p})
		}
		return s
	}
	err = o.Create(ctx, svc("np", objects.ServiceTypeNodePort, 80, 443))
	assert.EqualError(t, err, `services "np" is forbidden: exceeded quota: objects, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1: forbidden`)
	err = o.Create(ctx, svc("lb", objects.ServiceTypeLoadBalancer, 80))
	assert.EqualError(t, err, `services "lb" is forbidden: exceeded quota: objects, requested: services.loadbalancers=1, used: services.loadbalancers=0, limited: services.loadbalancers=0: forbidden`)
	web := svc("web", objects.ServiceTypeClusterIP, 80)
	require.NoError(t, o.Create(ctx, web))
	web.Spec.Type = objects.ServiceTypeNodePort
	require.NoError(t, o.Update(ctx, web), "one node port fits")
	web.Spec.Ports = append(web.Spec.Ports, objects.ServicePort{Name: "p443", Port: 443})
	err = o.Update(ctx, web)
	assert.EqualError(t, err, `services "web" is forbidden: exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1: forbidden`,
		"an update is charged what it adds")

	require.NoError(t, o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "one"}}))
	err = o.Create(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "two"}})
	assert.EqualError(t, err, `configmaps "two" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=1, limited: configmaps=1: forbidden`)

	require.NoError(t, o.Create(ctx, testDeployment("web", 1)))
	err = o.Create(ctx, testDeployment("api", 1))
	assert.EqualError(t, err, `deployments.apps "api" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1: forbidden`)

	claim := &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Name: "data"}, Spec: objects.PersistentVolumeClaimSpec{
		AccessModes: []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
		Resources:   objects.VolumeResourceRequirements{Requests: resourceList("storage", "8Gi")}}}
	err = o.Create(ctx, claim)
	assert.EqualError(t, err, `persistentvolumeclaims "data" is forbidden: exceeded quota: objects, requested: requests.storage=8Gi, used: requests.storage=0, limited: requests.storage=5Gi: forbidden`)

	// Apply is one transaction: a refused object refuses all, and no
	// quota is charged.
	before := quotaStatus(t, ctx, o, "default", "objects")
	applyErr := o.Apply(ctx, &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "s"}}, pod("d"))
	require.ErrorIs(t, applyErr, podkit.ErrForbidden)
	assert.Equal(t, before, quotaStatus(t, ctx, o, "default", "objects"))

	// Raising the quota takes effect at once: admission computes a quota
	// whose status is not its spec's.
	applyManifest(t, ctx, o, `apiVersion: v1
kind: ResourceQuota
metadata: {name: objects}
spec:
  hard: {pods: "3"}
`)
	require.NoError(t, o.Create(ctx, pod("c")))
	st = quotaStatus(t, ctx, o, "default", "objects")
	assert.Equal(t, resourceList("pods", "3"), st.Hard)
	assert.Equal(t, resourceList("pods", "3"), st.Used)
}

// A quota limiting compute makes every container say how much it
// requests or limits of it, with Kubernetes' "must specify" message, and
// counts the pods its scopes select.
func TestResourceQuotaComputeAndScopes(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {requests.cpu: "1", limits.memory: 1Gi}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: besteffort}
spec:
  hard: {pods: "1"}
  scopes: [BestEffort]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: high}
spec:
  hard: {pods: "1"}
  scopeSelector:
    matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]
`)
	// The besteffort quota matches a pod without resources; the compute
	// quota refuses it.
	bare := limitedPod("bare", objects.ResourceRequirements{})
	bare.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "app:1",
		Resources: objects.ResourceRequirements{Requests: resourceList("cpu", "100m")}}}
	err := o.Create(ctx, bare)
	require.ErrorIs(t, err, podkit.ErrForbidden)
	assert.EqualError(t, err, `pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: app,setup; requests.cpu for: app: forbidden`)

	sized := func(name, cpu string) *objects.Pod {
		return limitedPod(name, objects.ResourceRequirements{Requests: resourceList("cpu", cpu), Limits: resourceList("memory", "256Mi")})
	}
	require.NoError(t, o.Create(ctx, sized("a", "600m")))
	err = o.Create(ctx, sized("b", "500m"))
	assert.EqualError(t, err, `pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1: forbidden`)
	st := quotaStatus(t, ctx, o, "default", "compute")
	assert.Equal(t, resourceList("requests.cpu", "600m", "limits.memory", "256Mi"), st.Used)
	assert.Empty(t, quotaStatus(t, ctx, o, "default", "besteffort").Used, "not a BestEffort pod: not counted")

	high := sized("h1", "100m")
	high.Spec.PriorityClassName = "high"
	require.NoError(t, o.Create(ctx, high))
	high2 := sized("h2", "100m")
	high2.Spec.PriorityClassName = "high"
	err = o.Create(ctx, high2)
	assert.EqualError(t, err, `pods "h2" is forbidden: exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1: forbidden`)
	assert.Equal(t, resourceList("requests.cpu", "700m", "limits.memory", "512Mi"), quotaStatus(t, ctx, o, "default", "compute").Used)
}

// Concurrent creates against a quota of one pod: the quota is checked and
// spent in each create's transaction, so exactly one passes.
func TestResourceQuotaConcurrentCreates(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: one}\nspec: {hard: {pods: \"1\"}}\n")
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = o.Create(ctx, &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprint("p", i)},
				Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}}}})
		})
	}
	close(start)
	wg.Wait()
	passed := 0
	for _, err := range errs {
		if err == nil {
			passed++
			continue
		}
		require.ErrorIs(t, err, podkit.ErrForbidden)
		assert.Contains(t, err.Error(), "exceeded quota: one, requested: pods=1, used: pods=1, limited: pods=1")
	}
	assert.Equal(t, 1, passed)
	pods, err := podkit.List[*objects.Pod](ctx, o, "default")
	require.NoError(t, err)
	assert.Len(t, pods, 1)
	assert.Equal(t, resourceList("pods", "1"), quotaStatus(t, ctx, o, "default", "one").Used)
}

// The ResourceQuota controller frees what a pod used once it is deleted
// or has finished (count/pods still counts a finished pod, as in
// Kubernetes), and a pod the quota refused then fits.
func TestResourceQuotaFreedWhenPodsGoOrFinish(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	rts := registerFakeNodes(t, ctx, o, 1)
	applyManifest(t, ctx, o, "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec: {hard: {pods: \"1\", count/pods: \"5\"}}\n")
	waitUsed(t, ctx, o, "default", "q", resourceList("pods", "0", "count/pods", "0"))

	pod := func(name string) *objects.Pod {
		return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.PodSpec{
			RestartPolicy: objects.RestartPolicyNever, Containers: []objects.Container{{Name: "app", Image: "app:1"}}}}
	}
	a := pod("a")
	require.NoError(t, o.Create(ctx, a))
	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	require.NoError(t, o.WaitFor(wctx, a, podkit.Running))
	require.ErrorIs(t, o.Create(ctx, pod("b")), podkit.ErrForbidden)

	require.NoError(t, o.Delete(ctx, a, podkit.GracePeriod(0)))
	waitUsed(t, ctx, o, "default", "q", resourceList("pods", "0", "count/pods", "0"))
	b := pod("b")
	require.NoError(t, o.Create(ctx, b), "the deleted pod's share is free")
	require.NoError(t, o.WaitFor(wctx, b, podkit.Running))

	require.Equal(t, 1, rts["n1"].Kill(fake.Pod("default", "b"), 0))
	require.NoError(t, o.WaitFor(wctx, b, func(obj objects.Object) bool {
		p, ok := obj.(*objects.Pod)
		return ok && p.Status.Phase == objects.PodSucceeded
	}))
	waitUsed(t, ctx, o, "default", "q", resourceList("pods", "0", "count/pods", "1"))
	require.NoError(t, o.Create(ctx, pod("c")), "a finished pod's share is free")
}

// A Deployment scaled past a pods quota: its ReplicaSet creates the pods
// that fit, records FailedCreate with the quota's refusal and retries,
// and creates the rest once the quota is raised. The pods it creates get
// the namespace's LimitRange defaults, admitted as the host's are.
func TestResourceQuotaDeploymentFailedCreate(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	applyManifest(t, ctx, o, `apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: team}
spec:
  limits: [{type: Container, default: {cpu: 200m, memory: 128Mi}}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: pods, namespace: team}
spec:
  hard: {pods: "2", requests.cpu: "2"}
`)
	d := testDeployment("web", 3)
	d.Namespace = "team"
	require.NoError(t, o.Apply(ctx, d))

	wctx, cancel := context.WithTimeout(ctx, apiWaitTimeout)
	defer cancel()
	var seen []string
	require.Eventually(t, func() bool {
		evs, err := podkit.List[*objects.Event](wctx, o, "team")
		if err != nil {
			return false
		}
		seen = seen[:0]
		for _, e := range evs {
			seen = append(seen, e.InvolvedObject.Kind+" "+e.Reason+": "+e.Message)
			if e.InvolvedObject.Kind == podkit.KindReplicaSet && e.Reason == "FailedCreate" &&
				strings.HasPrefix(e.Message, `Error creating: pods "web-`) &&
				strings.HasSuffix(e.Message, `" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2: forbidden`) {
				return true
			}
		}
		return false
	}, apiWaitTimeout, 10*time.Millisecond, "events seen: %v", seen)
	pods, err := podkit.List[*objects.Pod](ctx, o, "team")
	require.NoError(t, err)
	require.Len(t, pods, 2, "the pods that fit are created")
	for _, p := range pods {
		assert.Equal(t, resourceList("cpu", "200m", "memory", "128Mi"), p.Spec.Containers[0].Resources.Requests, p.Name)
		assert.Contains(t, p.Annotations[objects.AnnotationLimitRanger], "cpu, memory request for container app")
	}
	waitUsed(t, ctx, o, "team", "pods", resourceList("pods", "2", "requests.cpu", "400m"))

	applyManifest(t, ctx, o, `apiVersion: v1
kind: ResourceQuota
metadata: {name: pods, namespace: team}
spec:
  hard: {pods: "3", requests.cpu: "2"}
`)
	require.NoError(t, o.WaitFor(wctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "team", Name: "web"}}, podkit.Available))
	waitUsed(t, ctx, o, "team", "pods", resourceList("pods", "3", "requests.cpu", "600m"))
}
