package runtimetest

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// testUpdateResources: a runtime.ResourceUpdater changes a running
// container's CPU and memory limits in place, without restarting it, and
// reports them in its status; a container created but not started starts
// with those it was last given. When the runtime runs a command in a
// container and Config.ReadFile is set, the container's cgroup (v1 or v2)
// must hold the new CPU quota and memory limit.
func testUpdateResources(h *harness) {
	ru := capability[runtime.ResourceUpdater](h, "runtime.ResourceUpdater")
	sbID, sb := h.sandbox("resize")
	before := runtime.Resources{CPUShares: 256, CPUQuotaMillis: 250, MemoryLimitBytes: 64 << 20}
	after := runtime.Resources{CPUShares: 512, CPUQuotaMillis: 500, MemoryLimitBytes: 96 << 20}

	cfg := h.containerConfig(sb, "app", 0, nil)
	cfg.Resources = before
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err != nil {
		h.t.Fatalf("CreateContainer: %v", err)
	}
	h.start(id)
	st := h.waitContainer(id, "running", running)
	if st.Resources == nil || *st.Resources != before {
		h.t.Fatalf("a new container's status reports resources %+v, want %+v", st.Resources, before)
	}
	h.checkCgroup(id, before)
	started := st.StartedAt
	if err := ru.UpdateContainerResources(h.ctx, id, after); err != nil {
		h.t.Fatalf("UpdateContainerResources: %v", err)
	}
	st = h.waitContainer(id, "reporting its new resources", func(s runtime.ContainerStatus) bool {
		return s.Resources != nil && *s.Resources == after
	})
	if st.State != runtime.ContainerRunning || !st.StartedAt.Equal(started) {
		h.t.Fatalf("the container is %s, started at %v, after its update; want it still running, started at %v", st.State, st.StartedAt, started)
	}
	h.checkCgroup(id, after)
	if err := ru.UpdateContainerResources(h.ctx, id, after); err != nil {
		h.t.Errorf("a second update with the same resources: %v, want none (it is idempotent)", err)
	}

	// Created, then updated, then started: it starts with the update.
	cfg = h.containerConfig(sb, "later", 0, nil)
	cfg.Resources = before
	later, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err != nil {
		h.t.Fatalf("CreateContainer: %v", err)
	}
	if err := ru.UpdateContainerResources(h.ctx, later, after); err != nil {
		h.t.Fatalf("UpdateContainerResources of a created container: %v", err)
	}
	h.start(later)
	st = h.waitContainer(later, "running", running)
	if st.Resources == nil || *st.Resources != after {
		h.t.Errorf("a container updated before its start reports %+v, want %+v", st.Resources, after)
	}
	h.checkCgroup(later, after)

	if err := ru.UpdateContainerResources(h.ctx, "podkit-no-such-container", after); err == nil {
		h.t.Errorf("UpdateContainerResources of an unknown container: no error")
	}
}

// checkCgroup reads container id's CPU quota and memory limit from its
// cgroup files, v2 or v1, through an exec'ed Config.ReadFile, when the
// runtime has exec and the config that command.
func (h *harness) checkCgroup(id string, want runtime.Resources) {
	h.t.Helper()
	ex, ok := h.rt.(runtime.Execer)
	if !ok || h.cfg.ReadFile == nil || !h.cfg.SameHost {
		return
	}
	read := func(path string) (string, bool) {
		var out, errOut bytes.Buffer
		code, err := ex.Exec(h.ctx, id, runtime.ExecOptions{Command: h.cfg.ReadFile(path), Stdout: &out, Stderr: &errOut})
		if err != nil {
			h.t.Fatalf("Exec(%v): %v", h.cfg.ReadFile(path), err)
		}
		return strings.TrimSpace(out.String()), code == 0
	}
	quota := strconv.FormatInt(want.CPUQuotaMillis*100, 10) // of a 100 ms period
	mem := strconv.FormatInt(want.MemoryLimitBytes, 10)
	if v, ok := read("/sys/fs/cgroup/cpu.max"); ok { // cgroup v2
		if v != quota+" 100000" {
			h.t.Errorf("the container's cpu.max is %q, want %q", v, quota+" 100000")
		}
		if v, _ := read("/sys/fs/cgroup/memory.max"); v != mem {
			h.t.Errorf("the container's memory.max is %q, want %s", v, mem)
		}
		return
	}
	if v, ok := read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); !ok || v != quota {
		h.t.Errorf("the container's cpu.cfs_quota_us is %q (read: %v), want %s", v, ok, quota)
	}
	if v, ok := read("/sys/fs/cgroup/memory/memory.limit_in_bytes"); !ok || v != mem {
		h.t.Errorf("the container's memory.limit_in_bytes is %q (read: %v), want %s", v, ok, mem)
	}
}
