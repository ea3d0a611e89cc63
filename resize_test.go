package podkit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

func resources(req, lim string) objects.ResourceRequirements {
	parse := func(s string) objects.ResourceList {
		if s == "" {
			return nil
		}
		cpu, mem, _ := strings.Cut(s, "/")
		return objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity(cpu), objects.ResourceMemory: objects.MustParseQuantity(mem)}
	}
	return objects.ResourceRequirements{Requests: parse(req), Limits: parse(lim)}
}

// resizeTo returns a resize request of pod's container app to r.
func resizeTo(pod *objects.Pod, r objects.ResourceRequirements) *objects.Pod {
	p := pod.DeepCopy()
	p.ResourceVersion = ""
	p.Spec.Containers[0].Resources = r
	return p
}

// liveContainer returns the running instance of the pod's container app.
func liveContainer(t *testing.T, ctx context.Context, rt *fake.Runtime, uid string) runtime.ContainerStatus {
	t.Helper()
	cs, err := rt.ListContainers(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid}})
	require.NoError(t, err)
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			return c
		}
	}
	t.Fatalf("pod %s has no running container: %+v", uid, cs)
	return runtime.ContainerStatus{}
}

// A running pod is resized in place: its CPU without a restart, its memory
// (resizePolicy RestartContainer) by one; its status reports what is
// allocated and applied; a resize the node cannot hold is Infeasible, one
// it cannot hold now Deferred until room is made.
func TestResizeInPlace(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	rt := registerFakeNodes(t, ctx, o, 1)["n1"]
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "nginx:1.27", Resources: resources("500m/128Mi", "1/256Mi"),
			ResizePolicy: []objects.ContainerResizePolicy{{ResourceName: objects.ResourceMemory, RestartPolicy: objects.RestartContainer}}}},
	}}
	require.NoError(t, o.Create(ctx, pod))
	settled := func(cpuLimit, memLimit string) func(*objects.Pod) bool {
		return func(p *objects.Pod) bool {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.Phase != objects.PodRunning {
				return false
			}
			cs := p.Status.ContainerStatuses[0]
			return cs.State.Running != nil && cs.Resources != nil &&
				cs.Resources.Limits.Cpu().Equal(objects.MustParseQuantity(cpuLimit)) &&
				cs.Resources.Limits.Memory().Equal(objects.MustParseQuantity(memLimit)) &&
				objects.GetPodCondition(&p.Status, objects.PodResizePending) == nil &&
				objects.GetPodCondition(&p.Status, objects.PodResizeInProgress) == nil
		}
	}
	got, err := podkit.WaitUntil(wctx, o, "default", "web", settled("1", "256Mi"))
	require.NoError(t, err)
	cs := got.Status.ContainerStatuses[0]
	assert.True(t, cs.AllocatedResources.Cpu().Equal(objects.MustParseQuantity("500m")), "%v", cs.AllocatedResources)
	assert.True(t, cs.AllocatedResources.Memory().Equal(objects.MustParseQuantity("128Mi")))
	first := liveContainer(t, ctx, rt, string(got.UID))
	assert.Equal(t, runtime.Resources{CPUShares: 512, CPUQuotaMillis: 1000, MemoryLimitBytes: 256 << 20}, *first.Resources)

	// CPU: applied in place.
	require.NoError(t, o.Resize(ctx, resizeTo(got, resources("1500m/128Mi", "2/256Mi"))))
	got, err = podkit.WaitUntil(wctx, o, "default", "web", settled("2", "256Mi"))
	require.NoError(t, err)
	assert.True(t, got.Status.ContainerStatuses[0].AllocatedResources.Cpu().Equal(objects.MustParseQuantity("1500m")))
	assert.Zero(t, got.Status.ContainerStatuses[0].RestartCount, "a cpu resize restarted the container")
	now := liveContainer(t, ctx, rt, string(got.UID))
	assert.Equal(t, first.ID, now.ID, "the container was replaced")
	assert.Equal(t, runtime.Resources{CPUShares: 1536, CPUQuotaMillis: 2000, MemoryLimitBytes: 256 << 20}, *now.Resources)

	// Memory, whose policy is RestartContainer: one restart, with the new
	// limit.
	require.NoError(t, o.Resize(ctx, resizeTo(got, resources("1500m/256Mi", "2/512Mi"))))
	got, err = podkit.WaitUntil(wctx, o, "default", "web", settled("2", "512Mi"))
	require.NoError(t, err)
	assert.Equal(t, int32(1), got.Status.ContainerStatuses[0].RestartCount)
	now = liveContainer(t, ctx, rt, string(got.UID))
	assert.NotEqual(t, first.ID, now.ID)
	assert.Equal(t, int64(512<<20), now.Resources.MemoryLimitBytes)

	// More than the node has: Infeasible, and nothing changes.
	require.NoError(t, o.Resize(ctx, resizeTo(got, resources("5/256Mi", "5/512Mi"))))
	pending := func(reason string) func(*objects.Pod) bool {
		return func(p *objects.Pod) bool {
			c := objects.GetPodCondition(&p.Status, objects.PodResizePending)
			return c != nil && c.Reason == reason
		}
	}
	got, err = podkit.WaitUntil(wctx, o, "default", "web", pending(objects.PodReasonInfeasible))
	require.NoError(t, err)
	assert.Equal(t, "Node didn't have enough capacity: cpu, requested: 5000, capacity: 4000",
		objects.GetPodCondition(&got.Status, objects.PodResizePending).Message)
	assert.True(t, got.Status.ContainerStatuses[0].AllocatedResources.Cpu().Equal(objects.MustParseQuantity("1500m")))

	// Room taken by another pod: Deferred, then admitted once it goes.
	other := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "other"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "nginx:1.27", Resources: resources("2/1Gi", "")}}}}
	require.NoError(t, o.Create(ctx, other))
	require.NoError(t, o.WaitFor(wctx, other, podkit.Running))
	require.NoError(t, o.Resize(ctx, resizeTo(got, resources("3/256Mi", "3/512Mi"))))
	got, err = podkit.WaitUntil(wctx, o, "default", "web", pending(objects.PodReasonDeferred))
	require.NoError(t, err)
	assert.Equal(t, "Node didn't have enough resource: cpu, requested: 3000, used: 2000, capacity: 4000",
		objects.GetPodCondition(&got.Status, objects.PodResizePending).Message)
	require.NoError(t, o.Delete(ctx, other, podkit.GracePeriod(0)))
	_, err = podkit.WaitUntil(wctx, o, "default", "web", settled("3", "512Mi"))
	require.NoError(t, err)
	assert.Equal(t, int64(3000), liveContainer(t, ctx, rt, string(got.UID)).Resources.CPUQuotaMillis)
}

