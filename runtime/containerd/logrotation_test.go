package containerd_test

import (
	"path/filepath"
	"testing"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
)

// TestLogRotation: a container printing far more than a small rotation
// limit leaves that many CRI log files (see agenttest.RotatedLogs).
func TestLogRotation(t *testing.T) {
	const maxSize, maxFiles = 16 << 10, 3
	rt := newRuntime(t, containerd.WithLogRotation(maxSize, maxFiles))
	p := newPod(t, rt, "logrotation")
	agenttest.RotatedLogs{
		RT: rt, MaxFiles: maxFiles,
		Run: func(args ...string) string { return p.run("chatty", nil, args...) },
		// A stopped task shows as exited before its output is all
		// copied: wait for the exit to be recorded, which comes after.
		Done: func(id string) {
			waitContainer(t, rt, id, "recorded", func(s runtime.ContainerStatus) bool { return exited(s) && taskGone(t, rt, id) })
		},
		LogPath: func(id string) string { return filepath.Join(stateDir, testNS, "containers", id, "log") },
	}.Check(t)
}
