package nodeagent_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/podkit/podkit/objects"
)

// A pod whose containers run as one user, with an fsGroup, gets its
// token owned by that user and the group, readable by both and no other
// (0640), as the kubelet leaves it.
func TestServiceAccountTokenOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another user needs root")
	}
	e, _ := tokenEnv(t)
	user, group := int64(1000), int64(2000)
	p := tokenPod(e, "owned", "app")
	p.Spec.SecurityContext = &objects.PodSecurityContext{RunAsUser: &user, FSGroup: &group}
	e.create(&objects.ServiceAccount{ObjectMeta: objects.ObjectMeta{Name: "app", Namespace: "default"}}, p)
	e.waitPod("owned", "running", running)
	dir := mountsOf(t, e.rt, "owned", "app")["/var/run/secrets/tokens"].HostPath
	for _, f := range []string{"host", "api/token"} {
		path := filepath.Join(dir, f)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o640 || st.Uid != uint32(user) || st.Gid != uint32(group) {
			t.Errorf("%s: mode %v owner %d:%d, want 0640 %d:%d", f, fi.Mode().Perm(), st.Uid, st.Gid, user, group)
		}
	}
}
