package containerd

import (
	"cmp"
	"context"
	"fmt"

	"github.com/podkit/podkit/internal/logfiles"
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
	if u.LogBytes, err = logfiles.Usage(r.logPath(id)); err != nil {
		return runtime.DiskUsage{}, fmt.Errorf("containerd: disk usage of %s: logs: %w", short(id), err)
	}
	return u, nil
}
