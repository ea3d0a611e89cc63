package containerd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podkit/podkit/runtime"
)

// CreateContainer creates a container in a Ready sandbox: its snapshot and
// spec, not its task (StartContainer makes and starts that).
func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtime.ContainerConfig) (string, error) {
	ctx = r.ns(ctx)
	sb, err := r.sandboxRecord(ctx, sandboxID)
	if err != nil {
		return "", err
	}
	if sb.Labels[labelState] != stateReady {
		return "", fmt.Errorf("containerd: creating container %s: sandbox %s is not Ready", cfg.Name, short(sandboxID))
	}
	img, err := r.image(ctx, cfg.Image)
	if err != nil {
		return "", err
	}
	id := newID()
	ctx, done, err := r.withLease(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	labels := map[string]string{}
	imagePaths, err := r.mountImages(ctx, id, cfg, labels)
	if err != nil {
		_ = os.RemoveAll(filepath.Join(r.containersDir(), id))
		return "", err
	}
	// undo removes what was made for a container that is not created.
	undo := func() {
		_ = r.unmountImages(ctx, id)
		_ = os.RemoveAll(filepath.Join(r.containersDir(), id))
	}
	specOpts, err := r.specOpts(id, sb, img, cfg, imagePaths)
	if err != nil {
		undo()
		return "", err
	}
	podOpts, err := r.podSpecOpts(ctx, sb)
	if err != nil {
		undo()
		return "", fmt.Errorf("containerd: creating container %s: %w", cfg.Name, err)
	}
	specOpts = append(specOpts, podOpts...)
	if cfg.TargetContainerID != "" && sb.Labels[labelSharePID] != "true" && sb.Labels[labelHostPID] != "true" {
		path, err := r.targetPIDNamespace(ctx, sandboxID, cfg.TargetContainerID)
		if err != nil {
			undo()
			return "", fmt.Errorf("containerd: creating container %s: %w", cfg.Name, err)
		}
		specOpts = append(specOpts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: path}))
	}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	labels[labelKind] = kindContainer
	labels[labelState] = stateCreated
	labels[labelSandbox] = sandboxID
	labels[labelName] = cfg.Name
	labels[labelAttempt] = strconv.FormatUint(uint64(cfg.Attempt), 10)
	labels[labelImage] = cfg.Image
	labels[labelResources] = formatResources(mergeResources(runtime.Resources{}, cfg.Resources))
	if cfg.TTY {
		labels[labelTTY] = "true"
	}
	if cfg.TerminationMessagePath != "" {
		// Made before the record, as the image mounts: a crash in between
		// leaves a directory of no container, which the repair at start
		// removes.
		if err := createMessageFile(r.messagePath(id)); err != nil {
			undo()
			return "", fmt.Errorf("containerd: creating container %s: termination message file: %w", cfg.Name, err)
		}
		labels[labelMsgFile] = "true"
	}
	_, err = r.cli.NewContainer(ctx, id,
		client.WithImage(img),
		client.WithSnapshotter(r.cfg.snapshotter),
		client.WithNewSnapshot(id, img),
		client.WithRuntime(cmp.Or(sb.Runtime.Name, r.cfg.runtimeName), nil), // the sandbox's handler's
		client.WithNewSpec(specOpts...),
		client.WithContainerLabels(labels))
	if err != nil {
		// NewContainer may have prepared the snapshot before failing.
		_ = r.cli.SnapshotService(r.cfg.snapshotter).Remove(ctx, id)
		undo()
		return "", r.wrap(err, "creating container %s", cfg.Name)
	}
	return id, nil
}

// messagePath is the host file of container id's termination message,
// beside its log.
func (r *Runtime) messagePath(id string) string {
	return filepath.Join(r.containersDir(), id, "termination-log")
}

// createMessageFile makes the empty file of a termination message,
// writable by any user the container runs as.
func createMessageFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	err = f.Chmod(0o666) // whatever the umask
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// maxMessages bounds the termination messages kept in memory.
const maxMessages = 20_000

