package podkit_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

func ephemeral(name, target string, command ...string) objects.EphemeralContainer {
	return objects.EphemeralContainer{
		EphemeralContainerCommon: objects.EphemeralContainerCommon{Name: name, Image: "busybox", Command: command},
		TargetContainerName:      target,
	}
}

func ephemeralState(name string, done func(objects.ContainerState) bool) func(*objects.Pod) bool {
	return func(p *objects.Pod) bool {
		for _, cs := range p.Status.EphemeralContainerStatuses {
			if cs.Name == name {
				return done(cs.State)
			}
		}
		return false
	}
}

func terminatedState(s objects.ContainerState) bool { return s.Terminated != nil }
func runningState(s objects.ContainerState) bool    { return s.Running != nil }

// Ephemeral containers are only added, through their subresource: not on
// create, not by Update, never changed or removed; the node agent runs
// each once; Logs and Exec reach them by name.
func TestUpdateEphemeralContainers(t *testing.T) {
	o := newOrchestrator(t)
	ctx := runOrchestrator(t, o)
	registerFakeNodes(t, ctx, o, 1)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.PodSpec{
		Containers:          []objects.Container{{Name: "app", Image: "nginx:1.27"}, {Name: "side", Image: "busybox"}},
		EphemeralContainers: []objects.EphemeralContainer{ephemeral("debugger", "app")},
	}}
	err := o.Create(ctx, pod.DeepCopy())
	require.EqualError(t, err, `Pod "web" is invalid: spec.ephemeralContainers: Forbidden: cannot be set on create`)
	require.ErrorIs(t, err, objects.ErrInvalid)
	pod.Spec.EphemeralContainers = nil
	require.NoError(t, o.Create(ctx, pod))
	require.NoError(t, o.WaitFor(wctx, pod, podkit.Running))

	// Update may not add one.
	upd := pod.DeepCopy()
	upd.Spec.EphemeralContainers = []objects.EphemeralContainer{ephemeral("debugger", "app")}
	require.ErrorContains(t, o.Update(ctx, upd), "spec: Forbidden: pod updates may not change fields other than")

	// Validated as Kubernetes does.
	bad := pod.DeepCopy()
	withPorts := ephemeral("debugger", "x")
	withPorts.Ports = []objects.ContainerPort{{ContainerPort: 80}}
	bad.Spec.EphemeralContainers = []objects.EphemeralContainer{withPorts}
	require.EqualError(t, o.UpdateEphemeralContainers(ctx, bad), `Pod "web" is invalid: [`+
		`spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container, `+
		`spec.ephemeralContainers[0].targetContainerName: Not found: "x"]`)

	// A stale resourceVersion is a conflict.
	stale := pod.DeepCopy()
	stale.ResourceVersion = "1"
	stale.Spec.EphemeralContainers = []objects.EphemeralContainer{ephemeral("debugger", "app", "print", "hello")}
	require.ErrorIs(t, o.UpdateEphemeralContainers(ctx, stale), store.ErrConflict)

	// Added; only spec.ephemeralContainers is taken from the request.
	req := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.PodSpec{
		Containers:          []objects.Container{{Name: "app", Image: "ignored"}},
		EphemeralContainers: []objects.EphemeralContainer{ephemeral("debugger", "app", "print", "hello")},
	}}
	require.NoError(t, o.UpdateEphemeralContainers(ctx, req))
	assert.Equal(t, "nginx:1.27", req.Spec.Containers[0].Image)
	require.Len(t, req.Spec.EphemeralContainers, 1)
	assert.Equal(t, objects.PullAlways, req.Spec.EphemeralContainers[0].ImagePullPolicy, "defaulted")
	assert.NotEqual(t, pod.ResourceVersion, req.ResourceVersion)

	got, err := podkit.WaitUntil(wctx, o, "default", "web", ephemeralState("debugger", terminatedState))
	require.NoError(t, err)
	assert.Equal(t, int32(0), got.Status.EphemeralContainerStatuses[0].State.Terminated.ExitCode)
	assert.Equal(t, objects.PodRunning, got.Status.Phase)
	assert.True(t, objects.IsPodReady(got))
	assert.Equal(t, "hello\n", readLogs(t, ctx, o, "web", "debugger"))

	// Existing ones may be neither changed nor removed.
	changed := got.DeepCopy()
	changed.Spec.EphemeralContainers[0].Image = "alpine"
	require.EqualError(t, o.UpdateEphemeralContainers(ctx, changed),
		`Pod "web" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be changed`)
	removed := got.DeepCopy()
	removed.Spec.EphemeralContainers = []objects.EphemeralContainer{ephemeral("shell", "")}
	require.EqualError(t, o.UpdateEphemeralContainers(ctx, removed),
		`Pod "web" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be removed`)

	// A second one, which runs: Exec reaches it, and the pod's other
	// updates keep it.
	more := got.DeepCopy()
	more.Spec.EphemeralContainers = append(more.Spec.EphemeralContainers, ephemeral("shell", ""))
	require.NoError(t, o.UpdateEphemeralContainers(ctx, more))
	_, err = podkit.WaitUntil(wctx, o, "default", "web", ephemeralState("shell", runningState))
	require.NoError(t, err)
	var out bytes.Buffer
	code, err := o.Exec(ctx, "default", "web", "shell", runtime.ExecOptions{Command: []string{"print", "hi"}, Stdout: &out})
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Equal(t, "hi\n", out.String())
	_, err = o.Logs(ctx, "default", "web", "")
	assert.EqualError(t, err, "a container name must be specified for pod web, choose one of: [app side] or one of the ephemeral containers: [debugger shell]")

	_, err = o.Exec(ctx, "default", "web", "debugger", runtime.ExecOptions{Command: []string{"print", "hi"}})
	assert.ErrorIs(t, err, podkit.ErrContainerNotRunning)

	absent := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "absent"}}
	assert.ErrorIs(t, o.UpdateEphemeralContainers(ctx, absent), store.ErrNotFound)
}

