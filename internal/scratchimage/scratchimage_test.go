package scratchimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// runPause starts the pause program for arch, natively or under
// qemu-ARCH (qemu-user) when that is installed, and skips otherwise.
func runPause(t *testing.T, arch string) *exec.Cmd {
	t.Helper()
	bin, err := Pause(arch)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch {
	case goruntime.GOOS != "linux":
		t.Skip("the pause program is a linux executable")
	case arch == goruntime.GOARCH:
		cmd = exec.Command(path)
	default:
		qemu := map[string]string{"amd64": "qemu-x86_64", "arm64": "qemu-aarch64"}[arch]
		if _, err := exec.LookPath(qemu); err != nil {
			t.Skipf("cannot run %s code here: %s is not installed (Debian package qemu-user)", arch, qemu)
		}
		cmd = exec.Command(qemu, path)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func TestPauseProgram(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(arch+"/"+sig.String(), func(t *testing.T) {
				cmd := runPause(t, arch)
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				waitForHandlers(t, cmd, exited)
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-exited:
					if err != nil {
						t.Errorf("after %v: %v, want exit status 0", sig, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("still running 10s after %v", sig)
				}
			})
		}
	}
}

// waitForHandlers returns once the program has installed its SIGTERM and
// SIGINT handlers, as /proc tells. Under qemu-user, qemu catches every signal
// from its start, so /proc says nothing about the guest: the program gets
// a moment to run its first instructions instead.
func waitForHandlers(t *testing.T, cmd *exec.Cmd, exited <-chan error) {
	t.Helper()
	if len(cmd.Args) > 1 { // qemu
		select {
		case err := <-exited:
			t.Fatalf("pause exited by itself: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := HandlesTermination(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("pause exited by itself: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no SIGTERM and SIGINT handlers after 10s")
		}
		<-tick.C // polling /proc: nothing to wait on
	}
}

func TestPauseUnknownArch(t *testing.T) {
	if _, err := Pause("riscv64"); err == nil || !strings.Contains(err.Error(), "sandbox image") {
		t.Errorf("Pause(riscv64) = %v, want an error that says to configure a sandbox image", err)
	}
}

func TestImageIsReproducible(t *testing.T) {
	files := []File{{Path: "/bin/x", Mode: 0o755, Data: []byte("#!x")}}
	cfg := Config{Entrypoint: []string{"/bin/x"}, Dirs: []string{"/tmp"}}
	a, err := New(files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Errorf("same input, digests %s and %s", da, db)
	}
	c, _ := New([]File{{Path: "/bin/x", Mode: 0o755, Data: []byte("#!y")}}, cfg)
	if dc, _ := c.Digest(); dc == da {
		t.Error("different files, same digest")
	}
}

func TestTarball(t *testing.T) {
	ref, img, err := PauseImage("")
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := PauseRef(""); ref != want || !strings.HasPrefix(ref, PauseRepository+":") {
		t.Errorf("PauseImage ref %s, PauseRef %s", ref, want)
	}
	var buf bytes.Buffer
	if err := Write(&buf, ref, img); err != nil {
		t.Fatal(err)
	}
	// docker load reads manifest.json: one image, tagged ref.
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(manifest) != 1 || len(manifest[0].RepoTags) != 1 || manifest[0].RepoTags[0] != ref || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json = %+v", manifest)
	}
	// It reads back as the same image, with the pause program as entrypoint.
	back, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != goruntime.GOARCH || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" {
		t.Errorf("config = os %s arch %s entrypoint %v", cf.OS, cf.Architecture, cf.Config.Entrypoint)
	}
	// The streaming form gives the same bytes.
	rc := Tarball(ref, img)
	streamed, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(streamed, buf.Bytes()) {
		t.Errorf("Tarball differs from Write (%v)", err)
	}
}

func TestLayerContents(t *testing.T) {
	b, err := layerTar([]File{{Path: "/usr/bin/demo", Mode: 0o755, Data: []byte("bin")}}, []string{"/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var got []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		got = append(got, h.Name+" "+os.FileMode(h.Mode).String())
	}
	want := []string{"tmp/ -rwxrwxrwx", "usr/ -rwxr-xr-x", "usr/bin/ -rwxr-xr-x", "usr/bin/demo -rwxr-xr-x"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("layer entries = %q, want %q", got, want)
	}
	if _, err := layerTar([]File{{Path: "relative", Data: nil}}, nil); err == nil {
		t.Error("a relative path was accepted")
	}
}
