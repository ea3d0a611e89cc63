package nodeagent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/network/dns"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// sandboxConfig describes the sandbox of attempt of a pod. A pod whose
// kernel hostname cannot be made (see kernelHostname) has none.
func (a *Agent) sandboxConfig(pod *objects.Pod, attempt uint32) (*runtime.SandboxConfig, error) {
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	if o := pod.Spec.HostnameOverride; o != nil {
		hostname = *o // in place of the name and the subdomain's domain
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	if !pod.Spec.HostNetwork && pod.Spec.HostnameOverride == nil {
		var err error
		if hostname, err = kernelHostname(pod, hostname, a.cfg.clusterDomain); err != nil {
			return nil, err
		}
	}
	cfg := &runtime.SandboxConfig{
		PodUID: pod.UID, PodName: pod.Name, PodNamespace: pod.Namespace,
		Hostname: hostname, Attempt: attempt, Labels: a.podLabels(pod),
		DNS: a.dnsConfig(pod), HostNetwork: pod.Spec.HostNetwork,
		HostPID: pod.Spec.HostPID, HostIPC: pod.Spec.HostIPC,
		ShareProcessNamespace: pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace,
	}
	if pod.Spec.Subdomain != "" && !pod.Spec.HostNetwork && pod.Spec.HostnameOverride == nil {
		cfg.Domain = podDomain(pod, a.cfg.clusterDomain)
	}
	if objects.PodLevelResources(pod) != nil {
		// The kubelet's pod cgroup: the pod's requests and limits, with
		// its overhead (ResourceConfigForPod).
		r := resources(&objects.ResourceRequirements{Requests: objects.PodRequests(pod), Limits: objects.PodLimits(pod)})
		cfg.Resources = &r
	}
	for _, h := range pod.Spec.HostAliases {
		cfg.HostAliases = append(cfg.HostAliases, runtime.HostAlias{IP: h.IP, Hostnames: slices.Clone(h.Hostnames)})
	}
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		cfg.Sysctls = make(map[string]string, len(sc.Sysctls))
		for _, s := range sc.Sysctls {
			cfg.Sysctls[objects.NormalizeSysctlName(s.Name)] = s.Value
		}
	}
	for _, cs := range [][]objects.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			for _, p := range cs[i].Ports {
				if p.HostPort != 0 {
					cfg.Ports = append(cfg.Ports, runtime.PortMapping{Protocol: string(p.Protocol),
						ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIP: p.HostIP})
				}
			}
		}
	}
	return cfg, nil
}

// fqdnMaxLength is the longest kernel hostname: what Linux's nodename
// field holds (HOST_NAME_MAX).
const fqdnMaxLength = 64

// kernelHostname is the hostname a pod's containers get from the kernel
// (uname -n), as the kubelet's GetNodenameForKernel makes it: the pod's
// hostname or, with setHostnameAsFQDN and a subdomain, its fully
// qualified domain name, hostname.subdomain.namespace.svc.clusterDomain,
// which must fit in fqdnMaxLength characters. A HostNetwork pod has the
// node's hostname, and so none of this.
func kernelHostname(pod *objects.Pod, hostname, clusterDomain string) (string, error) {
	s := &pod.Spec
	if s.Subdomain == "" || s.SetHostnameAsFQDN == nil || !*s.SetHostnameAsFQDN {
		return hostname, nil
	}
	fqdn := hostname + "." + podDomain(pod, clusterDomain)
	if len(fqdn) > fqdnMaxLength {
		return "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (%d characters is the max, %d characters requested)",
			fqdn, fqdnMaxLength, len(fqdn))
	}
	return fqdn, nil
}

// podDomain is the DNS domain of a pod with a subdomain, as the kubelet's
// GeneratePodHostNameAndDomain makes it: subdomain.namespace.svc.clusterDomain.
func podDomain(pod *objects.Pod, clusterDomain string) string {
	return pod.Spec.Subdomain + "." + pod.Namespace + ".svc." + clusterDomain
}

func (a *Agent) podLabels(pod *objects.Pod) map[string]string {
	return map[string]string{
		runtime.LabelPodUID: pod.UID, runtime.LabelPodName: pod.Name,
		runtime.LabelPodNamespace: pod.Namespace, runtime.LabelNode: a.node,
	}
}

