package nodeagent_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/podkit/podkit/objects"
)

// An emptyDir of medium Memory is a tmpfs (with the size limit as its
// size) where the agent may mount one, as root, and goes with the pod.
func TestEmptyDirMemoryIsTmpfs(t *testing.T) {
	e := newEnv(t, envOpt{})
	limit := objects.MustParseQuantity("16Mi")
	p := e.pod("ram", "app")
	p.Spec.Volumes = []objects.Volume{
		{Name: "ram", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{Medium: objects.StorageMediumMemory, SizeLimit: &limit}}},
		{Name: "disk", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}},
	}
	p.Spec.Containers[0].VolumeMounts = []objects.VolumeMount{{Name: "ram", MountPath: "/ram"}, {Name: "disk", MountPath: "/disk"}}
	e.create(p)
	e.waitPod("ram", "running", running)
	mounts := mountsOf(t, e.rt, "ram", "app")
	ram, disk := mounts["/ram"].HostPath, mounts["/disk"].HostPath
	if ram == "" || disk == "" || mounts["/ram"].ReadOnly {
		t.Fatalf("mounts %+v: want both emptyDirs, read-write", mounts)
	}
	// Unmount whatever is left should the test fail half way, before the
	// temporary directory is removed.
	t.Cleanup(func() { _ = syscall.Unmount(ram, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(ram, "scratch"), []byte("x"), 0o600); err != nil {
		t.Errorf("the emptyDir is not writable: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: an emptyDir of medium Memory stays on disk, as documented")
	}
	const tmpfsMagic = 0x01021994
	var fs syscall.Statfs_t
	if err := syscall.Statfs(ram, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type != tmpfsMagic {
		t.Fatalf("emptyDir of medium Memory is on filesystem type %#x, want tmpfs", fs.Type)
	}
	if size := fs.Blocks * uint64(fs.Bsize); size != 16<<20 {
		t.Errorf("tmpfs size %d, want the sizeLimit, %d", size, 16<<20)
	}
	var rst, dst syscall.Stat_t
	if err := syscall.Stat(ram, &rst); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(disk, &dst); err != nil || dst.Dev == rst.Dev {
		t.Errorf("the emptyDir of medium \"\" is on the tmpfs too (%v)", err)
	}
	deletePod(t, e.store, "ram", 0)
	if !waitFor(waitTimeout, func() bool { _, err := os.Stat(ram); return os.IsNotExist(err) }) {
		t.Errorf("emptyDir %s left after the pod was deleted", ram)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), " "+ram+" ") {
		t.Errorf("the tmpfs on %s is still mounted after the pod was deleted", ram)
	}
}
