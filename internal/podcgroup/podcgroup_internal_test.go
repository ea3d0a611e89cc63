package podcgroup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A cgroup whose last process is exiting is removed once it has gone.
func TestRemoveCgroupWaitsForExitingProcess(t *testing.T) {
	h := filepath.Join(Root, "pids")
	if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err != nil {
		h = Root // the unified hierarchy alone
	}
	dir := filepath.Join(h, "podkit-cgwait-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup here: %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	cmd := exec.Command("sleep", "0.5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		cmd.Process.Kill()
		<-done
		t.Skipf("cannot move a process into a cgroup here: %v", err)
	}
	if err := removeCgroup(dir); err != nil {
		t.Fatalf("removeCgroup while its process exits: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup still there: %v", err)
	}
	// The process may have exited without being reaped yet: a zombie has
	// left its cgroup, so it counts as gone.
	if state := processState(cmd.Process.Pid); state != "" && state != "Z" {
		t.Errorf("the cgroup was removed while its process was still running (state %s)", state)
	}
	if err := <-done; err != nil {
		t.Errorf("the process: %v", err)
	}
}

// processState returns the state letter of /proc/PID/stat, or "" when the
// process has been reaped.
func processState(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	// The command name is in parentheses and may hold spaces.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return string(b[i+2])
	}
	return ""
}
