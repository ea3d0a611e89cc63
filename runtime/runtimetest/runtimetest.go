// Package runtimetest is the conformance suite every runtime.Runtime
// backend runs: runtime/fake, runtime/docker, runtime/containerd, and a
// host's own.
//
//	func TestConformance(t *testing.T) {
//		runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newBackend(t) }, runtimetest.Config{
//			Image:      "podkit.local/testprog:1",
//			Exit:       func(code int) []string { return []string{"/testprog", "exit", strconv.Itoa(code)} },
//			Print:      func(lines ...string) []string { return append([]string{"/testprog", "print"}, lines...) },
//			IgnoreTerm: []string{"/testprog", "ignore-sigterm"},
//			Cat:        []string{"/testprog", "cat"},
//			Eprint:     func(lines ...string) []string { return append([]string{"/testprog", "eprint"}, lines...) },
//			FailWith: func(path, message string, code int) []string {
//				return []string{"/testprog", "fail-with", path, message, strconv.Itoa(code)}
//			},
//			ReadFile:  func(path string) []string { return []string{"/testprog", "cat", path} },
//			Processes: []string{"/testprog", "ps"},
//			Fill:      func(path string, bytes int) []string { return []string{"/testprog", "fill", path, strconv.Itoa(bytes)} },
//		})
//	}
//
// The suite checks behaviour a node agent relies on, through the interface
// only: sandboxes with an IP, containers and their states, exit codes and
// termination messages, graceful and forced stops, labels and filters for
// adoption, image presence and pull errors, ErrNotFound for unknown ids,
// what a sandbox gives its containers (host aliases in /etc/hosts,
// sysctls, a shared PID namespace, the host's PID and IPC namespaces),
// a container joining another's PID namespace (TargetContainerID),
// mount propagation, recursively read-only mounts, a container's groups, no_new_privs, seccomp,
// AppArmor and SELinux settings (runtime.Security), and, when the backend
// has them, logs, exec, stats, disk usage, events, in-place resource
// updates and the user an image's configuration names. Every sandbox it
// creates is labelled with a node name of its own and removed at the end
// of its subtest, so the suite can run against a daemon that holds other
// work.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podkit/podkit/runtime"
)

// Config tells the suite how to run containers on the backend. Image, Exit,
// Print and IgnoreTerm are required.
type Config struct {
	// Image is present on the runtime (the caller loads it); its default
	// command runs until it is stopped and exits on SIGTERM. Its
	// configuration names no user: it runs as root.
	Image string
	// Exit returns the command line of a container of Image that exits with
	// code as soon as it starts. As an exec'ed command it must do the same.
	Exit func(code int) []string
	// Print returns the command line of a container of Image that writes
	// each line to stdout and exits 0. As an exec'ed command it must do the
	// same.
	Print func(lines ...string) []string
	// IgnoreTerm is the command line of a container of Image that ignores
	// SIGTERM and runs until it is killed. It prints a line once it ignores
	// SIGTERM: where the runtime keeps logs, the suite waits for that line
	// before stopping it, since a signal that comes sooner is not ignored.
	IgnoreTerm []string
	// Cat, when set, is the command line of an exec'ed command that copies
	// its stdin to stdout and exits 0. Without it the suite only checks
	// that a command given stdin runs.
	Cat []string
	// Eprint, when set, returns the command line of a container of Image,
	// or an exec'ed command, that writes each line to stderr and exits 0.
	// Without it the suite checks stdout and stderr apart only one way.
	Eprint func(lines ...string) []string
	// FailWith, when set, returns the command line of a container of
	// Image that writes message to the file path and exits with code
	// (writing why to stderr when it cannot).
	// Without it the suite skips its checks of termination messages.
	FailWith func(path, message string, code int) []string
	// ReadFile, when set, returns the command line of a container of
	// Image that writes the content of the file path to stdout and exits
	// 0 (non-zero when it cannot read it). Without it the suite skips its
	// checks of host aliases and sysctls.
	ReadFile func(path string) []string
	// Processes, when set, is the command line of a container of Image
	// that writes the command line of each process it sees, its
	// arguments joined by spaces, one a line, and exits 0. Without it the
	// suite skips its checks of shared PID namespaces.
	Processes []string
	// Fill, when set, returns the command line of a container of Image
	// that writes bytes bytes of data (not zeros, no holes) to the file
	// path and syncs it, then prints a line beginning "filled" and runs
	// until SIGTERM, on which it exits 0. Without it the suite skips its
	// check of disk usage (runtime.DiskUsageProvider).
	Fill func(path string, bytes int) []string
	// SameHost says the runtime runs its containers on the host of the
	// test process, which may make mounts there (as root): the suite then
	// checks mount propagation with mounts of its own, and removes what
	// its containers leave in the host's /dev/shm. Without it the suite
	// skips those checks.
	SameHost bool
	// GroupsImage, when set, is an image present on the runtime whose
	// /etc/passwd has a user app (1000:1000) and whose /etc/group puts app
	// in group 5555, and GroupsReadFile its command line that writes a
	// file to stdout, as ReadFile. Without them the suite skips its check
	// of the groups an image gives (supplementalGroupsPolicy).
	GroupsImage    string
	GroupsReadFile func(path string) []string
	// UserImage, when set, is an image present on the runtime whose
	// configuration names the user UserImageUser (a Dockerfile's USER,
	// such as "1000:5555"). Without it the suite skips its check of the
	// user an image names (runtime.ImageConfigReader).
	UserImage     string
	UserImageUser string
	// VolumeImage, when set, is an image present on the runtime, best of
	// two layers or more, whose files include VolumeImageFiles (by
	// absolute path, with their content): ReadFile reads them through
	// image mounts of it (runtime.Mount.Image). Without them the suite
	// checks only the refusal of an absent image.
	VolumeImage      string
	VolumeImageFiles map[string]string
	// AbsentImage is a reference no registry serves (default
	// "podkit.invalid/absent:0").
	AbsentImage string
	// Timeout bounds each wait for a state (default 30s).
	Timeout time.Duration
}

