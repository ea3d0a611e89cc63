package objects

import (
	"fmt"
	"strings"
)

// LimitRange bounds and defaults what each pod, container and
// PersistentVolumeClaim created in its namespace may ask for (v1), as
// Kubernetes' LimitRanger admission plugin enforces it: a container
// without a request or a limit of a resource gets the Container item's
// defaultRequest and default, and a pod or claim outside an item's min,
// max or maxLimitRequestRatio is refused at its creation. Objects that
// exist are not revisited when a LimitRange changes.
type LimitRange struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec LimitRangeSpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (l *LimitRange) DeepCopyObject() Object { return l.DeepCopy() }

// AnnotationLimitRanger records on a pod the requests and limits its
// namespace's LimitRanges gave its containers, in Kubernetes' words:
// "LimitRanger plugin set: cpu, memory request for container app".
const AnnotationLimitRanger = "kubernetes.io/limit-ranger"

// LimitRangeSpec lists the limits enforced, at most one item per type.
type LimitRangeSpec struct {
	Limits []LimitRangeItem `json:"limits"`
}

// LimitType is what a LimitRangeItem limits.
type LimitType string

// Limit types, as Kubernetes names them.
const (
	// LimitTypePod limits the sums over a pod's containers (init
	// containers counted as the scheduler counts them).
	LimitTypePod LimitType = "Pod"
	// LimitTypeContainer limits, and defaults, each container.
	LimitTypeContainer LimitType = "Container"
	// LimitTypePersistentVolumeClaim limits each claim's storage request.
	LimitTypePersistentVolumeClaim LimitType = "PersistentVolumeClaim"
)

// LimitRangeItem is the limits of one type, by resource name.
type LimitRangeItem struct {
	Type LimitType `json:"type"`
	// Max is the most a limit (and a request) may be.
	Max ResourceList `json:"max,omitempty"`
	// Min is the least a request (and a limit) may be.
	Min ResourceList `json:"min,omitempty"`
	// Default is the limit a container gets when it sets none.
	Default ResourceList `json:"default,omitempty"`
	// DefaultRequest is the request a container gets when it sets none.
	DefaultRequest ResourceList `json:"defaultRequest,omitempty"`
	// MaxLimitRequestRatio bounds limit/request: the burst allowed.
	MaxLimitRequestRatio ResourceList `json:"maxLimitRequestRatio,omitempty"`
}

// Default implements Defaulter as Kubernetes' SetDefaults_LimitRangeItem:
// in a Container item, default falls back to max, and defaultRequest to
// default, then to min.
func (l *LimitRange) Default() {
	for i := range l.Spec.Limits {
		it := &l.Spec.Limits[i]
		if it.Type != LimitTypeContainer {
			continue
		}
		it.Default = fillMissing(it.Default, it.Max)
		it.DefaultRequest = fillMissing(it.DefaultRequest, it.Default)
		it.DefaultRequest = fillMissing(it.DefaultRequest, it.Min)
	}
}

// fillMissing returns dst with the entries of src it lacks (dst itself,
// or a new list when dst was nil).
func fillMissing(dst, src ResourceList) ResourceList {
	for name, q := range src {
		if _, ok := dst[name]; ok {
			continue
		}
		if dst == nil {
			dst = ResourceList{}
		}
		dst[name] = q.DeepCopy()
	}
	return dst
}

