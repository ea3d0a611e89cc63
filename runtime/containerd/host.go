package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/podkit/podkit/runtime"
)

// What a container may share with the host, as Kubernetes' CRI plugin of
// containerd gives it: the host's PID and IPC namespaces (with the host's
// /dev/shm) for a sandbox of HostPID or HostIPC, and mounts whose
// propagation is rslave or rshared.

// hostNamespaceOpts puts a container of sandbox sb in the host's PID and
// IPC namespaces when the sandbox is in them. The host's /dev/shm then
// replaces the container's own, as the CRI plugin mounts it.
func hostNamespaceOpts(sb containers.Container) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if sb.Labels[labelHostPID] == "true" {
		opts = append(opts, oci.WithHostNamespace(specs.PIDNamespace))
	}
	if sb.Labels[labelHostIPC] == "true" {
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace), withHostShm)
	}
	return opts
}

// withHostShm binds the host's /dev/shm over the tmpfs of the default
// spec; a volume the container mounts there stays on top.
func withHostShm(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	for i, m := range s.Mounts {
		if m.Destination == "/dev/shm" && m.Type == "tmpfs" {
			s.Mounts[i] = bind("/dev/shm", "/dev/shm", false)
			return nil
		}
	}
	return nil
}

// propagatedBind returns the bind mount of m with its propagation, having
// checked, as the CRI plugin does, that the host path is on a mount of the
// host that propagates: shared for Bidirectional, shared or slave for
// HostToContainer.
func propagatedBind(m runtime.Mount) (specs.Mount, error) {
	b := bind(m.HostPath, m.ContainerPath, m.ReadOnly)
	if m.RecursiveReadOnly {
		if !m.ReadOnly || m.Propagation != runtime.PropagationPrivate {
			return specs.Mount{}, fmt.Errorf("mount %s: recursively read-only needs read-only and private propagation", m.HostPath)
		}
		// runc makes every mount under the bind read-only (mount_setattr
		// with AT_RECURSIVE).
		b.Options = append(b.Options, "rro")
	}
	var want, opt string
	switch m.Propagation {
	case runtime.PropagationPrivate:
		return b, nil
	case runtime.PropagationHostToContainer:
		want, opt = "a shared or slave mount", "rslave"
	case runtime.PropagationBidirectional:
		want, opt = "a shared mount", "rshared"
	default:
		return specs.Mount{}, fmt.Errorf("mount %s: unknown propagation %v", m.HostPath, m.Propagation)
	}
	info, err := mount.Lookup(m.HostPath)
	if err != nil {
		return specs.Mount{}, err
	}
	ok := false
	for _, o := range strings.Fields(info.Optional) {
		ok = ok || strings.HasPrefix(o, "shared:") || opt == "rslave" && strings.HasPrefix(o, "master:")
	}
	if !ok {
		return specs.Mount{}, fmt.Errorf("path %q is mounted on %q but it is not %s", m.HostPath, info.Mountpoint, want)
	}
	for i, o := range b.Options {
		if o == "rprivate" {
			b.Options[i] = opt
		}
	}
	return b, nil
}

// withRootfsPropagation makes the container's root propagate as its
// mounts need, as the CRI plugin sets it: rshared when one of them is
// Bidirectional, else rslave when one is HostToContainer; else runc's
// default stays.
func withRootfsPropagation(mounts []runtime.Mount) oci.SpecOpts {
	prop := ""
	for _, m := range mounts {
		switch m.Propagation {
		case runtime.PropagationBidirectional:
			prop = "rshared"
		case runtime.PropagationHostToContainer:
			if prop == "" {
				prop = "rslave"
			}
		}
	}
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if prop == "" {
			return nil
		}
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.RootfsPropagation = prop
		return nil
	}
}

// RecursiveReadOnlyMounts implements runtime.RecursiveReadOnlyReporter:
// the sandboxes of a handler run by containerd's runc shim can have them
// where runc lists the "rro" mount option (runc 1.1 and later, on Linux
// 5.12 and later), as containerd's CRI plugin reads runc's features.
func (r *Runtime) RecursiveReadOnlyMounts(handler string) bool {
	shim := r.cfg.runtimeName
	if handler != "" {
		var ok bool
		if shim, ok = r.cfg.handlers[handler]; !ok {
			return false
		}
	}
	return r.shimRecursiveReadOnly(shim)
}

// shimRecursiveReadOnly reports whether containers run by the containerd
// runtime (shim) named can have recursively read-only mounts.
func (r *Runtime) shimRecursiveReadOnly(shim string) bool {
	return shim == DefaultRuntimeName && runcRecursiveReadOnly()
}

// runcRecursiveReadOnly reports whether the runc on PATH, which the runc
// shim runs, lists "rro" among its mount options (`runc features`).
var runcRecursiveReadOnly = sync.OnceValue(func() bool {
	out, err := exec.Command("runc", "features").Output()
	if err != nil {
		return false
	}
	var f features.Features
	return json.Unmarshal(out, &f) == nil && slices.Contains(f.MountOptions, "rro")
})
