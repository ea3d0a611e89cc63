package nodeagent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

// mountsOf returns the mounts of the latest container of pod named
// container, by container path.
func mountsOf(t *testing.T, rt *fake.Runtime, pod, container string) map[string]runtime.Mount {
	t.Helper()
	out := map[string]runtime.Mount{}
	for _, m := range containerConfig(t, rt, pod, container).Mounts {
		out[m.ContainerPath] = m
	}
	return out
}

// fileIs reports whether path holds content with permissions perm.
func fileIs(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != content {
		t.Errorf("%s: %q, %v; want %q", path, b, err, content)
		return
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != perm {
		t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode().Perm(), err, perm)
	}
}

// updateSecret sets key of Secret name to value.
func updateSecret(t *testing.T, s store.Store, name, key, value string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("Secret", objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return err
		}
		sec := o.(*objects.Secret)
		sec.Data[key] = []byte(value)
		return tx.Update(sec)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitFile waits until path holds content.
func waitFile(t *testing.T, path, content string) {
	t.Helper()
	if !waitFor(waitTimeout, func() bool { b, _ := os.ReadFile(path); return string(b) == content }) {
		b, err := os.ReadFile(path)
		t.Errorf("%s: %q, %v after %v; want %q", path, b, err, waitTimeout, content)
	}
}

func TestSecretVolumeAndUpdates(t *testing.T) {
	e := newEnv(t, envOpt{})
	yes := true
	defaultMode, keyMode := int32(0o440), int32(0o400)
	secret := &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "tls", Namespace: "default"},
		Data: map[string][]byte{"tls.crt": []byte("CERT-1"), "tls.key": []byte("KEY-1"), "ca.crt": []byte("CA-1")}}
	p := e.pod("tls", "app")
	p.Spec.Volumes = []objects.Volume{
		{Name: "certs", VolumeSource: objects.VolumeSource{Secret: &objects.SecretVolumeSource{SecretName: "tls", DefaultMode: &defaultMode}}},
		{Name: "key", VolumeSource: objects.VolumeSource{Secret: &objects.SecretVolumeSource{SecretName: "tls",
			Items: []objects.KeyToPath{{Key: "tls.key", Path: "private/server.key", Mode: &keyMode}}}}},
		{Name: "maybe", VolumeSource: objects.VolumeSource{Secret: &objects.SecretVolumeSource{SecretName: "no-such-secret", Optional: &yes}}},
	}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{
		{Name: "certs", MountPath: "/etc/certs"}, {Name: "key", MountPath: "/etc/key"}, {Name: "maybe", MountPath: "/etc/maybe"},
	}
	e.create(secret, p)
	e.waitPod("tls", "running", running)
	mounts := mountsOf(t, e.rt, "tls", "app")
	certs, key, maybe := mounts["/etc/certs"], mounts["/etc/key"], mounts["/etc/maybe"]
	for path, m := range map[string]runtime.Mount{"/etc/certs": certs, "/etc/key": key, "/etc/maybe": maybe} {
		if m.HostPath == "" || !m.ReadOnly {
			t.Errorf("mount %s = %+v, want a read-only host directory", path, m)
		}
	}
	fileIs(t, filepath.Join(certs.HostPath, "tls.crt"), "CERT-1", 0o440)
	fileIs(t, filepath.Join(certs.HostPath, "ca.crt"), "CA-1", 0o440)
	fileIs(t, filepath.Join(key.HostPath, "private", "server.key"), "KEY-1", 0o400)
	if _, err := os.Stat(filepath.Join(key.HostPath, "tls.crt")); !os.IsNotExist(err) {
		t.Errorf("a key not among the items was written: %v", err)
	}
	if ents, err := os.ReadDir(maybe.HostPath); err != nil || len(visible(ents)) != 0 {
		t.Errorf("the volume of an optional Secret that does not exist: %v, %v; want an empty directory", ents, err)
	}

	// An update of the Secret reaches the running pod's files, and
	// restarts nothing.
	updateSecret(t, e.store, "tls", "tls.crt", "CERT-2")
	waitFile(t, filepath.Join(certs.HostPath, "tls.crt"), "CERT-2")
	updateSecret(t, e.store, "tls", "tls.key", "KEY-2")
	waitFile(t, filepath.Join(key.HostPath, "private", "server.key"), "KEY-2")
	fileIs(t, filepath.Join(key.HostPath, "private", "server.key"), "KEY-2", 0o400)
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "tls"))); n != 1 {
		t.Errorf("%d containers created, want 1: a Secret update restarted the pod", n)
	}
}

