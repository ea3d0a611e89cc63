package podkit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const dryRunManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: "app:1"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {port: 80, targetPort: 8080}
`

// DryRun returns what Apply would store, defaults and allocations
// included, and stores nothing.
func TestDryRunCreatesNothing(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	objs, err := objects.DecodeYAML(strings.NewReader(dryRunManifest))
	require.NoError(t, err)
	require.NoError(t, o.DryRun(ctx, objs...))

	d, svc := objs[0].(*objects.Deployment), objs[1].(*objects.Service)
	assert.NotEmpty(t, d.UID, "uid")
	assert.Empty(t, d.ResourceVersion, "resourceVersion of an object not stored")
	assert.Equal(t, objects.RollingUpdateDeploymentStrategyType, d.Spec.Strategy.Type, "defaulted strategy")
	assert.Equal(t, objects.RestartPolicyAlways, d.Spec.Template.Spec.RestartPolicy, "defaulted restartPolicy")
	assert.Contains(t, d.Annotations, podkit.LastAppliedAnnotation)
	assert.NotEmpty(t, svc.Spec.ClusterIP, "allocated cluster IP")
	require.Len(t, svc.Spec.Ports, 1)
	assert.NotZero(t, svc.Spec.Ports[0].NodePort, "allocated node port")

	_, err = podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	assert.ErrorIs(t, err, store.ErrNotFound, "the dry run stored the Deployment")
	_, err = podkit.Get[*objects.Service](ctx, o, "default", "web")
	assert.ErrorIs(t, err, store.ErrNotFound, "the dry run stored the Service")

	// What it drew is not held: Apply may draw it again.
	objs, err = objects.DecodeYAML(strings.NewReader(dryRunManifest))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))
	assert.NotEmpty(t, objs[1].(*objects.Service).Spec.ClusterIP)
}

// A dry run of a change shows the merge with what is stored and leaves
// the stored object as it was.
func TestDryRunOfAChange(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, dryRunManifest)
	before, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)

	objs, err := objects.DecodeYAML(strings.NewReader(strings.Replace(dryRunManifest, "replicas: 2", "replicas: 5", 1)))
	require.NoError(t, err)
	require.NoError(t, o.DryRun(ctx, objs[0]))
	d := objs[0].(*objects.Deployment)
	assert.Equal(t, int32(5), *d.Spec.Replicas)
	assert.Equal(t, before.UID, d.UID)
	assert.Equal(t, before.ResourceVersion, d.ResourceVersion, "resourceVersion: the stored one")
	assert.Equal(t, before.Generation+1, d.Generation, "generation: what the change would make it")

	after, err := podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	require.NoError(t, err)
	assert.Equal(t, int32(2), *after.Spec.Replicas, "the dry run changed the stored Deployment")
	assert.Equal(t, before.ResourceVersion, after.ResourceVersion)
}

// A dry run refuses what Apply would refuse, with the same error, and
// writes none of the objects.
func TestDryRunRefuses(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	applyManifest(t, ctx, o, `apiVersion: v1
kind: ResourceQuota
metadata: {name: pods}
spec:
  hard: {pods: "1"}
`)
	pods := func(n int) []objects.Object {
		var out []objects.Object
		for i := range n {
			out = append(out, &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
				Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app", Image: "app:1"}}}})
		}
		return out
	}
	dryErr := o.DryRun(ctx, pods(2)...)
	require.Error(t, dryErr)
	applyErr := o.Apply(ctx, pods(2)...)
	assert.Equal(t, applyErr.Error(), dryErr.Error())
	assert.Contains(t, dryErr.Error(), "exceeded quota: pods")

	bad := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "bad", Namespace: "default"},
		Spec: objects.PodSpec{Containers: []objects.Container{{Name: "app"}}}}
	err := o.DryRun(ctx, bad)
	var inv *objects.InvalidError
	require.True(t, errors.As(err, &inv), "error %v, want an *objects.InvalidError", err)
	assert.Contains(t, err.Error(), "spec.containers[0].image: Required value")

	// One pod fits: the dry run says so and charges nothing.
	require.NoError(t, o.DryRun(ctx, pods(1)...))
	assert.Empty(t, quotaStatus(t, ctx, o, "default", "pods").Used.Name(objects.ResourcePods, objects.DecimalSI).Value())
	list, err := podkit.List[*objects.Pod](ctx, o, "default")
	require.NoError(t, err)
	assert.Empty(t, list)
}

// Dry runs sharing the store's group commits with real writes undo only
// their own.
func TestDryRunBesideWrites(t *testing.T) {
	ctx := context.Background()
	o := newOrchestrator(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- o.Apply(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("real-%d", i), Namespace: "default"}})
		}()
		go func() {
			defer wg.Done()
			errs <- o.DryRun(ctx, &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: fmt.Sprintf("dry-%d", i), Namespace: "default"}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	cms, err := podkit.List[*objects.ConfigMap](ctx, o, "default")
	require.NoError(t, err)
	var real int
	for _, cm := range cms {
		require.True(t, strings.HasPrefix(cm.Name, "real-") || cm.Name == "kube-root-ca.crt", "stored %s", cm.Name)
		if strings.HasPrefix(cm.Name, "real-") {
			real++
		}
	}
	assert.Equal(t, 50, real)
}
