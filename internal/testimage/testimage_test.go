package testimage

import (
	"bytes"
	"context"
	"debug/elf"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestDemoImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := Binary(ctx, DemoPackage)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("the demo binary is not ELF: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the demo binary has an interpreter: it is not static (CGO_ENABLED=0?)")
		}
	}
	if again, _ := Binary(ctx, DemoPackage); &again[0] != &bin[0] {
		t.Error("Binary built the same package twice")
	}

	img, err := Demo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := Idle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(img.Ref, DemoRepository+":") || !strings.HasPrefix(idle.Ref, IdleRepository+":") {
		t.Errorf("refs %s, %s", img.Ref, idle.Ref)
	}
	if got := img.Command("print", "x"); strings.Join(got, " ") != "/demo print x" {
		t.Errorf("Command = %q", got)
	}
	cf := configOf(t, idle)
	if strings.Join(cf.Config.Entrypoint, " ") != "/demo" || strings.Join(cf.Config.Cmd, " ") != "wait" {
		t.Errorf("idle image: entrypoint %q cmd %q, want /demo and wait", cf.Config.Entrypoint, cf.Config.Cmd)
	}
}

type fakeLoader struct {
	present map[string]bool
	loads   int
	data    []byte
}

func (f *fakeLoader) ImagePresent(ctx context.Context, ref string) (bool, error) {
	return f.present[ref], nil
}

func (f *fakeLoader) LoadImage(ctx context.Context, r io.Reader) error {
	f.loads++
	b, err := io.ReadAll(r)
	f.data = b
	return err
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()
	img, err := Idle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := &fakeLoader{present: map[string]bool{}}
	if err := Ensure(ctx, l, img); err != nil {
		t.Fatal(err)
	}
	if l.loads != 1 || len(l.data) == 0 {
		t.Fatalf("loads %d, %d bytes", l.loads, len(l.data))
	}
	l.present[img.Ref] = true
	if err := Ensure(ctx, l, img); err != nil || l.loads != 1 {
		t.Errorf("Ensure of a present image loaded it again (%v)", err)
	}
}

// User's image names its user in its configuration, as written, and each
// user has its own reference.
func TestUserImage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := User(ctx, "1000:5555")
	if err != nil {
		t.Fatal(err)
	}
	other, err := User(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(img.Ref, UserRepository+":") || img.Ref == other.Ref {
		t.Errorf("refs %s and %s: want two of %s", img.Ref, other.Ref, UserRepository)
	}
	cf := configOf(t, img)
	if cf.Config.User != "1000:5555" || strings.Join(cf.Config.Entrypoint, " ") != "/demo" {
		t.Errorf("config: user %q entrypoint %q, want 1000:5555 and /demo", cf.Config.User, cf.Config.Entrypoint)
	}
}

// configOf returns the configuration of img as its tarball has it.
func configOf(t *testing.T, img Image) *v1.ConfigFile {
	t.Helper()
	var buf bytes.Buffer
	if _, err := img.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf
}
