package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/runtime"
)

// CreateContainer implements runtime.ContainerService. The container joins
// the sandbox's network and IPC namespaces (and PID namespace, when the
// sandbox shares it; the host's, when the sandbox is in the host's; its
// TargetContainerID's otherwise, when set) and mounts its hosts file when
// it has one of podkit's; Command replaces the image's entrypoint and
// Args its command, as Kubernetes means them.
// Mounts propagate as asked (rslave, rshared), which the engine refuses,
// when the container starts, for a host path on a mount of the host that
// is not shared (or, for HostToContainer, a slave).
func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtime.ContainerConfig) (_ string, err error) {
	sb, err := r.inspectSandbox(ctx, sandboxID)
	if err != nil {
		return "", err
	}
	if !sb.State.Running {
		return "", fmt.Errorf("docker: create container %s: sandbox %s is not ready", cfg.Name, short(sb.ID))
	}
	var msgFile string
	if cfg.TerminationMessagePath != "" {
		if msgFile, err = messageFile(sb); err != nil {
			return "", fmt.Errorf("docker: create container %s: termination message file: %w", cfg.Name, err)
		}
		defer func() {
			if err != nil {
				os.Remove(msgFile)
			}
		}()
	}
	opts, err := containerOptions(sb, cfg, msgFile)
	if err != nil {
		return "", err
	}
	opts.HostConfig.LogConfig = r.logConfig()
	if sb.Config.Labels[labelHosts] == "true" {
		path, err := hostsFile(sb)
		if err != nil {
			return "", fmt.Errorf("docker: create container %s: %w", cfg.Name, err)
		}
		opts.HostConfig.Mounts = append(opts.HostConfig.Mounts, mount.Mount{Type: mount.TypeBind, Source: path, Target: "/etc/hosts"})
	}
	switch {
	case sb.Config.Labels[labelHostPID] == "true":
		opts.HostConfig.PidMode = container.PidMode("host")
	case sb.Config.Labels[labelSharePID] == "true":
		opts.HostConfig.PidMode = container.PidMode("container:" + sb.ID)
	case cfg.TargetContainerID != "":
		target, err := r.runningTarget(ctx, sb.ID, cfg)
		if err != nil {
			return "", err
		}
		opts.HostConfig.PidMode = container.PidMode("container:" + target)
	}
	if sb.Config.Labels[labelHostIPC] == "true" {
		opts.HostConfig.IpcMode = container.IPCModeHost
	}
	if sb.HostConfig != nil {
		opts.HostConfig.Runtime = sb.HostConfig.Runtime // the sandbox's runtime handler
	}
	opts.HostConfig.CgroupParent = sb.Config.Labels[labelPodCgroup] // its pod cgroup, if it has one
	id, err := r.create(ctx, opts, "container "+cfg.Name)
	if err != nil {
		return id, err
	}
	return r.fixGroups(ctx, id, opts, cfg)
}

// runningTarget returns the engine's id of cfg's TargetContainerID, a
// running container of sandbox sbID, whose PID namespace the container
// joins (the engine's "container:<id>" PID mode, which needs it running).
func (r *Runtime) runningTarget(ctx context.Context, sbID string, cfg *runtime.ContainerConfig) (string, error) {
	t, err := r.inspectContainer(ctx, cfg.TargetContainerID)
	if err != nil {
		return "", fmt.Errorf("docker: create container %s: its target: %w", cfg.Name, err)
	}
	if t.Config.Labels[labelSandbox] != sbID {
		return "", fmt.Errorf("docker: create container %s: target container %s is not of sandbox %s", cfg.Name, short(t.ID), short(sbID))
	}
	if !t.State.Running {
		return "", fmt.Errorf("docker: create container %s: target container %s is %s, not running", cfg.Name, short(t.ID), t.State.Status)
	}
	return t.ID, nil
}

