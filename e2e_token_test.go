package podkit_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const tokenE2EManifest = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: caller}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: host}
data: {url: "https://host.example/v1"}
---
apiVersion: v1
kind: Pod
metadata: {name: caller}
spec:
  serviceAccountName: caller
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: IMAGE
    imagePullPolicy: Never
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
    volumeMounts: [{name: host-access, mountPath: /var/run/secrets/host.example}]
  volumes:
  - name: host-access
    projected:
      sources:
      - serviceAccountToken: {path: token, audience: "https://host.example"}
      - configMap: {name: host}
`

// TestE2EServiceAccountToken runs a pod on Docker whose container reads
// the service account token the node agent mounted for it, as a pod
// calling its host would, and the host authenticates that token: the
// pod's service account, bound to the pod and its node. The projected
// volume is swapped in place (as a refreshed token is): a change of its
// ConfigMap reaches the running container through the same mount.
func TestE2EServiceAccountToken(t *testing.T) {
	cluster.Require(t, cluster.Docker)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{Runtime: cluster.Docker, Namespace: "podkit-e2etoken", Isolated: true, Out: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Stop()) })
	objs, err := c.Scheme().Decode(strings.NewReader(strings.ReplaceAll(tokenE2EManifest, "IMAGE", c.DemoImage)))
	require.NoError(t, err)
	t.Cleanup(func() { deleteAll(t, c, objs) }) // before Stop
	require.NoError(t, c.Apply(ctx, objs...))
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "caller"}}
	require.NoError(t, c.WaitFor(ctx, pod, podkit.Available))
	ex := execIn(t, ctx, c, pod)

	token, err := ex("cat", "/var/run/secrets/host.example/token")
	require.NoError(t, err)
	st, err := c.ReviewToken(ctx, token, []string{"https://host.example"})
	require.NoError(t, err)
	require.True(t, st.Authenticated, "the token the container read is refused: %s", st.Error)
	assert.Equal(t, "system:serviceaccount:default:caller", st.User.Username)
	assert.Equal(t, objects.ExtraValue{"caller"}, st.User.Extra[objects.ExtraPodName])
	assert.Equal(t, objects.ExtraValue{pod.UID}, st.User.Extra[objects.ExtraPodUID])
	assert.Equal(t, objects.ExtraValue{pod.Spec.NodeName}, st.User.Extra[objects.ExtraNodeName])

	url, err := ex("cat", "/var/run/secrets/host.example/url")
	require.NoError(t, err)
	assert.Equal(t, "https://host.example/v1", url)
	err = c.Store().Update(ctx, func(tx store.Tx) error {
		o, err := tx.Get(podkit.KindConfigMap, objects.Key{Namespace: "default", Name: "host"})
		if err != nil {
			return err
		}
		cm := o.(*objects.ConfigMap)
		cm.Data["url"] = "https://host.example/v2"
		return tx.Update(cm)
	})
	require.NoError(t, err)
	agenttest.Poll(t, time.Minute, 100*time.Millisecond, func() (bool, string) {
		url, err := ex("cat", "/var/run/secrets/host.example/url")
		return err == nil && url == "https://host.example/v2", url
	})
	after, err := ex("cat", "/var/run/secrets/host.example/token")
	require.NoError(t, err)
	assert.Equal(t, token, after, "the token is reused until it is due for a refresh")
	require.NoError(t, c.Get(ctx, pod.Key(), pod))
	assert.Zero(t, pod.Status.ContainerStatuses[0].RestartCount, "the swap restarted the container")
}
