package objects

import (
	"fmt"
	"regexp"
	"strings"
)

// Validation of what a pod asks of its sandbox (hostAliases,
// securityContext.sysctls) and of spec.os, by Kubernetes' rules.

const (
	sysctlSegmentFmt      = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
	sysctlContainSlashFmt = "(" + sysctlSegmentFmt + "[\\./])*" + sysctlSegmentFmt
	// SysctlMaxLength is the longest a sysctl name may be.
	SysctlMaxLength = 253
)

var sysctlRegexp = regexp.MustCompile("^" + sysctlContainSlashFmt + "$")

// IsValidSysctlName reports whether name is a sysctl name Kubernetes
// accepts: at most SysctlMaxLength characters, segments of lowercase
// letters, digits, '-' and '_' separated by dots or slashes, as sysctl(8)
// writes them ("net.ipv4.ip_local_port_range", "net/ipv4/conf/eth0.100/rp_filter").
func IsValidSysctlName(name string) bool {
	return len(name) <= SysctlMaxLength && sysctlRegexp.MatchString(name)
}

// NormalizeSysctlName returns name with dots between its segments: a name
// written with slashes has its slashes and dots swapped, as sysctl(8)
// reads it ("net/ipv4/conf/eth0.100/rp_filter" is
// "net.ipv4.conf.eth0/100.rp_filter").
func NormalizeSysctlName(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, name)
}

// Linux namespaces a sysctl may belong to, as SysctlNamespace names them.
const (
	SysctlNamespaceIPC  = "IPC"
	SysctlNamespaceNet  = "Net"
	SysctlNamespaceUTS  = "UTS"
	SysctlNamespaceUser = "User"
)

// sysctlNamespaces and sysctlPrefixNamespaces are Kubernetes' table of the
// sysctls known to be namespaced (k8s.io/component-helpers/node/util/sysctl).
var sysctlNamespaces = map[string]string{
	"kernel.domainname":      SysctlNamespaceUTS,
	"kernel.sem":             SysctlNamespaceIPC,
	"kernel.shmall":          SysctlNamespaceIPC,
	"kernel.shmmax":          SysctlNamespaceIPC,
	"kernel.shmmni":          SysctlNamespaceIPC,
	"kernel.shm_rmid_forced": SysctlNamespaceIPC,
	"kernel.shm":             SysctlNamespaceIPC,
	"kernel.msgmax":          SysctlNamespaceIPC,
	"kernel.msgmnb":          SysctlNamespaceIPC,
	"kernel.msgmni":          SysctlNamespaceIPC,
	"kernel.msg":             SysctlNamespaceIPC,
}

var sysctlPrefixNamespaces = [...]struct{ prefix, ns string }{
	{"net.", SysctlNamespaceNet},
	{"fs.mqueue.", SysctlNamespaceIPC},
	{"user.", SysctlNamespaceUser},
}

// SysctlNamespace returns the Linux namespace sysctl name (or pattern, up
// to its first '*') belongs to, one of the SysctlNamespace* constants, or
// "" when it is not known to be namespaced: a parameter of the whole node.
// A pattern's prefix is returned too, and whether it was one.
func SysctlNamespace(name string) (ns, nameOrPrefix string, prefixed bool) {
	nameOrPrefix = NormalizeSysctlName(name)
	if i := strings.IndexByte(nameOrPrefix, '*'); i >= 0 {
		nameOrPrefix, prefixed = nameOrPrefix[:i], true
	}
	if ns, ok := sysctlNamespaces[nameOrPrefix]; ok {
		return ns, nameOrPrefix, prefixed
	}
	for _, p := range sysctlPrefixNamespaces {
		if strings.HasPrefix(nameOrPrefix, p.prefix) {
			return p.ns, nameOrPrefix, prefixed
		}
	}
	return "", nameOrPrefix, prefixed
}

// validateSandboxFields checks spec.hostAliases,
// spec.securityContext.sysctls, the node's namespaces the pod shares,
// spec.hostnameOverride and spec.os.
func validateSandboxFields(s *PodSpec, p *Path) ErrorList {
	errs := validateHostNamespaces(s, p)
	errs = append(errs, validateHostnameOverride(s, p)...)
	if sc := s.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		errs = append(errs, validateSysctls(sc.Sysctls, s, p.Child("securityContext", "sysctls"))...)
	}
	for i, a := range s.HostAliases {
		ap := p.Child("hostAliases").Index(i)
		errs = append(errs, validateIP(a.IP, ap.Child("ip"))...)
		for j, h := range a.Hostnames {
			errs = appendMsgs(errs, ap.Child("hostnames").Index(j), h, IsDNS1123Subdomain(h))
		}
	}
	if s.OS != nil {
		errs = append(errs, validateOS(s, p)...)
	}
	return errs
}

