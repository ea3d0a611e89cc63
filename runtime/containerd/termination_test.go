package containerd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/podkit/podkit/runtime"
)

// TestTerminationMessageFile: the host file of a termination message is in
// the container's directory, writable by a container that does not run as
// root; a runtime that did not see the exit reports the message too, and
// the file goes with the container.
func TestTerminationMessageFile(t *testing.T) {
	rt1 := newRuntime(t)
	p := newPod(t, rt1, "termination")
	const path = "/dev/termination-log"
	id := p.run("app", func(c *runtime.ContainerConfig) {
		c.TerminationMessagePath = path
		c.User = "1000:1000"
	}, "fail-with", path, "disk full", "3")
	file := filepath.Join(stateDir, testNS, "containers", id, "termination-log")
	if _, err := os.Stat(file); err != nil {
		t.Errorf("termination message file: %v", err)
	}
	if st := waitContainer(t, rt1, id, "exited", exited); st.ExitCode != 3 || st.Message != "disk full" {
		t.Errorf("exited: code %d message %q, want 3 and %q", st.ExitCode, st.Message, "disk full")
	}
	rt1.Close()
	rt2 := newRuntime(t)
	p.handOver(rt2)
	if st := waitContainer(t, rt2, id, "exited", exited); st.Message != "disk full" {
		t.Errorf("listed by a new runtime: message %q, want %q", st.Message, "disk full")
	}
	if err := rt2.RemoveContainer(testContext(t), id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("after RemoveContainer, %s: %v, want it gone", file, err)
	}
}

// TestRepairRemovesMessageFileOfNoContainer: a termination message file
// made for a container whose creation a crash cut short, before its
// record, goes at the next New.
func TestRepairRemovesMessageFileOfNoContainer(t *testing.T) {
	newRuntime(t).Close()
	dir := filepath.Join(stateDir, testNS, "containers", randHex(32))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "termination-log"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	newRuntime(t) // repairs
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after New, %s: %v, want it gone", dir, err)
	}
}