// dnsConfig is the resolver configuration of a pod per its dnsPolicy and
// dnsConfig, as the kubelet builds it (see dns.PodDNSConfig).
func (a *Agent) dnsConfig(pod *objects.Pod) runtime.DNSConfig {
	return dns.PodDNSConfig(pod, a.cfg.clusterDomain, a.cfg.clusterDNS, a.cfg.hostDNS)
}

// specHash is a digest of a container's spec but its resources and
// resizePolicy, which an in-place resize changes (the kubelet's hash
// without resources), put on the container as runtime.LabelContainerHash
// in hex; a running container whose spec changed (an image update) is
// replaced.
type specHash [8]byte

func hashSpec(c *objects.Container) specHash {
	if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 || len(c.ResizePolicy) > 0 {
		cc := *c
		cc.Resources, cc.ResizePolicy = objects.ResourceRequirements{}, nil
		c = &cc
	}
	return hashJSON(c)
}

// legacyHash is the hash of c with its resources, which containers made
// before resources could change in place carry: such a container whose
// resources were not changed since is not replaced for the new hash.
func legacyHash(c *objects.Container) specHash { return hashJSON(c) }

func hashJSON(c *objects.Container) specHash {
	b, _ := json.Marshal(c) // a plain struct of strings, numbers and maps: cannot fail
	sum := sha256.Sum256(b)
	return specHash(sum[:8])
}

func (h specHash) String() string { return hex.EncodeToString(h[:]) }

// is reports whether label is h in hex.
func (h specHash) is(label string) bool {
	var b [2 * len(h)]byte
	hex.Encode(b[:], h[:])
	return string(b[:]) == label
}

// containerConfig builds what the runtime needs to create instance attempt
// of c. A missing ConfigMap, Secret, env file or key, or a container that
// runAsNonRoot forbids (see verifyRunAsNonRoot), is a *configError; any
// other error is the runtime's.
func (a *Agent) containerConfig(sc *syncCtx, c *objects.Container, attempt uint32) (*runtime.ContainerConfig, error) {
	env, err := sc.res.makeEnv(c, sc.vols)
	if err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if env[i].Name == k {
				return env[i].Value, true
			}
		}
		return "", false
	}
	mounts, err := makeMounts(c, sc.vols, lookup, func() bool { return a.recursiveReadOnly(sc.ctx, sc.pod) })
	if err != nil {
		return nil, configErr("%v", err)
	}
	if err := a.verifyRunAsNonRoot(sc.ctx, sc.pod, c); err != nil {
		return nil, err
	}
	labels := a.podLabels(sc.pod)
	labels[runtime.LabelContainerName] = c.Name
	labels[runtime.LabelContainerHash] = sc.st.ctr(c.Name).specHash(c).String()
	cfg := &runtime.ContainerConfig{
		Name: c.Name, Attempt: attempt, Image: c.Image,
		Command: expandAll(c.Command, lookup), Args: expandAll(c.Args, lookup),
		WorkingDir: c.WorkingDir, Env: env, Mounts: mounts,
		Resources: resources(allocated(sc.pod, sc.st, c)), Labels: labels, Stdin: c.Stdin, TTY: c.TTY,
		TerminationMessagePath: c.TerminationMessagePath,
	}
	for _, p := range c.Ports {
		cfg.Ports = append(cfg.Ports, runtime.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol)})
	}
	if ec := ephemeralSpec(sc.pod, c.Name); ec != nil {
		var ok bool
		if cfg.TargetContainerID, ok = ephemeralTarget(sc.pod, sc.obs, ec); !ok {
			return nil, configErr("unable to find target container %s", ec.TargetContainerName)
		}
	}
	security(cfg, sc.pod.Spec.SecurityContext, c.SecurityContext)
	a.applySecurity(cfg, sc.pod, c)
	return cfg, nil
}

func expandAll(ss []string, lookup func(string) (string, bool)) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = expand(s, lookup)
	}
	return out
}

