package network

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

const (
	kindEndpointSlice = "EndpointSlice"
	kindNode          = "Node"
)

// MaxEndpointsPerSlice is how many endpoints the endpoint slice controller
// puts in one EndpointSlice, Kubernetes' default.
const MaxEndpointsPerSlice = 100

// EndpointSliceController returns the endpoint slice controller, to
// register with m (m.Add): for every Service with a selector it keeps
// EndpointSlices (discovery.k8s.io/v1) listing the pods the selector
// matches, as Kubernetes' endpoint slice controller does:
//
//   - one slice per address type of the Service's IP families and per
//     distinct set of ports (a named targetPort is resolved in each pod's
//     own container ports), of at most MaxEndpointsPerSlice endpoints; a
//     Service with no endpoints has one empty placeholder slice;
//   - slices are named after the Service with a random suffix, labelled
//     objects.LabelServiceName, objects.LabelManagedBy (the
//     objects.EndpointSliceController value) and the Service's own labels
//     (and LabelHeadless for a headless Service), and owned by the Service,
//     so that deleting it deletes them;
//   - an endpoint is a pod with an IP that has not finished; its
//     conditions: serving when the pod is Ready, terminating while it is
//     being deleted, ready when serving and not terminating (all true when
//     the Service publishes not-ready addresses); it names its pod, its
//     node and the node's topology.kubernetes.io/zone, and, for a pod whose
//     subdomain is the Service, its hostname;
//   - for a Service with spec.trafficDistribution, each ready endpoint
//     carries hints, as Kubernetes' trafficdist heuristic writes them:
//     forZones names its own zone (when its node has one), and with
//     PreferSameNode forNodes names its own node too; endpoints that are
//     not ready, and every endpoint once the field is gone, carry none.
//     A change of a node's zone label rewrites the endpoints (zone and
//     hints) of the pods on that node;
//   - a change moves as few endpoints as it can: endpoints stay in their
//     slice, new ones fill slices with room before a slice is created, and
//     only slices that changed are written.
//
// Unlike the Endpoints object, terminating pods stay listed, so that
// consumers can drain them. The slices of a Service that loses its selector
// are deleted (Kubernetes leaves them as they were). Slices the controller
// does not manage (LabelManagedBy another value) are left alone.
func EndpointSliceController(m *reconcile.Manager) reconcile.Controller {
	r := &sliceReconciler{c: m.Client()}
	return reconcile.Controller{
		Name: "endpointslice",
		For:  kindService,
		Watches: []reconcile.Watch{
			{Kind: kindPod, Map: func(obj objects.Object) []reconcile.Request { return servicesSelecting(r.c, obj) }},
			{Kind: kindEndpointSlice, Map: sliceService},
			{Kind: kindNode, Map: func(obj objects.Object) []reconcile.Request { return servicesOnNode(r.c, obj) },
				Changed: zoneChanged},
		},
		Reconciler: r,
		Workers:    4,
	}
}

type sliceReconciler struct {
	c *reconcile.Client
}

// servicesSelecting maps a pod to the Services in its namespace that
// select it.
func servicesSelecting(c *reconcile.Client, obj objects.Object) []reconcile.Request {
	pod := obj.(*objects.Pod)
	svcs, err := c.List(context.Background(), kindService, store.ListOptions{Namespace: pod.Namespace})
	if err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, o := range svcs {
		s := o.(*objects.Service)
		if len(s.Spec.Selector) > 0 && objects.SelectorFromSet(s.Spec.Selector).Matches(pod.Labels) {
			out = append(out, reconcile.RequestFor(s))
		}
	}
	return out
}

// zoneChanged reports whether a change of a node changed its zone label,
// which its pods' endpoints carry: heartbeats and other status writes
// map to nothing.
func zoneChanged(old, new objects.Object) bool {
	return nodeZone(old) != nodeZone(new)
}

func nodeZone(obj objects.Object) string {
	if n, ok := obj.(*objects.Node); ok {
		return n.Labels[objects.LabelZone]
	}
	return ""
}

// servicesOnNode maps a node to the Services that select a pod on it.
func servicesOnNode(c *reconcile.Client, obj objects.Object) []reconcile.Request {
	ctx := context.Background()
	pods, err := c.List(ctx, kindPod, store.ListOptions{Fields: map[string]string{store.IndexNodeName: obj.GetObjectMeta().Name}})
	if err != nil {
		return nil
	}
	byNS := map[string][]*objects.Service{}
	seen := map[reconcile.Request]bool{}
	var out []reconcile.Request
	for _, o := range pods {
		pod := o.(*objects.Pod)
		svcs, ok := byNS[pod.Namespace]
		if !ok {
			objs, err := c.List(ctx, kindService, store.ListOptions{Namespace: pod.Namespace})
			if err != nil {
				return nil
			}
			for _, o := range objs {
				if s := o.(*objects.Service); len(s.Spec.Selector) > 0 {
					svcs = append(svcs, s)
				}
			}
			byNS[pod.Namespace] = svcs
		}
		for _, s := range svcs {
			req := reconcile.RequestFor(s)
			if !seen[req] && objects.SelectorFromSet(s.Spec.Selector).Matches(pod.Labels) {
				seen[req] = true
				out = append(out, req)
			}
		}
	}
	return out
}

