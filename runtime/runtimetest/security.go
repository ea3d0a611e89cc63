package runtimetest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// The cases of a container's runtime.Security: what its processes read in
// /proc/self/status (their groups, no_new_privs, seccomp mode), and the
// profiles a runtime refuses. They read what a container sees through its
// output, so they need a runtime.LogReader and Config.ReadFile.

// outputWith runs a container of cmd, its config changed by edit, until
// it exits, and returns what it wrote to stdout; it fails the test unless
// the container is created and exits 0.
func (h *harness) outputWith(lr runtime.LogReader, sbID string, sb *runtime.SandboxConfig, name string, cmd []string, edit func(*runtime.ContainerConfig)) string {
	h.t.Helper()
	cfg := h.containerConfig(sb, name, 0, cmd)
	edit(cfg)
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err != nil {
		h.t.Fatalf("CreateContainer(%s): %v", name, err)
	}
	h.start(id)
	st := h.waitContainer(id, "exited", exited)
	out := h.logs(lr, id, runtime.LogOptions{})
	if st.ExitCode != 0 {
		h.t.Fatalf("container %s (%q) exited %d, want 0; output:\n%s", name, cmd, st.ExitCode, out)
	}
	return out
}

// procStatus runs a container, its config changed by edit, that prints
// its /proc/self/status, and returns its fields by name.
func (h *harness) procStatus(lr runtime.LogReader, sbID string, sb *runtime.SandboxConfig, name string, edit func(*runtime.ContainerConfig)) map[string]string {
	h.t.Helper()
	out := h.outputWith(lr, sbID, sb, name, h.cfg.ReadFile("/proc/self/status"), edit)
	fields := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

func (h *harness) needStatus() runtime.LogReader {
	h.t.Helper()
	if h.cfg.ReadFile == nil {
		h.t.Skip("runtimetest.Config.ReadFile is not set")
	}
	return capability[runtime.LogReader](h, "runtime.LogReader")
}

// testGroups: a container's processes have its primary group and its
// SupplementalGroups, with or without StrictGroups (the test image has no
// /etc/group to merge), and its user's uid and gid.
func testGroups(h *harness) {
	lr := h.needStatus()
	sbID, sb := h.sandbox("groups")
	for _, tc := range []struct {
		name   string
		user   string
		groups []int64
		strict bool
		uid    string
		want   []string
	}{
		{"plain", "", nil, false, "0", []string{"0"}},
		{"supplemental", "1000:3000", []int64{2000, 4000}, false, "1000", []string{"2000", "3000", "4000"}},
		{"strict", "1000:3000", []int64{2000}, true, "1000", []string{"2000", "3000"}},
		{"root-supplemental", "", []int64{5000}, false, "0", []string{"0", "5000"}},
	} {
		st := h.procStatus(lr, sbID, sb, tc.name, func(c *runtime.ContainerConfig) {
			c.User = tc.user
			c.Security.SupplementalGroups, c.Security.StrictGroups = tc.groups, tc.strict
		})
		got := strings.Fields(st["Groups"])
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			h.t.Errorf("%s: groups %q, want %q", tc.name, got, tc.want)
		}
		if uid := strings.Fields(st["Uid"]); len(uid) == 0 || uid[0] != tc.uid {
			h.t.Errorf("%s: Uid line %q, want uid %s", tc.name, st["Uid"], tc.uid)
		}
		if _, gid, ok := strings.Cut(tc.user, ":"); ok {
			if g := strings.Fields(st["Gid"]); len(g) == 0 || g[0] != gid {
				h.t.Errorf("%s: Gid line %q, want gid %s", tc.name, st["Gid"], gid)
			}
		}
	}
}

// testNoNewPrivileges: NoNewPrivileges sets no_new_privs, which is unset
// otherwise.
func testNoNewPrivileges(h *harness) {
	lr := h.needStatus()
	sbID, sb := h.sandbox("nnp")
	for _, nnp := range []bool{true, false} {
		st := h.procStatus(lr, sbID, sb, "nnp-"+strconv.FormatBool(nnp), func(c *runtime.ContainerConfig) { c.Security.NoNewPrivileges = nnp })
		if want := map[bool]string{true: "1", false: "0"}[nnp]; st["NoNewPrivs"] != want {
			h.t.Errorf("NoNewPrivileges %v: NoNewPrivs %q, want %s", nnp, st["NoNewPrivs"], want)
		}
	}
}

