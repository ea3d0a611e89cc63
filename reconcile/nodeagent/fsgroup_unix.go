//go:build unix

package nodeagent

import (
	"io/fs"
	"syscall"
)

func fileGID(info fs.FileInfo) (int, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Gid), true
}
