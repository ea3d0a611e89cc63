//go:build unix

package volumes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/podkit/podkit/objects"
)

// tokenSrc is a src that issues tokens, a new one each time next is
// bumped, and records what was asked for.
type tokenSrc struct {
	src
	next  int
	asked []string
}

func (s *tokenSrc) ServiceAccountToken(audience string, exp int64) (string, error) {
	s.asked = append(s.asked, fmt.Sprintf("%q/%d", audience, exp))
	return fmt.Sprintf("token-%d", s.next), nil
}

func tokenVolume(def *int32, srcs ...objects.VolumeProjection) objects.Volume {
	return objects.Volume{Name: "t", VolumeSource: objects.VolumeSource{Projected: &objects.ProjectedVolumeSource{DefaultMode: def, Sources: srcs}}}
}

func tokenProjection(path, aud string, exp *int64) objects.VolumeProjection {
	return objects.VolumeProjection{ServiceAccountToken: &objects.ServiceAccountTokenProjection{Path: path, Audience: aud, ExpirationSeconds: exp}}
}

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// A token is written beside the volume's other sources, with its
// defaultMode; a new token swaps the content atomically.
func TestProjectedToken(t *testing.T) {
	m := New(t.TempDir())
	s := &tokenSrc{src: src{cms: map[string]*objects.ConfigMap{"c": {Data: map[string]string{"ca.crt": "CA"}}}}}
	mode := int32(0o640)
	exp := int64(7200)
	p := pod(tokenVolume(&mode,
		tokenProjection("token", "", nil),
		tokenProjection("vault/token", "vault", &exp),
		objects.VolumeProjection{ConfigMap: &objects.ConfigMapProjection{LocalObjectReference: objects.LocalObjectReference{Name: "c"}}},
	))
	vols, err := m.Setup(p, s)
	if err != nil {
		t.Fatal(err)
	}
	dir := vols["t"].Path
	if read(t, filepath.Join(dir, "token")) != "token-0" || read(t, filepath.Join(dir, "vault", "token")) != "token-0" || read(t, filepath.Join(dir, "ca.crt")) != "CA" {
		t.Fatalf("projected content wrong")
	}
	if got := strings.Join(s.asked, " "); got != `""/3600 "vault"/7200` {
		t.Errorf("tokens asked for: %s", got)
	}
	if m := modeOf(t, filepath.Join(dir, "token")); m != 0o640 {
		t.Errorf("token mode %v, want the defaultMode 0640", m)
	}
	before, _ := os.Readlink(filepath.Join(dir, "..data"))

	s.next++
	if _, err := m.Setup(p, s); err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(dir, "token")) != "token-1" {
		t.Errorf("the new token was not written")
	}
	after, _ := os.Readlink(filepath.Join(dir, "..data"))
	if after == before {
		t.Errorf("the new token was written in place, not swapped in")
	}
	if _, err := os.Stat(filepath.Join(dir, before)); !os.IsNotExist(err) {
		t.Errorf("the old token's directory was kept")
	}

	_, err = m.Setup(p, &s.src)
	if err == nil || err.Error() != `MountVolume.SetUp failed for volume "t" : failed to fetch token: no service account token issuer on this node` {
		t.Errorf("a source without tokens: %v", err)
	}
}

