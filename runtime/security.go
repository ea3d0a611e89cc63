package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Security is what confines a container beyond its user, capabilities and
// privileged mode, as a Kubernetes runtime applies a container's
// securityContext. The zero value adds no group, sets no no_new_privs
// and confines the container with no seccomp or AppArmor profile (the
// node agent asks for the runtime's defaults where Kubernetes does: its
// AppArmor profile, not its seccomp one). A privileged container gets no
// seccomp or AppArmor profile, whatever it asks for.
type Security struct {
	// SupplementalGroups are groups the container's processes have
	// besides their primary group (which their list of groups holds too,
	// as Kubernetes' runtimes give it): a pod's supplementalGroups and
	// fsGroup.
	SupplementalGroups []int64
	// StrictGroups leaves out the groups the image's /etc/group gives the
	// container's user, which are otherwise added (Kubernetes'
	// supplementalGroupsPolicy Strict and Merge).
	StrictGroups bool
	// NoNewPrivileges sets no_new_privs: the container's processes cannot
	// gain privileges (setuid binaries, file capabilities), as a
	// container with allowPrivilegeEscalation false.
	NoNewPrivileges bool
	// Seccomp is the container's seccomp filter; Localhost names a JSON
	// profile file of the node, an absolute path. A file that cannot be
	// read as a profile fails CreateContainer (see LoadSeccompProfile).
	Seccomp Profile
	// AppArmor is the container's AppArmor profile; Localhost names a
	// profile loaded in the node's kernel. Where AppArmor is not enabled
	// the runtime applies none, and fails CreateContainer for a Localhost
	// one.
	AppArmor Profile
	// SELinux, when set, labels the container's processes; a runtime on
	// a node without SELinux ignores it.
	SELinux *SELinuxLabel
}

// ProfileType says which profile confines a container.
type ProfileType uint8

// Profile types, as Kubernetes names them.
const (
	// ProfileUnconfined: none.
	ProfileUnconfined ProfileType = iota
	// ProfileRuntimeDefault: the runtime's default profile (Docker's
	// seccomp profile and docker-default; containerd's default seccomp
	// profile, that of its CRI plugin, and an AppArmor profile it loads).
	ProfileRuntimeDefault
	// ProfileLocalhost: a profile of the node, Profile.Localhost.
	ProfileLocalhost
)

// String returns Kubernetes' name of t.
func (t ProfileType) String() string {
	switch t {
	case ProfileUnconfined:
		return "Unconfined"
	case ProfileRuntimeDefault:
		return "RuntimeDefault"
	case ProfileLocalhost:
		return "Localhost"
	}
	return fmt.Sprintf("ProfileType(%d)", t)
}

// Profile is a seccomp or AppArmor profile.
type Profile struct {
	Type ProfileType
	// Localhost is the profile of a ProfileLocalhost: a seccomp profile's
	// file, an AppArmor profile's name.
	Localhost string
}

// SELinuxLabel is an SELinux label; empty parts are the runtime's
// defaults.
type SELinuxLabel struct {
	User, Role, Type, Level string
}

// Clone returns a copy of s that shares nothing with it.
func (s Security) Clone() Security {
	c := s
	c.SupplementalGroups = slices.Clone(s.SupplementalGroups)
	if s.SELinux != nil {
		l := *s.SELinux
		c.SELinux = &l
	}
	return c
}

// Equal reports whether s and o say the same.
func (s Security) Equal(o Security) bool {
	return slices.Equal(s.SupplementalGroups, o.SupplementalGroups) && (s.SupplementalGroups == nil) == (o.SupplementalGroups == nil) &&
		s.StrictGroups == o.StrictGroups && s.NoNewPrivileges == o.NoNewPrivileges &&
		s.Seccomp == o.Seccomp && s.AppArmor == o.AppArmor &&
		(s.SELinux == nil) == (o.SELinux == nil) && (s.SELinux == nil || *s.SELinux == *o.SELinux)
}

// LoadSeccompProfile reads the seccomp profile of a ProfileLocalhost
// (Profile.Localhost, a JSON file), as runtimes load one: an error,
// "cannot load seccomp profile ...", names the file when it is missing or
// is not a JSON object.
func LoadSeccompProfile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load seccomp profile %q: %w", path, err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("cannot load seccomp profile %q: decoding seccomp profile failed: %w", path, err)
	}
	return b, nil
}