// sliceService maps a slice the controller manages to its Service: a
// change made to it by another writer is undone.
func sliceService(obj objects.Object) []reconcile.Request {
	s := obj.(*objects.EndpointSlice)
	name := s.Labels[objects.LabelServiceName]
	if name == "" || s.Labels[objects.LabelManagedBy] != objects.EndpointSliceController {
		return nil
	}
	return []reconcile.Request{{Namespace: s.Namespace, Name: name}}
}

func (r *sliceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	svc, err := reconcile.Get[*objects.Service](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return reconcile.Result{}, nil // its slices are owned by it: the garbage collector deletes them
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if svc.IsDeleting() {
		return reconcile.Result{}, nil
	}
	existing, err := reconcile.List[*objects.EndpointSlice](ctx, r.c, store.ListOptions{Namespace: svc.Namespace,
		Labels: objects.SelectorFromSet(map[string]string{objects.LabelServiceName: svc.Name, objects.LabelManagedBy: objects.EndpointSliceController})})
	if err != nil {
		return reconcile.Result{}, err
	}
	var want map[sliceGroup]*sliceWant
	if len(svc.Spec.Selector) > 0 && svc.Spec.Type != objects.ServiceTypeExternalName {
		pods, err := reconcile.List[*objects.Pod](ctx, r.c, store.ListOptions{
			Namespace: svc.Namespace, Labels: objects.SelectorFromSet(svc.Spec.Selector)})
		if err != nil {
			return reconcile.Result{}, err
		}
		want = r.desired(ctx, svc, pods)
		if len(want) == 0 {
			// A placeholder: consumers can tell a Service without endpoints
			// from one whose slices are not written yet.
			want = map[sliceGroup]*sliceWant{{addressType: addressTypes(svc)[0]}: {}}
		}
	}
	plan := planSlices(svc, existing, want)
	for _, s := range plan.remove {
		if _, err := r.c.Delete(ctx, kindEndpointSlice, s.Key(), store.DeleteOptions{}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return reconcile.Result{}, err
		}
	}
	for _, s := range plan.update {
		if err := r.c.Update(ctx, s); err != nil {
			return reconcile.Result{}, err
		}
	}
	for _, s := range plan.create {
		if err := r.c.Create(ctx, s); err != nil {
			return reconcile.Result{}, err
		}
	}
	return reconcile.Result{}, nil
}

// sliceGroup is what the endpoints of one slice share: an address type and
// ports (as portsKey renders them).
type sliceGroup struct {
	addressType objects.AddressType
	ports       string
}

// sliceWant is what the slices of one group should hold.
type sliceWant struct {
	ports     []objects.EndpointSlicePort
	endpoints []objects.Endpoint
}

// addressTypes are the address types of svc's slices, from its IP
// families: IPv4 when it names none.
func addressTypes(svc *objects.Service) []objects.AddressType {
	var out []objects.AddressType
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case objects.IPv4Protocol:
			out = append(out, objects.AddressTypeIPv4)
		case objects.IPv6Protocol:
			out = append(out, objects.AddressTypeIPv6)
		}
	}
	if len(out) == 0 {
		out = []objects.AddressType{objects.AddressTypeIPv4}
	}
	return out
}

