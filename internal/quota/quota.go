// Package quota computes what objects use of ResourceQuotas, as
// Kubernetes' quota evaluators (pkg/quota/v1/evaluator/core) do, and
// admits writes against the quotas of their namespace as its ResourceQuota
// admission plugin does, charging them in the write's own transaction.
// The orchestrator's admission and the ResourceQuota controller share it.
package quota

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	kindPod           = "Pod"
	kindService       = "Service"
	kindPVC           = "PersistentVolumeClaim"
	kindResourceQuota = "ResourceQuota"
	kindConfigMap     = "ConfigMap"
	kindSecret        = "Secret"
	kindRC            = "ReplicationController"

	requestsPrefix     = "requests."
	storageClassSuffix = ".storageclass.storage.k8s.io/"
)

// Object counts Kubernetes has kept names without "count/" for.
var aliases = map[string]objects.ResourceName{
	kindConfigMap:     objects.ResourceConfigMaps,
	kindSecret:        objects.ResourceSecrets,
	kindResourceQuota: objects.ResourceQuotas,
	kindRC:            objects.ResourceReplicationControllers,
}

// podResources are the resources a pod uses, besides hugepages and
// extended resources.
var podResources = []objects.ResourceName{
	"count/pods", objects.ResourceCPU, objects.ResourceMemory, objects.ResourceEphemeralStorage,
	objects.ResourceRequestsCPU, objects.ResourceRequestsMemory, objects.ResourceRequestsEphemeralStorage,
	objects.ResourceLimitsCPU, objects.ResourceLimitsMemory, objects.ResourceLimitsEphemeralStorage,
	objects.ResourcePods,
}

var serviceResources = []objects.ResourceName{
	"count/services", objects.ResourceServices, objects.ResourceServicesNodePorts, objects.ResourceServicesLoadBalancers,
}

var pvcResources = []objects.ResourceName{
	"count/persistentvolumeclaims", objects.ResourcePersistentVolumeClaims, objects.ResourceRequestsStorage,
}

// Evaluator knows the quota resources of the kinds of one scheme. It is
// safe for concurrent use.
type Evaluator struct {
	scheme *objects.Scheme
	// counts maps each namespaced kind to its count resource
	// ("count/deployments.apps").
	counts map[string]objects.ResourceName
}

// New returns the evaluator of scheme's kinds (those registered so far).
func New(scheme *objects.Scheme) *Evaluator {
	e := &Evaluator{scheme: scheme, counts: map[string]objects.ResourceName{}}
	for _, k := range scheme.Kinds() {
		if k.Namespaced {
			e.counts[k.Kind] = objects.ResourceName("count/" + storecore.Resource(k))
		}
	}
	return e
}

// Kinds returns the kinds whose objects use some of names, sorted.
func (e *Evaluator) Kinds(names []objects.ResourceName) []string {
	var out []string
	for kind := range e.counts {
		if len(e.Matching(kind, names)) > 0 {
			out = append(out, kind)
		}
	}
	sort.Strings(out)
	return out
}

// Matching returns those of names an object of kind uses, as Kubernetes'
// MatchingResources.
func (e *Evaluator) Matching(kind string, names []objects.ResourceName) []objects.ResourceName {
	var out []objects.ResourceName
	for _, n := range names {
		if e.matches(kind, n) {
			out = append(out, n)
		}
	}
	return out
}

func (e *Evaluator) matches(kind string, n objects.ResourceName) bool {
	s := string(n)
	switch kind {
	case kindPod:
		return slices.Contains(podResources, n) || strings.HasPrefix(s, "hugepages-") ||
			strings.HasPrefix(s, requestsPrefix+"hugepages-") || isExtendedForQuota(n)
	case kindService:
		return slices.Contains(serviceResources, n)
	case kindPVC:
		return slices.Contains(pvcResources, n) ||
			strings.HasSuffix(s, storageClassSuffix+string(objects.ResourceRequestsStorage)) ||
			strings.HasSuffix(s, storageClassSuffix+string(objects.ResourcePersistentVolumeClaims))
	}
	c, ok := e.counts[kind]
	return ok && (n == c || (aliases[kind] != "" && n == aliases[kind]))
}

// isExtendedForQuota reports whether n is the quota name of an extended
// resource's request ("requests.nvidia.com/gpu").
func isExtendedForQuota(n objects.ResourceName) bool {
	s := string(n)
	return strings.HasPrefix(s, requestsPrefix) && strings.Contains(s, "/") && !strings.Contains(s, "kubernetes.io/")
}

