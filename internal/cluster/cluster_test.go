package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/containerd"
)

// TestStart runs a Deployment behind a Service on each runtime whose
// daemon answers and, on the real ones, requests it through the cluster IP
// from the host.
func TestStart(t *testing.T) {
	for _, name := range cluster.Names {
		t.Run(name, func(t *testing.T) {
			cluster.Require(t, name)
			ns := "podkit-clustertest-" + name
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			c, err := cluster.Start(ctx, cluster.Options{Runtime: name, Nodes: 2, Namespace: ns, Isolated: true, Out: io.Discard})
			require.NoError(t, err)
			defer func() {
				require.NoError(t, c.Stop())
				if name == cluster.Containerd {
					_, err := os.Stat(filepath.Join(containerd.DefaultStateDir, ns))
					assert.True(t, errors.Is(err, fs.ErrNotExist), "an isolated cluster's containerd state is removed: %v", err)
				}
			}()

			objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(manifest, c.DemoImage)))
			require.NoError(t, err)
			require.NoError(t, c.Apply(ctx, objs...))
			dep := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "hello"}}
			defer func() {
				for _, o := range objs {
					_ = c.Delete(context.Background(), o)
				}
				_ = c.WaitFor(context.Background(), dep, podkit.Deleted)
				waitNoPods(t, c)
			}()
			require.NoError(t, c.WaitFor(ctx, dep, podkit.Available))
			if !c.Real() {
				return
			}
			svc := &objects.Service{}
			require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "hello"}, svc))
			url := "http://" + svc.Spec.ClusterIP + "/"
			var body string
			deadline := time.Now().Add(30 * time.Second)
			for {
				resp, err := http.Get(url)
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						body = string(b)
						break
					}
					err = fmt.Errorf("status %s", resp.Status)
				}
				if time.Now().After(deadline) {
					t.Fatalf("GET %s: %v", url, err)
				}
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(100 * time.Millisecond):
				}
			}
			require.Contains(t, body, "hello")
		})
	}
}

func waitNoPods(t *testing.T, c *cluster.Cluster) {
	agenttest.Poll(t, time.Minute, 100*time.Millisecond, func() (bool, string) {
		pods, err := podkit.List[*objects.Pod](context.Background(), c.Orchestrator, "default")
		require.NoError(t, err)
		left, err := c.Leftovers(context.Background(), "")
		require.NoError(t, err)
		return len(pods) == 0 && len(left) == 0, fmt.Sprintf("%d pods left; in the runtime: %v", len(pods), left)
	})
}

const manifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: web
        image: %s
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
`
