//go:build unix

package reconcile

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the user and group owning the file info describes.
func fileOwner(info fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
