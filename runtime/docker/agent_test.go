package docker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// These tests run the real node agent over the Docker runtime, with pods
// written to the store already bound to the node (the scheduler and the
// workload controllers are not involved).

type agentEnv = agenttest.Env

func newAgentEnv(t *testing.T) *agentEnv { return agenttest.New(t, "docker-e2e-") }

func restarts(p *objects.Pod, ctr string) int32 {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == ctr {
			return cs.RestartCount
		}
	}
	return -1
}

func httpProbe(port int32) *objects.Probe {
	return &objects.Probe{ProbeHandler: objects.ProbeHandler{HTTPGet: &objects.HTTPGetAction{Path: "/healthz", Port: objects.FromInt32(port)}},
		PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 2}
}

// TestAgentOnDocker: a two-container pod runs and gets Ready, answers on its
// IP, its containers reach each other on 127.0.0.1; a killed container and
// a failing liveness probe are restarted; a second agent adopts the pod
// without creating anything; deleting the pod leaves nothing behind.
func TestAgentOnDocker(t *testing.T) {
	rt := newRuntime(t)
	e := newAgentEnv(t)
	e.Start(rt)
	e.Create(&objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: objects.PodSpec{Containers: []objects.Container{
			{Name: "web", Image: demo.Ref, ImagePullPolicy: objects.PullNever,
				Ports:          []objects.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: httpProbe(8080), LivenessProbe: httpProbe(8080),
				VolumeMounts: []objects.VolumeMount{{Name: "scratch", MountPath: "/data"}}},
			{Name: "side", Image: demo.Ref, ImagePullPolicy: objects.PullNever, Args: []string{"-listen", ":8081"}},
		}, Volumes: []objects.Volume{{Name: "scratch", VolumeSource: objects.VolumeSource{EmptyDir: &objects.EmptyDirVolumeSource{}}}}},
	})
	p := e.WaitPod("web", "Ready", objects.IsPodReady)
	if p.Status.Phase != objects.PodRunning || p.Status.PodIP == "" {
		t.Fatalf("ready pod: phase %s IP %q", p.Status.Phase, p.Status.PodIP)
	}
	ip := p.Status.PodIP
	if body := httpGet(t, "http://"+ip+":8080/"); !strings.Contains(body, "hello from web") {
		t.Errorf("GET / on the pod IP = %q", body)
	}
	if body := httpGet(t, "http://"+ip+":8080/fetch?url=http://127.0.0.1:8081/healthz"); strings.TrimSpace(body) != "ok" {
		t.Errorf("web → side on 127.0.0.1 = %q", body)
	}
	uid := string(p.UID)
	before := podContainers(t, rt, uid)
	if fi, err := os.Stat(filepath.Join(e.PodDir(uid), "volumes", "empty-dir", "scratch")); err != nil || !fi.IsDir() {
		t.Fatalf("the pod's emptyDir is not under the agent's root: %v", err)
	}

	t.Run("KilledContainerRestarts", func(t *testing.T) {
		id := containerID(t, rt, uid, "web")
		if _, err := rt.Client().ContainerKill(testContext(t), id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			t.Fatal(err)
		}
		e.WaitPod("web", "restarted once and Ready", func(p *objects.Pod) bool { return restarts(p, "web") == 1 && objects.IsPodReady(p) })
		httpGet(t, "http://"+ip+":8080/healthz")
	})
	t.Run("LivenessRestarts", func(t *testing.T) {
		resp, err := testHTTP.Post("http://"+ip+":8080/healthz/fail", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		e.WaitPod("web", "restarted by its liveness probe", func(p *objects.Pod) bool { return restarts(p, "web") == 2 })
		e.WaitPod("web", "Ready again", objects.IsPodReady)
		agenttest.WaitOldInstancesRemoved(t, rt, uid, "web")
	})
	t.Run("GRPCReadiness", func(t *testing.T) { e.CheckGRPCReadiness(rt, demo.Ref) })
	t.Run("SecondAgentAdopts", func(t *testing.T) {
		e.Stop()
		held := podContainers(t, rt, uid)
		// A runtime of the parent test's lifetime: the agent keeps using it
		// after this subtest.
		rt2, err := docker.New(testContext(t), docker.WithNetwork(testNet))
		if err != nil {
			t.Fatal(err)
		}
		e.Own(rt2)
		running := runningContainers(t, rt, uid)
		e.MarkStale("web")
		e.Start(rt2)
		// Once the mark is gone the new agent has synced the pod: listed
		// it in the daemon and created whatever it found missing.
		p := e.WaitResynced("web")[0]
		if got := agenttest.StatusContainerIDs(p); !agenttest.SameSet(got, running) {
			t.Errorf("the second agent reports containers %v, want the running ones it adopted %v", got, running)
		}
		e.WaitPod("web", "Ready under the second agent", objects.IsPodReady)
		if after := podContainers(t, rt, uid); !agenttest.SameSet(held, after) {
			t.Errorf("containers before the restart %v, after %v: the second agent created or removed some", held, after)
		}
	})
	t.Run("DeleteLeavesNothing", func(t *testing.T) {
		grace := int64(5)
		err := e.Store.Update(context.Background(), func(tx store.Tx) error {
			_, err := tx.Delete("Pod", objects.Key{Namespace: "default", Name: "web"}, store.DeleteOptions{GracePeriodSeconds: &grace})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		agenttest.Poll(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
			_, err := e.Pod("web")
			left := podContainers(t, rt, uid)
			return errors.Is(err, store.ErrNotFound) && len(left) == 0,
				fmt.Sprintf("after deleting the pod: get %v, containers left %v", err, left)
		})
		nw, err := rt.Client().NetworkInspect(testContext(t), testNet, client.NetworkInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for id := range nw.Network.Containers {
			if contains(before, id) {
				t.Errorf("container %s still has an endpoint on %s", id, testNet)
			}
		}
		if _, err := os.Stat(e.PodDir(uid)); !os.IsNotExist(err) {
			t.Errorf("the pod's directory %s is left (%v)", e.PodDir(uid), err)
		}
	})
}

// runningContainers returns the ids of the running app containers of pod
// uid.
func runningContainers(t *testing.T, rt *docker.Runtime, uid string) []string {
	t.Helper()
	cs, err := rt.ListContainers(testContext(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			out = append(out, c.ID)
		}
	}
	return out
}

// podContainers lists the ids of every container (sandboxes included) the
// daemon holds for pod uid.
func podContainers(t *testing.T, rt *docker.Runtime, uid string) []string {
	t.Helper()
	res, err := rt.Client().ContainerList(testContext(t), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", runtime.LabelPodUID+"="+uid)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids
}

func containerID(t *testing.T, rt *docker.Runtime, uid, name string) string {
	t.Helper()
	cs, err := rt.ListContainers(testContext(t), runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: uid, runtime.LabelContainerName: name}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.State == runtime.ContainerRunning {
			return c.ID
		}
	}
	t.Fatalf("no running container %s in pod %s: %+v", name, uid, cs)
	return ""
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkAgentPodStart measures pod start latency as the issue defines
// it, minus the scheduler: from the pod objects (already bound to the node)
// being written to the store, in one transaction, to every pod reported
// Running by the node agent over Docker. Each iteration also starts the same
// containers with the Engine API client directly (sandbox, then one app
// container, per pod), alternating which goes first, and reports both means
// and the ratio agent/direct:
//
//	go test -run '^$' -bench AgentPodStart -benchtime 5x ./runtime/docker
func BenchmarkAgentPodStart(b *testing.B) {
	rt := newRuntime(b)
	s, err := memdb.New()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	node := "bench-agent-" + randHex(3)
	a, err := nodeagent.New(s, node, rt, nodeagent.WithRootDir(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	newPod(b, rt, "warm") // the network and the sandbox image exist before timing

	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			agenttest.CompareWithDirect(b,
				func() time.Duration { return agenttest.AgentBatch(b, s, node, idle.Ref, n) },
				func() time.Duration { return directBatch(b, rt, n) })
		})
	}
}
