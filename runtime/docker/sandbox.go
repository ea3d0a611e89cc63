package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

	"github.com/podkit/podkit/internal/podcgroup"
	"github.com/podkit/podkit/runtime"
)

// RunSandbox implements runtime.SandboxService: it starts a container of
// the sandbox image on the pod network (or the host's, for HostNetwork),
// with the pod's hostname, DNS settings and published ports, and an IPC
// namespace the pod's containers share (the host's, for HostIPC). For
// HostPID it runs in the host's PID namespace, as its containers do.
func (r *Runtime) RunSandbox(ctx context.Context, cfg *runtime.SandboxConfig) (string, error) {
	if cfg.Resources != nil && !r.PodLevelResources() {
		return "", fmt.Errorf("docker: sandbox %s: %w: pod cgroups need an engine of this host with the cgroupfs driver", cfg, runtime.ErrPodResources)
	}
	if err := r.ensureSandboxImage(ctx); err != nil {
		return "", err
	}
	if h := cfg.RuntimeHandler; h != "" {
		if err := r.checkHandler(ctx, h); err != nil {
			return "", fmt.Errorf("docker: sandbox %s: %w", cfg, err)
		}
	}
	opts, err := r.sandboxOptions(cfg)
	if err != nil {
		return "", err
	}
	if pc := opts.Config.Labels[labelPodCgroup]; pc != "" {
		if err := podcgroup.Make(pc, *cfg.Resources); err != nil {
			return "", fmt.Errorf("docker: sandbox %s: %w", cfg, err)
		}
		id, err := r.runSandbox(ctx, cfg, opts)
		if err != nil {
			_ = podcgroup.Remove(pc)
		}
		return id, err
	}
	return r.runSandbox(ctx, cfg, opts)
}

// runSandbox creates and starts the sandbox's container, made with opts.
func (r *Runtime) runSandbox(ctx context.Context, cfg *runtime.SandboxConfig, opts client.ContainerCreateOptions) (string, error) {
	for try := 0; ; try++ {
		if !cfg.HostNetwork {
			if _, err := r.ensureNetwork(ctx); err != nil {
				return "", err
			}
		}
		id, err := r.createAndStart(ctx, opts, "sandbox "+cfg.String())
		if err == nil && ownHosts(cfg) {
			if err = r.writeHosts(ctx, id, cfg); err != nil {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_ = r.remove(rctx, id)
				return "", err
			}
		}
		if err != nil && try == 0 && cerrdefs.IsNotFound(err) {
			// The network or the sandbox image was removed behind our
			// back: ensure both again, once.
			r.forgetNetwork()
			r.forgetSandboxImage()
			if err := r.ensureSandboxImage(ctx); err != nil {
				return "", err
			}
			continue
		}
		return id, err
	}
}

// checkHandler fails unless the engine has a runtime named handler (its
// runc, or one configured in daemon.json's "runtimes"). The engine is
// asked each time: sandboxes naming a handler are few, and the engine's
// runtimes change when it reloads its configuration.
func (r *Runtime) checkHandler(ctx context.Context, handler string) error {
	res, err := r.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return r.wrap(err, "runtime handler %q", handler)
	}
	if _, ok := res.Info.Runtimes[handler]; ok {
		return nil
	}
	return fmt.Errorf("%w %q: the engine's runtimes are %s", runtime.ErrUnknownRuntimeHandler, handler,
		strings.Join(slices.Sorted(maps.Keys(res.Info.Runtimes)), ", "))
}

