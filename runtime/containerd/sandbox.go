package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/netns"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podkit/podkit/internal/cni"
	"github.com/podkit/podkit/internal/owner"
	"github.com/podkit/podkit/internal/podcgroup"
	"github.com/podkit/podkit/runtime"
)

// RunSandbox creates the pod's network namespace, attaches it to the pod
// network, writes the pod's hosts, resolv.conf and hostname files and
// records the sandbox. On failure nothing is left behind.
//
// The order makes a crash at any point repairable by New: the sandbox's
// directory with an owner marker first, then the namespace and its CNI
// attachment, then the record, then the marker goes.
func (r *Runtime) RunSandbox(ctx context.Context, cfg *runtime.SandboxConfig) (_ string, err error) {
	ctx = r.ns(ctx)
	shim := r.cfg.runtimeName
	if h := cfg.RuntimeHandler; h != "" {
		var ok bool
		if shim, ok = r.cfg.handlers[h]; !ok {
			return "", fmt.Errorf("containerd: sandbox %s: %w %q: the handlers are %s (containerd.WithRuntimeHandler)", cfg,
				runtime.ErrUnknownRuntimeHandler, h, strings.Join(slices.Sorted(maps.Keys(r.cfg.handlers)), ", "))
		}
	}
	id := newID()
	dir := filepath.Join(r.sandboxesDir(), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("containerd: sandbox %s: %w", cfg, err)
	}
	if err := writeOwner(dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("containerd: sandbox %s: %w", cfg, err)
	}
	var nsPath, podCgroup string
	ports := cniPorts(cfg.Ports)
	defer func() {
		if err != nil {
			r.teardown(context.WithoutCancel(ctx), id, nsPath, ports)
			os.RemoveAll(dir)
			if podCgroup != "" {
				_ = podcgroup.Remove(podCgroup)
			}
		}
	}()
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	labels[labelKind] = kindSandbox
	labels[labelState] = stateReady
	labels[labelAttempt] = strconv.FormatUint(uint64(cfg.Attempt), 10)
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = cfg.PodName
	}
	var ip string
	if cfg.HostNetwork {
		labels[labelHostNet] = "true"
		if hostname, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("containerd: sandbox %s: %w", cfg, err)
		}
	} else {
		ns, err := netns.NewNetNS(dir)
		if err != nil {
			return "", fmt.Errorf("containerd: sandbox %s: network namespace: %w", cfg, err)
		}
		nsPath = ns.GetPath()
		addr, err := r.net.Setup(ctx, r.cniID(id), nsPath, ports)
		if err != nil {
			return "", fmt.Errorf("containerd: sandbox %s: %w", cfg, err)
		}
		ip = addr.String()
		labels[labelIP] = ip
		labels[labelNetNS] = nsPath
		if len(ports) > 0 {
			b, _ := json.Marshal(ports)
			labels[labelPorts] = string(b)
		}
	}
	if err := writePodFiles(dir, hostname, ip, cfg); err != nil {
		return "", fmt.Errorf("containerd: sandbox %s: %w", cfg, err)
	}
	if len(cfg.Sysctls) > 0 {
		b, _ := json.Marshal(cfg.Sysctls)
		labels[labelSysctls] = string(b)
	}
	if cfg.HostPID {
		labels[labelHostPID] = "true"
	}
	if cfg.HostIPC {
		labels[labelHostIPC] = "true"
	}
	if cfg.Resources != nil {
		if !r.PodLevelResources() {
			return "", fmt.Errorf("containerd: sandbox %s: %w: the host has no cpu and memory cgroups", cfg, runtime.ErrPodResources)
		}
		podCgroup = podCgroupPath(r.cfg.namespace, id)
		if err := podcgroup.Make(podCgroup, *cfg.Resources); err != nil {
			return "", fmt.Errorf("containerd: sandbox %s: %w", cfg, err)
		}
		labels[labelPodCgroup] = podCgroup
	}
	spec := client.WithSpec(&oci.Spec{Version: specs.Version})
	sharePID := cfg.ShareProcessNamespace && !cfg.HostPID // the host's is shared already
	if sharePID {
		labels[labelSharePID] = "true"
		if spec, err = r.pauseSpec(id, dir, nsPath, containerCgroup(r.cfg.namespace, labels, id)); err != nil {
			return "", fmt.Errorf("containerd: sandbox %s: pause task: %w", cfg, err)
		}
	}
	lctx, done, err := r.withLease(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	_, err = r.cli.NewContainer(lctx, id,
		client.WithContainerLabels(labels),
		client.WithRuntime(shim, nil),
		spec)
	if err != nil {
		return "", r.wrap(err, "recording sandbox %s", cfg)
	}
	if sharePID {
		if err = r.startPause(ctx, id); err != nil {
			if derr := r.cli.ContainerService().Delete(context.WithoutCancel(ctx), id); derr != nil {
				r.log.Warn("removing the record of a sandbox that failed", "sandbox", short(id), "err", derr)
			}
			return "", err
		}
	}
	_ = os.Remove(filepath.Join(dir, ownerFile))
	return id, nil
}

