package docker_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// restartNamespace is the containerd namespace of the Docker Engine that
// TestDaemonRestart starts.
const restartNamespace = "podkit-docker-restart"

// containerdAddress is the containerd socket the engines use.
func containerdAddress() string {
	if a := os.Getenv("CONTAINERD_ADDRESS"); a != "" {
		return a
	}
	return "/run/containerd/containerd.sock"
}

// startEngine starts a Docker Engine of the test's own on the host's
// containerd, in a containerd namespace of its own, with no default bridge
// and no iptables rules: it shares nothing with the engine the other tests
// use but the host's containerd and cgroups. It returns the engine and its
// host for WithHost.
func startEngine(t *testing.T) (*agenttest.Daemon, string) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	t.Cleanup(func() {
		// After the engine has stopped: its namespace is empty.
		cli, err := ctrd.New(containerdAddress())
		if err != nil {
			t.Error(err)
			return
		}
		defer cli.Close()
		for _, ns := range []string{restartNamespace, restartNamespace + "-plugins"} {
			if err := cli.NamespaceService().Delete(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "not found") {
				t.Errorf("removing containerd namespace %s: %v", ns, err)
			}
		}
	})
	var host string
	d := agenttest.StartDaemon(t, "dockerd", func(dir string) ([]string, error) {
		host = "unix://" + filepath.Join(dir, "d.sock")
		config := filepath.Join(dir, "daemon.json")
		return []string{
			"--config-file", config, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
			"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", host,
			"--containerd", containerdAddress(), "--containerd-namespace", restartNamespace,
			"--containerd-plugins-namespace", restartNamespace + "-plugins",
			"--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		}, os.WriteFile(config, []byte("{}\n"), 0o600)
	}, func(ctx context.Context) error {
		cli, err := client.New(client.WithHost(host))
		if err != nil {
			return err
		}
		defer cli.Close()
		_, err = cli.Ping(ctx, client.PingOptions{})
		return err
	})
	return d, host
}

// TestDaemonRestart: dockerd killed and started again under a running
// agent, as a crash does. While the engine is away the pod keeps serving
// and the node reports the runtime down. The engine, without live-restore,
// stops the pod's containers as it starts again; the agent then runs the
// pod again, in a new sandbox, each container once, and the exits are
// recorded.
func TestDaemonRestart(t *testing.T) {
	d, host := startEngine(t)
	ctx := testContext(t)
	rt, err := docker.New(ctx, docker.WithHost(host), docker.WithNetwork("podkit-restart"),
		docker.WithSubnet(netip.MustParsePrefix("10.218.253.0/24")))
	if err != nil {
		t.Fatalf("docker.New: %v", err)
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

	e := newAgentEnv(t)
	e.RegisterNode()
	e.Start(rt, nodeagent.WithHeartbeat(200*time.Millisecond, time.Second))
	e.WaitNodeReady(objects.ConditionTrue)
	e.Create(&objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: "restart-0", Namespace: "default"},
		Spec: objects.PodSpec{Containers: []objects.Container{
			{Name: "web", Image: demo.Ref, ImagePullPolicy: objects.PullNever, ReadinessProbe: httpProbe(8080)},
			{Name: "side", Image: demo.Ref, ImagePullPolicy: objects.PullNever, Args: []string{"-listen", ":8081"}},
		}},
	})
	p := e.WaitPod("restart-0", "Ready", objects.IsPodReady)
	uid, ip := string(p.UID), p.Status.PodIP
	httpGet(t, "http://"+ip+":8080/")
	before := podContainers(t, rt, uid)

	d.Stop(syscall.SIGKILL)
	if c := e.WaitNodeReady(objects.ConditionFalse); !strings.Contains(c.Message, "container runtime is down") {
		t.Errorf("node Ready condition with the engine gone: %+v, want it to say the runtime is down", c)
	}
	// The agent has seen the outage; the pod still serves.
	httpGet(t, "http://"+ip+":8080/")

	d.Start()
	e.WaitNodeReady(objects.ConditionTrue)
	p = e.WaitPod("restart-0", "both containers restarted once and Ready", func(p *objects.Pod) bool {
		return restarts(p, "web") == 1 && restarts(p, "side") == 1 && objects.IsPodReady(p)
	})
	for _, cs := range p.Status.ContainerStatuses {
		if cs.LastTerminationState.Terminated == nil {
			t.Errorf("container %s restarted with no last termination recorded", cs.Name)
		}
	}
	running := runningContainers(t, rt, uid)
	if len(running) != 2 {
		t.Errorf("running app containers of the pod %v, want 2", running)
	}
	for _, id := range running {
		if contains(before, id) {
			t.Errorf("container %s from before the restart runs, want the pod's containers new", id)
		}
	}
	sbs, err := rt.ListSandboxes(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid}})
	if err != nil {
		t.Fatal(err)
	}
	ready := 0
	for _, sb := range sbs {
		if sb.State == runtime.SandboxReady {
			ready++
		}
	}
	if ready != 1 {
		t.Errorf("sandboxes of the pod %+v, want one Ready", sbs)
	}
	if body := httpGet(t, "http://"+p.Status.PodIP+":8080/fetch?url=http://127.0.0.1:8081/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("web → side on 127.0.0.1 after the restart = %q", body)
	}
}
