package containerd_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
	"github.com/podkit/podkit/store"
)

// startDaemon starts a containerd of the test's own, which runs no CRI
// plugin: it shares nothing with the daemon the other tests use but the
// host's cgroups and the shim binary. It returns the daemon and its socket.
func startDaemon(t *testing.T) (*agenttest.Daemon, string) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	var sock string
	d := agenttest.StartDaemon(t, "containerd", func(dir string) ([]string, error) {
		sock = filepath.Join(dir, "c.sock")
		config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"+
			"[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
			filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
		path := filepath.Join(dir, "config.toml")
		return []string{"--config", path}, os.WriteFile(path, []byte(config), 0o600)
	}, func(ctx context.Context) error {
		cli, err := client.New(sock, client.WithTimeout(time.Second))
		if err != nil {
			return err
		}
		defer cli.Close()
		_, err = cli.Version(ctx)
		return err
	})
	// After the sweep, before the daemon stops.
	t.Cleanup(func() { agenttest.KillShims(t, "-address", sock) })
	return d, sock
}

// restartEnv is a node agent over a containerd of the test's own.
type restartEnv struct {
	*agenttest.Env
	d   *agenttest.Daemon
	rt  *containerd.Runtime
	raw *client.Client
	ctx context.Context // in the test namespace
}

func newRestartEnv(t *testing.T) *restartEnv {
	d, sock := startDaemon(t)
	ctx := testContext(t)
	opts := append(testOptions(), containerd.WithAddress(sock), containerd.WithStateDir(filepath.Join(d.Dir, "podkit")),
		containerd.WithNetwork("podkit-ctrd-restart", "pkctrdrst0"), containerd.WithSubnet(netip.MustParsePrefix("10.213.253.0/24")))
	rt, err := containerd.New(ctx, opts...)
	if err != nil {
		t.Fatalf("containerd.New: %v", err)
	}
	agenttest.SweepAtEnd(t, d, rt)
	if err := testimage.Ensure(ctx, rt, demo); err != nil {
		t.Fatal(err)
	}
	raw, err := client.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	e := newAgentEnv(t)
	e.RegisterNode()
	e.Start(rt, nodeagent.WithHeartbeat(200*time.Millisecond, time.Second))
	e.WaitNodeReady(objects.ConditionTrue)
	return &restartEnv{Env: e, d: d, rt: rt, raw: raw, ctx: namespaces.WithNamespace(ctx, testNS)}
}

// tasks returns the running tasks of the namespace's containers, by pod
// uid and container name.
func (e *restartEnv) tasks() map[string]map[string][]string {
	e.T.Helper()
	recs, err := e.raw.ContainerService().List(e.ctx)
	if err != nil {
		e.T.Fatal(err)
	}
	out := map[string]map[string][]string{}
	for _, c := range recs {
		resp, err := e.raw.TaskService().Get(e.ctx, &tasksapi.GetRequest{ContainerID: c.ID})
		if err == nil && resp.Process.Status == tasktypes.Status_RUNNING {
			uid, name := c.Labels[runtime.LabelPodUID], c.Labels[runtime.LabelContainerName]
			if out[uid] == nil {
				out[uid] = map[string][]string{}
			}
			out[uid][name] = append(out[uid][name], c.ID)
		}
	}
	return out
}

// outage kills the daemon, waits until the agent has seen it go, runs
// meanwhile, and starts the daemon again.
func (e *restartEnv) outage(meanwhile func()) {
	e.T.Helper()
	e.d.Stop(syscall.SIGKILL)
	if c := e.WaitNodeReady(objects.ConditionFalse); !strings.Contains(c.Message, "container runtime is down") {
		e.T.Errorf("node Ready condition with the daemon gone: %+v, want it to say the runtime is down", c)
	}
	meanwhile()
	e.d.Start()
	e.WaitNodeReady(objects.ConditionTrue)
}

