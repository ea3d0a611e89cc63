package fake

import (
	"maps"
	"slices"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// podSpec is what a sandbox was created with beyond what its status
// reports and the fake commands need: only sandboxes given any of it have
// one.
type podSpec struct {
	aliases  []runtime.HostAlias
	sysctls  map[string]string
	sharePID bool
}

func newPodSpec(cfg *runtime.SandboxConfig) *podSpec {
	if len(cfg.HostAliases) == 0 && len(cfg.Sysctls) == 0 && !cfg.ShareProcessNamespace {
		return nil
	}
	s := &podSpec{sysctls: maps.Clone(cfg.Sysctls), sharePID: cfg.ShareProcessNamespace}
	for _, a := range cfg.HostAliases {
		s.aliases = append(s.aliases, runtime.HostAlias{IP: a.IP, Hostnames: slices.Clone(a.Hostnames)})
	}
	return s
}

// nodeHosts stands for the node's /etc/hosts in a HostNetwork pod's: the
// fake has no node of its own.
const nodeHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

// file returns the content of a file of the sandbox that its
// configuration makes: /etc/hosts (see runtime.HostsFile), /etc/hostname
// and /proc/sys/... of the sysctls it was given.
func (sb *sandbox) file(path string) (string, bool) {
	var aliases []runtime.HostAlias
	var sysctls map[string]string
	if sb.spec != nil {
		aliases, sysctls = sb.spec.aliases, sb.spec.sysctls
	}
	switch path {
	case "/etc/hosts":
		if sb.ip == 0 {
			return string(runtime.HostNetworkHostsFile([]byte(nodeHosts), aliases)), true
		}
		return string(runtime.HostsFile(sb.ipString, sb.hostname, aliases)), true
	case "/etc/hostname":
		return sb.hostname + "\n", true
	}
	if name, ok := strings.CutPrefix(path, "/proc/sys/"); ok {
		if v, ok := sysctls[strings.ReplaceAll(name, "/", ".")]; ok {
			return v + "\n", true
		}
	}
	return "", false
}

// processes returns the command lines c sees running, one a line: those of
// its sandbox's running containers when they share a PID namespace, else
// its own. Containers run without a command (the image's) show none.
func (sb *sandbox) processes(c *container) []string {
	var out []string
	for x := sb.ctrs; x != nil; x = x.next {
		if x == c || sb.spec != nil && sb.spec.sharePID && x.state == runtime.ContainerRunning {
			if l := cmdline(append(slices.Clone(x.spec.cfg.Command), x.spec.cfg.Args...)); l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// podCommand runs the fake commands that read the pod c is in, for a
// container or an exec'ed command: "cat FILE..." prints the files its
// sandbox's configuration makes (see sandbox.file) and fails on others;
// "ps" prints the command lines c sees (see sandbox.processes). ok is
// false for any other command. r.mu is held.
func podCommand(c *container, argv []string) (stdout, stderr []string, code int32, ok bool) {
	switch {
	case len(argv) > 1 && argv[0] == "cat":
		for _, path := range argv[1:] {
			content, found := c.sb.file(path)
			if !found {
				return stdout, []string{"open " + path + ": no such file or directory"}, 1, true
			}
			stdout = append(stdout, strings.Split(strings.TrimSuffix(content, "\n"), "\n")...)
		}
		return stdout, nil, 0, true
	case len(argv) == 1 && argv[0] == "ps":
		return c.sb.processes(c), nil, 0, true
	}
	return nil, nil, 0, false
}

// SandboxConfig is the configuration a sandbox was created with, as the
// fake keeps it: all but DNS and Ports.
type SandboxConfig struct {
	ID     string
	Config runtime.SandboxConfig
}

// SandboxConfigs returns the configurations of the sandboxes that exist,
// oldest first, for tests that check what a pod's sandbox was given (host
// aliases, sysctls, a shared PID namespace).
func (r *Runtime) SandboxConfigs() []SandboxConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	sbs := inOrder(r.sandboxes, func(*sandbox) bool { return true })
	out := make([]SandboxConfig, len(sbs))
	for i, sb := range sbs {
		cfg := runtime.SandboxConfig{PodUID: sb.uid, PodName: sb.pod, PodNamespace: sb.ns, Hostname: sb.hostname,
			Attempt: sb.attempt, Labels: maps.Clone(sb.labels), HostNetwork: sb.ip == 0}
		if s := sb.spec; s != nil {
			cfg.Sysctls, cfg.ShareProcessNamespace = maps.Clone(s.sysctls), s.sharePID
			for _, a := range s.aliases {
				cfg.HostAliases = append(cfg.HostAliases, runtime.HostAlias{IP: a.IP, Hostnames: slices.Clone(a.Hostnames)})
			}
		}
		out[i] = SandboxConfig{ID: sb.id, Config: cfg}
	}
	return out
}
