package podkit_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
)

// TestE2EPodLevelResources runs a pod whose only limits are its own
// (spec.resources), on Docker and on containerd: its containers' cgroups
// are made in a pod cgroup with the pod's memory limit, and its QoS
// class is the pod's.
func TestE2EPodLevelResources(t *testing.T) {
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			ctr := func(name string) objects.Container {
				return objects.Container{Name: name, Image: c.DemoImage, ImagePullPolicy: objects.PullNever, Command: []string{"/demo", "wait"}}
			}
			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "pod-resources", Namespace: "default"}, Spec: objects.PodSpec{
				Resources: &objects.ResourceRequirements{
					Requests: objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("500m"), objects.ResourceMemory: objects.MustParseQuantity("96Mi")},
					Limits:   objects.ResourceList{objects.ResourceCPU: objects.MustParseQuantity("1"), objects.ResourceMemory: objects.MustParseQuantity("96Mi")},
				},
				Containers: []objects.Container{ctr("app")},
			}}
			t.Cleanup(func() { deleteAll(t, c, []objects.Object{p}) }) // before Stop
			require.NoError(t, c.Create(ctx, p))
			assert.Equal(t, objects.PodQOSBurstable, p.Status.QOSClass)
			require.NoError(t, c.WaitFor(ctx, p, podkit.Running))
			out, err := execIn(t, ctx, c, p)("cat", "/proc/self/cgroup")
			require.NoError(t, err)
			var cg string
			for _, line := range strings.Split(out, "\n") {
				if f := strings.SplitN(line, ":", 3); len(f) == 3 && (strings.Contains(f[1], "memory") || f[0] == "0") {
					cg = f[2]
				}
			}
			require.NotEqual(t, "/", path.Dir(cg), "the container's cgroup %q is in a pod cgroup", cg)
			limit := filepath.Join("/sys/fs/cgroup/memory", path.Dir(cg), "memory.limit_in_bytes") // v1
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				limit = filepath.Join("/sys/fs/cgroup", path.Dir(cg), "memory.max") // v2
			}
			b, err := os.ReadFile(limit)
			require.NoError(t, err)
			assert.Equal(t, "100663296", strings.TrimSpace(string(b)), limit)
		})
	}
}
