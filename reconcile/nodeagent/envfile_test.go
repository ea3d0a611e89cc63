package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime/fake"
)

// envFilePod is a pod whose init container "setup" mounts the emptyDir
// "config" at /config, as one writing an env file there does, and whose
// container "app" reads env from it.
func envFilePod(e *env, name string, setup []string, vars ...objects.EnvVar) *objects.Pod {
	p := e.pod(name, "app")
	p.Spec.Volumes = []objects.Volume{{Name: "config", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}}
	p.Spec.InitContainers = []objects.Container{{Name: "setup", Image: "registry.local/setup:1", Command: setup,
		VolumeMounts: []objects.VolumeMount{{Name: "config", MountPath: "/config"}}}}
	p.Spec.Containers[0].Env = vars
	return p
}

func fileKey(name, path, key string, optional bool) objects.EnvVar {
	return objects.EnvVar{Name: name, ValueFrom: &objects.EnvVarSource{FileKeyRef: &objects.FileKeySelector{
		VolumeName: "config", Path: path, Key: key, Optional: &optional}}}
}

// writeAsSetup writes an env file where the pod's setup container has the
// emptyDir mounted, as that container would (the fake runtime runs no
// process).
func writeAsSetup(t *testing.T, rt *fake.Runtime, pod, file, data string) {
	t.Helper()
	for _, m := range containerConfig(t, rt, pod, "setup").Mounts {
		if m.ContainerPath == "/config" {
			path := filepath.Join(m.HostPath, file)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("setup container of pod %s has no mount at /config", pod)
}

// An init container writes the env file; the container gets the values
// it names, and no variable for an optional key or file that is missing.
func TestFileKeyRefFromInitContainer(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := envFilePod(e, "envfile", nil,
		fileKey("DB_ADDRESS", "config.env", "DB_ADDRESS", false),
		fileKey("GREETING", "/config.env", "GREETING", false),
		fileKey("NOT_IN_FILE", "config.env", "NOT_IN_FILE", true),
		fileKey("NO_FILE", "other.env", "NO_FILE", true),
		objects.EnvVar{Name: "URL", Value: "postgres://$(DB_ADDRESS)/app"},
	)
	e.create(p)
	e.waitPod("envfile", "running its init container", func(p *objects.Pod) bool {
		return p != nil && containerStatus(p, "setup").State.Running != nil
	})
	writeAsSetup(t, e.rt, "envfile", "config.env", "# written by setup\nDB_ADDRESS='db:5432'\nGREETING='hello\n  world' # two lines\n")
	if n := e.rt.Kill(fake.Container("default", "envfile", "setup"), 0); n != 1 {
		t.Fatalf("completed %d setup containers, want 1", n)
	}
	e.waitPod("envfile", "running", running)

	env := envOf(containerConfig(t, e.rt, "envfile", "app"))
	for k, want := range map[string]string{"DB_ADDRESS": "db:5432", "GREETING": "hello\n  world", "URL": "postgres://db:5432/app"} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("env %s = %q (set %v), want %q", k, got, ok, want)
		}
	}
	for _, k := range []string{"NOT_IN_FILE", "NO_FILE"} {
		if v, ok := env[k]; ok {
			t.Errorf("env %s = %q, want it unset", k, v)
		}
	}
	if n := e.rec.count("CreateContainerConfigError") + e.rec.count("couldn't"); n != 0 {
		t.Errorf("configuration errors reported:\n%v", e.rec)
	}
}

// A file or key that is missing and not optional keeps the container in
// CreateContainerConfigError, not created, with the kubelet's message and
// a Failed event; it starts once a later try finds them.
func TestFileKeyRefMissingWaitsThenStarts(t *testing.T) {
	e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithCrashLoopBackOff(50*time.Millisecond, time.Second, 10*time.Minute)}})
	p := envFilePod(e, "later", []string{"exit", "0"}, fileKey("TOKEN", "auth/token.env", "TOKEN", false))
	e.create(p)

	pod := e.waitPod("later", "waiting for its env file", waiting("app", "CreateContainerConfigError"))
	msg := containerStatus(pod, "app").State.Waiting.Message
	if !strings.HasPrefix(msg, `couldn't parse env file "`) || !strings.HasSuffix(msg, filepath.FromSlash(`/auth/token.env": no such file or directory`)) {
		t.Errorf("message = %q", msg)
	}
	if pod.Status.Phase != objects.PodPending {
		t.Errorf("phase = %s, want Pending", pod.Status.Phase)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "later", "app"))); n != 0 {
		t.Errorf("app created %d times without its env file", n)
	}
	e.wantEventsAtLeast("later Failed: Error: couldn't parse env file", 1)

	// A file without the key: still waiting, now for the key.
	writeAsSetup(t, e.rt, "later", "auth/token.env", "OTHER='x'\n")
	e.waitPod("later", "waiting for its key", func(p *objects.Pod) bool {
		return waiting("app", "CreateContainerConfigError")(p) &&
			strings.HasPrefix(containerStatus(p, "app").State.Waiting.Message, `environment variable key "TOKEN" not found in file "`)
	})

	writeAsSetup(t, e.rt, "later", "auth/token.env", "OTHER='x'\nTOKEN='s3cret'\n")
	e.waitPod("later", "running once the key is in the file", running)
	if got := envOf(containerConfig(t, e.rt, "later", "app"))["TOKEN"]; got != "s3cret" {
		t.Errorf("TOKEN = %q, want s3cret", got)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Container("default", "later", "app"))); n != 1 {
		t.Errorf("app created %d times, want 1", n)
	}
}
