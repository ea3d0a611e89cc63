package objects

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Validate implements Validator.
func (p *Pod) Validate() ErrorList {
	errs := ValidatePodSpec(&p.Spec, NewPath("spec"))
	errs = append(errs, validateGatedNodeName(&p.Spec, NewPath("spec"))...)
	errs = append(errs, validateAppArmorAnnotations(p.Annotations, &p.Spec)...)
	if _, err := PodDeletionCost(p.Annotations); err != nil {
		errs = append(errs, Invalid(NewPath("metadata", "annotations").Key(PodDeletionCostAnnotation),
			p.Annotations[PodDeletionCostAnnotation], "must be a 32-bit integer"))
	}
	return errs
}

// podUpdateForbidden is Kubernetes' message for a pod update that changes
// more than it may, with podkit's one addition: spec.nodeName may be set
// once, as binding a pod is an update here.
const podUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`," +
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)," +
	"`spec.nodeName` (only from empty)"

// ValidateUpdate implements UpdateValidator: a pod's spec is immutable but
// for container images, activeDeadlineSeconds (shortened only), added
// tolerations, and nodeName set once from empty.
func (p *Pod) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*Pod)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a Pod against it")}
	}
	var errs ErrorList
	sp := NewPath("spec")
	if o.Spec.ActiveDeadlineSeconds != nil {
		ap := sp.Child("activeDeadlineSeconds")
		switch {
		case p.Spec.ActiveDeadlineSeconds == nil:
			errs = append(errs, Invalid(ap, nil, "must not update from a positive integer to nil value"))
		case *p.Spec.ActiveDeadlineSeconds > *o.Spec.ActiveDeadlineSeconds:
			errs = append(errs, Invalid(ap, *p.Spec.ActiveDeadlineSeconds, "must be less than or equal to previous value"))
		}
	}
	errs = append(errs, validateTolerationsUpdate(p.Spec.Tolerations, o.Spec.Tolerations, sp.Child("tolerations"))...)

	// Take the mutable fields from the new spec into a copy of the old; what
	// is left must be equal.
	mut := o.Spec.DeepCopy()
	if len(mut.Containers) == len(p.Spec.Containers) {
		for i := range mut.Containers {
			mut.Containers[i].Image = p.Spec.Containers[i].Image
		}
	}
	if len(mut.InitContainers) == len(p.Spec.InitContainers) {
		for i := range mut.InitContainers {
			mut.InitContainers[i].Image = p.Spec.InitContainers[i].Image
		}
	}
	mut.ActiveDeadlineSeconds = p.Spec.ActiveDeadlineSeconds
	errs = append(errs, validateSchedulingGatesUpdate(&p.Spec, &o.Spec, mut, sp)...)
	errs = append(errs, validateGatedNodeName(&p.Spec, sp)...)
	mut.Tolerations = p.Spec.Tolerations
	if mut.NodeName == "" {
		mut.NodeName = p.Spec.NodeName
	}
	if g := mut.TerminationGracePeriodSeconds; g != nil && *g < 0 && p.Spec.TerminationGracePeriodSeconds != nil && *p.Spec.TerminationGracePeriodSeconds == 1 {
		mut.TerminationGracePeriodSeconds = p.Spec.TerminationGracePeriodSeconds
	}
	if !jsonEqual(mut, &p.Spec) {
		errs = append(errs, Forbidden(sp, podUpdateForbidden))
	}
	return errs
}

var podPhases = []string{string(PodPending), string(PodRunning), string(PodSucceeded), string(PodFailed), string(PodUnknown)}

// jsonEqual compares by JSON form: nil and empty collections alike,
// quantities by their canonical string.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func validateTolerationsUpdate(tols, old []Toleration, p *Path) ErrorList {
	for _, o := range old {
		found := false
		for _, t := range tols {
			c := o
			c.TolerationSeconds = t.TolerationSeconds
			if c.Key == t.Key && c.Operator == t.Operator && c.Value == t.Value && c.Effect == t.Effect {
				found = true
				break
			}
		}
		if !found {
			return ErrorList{Forbidden(p, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// ValidatePodTemplateSpec checks a pod template: its labels and annotations
// and its spec.
func ValidatePodTemplateSpec(t *PodTemplateSpec, p *Path) ErrorList {
	mp := p.Child("metadata")
	errs := ValidateLabels(t.Labels, mp.Child("labels"))
	errs = append(errs, ValidateAnnotations(t.Annotations, mp.Child("annotations"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, Forbidden(p.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return append(errs, ValidatePodSpec(&t.Spec, p.Child("spec"))...)
}

// ValidatePodSpec checks a (defaulted) pod spec by Kubernetes' rules and
// returns every problem found, each named by its field path under p.
func ValidatePodSpec(s *PodSpec, p *Path) ErrorList {
	vols, errs := validateVolumes(s.Volumes, p.Child("volumes"))
	names := map[string]bool{}
	errs = append(errs, validateContainers(s, vols, names, p)...)
	errs = append(errs, validateEphemeralContainers(s, vols, names, p.Child("ephemeralContainers"))...)
	errs = append(errs, validateRestartPolicy(s.RestartPolicy, p.Child("restartPolicy"))...)
	errs = append(errs, validateDNS(s, p)...)
	errs = append(errs, ValidateLabels(s.NodeSelector, p.Child("nodeSelector"))...)
	errs = append(errs, validatePodSecurityContext(s.SecurityContext, p.Child("securityContext"))...)
	errs = append(errs, validateAffinity(s.Affinity, p.Child("affinity"))...)
	errs = append(errs, validateTolerations(s.Tolerations, p.Child("tolerations"))...)
	errs = append(errs, validateTopologySpread(s.TopologySpreadConstraints, p.Child("topologySpreadConstraints"))...)
	errs = append(errs, validateSchedulingGates(s.SchedulingGates, p.Child("schedulingGates"))...)
	errs = append(errs, validateSandboxFields(s, p)...)
	for _, f := range []struct {
		name, value string
		check       func(string) []string
	}{
		{"nodeName", s.NodeName, IsDNS1123Subdomain},
		{"serviceAccountName", s.ServiceAccountName, IsDNS1123Subdomain},
		{"hostname", s.Hostname, IsDNS1123Label},
		{"subdomain", s.Subdomain, IsDNS1123Label},
		{"priorityClassName", s.PriorityClassName, IsDNS1123Subdomain},
		{"schedulerName", s.SchedulerName, IsDNS1123Subdomain},
	} {
		if f.value != "" {
			errs = appendMsgs(errs, p.Child(f.name), f.value, f.check(f.value))
		}
	}
	for i, r := range s.ImagePullSecrets {
		if r.Name == "" {
			errs = append(errs, Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	for i, g := range s.ReadinessGates {
		errs = appendMsgs(errs, p.Child("readinessGates").Index(i).Child("conditionType"), string(g.ConditionType), IsQualifiedName(string(g.ConditionType)))
	}
	if pp := s.PreemptionPolicy; pp != nil && *pp != PreemptLowerPriority && *pp != PreemptNever {
		errs = append(errs, NotSupported(p.Child("preemptionPolicy"), string(*pp), []string{string(PreemptLowerPriority), string(PreemptNever)}))
	}
	if s.RuntimeClassName != nil {
		errs = appendMsgs(errs, p.Child("runtimeClassName"), *s.RuntimeClassName, IsDNS1123Subdomain(*s.RuntimeClassName))
	}
	errs = append(errs, validateResourceListValues(s.Overhead, p.Child("overhead"))...)
	errs = append(errs, validatePodResources(s, p)...)
	if g := s.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	if a := s.ActiveDeadlineSeconds; a != nil && (*a < 1 || *a > math.MaxInt32) {
		errs = append(errs, Invalid(p.Child("activeDeadlineSeconds"), *a, "must be between 1 and 2147483647, inclusive"))
	}
	errs = append(errs, validateFileKeyRefVolumes(s, p)...)
	return errs
}

func validateRestartPolicy(r RestartPolicy, p *Path) ErrorList {
	switch r {
	case RestartPolicyAlways, RestartPolicyOnFailure, RestartPolicyNever:
		return nil
	case "":
		return ErrorList{Required(p, "")}
	}
	return ErrorList{NotSupported(p, string(r), []string{string(RestartPolicyAlways), string(RestartPolicyOnFailure), string(RestartPolicyNever)})}
}

func validateDNS(s *PodSpec, p *Path) ErrorList {
	var errs ErrorList
	dp := p.Child("dnsPolicy")
	switch s.DNSPolicy {
	case DNSClusterFirstWithHostNet, DNSClusterFirst, DNSDefault, DNSNone:
	case "":
		errs = append(errs, Required(dp, ""))
	default:
		errs = append(errs, NotSupported(dp, string(s.DNSPolicy), []string{string(DNSClusterFirstWithHostNet), string(DNSClusterFirst), string(DNSDefault), string(DNSNone)}))
	}
	cp := p.Child("dnsConfig")
	c := s.DNSConfig
	if s.DNSPolicy == DNSNone {
		if c == nil {
			return append(errs, Required(cp, "must provide `dnsConfig` when `dnsPolicy` is None"))
		}
		if len(c.Nameservers) == 0 {
			return append(errs, Required(cp.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
		}
	}
	if c == nil {
		return errs
	}
	if len(c.Nameservers) > 3 {
		errs = append(errs, Invalid(cp.Child("nameservers"), c.Nameservers, "must not have more than 3 nameservers"))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, validateIP(ns, cp.Child("nameservers").Index(i))...)
	}
	if len(c.Searches) > 32 {
		errs = append(errs, Invalid(cp.Child("searches"), c.Searches, "must not have more than 32 search paths"))
	}
	if len(strings.Join(c.Searches, " ")) > 2048 {
		errs = append(errs, Invalid(cp.Child("searches"), c.Searches, "must not have more than 2048 characters (including spaces) in the search list"))
	}
	for i, sr := range c.Searches {
		sr = strings.TrimSuffix(sr, ".")
		errs = appendMsgs(errs, cp.Child("searches").Index(i), sr, IsDNS1123Subdomain(sr))
	}
	for i, o := range c.Options {
		if o.Name == "" {
			errs = append(errs, Required(cp.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

// validateIP checks an IP address written as Kubernetes accepts it.
func validateIP(ip string, p *Path) ErrorList {
	if a, err := netip.ParseAddr(ip); err != nil || a.Zone() != "" {
		return ErrorList{Invalid(p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")}
	}
	return nil
}

// --- field selectors (env valueFrom and downward API) ---

var (
	envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	volumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name",
		"metadata.namespace", "metadata.uid"}
	resourceFieldPaths = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
		"requests.cpu", "requests.ephemeral-storage", "requests.memory"}
	subscriptRe = regexp.MustCompile(`^(.*)\['(.*)'\]$`)
)

func validateObjectFieldSelector(f *ObjectFieldSelector, allowed []string, p *Path) ErrorList {
	if f.APIVersion == "" {
		return ErrorList{Required(p.Child("apiVersion"), "")}
	}
	if f.FieldPath == "" {
		return ErrorList{Required(p.Child("fieldPath"), "")}
	}
	if f.APIVersion != "v1" {
		return ErrorList{Invalid(p.Child("apiVersion"), f.APIVersion, "unsupported pod version")}
	}
	if m := subscriptRe.FindStringSubmatch(f.FieldPath); m != nil {
		switch m[1] {
		case "metadata.annotations":
			return appendMsgs(nil, p, m[2], IsQualifiedName(strings.ToLower(m[2])))
		case "metadata.labels":
			return appendMsgs(nil, p, m[2], IsQualifiedName(m[2]))
		}
		return ErrorList{Invalid(p, m[1], "does not support subscript")}
	}
	if !slices.Contains(allowed, f.FieldPath) {
		return ErrorList{NotSupported(p.Child("fieldPath"), f.FieldPath, allowed)}
	}
	return nil
}

var (
	cpuDivisors    = []string{"1m", "1"}
	memoryDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

func validateResourceFieldSelector(f *ResourceFieldSelector, volume bool, p *Path) ErrorList {
	var errs ErrorList
	switch {
	case volume && f.ContainerName == "":
		errs = append(errs, Required(p.Child("containerName"), ""))
	case f.Resource == "":
		errs = append(errs, Required(p.Child("resource"), ""))
	case !slices.Contains(resourceFieldPaths, f.Resource) &&
		!strings.HasPrefix(f.Resource, "limits.hugepages-") && !strings.HasPrefix(f.Resource, "requests.hugepages-"):
		errs = append(errs, NotSupported(p.Child("resource"), f.Resource, resourceFieldPaths))
	}
	if f.Divisor.IsZero() {
		return errs
	}
	d := f.Divisor.String()
	dp := p.Child("divisor")
	switch f.Resource {
	case "limits.cpu", "requests.cpu":
		if !slices.Contains(cpuDivisors, d) {
			errs = append(errs, Invalid(dp, f.Resource, "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
	case "limits.memory", "requests.memory":
		if !slices.Contains(memoryDivisors, d) {
			errs = append(errs, Invalid(dp, f.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
		}
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		if !slices.Contains(memoryDivisors, d) {
			errs = append(errs, Invalid(dp, f.Resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource"))
		}
	}
	return errs
}

// --- containers ---

func validateContainers(s *PodSpec, vols map[string]*VolumeSource, names map[string]bool, p *Path) ErrorList {
	var errs ErrorList
	cp := p.Child("containers")
	if len(s.Containers) == 0 {
		errs = append(errs, Required(cp, ""))
	}
	for i := range s.Containers {
		errs = append(errs, validateContainer(&s.Containers[i], s, vols, names, false, cp.Index(i))...)
	}
	for i := range s.InitContainers {
		errs = append(errs, validateContainer(&s.InitContainers[i], s, vols, names, true, p.Child("initContainers").Index(i))...)
	}
	// Host ports must not clash among the containers running together.
	hostPorts := map[string]bool{}
	for i, c := range s.Containers {
		for j, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			k := fmt.Sprintf("%s/%s/%d", port.HostIP, port.Protocol, port.HostPort)
			if hostPorts[k] {
				errs = append(errs, Duplicate(cp.Index(i).Child("ports").Index(j).Child("hostPort"), k))
			}
			hostPorts[k] = true
		}
	}
	return errs
}

func validateContainer(c *Container, s *PodSpec, vols map[string]*VolumeSource, names map[string]bool, init bool, p *Path) ErrorList {
	var errs ErrorList
	np := p.Child("name")
	switch {
	case c.Name == "":
		errs = append(errs, Required(np, ""))
	case names[c.Name]:
		errs = append(errs, Duplicate(np, c.Name))
	default:
		errs = appendMsgs(errs, np, c.Name, IsDNS1123Label(c.Name))
	}
	names[c.Name] = true
	if c.Image == "" {
		errs = append(errs, Required(p.Child("image"), ""))
	} else if strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, validatePullPolicy(c.ImagePullPolicy, p.Child("imagePullPolicy"))...)
	switch c.TerminationMessagePolicy {
	case TerminationMessageReadFile, TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, Required(p.Child("terminationMessagePolicy"), "must be 'File' or 'FallbackToLogsOnError'"))
	default:
		errs = append(errs, Invalid(p.Child("terminationMessagePolicy"), string(c.TerminationMessagePolicy), "must be 'File' or 'FallbackToLogsOnError'"))
	}
	errs = append(errs, validateContainerPorts(c.Ports, s.HostNetwork, p.Child("ports"))...)
	errs = append(errs, validateEnv(c.Env, p.Child("env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, validateVolumeMounts(c, vols, p.Child("volumeMounts"))...)
	errs = append(errs, ValidateResourceRequirements(&c.Resources, p.Child("resources"))...)
	errs = append(errs, validateResizePolicy(c, s, init, p.Child("resizePolicy"))...)
	errs = append(errs, validateSecurityContext(c.SecurityContext, p.Child("securityContext"))...)

	errs = append(errs, validateContainerRestartPolicy(c, p)...)
	grace := s.TerminationGracePeriodSeconds
	if init && !c.IsSidecar() {
		const msg = "may not be set for init containers without restartPolicy=Always"
		if c.Lifecycle != nil {
			errs = append(errs, Forbidden(p.Child("lifecycle"), msg))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, Forbidden(p.Child("livenessProbe"), msg))
		}
		if c.ReadinessProbe != nil {
			errs = append(errs, Forbidden(p.Child("readinessProbe"), "may not be set for init containers"))
		}
		if c.StartupProbe != nil {
			errs = append(errs, Forbidden(p.Child("startupProbe"), msg))
		}
		return errs
	}
	if lc := c.Lifecycle; lc != nil {
		if lc.PostStart != nil {
			errs = append(errs, validateLifecycleHandler(lc.PostStart, grace, p.Child("lifecycle", "postStart"))...)
		}
		if lc.PreStop != nil {
			errs = append(errs, validateLifecycleHandler(lc.PreStop, grace, p.Child("lifecycle", "preStop"))...)
		}
	}
	for _, pr := range []struct {
		name  string
		probe *Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		errs = append(errs, validateProbe(pr.probe, pp)...)
		if pr.name != "readinessProbe" && pr.probe.SuccessThreshold != 1 {
			errs = append(errs, Invalid(pp.Child("successThreshold"), pr.probe.SuccessThreshold, "must be 1"))
		}
		if pr.name == "readinessProbe" && pr.probe.TerminationGracePeriodSeconds != nil {
			errs = append(errs, Invalid(pp.Child("terminationGracePeriodSeconds"), *pr.probe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	return errs
}

var portNameRe = regexp.MustCompile(`^[-a-z0-9]+$`)

// IsValidPortName returns why name is not an IANA_SVC_NAME, as a named
// port must be, or nothing when it is one.
func IsValidPortName(name string) []string {
	var msgs []string
	if len(name) > 15 {
		msgs = append(msgs, "must be no more than 15 characters")
	}
	if !portNameRe.MatchString(name) {
		msgs = append(msgs, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
	}
	if !strings.ContainsAny(name, "abcdefghijklmnopqrstuvwxyz") {
		msgs = append(msgs, "must contain at least one letter (a-z)")
	}
	if strings.Contains(name, "--") {
		msgs = append(msgs, "must not contain consecutive hyphens")
	}
	if name != "" && (name[0] == '-' || name[len(name)-1] == '-') {
		msgs = append(msgs, "must not begin or end with a hyphen")
	}
	return msgs
}

// IsValidPortNum returns why port is not in 1-65535, or nothing.
func IsValidPortNum(port int) []string {
	if port < 1 || port > 65535 {
		return []string{"must be between 1 and 65535, inclusive"}
	}
	return nil
}

var supportedProtocols = []string{string(ProtocolSCTP), string(ProtocolTCP), string(ProtocolUDP)}

func validateProtocol(proto Protocol, p *Path) ErrorList {
	switch proto {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
		return nil
	case "":
		return ErrorList{Required(p, "")}
	}
	return ErrorList{NotSupported(p, string(proto), supportedProtocols)}
}

func validateContainerPorts(ports []ContainerPort, hostNetwork bool, p *Path) ErrorList {
	var errs ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		ip := p.Index(i)
		if port.Name != "" {
			if msgs := IsValidPortName(port.Name); len(msgs) > 0 {
				errs = appendMsgs(errs, ip.Child("name"), port.Name, msgs)
			} else if names[port.Name] {
				errs = append(errs, Duplicate(ip.Child("name"), port.Name))
			}
			names[port.Name] = true
		}
		if port.ContainerPort == 0 {
			errs = append(errs, Required(ip.Child("containerPort"), ""))
		} else {
			for _, m := range IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, Invalid(ip.Child("containerPort"), port.ContainerPort, m))
			}
		}
		if port.HostPort != 0 {
			for _, m := range IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, Invalid(ip.Child("hostPort"), port.HostPort, m))
			}
		}
		if hostNetwork && port.HostPort != port.ContainerPort {
			errs = append(errs, Invalid(ip.Child("containerPort"), port.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
		}
		if port.HostIP != "" {
			errs = append(errs, validateIP(port.HostIP, ip.Child("hostIP"))...)
		}
		errs = append(errs, validateProtocol(port.Protocol, ip.Child("protocol"))...)
	}
	return errs
}

func validateEnv(env []EnvVar, p *Path) ErrorList {
	var errs ErrorList
	for i, ev := range env {
		ip := p.Index(i)
		if ev.Name == "" {
			errs = append(errs, Required(ip.Child("name"), ""))
		} else {
			errs = appendMsgs(errs, ip.Child("name"), ev.Name, IsEnvVarName(ev.Name))
		}
		vf := ev.ValueFrom
		if vf == nil {
			continue
		}
		vp := ip.Child("valueFrom")
		n := 0
		if vf.FieldRef != nil {
			n++
			errs = append(errs, validateObjectFieldSelector(vf.FieldRef, envFieldPaths, vp.Child("fieldRef"))...)
		}
		if vf.ResourceFieldRef != nil {
			n++
			errs = append(errs, validateResourceFieldSelector(vf.ResourceFieldRef, false, vp.Child("resourceFieldRef"))...)
		}
		if vf.ConfigMapKeyRef != nil {
			n++
			errs = append(errs, validateKeySelector(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, vp.Child("configMapKeyRef"))...)
		}
		if vf.SecretKeyRef != nil {
			n++
			errs = append(errs, validateKeySelector(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, vp.Child("secretKeyRef"))...)
		}
		if vf.FileKeyRef != nil {
			n++
			errs = append(errs, validateFileKeySelector(vf.FileKeyRef, vp.Child("fileKeyRef"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`"))
		case n > 1:
			errs = append(errs, Invalid(vp, "", "may not have more than one field specified at a time"))
		}
		if n > 0 && ev.Value != "" {
			errs = append(errs, Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
	}
	return errs
}

