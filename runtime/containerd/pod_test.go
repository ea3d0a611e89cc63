package containerd_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/runtime"
)

// httpGet fetches url with a short timeout. Tests only ever pass pod IPs
// that podkit created, or loopback.
func httpGet(url string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP polls url until it answers 200 and returns the body.
func waitHTTP(t *testing.T, url string) string {
	t.Helper()
	var body string
	agenttest.Poll(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		code, b, err := httpGet(url)
		body = b
		return err == nil && code == http.StatusOK, fmt.Sprintf("GET %s: status %d, body %q, err %v", url, code, b, err)
	})
	return body
}

func TestPodIPReachableFromHost(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "web", func(c *runtime.SandboxConfig) { c.Hostname = "web-host" })
	p.run("app", nil)
	ip := p.ip()
	if !testSubnet.Contains(mustAddr(t, ip)) {
		t.Fatalf("pod IP %s is outside the test subnet %s", ip, testSubnet)
	}
	body := waitHTTP(t, "http://"+ip+":8080/")
	if !strings.Contains(body, "web-host") {
		t.Errorf("GET / = %q, want the pod's hostname web-host in it", body)
	}
}

func TestPodToPod(t *testing.T) {
	rt := newRuntime(t)
	a := newPod(t, rt, "server")
	a.run("app", nil)
	b := newPod(t, rt, "client")
	b.run("app", nil)
	aIP, bIP := a.ip(), b.ip()
	if aIP == bIP {
		t.Fatalf("two pods share IP %s", aIP)
	}
	waitHTTP(t, "http://"+aIP+":8080/")
	// b fetches a's page from inside its own network namespace.
	body := waitHTTP(t, "http://"+bIP+":8080/fetch?url=http://"+aIP+":8080/")
	if !strings.Contains(body, "server") {
		t.Errorf("pod client fetching pod server: %q, want server's hostname in it", body)
	}
}

func TestSharedLocalhostAndPodFiles(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "shared", func(c *runtime.SandboxConfig) {
		c.Hostname = "shared-host"
		c.DNS = runtime.DNSConfig{Servers: []string{"10.213.254.53"}, Searches: []string{"ns.svc.cluster.local", "svc.cluster.local"}, Options: []string{"ndots:5"}}
	})
	p.run("server", nil)
	ip := p.ip()
	waitHTTP(t, "http://"+ip+":8080/")
	client := p.run("client", nil, "get", "http://127.0.0.1:8080/healthz")
	st := waitContainer(t, rt, client, "exited", exited)
	if st.ExitCode != 0 {
		t.Errorf("a container reaching its pod's server on 127.0.0.1: exit %d, want 0", st.ExitCode)
	}
	for file, want := range map[string][]string{
		"/etc/hosts":       {"127.0.0.1\tlocalhost", ip + "\tshared-host"},
		"/etc/hostname":    {"shared-host"},
		"/etc/resolv.conf": {"nameserver 10.213.254.53", "search ns.svc.cluster.local svc.cluster.local", "options ndots:5"},
	} {
		id := p.run("cat-"+filepath.Base(file), nil, "cat", file)
		waitContainer(t, rt, id, "exited", exited)
		got := readLogs(t, rt, id, runtime.LogOptions{})
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s = %q, want it to contain %q", file, got, w)
			}
		}
	}
}

