package podkit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// TestE2EImageVolume mounts an image of two layers as a pod's image
// volume, whole and through a subPath, on containerd: the container reads
// its files and cannot write them. Docker's backend mounts no images: the
// container waits in CreateContainerError saying so.
func TestE2EImageVolume(t *testing.T) {
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			img, err := testimage.Groups(ctx)
			require.NoError(t, err)
			require.NoError(t, testimage.Ensure(ctx, c.Runtime.(testimage.Loader), img))

			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "imagevolume", Namespace: "default"}, Spec: objects.PodSpec{
				Volumes: []objects.Volume{{Name: "data", VolumeSource: objects.VolumeSource{
					Image: &objects.ImageVolumeSource{Reference: img.Ref, PullPolicy: objects.PullNever}}}},
				Containers: []objects.Container{{Name: "app", Image: c.DemoImage, ImagePullPolicy: objects.PullNever,
					Command: []string{"/demo", "wait"}, VolumeMounts: []objects.VolumeMount{
						{Name: "data", MountPath: "/data"},
						{Name: "data", MountPath: "/etc-only", SubPath: "etc"},
					}}},
			}}
			t.Cleanup(func() { deleteAll(t, c, []objects.Object{p}) }) // before Stop
			require.NoError(t, c.Create(ctx, p))
			if rt == cluster.Docker {
				require.NoError(t, c.WaitFor(ctx, p, func(o objects.Object) bool {
					for _, cs := range o.(*objects.Pod).Status.ContainerStatuses {
						if w := cs.State.Waiting; w != nil && w.Reason == "CreateContainerError" {
							return assert.Contains(t, w.Message, runtime.ErrImageVolume.Error())
						}
					}
					return false
				}))
				return
			}
			require.NoError(t, c.WaitFor(ctx, p, podkit.Running))
			exec := execIn(t, ctx, c, p)
			for _, path := range []string{"/data/etc/group", "/etc-only/group"} {
				out, err := exec("cat", path)
				require.NoError(t, err)
				assert.Equal(t, testimage.GroupsFiles["/etc/group"], out, path)
			}
			out, err := exec("cat", "/data/etc/passwd")
			require.NoError(t, err)
			assert.Equal(t, testimage.GroupsFiles["/etc/passwd"], out)
			_, err = exec("fail-with", "/data/etc/written", "x", "0")
			require.NoError(t, err)
			_, err = exec("cat", "/data/etc/written")
			assert.Error(t, err, "a file written through the image volume")
		})
	}
}
