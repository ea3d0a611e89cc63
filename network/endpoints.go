package network

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

const (
	kindService   = "Service"
	kindEndpoints = "Endpoints"
	kindPod       = "Pod"
)

// LabelHeadless marks the Endpoints of a headless Service, as Kubernetes
// labels them.
const LabelHeadless = "service.kubernetes.io/headless"

// EndpointsController returns the endpoints controller, to register with
// m (m.Add): for every Service with a selector it keeps an Endpoints
// object of the same name listing the pods the selector matches, as
// Kubernetes' endpoints controller does. A pod with an IP is listed under
// addresses when it is Ready (or the Service sets
// publishNotReadyAddresses), else under notReadyAddresses; a terminating
// pod leaves at once unless publishNotReadyAddresses is set; a named
// targetPort is resolved in each pod's own container ports, and a pod
// without that port is left out of that port's subset. Services without a
// selector keep the Endpoints their owner writes, and an Endpoints written
// before its Service exists is left alone; deleting a Service deletes its
// Endpoints, as in Kubernetes.
//
// The controller reacts to pod, Service and Endpoints changes through m's
// caches, so a readiness change reaches the Endpoints within
// milliseconds.
func EndpointsController(m *reconcile.Manager) reconcile.Controller {
	r := &endpointsReconciler{c: m.Client()}
	return reconcile.Controller{
		Name: "endpoints",
		For:  kindService,
		Watches: []reconcile.Watch{
			{Kind: kindPod, Map: r.podServices},
			{Kind: kindEndpoints, Map: r.endpointsService},
		},
		Reconciler: r,
		Workers:    4,
	}
}

type endpointsReconciler struct {
	c *reconcile.Client
}

// podServices maps a pod to the Services in its namespace that select it.
func (r *endpointsReconciler) podServices(obj objects.Object) []reconcile.Request {
	return servicesSelecting(r.c, obj)
}

// endpointsService maps an Endpoints to its Service, when that exists: a
// change to the Endpoints of a Service with a selector is undone. Kubernetes'
// controller deletes an Endpoints only when its Service is deleted, so one
// written before its (selectorless) Service is not its business.
func (r *endpointsReconciler) endpointsService(obj objects.Object) []reconcile.Request {
	if _, err := r.c.Get(context.Background(), kindService, obj.GetObjectMeta().Key()); err != nil {
		return nil
	}
	return []reconcile.Request{reconcile.RequestFor(obj)}
}

func (r *endpointsReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	svc, err := reconcile.Get[*objects.Service](ctx, r.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		// Kubernetes deletes the Endpoints of a deleted Service (an
		// Endpoints without a Service is not mapped here). The Service
		// cache may lag the Endpoints cache, so the store has the last
		// word.
		return reconcile.Result{}, r.c.Txn(ctx, func(tx store.Tx) error {
			if _, err := tx.Get(kindService, req.Key()); err == nil || !errors.Is(err, store.ErrNotFound) {
				return err // it exists: its cache will catch up and reconcile it
			}
			_, err := tx.Delete(kindEndpoints, req.Key(), store.DeleteOptions{})
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
			return err
		})
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == objects.ServiceTypeExternalName || svc.IsDeleting() {
		return reconcile.Result{}, nil
	}
	pods, err := reconcile.List[*objects.Pod](ctx, r.c, store.ListOptions{
		Namespace: svc.Namespace, Labels: objects.SelectorFromSet(svc.Spec.Selector)})
	if err != nil {
		return reconcile.Result{}, err
	}
	want := &objects.Endpoints{
		ObjectMeta: objects.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, Labels: endpointsLabels(svc)},
		Subsets:    EndpointSubsets(svc, pods),
	}
	cur, err := reconcile.Get[*objects.Endpoints](ctx, r.c, req.Key())
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := r.c.Create(ctx, want); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, nil
	case err != nil:
		return reconcile.Result{}, err
	}
	if maps.Equal(cur.Labels, want.Labels) && subsetsEqual(cur.Subsets, want.Subsets) {
		return reconcile.Result{}, nil
	}
	cur.Labels, cur.Subsets = want.Labels, want.Subsets
	return reconcile.Result{}, r.c.Update(ctx, cur)
}

func endpointsLabels(svc *objects.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if svc.IsHeadless() {
		if l == nil {
			l = map[string]string{}
		}
		l[LabelHeadless] = ""
	}
	return l
}

