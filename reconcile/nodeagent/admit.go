package nodeagent

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// Reasons of the kubelet's admission refusals that the agent makes: a
// refused pod fails with one of them (status.reason), before anything of
// it runs.
const (
	// ReasonSysctlForbidden: the pod sets a sysctl the node does not allow
	// (see WithAllowedUnsafeSysctls).
	ReasonSysctlForbidden = "SysctlForbidden"
	// ReasonPodOSSelectorNodeLabelDoesNotMatch: the pod's kubernetes.io/os
	// label names another system than its node's.
	ReasonPodOSSelectorNodeLabelDoesNotMatch = "PodOSSelectorNodeLabelDoesNotMatch"
	// ReasonPodOSNotSupported: the pod's spec.os names another system than
	// its node's.
	ReasonPodOSNotSupported = "PodOSNotSupported"
	// ReasonPodLevelResourcesNotSupported: the pod has pod-level resources
	// (spec.resources) and the node's runtime cannot confine a sandbox
	// (see runtime.PodResourcesReporter).
	ReasonPodLevelResourcesNotSupported = "PodLevelResourcesNotSupported"
)

// rejection is why the agent refused a pod.
type rejection struct {
	reason, message string
}

// admit returns why the agent refuses pod, or nil when it admits it, by
// the kubelet's admission handlers that concern what podkit has, in their
// order: the sysctls allowlist, then the node's OS, pod-level resources,
// then AppArmor.
func (a *Agent) admit(pod *objects.Pod) *rejection {
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		allow := a.sysctlAllowlist()
		for _, s := range sc.Sysctls {
			if err := allow.check(s.Name, pod.Spec.HostNetwork, pod.Spec.HostIPC); err != nil {
				return &rejection{ReasonSysctlForbidden, "forbidden sysctl: " + err.Error()}
			}
		}
	}
	nodeOS := a.nodeOS()
	if l, ok := pod.Labels[objects.LabelOS]; ok && l != nodeOS {
		return &rejection{ReasonPodOSSelectorNodeLabelDoesNotMatch, "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label"}
	}
	if pod.Spec.OS != nil && string(pod.Spec.OS.Name) != nodeOS {
		return &rejection{ReasonPodOSNotSupported, "Failed to admit pod as the OS field doesn't match node OS"}
	}
	if objects.PodLevelResources(pod) != nil {
		if r, ok := a.rt.(runtime.PodResourcesReporter); !ok || !r.PodLevelResources() {
			return &rejection{ReasonPodLevelResourcesNotSupported, "pod-level resources are not supported on the node"}
		}
	}
	return admitAppArmor(pod, appArmorEnabled)
}

// sysctlAllowlist returns the sysctls the node allows: the safe ones the
// kernel namespaces, and those of WithAllowedUnsafeSysctls. Made when a
// pod first sets any: few do.
func (a *Agent) sysctlAllowlist() *sysctlAllowlist {
	a.sysctlsOnce.Do(func() {
		w := a.cfg.unsafeSysctls.clone()
		for _, name := range safeSysctls(kernelRelease()) {
			w.names[name], _, _ = objects.SysctlNamespace(name)
		}
		a.sysctls = w
	})
	return a.sysctls
}

// safeSysctlList is the kubelet's list of safe sysctls (namespaced, and
// isolated from other pods), each with the kernel version since which it
// is namespaced (pkg/kubelet/sysctl/safe_sysctls.go, Kubernetes 1.37).
var safeSysctlList = [...]struct{ name, kernel string }{
	{"kernel.shm_rmid_forced", ""},
	{"net.ipv4.ip_local_port_range", ""},
	{"net.ipv4.tcp_syncookies", ""},
	{"net.ipv4.ping_group_range", ""},
	{"net.ipv4.ip_unprivileged_port_start", ""},
	{"net.ipv4.ip_local_reserved_ports", "3.16"},
	{"net.ipv4.tcp_keepalive_time", "4.5"},
	{"net.ipv4.tcp_fin_timeout", "4.6"},
	{"net.ipv4.tcp_keepalive_intvl", "4.5"},
	{"net.ipv4.tcp_keepalive_probes", "4.5"},
	{"net.ipv4.tcp_rmem", "4.15"},
	{"net.ipv4.tcp_wmem", "4.15"},
	{"net.ipv4.tcp_slow_start_after_idle", "4.15"},
	{"net.ipv4.tcp_notsent_lowat", "4.6"},
}