func TestEnvArgsMountsAndLimits(t *testing.T) {
	rt := newRuntime(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "greeting"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPod(t, rt, "conf")
	// The server's /data/{name} is the read-only mount.
	id := p.run("app", func(c *runtime.ContainerConfig) {
		c.Env = []runtime.EnvVar{{Name: "GREETING", Value: "hi there"}}
		c.Mounts = []runtime.Mount{{HostPath: host, ContainerPath: "/host", ReadOnly: true}}
		c.Resources = runtime.Resources{CPUShares: 512, CPUQuotaMillis: 250, MemoryLimitBytes: 64 << 20}
	}, "-data", "/host")
	ip := p.ip()
	waitHTTP(t, "http://"+ip+":8080/")
	var out bytes.Buffer
	code, err := rt.Exec(testContext(t), id, runtime.ExecOptions{Command: demo.Command("cat", "/host/greeting"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "hello from the host\n" {
		t.Errorf("exec cat of the mounted file = %d, %v, %q", code, err, out.String())
	}
	_, env, _ := httpGet("http://" + ip + ":8080/env")
	if !strings.Contains(env, "GREETING=hi there") || !strings.Contains(env, "HOSTNAME=conf") {
		t.Errorf("environment = %q, want GREETING and HOSTNAME", env)
	}
	// The mount is read-only: the container (root) reads it but its write
	// fails, and nothing reaches the host.
	if got := waitHTTP(t, "http://"+ip+":8080/data/greeting"); got != "hello from the host\n" {
		t.Errorf("GET /data/greeting through the mount = %q", got)
	}
	code, body := agenttest.HTTPDo(t, http.MethodPut, "http://"+ip+":8080/data/written", "from the pod")
	if code != http.StatusInternalServerError || !strings.Contains(body, "read-only file system") {
		t.Errorf("writing into the read-only mount = %d %q, want 500 with EROFS", code, body)
	}
	if _, err := os.Stat(filepath.Join(host, "written")); !os.IsNotExist(err) {
		t.Errorf("a write into the read-only mount reached the host (%v)", err)
	}
	checkLimits(t, id)
}

// checkLimits checks the limits TestEnvArgsMountsAndLimits sets (shares
// 512, 250 millicores, 64 MiB), in the container's OCI spec and in the
// cgroup its task runs in, on cgroup v1 or v2.
func checkLimits(t *testing.T, id string) {
	t.Helper()
	ctx := nsContext(t)
	c, err := raw.LoadContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Linux == nil || spec.Linux.Resources == nil || spec.Linux.Resources.CPU == nil || spec.Linux.Resources.Memory == nil {
		t.Fatalf("the container's spec has no cpu and memory resources: %+v", spec.Linux)
	}
	cpu, mem := spec.Linux.Resources.CPU, spec.Linux.Resources.Memory
	if cpu.Shares == nil || *cpu.Shares != 512 || cpu.Quota == nil || *cpu.Quota != 25_000 || cpu.Period == nil || *cpu.Period != 100_000 ||
		mem.Limit == nil || *mem.Limit != 64<<20 {
		t.Errorf("spec resources: cpu shares %s quota %s/%s, memory limit %s; want shares 512, quota 25000/100000, limit %d",
			val(cpu.Shares), val(cpu.Quota), val(cpu.Period), val(mem.Limit), 64<<20)
	}

	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const root = "/sys/fs/cgroup"
	read := func(controller, file string) string {
		t.Helper()
		path := filepath.Join(root, cgroupOf(t, task.Pid(), controller), file)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("reading the container's %s: %v", file, err)
		}
		return strings.TrimSpace(string(b))
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil { // cgroup v2
		if got := read("", "cpu.max"); got != "25000 100000" {
			t.Errorf("cpu.max = %q, want 25000 100000", got)
		}
		if got := read("", "memory.max"); got != fmt.Sprint(64<<20) {
			t.Errorf("memory.max = %q, want %d", got, 64<<20)
		}
		// Shares map to a weight (how depends on runc's version); half the
		// default shares is below the default weight of 100.
		if w, err := strconv.Atoi(read("", "cpu.weight")); err != nil || w >= 100 {
			t.Errorf("cpu.weight = %d (%v), want below 100 for shares 512", w, err)
		}
		return
	}
	for _, c := range []struct{ controller, file, want string }{
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "25000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"memory", "memory.limit_in_bytes", fmt.Sprint(64 << 20)},
	} {
		if got := read(c.controller, c.file); got != c.want {
			t.Errorf("%s = %q, want %s", c.file, got, c.want)
		}
	}
}

// cgroupOf returns the cgroup of process pid, relative to the cgroup
// mount: of the v1 hierarchy with controller, or ("") of the v2 one. The
// hierarchy's directory is named by its controllers.
func cgroupOf(t *testing.T, pid uint32, controller string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		if controller != "" && slices.Contains(strings.Split(parts[1], ","), controller) {
			return filepath.Join(parts[1], parts[2])
		}
	}
	t.Fatalf("process %d is in no cgroup of %q:\n%s", pid, controller, b)
	return ""
}

func val[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestOOMKilled(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "oom")
	id := p.run("hog", func(c *runtime.ContainerConfig) { c.Resources.MemoryLimitBytes = 32 << 20 }, "oom")
	st := waitContainer(t, rt, id, "exited", exited)
	if st.Reason != "OOMKilled" || st.ExitCode != 137 {
		t.Errorf("a container over its memory limit: reason %q exit %d, want OOMKilled 137", st.Reason, st.ExitCode)
	}
	// Once recorded and its task deleted, the status says the same.
	st = waitContainer(t, rt, id, "recorded", func(s runtime.ContainerStatus) bool { return s.State == runtime.ContainerExited && taskGone(t, rt, id) })
	if st.Reason != "OOMKilled" || st.ExitCode != 137 {
		t.Errorf("recorded: reason %q exit %d, want OOMKilled 137", st.Reason, st.ExitCode)
	}
}

func readLogs(t *testing.T, rt runtime.LogReader, id string, opts runtime.LogOptions) string {
	t.Helper()
	rc, err := rt.ContainerLogs(testContext(t), id, opts)
	if err != nil {
		t.Fatalf("ContainerLogs: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading logs: %v", err)
	}
	return string(b)
}

func TestLogs(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "logs")
	first := p.run("app", func(c *runtime.ContainerConfig) { c.Attempt = 0 }, "eprint", "to stderr")
	waitContainer(t, rt, first, "exited", exited)
	if got := readLogs(t, rt, first, runtime.LogOptions{}); got != "to stderr\n" {
		t.Errorf("stderr in the log: %q", got)
	}
	// Following a running server: lines written later arrive, and the
	// reader ends when the container exits.
	second := p.run("app", func(c *runtime.ContainerConfig) { c.Attempt = 1 })
	waitHTTP(t, "http://"+p.ip()+":8080/")
	rc, err := rt.ContainerLogs(testContext(t), second, runtime.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	since := time.Now()
	if err := rt.StopContainer(testContext(t), second, runtime.StopOptions{Grace: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() { b, _ := io.ReadAll(rc); done <- string(b) }()
	select {
	case got := <-done:
		if !strings.Contains(got, "serving on") || !strings.Contains(got, "demo: terminating") {
			t.Errorf("followed log = %q, want the start and the termination lines", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("following the log of an exited container did not end")
	}
	if got := readLogs(t, rt, second, runtime.LogOptions{Since: since}); got != "demo: terminating\n" {
		t.Errorf("log since the stop = %q", got)
	}
	// The previous instance keeps its own log.
	if got := readLogs(t, rt, first, runtime.LogOptions{Tail: 5}); got != "to stderr\n" {
		t.Errorf("previous instance's log = %q", got)
	}
}

func TestExecStdinAndStats(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "exec")
	id := p.run("app", nil)
	waitHTTP(t, "http://"+p.ip()+":8080/")
	var out bytes.Buffer
	code, err := rt.Exec(testContext(t), id, runtime.ExecOptions{Command: demo.Command("cat"), Stdin: strings.NewReader("via stdin\n"), Stdout: &out})
	if err != nil || code != 0 || out.String() != "via stdin\n" {
		t.Errorf("exec cat with stdin = %d, %v, %q", code, err, out.String())
	}
	before, err := rt.ContainerStats(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := httpGet("http://" + p.ip() + ":8080/burn?d=300ms&n=1"); err != nil {
		t.Fatal(err)
	}
	after, err := rt.ContainerStats(testContext(t), id)
	if err != nil {
		t.Fatal(err)
	}
	// The burn spins for 300ms of wall time; on a busy machine it gets
	// less CPU than that, but surely some.
	if after.CPUUsageNanos < before.CPUUsageNanos+uint64(10*time.Millisecond) {
		t.Errorf("CPU usage went from %d to %d ns over a 300ms burn", before.CPUUsageNanos, after.CPUUsageNanos)
	}
	if after.MemoryWorkingSetBytes == 0 {
		t.Errorf("memory working set is 0")
	}
}

// TestAdoptionAfterRestart: a runtime closed and made anew over the same
// namespace finds the pod as it was, keeps its log and records its exit.
func TestAdoptionAfterRestart(t *testing.T) {
	rt1 := newRuntime(t)
	p := newPod(t, rt1, "adopt")
	id := p.run("app", nil)
	ip := p.ip()
	waitHTTP(t, "http://"+ip+":8080/")
	if err := rt1.Close(); err != nil {
		t.Fatal(err)
	}
	rt2 := newRuntime(t)
	p.handOver(rt2)
	sbs, err := rt2.ListSandboxes(testContext(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: p.cfg.PodUID}})
	if err != nil || len(sbs) != 1 || sbs[0].ID != p.id || sbs[0].IP != ip || sbs[0].State != runtime.SandboxReady {
		t.Fatalf("after restart: sandboxes %+v, %v; want %s Ready with %s", sbs, err, p.id, ip)
	}
	st := waitContainer(t, rt2, id, "running", running)
	if st.SandboxID != p.id {
		t.Errorf("container's sandbox = %s, want %s", st.SandboxID, p.id)
	}
	waitHTTP(t, "http://"+ip+":8080/")
	if err := rt2.StopContainer(testContext(t), id, runtime.StopOptions{Grace: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	st = waitContainer(t, rt2, id, "exited and recorded", func(s runtime.ContainerStatus) bool { return exited(s) && taskGone(t, rt2, id) })
	if st.ExitCode != 0 || st.Reason != "Completed" {
		t.Errorf("exit after SIGTERM: %d %q, want 0 Completed", st.ExitCode, st.Reason)
	}
	if got := readLogs(t, rt2, id, runtime.LogOptions{}); !strings.Contains(got, "serving on") || !strings.Contains(got, "demo: terminating") {
		t.Errorf("log across the restart = %q, want the lines from before and after", got)
	}
}

// TestExitWhileDetached: a container that exits while no runtime watches
// gets its exit recorded by the next New.
func TestExitWhileDetached(t *testing.T) {
	rt1 := newRuntime(t)
	p := newPod(t, rt1, "detached")
	id := p.run("app", nil, "exit", "3", "500ms")
	waitContainer(t, rt1, id, "running", running)
	rt1.Close()
	agenttest.Poll(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		return taskStopped(t, rt1, id), "the task did not stop"
	})
	rt2 := newRuntime(t)
	p.handOver(rt2)
	if !taskGone(t, rt2, id) {
		t.Errorf("New left the exited task in place")
	}
	st := waitContainer(t, rt2, id, "exited", exited)
	if st.ExitCode != 3 || st.Reason != "Error" || st.FinishedAt.IsZero() {
		t.Errorf("exit recorded at start: %+v, want code 3 Error with a time", st)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// task returns the status of container id's task, or false when it has
// none, asking the daemon directly.
func task(t testing.TB, id string) (tasktypes.Status, bool) {
	t.Helper()
	resp, err := raw.TaskService().List(namespaces.WithNamespace(testContext(t), testNS), &tasksapi.ListTasksRequest{})
	if err != nil {
		t.Fatalf("listing tasks: %v", err)
	}
	for _, p := range resp.Tasks {
		if p.ID == id {
			return p.Status, true
		}
	}
	return 0, false
}

func taskGone(t testing.TB, _ runtime.Runtime, id string) bool {
	_, ok := task(t, id)
	return !ok
}

func taskStopped(t testing.TB, _ runtime.Runtime, id string) bool {
	s, ok := task(t, id)
	return ok && s == tasktypes.Status_STOPPED
}

// TestHostNetwork: a HostNetwork pod has no IP of its own and its
// containers listen on the host's loopback.
func TestHostNetwork(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "hostnet", func(c *runtime.SandboxConfig) { c.HostNetwork = true })
	sbs, err := rt.ListSandboxes(testContext(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: p.cfg.PodUID}})
	if err != nil || len(sbs) != 1 || sbs[0].State != runtime.SandboxReady || sbs[0].IP != "" {
		t.Fatalf("host-network sandbox = %+v, %v; want one, Ready, without an IP of its own", sbs, err)
	}
	port := 20000 + int(time.Now().UnixNano()%10000)
	p.run("app", nil, "-listen", fmt.Sprintf("127.0.0.1:%d", port))
	waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
}

// TestLabelFilterQuoting: label values with characters of containerd's
// filter syntax select exactly.
func TestLabelFilterQuoting(t *testing.T) {
	rt := newRuntime(t)
	odd := `a "b", c==d/e\f`
	p := newPod(t, rt, "quoting", func(c *runtime.SandboxConfig) { c.Labels["example.com/odd"] = odd })
	newPod(t, rt, "plain", func(c *runtime.SandboxConfig) { c.Labels["example.com/odd"] = "a" })
	sbs, err := rt.ListSandboxes(testContext(t), runtime.Filter{Labels: map[string]string{"example.com/odd": odd}})
	if err != nil || len(sbs) != 1 || sbs[0].ID != p.id || sbs[0].Labels["example.com/odd"] != odd {
		t.Fatalf("ListSandboxes by an odd label = %+v, %v; want only %s", sbs, err, p.id)
	}
}

// TestConcurrentPodsOwnTheirIPs: pods made at once each answer on their
// own IP with their own hostname.
func TestConcurrentPodsOwnTheirIPs(t *testing.T) {
	rt := newRuntime(t)
	const n = 6
	// Sandboxes made at once (newPod fails the test, so only from this
	// goroutine).
	ids := make([]string, n)
	cfgs := make([]*runtime.SandboxConfig, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("own-%d", i)
		uid := randHex(8)
		cfgs[i] = &runtime.SandboxConfig{PodUID: uid, PodName: name, PodNamespace: "ctrdtest", Hostname: name,
			Labels: map[string]string{runtime.LabelPodUID: uid, runtime.LabelPodName: name, runtime.LabelNode: testNode}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = rt.RunSandbox(testContext(t), cfgs[i])
		}()
	}
	wg.Wait()
	pods := make([]*pod, n)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("RunSandbox(own-%d): %v", i, errs[i])
		}
		pods[i] = &pod{t: t, rt: rt, id: ids[i], cfg: cfgs[i]}
		pods[i].removeAtEnd(rt)
		pods[i].run("app", nil)
	}
	for i, p := range pods {
		if body := waitHTTP(t, "http://"+p.ip()+":8080/"); !strings.Contains(body, fmt.Sprintf("hello from own-%d ", i)) {
			t.Errorf("pod own-%d's IP %s answers %q", i, p.ip(), body)
		}
	}
}