// A memory limit below what the container uses is not applied: the
// resize stays in progress with reason Error until the container uses
// less.
func TestResizeMemoryBelowUsage(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	rt := registerFakeNodes(t, ctx, o, 1)["n1"]
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "db"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "postgres:17", Resources: resources("500m/512Mi", "1/512Mi")}}}}
	require.NoError(t, o.Create(ctx, pod))
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Running))
	require.Equal(t, 1, rt.SetUsage(fake.Container("default", "db", "app"), 0, 300<<20))

	got, err := podkit.Get[*objects.Pod](ctx, o, "default", "db")
	require.NoError(t, err)
	require.NoError(t, o.Resize(ctx, resizeTo(got, resources("500m/256Mi", "1/256Mi"))))
	got, err = podkit.WaitUntil(wctx, o, "default", "db", func(p *objects.Pod) bool {
		c := objects.GetPodCondition(&p.Status, objects.PodResizeInProgress)
		return c != nil && c.Reason == objects.PodReasonError
	})
	require.NoError(t, err)
	assert.Contains(t, objects.GetPodCondition(&got.Status, objects.PodResizeInProgress).Message,
		"attempting to set the memory limit of container app (268435456) below its usage (314572800)")
	assert.True(t, got.Status.ContainerStatuses[0].Resources.Limits.Memory().Equal(objects.MustParseQuantity("512Mi")),
		"status.resources reports the limit applied")

	require.Equal(t, 1, rt.SetUsage(fake.Container("default", "db", "app"), 0, 100<<20))
	got, err = podkit.WaitUntil(wctx, o, "default", "db", func(p *objects.Pod) bool {
		return objects.GetPodCondition(&p.Status, objects.PodResizeInProgress) == nil &&
			p.Status.ContainerStatuses[0].Resources.Limits.Memory().Equal(objects.MustParseQuantity("256Mi"))
	})
	require.NoError(t, err)
	assert.Zero(t, got.Status.ContainerStatuses[0].RestartCount)
}

