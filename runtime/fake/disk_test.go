package fake_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// TestFill: "fill FILE BYTES" writes a real file under a mount's host
// path, innermost mount first, and counts the bytes into the writable
// layer elsewhere; it fails as a real container does on a read-only
// mount or a missing directory. It works in a runtime where nothing ran
// before.
func TestFill(t *testing.T) {
	ctx := context.Background()
	rt, err := fake.New(fake.WithImages("app:1"))
	if err != nil {
		t.Fatal(err)
	}
	data, sub, ro := t.TempDir(), t.TempDir(), t.TempDir()
	sb, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: "u", PodName: "p", PodNamespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, cmd ...string) string {
		t.Helper()
		id, err := rt.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: name, Image: "app:1", Command: cmd,
			WorkingDir: "/data",
			Mounts: []runtime.Mount{
				{HostPath: data, ContainerPath: "/data"},
				{HostPath: sub, ContainerPath: "/data/sub/"},
				{HostPath: ro, ContainerPath: "/ro", ReadOnly: true},
				{ContainerPath: "/nohost"},
			}})
		if err == nil {
			err = rt.StartContainer(ctx, id)
		}
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	usage := func(id string) runtime.DiskUsage {
		t.Helper()
		u, err := rt.ContainerDiskUsage(ctx, id)
		if err != nil {
			t.Fatalf("ContainerDiskUsage: %v", err)
		}
		return u
	}
	logs := func(id string) string {
		t.Helper()
		rc, err := rt.ContainerLogs(ctx, id, runtime.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	checkFile := func(path string, size int) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the filled file: %v", err)
		}
		if len(b) != size || bytes.Count(b, []byte{0}) > size/64 {
			t.Errorf("%s: %d bytes, %d of them zero; want %d bytes of data", path, len(b), bytes.Count(b, []byte{0}), size)
		}
	}

	// The first container of the runtime.
	first := run("volume", "fill", "/data/f", "1048577")
	checkFile(filepath.Join(data, "f"), 1<<20+1)
	if got, want := logs(first), "filled /data/f\n"; got != want {
		t.Errorf("logs = %q, want %q", got, want)
	}
	if got, want := usage(first), (runtime.DiskUsage{LogBytes: uint64(len("filled /data/f\n"))}); got != want {
		t.Errorf("usage of a fill of a volume = %+v, want %+v", got, want)
	}
	if st := status(t, rt, first); st.State != runtime.ContainerRunning {
		t.Errorf("the filler is %s, want running until stopped", st.State)
	}

	inner := run("inner", "fill", "sub/g", "10") // relative to WorkingDir
	checkFile(filepath.Join(sub, "g"), 10)
	if _, err := os.Stat(filepath.Join(data, "sub", "g")); err == nil {
		t.Errorf("a fill of a nested mount wrote to the outer one")
	}
	if u := usage(inner); u.WritableLayerBytes != 0 {
		t.Errorf("usage of a fill of a nested volume = %+v, want no writable layer", u)
	}

	layer := run("layer", "fill", "/data-not/f", "3145728")
	nohost := run("nohost", "fill", "/nohost/f", "5")
	if got, want := usage(layer), (runtime.DiskUsage{WritableLayerBytes: 3 << 20, LogBytes: uint64(len("filled /data-not/f\n"))}); got != want {
		t.Errorf("usage of a fill of the root filesystem = %+v, want %+v", got, want)
	}
	if u := usage(nohost); u.WritableLayerBytes != 5 {
		t.Errorf("usage of a fill of a mount without a host path = %+v, want 5 bytes of writable layer", u)
	}
	if err := rt.StopContainer(ctx, layer, runtime.StopOptions{Grace: time.Second}); err != nil {
		t.Fatal(err)
	}
	if st := status(t, rt, layer); st.State != runtime.ContainerExited || st.ExitCode != 0 {
		t.Errorf("a stopped filler: %s, exit code %d; want exited 0", st.State, st.ExitCode)
	}
	if u := usage(layer); u.WritableLayerBytes != 3<<20 {
		t.Errorf("usage of an exited filler = %+v, want its writable layer still", u)
	}

	for _, c := range []struct{ file, stderr string }{
		{"/ro/f", "open /ro/f: read-only file system\n"},
		{"/data/none/f", "open /data/none/f: no such file or directory\n"},
	} {
		id := run("failed", "fill", c.file, "10")
		if st := status(t, rt, id); st.State != runtime.ContainerExited || st.ExitCode != 1 {
			t.Errorf("fill %s: %s, exit code %d; want exited 1", c.file, st.State, st.ExitCode)
		}
		if got := logs(id); got != c.stderr {
			t.Errorf("fill %s: logs %q, want %q", c.file, got, c.stderr)
		}
	}
	if ents, _ := os.ReadDir(ro); len(ents) != 0 {
		t.Errorf("a fill of a read-only mount wrote %v", ents)
	}
}

// TestSetDiskUsage: what SetDiskUsage says is what ContainerDiskUsage
// reports, whatever the container wrote; unknown ids are not found.
func TestSetDiskUsage(t *testing.T) {
	ctx := context.Background()
	rt, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	p := newPod(t, rt, "p")
	id := p.run(t, "app", "app:1", "fill", "/f", "7")
	rt.Log(fake.Match{}, "stderr", "oops")
	if u, err := rt.ContainerDiskUsage(ctx, id); err != nil || u != (runtime.DiskUsage{WritableLayerBytes: 7, LogBytes: 15}) {
		t.Errorf("ContainerDiskUsage of a container that filled /f = %+v, %v; want 7 bytes of layer, 15 of logs", u, err)
	}
	want := runtime.DiskUsage{WritableLayerBytes: 5 << 30, LogBytes: 1 << 30}
	if err := rt.SetDiskUsage(id, want); err != nil {
		t.Fatal(err)
	}
	rt.Log(fake.Match{}, "stdout", "more")
	if u, err := rt.ContainerDiskUsage(ctx, id); err != nil || u != want {
		t.Errorf("ContainerDiskUsage after SetDiskUsage = %+v, %v; want %+v", u, err, want)
	}
	idle := p.run(t, "idle", "app:1")
	if u, err := rt.ContainerDiskUsage(ctx, idle); err != nil || u != (runtime.DiskUsage{}) {
		t.Errorf("ContainerDiskUsage of a container that wrote nothing = %+v, %v; want none", u, err)
	}
	const missing = "00000000000000ff"
	if err := rt.SetDiskUsage(missing, want); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("SetDiskUsage(unknown id) = %v, want ErrNotFound", err)
	}
	if _, err := rt.ContainerDiskUsage(ctx, missing); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ContainerDiskUsage(unknown id) = %v, want ErrNotFound", err)
	}
	if err := rt.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.ContainerDiskUsage(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("ContainerDiskUsage(removed container) = %v, want ErrNotFound", err)
	}
}