// messageFile makes the empty host file of a container's termination
// message in the engine's directory of sandbox sb, beside its resolv.conf,
// hosts and hostname files: what the container does not remove goes with
// the sandbox.
func messageFile(sb container.InspectResponse) (string, error) {
	if !filepath.IsAbs(sb.HostnamePath) {
		return "", fmt.Errorf("sandbox %s has no directory on this host", short(sb.ID))
	}
	f, err := os.CreateTemp(filepath.Dir(sb.HostnamePath), "podkit-termination-")
	if err != nil {
		return "", err
	}
	err = f.Chmod(0o666) // writable by any user the container runs as
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// containerOptions makes the engine's options of a container; msgFile,
// when set, is the host file of its termination message.
func containerOptions(sb container.InspectResponse, cfg *runtime.ContainerConfig, msgFile string) (client.ContainerCreateOptions, error) {
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelKind] = kindContainer
	labels[labelSandbox] = sb.ID
	labels[labelName] = cfg.Name
	labels[labelAttempt] = strconv.FormatUint(uint64(cfg.Attempt), 10)
	labels[labelImage] = cfg.Image
	labels[labelCreated] = time.Now().UTC().Format(time.RFC3339Nano)
	c := &container.Config{
		Image:      cfg.Image,
		WorkingDir: cfg.WorkingDir,
		User:       cfg.User,
		Tty:        cfg.TTY,
		OpenStdin:  cfg.Stdin,
		Labels:     labels,
	}
	if len(cfg.Command) > 0 {
		c.Entrypoint = cfg.Command
	}
	if len(cfg.Args) > 0 {
		c.Cmd = cfg.Args
	}
	for _, e := range cfg.Env {
		c.Env = append(c.Env, e.Name+"="+e.Value)
	}
	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode("container:" + sb.ID),
		IpcMode:        container.IpcMode("container:" + sb.ID),
		Privileged:     cfg.Privileged,
		ReadonlyRootfs: cfg.ReadOnly,
		CapAdd:         cfg.CapAdd,
		CapDrop:        cfg.CapDrop,
	}
	if err := applySecurity(hc, cfg); err != nil {
		return client.ContainerCreateOptions{}, err
	}
	res := cfg.Resources
	if res.CPUShares > 0 {
		hc.CPUShares = max(res.CPUShares, 2) // the kernel's minimum
	}
	if res.CPUQuotaMillis > 0 {
		hc.CPUPeriod = cpuPeriod
		hc.CPUQuota = max(res.CPUQuotaMillis*cpuPeriod/1000, 1000)
	}
	if res.MemoryLimitBytes > 0 {
		hc.Memory = res.MemoryLimitBytes
		hc.MemorySwap = res.MemoryLimitBytes // no swap, so the limit is what OOM-kills
	}
	for _, m := range cfg.Mounts {
		if m.Image != "" {
			// The engine's API has image mounts from 1.48 on (Docker 28);
			// this backend does not ask for them.
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: container %s: mount %s: %w by this backend", cfg.Name, m.ContainerPath, runtime.ErrImageVolume)
		}
		if m.HostPath == "" || m.ContainerPath == "" {
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: container %s: mount %q→%q: both paths are required", cfg.Name, m.HostPath, m.ContainerPath)
		}
		if m.RecursiveReadOnly {
			// The engine's API has them from 1.44 on (Docker 25); this
			// backend does not ask for them, and reports so by not being
			// a runtime.RecursiveReadOnlyReporter.
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: container %s: mount %s: %w by this backend", cfg.Name, m.ContainerPath, runtime.ErrRecursiveReadOnly)
		}
		bm := mount.Mount{Type: mount.TypeBind, Source: m.HostPath, Target: m.ContainerPath, ReadOnly: m.ReadOnly}
		switch m.Propagation {
		case runtime.PropagationHostToContainer:
			bm.BindOptions = &mount.BindOptions{Propagation: mount.PropagationRSlave}
		case runtime.PropagationBidirectional:
			bm.BindOptions = &mount.BindOptions{Propagation: mount.PropagationRShared}
		}
		hc.Mounts = append(hc.Mounts, bm)
	}
	if msgFile != "" {
		labels[labelMsgFile] = msgFile
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: msgFile, Target: cfg.TerminationMessagePath})
	}
	name := fmt.Sprintf("podkit_%s_%s_%d", clean(cfg.Name), sb.Config.Labels[labelStem], cfg.Attempt)
	return client.ContainerCreateOptions{Name: name, Config: c, HostConfig: hc}, nil
}

// inspectContainer inspects an app container; anything else is
// ErrNotFound.
func (r *Runtime) inspectContainer(ctx context.Context, id string) (container.InspectResponse, error) {
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, r.wrap(err, "container %s", short(id))
	}
	c := res.Container
	if c.Config == nil || c.Config.Labels[labelKind] != kindContainer || c.State == nil {
		return container.InspectResponse{}, fmt.Errorf("docker: container %s: not a podkit container: %w", short(id), runtime.ErrNotFound)
	}
	return c, nil
}