// message returns exited container id's termination message. When keep
// is set, the exit is for good and the message, read once, is kept until
// the container is removed.
func (r *Runtime) message(id string, keep bool) string {
	r.mu.Lock()
	m, ok := r.msgs[id]
	r.mu.Unlock()
	if ok {
		return m
	}
	m = runtime.ReadTerminationMessage(r.messagePath(id))
	if !keep {
		return m
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.msgs == nil || len(r.msgs) >= maxMessages {
		r.msgs = map[string]string{} // crude, but bounded; refills as containers are listed
	}
	r.msgs[id] = m
	return m
}

func (r *Runtime) forgetMessage(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.msgs, id)
}

// specOpts builds the OCI spec of a container: the image's config, then the
// pod's and the container's settings on top. imagePaths are the host
// paths of its image mounts, by index in cfg.Mounts (mountImages).
func (r *Runtime) specOpts(id string, sb containers.Container, img client.Image, cfg *runtime.ContainerConfig, imagePaths map[int]string) ([]oci.SpecOpts, error) {
	sbDir := filepath.Join(r.sandboxesDir(), sb.ID)
	hostname, err := os.ReadFile(filepath.Join(sbDir, hostnameFile))
	if err != nil {
		return nil, fmt.Errorf("containerd: sandbox %s files: %w", short(sb.ID), err)
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(img)}
	switch {
	case len(cfg.Command) > 0:
		opts = append(opts, oci.WithProcessArgs(append(append([]string{}, cfg.Command...), cfg.Args...)...))
	case len(cfg.Args) > 0:
		opts = append(opts, oci.WithImageConfigArgs(img, cfg.Args))
	}
	host := strings.TrimSpace(string(hostname))
	env := []string{"HOSTNAME=" + host}
	for _, e := range cfg.Env {
		env = append(env, e.Name+"="+e.Value)
	}
	opts = append(opts, oci.WithEnv(env), oci.WithHostname(host),
		oci.WithCgroup(containerCgroup(r.cfg.namespace, sb.Labels, id)))
	if cfg.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(cfg.WorkingDir))
	}
	if sb.Labels[labelHostNet] == "true" {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	} else {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.Labels[labelNetNS]}))
	}
	mounts := []specs.Mount{
		bind(filepath.Join(sbDir, hostsFile), "/etc/hosts", false),
		bind(filepath.Join(sbDir, resolvFile), "/etc/resolv.conf", false),
		bind(filepath.Join(sbDir, hostnameFile), "/etc/hostname", false),
		cgroupMount(cfg.Privileged),
	}
	for i, m := range cfg.Mounts {
		if p, ok := imagePaths[i]; ok {
			if !filepath.IsAbs(m.ContainerPath) {
				return nil, fmt.Errorf("containerd: container %s: image mount %s: want an absolute path", cfg.Name, m.ContainerPath)
			}
			mounts = append(mounts, imageBind(p, m))
			continue
		}
		if !filepath.IsAbs(m.HostPath) || !filepath.IsAbs(m.ContainerPath) {
			return nil, fmt.Errorf("containerd: container %s: mount %s:%s: want absolute paths", cfg.Name, m.HostPath, m.ContainerPath)
		}
		if m.RecursiveReadOnly && !r.shimRecursiveReadOnly(cmp.Or(sb.Runtime.Name, r.cfg.runtimeName)) {
			return nil, fmt.Errorf("containerd: container %s: mount %s: %w by runtime %s", cfg.Name, m.ContainerPath,
				runtime.ErrRecursiveReadOnly, cmp.Or(sb.Runtime.Name, r.cfg.runtimeName))
		}
		b, err := propagatedBind(m)
		if err != nil {
			return nil, fmt.Errorf("containerd: container %s: %w", cfg.Name, err)
		}
		mounts = append(mounts, b)
	}
	if p := cfg.TerminationMessagePath; p != "" {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("containerd: container %s: termination message path %s: want an absolute path", cfg.Name, p)
		}
		mounts = append(mounts, bind(r.messagePath(id), p, false))
	}
	opts = append(opts, oci.WithMounts(mounts), withRootfsPropagation(cfg.Mounts))
	res := cfg.Resources
	if res.CPUShares > 0 {
		opts = append(opts, oci.WithCPUShares(uint64(res.CPUShares)))
	}
	if res.CPUQuotaMillis > 0 {
		quota := max(res.CPUQuotaMillis*cpuPeriod/1000, 1000) // the kernel's minimum
		opts = append(opts, oci.WithCPUCFS(quota, cpuPeriod))
	}
	if res.MemoryLimitBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(res.MemoryLimitBytes)))
		if swapAccounting() {
			// No swap beyond the limit, as the kubelet sets it: a container
			// over its limit is OOM-killed rather than swapped out.
			opts = append(opts, oci.WithMemorySwap(res.MemoryLimitBytes))
		}
	}
	if cfg.User != "" {
		uid, gid, hasGID := strings.Cut(cfg.User, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("containerd: container %s: user %q: want uid or uid:gid", cfg.Name, cfg.User)
		}
		if hasGID {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("containerd: container %s: user %q: want uid or uid:gid", cfg.Name, cfg.User)
			}
			opts = append(opts, oci.WithUIDGID(uint32(u), uint32(g)))
		} else {
			opts = append(opts, oci.WithUserID(uint32(u)))
		}
	}
	if cfg.Privileged {
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
	}
	if cfg.ReadOnly {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if len(cfg.CapDrop) > 0 {
		if hasAll(cfg.CapDrop) {
			opts = append(opts, oci.WithCapabilities(nil))
		} else {
			opts = append(opts, oci.WithDroppedCapabilities(capNames(cfg.CapDrop)))
		}
	}
	if len(cfg.CapAdd) > 0 {
		if hasAll(cfg.CapAdd) {
			opts = append(opts, oci.WithAllKnownCapabilities)
		} else {
			opts = append(opts, oci.WithAddedCapabilities(capNames(cfg.CapAdd)))
		}
	}
	sec, err := securityOpts(cfg)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	if cfg.TTY {
		opts = append(opts, oci.WithTTY)
	}
	return opts, nil
}

