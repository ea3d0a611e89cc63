package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podkit/podkit/internal/scratchimage"
)

// A sandbox whose containers share one PID namespace
// (SandboxConfig.ShareProcessNamespace) needs a process to own it, as a
// Kubernetes pod's pause container does: the sandbox's record then has a
// task of its own, the pause program (scratchimage.Pause) run from a root
// directory in the sandbox's directory holding only it, in the pod's
// network namespace. It is PID 1 of the namespace, which the sandbox's
// containers join; a sandbox whose pause task is not running is
// NotReady.

// pauseSpec returns the spec of the pause task of sandbox id, whose
// directory is dir, network namespace nsPath ("" for the host's) and
// cgroup cgroup.
func (r *Runtime) pauseSpec(id, dir, nsPath, cgroup string) (client.NewContainerOpts, error) {
	bin, err := scratchimage.Pause(goruntime.GOARCH)
	if err != nil {
		return nil, err
	}
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "pause"), bin, 0o755); err != nil {
		return nil, err
	}
	net := oci.WithHostNamespace(specs.NetworkNamespace)
	if nsPath != "" {
		net = oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath})
	}
	return client.WithNewSpec(oci.WithRootFSPath(rootfs), oci.WithProcessArgs("/pause"),
		oci.WithCgroup(cgroup), net), nil
}

// startPause creates and starts the pause task of sandbox id; on failure
// it leaves no task.
func (r *Runtime) startPause(ctx context.Context, id string) error {
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return r.wrap(err, "sandbox %s", short(id))
	}
	task, err := c.NewTask(ctx, cio.NullIO)
	if err != nil {
		return r.wrap(err, "sandbox %s: creating its pause task", short(id))
	}
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
		return r.wrap(err, "sandbox %s: starting its pause task", short(id))
	}
	return nil
}

// stopPause kills and deletes the pause task of sandbox id, if it has one.
func (r *Runtime) stopPause(ctx context.Context, id string) error {
	c, err := r.cli.LoadContainer(ctx, id)
	var task client.Task
	if err == nil {
		task, err = c.Task(ctx, nil)
	}
	if err == nil {
		_, err = task.Delete(ctx, client.WithProcessKill)
	}
	return ignoreNotFound(r.wrap(err, "stopping the pause task of sandbox %s", short(id)))
}

// taskStatus returns the task of container id and its status; the error
// is containerd's, unwrapped.
func (r *Runtime) taskStatus(ctx context.Context, id string) (client.Task, client.Status, error) {
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return nil, client.Status{}, err
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return nil, client.Status{}, err
	}
	st, err := task.Status(ctx)
	return task, st, err
}

// pidNamespace returns the path of the PID namespace of sandbox sb, whose
// containers share one, for a container to join.
func (r *Runtime) pidNamespace(ctx context.Context, sb containers.Container) (string, error) {
	task, st, err := r.taskStatus(ctx, sb.ID)
	if err != nil {
		return "", r.wrap(err, "sandbox %s: its pause task", short(sb.ID))
	}
	if st.Status != client.Running {
		return "", fmt.Errorf("containerd: sandbox %s: its pause task, which owns the pod's PID namespace, is %s", short(sb.ID), st.Status)
	}
	return fmt.Sprintf("/proc/%d/ns/pid", task.Pid()), nil
}

// targetPIDNamespace returns the path of the PID namespace of container
// id of sandbox sbID (a ContainerConfig's TargetContainerID), that of its
// running task's process, for a container to join as the CRI's TARGET
// namespace mode does.
func (r *Runtime) targetPIDNamespace(ctx context.Context, sbID, id string) (string, error) {
	rec, err := r.containerRecord(ctx, id)
	if err != nil {
		return "", fmt.Errorf("its target: %w", err)
	}
	if rec.Labels[labelSandbox] != sbID {
		return "", fmt.Errorf("target container %s is not of sandbox %s", short(id), short(sbID))
	}
	task, st, err := r.taskStatus(ctx, id)
	if err != nil {
		return "", fmt.Errorf("target container %s is not running: %w", short(id), r.wrap(err, "its task"))
	}
	if st.Status != client.Running {
		return "", fmt.Errorf("target container %s is %s, not running", short(id), st.Status)
	}
	return fmt.Sprintf("/proc/%d/ns/pid", task.Pid()), nil
}

// podSpecOpts are what a container's spec takes of its sandbox beyond
// its network and files: the sandbox's PID namespace when its containers
// share one, the host's PID and IPC namespaces when the sandbox is in
// them (see hostNamespaceOpts), and the sandbox's sysctls, which runc sets
// as it creates the container, in the pod's network namespace and in the
// container's own IPC namespace.
func (r *Runtime) podSpecOpts(ctx context.Context, sb containers.Container) ([]oci.SpecOpts, error) {
	opts := hostNamespaceOpts(sb)
	if sb.Labels[labelSharePID] == "true" {
		path, err := r.pidNamespace(ctx, sb)
		if err != nil {
			return nil, err
		}
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: path}))
	}
	if v := sb.Labels[labelSysctls]; v != "" {
		var sysctls map[string]string
		if err := json.Unmarshal([]byte(v), &sysctls); err != nil {
			return nil, fmt.Errorf("containerd: sandbox %s: its sysctls: %w", short(sb.ID), err)
		}
		opts = append(opts, func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
			if s.Linux == nil {
				s.Linux = &specs.Linux{}
			}
			if s.Linux.Sysctl == nil {
				s.Linux.Sysctl = map[string]string{}
			}
			for k, v := range sysctls {
				s.Linux.Sysctl[k] = v
			}
			return nil
		})
	}
	return opts, nil
}

// pauseDown reports whether sandbox rec, Ready by its record, has a pause
// task that is not running; tasks are the namespace's, by container id.
func pauseDown(rec containers.Container, running map[string]bool) bool {
	return rec.Labels[labelSharePID] == "true" && rec.Labels[labelState] == stateReady && !running[rec.ID]
}

// runningTasks returns the ids of the namespace's running tasks, listed
// only when one of recs has a pause task.
func (r *Runtime) runningTasks(ctx context.Context, recs []containers.Container) (map[string]bool, error) {
	need := false
	for _, rec := range recs {
		need = need || rec.Labels[labelSharePID] == "true"
	}
	if !need {
		return nil, nil
	}
	resp, err := r.cli.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, r.wrap(err, "listing tasks")
	}
	out := map[string]bool{}
	for _, t := range resp.Tasks {
		switch t.Status {
		case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
			out[t.ID] = true
		}
	}
	return out, nil
}
