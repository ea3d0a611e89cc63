// Package diskfill writes files that take disk: the test program's fill
// command and the fake runtime's, which write the same data.
package diskfill

import (
	"math/rand/v2"
	"os"
)

// Write writes n bytes of pseudo-random data to file and syncs it: no
// file system keeps them as a hole, or compresses or shares them to less,
// so they hold at least n bytes of blocks once it returns.
func Write(file string, n int64) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	src := rand.NewChaCha8([32]byte{'p', 'o', 'd', 'k', 'i', 't'})
	buf := make([]byte, min(n, 1<<20))
	for left := n; left > 0 && err == nil; left -= int64(len(buf)) {
		b := buf[:min(left, int64(len(buf)))]
		src.Read(b)
		_, err = f.Write(b)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
