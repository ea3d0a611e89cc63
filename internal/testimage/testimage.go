// Package testimage builds the images podkit's tests and examples run,
// without a registry: it compiles one of the project's Go programs as a
// static binary (CGO_ENABLED=0 go build), puts it in an image FROM scratch
// (internal/scratchimage) and loads it into a runtime.
//
// It needs the Go toolchain, so only tests, examples and tools use it; the
// runtime backends' own sandbox image needs none (scratchimage.PauseImage).
//
//	img, err := testimage.Demo(ctx)
//	err = testimage.Ensure(ctx, dockerRuntime, img) // ImagePresent, else LoadImage
//	// pods now run img.Ref
package testimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/podkit/podkit/internal/scratchimage"
)

// DemoPackage is the import path of the demo program (see cmd/demo).
const DemoPackage = "github.com/podkit/podkit/internal/testimage/cmd/demo"

// DemoRepository is the repository of the demo image.
const DemoRepository = "podkit.local/demo"

// Image is a built image and the reference it is tagged with.
type Image struct {
	// Ref is Repository:tag, the tag a digest of the binary, so a rebuilt
	// program never hides behind an older image of the same name.
	Ref   string
	Image v1.Image
	// Path is where the binary sits in the image, e.g. "/demo".
	Path string
}

// WriteTo writes the image as a docker-archive tarball (docker load,
// containerd import).
func (i Image) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := scratchimage.Write(cw, i.Ref, i.Image)
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Command returns the image's binary followed by args: a container command
// line that runs the program.
func (i Image) Command(args ...string) []string {
	return append([]string{i.Path}, args...)
}

// builds caches compiled binaries per package for the life of the process:
// tests of one package build each program once.
var builds = struct {
	sync.Mutex
	m map[string]*build
}{m: map[string]*build{}}

type build struct {
	once sync.Once
	bin  []byte
	err  error
}

// Binary compiles the main package pkg (an import path of this module) as a
// static linux binary for this machine's architecture.
func Binary(ctx context.Context, pkg string) ([]byte, error) {
	builds.Lock()
	b := builds.m[pkg]
	if b == nil {
		b = &build{}
		builds.m[pkg] = b
	}
	builds.Unlock()
	b.once.Do(func() { b.bin, b.err = compile(ctx, pkg) })
	return b.bin, b.err
}

func compile(ctx context.Context, pkg string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "podkit-testimage-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = sourceDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("testimage: go build %s: %w\n%s", pkg, err, stderr.Bytes())
	}
	return os.ReadFile(out)
}

// sourceDir is a directory inside this module, so that `go build` resolves
// the module's packages whatever the caller's working directory.
func sourceDir() string {
	if _, file, _, ok := goruntime.Caller(0); ok {
		if d := filepath.Dir(file); dirExists(d) {
			return d
		}
	}
	return ""
}

func dirExists(d string) bool {
	fi, err := os.Stat(d)
	return err == nil && fi.IsDir()
}

// Build compiles pkg and returns an image FROM scratch holding the binary
// at /NAME (NAME the package's last element) as its entrypoint, with cmd as
// its default arguments, tagged repository:<digest of binary and cmd>. The
// image has an empty /tmp and /data, the demo's default data directory.
func Build(ctx context.Context, pkg, repository string, cmd ...string) (Image, error) {
	bin, err := Binary(ctx, pkg)
	if err != nil {
		return Image{}, err
	}
	p := "/" + filepath.Base(pkg)
	img, err := scratchimage.New([]scratchimage.File{{Path: p, Mode: 0o755, Data: bin}}, scratchimage.Config{
		Entrypoint: []string{p},
		Cmd:        cmd,
		Dirs:       []string{"/tmp", "/data"},
		Labels:     map[string]string{"io.podkit.image": filepath.Base(pkg)},
	})
	if err != nil {
		return Image{}, err
	}
	h := sha256.New()
	h.Write(bin)
	for _, a := range cmd {
		h.Write([]byte{0})
		h.Write([]byte(a))
	}
	return Image{Ref: repository + ":" + hex.EncodeToString(h.Sum(nil)[:6]), Image: img, Path: p}, nil
}

