package podkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// DefaultContainerAnnotation names the container Logs and Exec use when
// they are given none, as kubectl reads it.
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// ErrContainerNotRunning is wrapped when Exec finds its container not
// running, and when Logs finds it not yet started.
var ErrContainerNotRunning = errors.New("container is not running")

// A LogOption chooses what Logs returns, as kubectl logs' flags do.
type LogOption func(*logOptions)

type logOptions struct {
	runtime.LogOptions
	previous bool
	limit    int64
}

// Follow keeps the stream open for new output until the container exits
// or ctx ends (kubectl logs -f).
func Follow() LogOption { return func(o *logOptions) { o.Follow = true } }

// Previous returns the output of the container's previous instance, the
// one that ended before its last restart (kubectl logs -p).
func Previous() LogOption { return func(o *logOptions) { o.previous = true } }

// TailLines returns only the last n lines before following
// (kubectl logs --tail); n <= 0 returns them all.
func TailLines(n int) LogOption { return func(o *logOptions) { o.Tail = n } }

// SinceTime returns only the lines written at t or later
// (kubectl logs --since-time).
func SinceTime(t time.Time) LogOption { return func(o *logOptions) { o.Since = t } }

// Since returns only the lines written in the last d (kubectl logs
// --since).
func Since(d time.Duration) LogOption {
	return func(o *logOptions) { o.Since = time.Now().Add(-d) }
}

// Timestamps prefixes each line with the RFC 3339 time it was written
// (kubectl logs --timestamps).
func Timestamps() LogOption { return func(o *logOptions) { o.Timestamps = true } }

// LimitBytes ends the stream after n bytes (kubectl logs --limit-bytes).
func LimitBytes(n int64) LogOption { return func(o *logOptions) { o.limit = n } }

// Logs returns the output of a container of the pod namespace/pod, stdout
// and stderr interleaved, as kubectl logs shows it. container may be
// empty when the pod names its default container (DefaultContainerAnnotation)
// or has a single one; init and ephemeral containers are named like the
// others. The caller closes the stream.
//
// The pod must run on a node of this orchestrator whose runtime keeps
// logs (runtime.LogReader). A container that has not started yet has no
// output: Logs then fails with its waiting reason, as the kubelet does,
// wrapping ErrContainerNotRunning; with Previous, one that never
// restarted fails too.
func (o *Orchestrator) Logs(ctx context.Context, namespace, pod, container string, opts ...LogOption) (io.ReadCloser, error) {
	var lo logOptions
	for _, opt := range opts {
		opt(&lo)
	}
	if lo.limit < 0 {
		return nil, fmt.Errorf("limitBytes: Invalid value: %d: must be greater than 0", lo.limit)
	}
	p, cs, err := o.podContainer(ctx, namespace, pod, container)
	if err != nil {
		return nil, err
	}
	id := cs.ContainerID
	if lo.previous {
		id = ""
		if t := cs.LastTerminationState.Terminated; t != nil {
			id = t.ContainerID
		}
		if id == "" {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", cs.Name, p.Name)
		}
	} else if id == "" {
		reason := "ContainerCreating"
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			reason = w.Reason
		}
		return nil, fmt.Errorf("container %q in pod %q is waiting to start: %s: %w", cs.Name, p.Name, reason, ErrContainerNotRunning)
	}
	rt, err := o.podRuntime(p)
	if err != nil {
		return nil, err
	}
	lr, ok := rt.(runtime.LogReader)
	if !ok {
		return nil, fmt.Errorf("logs of pod %q: the runtime of node %q keeps no logs", p.Name, p.Spec.NodeName)
	}
	rc, err := lr.ContainerLogs(ctx, runtimeID(id), lo.LogOptions)
	if err != nil {
		return nil, fmt.Errorf("logs of container %q in pod %q: %w", cs.Name, p.Name, err)
	}
	if lo.limit > 0 {
		return limitedReadCloser{io.LimitReader(rc, lo.limit), rc}, nil
	}
	return rc, nil
}

type limitedReadCloser struct {
	io.Reader
	io.Closer
}