func cniPorts(ps []runtime.PortMapping) []cni.PortMapping {
	var out []cni.PortMapping
	for _, p := range ps {
		if p.HostPort == 0 {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, cni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto, HostIP: p.HostIP})
	}
	return out
}

// teardown detaches and removes a sandbox's network namespace. Errors are
// reported, not returned: it runs on paths that are already failing, and a
// later repair at start finishes the job.
func (r *Runtime) teardown(ctx context.Context, id, nsPath string, ports []cni.PortMapping) {
	if err := r.teardownErr(ctx, id, nsPath, ports); err != nil {
		r.log.Warn("sandbox network teardown", "sandbox", short(id), "err", err)
	}
}

func (r *Runtime) teardownErr(ctx context.Context, id, nsPath string, ports []cni.PortMapping) error {
	if err := r.net.Teardown(ctx, r.cniID(id), nsPath, ports); err != nil {
		return err
	}
	if nsPath != "" {
		if err := netns.LoadNetNS(nsPath).Remove(); err != nil {
			return fmt.Errorf("containerd: removing network namespace %s: %w", nsPath, err)
		}
	}
	return nil
}

// The pod files containers mount.
const (
	hostsFile    = "hosts"
	resolvFile   = "resolv.conf"
	hostnameFile = "hostname"
	ownerFile    = "owner"
)

// writePodFiles writes the pod's /etc/hosts (as the kubelet does: its own,
// or for HostNetwork a copy of the host's, with the host aliases
// appended), /etc/resolv.conf and /etc/hostname.
func writePodFiles(dir, hostname, ip string, cfg *runtime.SandboxConfig) error {
	var hosts string
	if cfg.HostNetwork {
		b, err := os.ReadFile("/etc/hosts")
		if err != nil {
			return err
		}
		hosts = string(runtime.HostNetworkHostsFile(b, cfg.HostAliases))
	} else {
		hosts = string(runtime.HostsFile(ip, runtime.HostsName(hostname, cfg.Domain), cfg.HostAliases))
	}
	resolv, err := resolvConf(cfg.DNS)
	if err != nil {
		return err
	}
	for name, data := range map[string]string{hostsFile: hosts, resolvFile: resolv, hostnameFile: hostname + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// resolvConf returns the pod's resolver configuration: dns as given, or the
// host's when dns names no server (a loopback stub resolver of the host is
// replaced by the upstream file systemd-resolved keeps).
func resolvConf(dns runtime.DNSConfig) (string, error) {
	if len(dns.Servers) == 0 {
		for _, p := range []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"} {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			if !strings.Contains(string(b), "nameserver 127.") || p != "/etc/resolv.conf" {
				return string(b), nil
			}
		}
		return "", nil
	}
	var b strings.Builder
	for _, s := range dns.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(dns.Searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(dns.Searches, " "))
	}
	if len(dns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(dns.Options, " "))
	}
	return b.String(), nil
}

// writeOwner marks dir as being made by this process, so that the repair
// at start of another process leaves it alone while this one lives.
func writeOwner(dir string) error {
	mark, err := owner.Self()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(mark+"\n"), 0o644)
}

// ownerAlive reports whether dir has an owner marker of a live process.
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	return err == nil && owner.Alive(strings.TrimSpace(string(b)))
}

// sandboxRecord returns the record of sandbox id.
func (r *Runtime) sandboxRecord(ctx context.Context, id string) (containers.Container, error) {
	return r.record(ctx, kindSandbox, id)
}

