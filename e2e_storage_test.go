package podkit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
)

// TestE2ELocalStorageEviction fills disk from containers on Docker and on
// containerd: a pod whose emptyDir outgrows its sizeLimit, and one whose
// container writes past its limits.ephemeral-storage to its own root file
// system, are evicted with the kubelet's messages; a pod within its
// limits keeps running.
func TestE2ELocalStorageEviction(t *testing.T) {
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{
				Orchestrator: []podkit.Option{podkit.WithNodeAgent(nodeagent.WithEvictionInterval(200 * time.Millisecond))}})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()

			mi := objects.MustParseQuantity("1Mi")
			fill := func(name, path string, bytes int) *objects.Pod {
				return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"}, Spec: objects.PodSpec{
					Containers: []objects.Container{{Name: "app", Image: c.DemoImage, ImagePullPolicy: objects.PullNever,
						Command: []string{"/demo", "fill", path, strconv.Itoa(bytes)}}},
				}}
			}
			withCache := func(p *objects.Pod) *objects.Pod {
				p.Spec.Volumes = []objects.Volume{{Name: "cache", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{SizeLimit: &mi}}}}
				p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "cache", MountPath: "/cache"}}
				return p
			}
			withLimit := func(p *objects.Pod) *objects.Pod {
				p.Spec.Containers[0].Resources.Limits = objects.ResourceList{objects.ResourceEphemeralStorage: objects.MustParseQuantity("2Mi")}
				return p
			}
			within := withLimit(withCache(fill("within", "/cache/data", 256<<10)))
			cache := withCache(fill("cache", "/cache/data", 3<<20))
			layer := withLimit(fill("layer", "/filler", 4<<20))
			pods := []objects.Object{within, cache, layer}
			t.Cleanup(func() { deleteAll(t, c, pods) }) // before Stop
			for _, p := range pods {
				require.NoError(t, c.Create(ctx, p))
			}
			require.NoError(t, c.WaitFor(ctx, within, podkit.Running))
			for _, tc := range []struct {
				pod *objects.Pod
				msg string
			}{
				{cache, `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `},
				// One container: its pod's limit is its own, checked first.
				{layer, "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
			} {
				got, err := podkit.WaitUntil(ctx, c.Orchestrator, "default", tc.pod.Name, func(p *objects.Pod) bool {
					return p != nil && p.Status.Phase == objects.PodFailed
				})
				require.NoError(t, err, tc.pod.Name)
				assert.Equal(t, nodeagent.ReasonEvicted, got.Status.Reason, tc.pod.Name)
				assert.Equal(t, tc.msg, got.Status.Message, tc.pod.Name)
				require.Len(t, got.Status.ContainerStatuses, 1)
				assert.NotNil(t, got.Status.ContainerStatuses[0].State.Terminated, "%s: container not stopped", tc.pod.Name)
			}
			p, err := podkit.Get[*objects.Pod](ctx, c.Orchestrator, "default", "within")
			require.NoError(t, err)
			assert.Equal(t, objects.PodRunning, p.Status.Phase, "the pod within its limits: %s %s", p.Status.Reason, p.Status.Message)
		})
	}
}