func bind(src, dst string, ro bool) specs.Mount {
	mode := "rw"
	if ro {
		mode = "ro"
	}
	return specs.Mount{Type: "bind", Source: src, Destination: dst, Options: []string{"rbind", "rprivate", mode}}
}

func hasAll(caps []string) bool {
	for _, c := range caps {
		if strings.EqualFold(c, "ALL") {
			return true
		}
	}
	return false
}

func capNames(caps []string) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out[i] = c
	}
	return out
}

// cgroupMount is the container's own cgroup at /sys/fs/cgroup, as the
// kubelet's runtimes (and Docker) give every container: programs read
// their CPU and memory limits there (a JVM sizes its heap by them, Go its
// GOMAXPROCS). Read-only unless the container is privileged, as
// containerd's CRI plugin mounts it.
func cgroupMount(privileged bool) specs.Mount {
	mode := "ro"
	if privileged {
		mode = "rw"
	}
	return specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", mode}}
}

// cgroupPath is where a container's cgroup lives (relative to each
// hierarchy), set in its spec so the OOM check knows where to look.
func cgroupPath(ns, id string) string { return "/" + ns + "/" + id }

// containerRecord returns the record of container id.
func (r *Runtime) containerRecord(ctx context.Context, id string) (containers.Container, error) {
	return r.record(ctx, kindContainer, id)
}

// record returns the record of id, a sandbox or container as kind says;
// an object of the other kind is not found.
func (r *Runtime) record(ctx context.Context, kind, id string) (containers.Container, error) {
	c, err := r.cli.ContainerService().Get(ctx, id)
	if err != nil {
		return c, r.wrap(err, "%s %s", kind, short(id))
	}
	if c.Labels[labelKind] != kind {
		return c, fmt.Errorf("containerd: %s %s: %w", kind, short(id), runtime.ErrNotFound)
	}
	return c, nil
}

