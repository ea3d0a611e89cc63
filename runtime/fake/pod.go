package fake

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/runtime"
)

// podSpec is what a sandbox was created with beyond what its status
// reports and the fake commands need: only sandboxes given any of it have
// one.
type podSpec struct {
	aliases  []runtime.HostAlias
	domain   string
	sysctls  map[string]string
	sharePID bool
	hostPID  bool
	hostIPC  bool
	// resources are the sandbox's own (SandboxConfig.Resources).
	resources *runtime.Resources
	// shm holds the files written in the pod's /dev/shm (see shmFiles).
	shm map[string]string
}

func newPodSpec(cfg *runtime.SandboxConfig) *podSpec {
	if len(cfg.HostAliases) == 0 && len(cfg.Sysctls) == 0 && !cfg.ShareProcessNamespace && !cfg.HostPID && !cfg.HostIPC && cfg.Domain == "" && cfg.Resources == nil {
		return nil
	}
	s := &podSpec{domain: cfg.Domain, sysctls: maps.Clone(cfg.Sysctls), sharePID: cfg.ShareProcessNamespace,
		hostPID: cfg.HostPID, hostIPC: cfg.HostIPC}
	if cfg.Resources != nil {
		r := *cfg.Resources
		s.resources = &r
	}
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
// (and the kernel's, /proc/sys/kernel/hostname) and /proc/sys/... of the
// sysctls it was given; or one written in its
// /dev/shm (see shmFiles).
func (r *Runtime) file(sb *sandbox, path string) (string, bool) {
	var aliases []runtime.HostAlias
	var sysctls map[string]string
	domain := ""
	if sb.spec != nil {
		aliases, sysctls, domain = sb.spec.aliases, sb.spec.sysctls, sb.spec.domain
	}
	if name, ok := shmName(path); ok {
		v, ok := r.shmFiles(sb, false)[name]
		return v, ok
	}
	switch path {
	case "/etc/hosts":
		if sb.ip == 0 {
			return string(runtime.HostNetworkHostsFile([]byte(nodeHosts), aliases)), true
		}
		return string(runtime.HostsFile(sb.ipString, runtime.HostsName(sb.hostname, domain), aliases)), true
	case "/etc/hostname", "/proc/sys/kernel/hostname":
		return sb.hostname + "\n", true
	}
	if name, ok := strings.CutPrefix(path, "/proc/sys/"); ok {
		if v, ok := sysctls[strings.ReplaceAll(name, "/", ".")]; ok {
			return v + "\n", true
		}
	}
	return "", false
}

// shmName returns the name of a file directly in /dev/shm.
func shmName(path string) (string, bool) {
	name, ok := strings.CutPrefix(path, "/dev/shm/")
	return name, ok && name != "" && !strings.Contains(name, "/")
}

// shmFiles returns the files of the /dev/shm sb's containers see: the
// host's, which the runtime keeps, for a HostIPC sandbox, else the pod's
// own; made when create is set. r.mu is held.
func (r *Runtime) shmFiles(sb *sandbox, create bool) map[string]string {
	if sb.spec != nil && sb.spec.hostIPC {
		if r.hostShm == nil && create {
			r.hostShm = map[string]string{}
		}
		return r.hostShm
	}
	if create && sb.spec == nil {
		sb.spec = &podSpec{}
	}
	if sb.spec == nil {
		return nil
	}
	if sb.spec.shm == nil && create {
		sb.spec.shm = map[string]string{}
	}
	return sb.spec.shm
}

// processes returns the command lines c sees running, one a line: those of
// every running container of the runtime when its sandbox is in the host's
// PID namespace (which sees every other), those of its sandbox's running
// containers when they share a PID namespace, else its own. Containers run
// without a command (the image's) show none. r.mu is held.
func (r *Runtime) processes(c *container) []string {
	sb := c.sb
	var seen []*container
	switch {
	case sb.spec != nil && sb.spec.hostPID:
		seen = inOrder(r.containers, func(x *container) bool { return x == c || x.state == runtime.ContainerRunning })
	case sb.spec != nil && sb.spec.sharePID:
		for x := sb.ctrs; x != nil; x = x.next {
			if x == c || x.state == runtime.ContainerRunning {
				seen = append(seen, x)
			}
		}
	case c.spec.cfg.TargetContainerID != "" || r.targeted(c):
		// In the PID namespace of the target: those of the target and of
		// the containers targeting it.
		owner := c.spec.cfg.TargetContainerID
		if owner == "" {
			owner = c.id
		}
		for x := sb.ctrs; x != nil; x = x.next {
			if (x.id == owner || x.spec.cfg.TargetContainerID == owner) && (x == c || x.state == runtime.ContainerRunning) {
				seen = append(seen, x)
			}
		}
	default:
		seen = []*container{c}
	}
	var out []string
	for _, x := range seen {
		if l := cmdline(append(slices.Clone(x.spec.cfg.Command), x.spec.cfg.Args...)); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// targeted reports whether a container of c's sandbox joins c's PID
// namespace (runtime.ContainerConfig.TargetContainerID). r.mu is held.
func (r *Runtime) targeted(c *container) bool {
	for x := c.sb.ctrs; x != nil; x = x.next {
		if x.spec.cfg.TargetContainerID == c.id {
			return true
		}
	}
	return false
}

// checkTarget fails unless target, when set, is a running container of
// sandbox sb: one that container name may join the PID namespace of.
// r.mu is held.
func (r *Runtime) checkTarget(sb *sandbox, name, target string) error {
	if target == "" {
		return nil
	}
	t := r.lookupContainer(target)
	switch {
	case t == nil:
		return fmt.Errorf("fake: container %s: target container %s: %w", name, target, runtime.ErrNotFound)
	case t.sb != sb:
		return fmt.Errorf("fake: container %s: target container %s is not of sandbox %s", name, target, sb.id)
	case t.state != runtime.ContainerRunning:
		return fmt.Errorf("fake: container %s: target container %s is %s, not running", name, target, t.state)
	}
	return nil
}

// podCommand runs the fake commands that read or write the pod c is in,
// for a container or an exec'ed command: "cat FILE..." prints the files
// its image mounts show (WithImageFiles), those its sandbox's
// configuration makes and those written in its /dev/shm (see
// Runtime.file), and fails on others; "ps" prints the command lines c
// sees (see Runtime.processes); "fail-with /dev/shm/NAME MESSAGE CODE"
// writes MESSAGE to the /dev/shm c sees, then exits with CODE. ok is
// false for any other command. r.mu is held.
func (r *Runtime) podCommand(c *container, argv []string) (stdout, stderr []string, code int32, ok bool) {
	switch {
	case len(argv) == 4 && argv[0] == "fail-with":
		name, isShm := shmName(argv[1])
		n, err := strconv.Atoi(argv[3])
		if !isShm || err != nil {
			return nil, nil, 0, false
		}
		r.shmFiles(c.sb, true)[name] = argv[2]
		return nil, nil, int32(n), true
	case len(argv) > 1 && argv[0] == "cat":
		for _, path := range argv[1:] {
			content, mounted, found := r.imageFile(c, path)
			if !mounted {
				content, found = r.file(c.sb, path)
			}
			if path == "/proc/self/status" {
				content, found = procStatus(&c.spec.cfg), true
			}
			if !found {
				return stdout, []string{"open " + path + ": no such file or directory"}, 1, true
			}
			stdout = append(stdout, strings.Split(strings.TrimSuffix(content, "\n"), "\n")...)
		}
		return stdout, nil, 0, true
	case len(argv) == 1 && argv[0] == "ps":
		return r.processes(c), nil, 0, true
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
// aliases, sysctls, a shared PID namespace, the host's namespaces).
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
			cfg.HostPID, cfg.HostIPC, cfg.Domain = s.hostPID, s.hostIPC, s.domain
			if s.resources != nil {
				r := *s.resources
				cfg.Resources = &r
			}
			for _, a := range s.aliases {
				cfg.HostAliases = append(cfg.HostAliases, runtime.HostAlias{IP: a.IP, Hostnames: slices.Clone(a.Hostnames)})
			}
		}
		out[i] = SandboxConfig{ID: sb.id, Config: cfg}
	}
	return out
}