// Exec runs opts.Command in a running container of the pod
// namespace/pod, as kubectl exec does, and returns the command's exit
// code. container may be empty as for Logs. A container that is not
// running fails with an error wrapping ErrContainerNotRunning.
func (o *Orchestrator) Exec(ctx context.Context, namespace, pod, container string, opts runtime.ExecOptions) (int, error) {
	if len(opts.Command) == 0 {
		return 0, errors.New("command: Required value: you must specify at least one command for the container")
	}
	p, cs, err := o.podContainer(ctx, namespace, pod, container)
	if err != nil {
		return 0, err
	}
	if p.IsTerminal() {
		return 0, fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s: %w", p.Status.Phase, ErrContainerNotRunning)
	}
	if cs.State.Running == nil || cs.ContainerID == "" {
		return 0, fmt.Errorf("container %q in pod %q: %w", cs.Name, p.Name, ErrContainerNotRunning)
	}
	rt, err := o.podRuntime(p)
	if err != nil {
		return 0, err
	}
	ex, ok := rt.(runtime.Execer)
	if !ok {
		return 0, fmt.Errorf("exec in pod %q: the runtime of node %q cannot run commands in containers", p.Name, p.Spec.NodeName)
	}
	code, err := ex.Exec(ctx, runtimeID(cs.ContainerID), opts)
	if errors.Is(err, runtime.ErrNotFound) {
		return 0, fmt.Errorf("container %q in pod %q: %w", cs.Name, p.Name, ErrContainerNotRunning)
	}
	return code, err
}

// podContainer reads the pod and finds the status of its container name,
// or of its default container when name is empty.
func (o *Orchestrator) podContainer(ctx context.Context, namespace, pod, name string) (*objects.Pod, *objects.ContainerStatus, error) {
	p := &objects.Pod{}
	if err := o.Get(ctx, objects.Key{Namespace: namespace, Name: pod}, p); err != nil {
		return nil, nil, err
	}
	if name == "" {
		var err error
		if name, err = defaultContainer(p); err != nil {
			return nil, nil, err
		}
	}
	if !slices.ContainsFunc(p.Spec.Containers, func(c objects.Container) bool { return c.Name == name }) &&
		!slices.ContainsFunc(p.Spec.InitContainers, func(c objects.Container) bool { return c.Name == name }) &&
		!slices.ContainsFunc(p.Spec.EphemeralContainers, func(c objects.EphemeralContainer) bool { return c.Name == name }) {
		return nil, nil, fmt.Errorf("container %s is not valid for pod %s", name, p.Name)
	}
	if p.Spec.NodeName == "" {
		return nil, nil, fmt.Errorf("pod %s does not have a host assigned: %w", p.Name, ErrContainerNotRunning)
	}
	for _, list := range [][]objects.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses, p.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return p, &list[i], nil
			}
		}
	}
	// Bound, but the node's agent has not reported the container yet.
	return p, &objects.ContainerStatus{Name: name}, nil
}

// defaultContainer is the container kubectl picks for a pod: the one its
// annotation names, or its only one.
func defaultContainer(p *objects.Pod) (string, error) {
	if n := p.Annotations[DefaultContainerAnnotation]; n != "" {
		return n, nil
	}
	if len(p.Spec.Containers) == 1 {
		return p.Spec.Containers[0].Name, nil
	}
	names := func(cs []objects.Container) string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Name
		}
		return "[" + strings.Join(out, " ") + "]"
	}
	msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", p.Name, names(p.Spec.Containers))
	if len(p.Spec.InitContainers) > 0 {
		msg += " or one of the init containers: " + names(p.Spec.InitContainers)
	}
	if len(p.Spec.EphemeralContainers) > 0 {
		ecs := make([]objects.Container, len(p.Spec.EphemeralContainers))
		for i := range p.Spec.EphemeralContainers {
			ecs[i] = *p.Spec.EphemeralContainers[i].Container()
		}
		msg += " or one of the ephemeral containers: " + names(ecs)
	}
	return "", errors.New(msg)
}

// podRuntime is the runtime of the node p runs on.
func (o *Orchestrator) podRuntime(p *objects.Pod) (runtime.Runtime, error) {
	rt, ok := o.NodeRuntime(p.Spec.NodeName)
	if !ok {
		return nil, fmt.Errorf("pod %s runs on node %q, which this orchestrator has no runtime for", p.Name, p.Spec.NodeName)
	}
	return rt, nil
}

// runtimeID is the runtime's ID in a status' containerID
// ("docker://0123…").
func runtimeID(containerID string) string {
	if _, after, ok := strings.Cut(containerID, "://"); ok {
		return after
	}
	return containerID
}