func (r *Runtime) sandboxOptions(cfg *runtime.SandboxConfig) (client.ContainerCreateOptions, error) {
	stem := nameStem(cfg.PodName, cfg.PodNamespace, cfg.PodUID)
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[labelKind] = kindSandbox
	labels[labelAttempt] = strconv.FormatUint(uint64(cfg.Attempt), 10)
	labels[labelStem] = stem
	labels[labelCreated] = time.Now().UTC().Format(time.RFC3339Nano)
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(r.cfg.network),
		IpcMode:     container.IPCModeShareable,
		DNSSearch:   cfg.DNS.Searches,
		DNSOptions:  cfg.DNS.Options,
		Sysctls:     maps.Clone(cfg.Sysctls),
		// The engine's runtime of that name (its default when empty); the
		// sandbox's containers get the same (CreateContainer).
		Runtime:   cfg.RuntimeHandler,
		LogConfig: r.logConfig(),
	}
	if ownHosts(cfg) {
		labels[labelHosts] = "true"
	}
	// As the kubelet's dockershim did: the host's namespaces for the
	// sandbox, whose containers then take the same (CreateContainer).
	switch {
	case cfg.HostPID:
		hc.PidMode = container.PidMode("host")
		labels[labelHostPID] = "true"
	case cfg.ShareProcessNamespace:
		labels[labelSharePID] = "true"
	}
	if cfg.HostIPC {
		hc.IpcMode = container.IPCModeHost
		labels[labelHostIPC] = "true"
	}
	hc.CPUShares = 2
	if cfg.Resources != nil {
		pc := podCgroupPath(stem, cfg.Attempt)
		labels[labelPodCgroup] = pc
		hc.CgroupParent = pc
	}
	c := &container.Config{
		Image:    r.cfg.sandboxImage,
		Hostname: cfg.Hostname,
		Labels:   labels,
	}
	if cfg.HostNetwork {
		hc.NetworkMode = network.NetworkHost
		labels[labelHostNet] = "true"
		c.Hostname = "" // the host's
	}
	for _, s := range cfg.DNS.Servers {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: sandbox %s: DNS server %q: %w", cfg, s, err)
		}
		hc.DNS = append(hc.DNS, a)
	}
	for _, p := range cfg.Ports {
		proto := network.IPProtocol(strings.ToLower(p.Protocol))
		if proto == "" {
			proto = network.TCP
		}
		port, ok := network.PortFrom(uint16(p.ContainerPort), proto)
		if !ok || p.ContainerPort <= 0 || p.ContainerPort > 65535 {
			return client.ContainerCreateOptions{}, fmt.Errorf("docker: sandbox %s: bad port %d/%s", cfg, p.ContainerPort, p.Protocol)
		}
		var hostIP netip.Addr
		if p.HostIP != "" {
			var err error
			if hostIP, err = netip.ParseAddr(p.HostIP); err != nil {
				return client.ContainerCreateOptions{}, fmt.Errorf("docker: sandbox %s: host IP %q: %w", cfg, p.HostIP, err)
			}
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = network.PortSet{}
			hc.PortBindings = network.PortMap{}
		}
		c.ExposedPorts[port] = struct{}{}
		if p.HostPort > 0 && !cfg.HostNetwork {
			hc.PortBindings[port] = append(hc.PortBindings[port], network.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(p.HostPort))})
		}
	}
	name := "podkit_POD_" + stem + "_" + strconv.FormatUint(uint64(cfg.Attempt), 10)
	return client.ContainerCreateOptions{Name: name, Config: c, HostConfig: hc}, nil
}

// hostsFile is the host file of a sandbox's /etc/hosts when it has host
// aliases: in the engine's directory of the sandbox container, beside the
// engine's own hosts file, so that it goes with the sandbox.
func hostsFile(sb container.InspectResponse) (string, error) {
	if !filepath.IsAbs(sb.HostsPath) {
		return "", fmt.Errorf("sandbox %s has no directory on this host", short(sb.ID))
	}
	return filepath.Join(filepath.Dir(sb.HostsPath), "podkit-hosts"), nil
}

// ownHosts reports whether a sandbox of cfg has a hosts file of podkit's
// own (see writeHosts): one with host aliases, or with a domain, which
// the engine's file leaves out.
func ownHosts(cfg *runtime.SandboxConfig) bool {
	return len(cfg.HostAliases) > 0 || cfg.Domain != "" && !cfg.HostNetwork
}