// Usage returns what obj, of kind, uses, as Kubernetes' evaluators count
// it. A pod counts in "count/pods" always, in the rest only while it is
// not terminal (Succeeded or Failed) and not past twice its deletion
// grace period at now, as Kubernetes' QuotaV1Pod.
func (e *Evaluator) Usage(kind string, obj objects.Object, now time.Time) objects.ResourceList {
	one := objects.NewQuantity(1, objects.DecimalSI)
	switch kind {
	case kindPod:
		return podUsage(obj.(*objects.Pod), now)
	case kindService:
		return serviceUsage(obj.(*objects.Service))
	case kindPVC:
		return pvcUsage(obj.(*objects.PersistentVolumeClaim))
	}
	out := objects.ResourceList{}
	if c, ok := e.counts[kind]; ok {
		out[c] = one
	}
	if a := aliases[kind]; a != "" {
		out[a] = one
	}
	return out
}

func podUsage(p *objects.Pod, now time.Time) objects.ResourceList {
	out := objects.ResourceList{"count/pods": objects.NewQuantity(1, objects.DecimalSI)}
	if !counts(p, now) {
		return out
	}
	out[objects.ResourcePods] = objects.NewQuantity(1, objects.DecimalSI)
	addCompute(out, objects.PodRequests(p), objects.PodLimits(p))
	return out
}

// counts reports whether a pod's compute counts against quotas, as
// Kubernetes' QuotaV1Pod.
func counts(p *objects.Pod, now time.Time) bool {
	if p.IsTerminal() {
		return false
	}
	if p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds != nil {
		grace := time.Duration(*p.DeletionGracePeriodSeconds) * time.Second
		return !now.After(p.DeletionTimestamp.Add(grace))
	}
	return true
}

// addCompute adds what requests and limits use to out, as Kubernetes'
// podComputeUsageHelper.
func addCompute(out, requests, limits objects.ResourceList) {
	for _, r := range []objects.ResourceName{objects.ResourceCPU, objects.ResourceMemory, objects.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			out[r] = q
			out[requestsPrefix+r] = q
		}
		if q, ok := limits[r]; ok {
			out["limits."+r] = q
		}
	}
	for r, q := range requests {
		switch {
		case strings.HasPrefix(string(r), "hugepages-"):
			out[r] = q
			out[requestsPrefix+r] = q
		case strings.Contains(string(r), "/") && !strings.Contains(string(r), "kubernetes.io/") &&
			!strings.HasPrefix(string(r), requestsPrefix):
			out[requestsPrefix+r] = q
		}
	}
}

func serviceUsage(s *objects.Service) objects.ResourceList {
	zero := objects.NewQuantity(0, objects.DecimalSI)
	out := objects.ResourceList{
		"count/services":                      objects.NewQuantity(1, objects.DecimalSI),
		objects.ResourceServices:              objects.NewQuantity(1, objects.DecimalSI),
		objects.ResourceServicesLoadBalancers: zero,
		objects.ResourceServicesNodePorts:     zero,
	}
	ports := int64(len(s.Spec.Ports))
	switch s.Spec.Type {
	case objects.ServiceTypeNodePort:
		out[objects.ResourceServicesNodePorts] = objects.NewQuantity(ports, objects.DecimalSI)
	case objects.ServiceTypeLoadBalancer:
		out[objects.ResourceServicesNodePorts] = objects.NewQuantity(ports, objects.DecimalSI)
		out[objects.ResourceServicesLoadBalancers] = objects.NewQuantity(1, objects.DecimalSI)
	}
	return out
}

// QuotaServiceType is what of a Service's type quotas count: NodePort,
// LoadBalancer, or "" for the others.
func QuotaServiceType(s *objects.Service) objects.ServiceType {
	switch s.Spec.Type {
	case objects.ServiceTypeNodePort, objects.ServiceTypeLoadBalancer:
		return s.Spec.Type
	}
	return ""
}

func pvcUsage(c *objects.PersistentVolumeClaim) objects.ResourceList {
	one := objects.NewQuantity(1, objects.DecimalSI)
	out := objects.ResourceList{objects.ResourcePersistentVolumeClaims: one, "count/persistentvolumeclaims": one}
	class := ""
	if c.Spec.StorageClassName != nil {
		class = *c.Spec.StorageClassName
	}
	if class != "" {
		out[objects.ResourceName(class+storageClassSuffix+string(objects.ResourcePersistentVolumeClaims))] = one
	}
	if q, ok := c.Spec.Resources.Requests[objects.ResourceStorage]; ok {
		if q.MilliValue()%1000 != 0 { // whole bytes, rounded up
			q = objects.NewQuantity(q.Value(), q.Format())
		}
		out[objects.ResourceRequestsStorage] = q
		if class != "" {
			out[objects.ResourceName(class+storageClassSuffix+string(objects.ResourceRequestsStorage))] = q
		}
	}
	return out
}

// MatchesScopes reports whether obj, of kind, meets every scope of q, as
// Kubernetes' Matches with each evaluator's scope function: scopes select
// pods only, so a quota with any matches no object of another kind.
func MatchesScopes(q *objects.ResourceQuota, kind string, obj objects.Object) bool {
	sels := q.ScopeSelectors()
	if len(sels) == 0 {
		return true
	}
	p, ok := obj.(*objects.Pod)
	if !ok || kind != kindPod {
		return false
	}
	for _, s := range sels {
		if !podMatchesScope(s, p) {
			return false
		}
	}
	return true
}

