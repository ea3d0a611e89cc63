package objects

import "fmt"

// ContainerResizePolicy says whether resizing one resource of a container
// in place restarts it.
type ContainerResizePolicy struct {
	// ResourceName is cpu or memory.
	ResourceName ResourceName `json:"resourceName"`
	// RestartPolicy is NotRequired or RestartContainer.
	RestartPolicy ResourceResizeRestartPolicy `json:"restartPolicy"`
}

// ResourceResizeRestartPolicy is what an in-place resize of a resource
// does to the container.
type ResourceResizeRestartPolicy string

// Resize restart policies.
const (
	// NotRequired: the container is resized without a restart (the
	// default).
	NotRequired ResourceResizeRestartPolicy = "NotRequired"
	// RestartContainer: the container is restarted to take the new values
	// (a program that sizes itself at start, say a JVM's -Xmx).
	RestartContainer ResourceResizeRestartPolicy = "RestartContainer"
)

// Reasons of the PodResizePending and PodResizeInProgress conditions.
const (
	// PodReasonDeferred: the resize fits the node but not beside the pods
	// it runs now; the node agent admits it once they leave room.
	PodReasonDeferred = "Deferred"
	// PodReasonInfeasible: the resize does not fit the node at all; the
	// node agent does not retry it until the resources change again.
	PodReasonInfeasible = "Infeasible"
	// PodReasonError: applying an admitted resize failed; it is retried.
	PodReasonError = "Error"
)

// ResizeRestartPolicy returns c's resize policy for resource name:
// NotRequired unless its resizePolicy says otherwise.
func (c *Container) ResizeRestartPolicy(name ResourceName) ResourceResizeRestartPolicy {
	for _, p := range c.ResizePolicy {
		if p.ResourceName == name {
			return p.RestartPolicy
		}
	}
	return NotRequired
}

// validateResizePolicy checks a container's resizePolicy as Kubernetes'
// validateResizePolicy does; a non-sidecar init container, which cannot
// be resized, may not have one.
func validateResizePolicy(c *Container, s *PodSpec, init bool, p *Path) ErrorList {
	if len(c.ResizePolicy) == 0 {
		return nil
	}
	if init && !c.IsSidecar() {
		return ErrorList{Forbidden(p, "may not be set for init containers without restartPolicy=Always")}
	}
	var errs ErrorList
	seen := map[ResourceName]bool{}
	for i, rp := range c.ResizePolicy {
		ip := p.Index(i)
		if seen[rp.ResourceName] {
			errs = append(errs, Duplicate(ip, string(rp.ResourceName)))
		}
		seen[rp.ResourceName] = true
		switch rp.ResourceName {
		case ResourceCPU, ResourceMemory:
		case "":
			errs = append(errs, Required(ip.Child("resourceName"), ""))
		default:
			errs = append(errs, NotSupported(ip.Child("resourceName"), string(rp.ResourceName), []string{string(ResourceCPU), string(ResourceMemory)}))
		}
		switch rp.RestartPolicy {
		case NotRequired, RestartContainer:
		case "":
			errs = append(errs, Required(ip.Child("restartPolicy"), ""))
		default:
			errs = append(errs, NotSupported(ip.Child("restartPolicy"), string(rp.RestartPolicy), []string{string(NotRequired), string(RestartContainer)}))
		}
		if s.RestartPolicy == RestartPolicyNever && rp.RestartPolicy != NotRequired && !(init && c.IsSidecar()) {
			errs = append(errs, Invalid(ip.Child("restartPolicy"), string(rp.RestartPolicy), "must be 'NotRequired' when `restartPolicy` is 'Never'"))
		}
	}
	return errs
}

// ResizeRequest returns stored with the resize that pod asks for: the
// resources and resizePolicy of each of pod's containers and sidecars,
// matched by name; everything else of pod is ignored, as Kubernetes' pods/resize
// subresource ignores it. A container of pod that stored does not have
// is an error naming it.
func ResizeRequest(stored, pod *Pod) (*Pod, ErrorList) {
	out := stored.DeepCopy()
	var errs ErrorList
	take := func(to, from []Container, p *Path) {
		for i := range from {
			found := false
			for j := range to {
				if to[j].Name == from[i].Name {
					to[j].Resources = *from[i].Resources.DeepCopy()
					to[j].ResizePolicy = append([]ContainerResizePolicy(nil), from[i].ResizePolicy...)
					found = true
					break
				}
			}
			if !found {
				errs = append(errs, Forbidden(p.Index(i).Child("name"), "containers may not be added, renamed or reordered on resize"))
			}
		}
	}
	sp := NewPath("spec")
	take(out.Spec.Containers, pod.Spec.Containers, sp.Child("containers"))
	take(out.Spec.InitContainers, pod.Spec.InitContainers, sp.Child("initContainers"))
	return out, errs
}