// Validate checks the spec as Kubernetes' ValidateLimitRange does.
func (l *LimitRange) Validate() ErrorList {
	var errs ErrorList
	lp := NewPath("spec", "limits")
	seen := map[LimitType]bool{}
	for i := range l.Spec.Limits {
		it := &l.Spec.Limits[i]
		ip := lp.Index(i)
		errs = append(errs, validateLimitRangeType(it.Type, ip.Child("type"))...)
		if seen[it.Type] {
			errs = append(errs, Duplicate(ip.Child("type"), string(it.Type)))
		}
		seen[it.Type] = true

		names := map[ResourceName]bool{}
		check := func(field string, l ResourceList) {
			for _, name := range sortedResourceNames(l) {
				errs = append(errs, validateLimitRangeResourceName(it.Type, name, ip.Child(field).Key(string(name)))...)
				names[name] = true
			}
		}
		check("max", it.Max)
		check("min", it.Min)
		if it.Type == LimitTypePod {
			if len(it.Default) > 0 {
				errs = append(errs, Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(it.DefaultRequest) > 0 {
				errs = append(errs, Forbidden(ip.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			check("default", it.Default)
			check("defaultRequest", it.DefaultRequest)
		}
		if it.Type == LimitTypePersistentVolumeClaim {
			_, hasMin := it.Min[ResourceStorage]
			_, hasMax := it.Max[ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, Required(ip.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		check("maxLimitRequestRatio", it.MaxLimitRequestRatio)
		for _, name := range sortedNames(names) {
			errs = append(errs, validateLimitRangeValues(it, name, ip)...)
		}
	}
	return errs
}

// validateLimitRangeValues checks that an item's bounds of one resource
// agree with each other.
func validateLimitRangeValues(it *LimitRangeItem, name ResourceName, ip *Path) ErrorList {
	var errs ErrorList
	k := string(name)
	lo, hasMin := it.Min[name]
	hi, hasMax := it.Max[name]
	def, hasDef := it.Default[name]
	req, hasReq := it.DefaultRequest[name]
	ratio, hasRatio := it.MaxLimitRequestRatio[name]
	if hasMin && hasMax && lo.Cmp(hi) > 0 {
		errs = append(errs, Invalid(ip.Child("min").Key(k), lo.String(), fmt.Sprintf("min value %s is greater than max value %s", lo.String(), hi.String())))
	}
	if hasReq && hasMin && lo.Cmp(req) > 0 {
		errs = append(errs, Invalid(ip.Child("defaultRequest").Key(k), req.String(), fmt.Sprintf("min value %s is greater than default request value %s", lo.String(), req.String())))
	}
	if hasReq && hasMax && req.Cmp(hi) > 0 {
		errs = append(errs, Invalid(ip.Child("defaultRequest").Key(k), req.String(), fmt.Sprintf("default request value %s is greater than max value %s", req.String(), hi.String())))
	}
	if hasReq && hasDef && req.Cmp(def) > 0 {
		errs = append(errs, Invalid(ip.Child("defaultRequest").Key(k), req.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", req.String(), def.String())))
	}
	if hasDef && hasMin && lo.Cmp(def) > 0 {
		errs = append(errs, Invalid(ip.Child("default").Key(k), lo.String(), fmt.Sprintf("min value %s is greater than default value %s", lo.String(), def.String())))
	}
	if hasDef && hasMax && def.Cmp(hi) > 0 {
		errs = append(errs, Invalid(ip.Child("default").Key(k), hi.String(), fmt.Sprintf("default value %s is greater than max value %s", def.String(), hi.String())))
	}
	if hasRatio && ratio.CmpInt64(1) < 0 {
		errs = append(errs, Invalid(ip.Child("maxLimitRequestRatio").Key(k), ratio.String(), fmt.Sprintf("ratio %s is less than 1", ratio.String())))
	}
	if hasRatio && hasMin && hasMax {
		r, lov, hiv := float64(ratio.Value()), lo.Value(), hi.Value()
		if ratio.Value() < maxMilliValue && lov < maxMilliValue && hiv < maxMilliValue {
			r, lov, hiv = float64(ratio.MilliValue())/1000, lo.MilliValue(), hi.MilliValue()
		}
		if bound := float64(hiv) / float64(lov); r > bound {
			errs = append(errs, Invalid(ip.Child("maxLimitRequestRatio").Key(k), ratio.String(), fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), bound)))
		}
	}
	// Resources that cannot be overcommitted (extended ones, hugepages)
	// are requested as much as they are limited.
	if overcommit := isNativeResource(name) && !isHugePages(name); !overcommit && hasDef && hasReq && def.Cmp(req) != 0 {
		errs = append(errs, Invalid(ip.Child("defaultRequest").Key(k), req.String(), fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", def.String(), req.String(), k)))
	}
	return errs
}

// maxMilliValue is the largest value whose thousandths fit in an int64,
// as resource.MaxMilliValue.
const maxMilliValue = int64(^uint64(0)>>1) / 1000

func validateLimitRangeType(t LimitType, p *Path) ErrorList {
	if errs := appendMsgs(nil, p, string(t), IsQualifiedName(string(t))); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(t), "/") && t != LimitTypePod && t != LimitTypeContainer && t != LimitTypePersistentVolumeClaim {
		return ErrorList{Invalid(p, string(t), "must be a standard limit type or fully qualified")}
	}
	return nil
}

// validateLimitRangeResourceName checks a resource name of an item: a
// container resource for Pod and Container items, any standard or
// qualified resource for others.
func validateLimitRangeResourceName(t LimitType, name ResourceName, p *Path) ErrorList {
	if t != LimitTypePod && t != LimitTypeContainer {
		return validateStandardResourceName(name, p)
	}
	errs := validateStandardResourceName(name, p)
	if !strings.Contains(string(name), "/") {
		if name != ResourceCPU && name != ResourceMemory && name != ResourceEphemeralStorage && !isHugePages(name) {
			errs = append(errs, Invalid(p, string(name), "must be a standard resource for containers"))
		}
	} else if !isNativeResource(name) && !isExtendedResourceName(name) {
		errs = append(errs, Invalid(p, string(name), "doesn't follow extended resource name standard"))
	}
	return errs
}

// validateStandardResourceName checks a resource name as Kubernetes'
// validateResourceName: qualified, and known when it has no domain.
func validateStandardResourceName(name ResourceName, p *Path) ErrorList {
	if errs := appendMsgs(nil, p, string(name), IsQualifiedName(string(name))); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") && !standardResources[name] && !isQuotaHugePages(name) {
		return ErrorList{Invalid(p, string(name), "must be a standard resource type or fully qualified")}
	}
	return nil
}

// isExtendedResourceName reports whether name is an extended resource
// (a device plugin's, say): outside kubernetes.io, not requests.-prefixed,
// and valid as a quota name once prefixed.
func isExtendedResourceName(name ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), requestsPrefix) {
		return false
	}
	return len(IsQualifiedName(requestsPrefix+string(name))) == 0
}

func sortedNames(set map[ResourceName]bool) []ResourceName {
	l := make(ResourceList, len(set))
	for n := range set {
		l[n] = Quantity{}
	}
	return sortedResourceNames(l)
}

// PodLimits returns the pod's effective limits, as Kubernetes' PodLimits
// and as PodRequests sums requests: for each resource the larger of the
// containers' and sidecars' sum and the most any one init container
// limits beside the sidecars started before it.
//
// Pod-level limits (spec.resources) replace the containers' of the
// resources they set, and the pod's overhead is added to the limits that
// are set, as Kubernetes does both.
func PodLimits(p *Pod) ResourceList {
	out := podResources(p, func(r *ResourceRequirements) ResourceList { return r.Limits })
	if r := PodLevelResources(p); r != nil {
		applyPodLevel(out, r.Limits)
	}
	for name, q := range p.Spec.Overhead {
		if _, ok := out[name]; ok {
			addTo(out, name, q)
		}
	}
	return out
}