// Run runs the suite. newRuntime is called once per subtest; the suite
// closes what it returns.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, cfg Config) {
	if cfg.Image == "" || cfg.Exit == nil || cfg.Print == nil || len(cfg.IgnoreTerm) == 0 {
		t.Fatal("runtimetest.Config: Image, Exit, Print and IgnoreTerm are required")
	}
	if cfg.AbsentImage == "" {
		cfg.AbsentImage = "podkit.invalid/absent:0"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	for _, tc := range []struct {
		name string
		fn   func(*harness)
	}{
		{"Version", testVersion},
		{"SandboxLifecycle", testSandboxLifecycle},
		{"SandboxFilters", testSandboxFilters},
		{"ContainerLifecycle", testContainerLifecycle},
		{"ExitCodes", testExitCodes},
		{"TerminationMessage", testTerminationMessage},
		{"TerminationMessageUnset", testTerminationMessageUnset},
		{"StopKillsAfterGrace", testStopKillsAfterGrace},
		{"StopWithoutGraceKills", testStopWithoutGrace},
		{"StopSandboxStopsContainers", testStopSandboxStopsContainers},
		{"RemoveSandboxRemovesContainers", testRemoveSandboxRemovesContainers},
		{"ContainersShareSandbox", testContainersShareSandbox},
		{"RestartAttempts", testRestartAttempts},
		{"NotFound", testNotFound},
		{"Images", testImages},
		{"Concurrent", testConcurrent},
		{"Logs", testLogs},
		{"LogsSince", testLogsSince},
		{"LogsFollowRunning", testLogsFollowRunning},
		{"Exec", testExec},
		{"ExecStdin", testExecStdin},
		{"ExecStderr", testExecStderr},
		{"Stats", testStats},
		{"DiskUsage", testDiskUsage},
		{"Events", testEvents},
		{"HostAliases", testHostAliases},
		{"HostAliasesHostNetwork", testHostAliasesHostNetwork},
		{"Sysctls", testSysctls},
		{"SharedPIDNamespace", testSharedPIDNamespace},
		{"TargetPIDNamespace", testTargetPIDNamespace},
		{"Hostname", testHostname},
		{"HostPID", testHostPID},
		{"HostIPC", testHostIPC},
		{"MountPropagation", testMountPropagation},
		{"RecursiveReadOnly", testRecursiveReadOnly},
		{"ImageVolume", testImageVolume},
		{"PodResources", testPodResources},
		{"RuntimeHandler", testRuntimeHandler},
		{"UpdateResources", testUpdateResources},
		{"GroupsFromImage", testGroupsFromImage},
		{"ImageUser", testImageUser},
		{"Groups", testGroups},
		{"NoNewPrivileges", testNoNewPrivileges},
		{"Seccomp", testSeccomp},
		{"AppArmor", testAppArmor},
		{"SELinux", testSELinux},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newRuntime(t)
			t.Cleanup(func() { rt.Close() })
			h := &harness{t: t, rt: rt, cfg: cfg, node: "rtt-" + randHex(4)}
			h.ctx, h.cancel = context.WithTimeout(context.Background(), 5*cfg.Timeout)
			t.Cleanup(h.cancel)
			t.Cleanup(h.cleanup)
			tc.fn(h)
		})
	}
}

type harness struct {
	t      *testing.T
	rt     runtime.Runtime
	cfg    Config
	node   string
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	sbs    []string
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cleanup removes every sandbox the subtest made.
func (h *harness) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.Timeout)
	defer cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range h.sbs {
		if err := h.rt.RemoveSandbox(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			h.t.Logf("cleanup: remove sandbox %s: %v", id, err)
		}
	}
}

func (h *harness) sandboxConfig(name string) *runtime.SandboxConfig {
	uid := randHex(8)
	return &runtime.SandboxConfig{
		PodUID: uid, PodName: name, PodNamespace: "runtimetest", Hostname: name,
		Labels: map[string]string{
			runtime.LabelPodUID: uid, runtime.LabelPodName: name,
			runtime.LabelPodNamespace: "runtimetest", runtime.LabelNode: h.node,
		},
	}
}

// sandbox runs a sandbox and returns its id and config.
func (h *harness) sandbox(name string) (string, *runtime.SandboxConfig) {
	h.t.Helper()
	cfg := h.sandboxConfig(name)
	id, err := h.rt.RunSandbox(h.ctx, cfg)
	if err != nil {
		h.t.Fatalf("RunSandbox(%s): %v", name, err)
	}
	if id == "" {
		h.t.Fatalf("RunSandbox(%s) returned an empty id", name)
	}
	h.mu.Lock()
	h.sbs = append(h.sbs, id)
	h.mu.Unlock()
	return id, cfg
}