// Demo builds the demo image (DemoPackage as DemoRepository): by default
// it serves HTTP on :8080.
func Demo(ctx context.Context) (Image, error) {
	return Build(ctx, DemoPackage, DemoRepository)
}

// IdleRepository is the repository of the idle image.
const IdleRepository = "podkit.local/idle"

// Idle builds the demo program as an image whose default command waits for
// SIGTERM and listens on nothing, so that any number of its containers can
// share a pod: what runtime/runtimetest asks of its image.
func Idle(ctx context.Context) (Image, error) {
	return Build(ctx, DemoPackage, IdleRepository, "wait")
}

// Loader is a runtime that can take an image tarball: runtime/docker's
// Runtime, and the containerd backend's.
type Loader interface {
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// LoadImage reads a docker-archive tarball and stores its images.
	LoadImage(ctx context.Context, r io.Reader) error
}

// Ensure loads img into l unless l already has img.Ref.
func Ensure(ctx context.Context, l Loader, img Image) error {
	ok, err := l.ImagePresent(ctx, img.Ref)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := img.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	err = l.LoadImage(ctx, pr)
	pr.CloseWithError(fmt.Errorf("load ended: %v", err)) // unblocks the writer if the load stopped early
	<-done
	if err != nil {
		return fmt.Errorf("testimage: load %s: %w", img.Ref, err)
	}
	return nil
}

// GroupsFiles are the files of the Groups image besides the program.
var GroupsFiles = map[string]string{
	"/etc/passwd": "root:x:0:0:root:/:/demo\napp:x:1000:1000:app:/:/demo\n",
	"/etc/group":  "root:x:0:\napp:x:1000:\nextra:x:5555:app\n",
}

// Groups builds the demo program as an image whose /etc/passwd has a user
// app (1000:1000) and whose /etc/group puts app in group extra (5555):
// what runtime/runtimetest's Config.GroupsImage asks for. The program is
// its first layer and GroupsFiles its second, so that it also serves as
// an image of several layers (Config.VolumeImage).
func Groups(ctx context.Context) (Image, error) {
	bin, err := Binary(ctx, DemoPackage)
	if err != nil {
		return Image{}, err
	}
	img, err := scratchimage.New([]scratchimage.File{{Path: "/demo", Mode: 0o755, Data: bin}},
		scratchimage.Config{Entrypoint: []string{"/demo"}, Cmd: []string{"wait"}})
	if err != nil {
		return Image{}, err
	}
	var etc []scratchimage.File
	for p, content := range GroupsFiles {
		etc = append(etc, scratchimage.File{Path: p, Mode: 0o644, Data: []byte(content)})
	}
	if img, err = scratchimage.AppendLayer(img, etc); err != nil {
		return Image{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Image{}, err
	}
	return Image{Ref: "podkit.local/groups:" + d.Hex[:12], Image: img, Path: "/demo"}, nil
}

// UserRepository is the repository of the images User builds.
const UserRepository = "podkit.local/user"

// User builds the demo program as an image whose configuration names the
// user user (a Dockerfile's USER), its default command waiting for
// SIGTERM as Idle's: what runtime/runtimetest's Config.UserImage asks
// for. The program is at /demo, as in Idle, so Idle's command lines run
// in it too.
func User(ctx context.Context, user string) (Image, error) {
	bin, err := Binary(ctx, DemoPackage)
	if err != nil {
		return Image{}, err
	}
	img, err := scratchimage.New([]scratchimage.File{{Path: "/demo", Mode: 0o755, Data: bin}},
		scratchimage.Config{Entrypoint: []string{"/demo"}, Cmd: []string{"wait"}, Dirs: []string{"/tmp"}, User: user})
	if err != nil {
		return Image{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Image{}, err
	}
	return Image{Ref: UserRepository + ":" + d.Hex[:12], Image: img, Path: "/demo"}, nil
}
