package containerd

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	cg1stats "github.com/containerd/cgroups/v3/cgroup1/stats"
	cg2stats "github.com/containerd/cgroups/v3/cgroup2/stats"
	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/typeurl/v2"

	"github.com/podkit/podkit/runtime"
)

// Exec runs opts.Command in the running container id, with the container's
// environment, user and working directory, and returns its exit code. When
// ctx ends first the command is killed.
func (r *Runtime) Exec(ctx context.Context, id string, opts runtime.ExecOptions) (int, error) {
	ctx = r.ns(ctx)
	if len(opts.Command) == 0 {
		return -1, fmt.Errorf("containerd: exec in %s: no command", short(id))
	}
	if _, err := r.containerRecord(ctx, id); err != nil {
		return -1, err
	}
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return -1, r.wrap(err, "exec in %s", short(id))
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return -1, r.wrap(err, "exec in %s: the container is not running", short(id))
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return -1, r.wrap(err, "exec in %s", short(id))
	}
	pspec := *spec.Process
	pspec.Args = opts.Command
	pspec.Terminal = opts.TTY
	stdout, stderr := opts.Stdout, opts.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	execID := "exec-" + newID()[:16]
	// The process's stdin is closed once the caller's reader is drained,
	// and not before the process has started: the copy may end first.
	var started client.Process // set before ready is closed
	ready := make(chan struct{})
	var readyOnce sync.Once
	markReady := func(p client.Process) { readyOnce.Do(func() { started = p; close(ready) }) }
	defer markReady(nil)
	var stdin io.Reader
	if opts.Stdin != nil {
		stdin = &eofReader{r: opts.Stdin, eof: func() {
			<-ready
			if started != nil {
				_ = started.CloseIO(context.WithoutCancel(ctx), client.WithStdinCloser)
			}
		}}
	}
	ioOpts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr), cio.WithFIFODir(r.fifoDir(id) + "-exec")}
	if opts.TTY {
		ioOpts = append(ioOpts, cio.WithTerminal)
	}
	proc, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(ioOpts...))
	if err != nil {
		return -1, r.wrap(err, "exec in %s", short(id))
	}
	defer func() {
		_, _ = proc.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
	}()
	statusC, err := proc.Wait(ctx)
	if err != nil {
		return -1, r.wrap(err, "exec in %s", short(id))
	}
	if err := proc.Start(ctx); err != nil {
		return -1, r.wrap(err, "exec in %s", short(id))
	}
	markReady(proc)
	select {
	case st := <-statusC:
		code, _, err := st.Result()
		if err != nil {
			return -1, r.wrap(err, "exec in %s", short(id))
		}
		proc.IO().Wait() // the output is all copied
		return int(code), nil
	case <-ctx.Done():
		_ = proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return -1, ctx.Err()
	}
}

// eofReader calls eof once when r is drained.
type eofReader struct {
	r    io.Reader
	eof  func()
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(e.eof)
	}
	return n, err
}

// ContainerStats returns the CPU and memory usage of the running container
// id from its task's cgroup metrics (v1 or v2).
func (r *Runtime) ContainerStats(ctx context.Context, id string) (runtime.Stats, error) {
	ctx = r.ns(ctx)
	if _, err := r.containerRecord(ctx, id); err != nil {
		return runtime.Stats{}, err
	}
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return runtime.Stats{}, r.wrap(err, "stats of %s", short(id))
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		return runtime.Stats{}, r.wrap(err, "stats of %s: the container is not running", short(id))
	}
	m, err := task.Metrics(ctx)
	if err != nil {
		return runtime.Stats{}, r.wrap(err, "stats of %s", short(id))
	}
	data, err := typeurl.UnmarshalAny(m.Data)
	if err != nil {
		return runtime.Stats{}, fmt.Errorf("containerd: stats of %s: %w", short(id), err)
	}
	st := runtime.Stats{Timestamp: time.Now()}
	if m.Timestamp != nil {
		st.Timestamp = m.Timestamp.AsTime()
	}
	switch v := data.(type) {
	case *cg1stats.Metrics:
		if v.CPU != nil && v.CPU.Usage != nil {
			st.CPUUsageNanos = v.CPU.Usage.Total
		}
		if v.Memory != nil && v.Memory.Usage != nil {
			st.MemoryWorkingSetBytes = sub(v.Memory.Usage.Usage, v.Memory.TotalInactiveFile)
		}
	case *cg2stats.Metrics:
		if v.CPU != nil {
			st.CPUUsageNanos = v.CPU.UsageUsec * 1000
		}
		if v.Memory != nil {
			st.MemoryWorkingSetBytes = sub(v.Memory.Usage, v.Memory.InactiveFile)
		}
	default:
		return runtime.Stats{}, fmt.Errorf("containerd: stats of %s: unknown metrics type %T", short(id), data)
	}
	return st, nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// WatchEvents reports the start and exit of containers in the runtime's
// namespace, from containerd's event stream.
func (r *Runtime) WatchEvents(ctx context.Context) (<-chan runtime.Event, error) {
	ctx = r.ns(ctx)
	sctx, cancel := context.WithCancel(ctx)
	envs, errs := r.cli.Subscribe(sctx, `namespace==`+r.cfg.namespace+`,topic~="^/tasks/(start|exit)$"`)
	out := make(chan runtime.Event, 64)
	go func() {
		defer cancel()
		defer close(out)
		known := map[string][3]string{} // task id → kind, sandbox id, pod uid
		lookup := func(id string) ([3]string, bool) {
			if v, ok := known[id]; ok {
				return v, true
			}
			rec, err := r.cli.ContainerService().Get(ctx, id)
			if err != nil {
				return [3]string{}, false
			}
			v := [3]string{kindContainer, rec.Labels[labelSandbox], rec.Labels[runtime.LabelPodUID]}
			switch rec.Labels[labelKind] {
			case kindContainer:
			case kindSandbox: // its pause task (see pid.go)
				v = [3]string{kindSandbox, id, rec.Labels[runtime.LabelPodUID]}
			default:
				return [3]string{}, false
			}
			known[id] = v
			return v, true
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-errs:
				return
			case env := <-envs:
				if env == nil {
					return
				}
				ev, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				var e runtime.Event
				switch v := ev.(type) {
				case *apievents.TaskStart:
					e = runtime.Event{Type: runtime.EventContainerStarted, ID: v.ContainerID}
				case *apievents.TaskExit:
					if v.ID != v.ContainerID {
						continue // an exec'ed process
					}
					e = runtime.Event{Type: runtime.EventContainerExited, ID: v.ContainerID}
				default:
					continue
				}
				info, ok := lookup(e.ID)
				if !ok {
					continue
				}
				if info[0] == kindSandbox {
					if e.Type != runtime.EventContainerExited {
						continue
					}
					e.Type = runtime.EventSandboxStopped
				}
				e.SandboxID, e.PodUID, e.Time = info[1], info[2], env.Timestamp
				select {
				case out <- e:
				default:
					return // a full queue: the consumer lists again
				}
			}
		}
	}()
	return out, nil
}
