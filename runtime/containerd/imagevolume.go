package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/opencontainers/image-spec/identity"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podkit/podkit/runtime"
)

// Image mounts (runtime.Mount.Image), as the CRI plugin makes them: a
// read-only view snapshot of the image's layers, mounted on a directory
// of the container's (imageMountDir), and bound from there, or from a
// sub-path of it, into the container. The container record names each
// view in a garbage collection label, so that containerd keeps it while
// the container exists; RemoveContainer unmounts and removes them, and
// the repair at start unmounts those of directories with no container.

// gcSnapshotLabel is the prefix of the container labels that keep a
// snapshot of the runtime's snapshotter from containerd's garbage
// collection.
const gcSnapshotLabel = "containerd.io/gc.ref.snapshot."

// imageMountsDir is the directory under which container id's image
// mounts are mounted, one directory each.
func (r *Runtime) imageMountsDir(id string) string {
	return filepath.Join(r.containersDir(), id, "image-mounts")
}

// imageViewKey is the key of the view snapshot of container id's image
// mount i.
func imageViewKey(id string, i int) string { return id + "-image-" + strconv.Itoa(i) }

// mountImages makes the view snapshots of cfg's image mounts and mounts
// them for container id, within a lease (ctx), adds the labels that keep
// them to labels, and returns the host path each image mount binds, by
// index in cfg.Mounts. On error nothing is left mounted.
func (r *Runtime) mountImages(ctx context.Context, id string, cfg *runtime.ContainerConfig, labels map[string]string) (map[int]string, error) {
	paths := map[int]string{}
	for i, m := range cfg.Mounts {
		if m.Image == "" {
			continue
		}
		p, err := r.mountImage(ctx, id, i, m)
		if err != nil {
			r.unmountImages(ctx, id)
			return nil, fmt.Errorf("containerd: creating container %s: image mount %s: %w", cfg.Name, m.ContainerPath, err)
		}
		paths[i] = p
		labels[gcSnapshotLabel+r.cfg.snapshotter+"/image-"+strconv.Itoa(i)] = imageViewKey(id, i)
	}
	return paths, nil
}

// mountImage mounts a view of image mount m's image for container id,
// and returns the host path to bind: the mount's directory, or its
// sub-path resolved within it.
func (r *Runtime) mountImage(ctx context.Context, id string, i int, m runtime.Mount) (string, error) {
	sub := filepath.ToSlash(m.ImageSubPath)
	if filepath.IsAbs(sub) || slices.Contains(strings.Split(sub, "/"), "..") {
		return "", fmt.Errorf("sub-path %q must be a relative path within the image", m.ImageSubPath)
	}
	img, err := r.image(ctx, m.Image) // unpacked for the snapshotter
	if err != nil {
		return "", err
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		return "", r.wrap(err, "image %s", m.Image)
	}
	sn := r.cli.SnapshotService(r.cfg.snapshotter)
	key := imageViewKey(id, i)
	mounts, err := sn.View(ctx, key, identity.ChainID(diffIDs).String())
	if err != nil {
		return "", r.wrap(err, "view of image %s", m.Image)
	}
	dir := filepath.Join(r.imageMountsDir(id), strconv.Itoa(i))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := mount.All(mounts, dir); err != nil {
		return "", fmt.Errorf("mounting image %s: %w", m.Image, err)
	}
	if sub == "" {
		return dir, nil
	}
	// Symbolic links resolved within the image: the path bound is the
	// image's, whatever its links say.
	p, err := securejoin.SecureJoin(dir, sub)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("sub-path %q of image %s: %w", m.ImageSubPath, m.Image, err)
	}
	return p, nil
}

// imageBind is the bind into the container of an image mount's host path:
// read-only and non-executable, as Kubernetes mounts image volumes.
func imageBind(hostPath string, m runtime.Mount) specs.Mount {
	b := bind(hostPath, m.ContainerPath, true)
	b.Options = append(b.Options, "nosuid", "nodev", "noexec")
	return b
}

// unmountImages unmounts container id's image mounts and removes their
// directories and view snapshots. It returns the errors; the repair at
// start retries what remains.
func (r *Runtime) unmountImages(ctx context.Context, id string) error {
	dir := r.imageMountsDir(id)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var first error
	sn := r.cli.SnapshotService(r.cfg.snapshotter)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if err := mount.UnmountAll(p, unix.MNT_DETACH); err != nil {
			first = errors.Join(first, fmt.Errorf("unmounting image mount %s: %w", p, err))
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			first = errors.Join(first, err)
		}
		if i, err := strconv.Atoi(e.Name()); err == nil {
			if err := sn.Remove(ctx, imageViewKey(id, i)); err != nil && !errdefs.IsNotFound(err) {
				first = errors.Join(first, r.wrap(err, "removing the view of image mount %s", p))
			}
		}
	}
	if first == nil {
		first = os.Remove(dir)
	}
	return first
}
