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

// PodRequests returns the pod's effective requests as the scheduler counts
// them, as Kubernetes' PodRequests: for each resource the larger of what
// runs for the pod's life, the containers and sidecars summed, and the
// most any one init container needs beside the sidecars started before
// it (init containers run one at a time).
//
// Pod-level requests (spec.resources) replace the containers' sum of the
// resources they set, and the pod's overhead (spec.overhead) is added, as
// Kubernetes does both.
func PodRequests(p *Pod) ResourceList {
	out := podResources(p, func(r *ResourceRequirements) ResourceList { return r.Requests })
	if r := PodLevelResources(p); r != nil {
		applyPodLevel(out, r.Requests)
	}
	for name, q := range p.Spec.Overhead {
		addTo(out, name, q)
	}
	return out
}

// podResources sums one list of each container's resources (requests or
// limits) the way Kubernetes' PodRequests and PodLimits do.
func podResources(p *Pod, list func(*ResourceRequirements) ResourceList) ResourceList {
	out := ResourceList{}
	for i := range p.Spec.Containers {
		for name, q := range list(&p.Spec.Containers[i].Resources) {
			addTo(out, name, q)
		}
	}
	if len(p.Spec.InitContainers) == 0 {
		return out
	}
	sidecars, initNeed := ResourceList{}, ResourceList{}
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		need := list(&c.Resources)
		if c.IsSidecar() {
			for name, q := range need {
				addTo(out, name, q)
				addTo(sidecars, name, q)
			}
			need = sidecars
		} else if len(sidecars) > 0 {
			sum := ResourceList{}
			for _, l := range [2]ResourceList{need, sidecars} {
				for name, q := range l {
					addTo(sum, name, q)
				}
			}
			need = sum
		}
		for name, q := range need {
			if cur, ok := initNeed[name]; !ok || q.Cmp(cur) > 0 {
				initNeed[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range initNeed {
		if cur, ok := out[name]; !ok || q.Cmp(cur) > 0 {
			out[name] = q
		}
	}
	return out
}

// PodQOS computes the pod's quality-of-service class as Kubernetes does:
// Guaranteed when every container has cpu and memory limits equal to its
// requests, BestEffort when no container requests or limits cpu or memory,
// Burstable otherwise. A pod with pod-level resources has the class they
// give, as one container's would.
func PodQOS(p *Pod) PodQOSClass {
	if r := PodLevelResources(p); r != nil {
		return requirementsQOS(r)
	}
	// Most pods are not Guaranteed, which a look at each container tells
	// without summing anything.
	some, guaranteed := false, true
	for _, cs := range [2][]Container{p.Spec.Containers, p.Spec.InitContainers} {
		for i := range cs {
			r := &cs[i].Resources
			some = some || hasComputeResource(r.Requests)
			limits := 0
			for name, q := range r.Limits {
				if (name == ResourceCPU || name == ResourceMemory) && q.Sign() > 0 {
					some = true
					limits++
				}
			}
			guaranteed = guaranteed && limits == 2
		}
	}
	switch {
	case !some:
		return PodQOSBestEffort
	case !guaranteed:
		return PodQOSBurstable
	}
	requests, limits := ResourceList{}, ResourceList{}
	all := append(append([]Container(nil), p.Spec.Containers...), p.Spec.InitContainers...)
	for i := range all {
		r := &all[i].Resources
		for name, q := range r.Requests {
			if (name == ResourceCPU || name == ResourceMemory) && q.Sign() > 0 {
				addTo(requests, name, q)
			}
		}
		found := 0
		for name, q := range r.Limits {
			if (name == ResourceCPU || name == ResourceMemory) && q.Sign() > 0 {
				found++
				addTo(limits, name, q)
			}
		}
		if found < 2 {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return PodQOSGuaranteed
	}
	return PodQOSBurstable
}

// hasComputeResource reports whether l has a positive cpu or memory.
func hasComputeResource(l ResourceList) bool {
	for name, q := range l {
		if (name == ResourceCPU || name == ResourceMemory) && q.Sign() > 0 {
			return true
		}
	}
	return false
}
