package docker_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
	"github.com/podkit/podkit/store"
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
	engineNamespaces := []string{restartNamespace, restartNamespace + "-plugins"}
	cli, err := ctrd.New(containerdAddress())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cli.Close()
		// After the engine has stopped: its namespaces are empty.
		for _, ns := range engineNamespaces {
			err := cli.NamespaceService().Delete(namespaces.WithNamespace(context.Background(), ns), ns)
			if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
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
	t.Cleanup(func() {
		// Before the engine stops, while the runc state of its containers
		// is there: an engine killed as it started a container can have
		// left it in containerd, unknown to it after its restart.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, ns := range engineNamespaces {
			ctx := namespaces.WithNamespace(ctx, ns)
			ctrs, err := cli.Containers(ctx)
			if err != nil {
				t.Error(err)
			}
			for _, c := range ctrs {
				t.Logf("removing container %s, which the engine left in containerd", c.ID())
				if task, err := c.Task(ctx, nil); err == nil {
					_, _ = task.Delete(ctx, ctrd.WithProcessKill)
				}
				if err := c.Delete(ctx); err != nil {
					t.Error(err)
				}
			}
		}
		agenttest.KillShims(t, "-namespace", restartNamespace)
	})
	return d, host
}

// newRestartEnv returns a node agent over an engine of the test's own
// (startEngine), with the demo image loaded, the engine, and the runtime.
func newRestartEnv(t *testing.T) (*agentEnv, *agenttest.Daemon, *docker.Runtime) {
	d, host := startEngine(t)
	ctx := testContext(t)
	rt, err := docker.New(ctx, docker.WithHost(host), docker.WithNetwork("podkit-restart"),
		docker.WithSubnet(netip.MustParsePrefix("10.218.253.0/24")))
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	agenttest.SweepAtEnd(t, d, rt)
	if err := testimage.Ensure(ctx, rt, demo); err != nil {
		t.Fatal(err)
	}
	e := newAgentEnv(t)
	e.RegisterNode()
	e.Start(rt, nodeagent.WithHeartbeat(200*time.Millisecond, time.Second))
	e.WaitNodeReady(objects.ConditionTrue)
	return e, d, rt
}

// outage kills the engine, waits until the agent has seen it go, runs
// meanwhile, and starts the engine again.
func outage(e *agentEnv, d *agenttest.Daemon, meanwhile func()) {
	e.T.Helper()
	d.Stop(syscall.SIGKILL)
	if c := e.WaitNodeReady(objects.ConditionFalse); !strings.Contains(c.Message, "container runtime is down") {
		e.T.Errorf("node Ready condition with the engine gone: %+v, want it to say the runtime is down", c)
	}
	meanwhile()
	d.Start()
	e.WaitNodeReady(objects.ConditionTrue)
}

func restartPod(name string) *objects.Pod {
	return &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default"},
		Spec: objects.PodSpec{Containers: []objects.Container{
			{Name: "web", Image: demo.Ref, ImagePullPolicy: objects.PullNever, ReadinessProbe: httpProbe(8080)},
			{Name: "side", Image: demo.Ref, ImagePullPolicy: objects.PullNever, Args: []string{"-listen", ":8081"}},
		}},
	}
}

// checkPod checks that the pod runs once: one Ready sandbox with its IP,
// one running container of each name, and that they answer.
func checkPod(t *testing.T, rt *docker.Runtime, p *objects.Pod) {
	t.Helper()
	uid := string(p.UID)
	sbs, err := rt.ListSandboxes(testContext(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid}})
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
		t.Errorf("pod %s: sandboxes %+v, want one Ready", p.Name, sbs)
	}
	cs, err := rt.ListContainers(testContext(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid}})
	if err != nil {
		t.Fatal(err)
	}
	running := map[string]int{}
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			running[c.Labels[runtime.LabelContainerName]]++
		}
	}
	if len(running) != 2 || running["web"] != 1 || running["side"] != 1 {
		t.Errorf("pod %s: running containers by name %v, want one web and one side", p.Name, running)
	}
	if body := httpGet(t, "http://"+p.Status.PodIP+":8080/fetch?url=http://127.0.0.1:8081/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("pod %s: web → side on 127.0.0.1 = %q", p.Name, body)
	}
}