// ValidateResize checks a resize of old into p (see ResizeRequest) as
// Kubernetes validates a write to pods/resize: p must be a valid pod;
// only the cpu and memory requests and limits, and the resizePolicy, of
// containers and sidecars may change; none may be removed; the pod's QoS
// class may not change; a non-sidecar init container may not be resized;
// a pod that has finished, or has pod-level resources, cannot be resized.
func ValidateResize(p, old *Pod) ErrorList {
	sp := NewPath("spec")
	errs := ValidatePodSpec(&p.Spec, sp)
	if old.Spec.OS != nil && old.Spec.OS.Name == Windows {
		return append(errs, Forbidden(NewPath(""), "windows pods cannot be resized"))
	}
	if PodLevelResources(old) != nil || PodLevelResources(p) != nil {
		// Kubernetes resizes them only behind an alpha feature gate
		// (InPlacePodLevelResourcesVerticalScaling).
		errs = append(errs, Forbidden(NewPath(""), "resize of pods with pod-level resources is forbidden"))
	}
	if old.IsTerminal() {
		errs = append(errs, Forbidden(sp, fmt.Sprintf("pod is in a terminal phase (%s) and cannot be resized", old.Status.Phase)))
	}
	if q := PodQOS(p); q != PodQOS(old) {
		errs = append(errs, Invalid(sp, string(q), "Pod QOS Class may not change as a result of resizing"))
	}
	if len(p.Spec.Containers) != len(old.Spec.Containers) || len(p.Spec.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, Forbidden(sp.Child("containers"), "containers may not be added or removed on resize"))
	}
	// What may change is taken from p into a copy of old: what is left
	// must be equal.
	mut := old.Spec.DeepCopy()
	check := func(cs, olds, muts []Container, init bool, p *Path) {
		for i := range olds {
			c, o := &cs[i], &olds[i]
			if c.Name != o.Name {
				errs = append(errs, Forbidden(p.Index(i).Child("name"), "containers may not be renamed or reordered on resize"))
				continue
			}
			if init && !o.IsSidecar() {
				if !jsonEqual(c.Resources, o.Resources) {
					errs = append(errs, Forbidden(p.Index(i).Child("resources"), "resources for non-sidecar init containers are immutable"))
				}
				continue
			}
			rp := p.Index(i).Child("resources")
			if removed(c.Resources.Requests, o.Resources.Requests) {
				errs = append(errs, Forbidden(rp.Child("requests"), "resource requests cannot be removed"))
			}
			if removed(c.Resources.Limits, o.Resources.Limits) {
				errs = append(errs, Forbidden(rp.Child("limits"), "resource limits cannot be removed"))
			}
			m := &muts[i]
			m.Resources.Requests = withCPUMemory(o.Resources.Requests, c.Resources.Requests)
			m.Resources.Limits = withCPUMemory(o.Resources.Limits, c.Resources.Limits)
			m.ResizePolicy = c.ResizePolicy
		}
	}
	check(p.Spec.Containers, old.Spec.Containers, mut.Containers, false, sp.Child("containers"))
	check(p.Spec.InitContainers, old.Spec.InitContainers, mut.InitContainers, true, sp.Child("initContainers"))
	if !jsonEqual(mut, &p.Spec) {
		errs = append(errs, Forbidden(sp, "only cpu and memory resources are mutable"))
	}
	return errs
}

// removed reports whether a resource of old is missing from l.
func removed(l, old ResourceList) bool {
	for name := range old {
		if _, ok := l[name]; !ok {
			return true
		}
	}
	return false
}

// withCPUMemory returns old with its cpu and memory taken from l. A list
// the container did not have stays absent, as in Kubernetes' resize
// validation: a resize may not give a container its first requests or
// limits.
func withCPUMemory(old, l ResourceList) ResourceList {
	if old == nil {
		return nil
	}
	out := ResourceList{}
	for name, q := range old {
		if name != ResourceCPU && name != ResourceMemory {
			out[name] = q
		}
	}
	for _, name := range [...]ResourceName{ResourceCPU, ResourceMemory} {
		if q, ok := l[name]; ok {
			out[name] = q
		}
	}
	return out
}

// ResizeResources returns the cpu and memory requests and limits of r,
// which a resize may change and a node agent applies, as a new value.
func ResizeResources(r *ResourceRequirements) ResourceRequirements {
	pick := func(l ResourceList) ResourceList {
		var out ResourceList
		for _, name := range [...]ResourceName{ResourceCPU, ResourceMemory} {
			if q, ok := l[name]; ok {
				if out == nil {
					out = ResourceList{}
				}
				out[name] = q
			}
		}
		return out
	}
	return ResourceRequirements{Requests: pick(r.Requests), Limits: pick(r.Limits)}
}