// safeSysctls returns the safe sysctls of a kernel of release ("6.1.0-18-amd64"),
// as the kubelet drops those an older kernel does not namespace. An
// unknown release ("": not a Linux host, whose pods run elsewhere, as on
// the fake runtime) counts as recent.
func safeSysctls(release string) []string {
	out := make([]string, 0, len(safeSysctlList))
	for _, s := range safeSysctlList {
		if s.kernel == "" || release == "" || versionAtLeast(release, s.kernel) {
			out = append(out, s.name)
		}
	}
	return out
}

// kernelRelease returns the host kernel's release, or "" when it cannot
// be read.
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// versionAtLeast reports whether release ("4.19.0-26-amd64") is at least
// min ("4.15"), comparing the leading dotted numbers.
func versionAtLeast(release, min string) bool {
	r, m := versionNumbers(release), versionNumbers(min)
	for i := range m {
		if i >= len(r) {
			return false
		}
		if r[i] != m[i] {
			return r[i] > m[i]
		}
	}
	return true
}

func versionNumbers(v string) []int {
	var out []int
	for _, part := range strings.Split(v, ".") {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, _ := strconv.Atoi(part[:end])
		out = append(out, n)
		if end < len(part) {
			break // "18-amd64": the rest is not the version
		}
	}
	return out
}

// sysctlAllowlist is the kubelet's patternAllowlist: sysctls and prefixes
// (of patterns ending in '*') allowed, each with its namespace.
type sysctlAllowlist struct {
	names    map[string]string
	prefixes map[string]string
}

// newSysctlAllowlist checks patterns, sysctl names or prefixes ending in
// '*', as the kubelet checks --allowed-unsafe-sysctls: each must be
// well-formed and of a namespaced sysctl.
func newSysctlAllowlist(patterns []string) (*sysctlAllowlist, error) {
	w := &sysctlAllowlist{names: map[string]string{}, prefixes: map[string]string{}}
	for _, p := range patterns {
		if len(p) > objects.SysctlMaxLength || !sysctlPattern.MatchString(p) {
			return nil, fmt.Errorf("sysctl %q must have at most %d characters and match regex %s", p, objects.SysctlMaxLength, sysctlPatternFmt)
		}
		ns, nameOrPrefix, prefixed := objects.SysctlNamespace(p)
		if ns == "" {
			return nil, fmt.Errorf("the sysctls %q are not known to be namespaced", nameOrPrefix)
		}
		if prefixed {
			w.prefixes[nameOrPrefix] = ns
		} else {
			w.names[nameOrPrefix] = ns
		}
	}
	return w, nil
}

// sysctlPatternFmt is Kubernetes' SysctlContainSlashPatternFmt: a sysctl
// name whose last segment may end in '*'.
const sysctlPatternFmt = `([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]`

var sysctlPattern = regexp.MustCompile("^" + sysctlPatternFmt + "$")

// clone returns a copy of w (an empty list when w is nil) to add to.
func (w *sysctlAllowlist) clone() *sysctlAllowlist {
	c := &sysctlAllowlist{names: map[string]string{}, prefixes: map[string]string{}}
	if w != nil {
		maps.Copy(c.names, w.names)
		maps.Copy(c.prefixes, w.prefixes)
	}
	return c
}

// check returns why sysctl name is not allowed, as the kubelet's
// allowlist words it, or nil. Those the pod would set in the node's own
// network or IPC namespace are refused.
func (w *sysctlAllowlist) check(name string, hostNetwork, hostIPC bool) error {
	name = objects.NormalizeSysctlName(name)
	ns, ok := w.names[name]
	if !ok {
		for p, pns := range w.prefixes {
			if strings.HasPrefix(name, p) {
				ns, ok = pns, true
				break
			}
		}
	}
	switch {
	case !ok:
		return fmt.Errorf("%q not allowlisted", name)
	case ns == objects.SysctlNamespaceNet && hostNetwork, ns == objects.SysctlNamespaceIPC && hostIPC:
		return fmt.Errorf("%q not allowed with host %s enabled", name, ns)
	case ns == objects.SysctlNamespaceUser:
		// Pods share the node's user namespace (podkit has no hostUsers).
		return fmt.Errorf("%q not allowed with host %s enabled", name, ns)
	}
	return nil
}

// nodeOS is the node's operating system: its kubernetes.io/os label, or
// linux, as last read by refreshNode.
func (a *Agent) nodeOS() string {
	if v, _ := a.nodeOSCache.Load().(string); v != "" {
		return v
	}
	return string(objects.Linux)
}