// StartContainer creates the container's task, with its output going to
// the container's log, and starts it.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ctx = r.ns(ctx)
	rec, err := r.containerRecord(ctx, id)
	if err != nil {
		return err
	}
	if rec.Labels[labelState] != stateCreated {
		return fmt.Errorf("containerd: starting container %s: it was started before; a container runs once", short(id))
	}
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return r.wrap(err, "starting container %s", short(id))
	}
	// Mark the start first: a container that failed to start is Exited,
	// never Created again.
	if err := r.setLabels(ctx, id, map[string]string{labelState: stateRunning, labelStarted: time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	w, err := r.newWatch(id, rec.Labels[labelTTY] == "true")
	if err != nil {
		r.failStart(ctx, id, err)
		return err
	}
	task, err := c.NewTask(ctx, w.creator)
	if err != nil {
		r.unwatch(id)
		r.failStart(ctx, id, err)
		return r.wrap(err, "starting container %s", short(id))
	}
	exitCh, err := task.Wait(r.bg)
	if err == nil {
		err = task.Start(ctx)
	}
	if err != nil {
		r.unwatch(id)
		r.failStart(ctx, id, err)
		return r.wrap(err, "starting container %s", short(id))
	}
	r.watchExit(w, exitCh)
	return nil
}

// failStart records that container id could not start, deleting its task
// if one was made. When the daemon went away during the start, whether the
// task started is known only once it answers again: a task that started is
// then watched as any running one, and one only created is deleted and its
// start recorded as failed, in the background. Meanwhile ListContainers
// reports a created task exited all the same.
func (r *Runtime) failStart(ctx context.Context, id string, cause error) {
	ctx = context.WithoutCancel(ctx)
	err := cause
	if !errors.Is(r.wrap(cause, ""), runtime.ErrUnavailable) {
		err = r.recordFailedStart(ctx, id, cause)
	}
	if !errors.Is(r.wrap(err, ""), runtime.ErrUnavailable) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return // the next New settles it (recover)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		retry(r.bg, func() bool {
			err := r.settleStart(r.ns(r.bg), id, cause)
			if errors.Is(err, runtime.ErrUnavailable) {
				return false
			}
			if err != nil {
				r.log.Warn("settling a container's start cut short", "container", short(id), "err", err)
			}
			return true
		})
	}()
}

// retry calls f after a pause, growing from 50 ms to 2 s, until f reports
// that it is done; it returns false if ctx ends first.
func retry(ctx context.Context, f func() (done bool)) bool {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		if f() {
			return true
		}
	}
}

// settleStart settles the start of container id that the daemon's going
// away cut short, by the state of its task.
func (r *Runtime) settleStart(ctx context.Context, id string, cause error) error {
	rec, err := r.containerRecord(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil // removed meanwhile
	}
	if err != nil {
		return err
	}
	_, st, err := r.taskStatus(ctx, id)
	if err := r.wrap(err, "container %s", short(id)); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	switch {
	case err != nil, st.Status == client.Created:
		return r.recordFailedStart(ctx, id, cause)
	case st.Status == client.Stopped: // it started, and exited
		r.finalize(ctx, id, st.ExitStatus, st.ExitTime)
		return nil
	default: // it started
		return r.reattach(ctx, rec)
	}
}

