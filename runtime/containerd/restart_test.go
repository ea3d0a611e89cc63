package containerd_test

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
	"github.com/podkit/podkit/store"
)

// daemon is a containerd of one test's own, which the test may kill and
// start again: its socket, root and state live in a directory of its own,
// and it runs no CRI plugin, so it shares nothing with the daemon the
// other tests use but the host's cgroups and the shim binary.
type daemon struct {
	t      *testing.T
	dir    string
	sock   string
	config string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited and been waited for
}

// startDaemon starts a private containerd, stopped and its directory
// removed when the test ends. Without the containerd binary the test is
// skipped, except in CI.
func startDaemon(t *testing.T) *daemon {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no containerd binary: %v", err)
		}
		t.Skipf("no containerd binary: %v", err)
	}
	// Not t.TempDir: a unix socket's path must stay short.
	dir, err := os.MkdirTemp("", "podkit-ctrd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, sock: filepath.Join(dir, "c.sock"), config: filepath.Join(dir, "config.toml")}
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"+
		"[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.sock, d.sock+".ttrpc")
	if err := os.WriteFile(d.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.remove)
	d.start()
	return d
}

// start runs the daemon and waits until it answers.
func (d *daemon) start() {
	d.t.Helper()
	logf, err := os.OpenFile(filepath.Join(d.dir, "containerd.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("containerd", "--config", d.config, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.exited) }()
	agenttest.Poll(d.t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
		select {
		case <-d.exited:
			d.t.Fatalf("containerd exited at start; its log:\n%s", d.log())
		default:
		}
		cli, err := client.New(d.sock, client.WithTimeout(time.Second))
		if err == nil {
			_, err = cli.Version(context.Background())
			cli.Close()
		}
		return err == nil, fmt.Sprintf("containerd on %s does not answer: %v", d.sock, err)
	})
}

// running reports whether the daemon's process is running.
func (d *daemon) running() bool {
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

// stop sends sig and waits until the process has exited.
func (d *daemon) stop(sig syscall.Signal) {
	d.t.Helper()
	if !d.running() {
		return
	}
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.t.Fatalf("containerd did not exit within 30s of %v", sig)
	}
}

func (d *daemon) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "containerd.log"))
	return string(b)
}