func (h *harness) containerConfig(sb *runtime.SandboxConfig, name string, attempt uint32, cmd []string) *runtime.ContainerConfig {
	labels := map[string]string{runtime.LabelContainerName: name}
	for k, v := range sb.Labels {
		labels[k] = v
	}
	return &runtime.ContainerConfig{Name: name, Attempt: attempt, Image: h.cfg.Image, Command: cmd, Labels: labels,
		Env: []runtime.EnvVar{{Name: "RUNTIMETEST", Value: "1"}}}
}

// create creates a container with cmd (nil: the image's default).
func (h *harness) create(sbID string, sb *runtime.SandboxConfig, name string, attempt uint32, cmd []string) string {
	h.t.Helper()
	id, err := h.rt.CreateContainer(h.ctx, sbID, h.containerConfig(sb, name, attempt, cmd))
	if err != nil {
		h.t.Fatalf("CreateContainer(%s): %v", name, err)
	}
	return id
}

func (h *harness) start(id string) {
	h.t.Helper()
	if err := h.rt.StartContainer(h.ctx, id); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}
}

// run creates and starts a container.
func (h *harness) run(sbID string, sb *runtime.SandboxConfig, name string, cmd []string) string {
	h.t.Helper()
	id := h.create(sbID, sb, name, 0, cmd)
	h.start(id)
	return id
}

// container returns the status of container id, or false when it is not
// listed.
func (h *harness) container(id string) (runtime.ContainerStatus, bool) {
	h.t.Helper()
	cs, err := h.rt.ListContainers(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: h.node}})
	if err != nil {
		h.t.Fatalf("ListContainers: %v", err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c, true
		}
	}
	return runtime.ContainerStatus{}, false
}

// poll calls try every 10ms until it reports true; when the timeout
// passes, or the subtest's time runs out, first, it fails the test with
// failure's message, given when that was.
func (h *harness) poll(try func() bool, failure func(when string) string) {
	h.t.Helper()
	deadline := time.NewTimer(h.cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !try() {
		select {
		case <-deadline.C:
			h.t.Fatal(failure(fmt.Sprintf("after %v", h.cfg.Timeout)))
		case <-h.ctx.Done():
			h.t.Fatal(failure("when the subtest's time ran out"))
		case <-tick.C:
		}
	}
}

// waitContainer lists the container until cond holds for its status, or
// fails when the timeout passes. A daemon's state has nothing to wait on,
// so it is listed again at each tick.
func (h *harness) waitContainer(id, what string, cond func(runtime.ContainerStatus) bool) runtime.ContainerStatus {
	h.t.Helper()
	var st runtime.ContainerStatus
	var ok bool
	h.poll(func() bool { st, ok = h.container(id); return ok && cond(st) }, func(when string) string {
		return fmt.Sprintf("container %s: not %s %s; last seen (listed %v): %+v", id, what, when, ok, st)
	})
	return st
}

// waitIgnoring waits until a container of IgnoreTerm has printed that it
// ignores SIGTERM, when the runtime keeps logs (else it only waited for
// the container to run).
func (h *harness) waitIgnoring(id string) {
	h.t.Helper()
	lr, ok := h.rt.(runtime.LogReader)
	if !ok {
		return
	}
	h.poll(func() bool { return h.logs(lr, id, runtime.LogOptions{}) != "" }, func(when string) string {
		return fmt.Sprintf("container %s of IgnoreTerm printed nothing %s", id, when)
	})
}

func running(st runtime.ContainerStatus) bool { return st.State == runtime.ContainerRunning }
func exited(st runtime.ContainerStatus) bool  { return st.State == runtime.ContainerExited }

func (h *harness) sandboxStatus(id string) (runtime.SandboxStatus, bool) {
	h.t.Helper()
	sbs, err := h.rt.ListSandboxes(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: h.node}})
	if err != nil {
		h.t.Fatalf("ListSandboxes: %v", err)
	}
	for _, s := range sbs {
		if s.ID == id {
			return s, true
		}
	}
	return runtime.SandboxStatus{}, false
}

func testVersion(h *harness) {
	v, err := h.rt.Version(h.ctx)
	if err != nil {
		h.t.Fatalf("Version: %v", err)
	}
	if v.Name == "" || v.Version == "" {
		h.t.Errorf("Version = %+v, want a name and a version", v)
	}
}

func testSandboxLifecycle(h *harness) {
	id, cfg := h.sandbox("lifecycle")
	st, ok := h.sandboxStatus(id)
	if !ok {
		h.t.Fatalf("sandbox %s not listed after RunSandbox", id)
	}
	if st.State != runtime.SandboxReady {
		h.t.Errorf("state = %s, want Ready", st.State)
	}
	if st.IP == "" {
		h.t.Errorf("a Ready sandbox has no IP")
	}
	if st.CreatedAt.IsZero() {
		h.t.Errorf("CreatedAt is zero")
	}
	for k, v := range cfg.Labels {
		if st.Labels[k] != v {
			h.t.Errorf("label %s = %q, want %q", k, st.Labels[k], v)
		}
	}
	if err := h.rt.StopSandbox(h.ctx, id); err != nil {
		h.t.Fatalf("StopSandbox: %v", err)
	}
	if st, _ := h.sandboxStatus(id); st.State != runtime.SandboxNotReady {
		h.t.Errorf("after StopSandbox: state = %s, want NotReady", st.State)
	}
	if err := h.rt.StopSandbox(h.ctx, id); err != nil {
		h.t.Errorf("StopSandbox of a stopped sandbox: %v, want nil", err)
	}
	if err := h.rt.RemoveSandbox(h.ctx, id); err != nil {
		h.t.Fatalf("RemoveSandbox: %v", err)
	}
	if _, ok := h.sandboxStatus(id); ok {
		h.t.Errorf("sandbox still listed after RemoveSandbox")
	}
}