// writeHosts writes the /etc/hosts of sandbox id, which has host aliases
// or a domain, as the kubelet writes it: its own for a pod with an IP, else the
// engine's copy of the host's with the aliases appended.
func (r *Runtime) writeHosts(ctx context.Context, id string, cfg *runtime.SandboxConfig) error {
	sb, err := r.inspectSandbox(ctx, id)
	if err != nil {
		return err
	}
	path, err := hostsFile(sb)
	if err != nil {
		return fmt.Errorf("docker: sandbox %s: hosts file: %w", cfg, err)
	}
	var content []byte
	if cfg.HostNetwork {
		node, err := os.ReadFile(sb.HostsPath)
		if err != nil {
			return fmt.Errorf("docker: sandbox %s: the host's hosts file: %w", cfg, err)
		}
		content = runtime.HostNetworkHostsFile(node, cfg.HostAliases)
	} else {
		ip := ""
		if ns := sb.NetworkSettings; ns != nil {
			if ep := ns.Networks[r.cfg.network]; ep != nil && ep.IPAddress.IsValid() {
				ip = ep.IPAddress.String()
			}
		}
		content = runtime.HostsFile(ip, runtime.HostsName(sb.Config.Hostname, cfg.Domain), cfg.HostAliases)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return fmt.Errorf("docker: sandbox %s: hosts file: %w", cfg, err)
	}
	return nil
}

// nameStem is the part of container names that names the pod, as the
// kubelet's dockershim did: <pod>_<namespace>_<uid prefix>.
func nameStem(pod, ns, uid string) string {
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return clean(pod) + "_" + clean(ns) + "_" + clean(uid)
}

// clean keeps the characters Docker allows in names.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// createAndStart creates and starts a container; on a name conflict (a
// leftover of a crashed host) it picks a name with a random suffix. A
// container that fails to start is removed.
func (r *Runtime) createAndStart(ctx context.Context, opts client.ContainerCreateOptions, what string) (string, error) {
	id, err := r.create(ctx, opts, what)
	if err != nil {
		return "", err
	}
	if _, err := r.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = r.cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true})
		return "", r.wrap(err, "start %s", what)
	}
	return id, nil
}

func (r *Runtime) create(ctx context.Context, opts client.ContainerCreateOptions, what string) (string, error) {
	res, err := r.cli.ContainerCreate(ctx, opts)
	if err != nil && cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in use") {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		opts.Name += "_" + hex.EncodeToString(b)
		res, err = r.cli.ContainerCreate(ctx, opts)
	}
	if err != nil {
		return "", r.wrap(err, "create %s", what)
	}
	return res.ID, nil
}

// inspectSandbox inspects a sandbox; anything else (an app container, no
// container) is ErrNotFound.
func (r *Runtime) inspectSandbox(ctx context.Context, id string) (container.InspectResponse, error) {
	res, err := r.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, r.wrap(err, "sandbox %s", short(id))
	}
	c := res.Container
	if c.Config == nil || c.Config.Labels[labelKind] != kindSandbox || c.State == nil {
		return container.InspectResponse{}, fmt.Errorf("docker: sandbox %s: not a podkit sandbox: %w", short(id), runtime.ErrNotFound)
	}
	return c, nil
}