// testSeccomp: a container runs under a seccomp filter with the
// runtime's default profile or a Localhost one, under none when
// Unconfined (the zero value, Kubernetes' default) or privileged; a
// Localhost profile whose file is missing fails the container's creation
// (or start) with an error naming the profile.
func testSeccomp(h *harness) {
	lr := h.needStatus()
	dir := h.t.TempDir()
	profile := filepath.Join(dir, "allow-but-reboot.json")
	const json = `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["reboot"],"action":"SCMP_ACT_ERRNO"}]}`
	if err := os.WriteFile(profile, []byte(json), 0o644); err != nil {
		h.t.Fatal(err)
	}
	sbID, sb := h.sandbox("seccomp")
	for _, tc := range []struct {
		name    string
		profile runtime.Profile
		want    string
	}{
		{"unconfined", runtime.Profile{}, "0"},
		{"runtime-default", runtime.Profile{Type: runtime.ProfileRuntimeDefault}, "2"},
		{"localhost", runtime.Profile{Type: runtime.ProfileLocalhost, Localhost: profile}, "2"},
	} {
		st := h.procStatus(lr, sbID, sb, tc.name, func(c *runtime.ContainerConfig) { c.Security.Seccomp = tc.profile })
		if st["Seccomp"] != tc.want {
			h.t.Errorf("seccomp %s: Seccomp mode %q, want %s", tc.name, st["Seccomp"], tc.want)
		}
	}

	// A privileged container has no filter, whatever it asks for. A
	// host that withholds capabilities from its runtime (a container
	// running the daemons) cannot start one: not checked there.
	cfg := h.containerConfig(sb, "privileged", 0, h.cfg.ReadFile("/proc/self/status"))
	cfg.Privileged, cfg.Security.Seccomp = true, runtime.Profile{Type: runtime.ProfileRuntimeDefault}
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err == nil {
		err = h.rt.StartContainer(h.ctx, id)
	}
	if err != nil {
		h.t.Logf("a privileged container cannot run on this host, its seccomp mode is not checked: %v", err)
	} else {
		h.waitContainer(id, "exited", exited)
		if out := h.logs(lr, id, runtime.LogOptions{}); !strings.Contains(out, "Seccomp:\t0\n") {
			h.t.Errorf("a privileged container asking for the runtime's default profile: want Seccomp 0, /proc/self/status:\n%s", out)
		}
	}

	missing := filepath.Join(dir, "missing.json")
	cfg = h.containerConfig(sb, "missing-profile", 0, h.cfg.Exit(0))
	cfg.Security.Seccomp = runtime.Profile{Type: runtime.ProfileLocalhost, Localhost: missing}
	id, err = h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err == nil {
		err = h.rt.StartContainer(h.ctx, id)
	}
	if err == nil {
		h.t.Errorf("a container of a missing seccomp profile file was created and started")
	} else if !strings.Contains(err.Error(), "cannot load seccomp profile") || !strings.Contains(err.Error(), missing) {
		h.t.Errorf("a missing seccomp profile: %v, want an error saying it cannot load %s", err, missing)
	}
}

// testAppArmor: where the host has no AppArmor, a container asking for
// the runtime's default profile or none runs, and one naming a Localhost
// profile is refused. Where it has AppArmor the case is skipped: its
// profiles are the host's.
func testAppArmor(h *harness) {
	lr := h.needStatus()
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && bytes.HasPrefix(b, []byte("Y")) {
		h.t.Skip("AppArmor is enabled on this host: what it confines depends on the host's profiles")
	}
	sbID, sb := h.sandbox("apparmor")
	for _, p := range []runtime.Profile{{Type: runtime.ProfileUnconfined}, {Type: runtime.ProfileRuntimeDefault}} {
		h.procStatus(lr, sbID, sb, strings.ToLower(p.Type.String()), func(c *runtime.ContainerConfig) { c.Security.AppArmor = p })
	}
	cfg := h.containerConfig(sb, "localhost", 0, h.cfg.Exit(0))
	cfg.Security.AppArmor = runtime.Profile{Type: runtime.ProfileLocalhost, Localhost: "podkit-runtimetest"}
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err == nil {
		err = h.rt.StartContainer(h.ctx, id)
	}
	if err == nil {
		h.t.Errorf("a container of a Localhost AppArmor profile was created and started on a host without AppArmor")
	} else if !strings.Contains(err.Error(), "AppArmor") {
		h.t.Errorf("a Localhost AppArmor profile without AppArmor: %v, want an error saying AppArmor is not enabled", err)
	}
}

// testSELinux: where the host has no SELinux, a container's SELinux label
// is ignored: the container runs. Where it has SELinux the case is
// skipped.
func testSELinux(h *harness) {
	lr := h.needStatus()
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		h.t.Skip("SELinux is enabled on this host: what a label allows depends on its policy")
	}
	sbID, sb := h.sandbox("selinux")
	h.procStatus(lr, sbID, sb, "labelled", func(c *runtime.ContainerConfig) {
		c.Security.SELinux = &runtime.SELinuxLabel{User: "system_u", Role: "system_r", Type: "container_t", Level: "s0:c1,c2"}
	})
}

// testGroupsFromImage: the groups the image's /etc/group gives the
// container's user are added (Kubernetes' supplementalGroupsPolicy
// Merge), whether or not the user names its group, and left out with
// StrictGroups. It needs Config.GroupsImage.
func testGroupsFromImage(h *harness) {
	if h.cfg.GroupsImage == "" || h.cfg.GroupsReadFile == nil {
		h.t.Skip("runtimetest.Config.GroupsImage or GroupsReadFile is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	sbID, sb := h.sandbox("image-groups")
	for _, tc := range []struct {
		name   string
		user   string
		strict bool
		want   []string
	}{
		{"merge-uid", "1000", false, []string{"1000", "2000", "5555"}},
		{"merge-uid-gid", "1000:3000", false, []string{"2000", "3000", "5555"}},
		{"strict-uid", "1000", true, []string{"1000", "2000"}},
		{"strict-uid-gid", "1000:3000", true, []string{"2000", "3000"}},
	} {
		out := h.outputWith(lr, sbID, sb, tc.name, h.cfg.GroupsReadFile("/proc/self/status"), func(c *runtime.ContainerConfig) {
			c.Image, c.User = h.cfg.GroupsImage, tc.user
			c.Security.SupplementalGroups, c.Security.StrictGroups = []int64{2000}, tc.strict
		})
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if g, ok := strings.CutPrefix(line, "Groups:"); ok {
				got = strings.Fields(g)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			h.t.Errorf("%s: groups %q, want %q; status:\n%s", tc.name, got, tc.want, out)
		}
	}
}
