//go:build linux

package volumes

import (
	"os"
	"syscall"

	"github.com/podkit/podkit/objects"
)

// mountTmpfs mounts a tmpfs on dir for an emptyDir of medium Memory where
// the process may (as root); elsewhere the directory stays on disk.
func mountTmpfs(dir string, limit *objects.Quantity) {
	if os.Geteuid() != 0 || isMountPoint(dir) {
		return
	}
	opts := "mode=0777"
	if s := sizeBytes(limit); s != "" {
		opts += ",size=" + s
	}
	_ = syscall.Mount("tmpfs", dir, "tmpfs", 0, opts) // best effort, as documented
}

func isMountPoint(dir string) bool {
	var st, parent syscall.Stat_t
	if syscall.Stat(dir, &st) != nil || syscall.Stat(dir+"/..", &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

func unmount(dir string) {
	if isMountPoint(dir) {
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
}