// remove stops the daemon, unmounts what a failed test left mounted in
// its directory, and removes it.
func (d *daemon) remove() {
	d.stop(syscall.SIGTERM)
	if d.t.Failed() {
		d.t.Logf("containerd's log:\n%s", d.log())
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err == nil {
		var mounts []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], d.dir+"/") {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
		slices.Reverse(mounts) // the innermost first
		for _, m := range mounts {
			d.t.Errorf("%s is still mounted after the test", m)
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		d.t.Error(err)
	}
}

// TestDaemonRestart: containerd killed and started again under a running
// agent. The pod's containers keep running and serving while the daemon is
// away (their shims outlive it), and the node reports the runtime down. A
// container that exits meanwhile is restarted once the daemon is back; the
// other is left as it was, and nothing is created twice.
func TestDaemonRestart(t *testing.T) {
	d := startDaemon(t)
	ctx := testContext(t)
	opts := append(testOptions(), containerd.WithAddress(d.sock), containerd.WithStateDir(filepath.Join(d.dir, "podkit")),
		containerd.WithNetwork("podkit-ctrd-restart", "pkctrdrst0"), containerd.WithSubnet(netip.MustParsePrefix("10.213.253.0/24")))
	rt, err := containerd.New(ctx, opts...)
	if err != nil {
		t.Fatalf("containerd.New: %v", err)
	}
	t.Cleanup(func() {
		// After the agent has stopped (the Env's cleanup runs first).
		if !d.running() {
			d.start()
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
	if err := testimage.Ensure(ctx, rt, demo); err != nil {
		t.Fatal(err)
	}
	raw, err := client.New(d.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	nsCtx := namespaces.WithNamespace(ctx, testNS)

	e := newAgentEnv(t)
	node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: e.Node}}
	e.Store.Scheme().Default(node)
	if err := e.Store.Update(ctx, func(tx store.Tx) error { return tx.Create(node) }); err != nil {
		t.Fatal(err)
	}
	e.Start(rt, nodeagent.WithHeartbeat(200*time.Millisecond, time.Second))
	nodeReady := func(want objects.ConditionStatus) objects.NodeCondition {
		t.Helper()
		var c objects.NodeCondition
		agenttest.Poll(t, 30*time.Second, 50*time.Millisecond, func() (bool, string) {
			err := e.Store.View(ctx, func(tx store.ReadTx) error {
				o, err := tx.Get("Node", objects.Key{Name: e.Node})
				if err == nil {
					if rc := objects.GetNodeCondition(&o.(*objects.Node).Status, objects.NodeReady); rc != nil {
						c = *rc
					}
				}
				return err
			})
			return err == nil && c.Status == want, fmt.Sprintf("node Ready condition %+v, %v; want %s", c, err, want)
		})
		return c
	}
	// tasks returns the running task of each container of the namespace
	// but the sandbox's, by container name.
	tasks := func() map[string][]string {
		t.Helper()
		recs, err := raw.ContainerService().List(nsCtx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, c := range recs {
			resp, err := raw.TaskService().Get(nsCtx, &tasksapi.GetRequest{ContainerID: c.ID})
			if err == nil && resp.Process.Status == tasktypes.Status_RUNNING {
				name := c.Labels[runtime.LabelContainerName]
				out[name] = append(out[name], c.ID)
			}
		}
		return out
	}
	nodeReady(objects.ConditionTrue)

	e.Create(webPod("restart-0"))
	p := e.WaitPod("restart-0", "Ready", objects.IsPodReady)
	ip := p.Status.PodIP
	waitHTTP(t, "http://"+ip+":8080/")
	before := tasks()
	if len(before["web"]) != 1 || len(before["side"]) != 1 {
		t.Fatalf("running tasks %v, want one of web and one of side", before)
	}
	side, err := raw.TaskService().Get(nsCtx, &tasksapi.GetRequest{ContainerID: before["side"][0]})
	if err != nil {
		t.Fatal(err)
	}

	d.stop(syscall.SIGKILL)
	if c := nodeReady(objects.ConditionFalse); !strings.Contains(c.Message, "container runtime is down") {
		t.Errorf("node Ready condition with the daemon gone: %+v, want it to say the runtime is down", c)
	}
	// The agent has seen the outage; the pod's processes still run, and
	// one of them exits now, with no daemon to see it.
	waitHTTP(t, "http://"+ip+":8080/")
	if err := syscall.Kill(int(side.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	d.start()
	nodeReady(objects.ConditionTrue)
	p = e.WaitPod("restart-0", "side restarted once and Ready", func(p *objects.Pod) bool { return restarts(p, "side") == 1 && objects.IsPodReady(p) })
	if n := restarts(p, "web"); n != 0 {
		t.Errorf("web restarted %d times; want it left running", n)
	}
	if p.Status.PodIP != ip {
		t.Errorf("pod IP after the daemon's restart %s, want %s", p.Status.PodIP, ip)
	}
	after := tasks()
	if !slices.Equal(after["web"], before["web"]) || len(after["side"]) != 1 || after["side"][0] == before["side"][0] {
		t.Errorf("running tasks before the daemon's restart %v, after %v; want web's the same and one new side", before, after)
	}
	if body := waitHTTP(t, "http://"+ip+":8080/fetch?url=http://127.0.0.1:8081/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("web → side on 127.0.0.1 after the restart = %q", body)
	}

	// The container that ran through the outage is still watched: its
	// output is kept and its exit recorded as it was.
	ctr, err := raw.LoadContainer(nsCtx, before["web"][0])
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.Task(nsCtx, nil)
	if err == nil {
		err = task.Kill(nsCtx, syscall.SIGTERM)
	}
	if err != nil {
		t.Fatal(err)
	}
	p = e.WaitPod("restart-0", "web restarted once and Ready", func(p *objects.Pod) bool { return restarts(p, "web") == 1 && objects.IsPodReady(p) })
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.LastTerminationState.Terminated; cs.Name == "web" && (term == nil || term.ExitCode != 0 || term.Reason != "Completed") {
			t.Errorf("web's last termination %+v, want exit code 0, Completed (SIGTERM)", term)
		}
	}
	if logs := readLogs(t, rt, before["web"][0], runtime.LogOptions{}); !strings.Contains(logs, "demo: terminating") {
		t.Errorf("log of the web container that ran through the outage = %q, want the line it printed at SIGTERM", logs)
	}
}
