package podkit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
)

// applyManifest decodes a manifest strictly and applies it.
func applyManifest(t *testing.T, ctx context.Context, o *podkit.Orchestrator, manifest string) {
	t.Helper()
	objs, err := objects.DecodeYAML(strings.NewReader(manifest))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))
}

func resourceList(kv ...string) objects.ResourceList {
	l := objects.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[objects.ResourceName(kv[i])] = objects.MustParseQuantity(kv[i+1])
	}
	return l
}

// limitedPod is a pod of containers named after the keys of resources,
// with those requests and limits (nil for none).
func limitedPod(name string, containers ...objects.ResourceRequirements) *objects.Pod {
	p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name}}
	for i, r := range containers {
		p.Spec.Containers = append(p.Spec.Containers, objects.Container{
			Name: []string{"app", "sidecar", "third"}[i], Image: "app:1", Resources: r})
	}
	return p
}

// A new pod's containers and init containers get the namespace's
// LimitRange defaults where they set no request or limit, with
// Kubernetes' kubernetes.io/limit-ranger annotation saying what was set;
// a pod or claim outside the LimitRange's bounds is refused with
// Kubernetes' messages.
func TestLimitRangeAdmission(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, `apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    max: {cpu: "1"}
    min: {memory: 64Mi}
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 100m}
    maxLimitRequestRatio: {cpu: "5"}
  - type: Pod
    max: {cpu: 1500m}
  - type: PersistentVolumeClaim
    min: {storage: 1Gi}
    max: {storage: 10Gi}
`)

	plain := limitedPod("plain", objects.ResourceRequirements{})
	plain.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "app:1",
		Resources: objects.ResourceRequirements{Limits: resourceList("memory", "128Mi")}}}
	require.NoError(t, o.Create(ctx, plain))
	app := plain.Spec.Containers[0].Resources
	assert.Equal(t, resourceList("cpu", "100m", "memory", "256Mi"), app.Requests, "defaultRequest, and memory's defaulted from default")
	assert.Equal(t, resourceList("cpu", "500m", "memory", "256Mi"), app.Limits)
	setup := plain.Spec.InitContainers[0].Resources
	assert.Equal(t, resourceList("cpu", "100m", "memory", "128Mi"), setup.Requests, "its own memory request (from its limit) is kept")
	assert.Equal(t, resourceList("cpu", "500m", "memory", "128Mi"), setup.Limits)
	assert.Equal(t, "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; "+
		"cpu request for init container setup; cpu limit for init container setup", plain.Annotations[objects.AnnotationLimitRanger])
	assert.Equal(t, objects.PodQOSBurstable, plain.Status.QOSClass, "the QoS class counts the defaults")

	own := limitedPod("own", objects.ResourceRequirements{Requests: resourceList("cpu", "200m", "memory", "100Mi"),
		Limits: resourceList("cpu", "400m", "memory", "100Mi")})
	require.NoError(t, o.Create(ctx, own))
	assert.NotContains(t, own.Annotations, objects.AnnotationLimitRanger, "nothing set, nothing recorded")

	refused := []struct {
		pod  *objects.Pod
		want string
	}{
		{limitedPod("big", objects.ResourceRequirements{Limits: resourceList("cpu", "2", "memory", "128Mi")}),
			`pods "big" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, maximum cpu usage per Pod is 1500m, but limit is 2]: forbidden`},
		{limitedPod("small", objects.ResourceRequirements{Limits: resourceList("memory", "32Mi")}),
			`pods "small" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi: forbidden`},
		{limitedPod("bursty", objects.ResourceRequirements{Requests: resourceList("cpu", "100m"), Limits: resourceList("cpu", "1")}),
			`pods "bursty" is forbidden: cpu max limit to request ratio per Container is 5, but provided ratio is 10.000000: forbidden`},
		{limitedPod("wide", objects.ResourceRequirements{Limits: resourceList("cpu", "800m")}, objects.ResourceRequirements{Limits: resourceList("cpu", "800m")}),
			`pods "wide" is forbidden: maximum cpu usage per Pod is 1500m, but limit is 1600m: forbidden`},
		{limitedPod("greedy", objects.ResourceRequirements{Requests: resourceList("cpu", "700m")}),
			`Pod "greedy" is invalid: spec.containers[0].resources.requests: Invalid value: "700m": must be less than or equal to cpu limit of 500m`},
	}
	for _, c := range refused {
		err := o.Create(ctx, c.pod)
		require.Error(t, err, c.pod.Name)
		assert.Equal(t, c.want, err.Error())
		if strings.Contains(c.want, "forbidden") {
			assert.ErrorIs(t, err, podkit.ErrForbidden)
		} else {
			assert.ErrorIs(t, err, objects.ErrInvalid)
		}
	}

	claim := func(name, size string) *objects.PersistentVolumeClaim {
		return &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Name: name}, Spec: objects.PersistentVolumeClaimSpec{
			AccessModes: []objects.PersistentVolumeAccessMode{objects.ReadWriteOnce},
			Resources:   objects.VolumeResourceRequirements{Requests: resourceList("storage", size)}}}
	}
	data := claim("data", "5Gi")
	require.NoError(t, o.Create(ctx, data))
	err := o.Create(ctx, claim("huge", "20Gi"))
	require.ErrorIs(t, err, podkit.ErrForbidden)
	assert.EqualError(t, err, `persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi: forbidden`)

	// Another namespace has no LimitRange: nothing is set or refused.
	applyManifest(t, ctx, o, "apiVersion: v1\nkind: Namespace\nmetadata: {name: free}\n")
	free := limitedPod("big", objects.ResourceRequirements{Limits: resourceList("cpu", "2")})
	free.Namespace = "free"
	require.NoError(t, o.Create(ctx, free))
	assert.Nil(t, free.Annotations)
}