// TestDaemonRestart: containerd killed and started again under a running
// agent. The pod's containers keep running and serving while the daemon is
// away (their shims outlive it), and the node reports the runtime down. A
// container that exits meanwhile is restarted once the daemon is back; the
// other is left as it was, and nothing is created twice.
func TestDaemonRestart(t *testing.T) {
	e := newRestartEnv(t)
	e.Create(webPod("restart-0"))
	p := e.WaitPod("restart-0", "Ready", objects.IsPodReady)
	uid, ip := string(p.UID), p.Status.PodIP
	waitHTTP(t, "http://"+ip+":8080/")
	before := e.tasks()[uid]
	if len(before["web"]) != 1 || len(before["side"]) != 1 {
		t.Fatalf("running tasks %v, want one of web and one of side", before)
	}
	side, err := e.raw.TaskService().Get(e.ctx, &tasksapi.GetRequest{ContainerID: before["side"][0]})
	if err != nil {
		t.Fatal(err)
	}

	e.outage(func() {
		// The agent has seen the outage; the pod's processes still run,
		// and one of them exits now, with no daemon to see it.
		waitHTTP(t, "http://"+ip+":8080/")
		if err := syscall.Kill(int(side.Process.Pid), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	})
	p = e.WaitPod("restart-0", "side restarted once and Ready", func(p *objects.Pod) bool { return restarts(p, "side") == 1 && objects.IsPodReady(p) })
	if n := restarts(p, "web"); n != 0 {
		t.Errorf("web restarted %d times; want it left running", n)
	}
	if p.Status.PodIP != ip {
		t.Errorf("pod IP after the daemon's restart %s, want %s", p.Status.PodIP, ip)
	}
	after := e.tasks()[uid]
	if !slices.Equal(after["web"], before["web"]) || len(after["side"]) != 1 || after["side"][0] == before["side"][0] {
		t.Errorf("running tasks before the daemon's restart %v, after %v; want web's the same and one new side", before, after)
	}
	if body := waitHTTP(t, "http://"+ip+":8080/fetch?url=http://127.0.0.1:8081/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("web → side on 127.0.0.1 after the restart = %q", body)
	}

	// The container that ran through the outage is still watched: its
	// output is kept and its exit recorded as it was.
	ctr, err := e.raw.LoadContainer(e.ctx, before["web"][0])
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.Task(e.ctx, nil)
	if err == nil {
		err = task.Kill(e.ctx, syscall.SIGTERM)
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
	if logs := readLogs(t, e.rt, before["web"][0], runtime.LogOptions{}); !strings.Contains(logs, "demo: terminating") {
		t.Errorf("log of the web container that ran through the outage = %q, want the line it printed at SIGTERM", logs)
	}
}

// TestDaemonRestartWhilePodsStart: containerd killed while an agent starts
// pods, some with containers running, others half made, and started again:
// every pod gets Ready, with one Ready sandbox and one running task per
// container, however far it had got.
func TestDaemonRestartWhilePodsStart(t *testing.T) {
	e := newRestartEnv(t)
	names := e.CreatePods(6, "start", webPod)
	agenttest.Poll(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
		n := len(e.tasks())
		return n > 0, fmt.Sprintf("%d pods with a running task", n)
	})
	e.outage(func() {})
	for _, n := range names {
		p := e.WaitPod(n, "Ready", objects.IsPodReady)
		uid := string(p.UID)
		sbs, err := e.rt.ListSandboxes(e.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid}})
		if err != nil {
			t.Fatal(err)
		}
		if len(sbs) != 1 || sbs[0].State != runtime.SandboxReady || sbs[0].IP != p.Status.PodIP {
			t.Errorf("pod %s: sandboxes %+v, want one Ready with the pod's IP %s", n, sbs, p.Status.PodIP)
		}
		// A container the outage cut short is found exited after the pod
		// was last reported Ready, and started again: wait for it.
		agenttest.Poll(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
			got := e.tasks()[uid]
			return len(got) == 2 && len(got["web"]) == 1 && len(got["side"]) == 1,
				fmt.Sprintf("pod %s: running tasks %v, want one of web and one of side", n, got)
		})
	}
}

// TestStartCutShort: a container whose start was cut short, its task made
// but never started (the daemon or the process went away in between), is
// reported exited and is not started again; the next New deletes its task
// and records the failed start.
func TestStartCutShort(t *testing.T) {
	rt := newRuntime(t)
	p := newPod(t, rt, "cut-short")
	ctx := nsContext(t)
	labels := map[string]string{runtime.LabelContainerName: "app"}
	maps.Copy(labels, p.cfg.Labels)
	id, err := rt.CreateContainer(ctx, p.id, &runtime.ContainerConfig{Name: "app", Image: demo.Ref, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	// What StartContainer leaves when it is cut short after making the
	// task: the start recorded, the task created.
	c, err := raw.LoadContainer(ctx, id)
	if err == nil {
		_, err = c.SetLabels(ctx, map[string]string{"io.podkit.containerd.state": "running"})
	}
	if err == nil {
		_, err = c.NewTask(ctx, cio.NullIO)
	}
	if err != nil {
		t.Fatal(err)
	}
	status := func(rt *containerd.Runtime) runtime.ContainerStatus {
		t.Helper()
		cs, err := rt.ListContainers(ctx, runtime.Filter{Labels: labels})
		if err != nil || len(cs) != 1 {
			t.Fatalf("ListContainers = %+v, %v; want the container", cs, err)
		}
		return cs[0]
	}
	if st := status(rt); st.State != runtime.ContainerExited || st.ExitCode != 128 {
		t.Errorf("container whose start was cut short: %+v, want exited with code 128", st)
	}
	if err := rt.StartContainer(ctx, id); err == nil {
		t.Errorf("StartContainer on a container whose start was cut short: no error")
	}
	rt.Close()

	rt2 := newRuntime(t)
	p.handOver(rt2)
	if _, ok := task(t, id); ok {
		t.Errorf("New left the task of the start cut short")
	}
	if st := status(rt2); st.State != runtime.ContainerExited || st.ExitCode != 128 || !strings.Contains(st.Message, "cut short") {
		t.Errorf("after New: %+v, want exited with code 128, the start cut short", st)
	}
}

// TestDaemonRestartWhilePodsGo: containerd killed while an agent removes
// pods, and started again: every pod leaves the store, and nothing of
// theirs is left in the namespace, however far its removal had got.
func TestDaemonRestartWhilePodsGo(t *testing.T) {
	e := newRestartEnv(t)
	names := e.CreatePods(6, "go", webPod)
	for _, n := range names {
		e.WaitPod(n, "Ready", objects.IsPodReady)
	}
	e.DeletePods(1, names...)
	agenttest.Poll(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
		n := len(e.tasks())
		return n < len(names), fmt.Sprintf("%d pods with running tasks", n)
	})
	e.outage(func() {})
	agenttest.Poll(t, time.Minute, 50*time.Millisecond, func() (bool, string) {
		var left []string
		for _, n := range names {
			if _, err := e.Pod(n); !errors.Is(err, store.ErrNotFound) {
				left = append(left, n)
			}
		}
		recs, err := e.raw.ContainerService().List(e.ctx)
		if err != nil {
			return false, err.Error()
		}
		tasks, err := e.raw.TaskService().List(e.ctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			return false, err.Error()
		}
		return len(left) == 0 && len(recs) == 0 && len(tasks.Tasks) == 0,
			fmt.Sprintf("pods left in the store %v; %d containers and %d tasks left in the namespace", left, len(recs), len(tasks.Tasks))
	})
}
