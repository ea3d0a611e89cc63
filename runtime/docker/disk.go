package docker

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/logfiles"
	"github.com/podkit/podkit/runtime"
)

var _ runtime.DiskUsageProvider = (*Runtime)(nil)

// ContainerDiskUsage implements runtime.DiskUsageProvider. The writable
// layer is the engine's SizeRw, which it measures by walking the layer at
// each call: the sizes of the files in it, which du would round up to
// whole blocks. The logs are the blocks in use of the json-file driver's
// file (inspect's LogPath) and of its rotated copies, read on this host:
// the engine must run here, as bind mounts need anyway, and this process
// must be allowed to read its directory (root is). Other log drivers name
// no file, and their logs count as none.
func (r *Runtime) ContainerDiskUsage(ctx context.Context, id string) (runtime.DiskUsage, error) {
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{Size: true})
	if err != nil {
		return runtime.DiskUsage{}, r.wrap(err, "disk usage of %s", short(id))
	}
	c := res.Container
	if c.Config == nil || c.Config.Labels[labelKind] != kindContainer {
		return runtime.DiskUsage{}, fmt.Errorf("docker: disk usage of %s: not a podkit container: %w", short(id), runtime.ErrNotFound)
	}
	var u runtime.DiskUsage
	if c.SizeRw != nil && *c.SizeRw > 0 {
		u.WritableLayerBytes = uint64(*c.SizeRw)
	}
	if u.LogBytes, err = logfiles.Usage(c.LogPath); err != nil {
		return runtime.DiskUsage{}, fmt.Errorf("docker: disk usage of %s: logs: %w", short(id), err)
	}
	return u, nil
}
