package agenttest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/podkit/podkit/runtime"
)

// RotatedLogs is a runtime's log rotation put to the test: a container
// that prints far more than the runtime's rotation limit of MaxFiles files.
type RotatedLogs struct {
	RT       runtime.Runtime // a runtime.LogReader and runtime.DiskUsageProvider
	MaxFiles int
	// Run starts a container of the demo image with args and returns
	// its ID; Done waits until the runtime has written all of its output.
	Run  func(args ...string) string
	Done func(id string)
	// LogPath is the path of the container's current log file; rotated
	// files are beside it, named after it.
	LogPath func(id string) string
}

// Check runs the container, then checks that MaxFiles log files are left,
// that its logs end with the last line printed and lost the first, that
// its disk usage counts the rotated files, and that removing it removes
// them.
func (c RotatedLogs) Check(t *testing.T) {
	t.Helper()
	const lines = 2000
	args := []string{"print"}
	for i := range lines {
		args = append(args, fmt.Sprintf("line %04d %s", i, strings.Repeat("x", 60)))
	}
	ctx := Context(t)
	id := c.Run(args...)
	c.Done(id)

	path := c.LogPath(id)
	dir, base := filepath.Split(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	var size int64
	for _, e := range ents {
		if e.Name() != base && !strings.HasPrefix(e.Name(), base+".") {
			continue
		}
		files = append(files, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	want := []string{base}
	for n := 1; n < c.MaxFiles; n++ {
		want = append(want, fmt.Sprintf("%s.%d", base, n))
	}
	if !slices.Equal(files, want) {
		t.Errorf("log files %q, want %q", files, want)
	}

	last := args[lines] + "\n"
	got := readLogs(t, ctx, c.RT, id, runtime.LogOptions{})
	if !strings.HasSuffix(got, last) || strings.HasPrefix(got, args[1]+"\n") {
		t.Errorf("logs (%d bytes) start %.30q and end %.30q; want the last line printed at the end, not the first at the start",
			len(got), got, got[max(len(got)-30, 0):])
	}
	if got := readLogs(t, ctx, c.RT, id, runtime.LogOptions{Tail: 1}); got != last {
		t.Errorf("the last log line = %q, want %q", got, last)
	}

	u, err := c.RT.(runtime.DiskUsageProvider).ContainerDiskUsage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if u.LogBytes < uint64(size) {
		t.Errorf("disk usage of the logs = %d bytes, less than the %d bytes of its files %q", u.LogBytes, size, files)
	}

	if err := c.RT.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if left, err := filepath.Glob(path + "*"); err != nil || len(left) > 0 {
		t.Errorf("after RemoveContainer, log files %q left (%v), want them gone", left, err)
	}
}

func readLogs(t *testing.T, ctx context.Context, rt runtime.Runtime, id string, opts runtime.LogOptions) string {
	t.Helper()
	rc, err := rt.(runtime.LogReader).ContainerLogs(ctx, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
