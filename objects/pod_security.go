package objects

import (
	"maps"
	"slices"
	"strings"
)

// Security settings of pods and containers beyond the user, capabilities
// and seccomp (see PodSecurityContext and SecurityContext), as Kubernetes
// has them, and their validation:
//
//   - fsGroupChangePolicy says when the node agent makes the volumes that
//     support ownership management (emptyDir, configMap, secret,
//     downwardAPI, projected, and claims of local volumes) belong to the
//     pod's fsGroup: Always (the default) at each mount, or
//     OnRootMismatch only when the volume's root is not already the
//     group's, group-writable and setgid.
//   - supplementalGroupsPolicy says whether the groups that the image's
//     /etc/group gives the container's user are added to its
//     supplementalGroups and fsGroup (Merge, the default) or not (Strict).
//   - seLinuxOptions label the container's processes; a node without
//     SELinux ignores them, as Kubernetes' runtimes do.
//   - appArmorProfile confines the containers: RuntimeDefault (what a pod
//     that says nothing gets where AppArmor is on), Unconfined, or
//     Localhost, a profile loaded on the node. A node without AppArmor
//     refuses a pod that asks for one, but for Unconfined, as the kubelet
//     does. The deprecated annotation
//     container.apparmor.security.beta.kubernetes.io/<container> is kept
//     consistent with the fields, as the API server keeps it on create.
//   - procMount Default is the only one allowed: Unmasked needs a pod
//     with hostUsers false (a user namespace), which podkit does not have.
//   - windowsOptions belong to Windows pods: a pod whose spec.os is linux
//     may not set them; on a Linux node they are ignored.

// PodFSGroupChangePolicy says when a volume's ownership is changed to a
// pod's fsGroup.
type PodFSGroupChangePolicy string

// fsGroupChangePolicy values.
const (
	// FSGroupChangeOnRootMismatch changes a volume's ownership only when
	// its root directory does not already have the pod's fsGroup and
	// permissions: a large volume already prepared is not walked again.
	FSGroupChangeOnRootMismatch PodFSGroupChangePolicy = "OnRootMismatch"
	// FSGroupChangeAlways changes it each time the volume is mounted.
	FSGroupChangeAlways PodFSGroupChangePolicy = "Always"
)

// SupplementalGroupsPolicy says how a container's supplementary groups are
// computed.
type SupplementalGroupsPolicy string

// supplementalGroupsPolicy values.
const (
	// SupplementalGroupsPolicyMerge adds the groups the image's /etc/group
	// gives the container's user (the default).
	SupplementalGroupsPolicyMerge SupplementalGroupsPolicy = "Merge"
	// SupplementalGroupsPolicyStrict gives the container only its primary
	// group, fsGroup and supplementalGroups.
	SupplementalGroupsPolicyStrict SupplementalGroupsPolicy = "Strict"
)

// SELinuxOptions is an SELinux label.
type SELinuxOptions struct {
	User  string `json:"user,omitempty"`
	Role  string `json:"role,omitempty"`
	Type  string `json:"type,omitempty"`
	Level string `json:"level,omitempty"`
}

// WindowsSecurityContextOptions are the settings of Windows containers.
// They are validated as Kubernetes validates them and ignored on Linux
// nodes.
type WindowsSecurityContextOptions struct {
	GMSACredentialSpecName *string `json:"gmsaCredentialSpecName,omitempty"`
	GMSACredentialSpec     *string `json:"gmsaCredentialSpec,omitempty"`
	RunAsUserName          *string `json:"runAsUserName,omitempty"`
	HostProcess            *bool   `json:"hostProcess,omitempty"`
}

// ProcMountType says how /proc is mounted in a container.
type ProcMountType string

// procMount values.
const (
	// DefaultProcMount masks and makes read-only the paths of /proc that
	// the runtime's default does (/proc/kcore, /proc/sys...).
	DefaultProcMount ProcMountType = "Default"
	// UnmaskedProcMount masks nothing. It needs hostUsers false, which
	// podkit does not support: validation refuses it.
	UnmaskedProcMount ProcMountType = "Unmasked"
)

