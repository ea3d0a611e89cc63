package objects

import (
	"slices"
	"strings"
)

// ResourceQuota caps what the objects of its namespace may use in total
// (v1): compute requested and limited by pods, storage requested by
// claims, and counts of objects. A create (or an update that grows what an
// object uses) that would take status.used past spec.hard is refused, and
// the quota's status.used is updated in the same store transaction as the
// write it admits, so that concurrent writes cannot overspend it. The
// ResourceQuota controller recomputes status.used from the objects that
// exist, freeing what deleted and finished objects used.
type ResourceQuota struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   ResourceQuotaSpec   `json:"spec,omitempty"`
	Status ResourceQuotaStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (q *ResourceQuota) DeepCopyObject() Object { return q.DeepCopy() }

// ResourceQuotaSpec is the hard limits, and which objects they apply to.
type ResourceQuotaSpec struct {
	// Hard is the most each named resource may total.
	Hard ResourceList `json:"hard,omitempty"`
	// Scopes narrow the quota to the pods that match every one of them;
	// none matches every object.
	Scopes []ResourceQuotaScope `json:"scopes,omitempty"`
	// ScopeSelector narrows the quota further, with operators.
	ScopeSelector *ScopeSelector `json:"scopeSelector,omitempty"`
}

// ResourceQuotaStatus is the limits enforced and what is used of them.
type ResourceQuotaStatus struct {
	Hard ResourceList `json:"hard,omitempty"`
	Used ResourceList `json:"used,omitempty"`
}

// ResourceQuotaScope picks the pods a quota applies to.
type ResourceQuotaScope string

// Quota scopes, as Kubernetes names them. VolumeAttributesClass, which
// selects claims by a field podkit's claims do not have, is not supported.
const (
	// ResourceQuotaScopeTerminating: pods with activeDeadlineSeconds.
	ResourceQuotaScopeTerminating ResourceQuotaScope = "Terminating"
	// ResourceQuotaScopeNotTerminating: pods without.
	ResourceQuotaScopeNotTerminating ResourceQuotaScope = "NotTerminating"
	// ResourceQuotaScopeBestEffort: pods of BestEffort QoS class.
	ResourceQuotaScopeBestEffort ResourceQuotaScope = "BestEffort"
	// ResourceQuotaScopeNotBestEffort: the others.
	ResourceQuotaScopeNotBestEffort ResourceQuotaScope = "NotBestEffort"
	// ResourceQuotaScopePriorityClass: pods by priorityClassName.
	ResourceQuotaScopePriorityClass ResourceQuotaScope = "PriorityClass"
	// ResourceQuotaScopeCrossNamespacePodAffinity: pods whose (anti-)
	// affinity terms name other namespaces.
	ResourceQuotaScopeCrossNamespacePodAffinity ResourceQuotaScope = "CrossNamespacePodAffinity"
)

// ScopeSelector is the AND of its requirements.
type ScopeSelector struct {
	MatchExpressions []ScopedResourceSelectorRequirement `json:"matchExpressions,omitempty"`
}

// ScopedResourceSelectorRequirement matches a scope's value against
// values: for PriorityClass, the pod's class name.
type ScopedResourceSelectorRequirement struct {
	ScopeName ResourceQuotaScope    `json:"scopeName"`
	Operator  ScopeSelectorOperator `json:"operator"`
	Values    []string              `json:"values,omitempty"`
}

// ScopeSelectorOperator relates a scope to values.
type ScopeSelectorOperator string

// Scope selector operators.
const (
	ScopeSelectorOpIn           ScopeSelectorOperator = "In"
	ScopeSelectorOpNotIn        ScopeSelectorOperator = "NotIn"
	ScopeSelectorOpExists       ScopeSelectorOperator = "Exists"
	ScopeSelectorOpDoesNotExist ScopeSelectorOperator = "DoesNotExist"
)

// Names of the resources a quota limits, as Kubernetes spells them;
// "count/<resource>.<group>" counts objects of any namespaced kind
// ("count/deployments.apps", "count/pods").
const (
	ResourceServices                 ResourceName = "services"
	ResourceReplicationControllers   ResourceName = "replicationcontrollers"
	ResourceQuotas                   ResourceName = "resourcequotas"
	ResourceSecrets                  ResourceName = "secrets"
	ResourceConfigMaps               ResourceName = "configmaps"
	ResourcePersistentVolumeClaims   ResourceName = "persistentvolumeclaims"
	ResourceServicesNodePorts        ResourceName = "services.nodeports"
	ResourceServicesLoadBalancers    ResourceName = "services.loadbalancers"
	ResourceRequestsCPU              ResourceName = "requests.cpu"
	ResourceRequestsMemory           ResourceName = "requests.memory"
	ResourceRequestsStorage          ResourceName = "requests.storage"
	ResourceRequestsEphemeralStorage ResourceName = "requests.ephemeral-storage"
	ResourceLimitsCPU                ResourceName = "limits.cpu"
	ResourceLimitsMemory             ResourceName = "limits.memory"
	ResourceLimitsEphemeralStorage   ResourceName = "limits.ephemeral-storage"
)