func subsetsEqual(a, b []objects.EndpointSubset) bool {
	return slices.EqualFunc(a, b, func(x, y objects.EndpointSubset) bool {
		addrEq := func(p, q objects.EndpointAddress) bool {
			return p.IP == q.IP && p.Hostname == q.Hostname && ptrEq(p.NodeName, q.NodeName) && ptrEq(p.TargetRef, q.TargetRef)
		}
		return slices.EqualFunc(x.Addresses, y.Addresses, addrEq) &&
			slices.EqualFunc(x.NotReadyAddresses, y.NotReadyAddresses, addrEq) &&
			slices.EqualFunc(x.Ports, y.Ports, func(p, q objects.EndpointPort) bool {
				return p.Name == q.Name && p.Port == q.Port && p.Protocol == q.Protocol && ptrEq(p.AppProtocol, q.AppProtocol)
			})
	})
}

func ptrEq[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// EndpointSubsets computes the subsets of svc's Endpoints from the pods its
// selector matches, as Kubernetes' endpoints controller does, packed so
// that addresses serving the same ports share a subset. The result is
// sorted, so equal inputs give equal outputs.
func EndpointSubsets(svc *objects.Service, pods []*objects.Pod) []objects.EndpointSubset {
	type entry struct {
		addr  objects.EndpointAddress
		ready bool
		ports []objects.EndpointPort
	}
	var entries []entry
	publish := svc.Spec.PublishNotReadyAddresses
	for _, pod := range pods {
		if pod.Status.PodIP == "" || pod.IsTerminal() || (pod.IsDeleting() && !publish) {
			continue
		}
		e := entry{addr: podAddress(svc, pod), ready: publish || objects.IsPodReady(pod)}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, ok := FindPort(pod, sp)
			if !ok {
				continue
			}
			e.ports = append(e.ports, objects.EndpointPort{Name: sp.Name, Port: port, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		if len(e.ports) == 0 && (len(svc.Spec.Ports) > 0 || !svc.IsHeadless()) {
			continue
		}
		entries = append(entries, e)
	}
	// Pack: one subset per distinct set of ports.
	byPorts := map[string]*objects.EndpointSubset{}
	for _, e := range entries {
		slices.SortFunc(e.ports, func(a, b objects.EndpointPort) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
		})
		var k strings.Builder
		for _, p := range e.ports {
			fmt.Fprintf(&k, "%s/%d/%s,", p.Name, p.Port, p.Protocol)
		}
		ss := byPorts[k.String()]
		if ss == nil {
			ss = &objects.EndpointSubset{Ports: e.ports}
			byPorts[k.String()] = ss
		}
		if e.ready {
			ss.Addresses = append(ss.Addresses, e.addr)
		} else {
			ss.NotReadyAddresses = append(ss.NotReadyAddresses, e.addr)
		}
	}
	out := make([]objects.EndpointSubset, 0, len(byPorts))
	byIP := func(a, b objects.EndpointAddress) int {
		return cmp.Or(cmp.Compare(a.IP, b.IP), cmp.Compare(a.TargetRef.Name, b.TargetRef.Name))
	}
	for _, k := range slices.Sorted(maps.Keys(byPorts)) {
		ss := byPorts[k]
		slices.SortFunc(ss.Addresses, byIP)
		slices.SortFunc(ss.NotReadyAddresses, byIP)
		out = append(out, *ss)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func podAddress(svc *objects.Service, pod *objects.Pod) objects.EndpointAddress {
	a := objects.EndpointAddress{
		IP: pod.Status.PodIP,
		TargetRef: &objects.ObjectReference{Kind: kindPod, Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		a.NodeName = &n
	}
	// A pod is named under a Service only when its subdomain is that
	// Service, as StatefulSet pods are under their governing Service.
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name {
		a.Hostname = pod.Spec.Hostname
	}
	return a
}

// FindPort returns the port of pod that the service port sp targets: the
// number itself, or for a named targetPort the containerPort of that name
// and protocol in pod's containers.
func FindPort(pod *objects.Pod, sp *objects.ServicePort) (int32, bool) {
	tp := sp.TargetPort
	if tp.Type == objects.IntType {
		if tp.IntVal == 0 {
			return sp.Port, true
		}
		return tp.IntVal, true
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			proto := cmp.Or(p.Protocol, objects.ProtocolTCP)
			if p.Name == tp.StrVal && proto == cmp.Or(sp.Protocol, objects.ProtocolTCP) {
				return p.ContainerPort, true
			}
		}
	}
	return 0, false
}