// Resize refuses what Kubernetes' pods/resize refuses, with its messages,
// and ignores the fields it does not take; Update may not change
// resources.
func TestResizeValidation(t *testing.T) {
	o := newOrchestrator(t)
	ctx := context.Background()
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.PodSpec{
		InitContainers: []objects.Container{{Name: "init", Image: "busybox", Resources: resources("100m/64Mi", "")}},
		Containers:     []objects.Container{{Name: "app", Image: "nginx:1.27", Resources: resources("500m/128Mi", "1/256Mi")}},
	}}
	require.NoError(t, o.Create(ctx, pod))

	for name, tc := range map[string]struct {
		edit func(p *objects.Pod)
		want string
	}{
		"QoS class": {func(p *objects.Pod) {
			p.Spec.Containers[0].Resources = resources("1/256Mi", "1/256Mi")
			p.Spec.InitContainers[0].Resources = resources("1/256Mi", "1/256Mi")
		}, "Pod QOS Class may not change as a result of resizing"},
		"request removed": {func(p *objects.Pod) {
			delete(p.Spec.Containers[0].Resources.Requests, objects.ResourceMemory)
		}, "spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed"},
		"limit removed": {func(p *objects.Pod) {
			p.Spec.Containers[0].Resources.Limits = nil
		}, "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"},
		"ephemeral-storage": {func(p *objects.Pod) {
			p.Spec.Containers[0].Resources.Limits[objects.ResourceEphemeralStorage] = objects.MustParseQuantity("1Gi")
		}, "spec: Forbidden: only cpu and memory resources are mutable"},
		"request above limit": {func(p *objects.Pod) {
			p.Spec.Containers[0].Resources.Requests[objects.ResourceCPU] = objects.MustParseQuantity("2")
		}, "must be less than or equal to cpu limit of 1"},
		"init container": {func(p *objects.Pod) {
			p.Spec.InitContainers[0].Resources.Requests[objects.ResourceCPU] = objects.MustParseQuantity("200m")
		}, "spec.initContainers[0].resources: Forbidden: resources for non-sidecar init containers are immutable"},
		"unknown container": {func(p *objects.Pod) {
			p.Spec.Containers[0].Name = "nope"
		}, "spec.containers[0].name: Forbidden: containers may not be added, renamed or reordered on resize"},
		"resizePolicy": {func(p *objects.Pod) {
			p.Spec.Containers[0].ResizePolicy = []objects.ContainerResizePolicy{{ResourceName: "storage", RestartPolicy: objects.NotRequired}}
		}, `spec.containers[0].resizePolicy[0].resourceName: Unsupported value: "storage": supported values: "cpu", "memory"`},
	} {
		t.Run(name, func(t *testing.T) {
			p := pod.DeepCopy()
			tc.edit(p)
			err := o.Resize(ctx, p)
			require.ErrorIs(t, err, objects.ErrInvalid)
			assert.ErrorContains(t, err, tc.want)
		})
	}

	// What a resize does not take is ignored; a stale resourceVersion is
	// a conflict.
	p := pod.DeepCopy()
	p.Spec.Containers[0].Image = "nginx:1.28"
	p.Labels = map[string]string{"ignored": "yes"}
	p.Spec.Containers[0].Resources = resources("700m/128Mi", "1/256Mi")
	require.NoError(t, o.Resize(ctx, p))
	assert.Equal(t, "nginx:1.27", p.Spec.Containers[0].Image)
	assert.Empty(t, p.Labels)
	assert.True(t, p.Spec.Containers[0].Resources.Requests.Cpu().Equal(objects.MustParseQuantity("700m")))
	assert.NotEqual(t, pod.Generation, p.Generation, "a resize changes the spec: its generation moves on")
	stale := p.DeepCopy()
	stale.ResourceVersion = pod.ResourceVersion
	stale.Spec.Containers[0].Resources = resources("800m/128Mi", "1/256Mi")
	require.ErrorIs(t, o.Resize(ctx, stale), store.ErrConflict)

	// Update keeps refusing resource changes.
	up := p.DeepCopy()
	up.Spec.Containers[0].Resources = resources("900m/128Mi", "1/256Mi")
	require.ErrorContains(t, o.Update(ctx, up), "spec: Forbidden: pod updates may not change fields other than")

	// A RestartContainer policy needs a pod that restarts.
	never := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "once"}, Spec: objects.PodSpec{RestartPolicy: objects.RestartPolicyNever,
		Containers: []objects.Container{{Name: "app", Image: "busybox",
			ResizePolicy: []objects.ContainerResizePolicy{{ResourceName: objects.ResourceCPU, RestartPolicy: objects.RestartContainer}}}}}}
	require.ErrorContains(t, o.Create(ctx, never),
		`spec.containers[0].resizePolicy[0].restartPolicy: Invalid value: "RestartContainer": must be 'NotRequired' when `+"`restartPolicy`"+` is 'Never'`)
}