// requestsPrefix marks the request of a resource in a quota
// ("requests.nvidia.com/gpu").
const requestsPrefix = "requests."

// standardQuotaResources are the names without a domain a quota may limit.
var standardQuotaResources = map[ResourceName]bool{
	ResourceCPU: true, ResourceMemory: true, ResourceEphemeralStorage: true,
	ResourceRequestsCPU: true, ResourceRequestsMemory: true, ResourceRequestsStorage: true,
	ResourceRequestsEphemeralStorage: true, ResourceLimitsCPU: true, ResourceLimitsMemory: true,
	ResourceLimitsEphemeralStorage: true, ResourcePods: true, ResourceQuotas: true,
	ResourceServices: true, ResourceReplicationControllers: true, ResourceSecrets: true,
	ResourcePersistentVolumeClaims: true, ResourceConfigMaps: true,
	ResourceServicesNodePorts: true, ResourceServicesLoadBalancers: true,
}

// standardResources are the resource names without a domain Kubernetes
// knows: the quota's and storage.
var standardResources = func() map[ResourceName]bool {
	m := map[ResourceName]bool{ResourceStorage: true}
	for n := range standardQuotaResources {
		m[n] = true
	}
	return m
}()

// integerResources are counted in whole numbers.
var integerResources = map[ResourceName]bool{
	ResourcePods: true, ResourceQuotas: true, ResourceServices: true,
	ResourceReplicationControllers: true, ResourceSecrets: true, ResourceConfigMaps: true,
	ResourcePersistentVolumeClaims: true, ResourceServicesNodePorts: true,
	ResourceServicesLoadBalancers: true,
}

func isQuotaHugePages(name ResourceName) bool {
	return isHugePages(name) || strings.HasPrefix(string(name), requestsPrefix+"hugepages-")
}

// isStandardQuotaResourceName reports whether a quota limiting name
// needs no domain: a compute resource, a request or limit of one, or one
// of the object counts Kubernetes names ("pods", "services", ...).
func isStandardQuotaResourceName(name ResourceName) bool {
	return standardQuotaResources[name] || isQuotaHugePages(name)
}

// isPodQuotaResource reports whether a quota scoped to pods may limit
// name: the pod count and, unless countOnly, cpu and memory requests and
// limits.
func isPodQuotaResource(name ResourceName, countOnly bool) bool {
	if name == ResourcePods {
		return true
	}
	if countOnly {
		return false
	}
	switch name {
	case ResourceCPU, ResourceMemory, ResourceLimitsCPU, ResourceLimitsMemory, ResourceRequestsCPU, ResourceRequestsMemory:
		return true
	}
	return false
}

// supportedQuotaScopes are the scopes podkit evaluates, sorted.
var supportedQuotaScopes = []string{
	string(ResourceQuotaScopeBestEffort), string(ResourceQuotaScopeCrossNamespacePodAffinity),
	string(ResourceQuotaScopeNotBestEffort), string(ResourceQuotaScopeNotTerminating),
	string(ResourceQuotaScopePriorityClass), string(ResourceQuotaScopeTerminating),
}

// scopeValidForResource reports whether a quota with scope may limit
// name, as Kubernetes' IsResourceQuotaScopeValidForResource.
func scopeValidForResource(scope ResourceQuotaScope, name ResourceName) bool {
	switch scope {
	case ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeNotBestEffort,
		ResourceQuotaScopePriorityClass, ResourceQuotaScopeCrossNamespacePodAffinity:
		return isPodQuotaResource(name, false)
	case ResourceQuotaScopeBestEffort:
		return isPodQuotaResource(name, true)
	}
	return true
}

// PrepareForCreate implements store.CreatePreparer: a new quota has no
// status, whatever was sent, as Kubernetes' strategy clears it.
func (q *ResourceQuota) PrepareForCreate() { q.Status = ResourceQuotaStatus{} }

// Validate checks the spec as Kubernetes' ValidateResourceQuotaSpec does.
func (q *ResourceQuota) Validate() ErrorList {
	sp := NewPath("spec")
	errs := validateQuotaResources(q.Spec.Hard, sp.Child("hard"))
	errs = append(errs, q.validateScopes(sp)...)
	if sel := q.Spec.ScopeSelector; sel != nil {
		errs = append(errs, q.validateScopeSelector(sel, sp.Child("scopeSelector"))...)
	}
	return errs
}

// ValidateUpdate implements UpdateValidator: the scopes may not change.
func (q *ResourceQuota) ValidateUpdate(old Object) ErrorList {
	o := old.(*ResourceQuota)
	if !sameScopes(q.Spec.Scopes, o.Spec.Scopes) {
		return ErrorList{Invalid(NewPath("spec", "scopes"), derefForError(q.Spec.Scopes), "field is immutable")}
	}
	return nil
}

