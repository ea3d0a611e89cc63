package runtimetest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// testDiskUsage: a container that writes a file of 3 MiB to its root
// filesystem takes at least that much of its writable layer, and not
// tens of MiB more (the image's layers are not its own); once its line
// is in its logs, they take some disk too. An unknown id is not found.
// It needs Config.Fill.
func testDiskUsage(h *harness) {
	du := capability[runtime.DiskUsageProvider](h, "runtime.DiskUsageProvider")
	if h.cfg.Fill == nil {
		h.t.Skip("runtimetest.Config.Fill is not set")
	}
	const size, absurd = 3 << 20, 64 << 20
	sbID, sb := h.sandbox("disk")
	id := h.run(sbID, sb, "filler", h.cfg.Fill("/podkit-fill", size))
	u := h.waitDiskUsage(du, id, "a writable layer of at least 3 MiB", func(u runtime.DiskUsage) bool {
		return u.WritableLayerBytes >= size
	})
	if u.WritableLayerBytes >= absurd {
		h.t.Errorf("a container that wrote 3 MiB has a writable layer of %d bytes, want less than 64 MiB", u.WritableLayerBytes)
	}
	if lr, ok := h.rt.(runtime.LogReader); ok {
		h.waitLogLine(lr, id, "filled")
		u = h.waitDiskUsage(du, id, "logs taking disk once they hold its line", func(u runtime.DiskUsage) bool { return u.LogBytes > 0 })
	}
	h.t.Logf("disk usage of a container that wrote 3 MiB: %+v", u)
	const missing = "0000000000000000000000000000000000000000000000000000000000000000"
	if u, err := du.ContainerDiskUsage(h.ctx, missing); !errors.Is(err, runtime.ErrNotFound) {
		h.t.Errorf("ContainerDiskUsage(unknown id) = %+v, %v; want ErrNotFound", u, err)
	}
}

// waitDiskUsage asks for the container's disk usage until cond holds for
// it, or fails when the timeout passes, with what it saw.
func (h *harness) waitDiskUsage(du runtime.DiskUsageProvider, id, what string, cond func(runtime.DiskUsage) bool) runtime.DiskUsage {
	h.t.Helper()
	var u runtime.DiskUsage
	h.poll(func() bool {
		var err error
		if u, err = du.ContainerDiskUsage(h.ctx, id); err != nil {
			h.t.Fatalf("ContainerDiskUsage: %v", err)
		}
		return cond(u)
	}, func(when string) string {
		st, _ := h.container(id)
		var out string
		if lr, ok := h.rt.(runtime.LogReader); ok {
			out = h.logs(lr, id, runtime.LogOptions{})
		}
		return fmt.Sprintf("container %s: not %s %s; last seen %+v, the container %s (exit code %d), its output %q",
			id, what, when, u, st.State, st.ExitCode, out)
	})
	return u
}

// waitLogLine reads the container's logs until a line begins with
// prefix, or fails when the timeout passes.
func (h *harness) waitLogLine(lr runtime.LogReader, id, prefix string) {
	h.t.Helper()
	var out string
	h.poll(func() bool {
		out = h.logs(lr, id, runtime.LogOptions{})
		return strings.HasPrefix(out, prefix) || strings.Contains(out, "\n"+prefix)
	}, func(when string) string {
		return fmt.Sprintf("container %s: no line beginning %q in its logs %s; they are %q", id, prefix, when, out)
	})
}
