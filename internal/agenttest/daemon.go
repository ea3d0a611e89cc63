package agenttest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podkit/podkit/runtime"
)

// Daemon is a container daemon (containerd, dockerd) of one test's own,
// which the test may kill and start again: everything it keeps lives in
// Dir, and the other tests' daemon never sees it.
type Daemon struct {
	T   *testing.T
	Dir string

	bin    string
	args   []string
	ready  func(ctx context.Context) error
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited and been waited for
}

// StartDaemon starts bin in a new directory with the arguments setup
// returns for it (setup may write files there), and waits until ready
// succeeds. When the test ends the daemon is stopped, what is still
// mounted under the directory unmounted, and the directory removed.
// Without bin the test is skipped, except in CI.
func StartDaemon(t *testing.T, bin string, setup func(dir string) ([]string, error), ready func(ctx context.Context) error) *Daemon {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no %s: %v", bin, err)
		}
		t.Skipf("no %s: %v", bin, err)
	}
	// Not t.TempDir: a unix socket's path must stay short.
	dir, err := os.MkdirTemp("", "podkit-"+bin+"-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{T: t, Dir: dir, bin: bin, ready: ready}
	t.Cleanup(d.remove)
	if d.args, err = setup(dir); err != nil {
		t.Fatal(err)
	}
	d.Start()
	return d
}

// Start runs the daemon and waits until it is ready.
func (d *Daemon) Start() {
	d.T.Helper()
	logf, err := os.OpenFile(d.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		d.T.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.bin, d.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.T.Fatal(err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.exited) }()
	Poll(d.T, time.Minute, 50*time.Millisecond, func() (bool, string) {
		if !d.Running() {
			d.T.Fatalf("%s exited at start; its log:\n%s", d.bin, d.log())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := d.ready(ctx)
		return err == nil, fmt.Sprintf("%s is not ready: %v", d.bin, err)
	})
}

// Running reports whether the daemon's process runs.
func (d *Daemon) Running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Stop sends sig and waits until the process has exited.
func (d *Daemon) Stop(sig syscall.Signal) {
	d.T.Helper()
	if !d.Running() {
		return
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.T.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(time.Minute):
		d.T.Fatalf("%s did not exit within a minute of %v", d.bin, sig)
	}
}

func (d *Daemon) logPath() string { return filepath.Join(d.Dir, d.bin+".log") }

func (d *Daemon) log() string {
	b, _ := os.ReadFile(d.logPath())
	return string(b)
}

func (d *Daemon) remove() {
	d.Stop(syscall.SIGTERM)
	if d.T.Failed() {
		d.T.Logf("%s's log:\n%s", d.bin, d.log())
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err == nil {
		var mounts []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], d.Dir+"/") {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
		slices.Reverse(mounts) // the innermost first
		for _, m := range mounts {
			// A killed dockerd leaves the bind mount of its data root.
			d.T.Logf("unmounting %s", m)
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		d.T.Error(err)
	}
}

// NetworkRemover is a runtime that can remove its pod network.
type NetworkRemover interface {
	runtime.Runtime
	RemoveNetwork(ctx context.Context) error
}

// SweepAtEnd removes, when the test ends, every sandbox rt holds (and
// with them their containers) and rt's pod network, then closes rt,
// starting d first if the test left it stopped. Register it after the
// daemon and before the agent (New), whose cleanup, which stops the
// agent, must run first.
func SweepAtEnd(t *testing.T, d *Daemon, rt NetworkRemover) {
	t.Cleanup(func() {
		if !d.Running() {
			d.Start()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sbs, err := rt.ListSandboxes(ctx, runtime.Filter{})
		for _, s := range sbs {
			if err == nil {
				err = rt.RemoveSandbox(ctx, s.ID)
			}
		}
		if err == nil {
			err = rt.RemoveNetwork(ctx)
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		rt.Close()
	})
}

// KillShims kills, with their children, the containerd shims started with
// the argument flag value (such as -namespace NS, or -address SOCKET of a
// daemon of the test's own), and waits until they are gone. A daemon
// killed while it creates a task can leave its shim, the container's init
// waiting to be started, with no record of either once it restarts; so
// can an engine killed while it asks containerd for one.
func KillShims(t *testing.T, flag, value string) {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Error(err)
		return
	}
	want := "\x00" + flag + "\x00" + value + "\x00"
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "containerd-shim") || !strings.Contains(string(cmd), want) {
			continue
		}
		t.Logf("killing shim %d (%s %s), which its daemon does not know, and its children", pid, flag, value)
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, c := range strings.Fields(string(children)) {
			if cpid, err := strconv.Atoi(c); err == nil {
				_ = syscall.Kill(cpid, syscall.SIGKILL)
			}
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		Poll(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
			_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
			return err != nil, fmt.Sprintf("shim %d still runs", pid)
		})
	}
}
