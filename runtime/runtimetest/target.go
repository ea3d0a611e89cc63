package runtimetest

import (
	"slices"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// testTargetPIDNamespace: a container created with a TargetContainerID
// joins that running container's PID namespace, as a Kubernetes
// ephemeral container with a targetContainerName does: it sees the
// target's process, which a container of the same sandbox without one
// does not. A target that is not running is refused, by CreateContainer
// or StartContainer.
func testTargetPIDNamespace(h *harness) {
	if len(h.cfg.Processes) == 0 {
		h.t.Skip("runtimetest.Config.Processes is not set")
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	other, self := strings.Join(h.cfg.IgnoreTerm, " "), strings.Join(h.cfg.Processes, " ")
	sbID, sb := h.sandbox("target-pids")
	target := h.run(sbID, sb, "target", h.cfg.IgnoreTerm)
	h.waitContainer(target, "running", running)
	h.waitIgnoring(target)

	cfg := h.containerConfig(sb, "debugger", 0, h.cfg.Processes)
	cfg.TargetContainerID = target
	id, err := h.rt.CreateContainer(h.ctx, sbID, cfg)
	if err != nil {
		h.t.Fatalf("CreateContainer(debugger) targeting a running container: %v", err)
	}
	h.start(id)
	st := h.waitContainer(id, "exited", exited)
	out := h.logs(lr, id, runtime.LogOptions{})
	if st.ExitCode != 0 {
		h.t.Fatalf("debugger (%q) exited %d, want 0; output:\n%s", h.cfg.Processes, st.ExitCode, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !slices.Contains(lines, self) {
		h.t.Errorf("the targeting container does not see itself (%q); it sees %q", self, lines)
	}
	if !slices.Contains(lines, other) {
		h.t.Errorf("the targeting container does not see its target's process %q; it sees %q", other, lines)
	}
	plain := strings.Split(strings.TrimSpace(h.output(lr, sbID, sb, "plain", h.cfg.Processes)), "\n")
	if slices.Contains(plain, other) {
		h.t.Errorf("a container without a target sees the other container's process %q: %q", other, plain)
	}

	// A target that has exited has no PID namespace to join.
	done := h.run(sbID, sb, "done", h.cfg.Exit(0))
	h.waitContainer(done, "exited", exited)
	cfg = h.containerConfig(sb, "late", 0, h.cfg.Processes)
	cfg.TargetContainerID = done
	if id, err := h.rt.CreateContainer(h.ctx, sbID, cfg); err == nil {
		if err := h.rt.StartContainer(h.ctx, id); err == nil {
			h.t.Errorf("a container targeting an exited container was created and started")
		}
	}
}
