package fake

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/podkit/podkit/internal/diskfill"
	"github.com/podkit/podkit/runtime"
)

var _ runtime.DiskUsageProvider = (*Runtime)(nil)

// diskUsage is what a container put on the node's disk beside its logs
// and volumes, kept for the few containers that did (see extra.disk).
type diskUsage struct {
	// layer is what its fill command wrote to its writable layer.
	layer uint64
	// set, when SetDiskUsage was called, is what ContainerDiskUsage
	// reports instead.
	set *runtime.DiskUsage
}

// ContainerDiskUsage implements runtime.DiskUsageProvider: the bytes its
// fill command wrote to the container's root filesystem (not those it
// wrote to its mounts, which are the volumes'), and the bytes of its
// logs, each line with its newline; or what SetDiskUsage said.
func (r *Runtime) ContainerDiskUsage(ctx context.Context, id string) (runtime.DiskUsage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return runtime.DiskUsage{}, err
	}
	c, err := r.container(id)
	if err != nil {
		return runtime.DiskUsage{}, err
	}
	var u runtime.DiskUsage
	x := c.x
	if x == nil {
		return u, nil
	}
	if d := x.disk; d != nil {
		if d.set != nil {
			return *d.set, nil
		}
		u.WritableLayerBytes = d.layer
	}
	for _, l := range x.logs {
		u.LogBytes += uint64(len(l.text)) + 1
	}
	return u, nil
}

// SetDiskUsage makes ContainerDiskUsage report u for container id from
// now on, whatever the container writes, as a test of a node agent's
// limits.ephemeral-storage wants: a container that fills its writable
// layer or its logs past a limit without writing the bytes. An unknown
// id is an error wrapping runtime.ErrNotFound.
func (r *Runtime) SetDiskUsage(id string, u runtime.DiskUsage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.container(id)
	if err != nil {
		return err
	}
	c.disk().set = &u
	return nil
}

// disk returns c's diskUsage, making it. r.mu is held.
func (c *container) disk() *diskUsage {
	x := c.more()
	if x.disk == nil {
		x.disk = &diskUsage{}
	}
	return x.disk
}

// fillCommand runs "fill FILE BYTES" as the command of container c, as
// the test program does: BYTES bytes written to FILE, then "filled FILE"
// on stdout and running until stopped. FILE under a mount of c with a
// host path is a real file written there (a node agent's emptyDir is a
// directory of the host); elsewhere the bytes are counted into c's
// writable layer (see ContainerDiskUsage). A read-only mount or root
// filesystem, or a file the host cannot write, fails the container with
// the error on stderr and exit code 1. The file is written as the
// container starts, with the runtime's lock held: tests keep BYTES small.
// ok is false when argv is not such a command. r.mu is held.
func (r *Runtime) fillCommand(c *container, argv []string) (b *Behavior, ok bool) {
	if len(argv) != 3 || argv[0] != "fill" || argv[1] == "" {
		return nil, false
	}
	n, err := strconv.ParseUint(argv[2], 10, 63)
	if err != nil {
		return nil, false
	}
	file := argv[1]
	cfg := &c.spec.cfg
	p := file
	if !path.IsAbs(p) {
		p = path.Join("/", cfg.WorkingDir, p)
	}
	p = path.Clean(p)
	failed := func(op string, err error) *Behavior {
		return &Behavior{Stderr: []string{op + " " + file + ": " + err.Error()}, Exit: &Exit{Code: 1}}
	}
	m, rel := mountOf(cfg.Mounts, p)
	switch {
	case m == nil && cfg.ReadOnly, m != nil && m.ReadOnly:
		return failed("open", syscall.EROFS), true
	case m == nil:
		c.disk().layer += n
	default:
		host := m.HostPath
		if rel != "" {
			host = filepath.Join(host, filepath.FromSlash(rel))
		}
		if err := diskfill.Write(host, int64(n)); err != nil {
			// Named by the container's path, as the program would.
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return failed(pe.Op, pe.Err), true
			}
			return failed("write", err), true
		}
	}
	return &Behavior{Logs: []string{"filled " + file}}, true
}

// mountOf returns the mount with a host path that the clean, absolute
// container path p is in, the innermost, and p relative to its container
// path ("" for p itself); nil when p is in none.
func mountOf(mounts []runtime.Mount, p string) (*runtime.Mount, string) {
	var found *runtime.Mount
	var rel string
	for i := range mounts {
		m := &mounts[i]
		cp := path.Clean(m.ContainerPath)
		if m.HostPath == "" || !path.IsAbs(cp) || found != nil && len(cp) <= len(path.Clean(found.ContainerPath)) {
			continue
		}
		switch sub, in := strings.CutPrefix(p, strings.TrimSuffix(cp, "/")+"/"); {
		case p == cp:
			found, rel = m, ""
		case in:
			found, rel = m, sub
		}
	}
	return found, rel
}