// AppArmorProfile selects an AppArmor profile.
type AppArmorProfile struct {
	Type AppArmorProfileType `json:"type"`
	// LocalhostProfile is the name of a profile loaded on the node; set
	// only, and always, with type Localhost.
	LocalhostProfile *string `json:"localhostProfile,omitempty"`
}

// AppArmorProfileType is RuntimeDefault, Unconfined or Localhost.
type AppArmorProfileType string

// AppArmor profile types.
const (
	AppArmorProfileTypeUnconfined     AppArmorProfileType = "Unconfined"
	AppArmorProfileTypeRuntimeDefault AppArmorProfileType = "RuntimeDefault"
	AppArmorProfileTypeLocalhost      AppArmorProfileType = "Localhost"
)

// The deprecated AppArmor annotation, one per container, and its values.
const (
	AppArmorContainerAnnotationKeyPrefix = "container.apparmor.security.beta.kubernetes.io/"
	AppArmorAnnotationRuntimeDefault     = "runtime/default"
	AppArmorAnnotationUnconfined         = "unconfined"
	AppArmorAnnotationLocalhostPrefix    = "localhost/"
)

// maxAppArmorLocalhostProfile is PATH_MAX - 1, Kubernetes' bound.
const maxAppArmorLocalhostProfile = 4095

// EffectiveAppArmorProfile returns the AppArmor profile of container c of
// pod spec s: the container's, else the pod's; nil when neither says.
func EffectiveAppArmorProfile(s *PodSpec, c *Container) *AppArmorProfile {
	if c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil {
		return c.SecurityContext.AppArmorProfile
	}
	if s.SecurityContext != nil {
		return s.SecurityContext.AppArmorProfile
	}
	return nil
}

// appArmorAnnotation is the annotation value that says what p says.
func appArmorAnnotation(p *AppArmorProfile) string {
	switch p.Type {
	case AppArmorProfileTypeRuntimeDefault:
		return AppArmorAnnotationRuntimeDefault
	case AppArmorProfileTypeUnconfined:
		return AppArmorAnnotationUnconfined
	case AppArmorProfileTypeLocalhost:
		if p.LocalhostProfile != nil {
			return AppArmorAnnotationLocalhostPrefix + *p.LocalhostProfile
		}
	}
	return ""
}

