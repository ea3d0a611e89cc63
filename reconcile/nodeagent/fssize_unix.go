//go:build unix

package nodeagent

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fsSize returns the size in bytes of the file system that holds, or
// will hold, dir (the nearest directory above it that exists), 0 when it
// cannot tell.
func fsSize(dir string) int64 {
	for {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err == nil {
			return int64(st.Blocks) * int64(st.Bsize)
		}
		up := filepath.Dir(dir)
		if up == dir {
			return 0
		}
		dir = up
	}
}
