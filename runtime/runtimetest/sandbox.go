package runtimetest

import (
	"errors"
	"slices"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// The cases of what a sandbox gives its containers beyond a network:
// host aliases in /etc/hosts, sysctls, a shared PID namespace. They read
// what a container sees through its output, so they need a
// runtime.LogReader.

// sandboxWith runs a sandbox whose config edit changes.
func (h *harness) sandboxWith(name string, edit func(*runtime.SandboxConfig)) (string, *runtime.SandboxConfig) {
	h.t.Helper()
	cfg := h.sandboxConfig(name)
	edit(cfg)
	id, err := h.rt.RunSandbox(h.ctx, cfg)
	if err != nil {
		h.t.Fatalf("RunSandbox(%s): %v", name, err)
	}
	h.mu.Lock()
	h.sbs = append(h.sbs, id)
	h.mu.Unlock()
	return id, cfg
}

// output runs a container of cmd in the sandbox until it exits, and
// returns what it wrote to stdout; it fails the test unless it exits 0.
func (h *harness) output(lr runtime.LogReader, sbID string, sb *runtime.SandboxConfig, name string, cmd []string) string {
	h.t.Helper()
	id := h.run(sbID, sb, name, cmd)
	st := h.waitContainer(id, "exited", exited)
	out := h.logs(lr, id, runtime.LogOptions{})
	if st.ExitCode != 0 {
		h.t.Fatalf("container %s (%q) exited %d, want 0; output:\n%s", name, cmd, st.ExitCode, out)
	}
	return out
}

// hostAliases are those the cases give sandboxes, and aliasSection the
// end of /etc/hosts they make, in the kubelet's format.
var hostAliases = []runtime.HostAlias{
	{IP: "10.1.2.3", Hostnames: []string{"foo.local", "bar.local"}},
	{IP: "2001:db8::1", Hostnames: []string{"foo.v6"}},
}

const aliasSection = "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n2001:db8::1\tfoo.v6\n"

// testHostAliases: every container of a sandbox with host aliases has
// them at the end of its /etc/hosts, in the kubelet's format, after the
// pod's own entries; a sandbox without has no such section.
func testHostAliases(h *harness) {
	if h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.ReadFile is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	sbID, sb := h.sandboxWith("aliases", func(c *runtime.SandboxConfig) { c.HostAliases = hostAliases })
	for _, name := range []string{"a", "b"} {
		hosts := h.output(lr, sbID, sb, name, h.cfg.ReadFile("/etc/hosts"))
		if !strings.HasSuffix(hosts, aliasSection) {
			h.t.Errorf("container %s: /etc/hosts does not end with the host aliases %q:\n%s", name, aliasSection, hosts)
		}
		if !slices.Contains(strings.Split(hosts, "\n"), "127.0.0.1\tlocalhost") {
			h.t.Errorf("container %s: /etc/hosts has no localhost entry:\n%s", name, hosts)
		}
	}
	plainID, plain := h.sandbox("no-aliases")
	if hosts := h.output(lr, plainID, plain, "c", h.cfg.ReadFile("/etc/hosts")); strings.Contains(hosts, "HostAliases") || strings.Contains(hosts, "foo.local") {
		h.t.Errorf("a sandbox without host aliases has them in /etc/hosts:\n%s", hosts)
	}
}

// testHostAliasesHostNetwork: a HostNetwork sandbox's /etc/hosts is the
// node's with the host aliases appended, as the kubelet writes it.
func testHostAliasesHostNetwork(h *harness) {
	if h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.ReadFile is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	sbID, sb := h.sandboxWith("aliases-hostnet", func(c *runtime.SandboxConfig) {
		c.HostNetwork, c.HostAliases = true, hostAliases
	})
	hosts := h.output(lr, sbID, sb, "a", h.cfg.ReadFile("/etc/hosts"))
	const header = "# Kubernetes-managed hosts file (host network).\n"
	if !strings.HasPrefix(hosts, header) || !strings.HasSuffix(hosts, aliasSection) {
		h.t.Errorf("/etc/hosts of a HostNetwork sandbox: want %q, the node's file, then %q; got:\n%s", header, aliasSection, hosts)
	}
}

// testSysctls: the sandbox's sysctls, of its network and IPC namespaces,
// are what its containers read in /proc/sys.
func testSysctls(h *harness) {
	if h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.ReadFile is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	// Values unlike the kernel's defaults (1024 and 0).
	want := map[string]string{"net.ipv4.ip_unprivileged_port_start": "1000", "kernel.shm_rmid_forced": "1"}
	sbID, sb := h.sandboxWith("sysctls", func(c *runtime.SandboxConfig) { c.Sysctls = want })
	for i, name := range []string{"net.ipv4.ip_unprivileged_port_start", "kernel.shm_rmid_forced"} {
		path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		got := strings.TrimSpace(h.output(lr, sbID, sb, "read-"+string(rune('a'+i)), h.cfg.ReadFile(path)))
		if got != want[name] {
			h.t.Errorf("%s in a container of the sandbox = %q, want %q", name, got, want[name])
		}
	}
}

// testSharedPIDNamespace: with ShareProcessNamespace a container sees the
// processes of the sandbox's other containers; without, only its own.
func testSharedPIDNamespace(h *harness) {
	if len(h.cfg.Processes) == 0 {
		h.t.Skip("runtimetest.Config.Processes is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	other, self := strings.Join(h.cfg.IgnoreTerm, " "), strings.Join(h.cfg.Processes, " ")
	for _, share := range []bool{true, false} {
		name := "own-pids"
		if share {
			name = "shared-pids"
		}
		sbID, sb := h.sandboxWith(name, func(c *runtime.SandboxConfig) { c.ShareProcessNamespace = share })
		bg := h.run(sbID, sb, "background", h.cfg.IgnoreTerm)
		h.waitContainer(bg, "running", running)
		h.waitIgnoring(bg)
		lines := strings.Split(strings.TrimSpace(h.output(lr, sbID, sb, "ps", h.cfg.Processes)), "\n")
		if !slices.Contains(lines, self) {
			h.t.Errorf("ShareProcessNamespace %v: %q does not see itself (%q); it sees %q", share, self, self, lines)
		}
		if sees := slices.Contains(lines, other); sees != share {
			h.t.Errorf("ShareProcessNamespace %v: another container's process %q seen: %v, want %v; it sees %q", share, other, sees, share, lines)
		}
		// The sandbox stops and goes as any other.
		if err := h.rt.StopSandbox(h.ctx, sbID); err != nil {
			h.t.Fatalf("ShareProcessNamespace %v: StopSandbox: %v", share, err)
		}
		if st, _ := h.sandboxStatus(sbID); st.State != runtime.SandboxNotReady {
			h.t.Errorf("ShareProcessNamespace %v: after StopSandbox: state = %s, want NotReady", share, st.State)
		}
		h.waitContainer(bg, "exited", exited)
		if err := h.rt.RemoveSandbox(h.ctx, sbID); err != nil {
			h.t.Fatalf("ShareProcessNamespace %v: RemoveSandbox: %v", share, err)
		}
		if _, ok := h.sandboxStatus(sbID); ok {
			h.t.Errorf("ShareProcessNamespace %v: sandbox still listed after RemoveSandbox", share)
		}
	}
}

// testRuntimeHandler: a sandbox naming the "runc" handler runs containers
// as the default does; one naming a handler the runtime does not have
// fails with ErrUnknownRuntimeHandler and leaves nothing.
func testRuntimeHandler(h *harness) {
	sbID, sb := h.sandboxWith("runc", func(c *runtime.SandboxConfig) { c.RuntimeHandler = "runc" })
	id := h.run(sbID, sb, "app", h.cfg.Exit(0))
	if st := h.waitContainer(id, "exited", exited); st.ExitCode != 0 {
		h.t.Errorf("a container of a runc sandbox exited %d, want 0", st.ExitCode)
	}

	cfg := h.sandboxConfig("unknown-handler")
	cfg.RuntimeHandler = "podkit-no-such-handler"
	id, err := h.rt.RunSandbox(h.ctx, cfg)
	if err == nil {
		h.mu.Lock()
		h.sbs = append(h.sbs, id)
		h.mu.Unlock()
		h.t.Fatalf("RunSandbox with an unknown handler: no error")
	}
	if !errors.Is(err, runtime.ErrUnknownRuntimeHandler) {
		h.t.Errorf("RunSandbox with an unknown handler: %v, want an error wrapping ErrUnknownRuntimeHandler", err)
	}
	if !strings.Contains(err.Error(), "podkit-no-such-handler") {
		h.t.Errorf("the error does not name the handler: %v", err)
	}
	sbs, err := h.rt.ListSandboxes(h.ctx, runtime.Filter{Labels: map[string]string{runtime.LabelPodUID: cfg.PodUID}})
	if err != nil {
		h.t.Fatalf("ListSandboxes: %v", err)
	}
	if len(sbs) != 0 {
		h.t.Errorf("a sandbox with an unknown handler left %+v", sbs)
	}
}