// StartContainer implements runtime.ContainerService. Docker could start an
// exited container again; podkit's contract runs a container once, so
// anything but a fresh container is refused.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	c, err := r.inspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if c.State.Status != container.StateCreated || c.State.Error != "" {
		return fmt.Errorf("docker: start container %s: it is %s, not Created: a container runs once", short(id), c.State.Status)
	}
	if _, err := r.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		return r.wrap(err, "start container %s", short(id))
	}
	return nil
}

// StopContainer implements runtime.ContainerService. The grace period is
// timed here rather than by the engine, whose stop timeout counts whole
// seconds.
func (r *Runtime) StopContainer(ctx context.Context, id string, opts runtime.StopOptions) error {
	c, err := r.inspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return nil
	}
	sig := opts.Signal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if opts.Grace <= 0 {
		sig = syscall.SIGKILL
	}
	return r.signalAndWait(ctx, c.ID, sig, opts.Grace)
}

// signalAndWait sends sig and waits for the container to exit; unless sig
// is SIGKILL, it sends SIGKILL once grace has passed.
func (r *Runtime) signalAndWait(ctx context.Context, id string, sig syscall.Signal, grace time.Duration) error {
	if _, err := r.cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: strconv.Itoa(int(sig))}); err != nil {
		if cerrdefs.IsConflict(err) { // not running (any more)
			return nil
		}
		return r.wrap(err, "signal %s to %s", sig, short(id))
	}
	if sig == syscall.SIGKILL {
		return r.wait(ctx, id)
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	err := r.wait(gctx, id)
	cancel()
	if err == nil || ctx.Err() != nil {
		return err
	}
	return r.signalAndWait(ctx, id, syscall.SIGKILL, 0)
}

// wait returns once the container is not running.
func (r *Runtime) wait(ctx context.Context, id string) error {
	res := r.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-res.Result:
		return nil
	case err := <-res.Error:
		if cerrdefs.IsNotFound(err) {
			return nil // removed: not running either
		}
		return r.wrap(err, "wait for %s", short(id))
	}
}

// RemoveContainer implements runtime.ContainerService.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	c, err := r.inspectContainer(ctx, id)
	if err != nil {
		return err
	}
	return r.removeContainer(ctx, c.ID, c.Config.Labels)
}

// removeContainer removes an app container, then the host file of its
// termination message, which its labels name.
func (r *Runtime) removeContainer(ctx context.Context, id string, labels map[string]string) error {
	if err := r.remove(ctx, id); err != nil {
		return err
	}
	if f := labels[labelMsgFile]; f != "" {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("docker: remove the termination message file of %s: %w", short(id), err)
		}
	}
	return nil
}

