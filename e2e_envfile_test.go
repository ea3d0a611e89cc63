package podkit_test

import (
	"context"
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

// TestE2EEnvFile runs Kubernetes' EnvFiles example on Docker and on
// containerd: an init container writes an env file into an emptyDir, and
// the container's process gets the key it names (fileKeyRef), and no
// variable for an optional key the file lacks.
func TestE2EEnvFile(t *testing.T) {
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()

			ref := func(name string, optional bool) objects.EnvVar {
				return objects.EnvVar{Name: name, ValueFrom: &objects.EnvVarSource{FileKeyRef: &objects.FileKeySelector{
					VolumeName: "config", Path: "app.env", Key: name, Optional: &optional}}}
			}
			mounts := []objects.VolumeMount{{Name: "config", MountPath: "/config"}}
			p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "envfile", Namespace: "default"}, Spec: objects.PodSpec{
				Volumes: []objects.Volume{{Name: "config", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}},
				InitContainers: []objects.Container{{Name: "setup", Image: c.DemoImage, ImagePullPolicy: objects.PullNever,
					Command: []string{"/demo", "fail-with", "/config/app.env", "# from setup\nDB_ADDRESS='db:5432'\n", "0"}, VolumeMounts: mounts}},
				Containers: []objects.Container{{Name: "app", Image: c.DemoImage, ImagePullPolicy: objects.PullNever,
					Command: []string{"/demo", "wait"}, Env: []objects.EnvVar{ref("DB_ADDRESS", false), ref("MISSING", true)}}},
			}}
			t.Cleanup(func() { deleteAll(t, c, []objects.Object{p}) }) // before Stop
			require.NoError(t, c.Create(ctx, p))
			require.NoError(t, c.WaitFor(ctx, p, podkit.Running))

			environ, err := execIn(t, ctx, c, p)("cat", "/proc/1/environ")
			require.NoError(t, err)
			vars := strings.Split(environ, "\x00")
			assert.Contains(t, vars, "DB_ADDRESS=db:5432")
			for _, v := range vars {
				assert.False(t, strings.HasPrefix(v, "MISSING="), "optional missing key set: %q", v)
			}
		})
	}
}
