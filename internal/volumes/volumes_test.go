package volumes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

type src struct {
	cms map[string]*objects.ConfigMap
}

func (s *src) ConfigMap(ns, name string) (*objects.ConfigMap, error) {
	if c, ok := s.cms[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("configmaps %q: %w", name, store.ErrNotFound)
}
func (s *src) Secret(ns, name string) (*objects.Secret, error) {
	return nil, fmt.Errorf("secrets %q: %w", name, store.ErrNotFound)
}
func (s *src) ClaimPath(ns, claim string) (string, error) { return "", errors.New("unbound") }
func (s *src) FieldRef(sel *objects.ObjectFieldSelector) (string, error) {
	return "v:" + sel.FieldPath, nil
}
func (s *src) ResourceFieldRef(sel *objects.ResourceFieldSelector) (string, error) { return "1", nil }

func pod(vols ...objects.Volume) *objects.Pod {
	return &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p", Namespace: "default", UID: "uid1"}, Spec: objects.PodSpec{Volumes: vols}}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigMapUpdatesAtomically(t *testing.T) {
	m := New(t.TempDir())
	s := &src{cms: map[string]*objects.ConfigMap{"c": {Data: map[string]string{"a": "1", "b": "2"}}}}
	p := pod(objects.Volume{Name: "cfg", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: objects.LocalObjectReference{Name: "c"}}}})
	vols, err := m.Setup(p, s)
	if err != nil {
		t.Fatal(err)
	}
	dir := vols["cfg"].Path
	if read(t, filepath.Join(dir, "a")) != "1" || read(t, filepath.Join(dir, "b")) != "2" || !vols["cfg"].ReadOnly {
		t.Fatalf("first content wrong")
	}
	before, _ := os.Readlink(filepath.Join(dir, "..data"))
	if _, err := m.Setup(p, s); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, "..data")); again != before {
		t.Errorf("unchanged content was rewritten")
	}
	s.cms["c"] = &objects.ConfigMap{Data: map[string]string{"a": "one"}}
	if _, err := m.Setup(p, s); err != nil {
		t.Fatal(err)
	}
	if read(t, filepath.Join(dir, "a")) != "one" {
		t.Errorf("update not visible")
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !os.IsNotExist(err) {
		t.Errorf("a removed key is still there")
	}
	if _, err := os.Stat(filepath.Join(dir, before)); !os.IsNotExist(err) {
		t.Errorf("the old content directory was kept")
	}
}

func TestMissingSources(t *testing.T) {
	m := New(t.TempDir())
	yes := true
	_, err := m.Setup(pod(objects.Volume{Name: "x", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: objects.LocalObjectReference{Name: "nope"}}}}), &src{})
	var ve *Error
	if !errors.As(err, &ve) || ve.Volume != "x" || err.Error() != `MountVolume.SetUp failed for volume "x" : configmap "nope" not found` {
		t.Errorf("missing configmap: %v", err)
	}
	if _, err := m.Setup(pod(objects.Volume{Name: "x", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: objects.LocalObjectReference{Name: "nope"}, Optional: &yes}}}), &src{}); err != nil {
		t.Errorf("optional missing configmap: %v", err)
	}
	s := &src{cms: map[string]*objects.ConfigMap{"c": {Data: map[string]string{"a": "1"}}}}
	_, err = m.Setup(pod(objects.Volume{Name: "x", VolumeSource: objects.VolumeSource{ConfigMap: &objects.ConfigMapVolumeSource{LocalObjectReference: objects.LocalObjectReference{Name: "c"}, Items: []objects.KeyToPath{{Key: "zz", Path: "z"}}}}}), s)
	if err == nil {
		t.Errorf("an item naming a missing key was accepted")
	}
}

func TestEmptyDirHostPathTeardown(t *testing.T) {
	root := t.TempDir()
	m := New(root)
	host := filepath.Join(t.TempDir(), "file")
	foc := objects.HostPathFileOrCreate
	dir := objects.HostPathDirectory
	vols, err := m.Setup(pod(
		objects.Volume{Name: "e", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}},
		objects.Volume{Name: "h", VolumeSource: objects.VolumeSource{HostPath: &objects.HostPathVolumeSource{Path: host, Type: &foc}}},
		objects.Volume{Name: "d", VolumeSource: objects.VolumeSource{DownwardAPI: &objects.DownwardAPIVolumeSource{Items: []objects.DownwardAPIVolumeFile{{Path: "name", FieldRef: &objects.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}},
	), &src{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(host); err != nil || fi.IsDir() {
		t.Errorf("FileOrCreate: %v", err)
	}
	if read(t, filepath.Join(vols["d"].Path, "name")) != "v:metadata.name" {
		t.Errorf("downward API file")
	}
	if _, err := m.Setup(pod(objects.Volume{Name: "h", VolumeSource: objects.VolumeSource{HostPath: &objects.HostPathVolumeSource{Path: host, Type: &dir}}}), &src{}); err == nil {
		t.Errorf("a file passed the Directory check")
	}
	if uids, _ := m.Pods(); len(uids) != 1 || uids[0] != "uid1" {
		t.Errorf("Pods() = %v", uids)
	}
	if err := m.Teardown("uid1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vols["e"].Path); !os.IsNotExist(err) {
		t.Errorf("emptyDir left after teardown")
	}
	if _, err := os.Stat(host); err != nil {
		t.Errorf("teardown removed a host path")
	}
}

func TestSubPath(t *testing.T) {
	v := t.TempDir()
	if _, err := SubPath(v, "../escape"); err == nil {
		t.Errorf("a subPath leaving the volume was accepted")
	}
	p, err := SubPath(v, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		t.Errorf("subPath not created")
	}
}

// TestTempRootRemoved: a NewTemp manager's root stays while a pod has
// volumes there, goes with the last of them at Close, and is made anew by
// the next Setup; a given root stays.
func TestTempRootRemoved(t *testing.T) {
	m := NewTemp("podkit-volumes-test-")
	emptyDir := objects.Volume{Name: "e", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}
	if _, err := m.Setup(pod(emptyDir), &src{}); err != nil {
		t.Fatal(err)
	}
	root := m.Root()
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("Close with a pod's volumes in place: %v", err)
	}
	if err := m.Teardown("uid1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) || m.Root() != "" {
		t.Fatalf("Close with no pod left: root %s: %v, Root() = %q; want it gone", root, err, m.Root())
	}
	if _, err := m.Setup(pod(emptyDir), &src{}); err != nil {
		t.Fatal(err)
	}
	again := m.Root()
	t.Cleanup(func() { os.RemoveAll(again) })
	if again == "" || again == root {
		t.Errorf("root after Setup = %q, want a new one", again)
	}

	given := t.TempDir()
	m = New(given)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(given); err != nil {
		t.Errorf("Close removed a given root: %v", err)
	}
}