func testSandboxFilters(h *harness) {
	a, acfg := h.sandbox("filter-a")
	b, _ := h.sandbox("filter-b")
	sbs, err := h.rt.ListSandboxes(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: acfg.PodUID}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(sbs) != 1 || sbs[0].ID != a {
		h.t.Errorf("ListSandboxes by pod uid = %v, want only %s", ids(sbs), a)
	}
	all, err := h.rt.ListSandboxes(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: h.node}})
	if err != nil {
		h.t.Fatal(err)
	}
	if got := ids(all); len(got) != 2 || !contains(got, a) || !contains(got, b) {
		h.t.Errorf("ListSandboxes by node = %v, want %s and %s", got, a, b)
	}
	none, err := h.rt.ListSandboxes(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: h.node, runtime.LabelPodUID: "no-such-pod"}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(none) != 0 {
		h.t.Errorf("ListSandboxes with a label no sandbox has = %v, want none", ids(none))
	}
}

func ids(sbs []runtime.SandboxStatus) []string {
	out := make([]string, len(sbs))
	for i, s := range sbs {
		out[i] = s.ID
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func testContainerLifecycle(h *harness) {
	sbID, sb := h.sandbox("ctr")
	id := h.create(sbID, sb, "app", 0, nil)
	st, ok := h.container(id)
	if !ok {
		h.t.Fatalf("created container not listed")
	}
	if st.State != runtime.ContainerCreated {
		h.t.Errorf("state after create = %s, want Created", st.State)
	}
	if st.Name != "app" || st.SandboxID != sbID || st.Image == "" || st.CreatedAt.IsZero() {
		h.t.Errorf("status after create = %+v: want name app, sandbox %s, an image and a creation time", st, sbID)
	}
	if st.Labels[runtime.LabelPodUID] != sb.PodUID || st.Labels[runtime.LabelContainerName] != "app" {
		h.t.Errorf("labels = %v, want the config's", st.Labels)
	}
	h.start(id)
	st = h.waitContainer(id, "running", running)
	if st.StartedAt.IsZero() || st.StartedAt.Before(st.CreatedAt.Add(-time.Second)) {
		h.t.Errorf("StartedAt = %v, CreatedAt = %v", st.StartedAt, st.CreatedAt)
	}
	if err := h.rt.StopContainer(h.ctx, id, runtime.StopOptions{Grace: 10 * time.Second}); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	st, _ = h.container(id)
	if st.State != runtime.ContainerExited {
		h.t.Fatalf("state after StopContainer returned = %s, want Exited", st.State)
	}
	if st.FinishedAt.Before(st.StartedAt) {
		h.t.Errorf("FinishedAt %v before StartedAt %v", st.FinishedAt, st.StartedAt)
	}
	if err := h.rt.StopContainer(h.ctx, id, runtime.StopOptions{Grace: time.Second}); err != nil {
		h.t.Errorf("StopContainer of an exited container: %v, want nil", err)
	}
	if err := h.rt.RemoveContainer(h.ctx, id); err != nil {
		h.t.Fatalf("RemoveContainer: %v", err)
	}
	if _, ok := h.container(id); ok {
		h.t.Errorf("container still listed after RemoveContainer")
	}
	if err := h.rt.RemoveContainer(h.ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		h.t.Errorf("RemoveContainer of a removed container: %v, want ErrNotFound", err)
	}
}

func testExitCodes(h *harness) {
	sbID, sb := h.sandbox("exit")
	ok := h.run(sbID, sb, "ok", h.cfg.Exit(0))
	bad := h.run(sbID, sb, "bad", h.cfg.Exit(3))
	st := h.waitContainer(ok, "exited", exited)
	if st.ExitCode != 0 || st.Reason != "Completed" {
		h.t.Errorf("exit 0: code %d reason %q, want 0 Completed", st.ExitCode, st.Reason)
	}
	st = h.waitContainer(bad, "exited", exited)
	if st.ExitCode != 3 || st.Reason != "Error" {
		h.t.Errorf("exit 3: code %d reason %q, want 3 Error", st.ExitCode, st.Reason)
	}
}

// runWithTerminationPath creates and starts a container whose
// TerminationMessagePath is path.
func (h *harness) runWithTerminationPath(sbID string, sb *runtime.SandboxConfig, name, path string, cmd []string) string {
	h.t.Helper()
	cfg := h.containerConfig(sb, name, 0, cmd)
	cfg.TerminationMessagePath = path
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err != nil {
		h.t.Fatalf("CreateContainer(%s) with termination message path %s: %v", name, path, err)
	}
	h.start(id)
	return id
}

// testTerminationMessage: what a container writes to its termination
// message path is its Message once it has exited, the last
// MaxTerminationMessage bytes of it; a container that writes nothing
// there has none.
func testTerminationMessage(h *harness) {
	if h.cfg.FailWith == nil {
		h.t.Skip("runtimetest.Config.FailWith is not set")
	}
	sbID, sb := h.sandbox("termination")
	const path = "/dev/termination-log" // Kubernetes' default
	long := strings.Repeat("0123456789", runtime.MaxTerminationMessage/10) + " and the end"
	failed := h.runWithTerminationPath(sbID, sb, "failed", path, h.cfg.FailWith(path, "disk full", 3))
	// A path on the container's root filesystem rather than in /dev.
	longer := h.runWithTerminationPath(sbID, sb, "long", "/termination-log", h.cfg.FailWith("/termination-log", long, 1))
	silent := h.runWithTerminationPath(sbID, sb, "silent", path, h.cfg.Exit(2))
	for _, c := range []struct {
		id, name string
		code     int32
		message  string
	}{
		{failed, "failed", 3, "disk full"},
		{longer, "long", 1, long[len(long)-runtime.MaxTerminationMessage:]},
		{silent, "silent", 2, ""},
	} {
		st := h.waitContainer(c.id, "exited", exited)
		if st.ExitCode != c.code || st.Reason != "Error" {
			h.t.Errorf("container %s: exit code %d reason %q, want %d Error", c.name, st.ExitCode, st.Reason, c.code)
		}
		if st.Message != c.message {
			h.t.Errorf("container %s: Message = %q (%d bytes), want %q (%d bytes)", c.name, tail(st.Message), len(st.Message), tail(c.message), len(c.message))
		}
		// Listed again, it says the same.
		if again, _ := h.container(c.id); again.Message != st.Message {
			h.t.Errorf("container %s: Message listed again = %q, was %q", c.name, tail(again.Message), tail(st.Message))
		}
	}
}

// testTerminationMessageUnset: a container without a termination message
// path that writes to Kubernetes' default one reports no message.
func testTerminationMessageUnset(h *harness) {
	if h.cfg.FailWith == nil {
		h.t.Skip("runtimetest.Config.FailWith is not set")
	}
	sbID, sb := h.sandbox("no-termination")
	id := h.run(sbID, sb, "app", h.cfg.FailWith("/dev/termination-log", "nobody reads this", 4))
	st := h.waitContainer(id, "exited", exited)
	if st.ExitCode != 4 || st.Reason != "Error" || st.Message != "" {
		h.t.Errorf("exit without a termination message path: code %d reason %q message %q, want 4 Error and no message", st.ExitCode, st.Reason, st.Message)
	}
}

func testStopKillsAfterGrace(h *harness) {
	sbID, sb := h.sandbox("grace")
	id := h.run(sbID, sb, "stubborn", h.cfg.IgnoreTerm)
	h.waitContainer(id, "running", running)
	h.waitIgnoring(id)
	start := time.Now()
	if err := h.rt.StopContainer(h.ctx, id, runtime.StopOptions{Grace: time.Second}); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	st, _ := h.container(id)
	if st.State != runtime.ContainerExited || st.ExitCode != 137 {
		h.t.Errorf("after StopContainer of a container ignoring SIGTERM: state %s code %d, want Exited 137", st.State, st.ExitCode)
	}
	if d := time.Since(start); d > h.cfg.Timeout {
		h.t.Errorf("StopContainer with 1s grace took %v", d)
	}
}

func testStopWithoutGrace(h *harness) {
	sbID, sb := h.sandbox("kill")
	id := h.run(sbID, sb, "stubborn", h.cfg.IgnoreTerm)
	h.waitContainer(id, "running", running)
	h.waitIgnoring(id)
	if err := h.rt.StopContainer(h.ctx, id, runtime.StopOptions{Signal: syscall.SIGKILL}); err != nil {
		h.t.Fatalf("StopContainer(SIGKILL): %v", err)
	}
	st, _ := h.container(id)
	if st.State != runtime.ContainerExited || st.ExitCode != 137 {
		h.t.Errorf("after SIGKILL: state %s code %d, want Exited 137", st.State, st.ExitCode)
	}
}

func testStopSandboxStopsContainers(h *harness) {
	sbID, sb := h.sandbox("stopsb")
	a := h.run(sbID, sb, "a", nil)
	b := h.run(sbID, sb, "b", nil)
	h.waitContainer(a, "running", running)
	h.waitContainer(b, "running", running)
	if err := h.rt.StopSandbox(h.ctx, sbID); err != nil {
		h.t.Fatalf("StopSandbox: %v", err)
	}
	for _, id := range []string{a, b} {
		h.waitContainer(id, "exited after StopSandbox", exited)
	}
}

func testRemoveSandboxRemovesContainers(h *harness) {
	sbID, sb := h.sandbox("rmsb")
	a := h.run(sbID, sb, "a", nil)
	h.waitContainer(a, "running", running)
	if err := h.rt.RemoveSandbox(h.ctx, sbID); err != nil {
		h.t.Fatalf("RemoveSandbox with a running container: %v", err)
	}
	if _, ok := h.container(a); ok {
		h.t.Errorf("container still listed after RemoveSandbox")
	}
	if _, ok := h.sandboxStatus(sbID); ok {
		h.t.Errorf("sandbox still listed after RemoveSandbox")
	}
}

func testContainersShareSandbox(h *harness) {
	sbID, sb := h.sandbox("share")
	other, osb := h.sandbox("other")
	a := h.run(sbID, sb, "a", nil)
	b := h.run(sbID, sb, "b", nil)
	c := h.run(other, osb, "c", nil)
	for _, id := range []string{a, b, c} {
		h.waitContainer(id, "running", running)
	}
	cs, err := h.rt.ListContainers(h.ctx, runtime.Filter{SandboxID: sbID})
	if err != nil {
		h.t.Fatal(err)
	}
	var got []string
	for _, x := range cs {
		got = append(got, x.ID)
	}
	if len(got) != 2 || !contains(got, a) || !contains(got, b) {
		h.t.Errorf("ListContainers by sandbox = %v, want %s and %s", got, a, b)
	}
	cs, err = h.rt.ListContainers(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: osb.PodUID}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].ID != c {
		h.t.Errorf("ListContainers by pod uid = %v, want only %s", cs, c)
	}
}

func testRestartAttempts(h *harness) {
	sbID, sb := h.sandbox("attempts")
	first := h.create(sbID, sb, "app", 0, h.cfg.Exit(1))
	h.start(first)
	h.waitContainer(first, "exited", exited)
	second := h.create(sbID, sb, "app", 1, nil)
	h.start(second)
	h.waitContainer(second, "running", running)
	cs, err := h.rt.ListContainers(h.ctx, runtime.Filter{SandboxID: sbID, Labels: map[string]string{runtime.LabelContainerName: "app"}})
	if err != nil {
		h.t.Fatal(err)
	}
	attempts := map[string]uint32{}
	for _, c := range cs {
		attempts[c.ID] = c.Attempt
	}
	if len(cs) != 2 || attempts[first] != 0 || attempts[second] != 1 {
		h.t.Errorf("attempts = %v, want %s:0 and %s:1", attempts, first, second)
	}
}

func testNotFound(h *harness) {
	const missing = "0000000000000000000000000000000000000000000000000000000000000000"
	for name, err := range map[string]error{
		"StopSandbox":     h.rt.StopSandbox(h.ctx, missing),
		"RemoveSandbox":   h.rt.RemoveSandbox(h.ctx, missing),
		"StartContainer":  h.rt.StartContainer(h.ctx, missing),
		"StopContainer":   h.rt.StopContainer(h.ctx, missing, runtime.StopOptions{Grace: time.Second}),
		"RemoveContainer": h.rt.RemoveContainer(h.ctx, missing),
	} {
		if !errors.Is(err, runtime.ErrNotFound) {
			h.t.Errorf("%s(unknown id) = %v, want ErrNotFound", name, err)
		}
	}
	cfg := h.containerConfig(h.sandboxConfig("x"), "x", 0, nil)
	if _, err := h.rt.CreateContainer(h.ctx, missing, cfg); !errors.Is(err, runtime.ErrNotFound) {
		h.t.Errorf("CreateContainer(unknown sandbox) = %v, want ErrNotFound", err)
	}
}

func testImages(h *harness) {
	ok, err := h.rt.ImagePresent(h.ctx, h.cfg.Image)
	if err != nil || !ok {
		h.t.Errorf("ImagePresent(%s) = %v, %v; want true", h.cfg.Image, ok, err)
	}
	ok, err = h.rt.ImagePresent(h.ctx, h.cfg.AbsentImage)
	if err != nil || ok {
		h.t.Errorf("ImagePresent(%s) = %v, %v; want false", h.cfg.AbsentImage, ok, err)
	}
	if err := h.rt.PullImage(h.ctx, h.cfg.AbsentImage, runtime.PullOptions{}); !errors.Is(err, runtime.ErrImagePull) {
		h.t.Errorf("PullImage(%s) = %v, want ErrImagePull", h.cfg.AbsentImage, err)
	}
	sbID, sb := h.sandbox("img")
	cfg := h.containerConfig(sb, "absent", 0, nil)
	cfg.Image = h.cfg.AbsentImage
	if _, err := h.rt.CreateContainer(h.ctx, sbID, cfg); !errors.Is(err, runtime.ErrNotFound) {
		h.t.Errorf("CreateContainer with an absent image = %v, want ErrNotFound", err)
	}
}

func testConcurrent(h *harness) {
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ctrs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := h.sandboxConfig(fmt.Sprintf("conc-%d", i))
			id, err := h.rt.RunSandbox(h.ctx, cfg)
			if err != nil {
				errs <- err
				return
			}
			h.mu.Lock()
			h.sbs = append(h.sbs, id)
			h.mu.Unlock()
			cid, err := h.rt.CreateContainer(h.ctx, id, h.containerConfig(cfg, "app", 0, nil))
			if err == nil {
				err = h.rt.StartContainer(h.ctx, cid)
			}
			if err != nil {
				errs <- err
				return
			}
			ctrs <- cid
		}()
	}
	wg.Wait()
	close(errs)
	close(ctrs)
	for err := range errs {
		h.t.Errorf("concurrent pod start: %v", err)
	}
	for id := range ctrs {
		h.waitContainer(id, "running", running)
	}
	sbs, err := h.rt.ListSandboxes(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: h.node}})
	if err != nil {
		h.t.Fatal(err)
	}
	ips := map[string]bool{}
	for _, s := range sbs {
		if ips[s.IP] {
			h.t.Errorf("two sandboxes have IP %s", s.IP)
		}
		ips[s.IP] = true
	}
	if len(sbs) != n {
		h.t.Errorf("%d sandboxes listed, want %d", len(sbs), n)
	}
}

