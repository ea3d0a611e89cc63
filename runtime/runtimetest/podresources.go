package runtimetest

import (
	"errors"

	"github.com/podkit/podkit/runtime"
)

// testPodResources: a runtime that confines a sandbox's containers
// together (runtime.PodResourcesReporter) runs a sandbox with
// SandboxConfig.Resources; one that cannot refuses it with
// runtime.ErrPodResources. Where the runtime shares the test's host
// (Config.SameHost, with Fill), the limit holds for the containers
// together: a container without a memory limit of its own, in a sandbox
// limited to 32 MiB, is killed (OOMKilled) when it fills 48 MiB of its
// /dev/shm, which takes memory, while the same container in a sandbox
// without limits fills it.
func testPodResources(h *harness) {
	limited := &runtime.Resources{CPUShares: 512, CPUQuotaMillis: 500, MemoryLimitBytes: 32 << 20}
	if r, ok := h.rt.(runtime.PodResourcesReporter); !ok || !r.PodLevelResources() {
		cfg := h.sandboxConfig("podres")
		cfg.Resources = limited
		if id, err := h.rt.RunSandbox(h.ctx, cfg); !errors.Is(err, runtime.ErrPodResources) {
			h.t.Errorf("RunSandbox with pod resources on a runtime without them: %s, %v; want runtime.ErrPodResources", id, err)
		}
		return
	}
	sbID, sb := h.sandboxWith("podres", func(c *runtime.SandboxConfig) { c.Resources = limited })
	if !h.cfg.SameHost || h.cfg.Fill == nil {
		h.run(sbID, sb, "app", nil)
		return
	}
	lr := capability[runtime.LogReader](h, "runtime.LogReader")
	const path, size = "/dev/shm/podkit-fill", 48 << 20
	freeID, free := h.sandbox("podres-free")
	id := h.run(freeID, free, "filler", h.cfg.Fill(path, size))
	h.waitLogLine(lr, id, "filled")

	id = h.run(sbID, sb, "filler", h.cfg.Fill(path, size))
	if st := h.waitContainer(id, "exited", exited); st.Reason != "OOMKilled" {
		h.t.Errorf("a container filling %d MiB of memory in a sandbox limited to 32 MiB exited %d, reason %q; want OOMKilled",
			size>>20, st.ExitCode, st.Reason)
	}
}
