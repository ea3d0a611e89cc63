package containerd

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/contrib/apparmor"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	pkgapparmor "github.com/containerd/containerd/v2/pkg/apparmor"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podkit/podkit/runtime"
)

// defaultAppArmorProfile is the name of the AppArmor profile of
// containers that ask for the runtime's default, generated from
// containerd's template (that of its CRI plugin) and loaded when first
// needed.
const defaultAppArmorProfile = "podkit-containerd.apparmor.d"

// securityOpts are the spec options of a container's runtime.Security, as
// containerd's CRI plugin makes them; they follow those of its user and
// capabilities. The groups the image's /etc/group gives the user are
// merged unless StrictGroups; the primary group is in the list, as
// Kubernetes' runtimes put it. A privileged container gets no seccomp or
// AppArmor profile.
func securityOpts(cfg *runtime.ContainerConfig) ([]oci.SpecOpts, error) {
	s := &cfg.Security
	var opts []oci.SpecOpts
	switch {
	case s.StrictGroups:
		opts = append(opts, withOnlyPrimaryGroup)
	case cfg.User != "":
		// The user options reset the groups; the image's user had them
		// merged by the image's config already.
		uid, _, _ := strings.Cut(cfg.User, ":")
		opts = append(opts, oci.WithAdditionalGIDs(uid))
	}
	if len(s.SupplementalGroups) > 0 {
		opts = append(opts, withSupplementalGroups(s.SupplementalGroups))
	}
	// containerd's default spec sets no_new_privs; Kubernetes' default
	// (allowPrivilegeEscalation unset) and Docker's is not to.
	if s.NoNewPrivileges {
		opts = append(opts, oci.WithNoNewPrivileges)
	} else {
		opts = append(opts, oci.WithNewPrivileges)
	}
	if !cfg.Privileged {
		switch s.Seccomp.Type {
		case runtime.ProfileRuntimeDefault:
			opts = append(opts, seccomp.WithDefaultProfile())
		case runtime.ProfileLocalhost:
			b, err := runtime.LoadSeccompProfile(s.Seccomp.Localhost)
			if err != nil {
				return nil, fmt.Errorf("containerd: container %s: %w", cfg.Name, err)
			}
			var prof specs.LinuxSeccomp
			if err := json.Unmarshal(b, &prof); err != nil {
				return nil, fmt.Errorf("containerd: container %s: cannot load seccomp profile %q: %w", cfg.Name, s.Seccomp.Localhost, err)
			}
			opts = append(opts, withSeccomp(&prof))
		}
		switch p := s.AppArmor; {
		case p.Type == runtime.ProfileUnconfined:
		case !pkgapparmor.HostSupports():
			if p.Type == runtime.ProfileLocalhost {
				return nil, fmt.Errorf("containerd: container %s: AppArmor profile %q: AppArmor is not enabled on the host", cfg.Name, p.Localhost)
			}
		case p.Type == runtime.ProfileRuntimeDefault:
			opts = append(opts, apparmor.WithDefaultProfile(defaultAppArmorProfile))
		case p.Type == runtime.ProfileLocalhost:
			opts = append(opts, apparmor.WithProfile(p.Localhost))
		}
	}
	if l := s.SELinux; l != nil && selinuxEnabled() {
		opts = append(opts, oci.WithSelinuxLabel(strings.Join([]string{
			cmp.Or(l.User, "system_u"), cmp.Or(l.Role, "system_r"), cmp.Or(l.Type, "container_t"), cmp.Or(l.Level, "s0")}, ":")))
	}
	return opts, nil
}

func withOnlyPrimaryGroup(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process != nil {
		s.Process.User.AdditionalGids = []uint32{s.Process.User.GID}
	}
	return nil
}

func withSupplementalGroups(groups []int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		u := &s.Process.User
		if !slices.Contains(u.AdditionalGids, u.GID) {
			u.AdditionalGids = append([]uint32{u.GID}, u.AdditionalGids...)
		}
		for _, g := range groups {
			if !slices.Contains(u.AdditionalGids, uint32(g)) {
				u.AdditionalGids = append(u.AdditionalGids, uint32(g))
			}
		}
		return nil
	}
}

func withSeccomp(p *specs.LinuxSeccomp) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.Seccomp = p
		return nil
	}
}

// selinuxEnabled reports whether the host has SELinux on: elsewhere
// labels are ignored, as containerd ignores them.
func selinuxEnabled() bool {
	_, err := os.Stat("/sys/fs/selinux/enforce")
	return err == nil
}