// logs reads the whole of a container's logs.
func (h *harness) logs(lr runtime.LogReader, id string, opts runtime.LogOptions) string {
	h.t.Helper()
	rc, err := lr.ContainerLogs(h.ctx, id, opts)
	if err != nil {
		h.t.Fatalf("ContainerLogs(%+v): %v", opts, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		h.t.Fatalf("reading logs: %v", err)
	}
	return string(b)
}

func testLogs(h *harness) {
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	sbID, sb := h.sandbox("logs")
	id := h.run(sbID, sb, "printer", h.cfg.Print("one", "two", "three"))
	h.waitContainer(id, "exited", exited)
	read := func(opts runtime.LogOptions) string {
		h.t.Helper()
		return h.logs(lr, id, opts)
	}
	if got := read(runtime.LogOptions{}); got != "one\ntwo\nthree\n" {
		h.t.Errorf("logs = %q, want %q", got, "one\ntwo\nthree\n")
	}
	if got := read(runtime.LogOptions{Tail: 1}); got != "three\n" {
		h.t.Errorf("logs with Tail 1 = %q, want %q", got, "three\n")
	}
	// Following an exited container returns what it wrote and ends.
	if got := read(runtime.LogOptions{Follow: true}); got != "one\ntwo\nthree\n" {
		h.t.Errorf("followed logs of an exited container = %q", got)
	}
	for _, line := range strings.Split(strings.TrimSuffix(read(runtime.LogOptions{Timestamps: true}), "\n"), "\n") {
		ts, text, _ := strings.Cut(line, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || text == "" {
			h.t.Errorf("timestamped line %q: want an RFC 3339 time, a space and the text (%v)", line, err)
		}
	}
	if h.cfg.Eprint == nil {
		return
	}
	// Logs hold stderr as well as stdout.
	eid := h.run(sbID, sb, "eprinter", h.cfg.Eprint("oops"))
	h.waitContainer(eid, "exited", exited)
	if got := h.logs(lr, eid, runtime.LogOptions{}); got != "oops\n" {
		h.t.Errorf("logs of a container writing to stderr = %q, want %q", got, "oops\n")
	}
}

// timedLine is a line of logs read with Timestamps.
type timedLine struct {
	t    time.Time
	text string
}

func testLogsSince(h *harness) {
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	sbID, sb := h.sandbox("since")
	id := h.run(sbID, sb, "printer", h.cfg.Print("one", "two", "three"))
	h.waitContainer(id, "exited", exited)
	var lines []timedLine
	for _, l := range strings.Split(strings.TrimSuffix(h.logs(lr, id, runtime.LogOptions{Timestamps: true}), "\n"), "\n") {
		ts, text, _ := strings.Cut(l, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			h.t.Fatalf("timestamped line %q: %v", l, err)
		}
		lines = append(lines, timedLine{t, text})
	}
	if len(lines) != 3 {
		h.t.Fatalf("timestamped logs = %v, want three lines", lines)
	}
	if got := h.logs(lr, id, runtime.LogOptions{Since: lines[0].t.Add(-time.Hour)}); got != "one\ntwo\nthree\n" {
		h.t.Errorf("logs since an hour before the first line = %q, want all three lines", got)
	}
	if got := h.logs(lr, id, runtime.LogOptions{Since: lines[2].t.Add(time.Nanosecond)}); got != "" {
		h.t.Errorf("logs since just after the last line = %q, want none", got)
	}
	// Since keeps the lines written at or after it, by the timestamps the
	// runtime reports (lines written together may share one).
	since := lines[1].t
	var want strings.Builder
	for _, l := range lines {
		if !l.t.Before(since) {
			want.WriteString(l.text + "\n")
		}
	}
	if got := h.logs(lr, id, runtime.LogOptions{Since: since}); got != want.String() {
		h.t.Errorf("logs since the second line's time %s = %q, want %q (timestamped lines %v)", since.Format(time.RFC3339Nano), got, want.String(), lines)
	}
	if got := h.logs(lr, id, runtime.LogOptions{Since: since, Tail: 1}); got != "three\n" {
		h.t.Errorf("logs since the second line's time with Tail 1 = %q, want %q", got, "three\n")
	}
}

// testLogsFollowRunning follows a running container: the reader stays open
// while it runs, and ends, having returned all it wrote, once it exits.
func testLogsFollowRunning(h *harness) {
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	sbID, sb := h.sandbox("follow")
	id := h.run(sbID, sb, "app", nil)
	h.waitContainer(id, "running", running)
	rc, err := lr.ContainerLogs(h.ctx, id, runtime.LogOptions{Follow: true})
	if err != nil {
		h.t.Fatalf("ContainerLogs(Follow): %v", err)
	}
	defer rc.Close()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(rc)
		done <- result{string(b), err}
	}()
	// The reader must stay open while the container runs. Nothing marks
	// the moment a wrong follow would end, so this watches for a while: it
	// can miss a slow mistake, never accuse a right one.
	window := time.NewTimer(followWindow)
	select {
	case r := <-done:
		window.Stop()
		h.t.Fatalf("following a running container's logs ended while it ran (after %q, error %v)", r.out, r.err)
	case <-window.C:
	}
	h.waitContainer(id, "still running", running)
	if err := h.rt.StopContainer(h.ctx, id, runtime.StopOptions{Grace: 10 * time.Second}); err != nil {
		h.t.Fatalf("StopContainer: %v", err)
	}
	timeout := time.NewTimer(h.cfg.Timeout)
	defer timeout.Stop()
	select {
	case r := <-done:
		if r.err != nil {
			h.t.Errorf("following logs: %v", r.err)
		}
		if all := h.logs(lr, id, runtime.LogOptions{}); r.out != all {
			h.t.Errorf("followed logs = %q, want what the container wrote: %q", r.out, all)
		}
	case <-timeout.C:
		h.t.Fatalf("following logs did not end within %v of the container's exit", h.cfg.Timeout)
	}
}

// followWindow is how long testLogsFollowRunning watches a follow of a
// running container for an early end.
const followWindow = 200 * time.Millisecond

func testExec(h *harness) {
	ex := capability[runtime.Execer](h, "runtime.Execer")
	sbID, sb := h.sandbox("exec")
	id := h.run(sbID, sb, "app", nil)
	h.waitContainer(id, "running", running)
	code, err := ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.Exit(3)})
	if err != nil || code != 3 {
		h.t.Errorf("Exec(exit 3) = %d, %v; want 3", code, err)
	}
	var out strings.Builder
	code, err = ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.Print("hello"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "hello\n" {
		h.t.Errorf("Exec(print hello) = %d, %v, stdout %q; want 0 and \"hello\\n\"", code, err, out.String())
	}
}

