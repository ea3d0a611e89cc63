package containerd_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// These tests run the real node agent over the containerd runtime, with
// pods written to the store already bound to the node (the scheduler and
// the workload controllers are not involved).

type agentEnv = agenttest.Env

func newAgentEnv(t *testing.T) *agentEnv { return agenttest.New(t, "ctrd-e2e-") }

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

func webPod(name string) *objects.Pod {
	return &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: objects.PodSpec{Containers: []objects.Container{
			{Name: "web", Image: demo.Ref, ImagePullPolicy: objects.PullNever,
				Ports:          []objects.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: httpProbe(8080), LivenessProbe: httpProbe(8080)},
			{Name: "side", Image: demo.Ref, ImagePullPolicy: objects.PullNever, Args: []string{"-listen", ":8081"}},
		}},
	}
}

// TestAgentOnContainerd: three two-container pods run and get Ready, each
// answers on its IP and its containers reach each other on 127.0.0.1, and
// one pod reaches another; a killed container and a failing liveness probe
// are restarted; a second agent over a new runtime adopts the pods without
// creating anything; deleting the pods leaves nothing in the namespace.
func TestAgentOnContainerd(t *testing.T) {
	rt := newRuntime(t)
	e := newAgentEnv(t)
	t.Cleanup(func() { removeNode(t, e.Node) }) // runs last, when no runtime is open
	e.Start(rt)
	names := []string{"web-0", "web-1", "web-2"}
	for _, n := range names {
		e.Create(webPod(n))
	}
	ips := map[string]string{}
	for _, n := range names {
		p := e.WaitPod(n, "Ready", objects.IsPodReady)
		if p.Status.Phase != objects.PodRunning || p.Status.PodIP == "" {
			t.Fatalf("ready pod %s: phase %s IP %q", n, p.Status.Phase, p.Status.PodIP)
		}
		ip := p.Status.PodIP
		ips[n] = ip
		if body := waitHTTP(t, "http://"+ip+":8080/"); !strings.Contains(body, "hello from "+n) {
			t.Errorf("GET / on %s's IP = %q", n, body)
		}
		if body := waitHTTP(t, "http://"+ip+":8080/fetch?url=http://127.0.0.1:8081/healthz"); strings.TrimSpace(body) != "ok" {
			t.Errorf("%s: web → side on 127.0.0.1 = %q", n, body)
		}
	}
	if body := waitHTTP(t, "http://"+ips["web-0"]+":8080/fetch?url=http://"+ips["web-1"]+":8080/"); !strings.Contains(body, "web-1") {
		t.Errorf("web-0 → web-1 = %q", body)
	}
	p, _ := e.Pod("web-0")
	uid := string(p.UID)
	ip := ips["web-0"]

	t.Run("KilledContainerRestarts", func(t *testing.T) {
		id := containerID(t, rt, uid, "web")
		c, err := raw.LoadContainer(nsContext(t), id)
		if err != nil {
			t.Fatal(err)
		}
		task, err := c.Task(nsContext(t), nil)
		if err == nil {
			err = task.Kill(nsContext(t), syscall.SIGKILL)
		}
		if err != nil {
			t.Fatal(err)
		}
		e.WaitPod("web-0", "restarted once and Ready", func(p *objects.Pod) bool { return restarts(p, "web") == 1 && objects.IsPodReady(p) })
		waitHTTP(t, "http://"+ip+":8080/healthz")
	})
	t.Run("LivenessRestarts", func(t *testing.T) {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Post("http://"+ip+":8080/healthz/fail", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		e.WaitPod("web-0", "restarted by its liveness probe", func(p *objects.Pod) bool { return restarts(p, "web") == 2 })
		e.WaitPod("web-0", "Ready again", objects.IsPodReady)
		agenttest.WaitOldInstancesRemoved(t, rt, uid, "web")
	})
	t.Run("GRPCReadiness", func(t *testing.T) { e.CheckGRPCReadiness(rt, demo.Ref) })
	t.Run("SecondAgentAdopts", func(t *testing.T) {
		e.Stop()
		held := namespaceObjects(t)
		running := map[string][]string{}
		for _, n := range names {
			p, err := e.Pod(n)
			if err != nil {
				t.Fatal(err)
			}
			running[n] = runningIDs(t, string(p.UID))
		}
		rt.Close()
		rt2 := newRuntime(t)
		e.MarkStale(names...)
		e.Start(rt2)
		t.Cleanup(e.Stop) // before rt2 closes
		rt = rt2
		// Once the marks are gone the new agent has synced every pod:
		// listed it in the namespace and created whatever it found missing.
		for _, p := range e.WaitResynced(names...) {
			if got, want := agenttest.StatusContainerIDs(p), running[p.Name]; !agenttest.SameSet(got, want) {
				t.Errorf("pod %s: the second agent reports containers %v, want the running ones it adopted %v", p.Name, got, want)
			}
		}
		for _, n := range names {
			e.WaitPod(n, "Ready under the second agent", objects.IsPodReady)
		}
		if after := namespaceObjects(t); !agenttest.SameSet(held, after) {
			t.Errorf("objects before the restart %v, after %v: the second agent created or removed some", held, after)
		}
		// The pods go with the agent over rt2, before it closes.
		deletePods(t, e, names)
	})
}

// deletePods deletes the pods and waits until they and everything of them
// in the namespace are gone.
func deletePods(t *testing.T, e *agentEnv, names []string) {
	e.DeletePods(5, names...)
	agenttest.Poll(t, 60*time.Second, 100*time.Millisecond, func() (bool, string) {
		var gone int
		for _, n := range names {
			if _, err := e.Pod(n); errors.Is(err, store.ErrNotFound) {
				gone++
			}
		}
		left := namespaceObjects(t)
		return gone == len(names) && len(left) == 0,
			fmt.Sprintf("after deleting the pods: %d of %d gone from the store, left in the namespace %v", gone, len(names), left)
	})
}

// removeNode removes, through a runtime of its own, the sandboxes of node
// that a failed test left.
func removeNode(t *testing.T, node string) {
	if t.Skipped() {
		return
	}
	rt := newRuntime(t)
	ctx := testContext(t)
	sbs, err := rt.ListSandboxes(ctx, runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}})
	if err != nil {
		t.Error(err)
	}
	for _, s := range sbs {
		if err := rt.RemoveSandbox(ctx, s.ID); err != nil {
			t.Error(err)
		}
	}
	rt.Close()
}

func nsContext(t testing.TB) context.Context {
	return namespaces.WithNamespace(testContext(t), testNS)
}

// namespaceObjects lists every container record (sandboxes included) and
// task in the test namespace that belongs to an agent test's node.
func namespaceObjects(t *testing.T) []string {
	t.Helper()
	recs, err := raw.ContainerService().List(nsContext(t), fmt.Sprintf("labels.%q~=^ctrd-e2e-", runtime.LabelNode))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range recs {
		out = append(out, c.ID)
		if _, ok := task(t, c.ID); ok {
			out = append(out, "task/"+c.ID)
		}
	}
	return out
}

// runningIDs returns the app containers of pod uid that have a running
// task.
func runningIDs(t *testing.T, uid string) []string {
	t.Helper()
	recs, err := raw.ContainerService().List(nsContext(t), fmt.Sprintf("labels.%q==%s", runtime.LabelPodUID, uid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range recs {
		if st, ok := task(t, c.ID); ok && st == tasktypes.Status_RUNNING {
			out = append(out, c.ID)
		}
	}
	return out
}

func containerID(t *testing.T, rt runtime.Runtime, uid, name string) string {
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