// TestE2EEphemeralContainerTarget debugs a running pod on Docker as
// kubectl debug -it --target=app does: an ephemeral container targeting
// the pod's container joins its PID namespace and lists its process; one
// without a target sees only its own.
func TestE2EEphemeralContainerTarget(t *testing.T) {
	cluster.Require(t, cluster.Docker)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{Runtime: cluster.Docker, Namespace: "podkit-e2eephemeral", Isolated: true, Out: io.Discard})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Stop()) })

	const server = "/demo -listen :8080"
	pod := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "target", Namespace: "default"}, Spec: objects.PodSpec{
		Containers: []objects.Container{{Name: "app", Image: c.DemoImage, ImagePullPolicy: objects.PullNever, Command: strings.Fields(server)}},
	}}
	t.Cleanup(func() { deleteAll(t, c, []objects.Object{pod.DeepCopy()}) }) // before Stop
	require.NoError(t, c.Create(ctx, pod))
	require.NoError(t, c.WaitFor(ctx, pod, podkit.Running))

	debug := func(name, target string) objects.EphemeralContainer {
		return objects.EphemeralContainer{EphemeralContainerCommon: objects.EphemeralContainerCommon{
			Name: name, Image: c.DemoImage, ImagePullPolicy: objects.PullNever, Command: []string{"/demo", "ps"},
		}, TargetContainerName: target}
	}
	req := pod.DeepCopy()
	req.Spec.EphemeralContainers = []objects.EphemeralContainer{debug("debugger", "app"), debug("alone", "")}
	require.NoError(t, c.UpdateEphemeralContainers(ctx, req))
	for _, name := range []string{"debugger", "alone"} {
		got, err := podkit.WaitUntil(ctx, c.Orchestrator, "default", "target", ephemeralState(name, terminatedState))
		require.NoError(t, err, name)
		for _, cs := range got.Status.EphemeralContainerStatuses {
			if cs.Name == name {
				require.Equal(t, int32(0), cs.State.Terminated.ExitCode, "%s: %+v", name, cs.State.Terminated)
				assert.True(t, strings.HasPrefix(cs.ContainerID, "docker://"), cs.ContainerID)
			}
		}
		assert.True(t, objects.IsPodReady(got), "the pod stays ready")
	}
	lines := strings.Split(strings.TrimSpace(readLogs(t, ctx, c.Orchestrator, "target", "debugger")), "\n")
	assert.Contains(t, lines, server, "the debugger does not see its target's process")
	assert.Contains(t, lines, "/demo ps")
	lines = strings.Split(strings.TrimSpace(readLogs(t, ctx, c.Orchestrator, "target", "alone")), "\n")
	assert.Equal(t, []string{"/demo ps"}, lines, "an ephemeral container without a target sees only itself")

}
