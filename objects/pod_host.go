package objects

// Mount propagation, and the validation of what a pod may share with its
// node (spec.hostPID; spec.hostIPC's rule is with the sysctls') and of its
// volume mounts (subPath, subPathExpr, mountPropagation), by Kubernetes'
// rules.

// MountPropagationMode says whether mounts made under a volume's host path
// after a container started reach the container, and whether those the
// container makes under its mount path reach the node.
type MountPropagationMode string

// Mount propagation modes, as the runtimes apply them (Linux mount
// propagation, mount_namespaces(7)).
const (
	// MountPropagationNone: the container sees what was mounted under the
	// volume when it started, and nothing mounted later on either side
	// crosses (rprivate). The default.
	MountPropagationNone MountPropagationMode = "None"
	// MountPropagationHostToContainer: mounts made on the node under the
	// volume's host path, later too, reach the container (rslave); the
	// container's own do not reach the node. The host path must be on a
	// shared or slave mount of the node.
	MountPropagationHostToContainer MountPropagationMode = "HostToContainer"
	// MountPropagationBidirectional: as HostToContainer, and mounts the
	// container makes under its mount path reach the node and every
	// container mounting the same path (rshared). Only privileged
	// containers may have it; the host path must be on a shared mount.
	MountPropagationBidirectional MountPropagationMode = "Bidirectional"
)

// validateHostNamespaces checks what a pod shares of its node's
// namespaces: a PID namespace of the node's cannot be the pod's own too.
func validateHostNamespaces(s *PodSpec, p *Path) ErrorList {
	if s.HostPID && s.ShareProcessNamespace != nil && *s.ShareProcessNamespace {
		return ErrorList{Invalid(p.Child("shareProcessNamespace"), true, "ShareProcessNamespace and HostPID cannot both be enabled")}
	}
	return nil
}

// maxHostnameOverride is the longest spec.hostnameOverride, what the
// kernel's nodename holds.
const maxHostnameOverride = 64

// validateHostnameOverride checks spec.hostnameOverride as Kubernetes'
// validatePodHostName does.
func validateHostnameOverride(s *PodSpec, p *Path) ErrorList {
	if s.HostnameOverride == nil {
		return nil
	}
	hp := p.Child("hostnameOverride")
	var errs ErrorList
	if s.SetHostnameAsFQDN != nil && *s.SetHostnameAsFQDN {
		errs = append(errs, Forbidden(hp, "may not be specified when setHostnameAsFQDN is true"))
	}
	if s.HostNetwork {
		errs = append(errs, Forbidden(hp, "may not be specified when hostNetwork is true"))
	}
	if len(*s.HostnameOverride) > maxHostnameOverride {
		errs = append(errs, TooLong(hp, *s.HostnameOverride, maxHostnameOverride))
	}
	return appendMsgs(errs, hp, *s.HostnameOverride, IsDNS1123Subdomain(*s.HostnameOverride))
}

func validateVolumeMounts(c *Container, vols map[string]*VolumeSource, p *Path) ErrorList {
	var errs ErrorList
	paths := map[string]bool{}
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		ip := p.Index(i)
		if m.Name == "" {
			errs = append(errs, Required(ip.Child("name"), ""))
		} else if _, ok := vols[m.Name]; !ok {
			errs = append(errs, NotFound(ip.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, Required(ip.Child("mountPath"), ""))
		} else if paths[m.MountPath] {
			errs = append(errs, Invalid(ip.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
		if m.SubPath != "" {
			errs = append(errs, validateLocalDescendingPath(m.SubPath, ip.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			ep := ip.Child("subPathExpr")
			if m.SubPath != "" {
				errs = append(errs, Invalid(ep, m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, validateLocalDescendingPath(m.SubPathExpr, ep)...)
		}
		if m.MountPropagation != nil {
			errs = append(errs, validateMountPropagation(*m.MountPropagation, c, ip.Child("mountPropagation"))...)
		}
		errs = append(errs, validateRecursiveReadOnly(m, ip.Child("recursiveReadOnly"))...)
	}
	return errs
}

// RecursiveReadOnlyMode says whether a read-only mount's submounts are
// read-only too: a plain read-only bind mount leaves the mounts under
// its path writable (a hostPath of a directory holding other mounts).
type RecursiveReadOnlyMode string

// Recursive read-only modes.
const (
	// RecursiveReadOnlyDisabled: the submounts stay as they are.
	RecursiveReadOnlyDisabled RecursiveReadOnlyMode = "Disabled"
	// RecursiveReadOnlyIfPossible: recursively read-only where the runtime
	// can make it so (runtime.RecursiveReadOnlyReporter), else Disabled.
	RecursiveReadOnlyIfPossible RecursiveReadOnlyMode = "IfPossible"
	// RecursiveReadOnlyEnabled: recursively read-only; where the runtime
	// cannot, the container is not created (CreateContainerConfigError).
	RecursiveReadOnlyEnabled RecursiveReadOnlyMode = "Enabled"
)

var recursiveReadOnlyModes = []string{string(RecursiveReadOnlyDisabled), string(RecursiveReadOnlyEnabled), string(RecursiveReadOnlyIfPossible)}

// validateRecursiveReadOnly checks a mount's recursiveReadOnly, as
// Kubernetes' validateMountRecursiveReadOnly.
func validateRecursiveReadOnly(m *VolumeMount, p *Path) ErrorList {
	if m.RecursiveReadOnly == nil {
		return nil
	}
	switch *m.RecursiveReadOnly {
	case RecursiveReadOnlyDisabled:
		return nil
	case RecursiveReadOnlyEnabled, RecursiveReadOnlyIfPossible:
		var errs ErrorList
		if !m.ReadOnly {
			errs = append(errs, Forbidden(p, "may only be specified when readOnly is true"))
		}
		if m.MountPropagation != nil && *m.MountPropagation != MountPropagationNone {
			errs = append(errs, Forbidden(p, "may only be specified when mountPropagation is None or not specified"))
		}
		return errs
	}
	return ErrorList{NotSupported(p, string(*m.RecursiveReadOnly), recursiveReadOnlyModes)}
}

var mountPropagationModes = []string{string(MountPropagationBidirectional), string(MountPropagationHostToContainer), string(MountPropagationNone)}

func validateMountPropagation(mode MountPropagationMode, c *Container, p *Path) ErrorList {
	switch mode {
	case MountPropagationNone, MountPropagationHostToContainer:
		return nil
	case MountPropagationBidirectional:
		if sc := c.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
			return ErrorList{Forbidden(p, "Bidirectional mount propagation is available only to privileged containers")}
		}
		return nil
	}
	return ErrorList{NotSupported(p, string(mode), mountPropagationModes)}
}
