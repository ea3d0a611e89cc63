package runtimetest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// The cases of what a sandbox or a container may share with the host:
// its PID and IPC namespaces, and mounts made under a mount's host path
// after the container started (runtime.Mount.Propagation); and of the
// hostname a sandbox gives its containers.

// testHostPID: a container of a HostPID sandbox sees the processes of
// another sandbox's containers, as a process of the host sees every one;
// a container of an ordinary sandbox does not.
func testHostPID(h *harness) {
	if len(h.cfg.Processes) == 0 {
		h.t.Skip("runtimetest.Config.Processes is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	other := strings.Join(h.cfg.IgnoreTerm, " ")
	otherID, otherCfg := h.sandbox("pid-other")
	bg := h.run(otherID, otherCfg, "background", h.cfg.IgnoreTerm)
	h.waitContainer(bg, "running", running)
	h.waitIgnoring(bg)
	for _, host := range []bool{true, false} {
		name := "own-pid"
		if host {
			name = "host-pid"
		}
		sbID, sb := h.sandboxWith(name, func(c *runtime.SandboxConfig) { c.HostPID = host })
		lines := strings.Split(strings.TrimSpace(h.output(lr, sbID, sb, "ps", h.cfg.Processes)), "\n")
		if sees := slices.Contains(lines, other); sees != host {
			h.t.Errorf("HostPID %v: the process %q of another sandbox seen: %v, want %v; it sees %q", host, other, sees, host, lines)
		}
	}
	// A HostPID sandbox stops and goes as any other.
	sbID, sb := h.sandboxWith("host-pid-stop", func(c *runtime.SandboxConfig) { c.HostPID = true })
	id := h.run(sbID, sb, "app", h.cfg.IgnoreTerm)
	h.waitContainer(id, "running", running)
	if err := h.rt.StopSandbox(h.ctx, sbID); err != nil {
		h.t.Fatalf("StopSandbox of a HostPID sandbox: %v", err)
	}
	h.waitContainer(id, "exited", exited)
	if err := h.rt.RemoveSandbox(h.ctx, sbID); err != nil {
		h.t.Fatalf("RemoveSandbox of a HostPID sandbox: %v", err)
	}
}

// testHostname: a sandbox's containers have its Hostname, short or fully
// qualified (a pod's with setHostnameAsFQDN), as the kernel's hostname
// (/proc/sys/kernel/hostname, what uname -n says), in /etc/hostname, and
// in /etc/hosts beside the sandbox's IP; with a Domain, that line names
// the hostname qualified by it too (runtime.HostsName), and the kernel's
// hostname stays short.
func testHostname(h *harness) {
	if h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.ReadFile is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	const fqdn = "web-0.web.runtimetest.svc.cluster.local"
	for _, tc := range []struct {
		pod, hostname, domain string
		names                 []string // among those on the sandbox IP's line of /etc/hosts
	}{
		{"short-hostname", "web-0", "", []string{"web-0"}},
		{"fqdn-hostname", fqdn, "", []string{fqdn}},
		{"domain-hostname", "web-0", "web.runtimetest.svc.cluster.local", []string{fqdn, "web-0"}},
	} {
		sbID, sb := h.sandboxWith(tc.pod, func(c *runtime.SandboxConfig) { c.Hostname, c.Domain = tc.hostname, tc.domain })
		for i, path := range []string{"/proc/sys/kernel/hostname", "/etc/hostname"} {
			if got := strings.TrimSpace(h.output(lr, sbID, sb, "read-"+string(rune('a'+i)), h.cfg.ReadFile(path))); got != tc.hostname {
				h.t.Errorf("pod %s: %s is %q, want %q", tc.pod, path, got, tc.hostname)
			}
		}
		st, _ := h.sandboxStatus(sbID)
		hosts := h.output(lr, sbID, sb, "hosts", h.cfg.ReadFile("/etc/hosts"))
		found := false
		for _, line := range strings.Split(hosts, "\n") {
			f := strings.Fields(line)
			found = found || len(f) > 1 && f[0] == st.IP && !slices.ContainsFunc(tc.names, func(n string) bool { return !slices.Contains(f[1:], n) })
		}
		if !found {
			h.t.Errorf("pod %s: /etc/hosts has no line of the sandbox's IP %s with %q:\n%s", tc.pod, st.IP, tc.names, hosts)
		}
	}
}

// testHostIPC: a file a container of a HostIPC sandbox writes in /dev/shm
// is in the host's /dev/shm, where a container of another HostIPC sandbox
// reads it; a container of an ordinary sandbox has a /dev/shm of its pod.
func testHostIPC(h *harness) {
	if h.cfg.ReadFile == nil || h.cfg.FailWith == nil {
		h.t.Skip("runtimetest.Config.ReadFile or FailWith is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	name := "podkit-runtimetest-" + randHex(6)
	path := "/dev/shm/" + name
	if h.cfg.SameHost {
		h.t.Cleanup(func() { os.Remove(path) })
	}
	const marker = "written by a HostIPC container"
	hostIPC := func(c *runtime.SandboxConfig) { c.HostIPC = true }
	aID, a := h.sandboxWith("host-ipc-a", hostIPC)
	h.output(lr, aID, a, "writer", h.cfg.FailWith(path, marker, 0))
	if h.cfg.SameHost {
		if b, err := os.ReadFile(path); err != nil || string(b) != marker {
			h.t.Errorf("the host's %s: %q, %v; want %q", path, b, err, marker)
		}
	}
	bID, b := h.sandboxWith("host-ipc-b", hostIPC)
	if got := strings.TrimSpace(h.output(lr, bID, b, "reader", h.cfg.ReadFile(path))); got != marker {
		h.t.Errorf("a container of another HostIPC sandbox reads %s as %q, want %q", path, got, marker)
	}
	cID, c := h.sandbox("own-ipc")
	id := h.run(cID, c, "reader", h.cfg.ReadFile(path))
	if st := h.waitContainer(id, "exited", exited); st.ExitCode == 0 {
		h.t.Errorf("a container of a sandbox without HostIPC read the host's %s: %q", path, h.logs(lr, id, runtime.LogOptions{}))
	}
}

// testMountPropagation: a mount made on the host under a mount's host
// path after the container started reaches a container whose mount is
// HostToContainer or Bidirectional, not one whose mount is private; and
// a runtime refuses a HostToContainer mount of a host path whose mount
// propagates nothing. It makes mounts on the host, so it needs
// Config.SameHost.
func testMountPropagation(h *harness) {
	if !h.cfg.SameHost || h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.SameHost or ReadFile is not set")
	}
	ex := capability[runtime.Execer](h, "runtime.Execer")
	dir := h.t.TempDir()
	shared, private := filepath.Join(dir, "shared"), filepath.Join(dir, "private")
	// The host paths are mounts of the test's own, shared and private,
	// whatever the host's root is (systemd makes it shared; a container
	// may have it private).
	for _, m := range []struct {
		path   string
		shared bool
	}{{shared, true}, {private, false}} {
		if err := os.Mkdir(m.path, 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := mountTmpfs(m.path, m.shared); err != nil {
			h.t.Skipf("cannot make mounts on the host: %v", err)
		}
		h.t.Cleanup(func() { unmount(h.t, m.path) })
	}
	sbID, sb := h.sandbox("propagation")
	const target = "/mnt/propagation"
	ids := map[runtime.MountPropagation]string{}
	for _, p := range []runtime.MountPropagation{runtime.PropagationPrivate, runtime.PropagationHostToContainer, runtime.PropagationBidirectional} {
		cfg := h.containerConfig(sb, strings.ToLower(p.String()), 0, nil)
		// Not privileged, as Kubernetes makes a Bidirectional one: what is
		// checked is what reaches the container, not what it may mount.
		cfg.Mounts = []runtime.Mount{{HostPath: shared, ContainerPath: target, Propagation: p}}
		id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
		if err != nil {
			h.t.Fatalf("CreateContainer with a %v mount: %v", p, err)
		}
		h.start(id)
		h.waitContainer(id, "running", running)
		ids[p] = id
	}
	// Mounted once the containers run.
	sub := filepath.Join(shared, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := mountTmpfs(sub, false); err != nil {
		h.t.Fatalf("mount under the shared host path: %v", err)
	}
	h.t.Cleanup(func() { unmount(h.t, sub) })
	const marker = "mounted after the container started"
	if err := os.WriteFile(filepath.Join(sub, "marker"), []byte(marker), 0o644); err != nil {
		h.t.Fatal(err)
	}
	for p, id := range ids {
		var out, errb strings.Builder
		code, err := ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.ReadFile(target + "/sub/marker"), Stdout: &out, Stderr: &errb})
		if err != nil {
			h.t.Fatalf("Exec in the container of a %v mount: %v", p, err)
		}
		sees := code == 0 && strings.TrimSpace(out.String()) == marker
		if want := p != runtime.PropagationPrivate; sees != want {
			h.t.Errorf("a %v mount: the mount made on the host later seen: %v, want %v (exit %d, stdout %q, stderr %q)",
				p, sees, want, code, out.String(), errb.String())
		}
	}

	// A host path on a private mount cannot propagate: refused.
	cfg := h.containerConfig(sb, "refused", 0, nil)
	cfg.Mounts = []runtime.Mount{{HostPath: private, ContainerPath: target, Propagation: runtime.PropagationHostToContainer}}
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err == nil {
		err = h.rt.StartContainer(h.ctx, id)
	}
	if err == nil {
		h.t.Errorf("a HostToContainer mount of %s, on a private mount, was created and started", private)
	} else if !strings.Contains(err.Error(), "not a shared or slave mount") {
		h.t.Errorf("a HostToContainer mount of a private mount: %v, want an error saying it is not a shared or slave mount", err)
	}
}

// testRecursiveReadOnly: a runtime that reports recursively read-only
// mounts (runtime.RecursiveReadOnlyReporter) makes the mounts under a
// read-only mount's host path read-only in the container, where a plain
// read-only mount leaves them writable (checked where the runtime shares
// the test's host, Config.SameHost, with FailWith to write); one that
// does not refuses such a mount with runtime.ErrRecursiveReadOnly. Both
// refuse one that is not read-only.
func testRecursiveReadOnly(h *harness) {
	dir := h.t.TempDir()
	sbID, sb := h.sandbox("rro")
	const target = "/mnt/rro"
	create := func(name string, m runtime.Mount, cmd []string) (string, error) {
		cfg := h.containerConfig(sb, name, 0, cmd)
		cfg.Mounts = []runtime.Mount{m}
		return h.rt.CreateContainer(h.ctx, sbID, cfg)
	}
	if _, err := create("rw", runtime.Mount{HostPath: dir, ContainerPath: target, RecursiveReadOnly: true}, nil); err == nil {
		h.t.Errorf("CreateContainer with a recursively read-only mount that is not read-only: no error")
	}
	r, ok := h.rt.(runtime.RecursiveReadOnlyReporter)
	if !ok || !r.RecursiveReadOnlyMounts("") {
		_, err := create("rro", runtime.Mount{HostPath: dir, ContainerPath: target, ReadOnly: true, RecursiveReadOnly: true}, nil)
		if !errors.Is(err, runtime.ErrRecursiveReadOnly) {
			h.t.Errorf("CreateContainer with a recursively read-only mount on a runtime without them: %v, want runtime.ErrRecursiveReadOnly", err)
		}
		return
	}
	if !h.cfg.SameHost || h.cfg.FailWith == nil {
		if _, err := create("rro", runtime.Mount{HostPath: dir, ContainerPath: target, ReadOnly: true, RecursiveReadOnly: true}, nil); err != nil {
			h.t.Errorf("CreateContainer with a recursively read-only mount: %v", err)
		}
		return
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := mountTmpfs(sub, false); err != nil {
		h.t.Skipf("cannot make mounts on the host: %v", err)
	}
	h.t.Cleanup(func() { unmount(h.t, sub) })
	for _, tc := range []struct {
		name      string
		recursive bool
	}{{"plain", false}, {"recursive", true}} {
		file := filepath.Join(sub, tc.name)
		id, err := create(tc.name, runtime.Mount{HostPath: dir, ContainerPath: target, ReadOnly: true, RecursiveReadOnly: tc.recursive},
			h.cfg.FailWith(target+"/sub/"+tc.name, "written", 0))
		if err != nil {
			h.t.Fatalf("CreateContainer with a %s read-only mount: %v", tc.name, err)
		}
		h.start(id)
		h.waitContainer(id, "exited", exited)
		_, err = os.Stat(file)
		switch {
		case tc.recursive && err == nil:
			h.t.Errorf("a container wrote %s through a recursively read-only mount", file)
		case !tc.recursive && err != nil:
			h.t.Errorf("a container could not write a mount under a plain read-only mount (%v): the check shows nothing", err)
		}
	}
}