// recordFailedStart deletes container id's task, if any, and records its
// exit as a failed start.
func (r *Runtime) recordFailedStart(ctx context.Context, id string, cause error) error {
	ctx = r.ns(ctx)
	c, err := r.cli.LoadContainer(ctx, id)
	if err == nil {
		var task client.Task
		if task, err = c.Task(ctx, nil); err == nil {
			_, err = task.Delete(ctx, client.WithProcessKill)
		}
	}
	if err := r.wrap(err, "deleting the task of container %s", short(id)); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return err
	}
	if err := r.setLabels(ctx, id, map[string]string{
		labelState: stateExited, labelExit: "128", labelReason: "Error", labelMessage: truncate(cause.Error(), 1024),
		labelFinished: time.Now().UTC().Format(time.RFC3339Nano),
	}); err != nil {
		return err
	}
	_ = os.RemoveAll(r.fifoDir(id))
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// StopContainer signals the container and kills it after the grace period.
func (r *Runtime) StopContainer(ctx context.Context, id string, opts runtime.StopOptions) error {
	ctx = r.ns(ctx)
	if _, err := r.containerRecord(ctx, id); err != nil {
		return err
	}
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return r.wrap(err, "stopping container %s", short(id))
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		if errors.Is(r.wrap(err, ""), runtime.ErrNotFound) {
			return nil // never started, or exited and recorded
		}
		return r.wrap(err, "stopping container %s", short(id))
	}
	st, err := task.Status(ctx)
	if err != nil {
		return ignoreNotFound(r.wrap(err, "stopping container %s", short(id)))
	}
	if st.Status != client.Running && st.Status != client.Paused && st.Status != client.Pausing {
		return nil
	}
	exitCh, err := task.Wait(ctx)
	if err != nil {
		return ignoreNotFound(r.wrap(err, "stopping container %s", short(id)))
	}
	sig := opts.Signal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if opts.Grace <= 0 {
		sig = syscall.SIGKILL
	}
	if err := task.Kill(ctx, sig); err != nil {
		if err := ignoreNotFound(r.wrap(err, "signalling container %s", short(id))); err != nil {
			return err
		}
	}
	if sig != syscall.SIGKILL {
		t := time.NewTimer(opts.Grace)
		defer t.Stop()
		select {
		case st := <-exitCh:
			return r.wrap(st.Error(), "stopping container %s", short(id))
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
			if err := ignoreNotFound(r.wrap(err, "killing container %s", short(id))); err != nil {
				return err
			}
		}
	}
	select {
	case st := <-exitCh: // an error when the wait broke, not the task
		return r.wrap(st.Error(), "stopping container %s", short(id))
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ignoreNotFound(err error) error {
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	return err
}

// RemoveContainer kills the container if needed and removes it, its
// snapshot, its image mounts, its log and its termination message file.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	ctx = r.ns(ctx)
	if _, err := r.containerRecord(ctx, id); err != nil {
		return err
	}
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return r.wrap(err, "removing container %s", short(id))
	}
	for attempt := 1; ; attempt++ {
		task, err := c.Task(ctx, nil)
		if err != nil {
			if err := ignoreNotFound(r.wrap(err, "removing container %s", short(id))); err != nil {
				return err
			}
			break
		}
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil {
			if shimGone(err) && attempt < 5 {
				continue // the shim exited while we asked: look at the task again
			}
			if err := ignoreNotFound(r.wrap(err, "removing container %s", short(id))); err != nil {
				return err
			}
		}
		break
	}
	r.unwatch(id)
	// Before the record goes, so that a failure leaves the container to
	// remove again.
	if err := r.unmountImages(ctx, id); err != nil {
		return fmt.Errorf("containerd: removing container %s: %w", short(id), err)
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		if err := ignoreNotFound(r.wrap(err, "removing container %s", short(id))); err != nil {
			return err
		}
	}
	r.logs.forget(id)
	r.forgetMessage(id)
	if err := os.RemoveAll(filepath.Join(r.containersDir(), id)); err != nil {
		return fmt.Errorf("containerd: removing container %s: %w", short(id), err)
	}
	return nil
}

// containerRecords lists the container records matching f.
func (r *Runtime) containerRecords(ctx context.Context, f runtime.Filter) ([]containers.Container, error) {
	labels := f.Labels
	if f.SandboxID != "" {
		labels = map[string]string{labelSandbox: f.SandboxID}
		for k, v := range f.Labels {
			labels[k] = v
		}
	}
	recs, err := r.cli.ContainerService().List(ctx, labelFilter(kindContainer, labels))
	if err != nil {
		return nil, r.wrap(err, "listing containers")
	}
	return recs, nil
}

