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
)

// The guestbook's redis-master, as kubernetes/examples writes it.
const redisMasterRC = `apiVersion: v1
kind: ReplicationController
metadata:
  name: redis-master
  labels: {app: redis, role: master}
spec:
  replicas: 1
  selector: {app: redis, role: master}
  template:
    metadata:
      labels: {app: redis, role: master}
    spec:
      containers:
      - name: redis-master
        image: redis:7
        ports:
        - name: redis-server
          containerPort: 6379
`

// An old manifest's ReplicationController runs on fake nodes: its pod
// runs, it is Available, it scales through the scale subresource, and
// deleting it takes its pods.
func TestReplicationControllerOnFakeNodes(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 2)
	objs, err := objects.DecodeYAML(strings.NewReader(redisMasterRC))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rc := &objects.ReplicationController{ObjectMeta: objects.ObjectMeta{Name: "redis-master"}}
	require.NoError(t, o.WaitFor(wctx, rc, podkit.Available))
	running := func(n int) func() bool {
		return func() bool {
			pods, err := podkit.List[*objects.Pod](ctx, o, "default", podkit.WithLabels("app=redis,role=master"))
			if err != nil || len(pods) != n {
				return false
			}
			for _, p := range pods {
				if p.Status.Phase != objects.PodRunning || p.ControllerRef() == nil || p.ControllerRef().Kind != "ReplicationController" {
					return false
				}
			}
			return true
		}
	}
	require.Eventually(t, running(1), 30*time.Second, 10*time.Millisecond, "one redis-master pod running")

	s, err := o.GetScale(ctx, podkit.KindReplicationController, objects.Key{Name: "redis-master"})
	require.NoError(t, err)
	assert.Equal(t, int32(1), s.Spec.Replicas)
	assert.Equal(t, "app=redis,role=master", s.Status.Selector)
	s.Spec.Replicas = 3
	require.NoError(t, o.UpdateScale(ctx, podkit.KindReplicationController, s))
	require.NoError(t, o.WaitFor(wctx, rc, func(obj objects.Object) bool {
		r, ok := obj.(*objects.ReplicationController)
		return ok && podkit.Available(r) && r.Status.Replicas == 3
	}))
	require.Eventually(t, running(3), 30*time.Second, 10*time.Millisecond, "three redis-master pods running")

	require.NoError(t, o.Delete(ctx, rc))
	require.Eventually(t, running(0), 30*time.Second, 10*time.Millisecond, "pods collected with their ReplicationController")
}
