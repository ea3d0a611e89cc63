//go:build unix

package logfiles

import (
	"io/fs"
	"syscall"
)

// allocated returns the bytes of the blocks a file uses, as du counts them.
func allocated(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Blocks) * 512
	}
	return uint64(fi.Size())
}