// desired computes the endpoints of svc's slices from the pods its selector
// matches, by group, each group's sorted by pod name.
func (r *sliceReconciler) desired(ctx context.Context, svc *objects.Service, pods []*objects.Pod) map[sliceGroup]*sliceWant {
	out := map[sliceGroup]*sliceWant{}
	zones := map[string]*string{}
	zone := func(node string) *string {
		z, ok := zones[node]
		if !ok {
			if n, err := reconcile.Get[*objects.Node](ctx, r.c, objects.Key{Name: node}); err == nil {
				if v := n.Labels[objects.LabelZone]; v != "" {
					z = &v
				}
			}
			zones[node] = z
		}
		return z
	}
	types := addressTypes(svc)
	slices.SortFunc(pods, func(a, b *objects.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, pod := range pods {
		if pod.IsTerminal() {
			continue
		}
		ports, ok := slicePorts(svc, pod)
		if !ok {
			continue
		}
		key := portsKey(ports)
		for _, t := range types {
			ip := podIPOf(pod, t)
			if ip == "" {
				continue
			}
			ep := podEndpoint(svc, pod, ip)
			if pod.Spec.NodeName != "" {
				ep.Zone = zone(pod.Spec.NodeName)
			}
			setHints(svc, &ep)
			g := sliceGroup{addressType: t, ports: key}
			if out[g] == nil {
				out[g] = &sliceWant{ports: ports}
			}
			out[g].endpoints = append(out[g].endpoints, ep)
		}
	}
	return out
}

// podIPOf returns pod's IP of address type t, or "".
func podIPOf(pod *objects.Pod, t objects.AddressType) string {
	ips := []string{pod.Status.PodIP}
	for _, p := range pod.Status.PodIPs {
		ips = append(ips, p.IP)
	}
	for _, ip := range ips {
		if ip != "" && strings.Contains(ip, ":") == (t == objects.AddressTypeIPv6) {
			return ip
		}
	}
	return ""
}

func podEndpoint(svc *objects.Service, pod *objects.Pod, ip string) objects.Endpoint {
	publish := svc.Spec.PublishNotReadyAddresses
	serving := publish || objects.IsPodReady(pod)
	terminating := pod.IsDeleting()
	ready := publish || serving && !terminating
	ep := objects.Endpoint{
		Addresses:  []string{ip},
		Conditions: objects.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &objects.ObjectReference{Kind: kindPod, Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		h := pod.Spec.Hostname
		ep.Hostname = &h
	}
	return ep
}

// setHints sets ep's topology hints for svc's trafficDistribution, as
// Kubernetes' trafficdist heuristic does: a ready endpoint is hinted for
// its own zone (when known), and with PreferSameNode for its own node
// (when known) as well, so that a proxy without node hints still keeps to
// the zone. Without a trafficDistribution (or with a value this version
// does not know, as Kubernetes treats it), no endpoint has hints. A service
// proxy uses zone hints only when every ready endpoint has one (see
// network/proxy), so a pod on a node without a zone turns them off.
func setHints(svc *objects.Service, ep *objects.Endpoint) {
	ep.Hints = nil
	td := svc.Spec.TrafficDistribution
	if td == nil || ep.Conditions.Ready == nil || !*ep.Conditions.Ready {
		return
	}
	var h objects.EndpointHints
	switch *td {
	case objects.ServiceTrafficDistributionPreferSameNode:
		if ep.NodeName != nil {
			h.ForNodes = []objects.ForNode{{Name: *ep.NodeName}}
		}
		fallthrough
	case objects.ServiceTrafficDistributionPreferSameZone, objects.ServiceTrafficDistributionPreferClose:
		if ep.Zone != nil {
			h.ForZones = []objects.ForZone{{Name: *ep.Zone}}
		}
	}
	if h.ForZones != nil || h.ForNodes != nil {
		ep.Hints = &h
	}
}

// slicePorts resolves svc's ports in pod, sorted by name; false when the
// Service has ports and pod serves none of them.
func slicePorts(svc *objects.Service, pod *objects.Pod) ([]objects.EndpointSlicePort, bool) {
	var out []objects.EndpointSlicePort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, ok := FindPort(pod, sp)
		if !ok {
			continue
		}
		name, proto := sp.Name, cmp.Or(sp.Protocol, objects.ProtocolTCP)
		out = append(out, objects.EndpointSlicePort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	slices.SortFunc(out, func(a, b objects.EndpointSlicePort) int { return strings.Compare(*a.Name, *b.Name) })
	return out, len(out) > 0 || len(svc.Spec.Ports) == 0
}

// portsKey renders ports (defaulted, sorted by name) as a comparable key.
func portsKey(ports []objects.EndpointSlicePort) string {
	var k strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&k, "%s/%d/%s/", deref(p.Name), deref(p.Port), deref(p.Protocol))
		if p.AppProtocol != nil {
			k.WriteString(*p.AppProtocol)
		}
		k.WriteByte(',')
	}
	return k.String()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// endpointKey identifies an endpoint across syncs: its pod, else its first
// address.
func endpointKey(ep *objects.Endpoint) string {
	if ep.TargetRef != nil && ep.TargetRef.UID != "" {
		return ep.TargetRef.UID
	}
	if len(ep.Addresses) > 0 {
		return ep.Addresses[0]
	}
	return ""
}

// slicePlan is what a sync writes.
type slicePlan struct {
	create, update, remove []*objects.EndpointSlice
}

// planSlices works out the writes that turn existing (svc's managed
// slices) into want (the desired endpoints by group), moving as few
// endpoints as it can, as Kubernetes' reconciler does: an endpoint still
// wanted stays in its slice (updated if it changed), slices that lose
// every endpoint are removed, new endpoints fill the group's slices with
// room before new slices are made. A group without endpoints (the
// placeholder) keeps one slice.
func planSlices(svc *objects.Service, existing []*objects.EndpointSlice, want map[sliceGroup]*sliceWant) slicePlan {
	var plan slicePlan
	labels := sliceLabels(svc)
	owners := []objects.OwnerReference{reconcile.NewControllerRef(svc)}
	byGroup := map[sliceGroup][]*objects.EndpointSlice{}
	slices.SortFunc(existing, func(a, b *objects.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range existing {
		g := sliceGroup{addressType: s.AddressType, ports: portsKey(s.Ports)}
		if _, ok := want[g]; !ok {
			plan.remove = append(plan.remove, s)
			continue
		}
		byGroup[g] = append(byGroup[g], s)
	}
	groups := slices.SortedFunc(maps.Keys(want), func(a, b sliceGroup) int {
		return cmp.Or(cmp.Compare(a.addressType, b.addressType), cmp.Compare(a.ports, b.ports))
	})
	for _, g := range groups {
		w := want[g]
		pending := make(map[string]*objects.Endpoint, len(w.endpoints))
		for i := range w.endpoints {
			pending[endpointKey(&w.endpoints[i])] = &w.endpoints[i]
		}
		var kept []*objects.EndpointSlice // the group's slices that stay
		changed := map[*objects.EndpointSlice]bool{}
		for _, s := range byGroup[g] {
			cur := s.DeepCopy()
			cur.Endpoints = nil
			for i := range s.Endpoints {
				k := endpointKey(&s.Endpoints[i])
				if ep, ok := pending[k]; ok {
					cur.Endpoints = append(cur.Endpoints, *ep)
					delete(pending, k)
				}
			}
			if len(cur.Endpoints) == 0 && (len(w.endpoints) > 0 || len(kept) > 0) {
				plan.remove = append(plan.remove, s)
				continue
			}
			cur.Labels, cur.OwnerReferences = maps.Clone(labels), owners
			changed[cur] = !maps.Equal(s.Labels, labels) || !reflect.DeepEqual(s.OwnerReferences, owners) ||
				!reflect.DeepEqual(s.Endpoints, cur.Endpoints)
			kept = append(kept, cur)
		}
		// New endpoints, in the order of want: first into slices already
		// being written, then into others with room, then into new ones.
		var rest []objects.Endpoint
		for i := range w.endpoints {
			if _, ok := pending[endpointKey(&w.endpoints[i])]; ok {
				rest = append(rest, w.endpoints[i])
			}
		}
		slices.SortStableFunc(kept, func(a, b *objects.EndpointSlice) int {
			if changed[a] == changed[b] {
				return 0
			}
			if changed[a] {
				return -1
			}
			return 1
		})
		for _, s := range kept {
			if n := min(MaxEndpointsPerSlice-len(s.Endpoints), len(rest)); n > 0 {
				s.Endpoints = append(s.Endpoints, rest[:n]...)
				rest = rest[n:]
				changed[s] = true
			}
		}
		for _, s := range kept {
			if changed[s] {
				plan.update = append(plan.update, s)
			}
		}
		for first := len(kept) == 0; len(rest) > 0 || first; first = false {
			n := min(MaxEndpointsPerSlice, len(rest))
			plan.create = append(plan.create, &objects.EndpointSlice{
				ObjectMeta: objects.ObjectMeta{Namespace: svc.Namespace, GenerateName: sliceNamePrefix(svc.Name),
					Labels: maps.Clone(labels), OwnerReferences: owners},
				AddressType: g.addressType,
				Endpoints:   slices.Clone(rest[:n]),
				Ports:       w.ports,
			})
			rest = rest[n:]
		}
	}
	return plan
}

// sliceLabels are the labels of svc's slices: the Service's own, the
// service name and manager, and LabelHeadless for a headless Service.
func sliceLabels(svc *objects.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	delete(l, LabelHeadless)
	if svc.IsHeadless() {
		l[LabelHeadless] = ""
	}
	l[objects.LabelServiceName] = svc.Name
	l[objects.LabelManagedBy] = objects.EndpointSliceController
	return l
}

// sliceNamePrefix is the generateName of svc's slices: its name and a
// dash, shortened so that a random suffix fits in a name.
func sliceNamePrefix(svc string) string {
	const maxPrefix = 63 - 5
	if len(svc)+1 > maxPrefix {
		svc = svc[:maxPrefix-1]
	}
	return svc + "-"
}
