package fake

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.ImageConfigReader = (*Runtime)(nil)

// WithImageUser gives image ref the user user in its configuration (a
// Dockerfile's USER: "1000", "1000:1000", "nginx"; "" for none, which
// is root). It describes the image wherever it comes from: present from
// the start (WithImages) or pulled later, and again after RemoveImage.
func WithImageUser(ref, user string) Option {
	return func(r *Runtime) error {
		if ref == "" {
			return errors.New("fake.WithImageUser: empty image reference")
		}
		r.setImageUser(ref, user)
		return nil
	}
}

// WithImageFiles gives image ref files, by absolute path ("/etc/app.conf")
// with their content: what a container's image mount of it
// (runtime.Mount.Image, a pod's image volume) shows, "cat" reading them
// through the mount's container path. Like WithImageUser it describes
// the image wherever it comes from. An image without files has none: an
// image mount of it with a sub-path is refused.
func WithImageFiles(ref string, files map[string]string) Option {
	return func(r *Runtime) error {
		if ref == "" {
			return errors.New("fake.WithImageFiles: empty image reference")
		}
		m := make(map[string]string, len(files))
		for p, content := range files {
			if !path.IsAbs(p) || path.Clean(p) != p {
				return fmt.Errorf("fake.WithImageFiles: %q is not a clean absolute path", p)
			}
			m[p] = content
		}
		if r.imageFiles == nil {
			r.imageFiles = map[string]map[string]string{}
		}
		r.imageFiles[ref] = m
		return nil
	}
}

// checkImageMounts refuses what a runtime would of cfg's image mounts:
// any, where it mounts none (WithoutImageVolumes); of an image that is not
// present; with a sub-path that is not relative, goes up, or is not in
// the image's files. r.mu is held.
func (r *Runtime) checkImageMounts(cfg *runtime.ContainerConfig) error {
	for _, m := range cfg.Mounts {
		switch {
		case m.Image == "":
		case r.noImageVols:
			return fmt.Errorf("fake: create container %s: mount %s: %w", cfg.Name, m.ContainerPath, runtime.ErrImageVolume)
		case r.images[m.Image] == nil:
			return fmt.Errorf("fake: create container %s: image mount %s: no such image: %s: %w", cfg.Name, m.ContainerPath, m.Image, runtime.ErrNotFound)
		case m.ImageSubPath == "":
		case path.IsAbs(m.ImageSubPath) || slices.Contains(strings.Split(m.ImageSubPath, "/"), ".."):
			return fmt.Errorf("fake: create container %s: image mount %s: sub-path %q must be relative, without \"..\"", cfg.Name, m.ContainerPath, m.ImageSubPath)
		case !r.imageHas(m.Image, "/"+path.Clean(m.ImageSubPath)):
			return fmt.Errorf("fake: create container %s: image mount %s: sub-path %q is not in image %s", cfg.Name, m.ContainerPath, m.ImageSubPath, m.Image)
		}
	}
	return nil
}

// imageHas reports whether p is a file of image ref or a directory of
// its files. r.mu is held.
func (r *Runtime) imageHas(ref, p string) bool {
	for f := range r.imageFiles[ref] {
		if f == p || strings.HasPrefix(f, p+"/") {
			return true
		}
	}
	return false
}

// imageFile returns the content of the file at path in c as one of its
// image mounts shows it. r.mu is held.
func (r *Runtime) imageFile(c *container, p string) (content string, mounted, found bool) {
	mounts := c.spec.cfg.Mounts
	for i := len(mounts) - 1; i >= 0; i-- { // the last mount over a path wins
		m := &mounts[i]
		rel, ok := strings.CutPrefix(p, strings.TrimSuffix(m.ContainerPath, "/"))
		if m.Image == "" || !ok || rel != "" && rel[0] != '/' {
			continue
		}
		content, found = r.imageFiles[m.Image][path.Join("/", m.ImageSubPath, rel)]
		return content, true, found
	}
	return "", false, false
}

// SetImageUser changes the user of image ref's configuration, as
// WithImageUser sets it, as if the image had been rebuilt and pulled
// again: a test's way to make a container a node agent refused for
// runAsNonRoot acceptable, or the other way round.
func (r *Runtime) SetImageUser(ref, user string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setImageUser(ref, user)
}

// setImageUser records the user of ref. r.mu is held, or r is being made.
func (r *Runtime) setImageUser(ref, user string) {
	if r.imageUsers == nil {
		r.imageUsers = map[string]string{}
	}
	if user == "" {
		delete(r.imageUsers, ref)
		return
	}
	r.imageUsers[ref] = user
}

// ImageUser implements runtime.ImageConfigReader: the user WithImageUser
// or SetImageUser gave the image, "" when neither did.
func (r *Runtime) ImageUser(ctx context.Context, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return "", err
	}
	if r.images[ref] == nil {
		return "", fmt.Errorf("fake: image %s: %w", ref, runtime.ErrNotFound)
	}
	return r.imageUsers[ref], nil
}
