package objects

import (
	"slices"
	"strings"
)

// Default values Kubernetes applies to pods.
const (
	DefaultTerminationGracePeriodSeconds int64 = 30
	DefaultVolumeMode                    int32 = 0o644
)

// Default implements Defaulter: the pod spec's defaults, plus what
// Kubernetes defaults on pods only (not on templates): enableServiceLinks,
// each container's requests copied from its limits where unset, and the
// deprecated AppArmor annotations kept consistent with the fields (see
// PodSecurityContext.AppArmorProfile).
//
// A controller's pod may share its spec's slices and maps with the
// template it was made from, which is stored and so never modified (see
// store.Adopter). The template had the pod spec's defaults already, so
// DefaultPodSpec finds nothing to write there; what only pods get is
// written into copies.
func (p *Pod) Default() {
	DefaultPodSpec(&p.Spec)
	if p.Spec.EnableServiceLinks == nil {
		t := true
		p.Spec.EnableServiceLinks = &t
	}
	p.Spec.InitContainers = requestsFromLimits(p.Spec.InitContainers)
	p.Spec.Containers = requestsFromLimits(p.Spec.Containers)
	defaultPodLevelResources(p)
	p.syncAppArmor()
}

// requestsFromLimits returns cs with each container's unset requests
// copied from its limits: cs itself when none is unset, else a copy.
func requestsFromLimits(cs []Container) []Container {
	copied := false
	for i := range cs {
		r := &cs[i].Resources
		missing := false
		for name := range r.Limits {
			if _, ok := r.Requests[name]; !ok {
				missing = true
				break
			}
		}
		if !missing {
			continue
		}
		if !copied {
			cs = slices.Clone(cs)
			copied = true
			r = &cs[i].Resources
		}
		req := make(ResourceList, len(r.Limits))
		for name, q := range r.Requests {
			req[name] = q.DeepCopy()
		}
		for name, lim := range r.Limits {
			if _, ok := req[name]; !ok {
				req[name] = lim.DeepCopy()
			}
		}
		r.Requests = req
	}
	return cs
}

// DefaultPodSpec fills in a pod spec's defaults as Kubernetes does, for pods
// and for the pod templates of workload kinds.
func DefaultPodSpec(s *PodSpec) {
	if s.DNSPolicy == "" {
		s.DNSPolicy = DNSClusterFirst
	}
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &PodSecurityContext{}
	}
	if s.TerminationGracePeriodSeconds == nil {
		v := DefaultTerminationGracePeriodSeconds
		s.TerminationGracePeriodSeconds = &v
	}
	if s.SchedulerName == "" {
		s.SchedulerName = DefaultSchedulerName
	}
	// spec.serviceAccount is the deprecated alias of serviceAccountName,
	// which wins when both are set, as the API server converts v1 pods.
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = s.DeprecatedServiceAccount
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i])
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i], s.HostNetwork)
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i], s.HostNetwork)
	}
	for i := range s.EphemeralContainers {
		defaultContainer(s.EphemeralContainers[i].Container(), s.HostNetwork)
	}
}

func defaultContainer(c *Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		if imageTag(c.Image) == "latest" {
			c.ImagePullPolicy = PullAlways
		} else {
			c.ImagePullPolicy = PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	for _, pr := range []*Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if pr != nil {
			defaultProbe(pr)
		}
	}
	if lc := c.Lifecycle; lc != nil {
		for _, h := range []*LifecycleHandler{lc.PostStart, lc.PreStop} {
			if h != nil && h.HTTPGet != nil {
				defaultHTTPGet(h.HTTPGet)
			}
		}
	}
}

// imageTag returns the tag of an image reference as Kubernetes reads it:
// "latest" when there is neither tag nor digest, "" when there is only a
// digest.
func imageTag(image string) string {
	name, _, hasDigest := strings.Cut(image, "@")
	lastSlash := strings.LastIndexByte(name, '/')
	if i := strings.LastIndexByte(name, ':'); i > lastSlash {
		return name[i+1:]
	}
	if hasDigest {
		return ""
	}
	return "latest"
}

func defaultProbe(p *Probe) {
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if p.HTTPGet != nil {
		defaultHTTPGet(p.HTTPGet)
	}
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = new(string)
	}
}

func defaultHTTPGet(h *HTTPGetAction) {
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = URISchemeHTTP
	}
}

func defaultVolume(v *Volume) {
	s := &v.VolumeSource
	if volumeSourceCount(s) == 0 {
		s.EmptyDir = &EmptyDirVolumeSource{}
	}
	mode := func(m **int32) {
		if *m == nil {
			x := DefaultVolumeMode
			*m = &x
		}
	}
	switch {
	case s.Secret != nil:
		mode(&s.Secret.DefaultMode)
	case s.ConfigMap != nil:
		mode(&s.ConfigMap.DefaultMode)
	case s.DownwardAPI != nil:
		mode(&s.DownwardAPI.DefaultMode)
		defaultDownwardAPIFiles(s.DownwardAPI.Items)
	case s.Image != nil && s.Image.PullPolicy == "":
		s.Image.PullPolicy = PullIfNotPresent
		if imageTag(s.Image.Reference) == "latest" {
			s.Image.PullPolicy = PullAlways
		}
	case s.Ephemeral != nil && s.Ephemeral.VolumeClaimTemplate != nil:
		DefaultPersistentVolumeClaimSpec(&s.Ephemeral.VolumeClaimTemplate.Spec)
	case s.Projected != nil:
		mode(&s.Projected.DefaultMode)
		for _, src := range s.Projected.Sources {
			if src.DownwardAPI != nil {
				defaultDownwardAPIFiles(src.DownwardAPI.Items)
			}
			if t := src.ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
				x := DefaultTokenExpirationSeconds
				t.ExpirationSeconds = &x
			}
		}
	}
}

func defaultDownwardAPIFiles(items []DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}

// volumeSourceCount counts the sources set in s; a valid volume has one.
func volumeSourceCount(s *VolumeSource) int {
	n := 0
	for _, set := range []bool{s.HostPath != nil, s.EmptyDir != nil, s.Secret != nil,
		s.PersistentVolumeClaim != nil, s.DownwardAPI != nil, s.ConfigMap != nil, s.Projected != nil, s.Ephemeral != nil, s.Image != nil} {
		if set {
			n++
		}
	}
	return n
}