// TestDaemonRestart: dockerd killed and started again under a running
// agent, as a crash does. While the engine is away the pod keeps serving
// and the node reports the runtime down. The engine, without live-restore,
// stops the pod's containers as it starts again; the agent then runs the
// pod again, in a new sandbox, each container once, and the exits are
// recorded.
func TestDaemonRestart(t *testing.T) {
	e, d, rt := newRestartEnv(t)
	e.Create(restartPod("restart-0"))
	p := e.WaitPod("restart-0", "Ready", objects.IsPodReady)
	uid, ip := string(p.UID), p.Status.PodIP
	httpGet(t, "http://"+ip+":8080/")
	before := podContainers(t, rt, uid)

	outage(e, d, func() {
		// The agent has seen the outage; the pod still serves.
		httpGet(t, "http://"+ip+":8080/")
	})
	p = e.WaitPod("restart-0", "both containers restarted once and Ready", func(p *objects.Pod) bool {
		return restarts(p, "web") == 1 && restarts(p, "side") == 1 && objects.IsPodReady(p)
	})
	for _, cs := range p.Status.ContainerStatuses {
		if cs.LastTerminationState.Terminated == nil {
			t.Errorf("container %s restarted with no last termination recorded", cs.Name)
		}
	}
	for _, id := range runningContainers(t, rt, uid) {
		if contains(before, id) {
			t.Errorf("container %s from before the restart runs, want the pod's containers new", id)
		}
	}
	checkPod(t, rt, p)
}

// TestDaemonRestartWhilePodsStart: dockerd killed while an agent starts
// pods, some running, others half made, and started again: every pod gets
// Ready, running once.
func TestDaemonRestartWhilePodsStart(t *testing.T) {
	e, d, rt := newRestartEnv(t)
	names := e.CreatePods(6, "start", restartPod)
	agenttest.Poll(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
		cs, err := rt.ListContainers(testContext(t), runtime.Filter{})
		return err == nil && len(cs) > 0, fmt.Sprintf("%d containers, %v", len(cs), err)
	})
	outage(e, d, func() {})
	for _, n := range names {
		checkPod(t, rt, e.WaitPod(n, "Ready", objects.IsPodReady))
	}
}

// TestDaemonRestartWhilePodsGo: dockerd killed while an agent removes
// pods, and started again: every pod leaves the store, and the engine
// holds nothing of theirs, however far its removal had got.
func TestDaemonRestartWhilePodsGo(t *testing.T) {
	e, d, rt := newRestartEnv(t)
	names := e.CreatePods(6, "go", restartPod)
	for _, n := range names {
		e.WaitPod(n, "Ready", objects.IsPodReady)
	}
	e.DeletePods(1, names...)
	agenttest.Poll(t, time.Minute, 5*time.Millisecond, func() (bool, string) {
		cs, err := rt.ListContainers(testContext(t), runtime.Filter{})
		return err == nil && len(cs) < 2*len(names), fmt.Sprintf("%d containers, %v", len(cs), err)
	})
	outage(e, d, func() {})
	agenttest.Poll(t, time.Minute, 50*time.Millisecond, func() (bool, string) {
		var left []string
		for _, n := range names {
			if _, err := e.Pod(n); !errors.Is(err, store.ErrNotFound) {
				left = append(left, n)
			}
		}
		res, err := rt.Client().ContainerList(testContext(t), client.ContainerListOptions{All: true})
		if err != nil {
			return false, err.Error()
		}
		return len(left) == 0 && len(res.Items) == 0,
			fmt.Sprintf("pods left in the store %v; %d containers left in the engine", left, len(res.Items))
	})
}