// appArmorField is the profile an annotation value says, or nil when it is
// not one.
func appArmorField(v string) *AppArmorProfile {
	switch {
	case v == AppArmorAnnotationRuntimeDefault:
		return &AppArmorProfile{Type: AppArmorProfileTypeRuntimeDefault}
	case v == AppArmorAnnotationUnconfined:
		return &AppArmorProfile{Type: AppArmorProfileTypeUnconfined}
	case strings.HasPrefix(v, AppArmorAnnotationLocalhostPrefix):
		name := strings.TrimPrefix(v, AppArmorAnnotationLocalhostPrefix)
		return &AppArmorProfile{Type: AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}

// syncAppArmor keeps the deprecated AppArmor annotations and the fields of
// a (non-Windows) pod consistent, as the API server does when it creates
// one: a container whose profile (its own or the pod's) is set and that
// has no annotation gets one saying it; a container with an annotation
// and no profile of its own gets the annotation's, when it is valid and
// differs from the pod's. Conflicting annotation and field are left for
// validation to refuse.
//
// The pod may share its containers and annotations with the template it
// was made from (see Pod.Default): what changes is written into copies.
func (p *Pod) syncAppArmor() {
	s := &p.Spec
	if s.OS != nil && s.OS.Name == Windows {
		return
	}
	var podProfile *AppArmorProfile
	if s.SecurityContext != nil {
		podProfile = s.SecurityContext.AppArmorProfile
	}
	annotationsCopied := false
	for _, list := range []*[]Container{&s.InitContainers, &s.Containers} {
		copied := false
		for i := range *list {
			c := &(*list)[i]
			key := AppArmorContainerAnnotationKeyPrefix + c.Name
			ann, has := p.Annotations[key]
			var own *AppArmorProfile
			if c.SecurityContext != nil {
				own = c.SecurityContext.AppArmorProfile
			}
			switch {
			case !has:
				prof := own
				if prof == nil {
					prof = podProfile
				}
				if prof == nil {
					continue
				}
				v := appArmorAnnotation(prof)
				if v == "" {
					continue
				}
				if !annotationsCopied {
					p.Annotations = maps.Clone(p.Annotations)
					if p.Annotations == nil {
						p.Annotations = map[string]string{}
					}
					annotationsCopied = true
				}
				p.Annotations[key] = v
			case own == nil:
				f := appArmorField(ann)
				if f == nil || len(validateAppArmorProfile(f, NewPath(""))) > 0 || podProfile != nil && jsonEqual(f, podProfile) {
					continue
				}
				if !copied {
					*list = slices.Clone(*list)
					c = &(*list)[i]
					copied = true
				}
				sc := &SecurityContext{}
				if c.SecurityContext != nil {
					*sc = *c.SecurityContext
				}
				sc.AppArmorProfile = f
				c.SecurityContext = sc
			}
		}
	}
}

func validateAppArmorProfile(pr *AppArmorProfile, p *Path) ErrorList {
	if pr == nil {
		return nil
	}
	lp := p.Child("localhostProfile")
	switch pr.Type {
	case AppArmorProfileTypeLocalhost:
		if pr.LocalhostProfile == nil {
			return ErrorList{Required(lp, "must be set when AppArmor type is Localhost")}
		}
		var errs ErrorList
		name := *pr.LocalhostProfile
		switch trimmed := strings.TrimSpace(name); {
		case trimmed != name:
			errs = append(errs, Invalid(lp, name, "must not be padded with whitespace"))
		case trimmed == "":
			errs = append(errs, Required(lp, "must be set when AppArmor type is Localhost"))
		}
		if len(name) > maxAppArmorLocalhostProfile {
			errs = append(errs, TooLong(lp, "", maxAppArmorLocalhostProfile))
		}
		return errs
	case AppArmorProfileTypeRuntimeDefault, AppArmorProfileTypeUnconfined:
		if pr.LocalhostProfile != nil {
			return ErrorList{Invalid(lp, *pr.LocalhostProfile, "can only be set when AppArmor type is Localhost")}
		}
		return nil
	case "":
		return ErrorList{Required(p.Child("type"), "type is required when appArmorProfile is set")}
	}
	return ErrorList{NotSupported(p.Child("type"), string(pr.Type), []string{
		string(AppArmorProfileTypeLocalhost), string(AppArmorProfileTypeRuntimeDefault), string(AppArmorProfileTypeUnconfined)})}
}

// validatePodSecurityExtras checks the pod-level fields of this file.
func validatePodSecurityExtras(sc *PodSecurityContext, p *Path) ErrorList {
	var errs ErrorList
	if v := sc.FSGroupChangePolicy; v != nil && *v != FSGroupChangeOnRootMismatch && *v != FSGroupChangeAlways {
		errs = append(errs, NotSupported(p.Child("fsGroupChangePolicy"), string(*v),
			[]string{string(FSGroupChangeAlways), string(FSGroupChangeOnRootMismatch)}))
	}
	if v := sc.SupplementalGroupsPolicy; v != nil && *v != SupplementalGroupsPolicyMerge && *v != SupplementalGroupsPolicyStrict {
		errs = append(errs, NotSupported(p.Child("supplementalGroupsPolicy"), string(*v),
			[]string{string(SupplementalGroupsPolicyMerge), string(SupplementalGroupsPolicyStrict)}))
	}
	errs = append(errs, validateWindowsOptions(sc.WindowsOptions, p.Child("windowsOptions"))...)
	return append(errs, validateAppArmorProfile(sc.AppArmorProfile, p.Child("appArmorProfile"))...)
}

// validateSecurityExtras checks the container-level fields of this file.
// No pod has hostUsers false (podkit has no user namespaces), so
// Unmasked is refused as Kubernetes refuses it for such a pod.
func validateSecurityExtras(sc *SecurityContext, p *Path) ErrorList {
	var errs ErrorList
	if pm := sc.ProcMount; pm != nil {
		switch *pm {
		case DefaultProcMount:
		case UnmaskedProcMount:
			errs = append(errs, Invalid(p.Child("procMount"), string(*pm), "`hostUsers` must be false to use `Unmasked`"))
		default:
			errs = append(errs, NotSupported(p.Child("procMount"), string(*pm), []string{string(DefaultProcMount), string(UnmaskedProcMount)}))
		}
	}
	errs = append(errs, validateWindowsOptions(sc.WindowsOptions, p.Child("windowsOptions"))...)
	return append(errs, validateAppArmorProfile(sc.AppArmorProfile, p.Child("appArmorProfile"))...)
}

const (
	maxGMSACredentialSpecKiB     = 64
	maxRunAsUserNameDomainLength = 256
	maxRunAsUserNameUserLength   = 104
)

// validateWindowsOptions checks windowsOptions by Kubernetes' rules.
func validateWindowsOptions(w *WindowsSecurityContextOptions, p *Path) ErrorList {
	if w == nil {
		return nil
	}
	var errs ErrorList
	if n := w.GMSACredentialSpecName; n != nil {
		errs = appendMsgs(errs, p.Child("gmsaCredentialSpecName"), *n, IsDNS1123Subdomain(*n))
	}
	if s := w.GMSACredentialSpec; s != nil {
		switch l := len(*s); {
		case l == 0:
			errs = append(errs, Invalid(p.Child("gmsaCredentialSpec"), *s, "gmsaCredentialSpec cannot be an empty string"))
		case l > maxGMSACredentialSpecKiB*1024:
			errs = append(errs, Invalid(p.Child("gmsaCredentialSpec"), *s, "gmsaCredentialSpec size must be under 64 KiB"))
		}
	}
	if u := w.RunAsUserName; u != nil {
		for _, msg := range runAsUserNameErrors(*u) {
			errs = append(errs, Invalid(p.Child("runAsUserName"), *u, msg))
		}
	}
	return errs
}

// runAsUserNameErrors are the problems of a Windows user name,
// "[DOMAIN\]USER".
func runAsUserNameErrors(name string) []string {
	if name == "" {
		return []string{"runAsUserName cannot be an empty string"}
	}
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return []string{"runAsUserName cannot contain control characters"}
	}
	parts := strings.Split(name, `\`)
	if len(parts) > 2 {
		return []string{"runAsUserName cannot contain more than one backslash"}
	}
	var msgs []string
	user, domain, hasDomain := parts[0], "", len(parts) == 2
	if hasDomain {
		domain, user = parts[0], parts[1]
	}
	if len(domain) >= maxRunAsUserNameDomainLength {
		msgs = append(msgs, "runAsUserName's Domain length must be under 256 characters")
	}
	if hasDomain && !validNetBIOSDomain(domain) && !validWindowsDNSDomain(domain) {
		msgs = append(msgs, "runAsUserName's Domain doesn't match the NetBios nor the DNS format")
	}
	switch l := len(user); {
	case l == 0:
		msgs = append(msgs, "runAsUserName's User cannot be empty")
	case l > maxRunAsUserNameUserLength:
		msgs = append(msgs, "runAsUserName's User length must not be longer than 104 characters")
	}
	if user != "" && strings.Trim(user, ". ") == "" {
		msgs = append(msgs, "runAsUserName's User cannot contain only periods or spaces")
	}
	if strings.ContainsAny(user, `"/\:;|=,+*?<>@[]`) {
		msgs = append(msgs, `runAsUserName's User cannot contain the following characters: "/\:;|=,+*?<>@[]`)
	}
	return msgs
}

// validNetBIOSDomain: 1 to 15 characters, not starting with a dot, none
// of \ / : * ? " < > |.
func validNetBIOSDomain(d string) bool {
	return d != "" && len(d) <= 15 && d[0] != '.' && !strings.ContainsAny(d, `\/:*?"<>|`)
}

// validWindowsDNSDomain: dot-separated labels of letters, digits and
// dashes, neither starting nor ending with a dash, at most 63 long.
func validWindowsDNSDomain(d string) bool {
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// validateAppArmorAnnotations checks the deprecated AppArmor annotations
// of a pod: each names a container of the pod and a profile in the
// annotation's format, and, for a pod not of Windows, says what the
// container's profile field (its own or the pod's) says, when it is set.
func validateAppArmorAnnotations(ann map[string]string, s *PodSpec) ErrorList {
	var errs ErrorList
	ap := NewPath("metadata", "annotations")
	for _, k := range slices.Sorted(maps.Keys(ann)) {
		name, ok := strings.CutPrefix(k, AppArmorContainerAnnotationKeyPrefix)
		if !ok {
			continue
		}
		if !podSpecHasContainer(s, name) {
			errs = append(errs, Invalid(ap.Key(k), name, "container not found"))
		}
		if v := ann[k]; v != "" && v != AppArmorAnnotationRuntimeDefault && v != AppArmorAnnotationUnconfined && !strings.HasPrefix(v, AppArmorAnnotationLocalhostPrefix) {
			errs = append(errs, Invalid(ap.Key(k), v, `invalid AppArmor profile name: "`+v+`"`))
		}
	}
	if s.OS != nil && s.OS.Name == Windows {
		return errs
	}
	sp := NewPath("spec")
	for _, list := range []struct {
		name string
		cs   []Container
	}{{"initContainers", s.InitContainers}, {"containers", s.Containers}} {
		for i := range list.cs {
			c := &list.cs[i]
			prof := EffectiveAppArmorProfile(s, c)
			v, found := ann[AppArmorContainerAnnotationKeyPrefix+c.Name]
			if prof == nil || !found {
				continue
			}
			fp := sp.Child(list.name).Index(i).Child("securityContext", "appArmorProfile")
			switch prof.Type {
			case AppArmorProfileTypeUnconfined, AppArmorProfileTypeRuntimeDefault:
				if v != appArmorAnnotation(prof) {
					errs = append(errs, Forbidden(fp.Child("type"), "apparmor type in annotation and field must match"))
				}
			case AppArmorProfileTypeLocalhost:
				if !strings.HasPrefix(v, AppArmorAnnotationLocalhostPrefix) {
					errs = append(errs, Forbidden(fp.Child("type"), "apparmor type in annotation and field must match"))
				} else if prof.LocalhostProfile == nil || strings.TrimPrefix(v, AppArmorAnnotationLocalhostPrefix) != *prof.LocalhostProfile {
					errs = append(errs, Forbidden(fp.Child("localhostProfile"), "apparmor profile in annotation and field must match"))
				}
			}
		}
	}
	return errs
}

func podSpecHasContainer(s *PodSpec, name string) bool {
	has := func(c Container) bool { return c.Name == name }
	return slices.ContainsFunc(s.InitContainers, has) || slices.ContainsFunc(s.Containers, has)
}

// validateLinuxSecurity refuses windowsOptions in a pod whose spec.os is
// linux, as Kubernetes does.
func validateLinuxSecurity(s *PodSpec, p *Path) ErrorList {
	const msg = "windows options cannot be set for a linux pod"
	var errs ErrorList
	if sc := s.SecurityContext; sc != nil && sc.WindowsOptions != nil {
		errs = append(errs, Forbidden(p.Child("securityContext", "windowsOptions"), msg))
	}
	for _, list := range []struct {
		name string
		cs   []Container
	}{{"initContainers", s.InitContainers}, {"containers", s.Containers}} {
		for i := range list.cs {
			if sc := list.cs[i].SecurityContext; sc != nil && sc.WindowsOptions != nil {
				errs = append(errs, Forbidden(p.Child(list.name).Index(i).Child("securityContext", "windowsOptions"), msg))
			}
		}
	}
	return errs
}