func podMatchesScope(s objects.ScopedResourceSelectorRequirement, p *objects.Pod) bool {
	switch s.ScopeName {
	case objects.ResourceQuotaScopeTerminating:
		return isTerminating(p)
	case objects.ResourceQuotaScopeNotTerminating:
		return !isTerminating(p)
	case objects.ResourceQuotaScopeBestEffort:
		return objects.PodQOS(p) == objects.PodQOSBestEffort
	case objects.ResourceQuotaScopeNotBestEffort:
		return objects.PodQOS(p) != objects.PodQOSBestEffort
	case objects.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(p)
	case objects.ResourceQuotaScopePriorityClass:
		name := p.Spec.PriorityClassName
		switch s.Operator {
		case objects.ScopeSelectorOpExists:
			return name != ""
		case objects.ScopeSelectorOpDoesNotExist:
			return name == ""
		case objects.ScopeSelectorOpIn:
			return name != "" && slices.Contains(s.Values, name)
		case objects.ScopeSelectorOpNotIn:
			return name == "" || !slices.Contains(s.Values, name)
		}
	}
	return false
}

// isTerminating reports whether a pod has a deadline, as Kubernetes'
// IsTerminating.
func isTerminating(p *objects.Pod) bool {
	return p.Spec.ActiveDeadlineSeconds != nil && *p.Spec.ActiveDeadlineSeconds >= 0
}

func crossNamespaceAffinity(p *objects.Pod) bool {
	a := p.Spec.Affinity
	if a == nil {
		return false
	}
	cross := func(t *objects.PodAffinityTerm) bool { return len(t.Namespaces) != 0 || t.NamespaceSelector != nil }
	check := func(req []objects.PodAffinityTerm, pref []objects.WeightedPodAffinityTerm) bool {
		for i := range req {
			if cross(&req[i]) {
				return true
			}
		}
		for i := range pref {
			if cross(&pref[i].PodAffinityTerm) {
				return true
			}
		}
		return false
	}
	if pa := a.PodAffinity; pa != nil && check(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	if pa := a.PodAntiAffinity; pa != nil && check(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	return false
}

// ChangeCounts reports whether a change from old to new of an object of
// kind may lower what quotas count, so that their usage must be computed
// again, as the replenishment of Kubernetes' quota controller: a deletion,
// a pod that stops counting (it finished) or whose Terminating scope
// changes, a Service whose type or number of ports changes, a claim whose
// storage request changes.
//
// It is called for every change of a busy kind (each pod's status), and
// reads the clock only for a pod being deleted.
func ChangeCounts(kind string, old, new objects.Object, now func() time.Time) bool {
	switch {
	case new == nil:
		return true
	case old == nil:
		return false
	}
	switch kind {
	case kindPod:
		o, n := old.(*objects.Pod), new.(*objects.Pod)
		switch {
		case isTerminating(o) != isTerminating(n):
			return true
		case o.IsTerminal() || (!n.IsTerminal() && n.DeletionTimestamp == nil):
			return false // it did not count, or still does
		}
		t := now()
		return counts(o, t) && !counts(n, t)
	case kindService:
		o, n := old.(*objects.Service), new.(*objects.Service)
		return QuotaServiceType(o) != QuotaServiceType(n) || len(o.Spec.Ports) != len(n.Spec.Ports)
	case kindPVC:
		o, n := old.(*objects.PersistentVolumeClaim), new.(*objects.PersistentVolumeClaim)
		return !o.Spec.Resources.Requests.Storage().Equal(n.Spec.Resources.Requests.Storage())
	}
	return false
}

// Used computes what the objects of q's namespace that exist in tx use of
// the resources in hard, as Kubernetes' quota controller: every resource
// an evaluator tracks is present, zero when nothing uses it.
func (e *Evaluator) Used(tx store.ReadTx, q *objects.ResourceQuota, hard objects.ResourceList, now time.Time) (objects.ResourceList, error) {
	names := slices.Sorted(maps.Keys(hard))
	used := objects.ResourceList{}
	for _, kind := range e.Kinds(names) {
		matching := e.Matching(kind, names)
		for _, n := range matching {
			used[n] = objects.NewQuantity(0, objects.DecimalSI)
		}
		objs, err := store.PeekList(tx, kind, store.ListOptions{Namespace: q.Namespace})
		if err != nil {
			return nil, fmt.Errorf("compute the usage of quota %s/%s: %w", q.Namespace, q.Name, err)
		}
		for _, obj := range objs {
			if !MatchesScopes(q, kind, obj) {
				continue
			}
			for n, v := range e.Usage(kind, obj, now) {
				if cur, ok := used[n]; ok {
					cur.Add(v)
					used[n] = cur
				}
			}
		}
	}
	return used, nil
}

// Equal reports whether two lists have the same names and values.
func Equal(a, b objects.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for n, v := range a {
		if w, ok := b[n]; !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}
