package runtimetest

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// testImageVolume: an image mount (runtime.Mount.Image) of an image that
// is not present is refused with runtime.ErrNotFound, or with
// runtime.ErrImageVolume by a runtime that mounts no images. One that
// mounts them shows Config.VolumeImage's files at the container path,
// and with ImageSubPath the files under that directory, or the file
// itself; a sub-path that is not in the image, or goes up, is refused.
// Where the runtime shares the test's host (Config.SameHost, with
// FailWith to write), a container cannot write through the mount: FailWith
// reports the failed write on its output.
func testImageVolume(h *harness) {
	sbID, sb := h.sandbox("imgvol")
	const target = "/mnt/image"
	create := func(name string, cmd []string, mounts ...runtime.Mount) (string, error) {
		cfg := h.containerConfig(sb, name, 0, cmd)
		cfg.Mounts = mounts
		return h.rt.CreateContainer(h.ctx, sbID, cfg)
	}
	_, err := create("absent", nil, runtime.Mount{Image: h.cfg.AbsentImage, ContainerPath: target})
	switch {
	case errors.Is(err, runtime.ErrImageVolume):
		return
	case !errors.Is(err, runtime.ErrNotFound):
		h.t.Fatalf("CreateContainer with an image mount of an absent image: %v, want runtime.ErrNotFound or runtime.ErrImageVolume", err)
	}
	if h.cfg.VolumeImage == "" || len(h.cfg.VolumeImageFiles) == 0 || h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.VolumeImage, VolumeImageFiles or ReadFile is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	img := h.cfg.VolumeImage
	files := make([]string, 0, len(h.cfg.VolumeImageFiles))
	for f := range h.cfg.VolumeImageFiles {
		files = append(files, f)
	}
	slices.Sort(files)
	// read checks that a container with mount m reads image file f at p.
	read := func(name, f, p string, m runtime.Mount) {
		h.t.Helper()
		got := h.outputWith(lr, sbID, sb, name, h.cfg.ReadFile(p), func(cfg *runtime.ContainerConfig) { cfg.Mounts = []runtime.Mount{m} })
		if want := h.cfg.VolumeImageFiles[f]; strings.TrimSpace(got) != strings.TrimSpace(want) {
			h.t.Errorf("%s of %s read at %s through %+v: %q, want %q", f, img, p, m, got, want)
		}
	}
	for i, f := range files {
		read(fmt.Sprintf("whole-%d", i), f, target+f, runtime.Mount{Image: img, ContainerPath: target})
	}
	for _, f := range files {
		if dir, base := path.Split(f); dir != "/" {
			read("dir", f, target+"/"+base, runtime.Mount{Image: img, ImageSubPath: strings.Trim(dir, "/"), ContainerPath: target})
			read("file", f, "/mnt/file", runtime.Mount{Image: img, ImageSubPath: f[1:], ContainerPath: "/mnt/file"})
			break
		}
	}
	for _, sub := range []string{"podkit-not-there", "../etc", "/etc"} {
		if _, err := create("sub", nil, runtime.Mount{Image: img, ImageSubPath: sub, ContainerPath: target}); err == nil {
			h.t.Errorf("CreateContainer with an image mount's sub-path %q: no error", sub)
		}
	}
	if !h.cfg.SameHost || h.cfg.FailWith == nil {
		return
	}
	// Each container has a view of its own: the writer itself must fail,
	// and FailWith says so on its output when it cannot write.
	written := target + "/podkit-written"
	id, err := create("writer", h.cfg.FailWith(written, "written", 0), runtime.Mount{Image: img, ContainerPath: target})
	if err != nil {
		h.t.Fatalf("CreateContainer with an image mount: %v", err)
	}
	h.start(id)
	h.waitContainer(id, "exited", exited)
	if out := h.logs(lr, id, runtime.LogOptions{}); strings.TrimSpace(out) == "" {
		h.t.Errorf("a container wrote %s through an image mount without an error", written)
	}
}
