package podkit_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

func readLogs(t *testing.T, ctx context.Context, o *podkit.Orchestrator, pod, container string, opts ...podkit.LogOption) string {
	t.Helper()
	rc, err := o.Logs(ctx, "default", pod, container, opts...)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

// Logs reads a container's output, as kubectl logs does: by container
// name or the pod's default one, the previous instance after a restart,
// the last lines, a byte limit, and a followed stream that ends when the
// container exits. Exec runs commands in a running container.
func TestLogsAndExec(t *testing.T) {
	o := newOrchestrator(t, podkit.WithNodeAgent(nodeagent.WithCrashLoopBackOff(time.Millisecond, time.Millisecond, time.Minute)))
	ctx := runOrchestrator(t, o)
	rt := registerFakeNodes(t, ctx, o, 1)["n1"]
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.PodSpec{
		InitContainers: []objects.Container{{Name: "init", Image: "busybox", Command: []string{"print", "initialized"}}},
		Containers:     []objects.Container{{Name: "app", Image: "nginx:1.27"}, {Name: "side", Image: "busybox"}},
	}}
	require.NoError(t, o.Apply(ctx, pod))
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Running))

	_, err := o.Logs(ctx, "default", "web", "")
	require.EqualError(t, err, "a container name must be specified for pod web, choose one of: [app side] or one of the init containers: [init]")
	_, err = o.Logs(ctx, "default", "web", "nope")
	require.EqualError(t, err, "container nope is not valid for pod web")
	_, err = o.Logs(ctx, "default", "absent", "app")
	require.ErrorContains(t, err, "not found")
	_, err = o.Logs(ctx, "default", "web", "app", podkit.Previous())
	require.EqualError(t, err, `previous terminated container "app" in pod "web" not found`)

	assert.Equal(t, "initialized\n", readLogs(t, ctx, o, "web", "init"))
	app := fake.Container("default", "web", "app")
	for _, l := range []string{"gen1 a", "gen1 b", "gen1 c"} {
		require.Equal(t, 1, rt.Log(app, "stdout", l))
	}
	assert.Equal(t, "gen1 a\ngen1 b\ngen1 c\n", readLogs(t, ctx, o, "web", "app"))
	assert.Equal(t, "gen1 c\n", readLogs(t, ctx, o, "web", "app", podkit.TailLines(1)))
	assert.Equal(t, "gen1", readLogs(t, ctx, o, "web", "app", podkit.LimitBytes(4)))
	ts := readLogs(t, ctx, o, "web", "app", podkit.Timestamps(), podkit.TailLines(1))
	stamp, line, ok := strings.Cut(strings.TrimSuffix(ts, "\n"), " ")
	require.True(t, ok, ts)
	_, err = time.Parse(time.RFC3339Nano, stamp)
	require.NoError(t, err, ts)
	assert.Equal(t, "gen1 c", line)

	// A followed stream gets new lines, and ends when the container exits.
	rc, err := o.Logs(ctx, "default", "web", "app", podkit.Follow(), podkit.TailLines(1))
	require.NoError(t, err)
	followed := make(chan string, 1)
	go func() {
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		followed <- string(b)
	}()
	require.Equal(t, 1, rt.Log(app, "stdout", "gen1 d"))
	require.Equal(t, 1, rt.Kill(app, 1))
	select {
	case got := <-followed:
		assert.Equal(t, "gen1 c\ngen1 d\n", got)
	case <-wctx.Done():
		t.Fatal("the followed stream did not end when the container exited")
	}

	// Restarted: the current instance has its own output, the previous
	// one is still readable.
	_, err = podkit.WaitUntil(wctx, o, "default", "web", func(p *objects.Pod) bool {
		return p.Status.ContainerStatuses[0].RestartCount == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	require.NoError(t, err)
	require.Equal(t, 1, rt.Log(app, "stdout", "gen2"))
	assert.Equal(t, "gen2\n", readLogs(t, ctx, o, "web", "app"))
	assert.Equal(t, "gen1 a\ngen1 b\ngen1 c\ngen1 d\n", readLogs(t, ctx, o, "web", "app", podkit.Previous()))

	// Exec.
	var out, errOut bytes.Buffer
	code, err := o.Exec(ctx, "default", "web", "side", runtime.ExecOptions{Command: []string{"print", "hello"}, Stdout: &out, Stderr: &errOut})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "hello\n", out.String())
	code, err = o.Exec(ctx, "default", "web", "side", runtime.ExecOptions{Command: []string{"exit", "3"}})
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	_, err = o.Exec(ctx, "default", "web", "side", runtime.ExecOptions{})
	require.ErrorContains(t, err, "command: Required value")
	_, err = o.Exec(ctx, "default", "web", "init", runtime.ExecOptions{Command: []string{"true"}})
	require.ErrorIs(t, err, podkit.ErrContainerNotRunning)

	// The default container annotation picks one for an empty name.
	p, err := podkit.Get[*objects.Pod](ctx, o, "default", "web")
	require.NoError(t, err)
	p.Annotations = map[string]string{podkit.DefaultContainerAnnotation: "app"}
	require.NoError(t, o.Update(ctx, p))
	assert.Equal(t, "gen2\n", readLogs(t, ctx, o, "web", ""))
}