// makeMounts makes c's mounts of the pod's volumes, as the kubelet's
// makeMounts: a subPathExpr expanded with the container's environment
// (env), a sub-path made when missing, the propagation asked for, and
// recursively read-only where asked and rro (asked only then) says the
// runtime can.
func makeMounts(c *objects.Container, vols map[string]volumes.Volume, env func(string) (string, bool), rro func() bool) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, vm := range c.VolumeMounts {
		v, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q of mount %q is not a volume of the pod", vm.Name, vm.MountPath)
		}
		path, sub := v.Path, vm.SubPath
		if vm.SubPathExpr != "" {
			var err error
			if sub, err = expandSubPath(vm.SubPathExpr, env); err != nil {
				return nil, err
			}
		}
		if v.Image != "" {
			// The runtime resolves the sub-path within the image's files.
			out = append(out, runtime.Mount{Image: v.Image, ImageSubPath: sub, ContainerPath: vm.MountPath, ReadOnly: true})
			continue
		}
		if sub != "" {
			p, err := volumes.SubPath(path, sub)
			if err != nil {
				return nil, err
			}
			path = p
		}
		m := runtime.Mount{HostPath: path, ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly || v.ReadOnly}
		var err error
		if m.RecursiveReadOnly, err = resolveRecursiveReadOnly(&vm, rro); err != nil {
			return nil, err
		}
		if p := vm.MountPropagation; p != nil {
			switch *p {
			case objects.MountPropagationHostToContainer:
				m.Propagation = runtime.PropagationHostToContainer
			case objects.MountPropagationBidirectional:
				m.Propagation = runtime.PropagationBidirectional
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// resolveRecursiveReadOnly tells whether vm is to be recursively
// read-only, as the kubelet's resolveRecursiveReadOnly: Enabled where the
// runtime cannot is an error (the container waits in
// CreateContainerConfigError); IfPossible is what the runtime can.
func resolveRecursiveReadOnly(vm *objects.VolumeMount, supported func() bool) (bool, error) {
	mode := vm.RecursiveReadOnly
	if mode == nil || *mode == objects.RecursiveReadOnlyDisabled {
		return false, nil
	}
	if !vm.ReadOnly {
		return false, fmt.Errorf("volume %q requested recursive read-only mode, but it is not read-only", vm.Name)
	}
	if p := vm.MountPropagation; p != nil && *p != objects.MountPropagationNone {
		return false, fmt.Errorf("volume %q requested recursive read-only mode, but it is not compatible with propagation %q", vm.Name, *p)
	}
	switch *mode {
	case objects.RecursiveReadOnlyIfPossible:
		return supported(), nil
	case objects.RecursiveReadOnlyEnabled:
		if !supported() {
			return false, fmt.Errorf("volume %q requested recursive read-only mode, but it is not supported by the runtime", vm.Name)
		}
		return true, nil
	}
	return false, fmt.Errorf("unknown recursive read-only mode %q", *mode)
}

// recursiveReadOnly reports whether the runtime makes recursively
// read-only mounts for the pod's runtime handler.
func (a *Agent) recursiveReadOnly(ctx context.Context, pod *objects.Pod) bool {
	r, ok := a.rt.(runtime.RecursiveReadOnlyReporter)
	if !ok {
		return false
	}
	var cfg runtime.SandboxConfig
	if err := a.setRuntimeHandler(ctx, pod, &cfg); err != nil {
		return false
	}
	return r.RecursiveReadOnlyMounts(cfg.RuntimeHandler)
}

// volumeMountStatuses reports c's mounts as the kubelet does: each
// read-only one recursively read-only (Enabled) or not (Disabled).
func (a *Agent) volumeMountStatuses(pod *objects.Pod, c *objects.Container) []objects.VolumeMountStatus {
	if len(c.VolumeMounts) == 0 {
		return nil
	}
	var supported *bool // asked once, if at all
	rro := func() bool {
		if supported == nil {
			b := a.recursiveReadOnly(context.Background(), pod)
			supported = &b
		}
		return *supported
	}
	out := make([]objects.VolumeMountStatus, len(c.VolumeMounts))
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		out[i] = objects.VolumeMountStatus{Name: vm.Name, MountPath: vm.MountPath, ReadOnly: vm.ReadOnly}
		if vm.ReadOnly {
			mode := objects.RecursiveReadOnlyDisabled
			if on, err := resolveRecursiveReadOnly(vm, rro); err == nil && on {
				mode = objects.RecursiveReadOnlyEnabled
			}
			out[i].RecursiveReadOnly = &mode
		}
	}
	return out
}

// expandSubPath expands the $(VAR) references of a subPathExpr with the
// container's environment, as the kubelet's ExpandContainerVolumeMounts:
// a variable that is unset or empty is an error naming every such one;
// the result must be a relative path that stays in the volume.
func expandSubPath(expr string, env func(string) (string, bool)) (string, error) {
	var missing []string
	sub := expand(expr, func(name string) (string, bool) {
		v, ok := env(name)
		if (!ok || v == "") && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return v, true
	})
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", fmt.Errorf("missing value for %s", strings.Join(missing, ", "))
	}
	if strings.HasPrefix(sub, "/") {
		return "", fmt.Errorf("error SubPath `%s` must not be an absolute path", sub)
	}
	if slices.Contains(strings.Split(sub, "/"), "..") {
		return "", fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", sub)
	}
	return sub, nil
}