func testExecStdin(h *harness) {
	ex := capability[runtime.Execer](h, "runtime.Execer")
	sbID, sb := h.sandbox("stdin")
	id := h.run(sbID, sb, "app", nil)
	h.waitContainer(id, "running", running)
	// A command that does not read its stdin still runs and ends.
	code, err := ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.Exit(4), Stdin: strings.NewReader("unread\n")})
	if err != nil || code != 4 {
		h.t.Errorf("Exec(exit 4) with stdin = %d, %v; want 4", code, err)
	}
	if h.cfg.Cat == nil {
		return
	}
	in := strings.Repeat("0123456789abcdef", 4096) + "\nlast line\n" // more than a pipe's buffer
	var out, errb strings.Builder
	code, err = ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.Cat, Stdin: strings.NewReader(in), Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 {
		h.t.Errorf("Exec(cat) = %d, %v (stderr %q); want 0", code, err, errb.String())
	}
	if out.String() != in {
		h.t.Errorf("Exec(cat) wrote %d bytes ending %q, want its %d bytes of stdin back", out.Len(), tail(out.String()), len(in))
	}
}

func tail(s string) string {
	if len(s) > 32 {
		return "..." + s[len(s)-32:]
	}
	return s
}

func testExecStderr(h *harness) {
	ex := capability[runtime.Execer](h, "runtime.Execer")
	sbID, sb := h.sandbox("stderr")
	id := h.run(sbID, sb, "app", nil)
	h.waitContainer(id, "running", running)
	var out, errb strings.Builder
	code, err := ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.Print("to stdout"), Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 || out.String() != "to stdout\n" || errb.Len() != 0 {
		h.t.Errorf("Exec(print) = %d, %v, stdout %q, stderr %q; want 0, \"to stdout\\n\" and nothing on stderr", code, err, out.String(), errb.String())
	}
	if h.cfg.Eprint == nil {
		return
	}
	out.Reset()
	errb.Reset()
	code, err = ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.Eprint("to stderr"), Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 || errb.String() != "to stderr\n" || out.Len() != 0 {
		h.t.Errorf("Exec(eprint) = %d, %v, stdout %q, stderr %q; want 0, nothing on stdout and \"to stderr\\n\"", code, err, out.String(), errb.String())
	}
}