// A pod that is not on a node yet, or whose container has not started,
// has no logs: the error says why.
func TestLogsOfAPodNotStarted(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	rt := registerFakeNodes(t, ctx, o, 1)["n1"]
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	nowhere := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "nowhere"}, Spec: objects.PodSpec{
		NodeSelector: map[string]string{"disk": "ssd"},
		Containers:   []objects.Container{{Name: "app", Image: "nginx:1.27"}},
	}}
	require.NoError(t, o.Apply(ctx, nowhere))
	_, err := o.Logs(ctx, "default", "nowhere", "")
	require.EqualError(t, err, "pod nowhere does not have a host assigned: container is not running")
	require.ErrorIs(t, err, podkit.ErrContainerNotRunning)

	rt.Inject(fake.Fault{Op: fake.OpPullImage, Match: fake.Image("private/app:1")})
	denied := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "denied"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "private/app:1"}},
	}}
	require.NoError(t, o.Apply(ctx, denied))
	_, err = podkit.WaitUntil(wctx, o, "default", "denied", func(p *objects.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && strings.Contains(cs[0].State.Waiting.Reason, "Err")
	})
	require.NoError(t, err)
	_, err = o.Logs(ctx, "default", "denied", "app")
	require.ErrorIs(t, err, podkit.ErrContainerNotRunning)
	assert.Regexp(t, `^container "app" in pod "denied" is waiting to start: (ErrImagePull|ImagePullBackOff)`, err.Error())
}

// PortForward carries connections from a host address to a pod's port,
// found again for each connection; a pod that is not running refuses
// them, and DialPod says why.
func TestPortForward(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 1)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: "nginx:1.27", Ports: []objects.ContainerPort{{ContainerPort: 8080}}}},
	}}
	nowhere := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "nowhere"}, Spec: objects.PodSpec{
		NodeSelector: map[string]string{"disk": "ssd"},
		Containers:   []objects.Container{{Name: "app", Image: "nginx:1.27"}},
	}}
	require.NoError(t, o.Apply(ctx, pod, nowhere))
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Running))

	_, err := o.DialPod(ctx, "default", "nowhere", 8080)
	require.EqualError(t, err, "unable to forward port because pod is not running. Current status=Pending: container is not running")
	_, err = o.DialPod(ctx, "default", "web", 0)
	require.ErrorContains(t, err, "port: Invalid value: 0")
	_, err = o.PortForward(ctx, "default", "web", "127.0.0.1:0", 70000)
	require.ErrorContains(t, err, "port: Invalid value: 70000")

	pf, err := o.PortForward(ctx, "default", "web", "127.0.0.1:0", 8080)
	require.NoError(t, err)
	defer pf.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // a connection each
	get := func() (string, error) {
		resp, err := client.Get("http://" + pf.Addr().String() + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	body, err := get()
	require.NoError(t, err)
	assert.Equal(t, "ok", body)

	// The pod gone, connections are closed unanswered.
	require.NoError(t, o.Delete(ctx, pod, podkit.GracePeriod(0)))
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Deleted))
	_, err = get()
	require.Error(t, err)
	require.NoError(t, pf.Close())
	_, err = net.Dial("tcp", pf.Addr().String())
	require.Error(t, err, "a closed forward listens no more")
}
