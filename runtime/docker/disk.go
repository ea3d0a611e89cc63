package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"

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
	if u.LogBytes, err = logBytes(c.LogPath); err != nil {
		return runtime.DiskUsage{}, fmt.Errorf("docker: disk usage of %s: logs: %w", short(id), err)
	}
	return u, nil
}

// logBytes returns the bytes of the blocks in use by the log file path and
// by its rotated copies beside it (path.1, path.2.gz, ...); 0 when there is
// none, or no path.
func logBytes(path string) (uint64, error) {
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