// resources turns requests and limits into what runtimes enforce, as the
// kubelet does: CPU shares from the request (the limit when there is no
// request; at least 2), a CPU quota from the CPU limit (at least 10
// thousandths of a CPU, the kernel's minimum quota of a 100 ms period) and
// a memory limit.
func resources(rr *objects.ResourceRequirements) runtime.Resources {
	var r runtime.Resources
	cpu, ok := rr.Requests[objects.ResourceCPU]
	if !ok {
		cpu = rr.Limits[objects.ResourceCPU]
	}
	r.CPUShares = max(cpu.MilliValue()*1024/1000, 2)
	if l, ok := rr.Limits[objects.ResourceCPU]; ok {
		r.CPUQuotaMillis = max(l.MilliValue(), 10)
	}
	if l, ok := rr.Limits[objects.ResourceMemory]; ok {
		r.MemoryLimitBytes = l.Value()
	}
	return r
}

func security(cfg *runtime.ContainerConfig, pod *objects.PodSecurityContext, c *objects.SecurityContext) {
	var uid, gid *int64
	if pod != nil {
		uid, gid = pod.RunAsUser, pod.RunAsGroup
	}
	if c != nil {
		if c.RunAsUser != nil {
			uid = c.RunAsUser
		}
		if c.RunAsGroup != nil {
			gid = c.RunAsGroup
		}
		cfg.Privileged = c.Privileged != nil && *c.Privileged
		cfg.ReadOnly = c.ReadOnlyRootFilesystem != nil && *c.ReadOnlyRootFilesystem
		if caps := c.Capabilities; caps != nil {
			for _, x := range caps.Add {
				cfg.CapAdd = append(cfg.CapAdd, string(x))
			}
			for _, x := range caps.Drop {
				cfg.CapDrop = append(cfg.CapDrop, string(x))
			}
		}
	}
	switch {
	case uid != nil && gid != nil:
		cfg.User = strconv.FormatInt(*uid, 10) + ":" + strconv.FormatInt(*gid, 10)
	case uid != nil:
		cfg.User = strconv.FormatInt(*uid, 10)
	}
}

// ensureImages makes c's image and those of the image volumes it mounts
// present per their pull policies, and reports whether the container can
// be created.
func (a *Agent) ensureImages(sc *syncCtx, c *objects.Container, cs *ctrState) bool {
	if !a.ensureImage(sc, c.Image, c.ImagePullPolicy, cs) {
		return false
	}
	for _, vm := range c.VolumeMounts {
		for i := range sc.pod.Spec.Volumes {
			if v := &sc.pod.Spec.Volumes[i]; v.Name == vm.Name && v.Image != nil && !a.ensureImage(sc, v.Image.Reference, v.Image.PullPolicy, cs) {
				return false
			}
		}
	}
	return true
}