// visible drops the atomic writer's hidden entries ("..data" and the
// like).
func visible(ents []os.DirEntry) []string {
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "..") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestProjectedVolume(t *testing.T) {
	e := newEnv(t, envOpt{})
	mode := int32(0o444)
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "settings", Namespace: "default"}, Data: map[string]string{"app.conf": "debug=false"}}
	secret := &objects.Secret{ObjectMeta: objects.ObjectMeta{Name: "token", Namespace: "default"}, Data: map[string][]byte{"token": []byte("t-1")}}
	p := e.pod("projected", "app")
	p.Spec.Volumes = []objects.Volume{{Name: "all", VolumeSource: objects.VolumeSource{Projected: &objects.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []objects.VolumeProjection{
			{ConfigMap: &objects.ConfigMapProjection{LocalObjectReference: objects.LocalObjectReference{Name: "settings"},
				Items: []objects.KeyToPath{{Key: "app.conf", Path: "config/app.conf"}}}},
			{Secret: &objects.SecretProjection{LocalObjectReference: objects.LocalObjectReference{Name: "token"}}},
			{DownwardAPI: &objects.DownwardAPIProjection{Items: []objects.DownwardAPIVolumeFile{
				{Path: "podname", FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "app", FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}}}},
		},
	}}}}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "all", MountPath: "/projected"}}
	e.create(cm, secret, p)
	e.waitPod("projected", "running", running)
	dir := mountsOf(t, e.rt, "projected", "app")["/projected"].HostPath
	if dir == "" {
		t.Fatalf("no mount of the projected volume")
	}
	fileIs(t, filepath.Join(dir, "config", "app.conf"), "debug=false", 0o444)
	fileIs(t, filepath.Join(dir, "token"), "t-1", 0o444)
	fileIs(t, filepath.Join(dir, "podname"), "projected", 0o444)
	fileIs(t, filepath.Join(dir, "app"), "projected", 0o444)
	// Updates of any source reach the files.
	updateSecret(t, e.store, "token", "token", "t-2")
	waitFile(t, filepath.Join(dir, "token"), "t-2")
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: "settings"})
		if err != nil {
			return err
		}
		c := o.(*objects.ConfigMap)
		c.Data["app.conf"] = "debug=true"
		return tx.Update(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(dir, "config", "app.conf"), "debug=true")
	fileIs(t, filepath.Join(dir, "token"), "t-2", 0o444)
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "projected"))); n != 1 {
		t.Errorf("%d containers created, want 1", n)
	}
}

// A finished pod's volumes are removed, an emptyDir's data with them, as
// the kubelet unmounts a terminated pod's, though the pod stays.
func TestVolumesOfAFinishedPodRemoved(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("done", "app")
	p.Spec.RestartPolicy = objects.RestartPolicyNever
	p.Spec.Containers[0].Command = []string{"exit", "0", "1s"}
	withEmptyDir(p, "scratch", "")
	e.create(p)
	e.waitPod("done", "running", running)
	dir := mountsOf(t, e.rt, "done", "app")["/scratch"].HostPath
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.waitPod("done", "succeeded", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodSucceeded })
	if !waitFor(waitTimeout, func() bool { _, err := os.Stat(dir); return os.IsNotExist(err) }) {
		t.Errorf("the emptyDir of a finished pod is still there: %s", dir)
	}
}
