package nodeagent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// What the agent does of the security settings of a pod and its
// containers beyond the user, capabilities and privileged mode, as the
// kubelet does:
//
//   - supplementalGroups and fsGroup become the container's
//     supplementary groups, without those of the image's /etc/group with
//     supplementalGroupsPolicy Strict;
//   - allowPrivilegeEscalation false sets no_new_privs;
//   - seccompProfile (the container's, else the pod's) is applied, none
//     when neither says (Kubernetes' default, a kubelet without
//     SeccompDefault); a Localhost one is a file under the seccomp root
//     (see WithSeccompRoot), and a file the runtime cannot load fails the
//     container's creation (CreateContainerError);
//   - appArmorProfile (the container's, else the pod's, else the
//     runtime's default) is applied, and a pod asking for any but
//     Unconfined on a node without AppArmor is refused (reason AppArmor);
//   - seLinuxOptions (the container's, else the pod's) label the
//     container, where SELinux is on;
//   - fsGroup owns the volumes that support it (see setVolumeOwnership);
//   - runAsNonRoot (the container's, else the pod's) keeps a container
//     that would run as root from being created (see verifyRunAsNonRoot).

// DefaultSeccompRoot is where Localhost seccomp profiles are found when
// neither WithSeccompRoot nor WithRootDir says: the kubelet's, under its
// default root directory.
const DefaultSeccompRoot = "/var/lib/kubelet/seccomp"

// ReasonAppArmor: the pod asks for an AppArmor profile and the node has
// no AppArmor.
const ReasonAppArmor = "AppArmor"

// WithSeccompRoot sets the directory of the seccomp profiles that pods
// name with type Localhost (localhostProfile is a path relative to it),
// as the kubelet's <root-dir>/seccomp. Default: "seccomp" in the
// directory of WithRootDir when it is set, else DefaultSeccompRoot.
func WithSeccompRoot(dir string) Option {
	return func(cfg *config) error {
		if !filepath.IsAbs(dir) {
			return errors.New("nodeagent.WithSeccompRoot: want an absolute directory")
		}
		cfg.seccompRoot = dir
		return nil
	}
}

func (c *config) seccompDir() string {
	switch {
	case c.seccompRoot != "":
		return c.seccompRoot
	case c.rootDir != "":
		return filepath.Join(c.rootDir, "seccomp")
	}
	return DefaultSeccompRoot
}

// applySecurity sets cfg.Security from the pod's and the container's
// security contexts.
func (a *Agent) applySecurity(cfg *runtime.ContainerConfig, pod *objects.Pod, c *objects.Container) {
	psc, csc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &objects.PodSecurityContext{}
	}
	if csc == nil {
		csc = &objects.SecurityContext{}
	}
	s := &cfg.Security
	for _, g := range psc.SupplementalGroups {
		if !slices.Contains(s.SupplementalGroups, g) {
			s.SupplementalGroups = append(s.SupplementalGroups, g)
		}
	}
	if g := psc.FSGroup; g != nil && !slices.Contains(s.SupplementalGroups, *g) {
		s.SupplementalGroups = append(s.SupplementalGroups, *g)
	}
	s.StrictGroups = psc.SupplementalGroupsPolicy != nil && *psc.SupplementalGroupsPolicy == objects.SupplementalGroupsPolicyStrict
	s.NoNewPrivileges = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation

	seccomp := csc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp != nil {
		switch seccomp.Type {
		case objects.SeccompProfileTypeRuntimeDefault:
			s.Seccomp.Type = runtime.ProfileRuntimeDefault
		case objects.SeccompProfileTypeLocalhost:
			s.Seccomp = runtime.Profile{Type: runtime.ProfileLocalhost, Localhost: filepath.Join(a.cfg.seccompDir(), *seccomp.LocalhostProfile)}
		}
	}

	s.AppArmor.Type = runtime.ProfileRuntimeDefault
	if p := objects.EffectiveAppArmorProfile(&pod.Spec, c); p != nil {
		switch p.Type {
		case objects.AppArmorProfileTypeUnconfined:
			s.AppArmor.Type = runtime.ProfileUnconfined
		case objects.AppArmorProfileTypeLocalhost:
			s.AppArmor = runtime.Profile{Type: runtime.ProfileLocalhost, Localhost: *p.LocalhostProfile}
		}
	}

	se := csc.SELinuxOptions
	if se == nil {
		se = psc.SELinuxOptions
	}
	if se != nil {
		s.SELinux = &runtime.SELinuxLabel{User: se.User, Role: se.Role, Type: se.Type, Level: se.Level}
	}
}

