package containerd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.DiskUsageProvider = (*Runtime)(nil)

// ContainerDiskUsage implements runtime.DiskUsageProvider: the writable
// layer is its snapshot's usage as the snapshotter measures it (overlayfs:
// the blocks of its upper directory), the logs the blocks of the log file
// this package writes for it and of its rotated files.
func (r *Runtime) ContainerDiskUsage(ctx context.Context, id string) (runtime.DiskUsage, error) {
	ctx = r.ns(ctx)
	c, err := r.containerRecord(ctx, id)
	if err != nil {
		return runtime.DiskUsage{}, err
	}
	var u runtime.DiskUsage
	if c.SnapshotKey != "" {
		su, err := r.cli.SnapshotService(cmp.Or(c.Snapshotter, r.cfg.snapshotter)).Usage(ctx, c.SnapshotKey)
		if err != nil {
			return runtime.DiskUsage{}, r.wrap(err, "disk usage of %s", short(id))
		}
		u.WritableLayerBytes = uint64(max(su.Size, 0))
	}
	if u.LogBytes, err = logBytes(r.logPath(id)); err != nil {
		return runtime.DiskUsage{}, fmt.Errorf("containerd: disk usage of %s: logs: %w", short(id), err)
	}
	return u, nil
}

// logBytes returns the bytes of the blocks in use by the log at path and by
// its rotated files beside it (path.1, path.2, ...); 0 when there is none.
func logBytes(path string) (uint64, error) {
	dir, base := filepath.Split(path)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // never started
	}
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, e := range ents {
		name := e.Name()
		if name != base {
			suffix, ok := strings.CutPrefix(name, base+".")
			if _, err := strconv.Atoi(suffix); !ok || err != nil {
				continue
			}
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return 0, err
		}
		n += uint64(fi.Sys().(*syscall.Stat_t).Blocks) * 512
	}
	return n, nil
}