// ListContainers implements runtime.ContainerService, oldest first. The
// engine's list lacks exit codes and times, so each container is inspected,
// once per state it is seen in: the inspection of a running or exited
// container is cached until its state changes.
func (r *Runtime) ListContainers(ctx context.Context, f runtime.Filter) ([]runtime.ContainerStatus, error) {
	items, err := r.list(ctx, kindContainer, f)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.ContainerStatus, len(items))
	found := make([]bool, len(items))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, c := range items {
		if st, ok := r.cache.get(c.ID, c.State); ok {
			out[i], found[i] = st, true
			continue
		}
		g.Go(func() error {
			res, err := r.cli.ContainerInspect(gctx, c.ID, client.ContainerInspectOptions{})
			if cerrdefs.IsNotFound(err) {
				return nil // removed since it was listed
			}
			if err != nil {
				return r.wrap(err, "inspect container %s", short(c.ID))
			}
			if res.Container.State == nil || res.Container.Config == nil {
				return nil
			}
			st := containerStatus(res.Container)
			if f := res.Container.Config.Labels[labelMsgFile]; f != "" && st.State == runtime.ContainerExited {
				st.Message = runtime.JoinMessages(st.Message, r.cache.message(c.ID, f))
			}
			st = r.cache.put(c.ID, res.Container.State.Status, st)
			out[i], found[i] = st, true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	n := 0
	for i := range out {
		if found[i] {
			out[n] = out[i]
			n++
		}
	}
	out = out[:n]
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// containerStatus translates an inspection. A container whose start failed
// stays "created" in Docker with an error; podkit reports it exited, with
// reason StartError, as the CRI does.
func containerStatus(c container.InspectResponse) runtime.ContainerStatus {
	l := c.Config.Labels
	st := runtime.ContainerStatus{
		ID:         c.ID,
		SandboxID:  l[labelSandbox],
		Name:       l[labelName],
		Attempt:    attempt(l),
		Image:      l[labelImage],
		ImageID:    c.Image,
		ExitCode:   int32(c.State.ExitCode),
		Message:    c.State.Error,
		CreatedAt:  parseTime(c.Created),
		StartedAt:  parseTime(c.State.StartedAt),
		FinishedAt: parseTime(c.State.FinishedAt),
		Labels:     publicLabels(l),
		Resources:  resourcesOf(c.HostConfig),
	}
	if st.Image == "" {
		st.Image = c.Config.Image
	}
	switch c.State.Status {
	case container.StateCreated:
		st.State = runtime.ContainerCreated
		if c.State.Error != "" {
			st.State, st.Reason = runtime.ContainerExited, "StartError"
			if st.ExitCode == 0 {
				st.ExitCode = 128
			}
			if st.FinishedAt.IsZero() {
				st.FinishedAt = st.CreatedAt
			}
		}
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		st.State = runtime.ContainerRunning
	case container.StateExited, container.StateDead, container.StateRemoving:
		st.State = runtime.ContainerExited
		switch {
		case c.State.OOMKilled:
			st.Reason = "OOMKilled"
		case st.ExitCode == 0:
			st.Reason = "Completed"
		default:
			st.Reason = "Error"
		}
	default:
		st.State = runtime.ContainerUnknown
	}
	return st
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// inspectCache keeps container statuses by id and engine state, and the
// termination messages of exited containers, read once. A running
// container's status changes only when its state does; an exited one's
// never, but for one: a SIGKILL not (yet) known as an OOM kill, since the
// daemon's OOM event may come after the exit's. Created containers are not
// cached: a failed start changes them in place.
//
// It also keeps the containers an OOM event was seen for, while the
// engine's events are followed (WatchEvents): the engine's
// State.OOMKilled is not always set after such an event (seen for a
// container killed within milliseconds of its start), and a container
// with a process killed for memory ends OOMKilled, as the CRI reports it.
type inspectCache struct {
	mu   sync.Mutex
	m    map[string]cachedStatus
	oom  map[string]struct{}
	msgs map[string]string
}

type cachedStatus struct {
	state container.ContainerState
	st    runtime.ContainerStatus
}

const inspectCacheMax = 20_000

func (c *inspectCache) get(id string, state container.ContainerState) (runtime.ContainerStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || e.state != state {
		return runtime.ContainerStatus{}, false
	}
	st := e.st
	st.Labels = maps.Clone(st.Labels)
	return st, true
}

// put returns st, a container's status just read, with reason OOMKilled
// if it exited and an OOM event was seen for it, and keeps it if it may.
func (c *inspectCache) put(id string, state container.ContainerState, st runtime.ContainerStatus) runtime.ContainerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, oom := c.oom[id]; oom && st.State == runtime.ContainerExited {
		st.Reason = "OOMKilled"
	}
	if state != container.StateRunning && state != container.StateExited && state != container.StateDead ||
		st.State == runtime.ContainerExited && st.ExitCode == 137 && st.Reason != "OOMKilled" {
		return st
	}
	if c.m == nil || len(c.m) >= inspectCacheMax {
		c.m = map[string]cachedStatus{} // crude, but bounded; refills on the next list
	}
	kept := st
	kept.Labels = maps.Clone(st.Labels)
	c.m[id] = cachedStatus{state: state, st: kept}
	return st
}

func (c *inspectCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	delete(c.oom, id)
	delete(c.msgs, id)
}

// message returns the termination message of exited container id, read
// from its file the first time. A status that is not kept (see put) is
// read again at each list; its message is not.
func (c *inspectCache) message(id, file string) string {
	c.mu.Lock()
	m, ok := c.msgs[id]
	c.mu.Unlock()
	if ok {
		return m
	}
	m = runtime.ReadTerminationMessage(file)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.msgs == nil || len(c.msgs) >= inspectCacheMax {
		c.msgs = map[string]string{} // as crude as the statuses' bound
	}
	c.msgs[id] = m
	return m
}

// sawOOM records an OOM event for container id; its cached status, if
// any, is read again.
func (c *inspectCache) sawOOM(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.oom == nil || len(c.oom) >= inspectCacheMax {
		c.oom = map[string]struct{}{} // as crude as the statuses' bound
	}
	c.oom[id] = struct{}{}
	delete(c.m, id)
}
