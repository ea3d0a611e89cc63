package containerd_test

import (
	"context"
	"fmt"
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
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
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
	return d, sock
}

// TestDaemonRestart: containerd killed and started again under a running
// agent. The pod's containers keep running and serving while the daemon is
// away (their shims outlive it), and the node reports the runtime down. A
// container that exits meanwhile is restarted once the daemon is back; the
// other is left as it was, and nothing is created twice.
func TestDaemonRestart(t *testing.T) {
	d, sock := startDaemon(t)
	ctx := testContext(t)
	opts := append(testOptions(), containerd.WithAddress(sock), containerd.WithStateDir(filepath.Join(d.Dir, "podkit")),
		containerd.WithNetwork("podkit-ctrd-restart", "pkctrdrst0"), containerd.WithSubnet(netip.MustParsePrefix("10.213.253.0/24")))
	rt, err := containerd.New(ctx, opts...)
	if err != nil {
		t.Fatalf("containerd.New: %v", err)
	}
	t.Cleanup(func() {
		// After the agent has stopped (the Env's cleanup runs first).
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
	if err := testimage.Ensure(ctx, rt, demo); err != nil {
		t.Fatal(err)
	}
	raw, err := client.New(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	nsCtx := namespaces.WithNamespace(ctx, testNS)

	e := newAgentEnv(t)
	e.RegisterNode()
	e.Start(rt, nodeagent.WithHeartbeat(200*time.Millisecond, time.Second))
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
	e.WaitNodeReady(objects.ConditionTrue)

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

	d.Stop(syscall.SIGKILL)
	if c := e.WaitNodeReady(objects.ConditionFalse); !strings.Contains(c.Message, "container runtime is down") {
		t.Errorf("node Ready condition with the daemon gone: %+v, want it to say the runtime is down", c)
	}
	// The agent has seen the outage; the pod's processes still run, and
	// one of them exits now, with no daemon to see it.
	waitHTTP(t, "http://"+ip+":8080/")
	if err := syscall.Kill(int(side.Process.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	d.Start()
	e.WaitNodeReady(objects.ConditionTrue)
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
