package objects

import "fmt"

// Pod-level resources (spec.resources), as Kubernetes' PodLevelResources
// feature has them: a pod's own requests and limits of cpu, memory and
// hugepages, which its containers share. Where they are set they are the
// pod's requests and limits for scheduling, quotas and its QoS class, and
// the node agent's runtime confines the whole pod to the limits.

// IsSupportedPodLevelResource reports whether name may be set in a pod's
// spec.resources: cpu, memory and hugepages-*.
func IsSupportedPodLevelResource(name ResourceName) bool {
	return name == ResourceCPU || name == ResourceMemory || isHugePages(name)
}

// PodLevelResources returns the pod's spec.resources when it sets a
// supported resource, else nil, as Kubernetes' IsPodLevelResourcesSet.
func PodLevelResources(p *Pod) *ResourceRequirements {
	r := p.Spec.Resources
	if r == nil {
		return nil
	}
	for _, l := range [2]ResourceList{r.Requests, r.Limits} {
		for name := range l {
			if IsSupportedPodLevelResource(name) {
				return r
			}
		}
	}
	return nil
}

// applyPodLevel sets in out the supported resources of pod-level list l.
func applyPodLevel(out, l ResourceList) {
	for name, q := range l {
		if IsSupportedPodLevelResource(name) {
			out[name] = q.DeepCopy()
		}
	}
}

// defaultPodLevelResources completes a pod's spec.resources as Kubernetes
// does when it admits a pod (DefaultPodLevelResources): unset hugepage
// limits from the containers' limits; unset requests of cpu and memory
// from the containers' requests, and any unset request from the pod's
// limit; unset limits, of resources every container limits, from the
// containers' limits (at least the pod's request). The result is a new
// ResourceRequirements: the spec's may be a template's, shared.
func defaultPodLevelResources(p *Pod) {
	r := p.Spec.Resources
	if r == nil || len(r.Requests) == 0 && len(r.Limits) == 0 {
		return
	}
	containers := &Pod{Spec: PodSpec{Containers: p.Spec.Containers, InitContainers: p.Spec.InitContainers}}
	ctrReqs := podResources(containers, func(r *ResourceRequirements) ResourceList { return r.Requests })
	ctrLims := podResources(containers, func(r *ResourceRequirements) ResourceList { return r.Limits })
	reqs, lims := r.Requests.DeepCopy(), r.Limits.DeepCopy()
	if lims == nil {
		lims = ResourceList{}
	}
	if reqs == nil {
		reqs = ResourceList{}
	}
	for name, q := range ctrLims {
		if _, req := reqs[name]; isHugePages(name) && !req {
			if _, ok := lims[name]; !ok {
				lims[name] = q
			}
		}
	}
	for name, q := range ctrReqs {
		if _, ok := reqs[name]; !ok && (name == ResourceCPU || name == ResourceMemory) {
			reqs[name] = q
		}
	}
	for name, q := range lims {
		if _, ok := reqs[name]; !ok && IsSupportedPodLevelResource(name) {
			reqs[name] = q.DeepCopy()
		}
	}
	for name, req := range reqs {
		if _, ok := lims[name]; ok || !IsSupportedPodLevelResource(name) || !everyContainerLimits(&p.Spec, name) {
			continue
		}
		if lim, ok := ctrLims[name]; ok {
			if req.Cmp(lim) > 0 {
				lim = req.DeepCopy()
			}
			lims[name] = lim
		}
	}
	out := &ResourceRequirements{}
	if len(reqs) > 0 {
		out.Requests = reqs
	}
	if len(lims) > 0 {
		out.Limits = lims
	}
	p.Spec.Resources = out
}

// everyContainerLimits reports whether every container and init
// container of s limits name.
func everyContainerLimits(s *PodSpec, name ResourceName) bool {
	for _, cs := range [2][]Container{s.InitContainers, s.Containers} {
		for i := range cs {
			if _, ok := cs[i].Resources.Limits[name]; !ok {
				return false
			}
		}
	}
	return true
}

// validatePodResources validates a pod's spec.resources as Kubernetes'
// validatePodResources: only cpu, memory and hugepages, valid
// quantities, requests within limits; the containers' requests summed
// within the pod's requests, each container's limits within the pod's.
func validatePodResources(s *PodSpec, p *Path) ErrorList {
	r := s.Resources
	if r == nil {
		return nil
	}
	rp := p.Child("resources")
	if s.OS != nil && s.OS.Name == Windows {
		return ErrorList{Forbidden(rp, "may not be set for a windows pod")}
	}
	supported := []string{string(ResourceCPU), "hugepages-", string(ResourceMemory)}
	var errs ErrorList
	for _, l := range []struct {
		list ResourceList
		path *Path
	}{{r.Limits, rp.Child("limits")}, {r.Requests, rp.Child("requests")}} {
		for _, name := range sortedResourceNames(l.list) {
			if np := l.path.Key(string(name)); !IsSupportedPodLevelResource(name) {
				errs = append(errs, NotSupported(np, string(name), supported))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	errs = append(errs, ValidateResourceRequirements(r, rp)...)
	containers := &Pod{Spec: PodSpec{Containers: s.Containers, InitContainers: s.InitContainers}}
	ctrReqs := podResources(containers, func(r *ResourceRequirements) ResourceList { return r.Requests })
	for _, name := range sortedResourceNames(ctrReqs) {
		pod, ok := r.Requests[name]
		if ctr := ctrReqs[name]; ok && ctr.Cmp(pod) > 0 {
			errs = append(errs, Invalid(rp.Child("requests").Key(string(name)), pod.String(),
				fmt.Sprintf("must be greater than or equal to aggregate container requests of %s", ctr.String())))
		}
	}
	ctrLims := podResources(containers, func(r *ResourceRequirements) ResourceList { return r.Limits })
	for _, name := range sortedResourceNames(ctrLims) {
		pod, ok := r.Limits[name]
		if ctr := ctrLims[name]; ok && isHugePages(name) && ctr.Cmp(pod) > 0 {
			errs = append(errs, Invalid(rp.Child("limits").Key(string(name)), pod.String(),
				fmt.Sprintf("must be greater than or equal to aggregate container limits of %s", ctr.String())))
		}
	}
	for i := range s.Containers {
		l := s.Containers[i].Resources.Limits
		for _, name := range sortedResourceNames(l) {
			pod, ok := r.Limits[name]
			if ctr := l[name]; ok && ctr.Cmp(pod) > 0 {
				errs = append(errs, Invalid(rp.Child("containers").Index(i).Key(string(name)).Child("limits"), ctr.String(),
					fmt.Sprintf("must be less than or equal to pod limits of %s", pod.String())))
			}
		}
	}
	return errs
}

// requirementsQOS is the QoS class one set of requests and limits gives,
// as Kubernetes' requirementsQOS: BestEffort without cpu and memory,
// Guaranteed when both are limited and requested alike, else Burstable.
func requirementsQOS(r *ResourceRequirements) PodQOSClass {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return PodQOSBestEffort
	}
	var qos PodQOSClass
	for _, name := range [2]ResourceName{ResourceCPU, ResourceMemory} {
		req, lim := r.Requests[name], r.Limits[name]
		var this PodQOSClass
		switch {
		case req.Cmp(lim) != 0:
			return PodQOSBurstable
		case req.Sign() == 0:
			this = PodQOSBestEffort
		default:
			this = PodQOSGuaranteed
		}
		if qos != "" && qos != this {
			return PodQOSBurstable
		}
		qos = this
	}
	return qos
}
