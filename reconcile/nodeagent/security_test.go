package nodeagent_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

func ptr[T any](v T) *T { return &v }

func hostHasAppArmor() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// The security context of a pod and its container reach the runtime as
// the kubelet passes them: fsGroup and supplementalGroups as groups,
// allowPrivilegeEscalation false as no_new_privs, the container's seccomp
// profile over the pod's (a Localhost one under the seccomp root), the
// pod's SELinux label, and the runtime's default AppArmor profile when
// none is asked for.
func TestSecurityContextReachesTheRuntime(t *testing.T) {
	seccompRoot := t.TempDir()
	e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithSeccompRoot(seccompRoot)}})
	if err := os.MkdirAll(filepath.Join(seccompRoot, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seccompRoot, "profiles", "audit.json"), []byte(`{"defaultAction":"SCMP_ACT_LOG"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := e.pod("secure", "app", "plain")
	p.Spec.SecurityContext = &objects.PodSecurityContext{
		RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(3000)), FSGroup: ptr(int64(2000)),
		SupplementalGroups: []int64{4000, 2000}, SupplementalGroupsPolicy: ptr(objects.SupplementalGroupsPolicyStrict),
		SeccompProfile: &objects.SeccompProfile{Type: objects.SeccompProfileTypeRuntimeDefault},
		SELinuxOptions: &objects.SELinuxOptions{Level: "s0:c1,c2"},
	}
	p.Spec.Containers[0].SecurityContext = &objects.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		SeccompProfile:           &objects.SeccompProfile{Type: objects.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("profiles/audit.json")},
		AppArmorProfile:          &objects.AppArmorProfile{Type: objects.AppArmorProfileTypeUnconfined},
	}
	e.create(p)
	e.waitPod("secure", "running", running)

	app := containerConfig(t, e.rt, "secure", "app")
	want := runtime.Security{
		SupplementalGroups: []int64{4000, 2000}, StrictGroups: true, NoNewPrivileges: true,
		Seccomp:  runtime.Profile{Type: runtime.ProfileLocalhost, Localhost: filepath.Join(seccompRoot, "profiles", "audit.json")},
		AppArmor: runtime.Profile{Type: runtime.ProfileUnconfined},
		SELinux:  &runtime.SELinuxLabel{Level: "s0:c1,c2"},
	}
	if !reflect.DeepEqual(app.Security, want) || app.User != "1000:3000" {
		t.Errorf("app: user %q, security %+v; want 1000:3000, %+v", app.User, app.Security, want)
	}
	plain := containerConfig(t, e.rt, "secure", "plain")
	want = runtime.Security{
		SupplementalGroups: []int64{4000, 2000}, StrictGroups: true,
		Seccomp:  runtime.Profile{Type: runtime.ProfileRuntimeDefault},
		AppArmor: runtime.Profile{Type: runtime.ProfileRuntimeDefault},
		SELinux:  &runtime.SELinuxLabel{Level: "s0:c1,c2"},
	}
	if !reflect.DeepEqual(plain.Security, want) {
		t.Errorf("plain: security %+v; want %+v", plain.Security, want)
	}
}

// Without a seccomp profile a container has none, Kubernetes' default;
// the seccomp root is under the root directory when WithSeccompRoot does
// not say.
func TestSeccompDefaults(t *testing.T) {
	e := newEnv(t, envOpt{})
	p := e.pod("default-seccomp", "app")
	e.create(p)
	e.waitPod("default-seccomp", "running", running)
	if s := containerConfig(t, e.rt, "default-seccomp", "app").Security; s.Seccomp != (runtime.Profile{}) || s.NoNewPrivileges || s.SupplementalGroups != nil {
		t.Errorf("a container of no security context: %+v, want no seccomp profile, groups nor no_new_privs", s)
	}

	dir := filepath.Join(e.root, "seccomp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok.json"), []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	q := e.pod("localhost-seccomp", "app")
	q.Spec.SecurityContext = &objects.PodSecurityContext{SeccompProfile: &objects.SeccompProfile{Type: objects.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("ok.json")}}
	e.create(q)
	e.waitPod("localhost-seccomp", "running", running)
	if got := containerConfig(t, e.rt, "localhost-seccomp", "app").Security.Seccomp.Localhost; got != filepath.Join(dir, "ok.json") {
		t.Errorf("Localhost profile at %s, want it in the root directory's seccomp", got)
	}
}

// A Localhost seccomp profile whose file is missing fails the container's
// creation with the runtime's message, as the kubelet reports it.
func TestSeccompProfileMissing(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, envOpt{agent: []nodeagent.Option{nodeagent.WithSeccompRoot(root)}})
	p := e.pod("no-profile", "app")
	p.Spec.SecurityContext = &objects.PodSecurityContext{SeccompProfile: &objects.SeccompProfile{Type: objects.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("missing.json")}}
	e.create(p)
	got := e.waitPod("no-profile", "waiting with CreateContainerError", waiting("app", "CreateContainerError"))
	msg := containerStatus(got, "app").State.Waiting.Message
	if !strings.Contains(msg, "cannot load seccomp profile") || !strings.Contains(msg, filepath.Join(root, "missing.json")) {
		t.Errorf("message %q, want one saying the profile %s cannot be loaded", msg, filepath.Join(root, "missing.json"))
	}
}

func TestWithSeccompRootWantsAnAbsolutePath(t *testing.T) {
	e := newEnv(t, envOpt{})
	if _, err := nodeagent.New(e.store, "n1", e.rt, nodeagent.WithSeccompRoot("relative")); err == nil {
		t.Error("WithSeccompRoot(relative): no error")
	}
}

// On a node without AppArmor a pod asking for an AppArmor profile (but
// Unconfined), in a field or in the deprecated annotation, is refused as
// the kubelet refuses it; one that asks for none, or Unconfined, runs.
func TestAppArmorWithoutAppArmor(t *testing.T) {
	if hostHasAppArmor() {
		t.Skip("AppArmor is enabled on this host")
	}
	e := newEnv(t, envOpt{})
	field := e.pod("apparmor-field", "app")
	field.Spec.SecurityContext = &objects.PodSecurityContext{AppArmorProfile: &objects.AppArmorProfile{Type: objects.AppArmorProfileTypeRuntimeDefault}}
	ann := e.pod("apparmor-annotation", "app")
	ann.Annotations = map[string]string{objects.AppArmorContainerAnnotationKeyPrefix + "app": "localhost/deny-write"}
	unconfined := e.pod("apparmor-unconfined", "app")
	unconfined.Spec.Containers[0].SecurityContext = &objects.SecurityContext{AppArmorProfile: &objects.AppArmorProfile{Type: objects.AppArmorProfileTypeUnconfined}}
	e.create(field, ann, unconfined)
	const msg = "Cannot enforce AppArmor: AppArmor is not enabled on the host"
	e.wantRejected("apparmor-field", nodeagent.ReasonAppArmor, msg)
	e.wantRejected("apparmor-annotation", nodeagent.ReasonAppArmor, msg)
	e.waitPod("apparmor-unconfined", "running", running)
}

// fsGroup owns the volumes that support it: an emptyDir and a configMap
// volume get the group, group permissions and setgid directories; a
// hostPath volume is left as it is.
func TestFSGroupOwnsVolumes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot give files another group")
	}
	e := newEnv(t, envOpt{})
	host := t.TempDir()
	if err := os.Chmod(host, 0o700); err != nil {
		t.Fatal(err)
	}
	cm := &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "cfg", Namespace: "default"}, Data: map[string]string{"key": "value"}}
	p := e.pod("owned", "app")
	p.Spec.SecurityContext = &objects.PodSecurityContext{FSGroup: ptr(int64(2345))}
	p.Spec.Volumes = []objects.Volume{
		{Name: "scratch", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: objects.LocalObjectReference{Name: "cfg"}}}},
		{Name: "host", VolumeSource: objects.VolumeSource{HostPath: &objects.HostPathVolumeSource{Path: host}}},
	}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "scratch", MountPath: "/scratch"}, {Name: "cfg", MountPath: "/cfg"}, {Name: "host", MountPath: "/host"}}
	e.create(cm, p)
	e.waitPod("owned", "running", running)
	mounts := mountsOf(t, e.rt, "owned", "app")

	group := func(path string) (uint32, os.FileMode) {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Lstat(path, &st); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(path)
		return st.Gid, fi.Mode()
	}
	if gid, mode := group(mounts["/scratch"].HostPath); gid != 2345 || mode&os.ModeSetgid == 0 || mode.Perm()&0o070 != 0o070 {
		t.Errorf("emptyDir: group %d, mode %v; want 2345, setgid, group rwx", gid, mode)
	}
	cfg := mounts["/cfg"].HostPath
	if gid, mode := group(filepath.Join(cfg, "key")); gid != 2345 || mode.Perm()&0o040 == 0 {
		t.Errorf("configMap key: group %d, mode %v; want 2345, group readable", gid, mode)
	}
	if gid, mode := group(cfg); gid != 2345 || mode&os.ModeSetgid == 0 {
		t.Errorf("configMap volume: group %d, mode %v; want 2345, setgid", gid, mode)
	}
	if gid, mode := group(host); gid == 2345 || mode.Perm() != 0o700 {
		t.Errorf("hostPath: group %d, mode %v; want it as it was", gid, mode)
	}
}

// With fsGroupChangePolicy OnRootMismatch a volume whose root already has
// the group and permissions is not walked; with Always it is.
func TestFSGroupChangePolicy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot give files another group")
	}
	for _, policy := range []objects.PodFSGroupChangePolicy{objects.FSGroupChangeOnRootMismatch, objects.FSGroupChangeAlways} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t, envOpt{})
			local := t.TempDir()
			if err := os.Chown(local, -1, 2345); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(local, 0o770|os.ModeSetgid); err != nil {
				t.Fatal(err)
			}
			inner := filepath.Join(local, "inner")
			if err := os.WriteFile(inner, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(inner, -1, 0); err != nil { // not the setgid directory's group
				t.Fatal(err)
			}
			pv := &objects.PersistentVolume{ObjectMeta: objects.ObjectMeta{Name: "pv1"}, Spec: objects.PersistentVolumeSpec{
				PersistentVolumeSource: objects.PersistentVolumeSource{Local: &objects.LocalVolumeSource{Path: local}}}}
			pvc := &objects.PersistentVolumeClaim{ObjectMeta: objects.ObjectMeta{Name: "claim", Namespace: "default"}}
			e.create(pv, pvc)
			bindClaim(t, e, "claim", "pv1")
			p := e.pod("policy", "app")
			p.Spec.SecurityContext = &objects.PodSecurityContext{FSGroup: ptr(int64(2345)), FSGroupChangePolicy: &policy}
			p.Spec.Volumes = []objects.Volume{{Name: "data", VolumeSource: objects.VolumeSource{PersistentVolumeClaim: &objects.PersistentVolumeClaimVolumeSource{ClaimName: "claim"}}}}
			p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "data", MountPath: "/data"}}
			e.create(p)
			e.waitPod("policy", "running", running)
			var st syscall.Stat_t
			if err := syscall.Stat(inner, &st); err != nil {
				t.Fatal(err)
			}
			if walked := st.Gid == 2345; walked != (policy == objects.FSGroupChangeAlways) {
				t.Errorf("policy %s: the file inside the volume has group %d: walked %v", policy, st.Gid, walked)
			}
		})
	}
}

// bindClaim binds claim to volume, as the binder would.
func bindClaim(t *testing.T, e *env, claim, volume string) {
	t.Helper()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		o, err := tx.Get("PersistentVolumeClaim", objects.Key{Namespace: "default", Name: claim})
		if err != nil {
			return err
		}
		c := o.(*objects.PersistentVolumeClaim)
		c.Spec.VolumeName = volume
		if err := tx.Update(c); err != nil {
			return err
		}
		c.Status.Phase = objects.ClaimBound
		return tx.UpdateStatus(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}