// StopSandbox implements runtime.SandboxService: it kills the sandbox's
// containers, then the sandbox, which releases its IP.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	sb, err := r.inspectSandbox(ctx, id)
	if err != nil {
		return err
	}
	ctrs, err := r.list(ctx, kindContainer, runtime.Filter{SandboxID: sb.ID})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range ctrs {
		if c.State != container.StateRunning && c.State != container.StatePaused && c.State != container.StateRestarting {
			continue
		}
		g.Go(func() error { return r.kill(gctx, c.ID) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if !sb.State.Running {
		return nil
	}
	release, err := r.teardownSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	return r.kill(ctx, sb.ID)
}

// teardownSlot serialises the teardown of sandboxes' network endpoints
// within a runtime. Docker 20.10.24 (Debian 12) can deadlock its network
// controller when endpoints of a user-defined network are released
// concurrently (moby/moby#42545, fixed in later 20.10 releases), after
// which every container operation on the daemon hangs. Pod teardown is not
// latency-critical; one at a time makes that race rare.
func (r *Runtime) teardownSlot(ctx context.Context) (release func(), err error) {
	select {
	case r.teardown <- struct{}{}:
		return func() { <-r.teardown }, nil
	case <-ctx.Done():
		return nil, r.wrap(ctx.Err(), "wait to tear a sandbox down")
	}
}

// kill sends SIGKILL and waits for the container to exit.
func (r *Runtime) kill(ctx context.Context, id string) error {
	return r.signalAndWait(ctx, id, syscall.SIGKILL, 0)
}

// RemoveSandbox implements runtime.SandboxService: the sandbox's containers
// go first, then the sandbox, each killed if still running.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	sb, err := r.inspectSandbox(ctx, id)
	if err != nil {
		return err
	}
	ctrs, err := r.list(ctx, kindContainer, runtime.Filter{SandboxID: sb.ID})
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, c := range ctrs {
		g.Go(func() error { return r.removeContainer(gctx, c.ID, c.Labels) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	release, err := r.teardownSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	if err := r.remove(ctx, sb.ID); err != nil {
		return err
	}
	if pc := sb.Config.Labels[labelPodCgroup]; pc != "" {
		if err := podcgroup.Remove(pc); err != nil {
			return fmt.Errorf("docker: removing sandbox %s: %w", short(sb.ID), err)
		}
	}
	return nil
}

// remove force-removes a container and its anonymous volumes; a container
// already gone is not an error.
func (r *Runtime) remove(ctx context.Context, id string) error {
	r.cache.forget(id)
	_, err := r.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return r.wrap(err, "remove %s", short(id))
	}
	return nil
}

// ListSandboxes implements runtime.SandboxService, oldest first.
func (r *Runtime) ListSandboxes(ctx context.Context, f runtime.Filter) ([]runtime.SandboxStatus, error) {
	items, err := r.list(ctx, kindSandbox, runtime.Filter{Labels: f.Labels})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.SandboxStatus, 0, len(items))
	for _, c := range items {
		if f.SandboxID != "" && c.ID != f.SandboxID {
			continue
		}
		st := runtime.SandboxStatus{
			ID:        c.ID,
			State:     runtime.SandboxNotReady,
			CreatedAt: createdAt(c.Labels, c.Created),
			Labels:    publicLabels(c.Labels),
			Attempt:   attempt(c.Labels),
		}
		if c.State == container.StateRunning {
			st.State = runtime.SandboxReady
			if c.Labels[labelHostNet] != "true" {
				st.IP = sandboxIP(c, r.cfg.network)
			}
		}
		out = append(out, st)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func sandboxIP(c container.Summary, net string) string {
	if c.NetworkSettings == nil {
		return ""
	}
	if ep := c.NetworkSettings.Networks[net]; ep != nil && ep.IPAddress.IsValid() {
		return ep.IPAddress.String()
	}
	for _, ep := range c.NetworkSettings.Networks {
		if ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String()
		}
	}
	return ""
}

// list lists podkit's containers of one kind matching f.
func (r *Runtime) list(ctx context.Context, kind string, f runtime.Filter) ([]container.Summary, error) {
	filters := make(client.Filters).Add("label", labelKind+"="+kind)
	for k, v := range f.Labels {
		filters.Add("label", k+"="+v)
	}
	if f.SandboxID != "" && kind == kindContainer {
		filters.Add("label", labelSandbox+"="+f.SandboxID)
	}
	res, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return nil, r.wrap(err, "list %ss", kind)
	}
	return res.Items, nil
}

// publicLabels returns the labels without this package's own.
func publicLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		if !strings.HasPrefix(k, labelPrefix) {
			out[k] = v
		}
	}
	return out
}

func attempt(l map[string]string) uint32 {
	n, _ := strconv.ParseUint(l[labelAttempt], 10, 32)
	return uint32(n)
}

func createdAt(l map[string]string, unix int64) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, l[labelCreated]); err == nil {
		return t
	}
	return time.Unix(unix, 0)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