// ListContainers lists the containers matching f, with their state: from
// the task while there is one, from the recorded exit once it is gone.
func (r *Runtime) ListContainers(ctx context.Context, f runtime.Filter) ([]runtime.ContainerStatus, error) {
	ctx = r.ns(ctx)
	recs, err := r.containerRecords(ctx, f)
	if err != nil {
		return nil, err
	}
	tasks := map[string]*tasktypes.Process{}
	if len(recs) > 0 {
		resp, err := r.cli.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			return nil, r.wrap(err, "listing tasks")
		}
		for _, t := range resp.Tasks {
			tasks[t.ID] = t
		}
	}
	out := make([]runtime.ContainerStatus, 0, len(recs))
	for _, c := range recs {
		if t := tasks[c.ID]; t == nil && c.Labels[labelState] == stateRunning {
			// The task may have been deleted after its exit was recorded
			// since the records were read: read the record again.
			if fresh, err := r.cli.ContainerService().Get(ctx, c.ID); err == nil {
				c = fresh
			} else if errors.Is(r.wrap(err, ""), runtime.ErrNotFound) {
				continue
			}
		}
		out = append(out, r.containerStatus(c, tasks[c.ID]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (r *Runtime) containerStatus(c containers.Container, t *tasktypes.Process) runtime.ContainerStatus {
	l := c.Labels
	st := runtime.ContainerStatus{
		ID: c.ID, SandboxID: l[labelSandbox], Name: l[labelName], Attempt: attempt(l),
		Image: l[labelImage], ImageID: c.Image, CreatedAt: c.CreatedAt, StartedAt: parseTime(l[labelStarted]),
		Labels: publicLabels(l),
	}
	if res, ok := parseResources(l[labelResources]); ok {
		st.Resources = &res
	}
	if t != nil {
		switch t.Status {
		case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
			st.State = runtime.ContainerRunning
			return st
		case tasktypes.Status_CREATED:
			if l[labelState] == stateCreated {
				st.State = runtime.ContainerCreated
				return st
			}
			// Else a start cut short, its failure not recorded yet.
			st.State = runtime.ContainerExited
			st.ExitCode = 128
			st.Reason = "Error"
			st.Message = "the container's start was cut short (containerd or the process restarted)"
			st.FinishedAt = st.StartedAt
			return st
		case tasktypes.Status_STOPPED:
			if l[labelState] != stateExited { // not recorded yet
				st.State = runtime.ContainerExited
				st.ExitCode = int32(t.ExitStatus)
				if t.ExitedAt != nil {
					st.FinishedAt = t.ExitedAt.AsTime()
				}
				st.Reason = exitReason(st.ExitCode, r.oomKilled(c.ID))
				if l[labelMsgFile] != "" {
					st.Message = r.message(c.ID, true)
				}
				return st
			}
		}
	}
	switch l[labelState] {
	case stateCreated:
		st.State = runtime.ContainerCreated
	case stateExited:
		st.State = runtime.ContainerExited
		code, _ := strconv.ParseInt(l[labelExit], 10, 32)
		st.ExitCode = int32(code)
		st.Reason = l[labelReason]
		st.Message = l[labelMessage]
		st.FinishedAt = parseTime(l[labelFinished])
		if l[labelMsgFile] != "" {
			st.Message = runtime.JoinMessages(st.Message, r.message(c.ID, true))
		}
	default: // started, and its task is gone without a recorded exit
		st.State = runtime.ContainerExited
		st.ExitCode = 255
		st.Reason = "Error"
		st.Message = "the container's task is gone (containerd or the host restarted)"
		st.FinishedAt = st.StartedAt
		if l[labelMsgFile] != "" {
			// Not kept: a start in progress looks the same until its
			// task shows (see ListContainers).
			st.Message = runtime.JoinMessages(st.Message, r.message(c.ID, false))
		}
	}
	return st
}

func exitReason(code int32, oom bool) string {
	switch {
	case oom:
		return "OOMKilled"
	case code == 0:
		return "Completed"
	}
	return "Error"
}

// oomKilled reports whether the kernel killed a process of container id's
// cgroup for exceeding its memory limit. It reads the cgroup, which exists
// until the task is deleted.
func (r *Runtime) oomKilled(id string) bool {
	cg := cgroupPath(r.cfg.namespace, id)
	paths := []string{
		filepath.Join("/sys/fs/cgroup/memory", cg, "memory.oom_control"), // v1
		filepath.Join("/sys/fs/cgroup", cg, "memory.events"),             // v2
	}
	// In a pod cgroup (podCgroupPath), it is below the sandbox's.
	for _, pattern := range []string{"/sys/fs/cgroup/memory/%s/pod-*/%s/memory.oom_control", "/sys/fs/cgroup/%s/pod-*/%s/memory.events"} {
		found, _ := filepath.Glob(fmt.Sprintf(pattern, r.cfg.namespace, id))
		paths = append(paths, found...)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
				return f[1] != "0"
			}
		}
	}
	return false
}

// swapAccounting reports whether cgroup v1 accounts swap (memsw files), so
// that a swap limit can be set.
func swapAccounting() bool {
	_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
	return err == nil
}

// shimGone reports an error from a task whose shim exited during the call,
// which containerd reports as a closed ttrpc connection.
func shimGone(err error) bool { return strings.Contains(err.Error(), "ttrpc: closed") }