// ResizeResourcesEqual reports whether a and b have the same cpu and
// memory requests and limits.
func ResizeResourcesEqual(a, b *ResourceRequirements) bool {
	for _, name := range [...]ResourceName{ResourceCPU, ResourceMemory} {
		for _, l := range [2][2]ResourceList{{a.Requests, b.Requests}, {a.Limits, b.Limits}} {
			x, xok := l[0][name]
			y, yok := l[1][name]
			if xok != yok || (xok && x.Cmp(y) != 0) {
				return false
			}
		}
	}
	return true
}

// ResizeFitSpec returns p's spec with each container's and sidecar's
// requests raised to what it holds of its node while it is being resized,
// as Kubernetes' scheduler and kubelet count such a pod: per resource, the
// most of the spec's request (unless the resize is Infeasible), the
// allocated one and the actual one of its status. It returns nil when
// they are the spec's own, as they are for a pod not being resized.
func ResizeFitSpec(p *Pod) *PodSpec {
	if len(p.Status.ContainerStatuses) == 0 && len(p.Status.InitContainerStatuses) == 0 {
		return nil
	}
	infeasible := false
	if c := GetPodCondition(&p.Status, PodResizePending); c != nil && c.Reason == PodReasonInfeasible {
		infeasible = true
	}
	var out *PodSpec
	fix := func(cs []Container, statuses []ContainerStatus, init bool, set func(s *PodSpec) []Container) {
		for i := range cs {
			c := &cs[i]
			if init && !c.IsSidecar() {
				continue
			}
			var st *ContainerStatus
			for j := range statuses {
				if statuses[j].Name == c.Name {
					st = &statuses[j]
					break
				}
			}
			if st == nil {
				continue
			}
			req := fitRequests(c.Resources.Requests, st, infeasible)
			if req == nil {
				continue
			}
			if out == nil {
				out = p.Spec.DeepCopy()
			}
			set(out)[i].Resources.Requests = req
		}
	}
	fix(p.Spec.Containers, p.Status.ContainerStatuses, false, func(s *PodSpec) []Container { return s.Containers })
	fix(p.Spec.InitContainers, p.Status.InitContainerStatuses, true, func(s *PodSpec) []Container { return s.InitContainers })
	return out
}

// fitRequests returns the most, per resource, of spec (unless infeasible),
// st's allocated requests and st's actual ones, or nil when that is spec.
func fitRequests(spec ResourceList, st *ContainerStatus, infeasible bool) ResourceList {
	lists := [2]ResourceList{st.AllocatedResources}
	if st.Resources != nil {
		lists[1] = st.Resources.Requests
	}
	raised := infeasible
	for _, l := range lists {
		for name, q := range l {
			if cur, ok := spec[name]; !ok || q.Cmp(cur) > 0 {
				raised = true
			}
		}
	}
	if !raised {
		return nil
	}
	out := ResourceList{}
	if !infeasible {
		for name, q := range spec {
			out[name] = q
		}
	}
	for _, l := range lists {
		for name, q := range l {
			if cur, ok := out[name]; !ok || q.Cmp(cur) > 0 {
				out[name] = q
			}
		}
	}
	return out
}

// PodRequestsForFit returns PodRequests of p as it holds its node's
// resources while it is being resized (see ResizeFitSpec).
func PodRequestsForFit(p *Pod) ResourceList {
	if s := ResizeFitSpec(p); s != nil {
		q := *p
		q.Spec = *s
		return PodRequests(&q)
	}
	return PodRequests(p)
}

// ResizeInFlight reports whether a resize of bound pod p is not settled:
// the requests of a container or sidecar differ from those its status
// says are allocated, or the resize is pending.
func ResizeInFlight(p *Pod) bool {
	if len(p.Status.ContainerStatuses) == 0 && len(p.Status.InitContainerStatuses) == 0 {
		return false
	}
	if GetPodCondition(&p.Status, PodResizePending) != nil || GetPodCondition(&p.Status, PodResizeInProgress) != nil {
		return true
	}
	for _, pair := range [2]struct {
		cs []Container
		ss []ContainerStatus
	}{{p.Spec.Containers, p.Status.ContainerStatuses}, {p.Spec.InitContainers, p.Status.InitContainerStatuses}} {
		for i := range pair.ss {
			st := &pair.ss[i]
			if st.AllocatedResources == nil {
				continue
			}
			for j := range pair.cs {
				if c := &pair.cs[j]; c.Name == st.Name {
					a := ResourceRequirements{Requests: st.AllocatedResources}
					if !ResizeResourcesEqual(&ResourceRequirements{Requests: c.Resources.Requests}, &a) {
						return true
					}
				}
			}
		}
	}
	return false
}