func testStats(h *harness) {
	sp := capability[runtime.StatsProvider](h, "runtime.StatsProvider")
	sbID, sb := h.sandbox("stats")
	id := h.run(sbID, sb, "app", nil)
	st := h.waitContainer(id, "running", running)
	first, err := sp.ContainerStats(h.ctx, id)
	if err != nil {
		h.t.Fatalf("ContainerStats: %v", err)
	}
	if first.Timestamp.IsZero() {
		h.t.Errorf("stats have no timestamp: %+v", first)
	}
	if first.Timestamp.Before(st.StartedAt.Add(-time.Second)) {
		h.t.Errorf("stats timestamp %v is before the container started (%v)", first.Timestamp, st.StartedAt)
	}
	// A running process holds some memory.
	if first.MemoryWorkingSetBytes == 0 {
		h.t.Errorf("a running container's memory working set is 0: %+v", first)
	}
	second, err := sp.ContainerStats(h.ctx, id)
	if err != nil {
		h.t.Fatalf("ContainerStats, again: %v", err)
	}
	// CPU time is cumulative.
	if second.Timestamp.Before(first.Timestamp) || second.CPUUsageNanos < first.CPUUsageNanos {
		h.t.Errorf("stats went back in time: %+v, then %+v", first, second)
	}
	const missing = "0000000000000000000000000000000000000000000000000000000000000000"
	if _, err := sp.ContainerStats(h.ctx, missing); !errors.Is(err, runtime.ErrNotFound) {
		h.t.Errorf("ContainerStats(unknown id) = %v, want ErrNotFound", err)
	}
}

func testEvents(h *harness) {
	ew := capability[runtime.EventWatcher](h, "runtime.EventWatcher")
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	ch, err := ew.WatchEvents(ctx)
	if err != nil {
		h.t.Fatalf("WatchEvents: %v", err)
	}
	sbID, sb := h.sandbox("events")
	id := h.run(sbID, sb, "app", h.cfg.Exit(0))
	timeout := time.After(h.cfg.Timeout)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				h.t.Fatalf("event channel closed before the container's exit was reported")
			}
			if ev.Type == runtime.EventContainerExited && ev.ID == id {
				if ev.PodUID != sb.PodUID {
					h.t.Errorf("exit event PodUID = %q, want %q", ev.PodUID, sb.PodUID)
				}
				cancel()
				for range ch { // the channel closes once ctx ends
				}
				return
			}
		case <-timeout:
			h.t.Fatalf("no ContainerExited event for %s within %v", id, h.cfg.Timeout)
		}
	}
}

// capability returns the runtime as the optional interface T, named name,
// and skips the test when the runtime does not implement it.
func capability[T any](h *harness, name string) T {
	c, ok := h.rt.(T)
	if !ok {
		h.t.Skip("runtime does not implement " + name)
	}
	return c
}
