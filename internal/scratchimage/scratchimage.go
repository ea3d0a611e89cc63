// Package scratchimage writes container images FROM scratch, in pure Go:
// one layer holding a few files (typically one static binary), a config,
// and a docker-archive tarball ("docker save" format) that both Docker's
// image load and containerd's importer accept. No registry, daemon or
// toolchain is involved.
//
// Runtime backends use it for their default sandbox image (see Pause);
// internal/testimage uses it for the project's test programs.
package scratchimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	goruntime "runtime"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one regular file of an image's single layer.
type File struct {
	Path string // absolute, e.g. "/demo"
	Mode int64  // permission bits, e.g. 0o755
	Data []byte
}

// Config is the part of an image's runtime configuration podkit sets.
type Config struct {
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Labels     map[string]string
	// User is who the image's processes run as (a Dockerfile's USER);
	// empty is root.
	User string
	// Arch is the GOARCH the files are built for; empty means the
	// architecture of this process.
	Arch string
	// Dirs are extra empty directories, created with mode 01777 (such as
	// "/tmp").
	Dirs []string
}

// epoch is the modification time of every layer entry, so that the same
// files always give the same layer digest.
var epoch = time.Unix(0, 0).UTC()

// New returns an image holding files in one layer, with cfg as its config.
// The image is reproducible: the same input gives the same digest.
func New(files []File, cfg Config) (v1.Image, error) {
	img, err := appendLayer(empty.Image, files, cfg.Dirs)
	if err != nil {
		return nil, err
	}
	arch := cfg.Arch
	if arch == "" {
		arch = goruntime.GOARCH
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = arch
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Cmd = cfg.Cmd
	cf.Config.Env = cfg.Env
	cf.Config.WorkingDir = cfg.WorkingDir
	cf.Config.Labels = cfg.Labels
	cf.Config.User = cfg.User
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("scratchimage: config: %w", err)
	}
	return img, nil
}

// AppendLayer returns img with one more layer on top, holding files, as
// New makes its layer: an image of several layers, which a runtime
// stacks (an overlay) rather than using one directory.
func AppendLayer(img v1.Image, files []File) (v1.Image, error) {
	return appendLayer(img, files, nil)
}

// appendLayer returns img with a layer of files and dirs on top.
func appendLayer(img v1.Image, files []File, dirs []string) (v1.Image, error) {
	layerTar, err := layerTar(files, dirs)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, fmt.Errorf("scratchimage: layer: %w", err)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("scratchimage: append layer: %w", err)
	}
	return img, nil
}

// layerTar returns an uncompressed tar of files and dirs, with their parent
// directories, in a stable order.
func layerTar(files []File, dirs []string) ([]byte, error) {
	type entry struct {
		hdr  tar.Header
		data []byte
	}
	entries := map[string]entry{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			name := d[1:] + "/"
			if _, ok := entries[name]; !ok {
				entries[name] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
			}
		}
	}
	for _, d := range dirs {
		if !path.IsAbs(d) {
			return nil, fmt.Errorf("scratchimage: directory %q is not absolute", d)
		}
		d = path.Clean(d)
		addParents(d)
		entries[d[1:]+"/"] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o1777}}
	}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) == "/" {
			return nil, fmt.Errorf("scratchimage: file path %q is not an absolute file path", f.Path)
		}
		p := path.Clean(f.Path)
		addParents(p)
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		entries[p[1:]] = entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: mode, Size: int64(len(f.Data))}, data: f.Data}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		e.hdr.ModTime = epoch
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write writes img, tagged ref, as a docker-archive tarball: the format of
// "docker save", accepted by Docker's image load and containerd's import.
func Write(w io.Writer, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("scratchimage: reference %q: %w", ref, err)
	}
	if err := tarball.Write(tag, img, w); err != nil {
		return fmt.Errorf("scratchimage: write %s: %w", ref, err)
	}
	return nil
}

// Tarball returns a reader of img as Write writes it, produced on the fly.
func Tarball(ref string, img v1.Image) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Write(pw, ref, img)) }()
	return pr
}

// PauseRepository is the repository of the built-in pause image. The
// ".local" domain makes clear it is never pulled.
const PauseRepository = "podkit.local/pause"

// PauseImage returns the built-in sandbox image for arch (GOARCH name; empty
// is this process's): the assembled pause program as its entrypoint. Its
// reference is PauseRepository tagged with a digest of the program, so a
// changed program never hides behind an older image of the same name.
func PauseImage(arch string) (ref string, img v1.Image, err error) {
	ref, bin, err := pause(arch)
	if err != nil {
		return "", nil, err
	}
	img, err = New([]File{{Path: "/pause", Mode: 0o755, Data: bin}}, Config{
		Entrypoint: []string{"/pause"},
		Arch:       arch,
		Labels:     map[string]string{"io.podkit.image": "pause"},
	})
	if err != nil {
		return "", nil, err
	}
	return ref, img, nil
}

// PauseRef returns the reference PauseImage returns for arch, without
// building the image.
func PauseRef(arch string) (string, error) {
	ref, _, err := pause(arch)
	return ref, err
}

func pause(arch string) (ref string, bin []byte, err error) {
	if arch == "" {
		arch = goruntime.GOARCH
	}
	bin, err = Pause(arch)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(bin)
	return PauseRepository + ":" + hex.EncodeToString(sum[:6]), bin, nil
}