func sameScopes(a, b []ResourceQuotaScope) bool {
	set := func(l []ResourceQuotaScope) []ResourceQuotaScope {
		s := slices.Clone(l)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return slices.Equal(set(a), set(b))
}

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateResourceQuotaStatusUpdate: quota resource names and
// non-negative values, written over a known resourceVersion.
func (q *ResourceQuota) ValidateStatusUpdate(Object) ErrorList {
	var errs ErrorList
	if q.ResourceVersion == "" {
		errs = append(errs, Required(NewPath("resourceVersion"), ""))
	}
	errs = append(errs, validateQuotaResources(q.Status.Hard, NewPath("status", "hard"))...)
	return append(errs, validateQuotaResources(q.Status.Used, NewPath("status", "used"))...)
}

// validateQuotaResources checks the names and values of a quota's list.
func validateQuotaResources(l ResourceList, p *Path) ErrorList {
	var errs ErrorList
	for _, name := range sortedResourceNames(l) {
		rp := p.Key(string(name))
		errs = append(errs, validateStandardResourceName(name, rp)...)
		if !strings.Contains(string(name), "/") && !isStandardQuotaResourceName(name) {
			errs = append(errs, Invalid(rp, string(name), "must be a standard resource for quota"))
		}
		v := l[name]
		if v.Sign() < 0 {
			errs = append(errs, Invalid(rp, v.String(), "must be greater than or equal to 0"))
		}
		if (integerResources[name] || isExtendedResourceName(name)) && v.MilliValue()%1000 != 0 {
			errs = append(errs, Invalid(rp, v.String(), "must be an integer"))
		}
	}
	return errs
}

// conflictingScopes are the pairs no quota may have both of.
var conflictingScopes = [][2]ResourceQuotaScope{
	{ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort},
	{ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating},
}

func (q *ResourceQuota) validateScopes(sp *Path) ErrorList {
	if len(q.Spec.Scopes) == 0 {
		return nil
	}
	var errs ErrorList
	p, bad := sp.Child("scopes"), derefForError(q.Spec.Scopes)
	seen := map[ResourceQuotaScope]bool{}
	for _, s := range q.Spec.Scopes {
		if !slices.Contains(supportedQuotaScopes, string(s)) {
			errs = append(errs, Invalid(p, bad, "unsupported scope"))
		}
		for _, name := range sortedResourceNames(q.Spec.Hard) {
			if isStandardQuotaResourceName(name) && !scopeValidForResource(s, name) {
				errs = append(errs, Invalid(p, bad, "unsupported scope applied to resource"))
			}
		}
		seen[s] = true
	}
	for _, pair := range conflictingScopes {
		if seen[pair[0]] && seen[pair[1]] {
			errs = append(errs, Invalid(p, bad, "conflicting scopes"))
		}
	}
	return errs
}

func (q *ResourceQuota) validateScopeSelector(sel *ScopeSelector, sp *Path) ErrorList {
	var errs ErrorList
	p := sp.Child("matchExpressions")
	seen := map[ResourceQuotaScope]bool{}
	for _, req := range sel.MatchExpressions {
		if !slices.Contains(supportedQuotaScopes, string(req.ScopeName)) {
			errs = append(errs, Invalid(p.Child("scopeName"), string(req.ScopeName), "unsupported scope"))
		}
		for _, name := range sortedResourceNames(q.Spec.Hard) {
			if isStandardQuotaResourceName(name) && !scopeValidForResource(req.ScopeName, name) {
				errs = append(errs, Invalid(p, derefForError(sel), "unsupported scope applied to resource"))
			}
		}
		if req.ScopeName != ResourceQuotaScopePriorityClass && req.Operator != ScopeSelectorOpExists &&
			slices.Contains(supportedQuotaScopes, string(req.ScopeName)) {
			errs = append(errs, Invalid(p.Child("operator"), string(req.Operator),
				"must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
		}
		switch req.Operator {
		case ScopeSelectorOpIn, ScopeSelectorOpNotIn:
			if len(req.Values) == 0 {
				errs = append(errs, Required(p.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
			}
		case ScopeSelectorOpExists, ScopeSelectorOpDoesNotExist:
			if len(req.Values) != 0 {
				errs = append(errs, Invalid(p.Child("values"), derefForError(req.Values), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
			}
		default:
			errs = append(errs, Invalid(p.Child("operator"), string(req.Operator), "not a valid selector operator"))
		}
		seen[req.ScopeName] = true
	}
	for _, pair := range conflictingScopes {
		if seen[pair[0]] && seen[pair[1]] {
			errs = append(errs, Invalid(p, derefForError(q.Spec.Scopes), "conflicting scopes"))
		}
	}
	return errs
}

// ScopeSelectors returns every requirement a quota's pods must meet: each
// of its scopes (operator Exists) and its scope selector's expressions.
func (q *ResourceQuota) ScopeSelectors() []ScopedResourceSelectorRequirement {
	var out []ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		out = append(out, ScopedResourceSelectorRequirement{ScopeName: s, Operator: ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		out = append(out, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}