// ensureImage makes image img present per pull policy, and reports
// whether it is.
func (a *Agent) ensureImage(sc *syncCtx, img string, policy objects.PullPolicy, cs *ctrState) bool {
	present, err := a.rt.ImagePresent(sc.ctx, img)
	if err != nil {
		if !sc.fail(err) {
			cs.setWaiting("ErrImagePull", err.Error())
			sc.wakeAt(sc.now.Add(a.cfg.backoffBase))
		}
		return false
	}
	if policy == "" {
		policy = objects.PullIfNotPresent
		if tag := imageTag(img); tag == "latest" {
			policy = objects.PullAlways
		}
	}
	switch {
	case policy == objects.PullNever && present:
		return true
	case policy == objects.PullNever:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", img)
		if reason, _ := cs.waiting(); reason != "ErrImageNeverPull" {
			a.event(sc.pod, EventWarning, "ErrImageNeverPull", msg)
		}
		cs.setWaiting("ErrImageNeverPull", msg)
		return false
	case policy == objects.PullIfNotPresent && present:
		a.event(sc.pod, EventNormal, "Pulled", fmt.Sprintf("Container image %q already present on machine", img))
		return true
	}
	t := cs.troubles()
	if t.pullImage != img {
		t.pull, t.pullImage = backoffEntry{}, img
	}
	if t.pull.inBackoffSince(&a.cfg, t.pullFailed, sc.now) {
		msg := fmt.Sprintf("Back-off pulling image %q", img)
		a.event(sc.pod, EventNormal, "BackOff", msg)
		t.reason, t.message = "ImagePullBackOff", msg
		sc.wakeAt(t.pullFailed.Add(t.pull.delay))
		return false
	}
	// While the pull lasts the pod's status tells it waits for it
	// (ContainerCreating), as the kubelet writes the status before it
	// pulls; and the pull ends for the pod if the pod must stop.
	a.publish(sc.pod, sc.w, sc.obs)
	res, waited, err := a.pull(sc.waitCtx(), sc.ctx, sc.pod, img, a.pullAuth(sc, img))
	if err != nil {
		if sc.fail(err) {
			return false
		}
		t.pullFailed = sc.now
		t.pull.next(&a.cfg, sc.now, sc.now)
		a.event(sc.pod, EventWarning, "Failed", fmt.Sprintf("Failed to pull image %q: %v", img, err))
		a.event(sc.pod, EventWarning, "Failed", "Error: ErrImagePull")
		t.reason, t.message = "ErrImagePull", err.Error()
		sc.wakeAt(sc.now.Add(t.pull.delay))
		return false
	}
	t.pull = backoffEntry{}
	a.event(sc.pod, EventNormal, "Pulled", pulledMessage(img, res, waited))
	return true
}

// imageTag returns the tag of an image reference ("latest" when it has
// neither tag nor digest).
func imageTag(image string) string {
	name, _, digest := strings.Cut(image, "@")
	slash := strings.LastIndexByte(name, '/')
	if i := strings.LastIndexByte(name, ':'); i > slash {
		return name[i+1:]
	}
	if digest {
		return ""
	}
	return "latest"
}

// registryHost is the registry an image reference names (docker.io when
// the first component is not a host).
func registryHost(image string) string {
	first, _, ok := strings.Cut(image, "/")
	if !ok || !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io"
	}
	return first
}

// pullAuth returns the credentials the pod's imagePullSecrets hold for the
// image's registry.
func (a *Agent) pullAuth(sc *syncCtx, image string) *runtime.RegistryAuth {
	host := registryHost(image)
	for _, ref := range sc.pod.Spec.ImagePullSecrets {
		s, err := sc.res.Secret(sc.pod.Namespace, ref.Name)
		if err != nil {
			continue
		}
		var cfg struct {
			Auths map[string]struct {
				Username      string `json:"username"`
				Password      string `json:"password"`
				Auth          string `json:"auth"`
				IdentityToken string `json:"identitytoken"`
			} `json:"auths"`
		}
		raw := s.Data[objects.DockerConfigJSONKey]
		if len(raw) == 0 {
			continue
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			continue
		}
		for server, e := range cfg.Auths {
			h := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
			h, _, _ = strings.Cut(h, "/")
			if h != host && !(host == "docker.io" && (h == "index.docker.io" || h == "registry-1.docker.io")) {
				continue
			}
			auth := &runtime.RegistryAuth{ServerAddress: server, Username: e.Username, Password: e.Password, IdentityToken: e.IdentityToken}
			if e.Auth != "" && auth.Username == "" {
				if b, err := base64.StdEncoding.DecodeString(e.Auth); err == nil {
					auth.Username, auth.Password, _ = strings.Cut(string(b), ":")
				}
			}
			return auth
		}
	}
	return nil
}

var errNoExec = errors.New("the runtime cannot exec in containers")
