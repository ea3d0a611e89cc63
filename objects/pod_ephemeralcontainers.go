package objects

import (
	"fmt"
	"reflect"
	"strings"
)

// EphemeralContainer is a container added to a running pod to inspect it,
// as kubectl debug adds one: not part of the pod's workload, it runs once,
// is never restarted, does not count for the pod's readiness or phase,
// and stops with the pod. It is added only through the pod's
// ephemeralcontainers subresource (podkit's
// Orchestrator.UpdateEphemeralContainers), never on create or by an
// update of the pod, and once added it may be neither changed nor
// removed.
type EphemeralContainer struct {
	EphemeralContainerCommon `json:",inline"`
	// TargetContainerName names a container or init container of the pod
	// whose PID namespace the ephemeral container joins, so that it sees
	// (ps, /proc) the target's processes, as the kubelet's CRI target
	// namespace does. It has no effect in a pod whose containers already
	// share one (shareProcessNamespace, hostPID). The target must be
	// running when the ephemeral container starts.
	TargetContainerName string `json:"targetContainerName,omitempty"`
}

// EphemeralContainerCommon holds a Container's fields, as Kubernetes'
// does; those an ephemeral container may not use (ports, probes,
// lifecycle, resources, resizePolicy, restartPolicy, and subPath
// volume mounts) are refused by validation.
type EphemeralContainerCommon Container

// Container returns the ephemeral container as a plain Container, sharing
// its slices and pointers.
func (e *EphemeralContainer) Container() *Container {
	return (*Container)(&e.EphemeralContainerCommon)
}

// ephemeralForbidden is Kubernetes' message for a field an ephemeral
// container may not set.
const ephemeralForbidden = "cannot be set for an Ephemeral Container"

// ephemeralAllowed are the Container fields an ephemeral container may
// set, by Go name, as Kubernetes' allowedEphemeralContainerFields: a new
// Container field is refused until it is considered here.
var ephemeralAllowed = map[string]bool{
	"Name": true, "Image": true, "Command": true, "Args": true, "WorkingDir": true,
	"EnvFrom": true, "Env": true, "VolumeMounts": true,
	"TerminationMessagePath": true, "TerminationMessagePolicy": true, "ImagePullPolicy": true,
	"SecurityContext": true, "Stdin": true, "StdinOnce": true, "TTY": true,
}

// validateEphemeralContainers checks a pod's ephemeral containers as
// Kubernetes' validateEphemeralContainers: each as a container (names
// unique across every kind of container, in names), none setting a field
// that is not for ephemeral containers or a subPath, each target a
// container or init container of the pod.
func validateEphemeralContainers(s *PodSpec, vols map[string]*VolumeSource, names map[string]bool, p *Path) ErrorList {
	var errs ErrorList
	targets := map[string]bool{}
	for _, cs := range [][]Container{s.Containers, s.InitContainers} {
		for i := range cs {
			targets[cs[i].Name] = true
		}
	}
	for i := range s.EphemeralContainers {
		ec := &s.EphemeralContainers[i]
		ip := p.Index(i)
		// Validated as a container without the fields it may not set,
		// which are refused alone, not also for their content.
		c := *ec.Container()
		v := reflect.ValueOf(&c).Elem()
		t := v.Type()
		for j := range t.NumField() {
			f := t.Field(j)
			if ephemeralAllowed[f.Name] || v.Field(j).IsZero() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			errs = append(errs, Forbidden(ip.Child(name), ephemeralForbidden))
			v.Field(j).SetZero()
		}
		errs = append(errs, validateContainer(&c, s, vols, names, false, ip)...)
		if ec.TargetContainerName != "" && !targets[ec.TargetContainerName] {
			errs = append(errs, NotFound(ip.Child("targetContainerName"), ec.TargetContainerName))
		}
		for j, m := range ec.VolumeMounts {
			mp := ip.Child("volumeMounts").Index(j)
			if m.SubPath != "" {
				errs = append(errs, Forbidden(mp.Child("subPath"), ephemeralForbidden))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, Forbidden(mp.Child("subPathExpr"), ephemeralForbidden))
			}
		}
	}
	return errs
}

// ValidateCreate implements CreateValidator: a new pod may not have
// ephemeral containers, which are added to a running one, and its pod
// affinity terms are checked with their label keys applied (see
// PodAffinityTerm).
func (p *Pod) ValidateCreate() ErrorList {
	errs := validateCreatedLabelKeys(p)
	if len(p.Spec.EphemeralContainers) > 0 {
		errs = append(errs, Forbidden(NewPath("spec", "ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

// EphemeralContainersRequest returns stored with the ephemeral containers
// pod asks for, as a write to Kubernetes' pods/ephemeralcontainers
// subresource: everything of pod but spec.ephemeralContainers is
// ignored. Its new containers get their defaults.
func EphemeralContainersRequest(stored, pod *Pod) *Pod {
	out := stored.DeepCopy()
	out.Spec.EphemeralContainers = nil
	for i := range pod.Spec.EphemeralContainers {
		ec := pod.Spec.EphemeralContainers[i].DeepCopy()
		defaultContainer(ec.Container(), out.Spec.HostNetwork)
		out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, *ec)
	}
	return out
}

// ValidateEphemeralContainersUpdate checks a write of the ephemeral
// containers of old into p (see EphemeralContainersRequest) as Kubernetes'
// ValidatePodEphemeralContainersUpdate: p must be a valid pod, and each
// ephemeral container old has must be in p, unchanged: they are only
// added. A terminal pod may get them, as in Kubernetes, but they do not
// run.
func ValidateEphemeralContainersUpdate(p, old *Pod) ErrorList {
	errs := ValidatePodSpec(&p.Spec, NewPath("spec"))
	sp := NewPath("spec", "ephemeralContainers")
	byName := make(map[string]*EphemeralContainer, len(p.Spec.EphemeralContainers))
	for i := range p.Spec.EphemeralContainers {
		byName[p.Spec.EphemeralContainers[i].Name] = &p.Spec.EphemeralContainers[i]
	}
	for i := range old.Spec.EphemeralContainers {
		o := &old.Spec.EphemeralContainers[i]
		switch n, ok := byName[o.Name]; {
		case !ok:
			errs = append(errs, Forbidden(sp, fmt.Sprintf("existing ephemeral containers %q may not be removed", o.Name)))
		case !jsonEqual(o, n):
			errs = append(errs, Forbidden(sp, fmt.Sprintf("existing ephemeral containers %q may not be changed", o.Name)))
		}
	}
	return errs
}