// admitAppArmor is the kubelet's AppArmor admission: a pod that asks for
// an AppArmor profile other than Unconfined (in a field, or in the
// deprecated annotation) cannot run on a node without AppArmor.
func admitAppArmor(pod *objects.Pod, enabled func() bool) *rejection {
	if !appArmorRequired(pod) || enabled() {
		return nil
	}
	return &rejection{ReasonAppArmor, "Cannot enforce AppArmor: AppArmor is not enabled on the host"}
}

func appArmorRequired(pod *objects.Pod) bool {
	asks := func(p *objects.AppArmorProfile) bool {
		return p != nil && p.Type != objects.AppArmorProfileTypeUnconfined
	}
	if sc := pod.Spec.SecurityContext; sc != nil && asks(sc.AppArmorProfile) {
		return true
	}
	for _, cs := range [][]objects.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if sc := cs[i].SecurityContext; sc != nil && asks(sc.AppArmorProfile) {
				return true
			}
		}
	}
	for k, v := range pod.Annotations {
		if strings.HasPrefix(k, objects.AppArmorContainerAnnotationKeyPrefix) && v != objects.AppArmorAnnotationUnconfined {
			return true
		}
	}
	return false
}

// appArmorEnabled reports whether the host's kernel has AppArmor on, as
// the kubelet (and runc) tell it.
func appArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// verifyRunAsNonRoot is the kubelet's check of runAsNonRoot (the
// container's, else the pod's; kuberuntime's verifyRunAsNonRoot), made
// before the container is created: a runAsUser (the container's, else the
// pod's) of 0 is refused and any other passes; without one the image's
// user decides, as the runtime reports it (runtime.ImageConfigReader):
// root (0, or none named) is refused, and so is a user name, which cannot
// be told from root without the image's files. "uid:gid" is judged by
// its uid. A refusal is a *configError with the kubelet's message, so the
// container waits in CreateContainerConfigError and is tried again; an
// unreachable runtime is returned as it is.
func (a *Agent) verifyRunAsNonRoot(ctx context.Context, pod *objects.Pod, c *objects.Container) error {
	var nonRoot *bool
	var uid *int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		nonRoot, uid = psc.RunAsNonRoot, psc.RunAsUser
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsNonRoot != nil {
			nonRoot = csc.RunAsNonRoot
		}
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
	}
	if nonRoot == nil || !*nonRoot {
		return nil
	}
	podName := pod.Name + "_" + pod.Namespace + "(" + pod.UID + ")" // the kubelet's format.Pod
	if uid != nil {
		if *uid == 0 {
			return configErr("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podName, c.Name)
		}
		return nil
	}
	r, ok := a.rt.(runtime.ImageConfigReader)
	if !ok {
		return configErr("container has runAsNonRoot and the runtime cannot report the image's user (it does not implement runtime.ImageConfigReader), cannot verify user is non-root (pod: %q, container: %s)", podName, c.Name)
	}
	user, err := r.ImageUser(ctx, c.Image)
	if err != nil {
		if errors.Is(err, runtime.ErrUnavailable) || ctx.Err() != nil {
			return err
		}
		return configErr("container has runAsNonRoot and the user of image %q cannot be read: %v, cannot verify user is non-root (pod: %q, container: %s)", c.Image, err, podName, c.Name)
	}
	name, _, _ := strings.Cut(user, ":")
	n, err := strconv.ParseInt(name, 10, 64)
	switch {
	case name == "" || err == nil && n == 0:
		return configErr("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podName, c.Name)
	case err != nil:
		return configErr("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", name, podName, c.Name)
	}
	return nil
}
