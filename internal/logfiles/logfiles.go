// Package logfiles holds what the runtimes share about the container log
// files they keep on this host: what rotation limits make sense, and how
// much disk a log and its rotated files take.
package logfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CheckRotation tells what is wrong with rotation limits: a log rotates
// past maxSize bytes and keeps maxFiles files with the current one.
func CheckRotation(maxSize int64, maxFiles int) error {
	if maxSize <= 0 {
		return fmt.Errorf("maxSize %d: want more than 0 bytes", maxSize)
	}
	if maxFiles < 2 {
		return fmt.Errorf("maxFiles %d: want at least 2 (the current file and a rotated one)", maxFiles)
	}
	return nil
}

// Usage returns the bytes of the blocks in use by the log file path and by
// its rotated files beside it (path.1, path.2.gz, ...); 0 when there is
// none, or no path.
func Usage(path string) (uint64, error) {
	if path == "" {
		return 0, nil
	}
	dir, base := filepath.Split(path)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // removed meanwhile, or not started yet
	}
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, e := range ents {
		if name := e.Name(); name != base && !strings.HasPrefix(name, base+".") {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return 0, err
		}
		n += allocated(fi)
	}
	return n, nil
}
