package docker_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// TestLogRotation runs a container that prints far more than a small
// rotation limit: the engine keeps that many json-file logs, the logs end
// with the last line printed and lost the first, disk usage counts the
// rotated files, and removing the container removes them.
func TestLogRotation(t *testing.T) {
	const maxSize, maxFiles, lines = 16 << 10, 3, 2000
	rt := newRuntime(t, docker.WithLogRotation(maxSize, maxFiles))
	p := newPod(t, rt, "logrotation")
	args := []string{"print"}
	for i := range lines {
		args = append(args, fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 60)))
	}
	id := p.run("chatty", nil, args...)
	waitContainer(t, rt, id, "exited", exited)

	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerInspect(testContext(t), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lc := res.Container.HostConfig.LogConfig; lc.Type != "json-file" || lc.Config["max-size"] != fmt.Sprint(maxSize) || lc.Config["max-file"] != fmt.Sprint(maxFiles) {
		t.Errorf("log config %+v, want json-file, max-size %d, max-file %d", lc, maxSize, maxFiles)
	}
	path := res.Container.LogPath
	base := filepath.Base(path)
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	var size int64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), base) {
			continue
		}
		files = append(files, strings.TrimPrefix(e.Name(), base))
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if !slices.Equal(files, []string{"", ".1", ".2"}) {
		t.Errorf("log files %s%q, want the log and two rotated ones", base, files)
	}

	rc, err := rt.ContainerLogs(testContext(t), id, runtime.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasSuffix(got, args[lines]+"\n") || strings.HasPrefix(got, args[1]+"\n") {
		t.Errorf("logs (%d bytes) start %.30q and end %.30q; want the last line printed at the end, not the first at the start",
			len(got), got, got[max(len(got)-30, 0):])
	}

	u, err := rt.ContainerDiskUsage(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if u.LogBytes < uint64(size) {
		t.Errorf("disk usage of the logs = %d bytes, less than the %d bytes of its files %q", u.LogBytes, size, files)
	}

	if err := rt.RemoveContainer(testContext(t), id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("after RemoveContainer, stat %s = %v, want it gone with its rotated logs", filepath.Dir(path), err)
	}
}
