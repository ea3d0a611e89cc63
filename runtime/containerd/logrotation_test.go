package containerd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
)

// TestLogRotation runs a container that prints far more than a small
// rotation limit: at most that many files are left, the logs end with
// the last line printed and do not start with the first, disk usage
// counts the rotated files, and removing the container removes them.
func TestLogRotation(t *testing.T) {
	const maxSize, maxFiles, lines = 16 << 10, 3, 2000
	rt := newRuntime(t, containerd.WithLogRotation(maxSize, maxFiles))
	p := newPod(t, rt, "logrotation")
	args := []string{"print"}
	for i := range lines {
		args = append(args, fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 60)))
	}
	id := p.run("chatty", nil, args...)
	// A stopped task shows as exited before its output is all copied:
	// wait for the exit to be recorded, which comes after.
	waitContainer(t, rt, id, "recorded", func(s runtime.ContainerStatus) bool { return exited(s) && taskGone(t, rt, id) })

	dir := filepath.Join(stateDir, testNS, "containers", id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	var size int64
	for _, e := range ents {
		if e.Name() != "log" && !strings.HasPrefix(e.Name(), "log.") {
			continue
		}
		files = append(files, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	if !slices.Equal(files, []string{"log", "log.1", "log.2"}) {
		t.Errorf("log files %q, want log, log.1 and log.2", files)
	}

	got := readLogs(t, rt, id, runtime.LogOptions{})
	if !strings.HasSuffix(got, args[lines]+"\n") || strings.HasPrefix(got, args[1]+"\n") {
		t.Errorf("logs (%d bytes) start %.30q and end %.30q; want the last line printed at the end, not the first at the start",
			len(got), got, got[max(len(got)-30, 0):])
	}
	if got := readLogs(t, rt, id, runtime.LogOptions{Tail: 1}); got != args[lines]+"\n" {
		t.Errorf("the last log line = %q, want %q", got, args[lines])
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
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after RemoveContainer, stat %s = %v, want it gone with its rotated logs", dir, err)
	}
}