func validateSysctls(sysctls []Sysctl, s *PodSpec, p *Path) ErrorList {
	var errs ErrorList
	seen := make(map[string]bool, len(sysctls))
	for i, sc := range sysctls {
		np := p.Index(i).Child("name")
		switch {
		case sc.Name == "":
			errs = append(errs, Required(np, ""))
		case !IsValidSysctlName(sc.Name):
			errs = append(errs, Invalid(np, sc.Name, fmt.Sprintf("must have at most %d characters and match regex %s", SysctlMaxLength, sysctlRegexp)))
		case seen[sc.Name]:
			errs = append(errs, Duplicate(np, sc.Name))
		}
		// A pod in the node's network or IPC namespace would set the node's.
		switch ns, _, _ := SysctlNamespace(sc.Name); {
		case s.HostNetwork && ns == SysctlNamespaceNet:
			errs = append(errs, Invalid(np, sc.Name, "may not be specified when 'hostNetwork' is true"))
		case s.HostIPC && ns == SysctlNamespaceIPC:
			errs = append(errs, Invalid(np, sc.Name, "may not be specified when 'hostIPC' is true"))
		}
		seen[sc.Name] = true
	}
	return errs
}

// validateOS checks spec.os and, for a windows pod, that it sets none of
// the Linux-only fields Kubernetes forbids it.
func validateOS(s *PodSpec, p *Path) ErrorList {
	op := p.Child("os")
	switch s.OS.Name {
	case Linux:
		return validateLinuxSecurity(s, p)
	case Windows:
	case "":
		return ErrorList{Required(op.Child("name"), "")}
	default:
		return ErrorList{NotSupported(op, string(s.OS.Name), []string{string(Linux), string(Windows)})}
	}
	var errs ErrorList
	forbid := func(set bool, p *Path) {
		if set {
			errs = append(errs, Forbidden(p, "cannot be set for a windows pod"))
		}
	}
	if sc := s.SecurityContext; sc != nil {
		sp := p.Child("securityContext")
		forbid(sc.SeccompProfile != nil, sp.Child("seccompProfile"))
		forbid(sc.FSGroup != nil, sp.Child("fsGroup"))
		forbid(len(sc.Sysctls) > 0, sp.Child("sysctls"))
		forbid(sc.RunAsUser != nil, sp.Child("runAsUser"))
		forbid(sc.RunAsGroup != nil, sp.Child("runAsGroup"))
		forbid(sc.SupplementalGroups != nil, sp.Child("supplementalGroups"))
		forbid(sc.AppArmorProfile != nil, sp.Child("appArmorProfile"))
		forbid(sc.SELinuxOptions != nil, sp.Child("seLinuxOptions"))
		forbid(sc.FSGroupChangePolicy != nil, sp.Child("fsGroupChangePolicy"))
		forbid(sc.SupplementalGroupsPolicy != nil, sp.Child("supplementalGroupsPolicy"))
	}
	forbid(s.ShareProcessNamespace != nil, p.Child("shareProcessNamespace"))
	forbid(s.HostPID, p.Child("hostPID"))
	forbid(s.HostIPC, p.Child("hostIPC"))
	for _, list := range []struct {
		name string
		cs   []Container
	}{{"initContainers", s.InitContainers}, {"containers", s.Containers}} {
		for i := range list.cs {
			sc := list.cs[i].SecurityContext
			if sc == nil {
				continue
			}
			sp := p.Child(list.name).Index(i).Child("securityContext")
			forbid(sc.SeccompProfile != nil, sp.Child("seccompProfile"))
			forbid(sc.Capabilities != nil, sp.Child("capabilities"))
			forbid(sc.ReadOnlyRootFilesystem != nil, sp.Child("readOnlyRootFilesystem"))
			forbid(sc.Privileged != nil, sp.Child("privileged"))
			forbid(sc.AllowPrivilegeEscalation != nil, sp.Child("allowPrivilegeEscalation"))
			forbid(sc.RunAsUser != nil, sp.Child("runAsUser"))
			forbid(sc.RunAsGroup != nil, sp.Child("runAsGroup"))
			forbid(sc.AppArmorProfile != nil, sp.Child("appArmorProfile"))
			forbid(sc.SELinuxOptions != nil, sp.Child("seLinuxOptions"))
			forbid(sc.ProcMount != nil, sp.Child("procMount"))
		}
	}
	return errs
}