// As the kubelet writes it: 0600 when every container runs as one user,
// who then owns it; with an fsGroup, the group's too, with group read (as
// the kubelet's ownership change leaves it); the defaultMode otherwise.
func TestProjectedTokenMode(t *testing.T) {
	uid := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name         string
		psc          *objects.PodSecurityContext
		users        []*int64 // per container
		mode         os.FileMode
		owner, group int64 // -1: the agent's
	}{
		{"no security context", nil, []*int64{nil}, 0o644, -1, -1},
		{"fsGroup", &objects.PodSecurityContext{FSGroup: uid(2000)}, []*int64{nil}, 0o640, -1, 2000},
		{"pod runAsUser", &objects.PodSecurityContext{RunAsUser: uid(1000)}, []*int64{nil, nil}, 0o600, 1000, -1},
		{"pod runAsUser and fsGroup", &objects.PodSecurityContext{RunAsUser: uid(1000), FSGroup: uid(2000)}, []*int64{nil}, 0o640, 1000, 2000},
		{"one container user", nil, []*int64{uid(1001)}, 0o600, 1001, -1},
		{"container overrides pod", &objects.PodSecurityContext{RunAsUser: uid(1000)}, []*int64{uid(1002), uid(1002)}, 0o600, 1002, -1},
		{"two users", nil, []*int64{uid(1000), uid(1001)}, 0o644, -1, -1},
		{"one container without a user", nil, []*int64{uid(1000), nil}, 0o644, -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.owner >= 0 || tc.group >= 0) && os.Geteuid() != 0 {
				t.Skip("giving a file to another user or group needs root")
			}
			m := New(t.TempDir())
			p := pod(tokenVolume(nil, tokenProjection("token", "", nil)))
			p.Spec.SecurityContext = tc.psc
			for i, u := range tc.users {
				c := objects.Container{Name: fmt.Sprint("c", i), Image: "x"}
				if u != nil {
					c.SecurityContext = &objects.SecurityContext{RunAsUser: u}
				}
				p.Spec.Containers = append(p.Spec.Containers, c)
			}
			vols, err := m.Setup(p, &tokenSrc{})
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(vols["t"].Path, "token")
			if m := modeOf(t, f); m != tc.mode {
				t.Errorf("mode %v, want %v", m, tc.mode)
			}
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			owner, group := tc.owner, tc.group
			if owner < 0 {
				owner = int64(os.Geteuid())
			}
			if group < 0 {
				group = int64(os.Getegid())
			}
			st := fi.Sys().(*syscall.Stat_t)
			if int64(st.Uid) != owner || int64(st.Gid) != group {
				t.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, owner, group)
			}
		})
	}
}

// The files of a ConfigMap, Secret, downward API or projected volume of
// a pod with an fsGroup have its group and group read before they are
// swapped in, so that a new version is readable by the group from the
// moment it appears, whatever its mode.
func TestFilesForFSGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file to another group needs root")
	}
	gid, def := int64(2000), int32(0o400)
	cm := objects.LocalObjectReference{Name: "c"}
	s := &tokenSrc{src: src{cms: map[string]*objects.ConfigMap{"c": {Data: map[string]string{"key": "v"}}}}}
	for _, tc := range []struct {
		name string
		vol  objects.Volume
		mode os.FileMode
	}{
		{"configMap 0400", objects.Volume{Name: "t", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: cm, DefaultMode: &def}}}, 0o440},
		{"configMap", objects.Volume{Name: "t", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: cm}}}, 0o644},
		{"projected configMap 0400", tokenVolume(&def, objects.VolumeProjection{ConfigMap: &objects.ConfigMapProjection{LocalObjectReference: cm}}), 0o440},
		{"downwardAPI 0400", objects.Volume{Name: "t", VolumeSource: objects.VolumeSource{DownwardAPI: &objects.DownwardAPIVolumeSource{DefaultMode: &def,
			Items: []objects.DownwardAPIVolumeFile{{Path: "key", FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}}, 0o440},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(t.TempDir())
			p := pod(tc.vol)
			p.Spec.SecurityContext = &objects.PodSecurityContext{FSGroup: &gid}
			vols, err := m.Setup(p, s)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(vols["t"].Path, "key")
			if m := modeOf(t, f); m != tc.mode {
				t.Errorf("mode %v, want %v", m, tc.mode)
			}
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if g := fi.Sys().(*syscall.Stat_t).Gid; int64(g) != gid {
				t.Errorf("group %d, want %d", g, gid)
			}
		})
	}
}