// validateFileKeySelector checks a fileKeyRef alone; that its volume is
// an emptyDir of the pod is validateFileKeyRefVolumes' job.
func validateFileKeySelector(s *FileKeySelector, p *Path) ErrorList {
	var errs ErrorList
	if s.Key == "" {
		errs = append(errs, Required(p.Child("key"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("key"), s.Key, IsRelaxedEnvVarName(s.Key))
	}
	if s.VolumeName == "" {
		errs = append(errs, Required(p.Child("volumeName"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("volumeName"), s.VolumeName, IsDNS1123Label(s.VolumeName))
	}
	// Kubernetes refuses only backsteps: an absolute path is read within
	// the volume, as the kubelet's secure join reads it.
	if s.Path == "" {
		errs = append(errs, Required(p.Child("path"), ""))
	} else {
		errs = append(errs, validateNoBacksteps(s.Path, p.Child("path"))...)
	}
	return errs
}

// validateFileKeyRefVolumes checks that every fileKeyRef of the pod's
// containers names an emptyDir volume of the pod, in Kubernetes' order
// (init containers, containers, ephemeral containers).
func validateFileKeyRefVolumes(s *PodSpec, p *Path) ErrorList {
	vols := make(map[string]*VolumeSource, len(s.Volumes))
	for i := range s.Volumes {
		vols[s.Volumes[i].Name] = &s.Volumes[i].VolumeSource
	}
	var errs ErrorList
	check := func(c *Container, cp *Path) {
		for i, ev := range c.Env {
			if ev.ValueFrom == nil || ev.ValueFrom.FileKeyRef == nil {
				continue
			}
			name := ev.ValueFrom.FileKeyRef.VolumeName
			np := cp.Child("env").Index(i).Child("valueFrom", "fileKeyRef", "volumeName")
			switch v, ok := vols[name]; {
			case !ok:
				errs = append(errs, NotFound(np, name))
			case v.EmptyDir == nil:
				errs = append(errs, Invalid(np, name, "referenced volume must be of type emptyDir"))
			}
		}
	}
	for i := range s.InitContainers {
		check(&s.InitContainers[i], p.Child("initContainers").Index(i))
	}
	for i := range s.Containers {
		check(&s.Containers[i], p.Child("containers").Index(i))
	}
	for i := range s.EphemeralContainers {
		check(s.EphemeralContainers[i].Container(), p.Child("ephemeralContainers").Index(i))
	}
	return errs
}

func validateKeySelector(name, key string, p *Path) ErrorList {
	var errs ErrorList
	if name == "" {
		errs = append(errs, Required(p.Child("name"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("name"), name, IsDNS1123Subdomain(name))
	}
	if key == "" {
		errs = append(errs, Required(p.Child("key"), ""))
	} else {
		errs = appendMsgs(errs, p.Child("key"), key, IsConfigMapKey(key))
	}
	return errs
}

func validateEnvFrom(from []EnvFromSource, p *Path) ErrorList {
	var errs ErrorList
	for i, ef := range from {
		ip := p.Index(i)
		if ef.Prefix != "" {
			errs = appendMsgs(errs, ip.Child("prefix"), ef.Prefix, IsEnvVarName(ef.Prefix))
		}
		n := 0
		ref := func(name string, rp *Path) {
			n++
			if name == "" {
				errs = append(errs, Required(rp.Child("name"), ""))
			} else {
				errs = appendMsgs(errs, rp.Child("name"), name, IsDNS1123Subdomain(name))
			}
		}
		if ef.ConfigMapRef != nil {
			ref(ef.ConfigMapRef.Name, ip.Child("configMapRef"))
		}
		if ef.SecretRef != nil {
			ref(ef.SecretRef.Name, ip.Child("secretRef"))
		}
		switch {
		case n == 0:
			errs = append(errs, Invalid(p, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, Invalid(p, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

// isNativeResource reports whether a resource name belongs to Kubernetes
// (no domain, or a kubernetes.io domain) rather than being an extended one.
func isNativeResource(name ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), "kubernetes.io/")
}

func isHugePages(name ResourceName) bool { return strings.HasPrefix(string(name), "hugepages-") }

// ValidateResourceRequirements checks a container's requests and limits:
// known or extended resource names, non-negative quantities, requests no
// more than limits (equal for extended resources, which cannot be
// overcommitted).
func ValidateResourceRequirements(r *ResourceRequirements, p *Path) ErrorList {
	var errs ErrorList
	lp, rp := p.Child("limits"), p.Child("requests")
	for _, name := range sortedResourceNames(r.Limits) {
		errs = append(errs, validateContainerResource(name, r.Limits[name], lp.Key(string(name)))...)
	}
	for _, name := range sortedResourceNames(r.Requests) {
		q := r.Requests[name]
		errs = append(errs, validateContainerResource(name, q, rp.Key(string(name)))...)
		overcommit := isNativeResource(name) && !isHugePages(name)
		if lim, ok := r.Limits[name]; ok {
			if !overcommit && q.Cmp(lim) != 0 {
				errs = append(errs, Invalid(rp, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, lim.String())))
			} else if q.Cmp(lim) > 0 {
				errs = append(errs, Invalid(rp, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, lim.String())))
			}
		} else if !overcommit {
			errs = append(errs, Required(lp, "Limit must be set for non overcommitable resources"))
		}
	}
	return errs
}

func validateContainerResource(name ResourceName, q Quantity, p *Path) ErrorList {
	errs := appendMsgs(nil, p, string(name), IsQualifiedName(string(name)))
	if !strings.Contains(string(name), "/") {
		if name != ResourceCPU && name != ResourceMemory && name != ResourceEphemeralStorage && !isHugePages(name) {
			errs = append(errs, Invalid(p, string(name), "must be a standard resource for containers"))
		}
	} else if !isNativeResource(name) && strings.HasPrefix(string(name), "requests.") {
		errs = append(errs, Invalid(p, string(name), "doesn't follow extended resource name standard"))
	}
	if q.Sign() < 0 {
		errs = append(errs, Invalid(p, q.String(), "must be greater than or equal to 0"))
	}
	if !isNativeResource(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, Invalid(p, q.String(), "must be an integer"))
	}
	return errs
}

func sortedResourceNames(l ResourceList) []ResourceName {
	names := make([]ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

func validateIDRange(v *int64, p *Path) ErrorList {
	if v != nil && (*v < 0 || *v > math.MaxInt32) {
		return ErrorList{Invalid(p, *v, "must be between 0 and 2147483647, inclusive")}
	}
	return nil
}

func validateSeccomp(s *SeccompProfile, p *Path) ErrorList {
	if s == nil {
		return nil
	}
	lp := p.Child("localhostProfile")
	switch s.Type {
	case SeccompProfileTypeLocalhost:
		if s.LocalhostProfile == nil || *s.LocalhostProfile == "" {
			return ErrorList{Required(lp, "must be set when seccomp type is Localhost")}
		}
		return validateLocalDescendingPath(*s.LocalhostProfile, lp)
	case SeccompProfileTypeRuntimeDefault, SeccompProfileTypeUnconfined:
		if s.LocalhostProfile != nil {
			return ErrorList{Invalid(lp, *s.LocalhostProfile, "can only be set when seccomp type is Localhost")}
		}
		return nil
	case "":
		return ErrorList{Required(p.Child("type"), "type is required when seccompProfile is set")}
	}
	return ErrorList{NotSupported(p.Child("type"), string(s.Type), []string{string(SeccompProfileTypeLocalhost), string(SeccompProfileTypeRuntimeDefault), string(SeccompProfileTypeUnconfined)})}
}

func validatePodSecurityContext(sc *PodSecurityContext, p *Path) ErrorList {
	if sc == nil {
		return nil
	}
	errs := validateIDRange(sc.RunAsUser, p.Child("runAsUser"))
	errs = append(errs, validateIDRange(sc.RunAsGroup, p.Child("runAsGroup"))...)
	errs = append(errs, validateIDRange(sc.FSGroup, p.Child("fsGroup"))...)
	for i := range sc.SupplementalGroups {
		errs = append(errs, validateIDRange(&sc.SupplementalGroups[i], p.Child("supplementalGroups").Index(i))...)
	}
	errs = append(errs, validateSeccomp(sc.SeccompProfile, p.Child("seccompProfile"))...)
	return append(errs, validatePodSecurityExtras(sc, p)...)
}

func validateSecurityContext(sc *SecurityContext, p *Path) ErrorList {
	if sc == nil {
		return nil
	}
	errs := validateIDRange(sc.RunAsUser, p.Child("runAsUser"))
	errs = append(errs, validateIDRange(sc.RunAsGroup, p.Child("runAsGroup"))...)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, Invalid(p, nil, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil && slices.Contains(sc.Capabilities.Add, "CAP_SYS_ADMIN") {
			errs = append(errs, Invalid(p, nil, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
		}
	}
	errs = append(errs, validateSeccomp(sc.SeccompProfile, p.Child("seccompProfile"))...)
	return append(errs, validateSecurityExtras(sc, p)...)
}

// --- probes and hooks ---

func validateProbe(pr *Probe, p *Path) ErrorList {
	errs := validateHandlers(p, pr.Exec, pr.HTTPGet, pr.TCPSocket, pr.GRPC, nil, nil)
	if pr.InitialDelaySeconds < 0 {
		errs = append(errs, Invalid(p.Child("initialDelaySeconds"), pr.InitialDelaySeconds, "must be greater than or equal to 0"))
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"timeoutSeconds", pr.TimeoutSeconds}, {"periodSeconds", pr.PeriodSeconds},
		{"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		if f.v < 1 {
			errs = append(errs, Invalid(p.Child(f.name), f.v, "must be greater than or equal to 1"))
		}
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, Invalid(p.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

func validateLifecycleHandler(h *LifecycleHandler, grace *int64, p *Path) ErrorList {
	return validateHandlers(p, h.Exec, h.HTTPGet, h.TCPSocket, nil, h.Sleep, grace)
}

// validateHandlers checks that exactly one action is set and that it is
// valid.
func validateHandlers(p *Path, exec *ExecAction, httpGet *HTTPGetAction, tcp *TCPSocketAction, grpc *GRPCAction, sleep *SleepAction, grace *int64) ErrorList {
	var errs ErrorList
	n := 0
	one := func(name string) bool {
		if n > 0 {
			errs = append(errs, Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return false
		}
		n++
		return true
	}
	if exec != nil && one("exec") && len(exec.Command) == 0 {
		errs = append(errs, Required(p.Child("exec", "command"), ""))
	}
	if httpGet != nil && one("httpGet") {
		hp := p.Child("httpGet")
		if httpGet.Path == "" {
			errs = append(errs, Required(hp.Child("path"), ""))
		}
		errs = append(errs, validatePortNumOrName(httpGet.Port, hp.Child("port"))...)
		if httpGet.Scheme != URISchemeHTTP && httpGet.Scheme != URISchemeHTTPS {
			errs = append(errs, NotSupported(hp.Child("scheme"), string(httpGet.Scheme), []string{string(URISchemeHTTP), string(URISchemeHTTPS)}))
		}
		for _, h := range httpGet.HTTPHeaders {
			if !isHTTPHeaderName(h.Name) {
				errs = append(errs, Invalid(hp.Child("httpHeaders"), h.Name, "name must be a valid HTTP header name"))
			}
		}
	}
	if tcp != nil && one("tcpSocket") {
		errs = append(errs, validatePortNumOrName(tcp.Port, p.Child("tcpSocket", "port"))...)
	}
	if grpc != nil && one("grpc") {
		for _, m := range IsValidPortNum(int(grpc.Port)) {
			errs = append(errs, Invalid(p.Child("grpc", "port"), grpc.Port, m))
		}
	}
	if sleep != nil && one("sleep") {
		g := DefaultTerminationGracePeriodSeconds
		if grace != nil {
			g = *grace
		}
		if sleep.Seconds <= 0 || sleep.Seconds > g {
			errs = append(errs, Invalid(p.Child("sleep", "seconds"), sleep.Seconds, fmt.Sprintf("must be greater than 0 and less than terminationGracePeriodSeconds (%d)", g)))
		}
	}
	if n == 0 {
		errs = append(errs, Required(p, "must specify a handler type"))
	}
	return errs
}

func validatePortNumOrName(port IntOrString, p *Path) ErrorList {
	var errs ErrorList
	if port.Type == StringType {
		return appendMsgs(errs, p, port.StrVal, IsValidPortName(port.StrVal))
	}
	for _, m := range IsValidPortNum(int(port.IntVal)) {
		errs = append(errs, Invalid(p, port.IntVal, m))
	}
	return errs
}

// isHTTPHeaderName reports whether s is an RFC 7230 token.
func isHTTPHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validatePullPolicy is Kubernetes' validatePullPolicy, of a container's
// or an image volume's.
func validatePullPolicy(policy PullPolicy, p *Path) ErrorList {
	switch policy {
	case PullAlways, PullIfNotPresent, PullNever:
		return nil
	case "":
		return ErrorList{Required(p, "")}
	}
	return ErrorList{NotSupported(p, string(policy), []string{string(PullAlways), string(PullIfNotPresent), string(PullNever)})}
}
