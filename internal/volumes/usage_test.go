package volumes

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/podkit/podkit/objects"
)

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, n int) {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("one", 1<<20)
	write("a/b/two", 2<<20)
	empty, err := DiskUsage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The files' data, plus the directories' blocks and no more than a
	// few blocks of file metadata.
	if lo, hi := uint64(3<<20), uint64(3<<20)+4*empty+64<<10; got < lo || got > hi {
		t.Errorf("DiskUsage = %d, want %d..%d", got, lo, hi)
	}
	// A second link to a file is not counted again.
	if err := os.Link(filepath.Join(dir, "one"), filepath.Join(dir, "a", "one-again")); err != nil {
		t.Fatal(err)
	}
	if again, err := DiskUsage(dir); err != nil || again != got {
		t.Errorf("DiskUsage with a hard link = %d, %v; want %d", again, err, got)
	}
	if _, err := DiskUsage(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("DiskUsage of a missing directory: %v, want not exist", err)
	}
}

func TestUsage(t *testing.T) {
	m := New(t.TempDir())
	limit := objects.MustParseQuantity("1Mi")
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"}}
	pod.Spec.Volumes = []objects.Volume{
		{Name: "cache", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{SizeLimit: &limit}}},
		{Name: "host", VolumeSource: objects.VolumeSource{HostPath: &objects.HostPathVolumeSource{Path: t.TempDir()}}},
	}
	if _, ok, err := m.Usage("u1", &pod.Spec.Volumes[0]); ok || err != nil {
		t.Errorf("Usage before setup: ok %v, %v; want not ok", ok, err)
	}
	vols, err := m.Setup(pod, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vols["cache"].Path, "data"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := m.Usage("u1", &pod.Spec.Volumes[0]); !ok || err != nil || n < 2<<20 {
		t.Errorf("Usage of the emptyDir = %d, %v, %v; want at least %d", n, ok, err, 2<<20)
	}
	if _, ok, err := m.Usage("u1", &pod.Spec.Volumes[1]); ok || err != nil {
		t.Errorf("Usage of a hostPath: ok %v, %v; want not ok", ok, err)
	}
}
