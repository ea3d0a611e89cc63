package nodeagent_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// modelImage is the image of the image volumes of these tests, and
// modelFiles its files.
const modelImage = "registry.local/models:1"

var modelFiles = map[string]string{"/models/small.bin": "weights", "/README": "read me"}

// imageVolumePod's app container reads a file of the whole image and one
// through a subPath mount of its models directory.
func imageVolumePod(e *env, name string, policy objects.PullPolicy) *objects.Pod {
	p := e.pod(name, "app")
	p.Spec.RestartPolicy = objects.RestartPolicyNever
	p.Spec.Volumes = []objects.Volume{{Name: "models", VolumeSource: objects.VolumeSource{
		Image: &objects.ImageVolumeSource{Reference: modelImage, PullPolicy: policy}}}}
	c := &p.Spec.Containers[0]
	c.Command = []string{"cat", "/image/README", "/small/small.bin"}
	c.VolumeMounts = []objects.VolumeMount{{Name: "models", MountPath: "/image"}, {Name: "models", MountPath: "/small", SubPath: "models"}}
	return p
}

// Image volumes, as the kubelet runs them: the agent pulls the image by
// the volume's pull policy before it creates a container that mounts it,
// and the runtime gets image mounts, read-only, one with the mount's
// subPath; the container reads the image's files. With pull policy Never
// and the image absent the container waits in ErrImageNeverPull; a
// runtime without image mounts leaves it in CreateContainerError.
func TestImageVolumes(t *testing.T) {
	t.Run("Mounted", func(t *testing.T) {
		e := newEnv(t, envOpt{rt: []fake.Option{fake.WithImageFiles(modelImage, modelFiles)}})
		e.create(imageVolumePod(e, "reader", objects.PullIfNotPresent))
		p := e.waitPod("reader", "Succeeded", func(p *objects.Pod) bool { return p.Status.Phase == objects.PodSucceeded })
		if pulls := e.rt.Records(fake.OpPullImage, fake.Image(modelImage)); len(pulls) != 1 {
			t.Errorf("the volume's image was pulled %d times, want once", len(pulls))
		}
		want := []runtime.Mount{
			{Image: modelImage, ContainerPath: "/image", ReadOnly: true},
			{Image: modelImage, ImageSubPath: "models", ContainerPath: "/small", ReadOnly: true},
		}
		got := containerConfig(t, e.rt, "reader", "app").Mounts
		for _, w := range want {
			found := false
			for _, m := range got {
				found = found || m == w
			}
			if !found {
				t.Errorf("mounts %+v, want %+v among them", got, w)
			}
		}
		id := strings.TrimPrefix(containerStatus(p, "app").State.Terminated.ContainerID, "fake://")
		rc, err := e.rt.ContainerLogs(context.Background(), id, runtime.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		out, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "read me\nweights\n" {
			t.Errorf("the container read %q, want the image's files", out)
		}
	})
	t.Run("NeverPulled", func(t *testing.T) {
		e := newEnv(t, envOpt{})
		e.create(imageVolumePod(e, "never", objects.PullNever))
		p := e.waitPod("never", "in ErrImageNeverPull", waiting("app", "ErrImageNeverPull"))
		if msg, want := containerStatus(p, "app").State.Waiting.Message, `Container image "`+modelImage+`" is not present with pull policy of Never`; msg != want {
			t.Errorf("message %q, want %q", msg, want)
		}
		if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "never", "app"))); n != 0 {
			t.Errorf("the container was created %d times without its volume's image", n)
		}
	})
	t.Run("RuntimeWithoutThem", func(t *testing.T) {
		e := newEnv(t, envOpt{rt: []fake.Option{fake.WithoutImageVolumes()}})
		e.create(imageVolumePod(e, "nomount", objects.PullIfNotPresent))
		p := e.waitPod("nomount", "in CreateContainerError", waiting("app", "CreateContainerError"))
		if msg := containerStatus(p, "app").State.Waiting.Message; !strings.Contains(msg, runtime.ErrImageVolume.Error()) {
			t.Errorf("message %q, want it to say %q", msg, runtime.ErrImageVolume)
		}
	})
}