// StopSandbox kills the sandbox's containers, detaches it from the network
// and removes its namespace; the sandbox is then NotReady.
func (r *Runtime) StopSandbox(ctx context.Context, id string) error {
	ctx = r.ns(ctx)
	rec, err := r.sandboxRecord(ctx, id)
	if err != nil {
		return err
	}
	return r.stopSandbox(ctx, rec)
}

func (r *Runtime) stopSandbox(ctx context.Context, rec containers.Container) error {
	cs, err := r.containerRecords(ctx, runtime.Filter{SandboxID: rec.ID})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := r.StopContainer(ctx, c.ID, runtime.StopOptions{}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	if rec.Labels[labelSharePID] == "true" {
		if err := r.stopPause(ctx, rec.ID); err != nil {
			return err
		}
	}
	if rec.Labels[labelState] == stateNotReady {
		return nil
	}
	if rec.Labels[labelHostNet] != "true" {
		var ports []cni.PortMapping
		_ = json.Unmarshal([]byte(rec.Labels[labelPorts]), &ports)
		if err := r.teardownErr(context.WithoutCancel(ctx), rec.ID, rec.Labels[labelNetNS], ports); err != nil {
			return fmt.Errorf("containerd: stopping sandbox %s: %w", short(rec.ID), err)
		}
	}
	return r.setLabels(ctx, rec.ID, map[string]string{labelState: stateNotReady, labelIP: ""})
}

func (r *Runtime) setLabels(ctx context.Context, id string, labels map[string]string) error {
	paths := make([]string, 0, len(labels))
	for k := range labels {
		paths = append(paths, "labels."+k)
	}
	_, err := r.cli.ContainerService().Update(ctx, containers.Container{ID: id, Labels: labels}, paths...)
	return r.wrap(err, "updating %s", short(id))
}

// RemoveSandbox removes the sandbox's containers, stops it and removes its
// record and files.
func (r *Runtime) RemoveSandbox(ctx context.Context, id string) error {
	ctx = r.ns(ctx)
	rec, err := r.sandboxRecord(ctx, id)
	if err != nil {
		return err
	}
	cs, err := r.containerRecords(ctx, runtime.Filter{SandboxID: id})
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := r.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	if err := r.stopSandbox(ctx, rec); err != nil {
		return err
	}
	if err := r.cli.ContainerService().Delete(ctx, id); err != nil && !errors.Is(r.wrap(err, ""), runtime.ErrNotFound) {
		return r.wrap(err, "removing sandbox %s", short(id))
	}
	if err := os.RemoveAll(filepath.Join(r.sandboxesDir(), id)); err != nil {
		return fmt.Errorf("containerd: removing sandbox %s: %w", short(id), err)
	}
	if pc := rec.Labels[labelPodCgroup]; pc != "" {
		if err := podcgroup.Remove(pc); err != nil {
			return fmt.Errorf("containerd: removing sandbox %s: %w", short(id), err)
		}
	}
	return nil
}

// ListSandboxes lists the sandboxes whose labels include f.Labels.
func (r *Runtime) ListSandboxes(ctx context.Context, f runtime.Filter) ([]runtime.SandboxStatus, error) {
	ctx = r.ns(ctx)
	recs, err := r.cli.ContainerService().List(ctx, labelFilter(kindSandbox, f.Labels))
	if err != nil {
		return nil, r.wrap(err, "listing sandboxes")
	}
	running, err := r.runningTasks(ctx, recs)
	if err != nil {
		return nil, err
	}
	out := make([]runtime.SandboxStatus, 0, len(recs))
	for _, c := range recs {
		st := runtime.SandboxStatus{ID: c.ID, State: runtime.SandboxNotReady, CreatedAt: c.CreatedAt,
			Labels: publicLabels(c.Labels), Attempt: attempt(c.Labels)}
		if c.Labels[labelState] == stateReady && !pauseDown(c, running) {
			st.State = runtime.SandboxReady
			st.IP = c.Labels[labelIP]
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// labelFilter is a containerd filter for objects of kind carrying labels.
func labelFilter(kind string, labels map[string]string) string {
	parts := []string{fmt.Sprintf("labels.%q==%s", labelKind, kind)}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("labels.%q==%q", k, labels[k]))
	}
	return strings.Join(parts, ",")
}

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

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
