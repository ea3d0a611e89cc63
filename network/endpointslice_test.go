package network_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

func runSlices(t *testing.T, e *nettest.Env) {
	m, err := reconcile.NewManager(e.Store)
	require.NoError(t, err)
	require.NoError(t, m.Add(network.EndpointSliceController(m)))
	nettest.RunBackground(t, m.Run)
}

// serviceSlices lists the slices of Service name in namespace default that
// the controller manages, by name.
func serviceSlices(tx store.ReadTx, name string) []*objects.EndpointSlice {
	objs, err := tx.List("EndpointSlice", store.ListOptions{Namespace: "default",
		Labels: objects.SelectorFromSet(map[string]string{objects.LabelServiceName: name})})
	if err != nil {
		return nil
	}
	var out []*objects.EndpointSlice
	for _, o := range objs {
		out = append(out, o.(*objects.EndpointSlice))
	}
	slices.SortFunc(out, func(a, b *objects.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// describeSlices renders slices compactly, sorted: "IPv4 [ports] ip(RST)
// ...", the letters being the endpoint's true conditions (Ready, Serving,
// Terminating), "-" when none is; slices separated by " ; ".
func describeSlices(ss []*objects.EndpointSlice) string {
	var parts []string
	for _, s := range ss {
		var ports, eps []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s=%d/%s", *p.Name, *p.Port, *p.Protocol))
		}
		for _, ep := range s.Endpoints {
			flags := ""
			for _, c := range []struct {
				v    *bool
				flag string
			}{{ep.Conditions.Ready, "R"}, {ep.Conditions.Serving, "S"}, {ep.Conditions.Terminating, "T"}} {
				if c.v != nil && *c.v {
					flags += c.flag
				}
			}
			eps = append(eps, fmt.Sprintf("%s(%s)", strings.Join(ep.Addresses, ","), cmp.Or(flags, "-")))
		}
		slices.Sort(eps)
		parts = append(parts, fmt.Sprintf("%s [%s] %s", s.AddressType, strings.Join(ports, ","), strings.Join(eps, " ")))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ; ")
}

func waitSlices(e *nettest.Env, name, want string) []*objects.EndpointSlice {
	e.T.Helper()
	var got []*objects.EndpointSlice
	e.WaitStore("the slices of "+name+" to be "+want, func(tx store.ReadTx) (bool, string) {
		got = serviceSlices(tx, name)
		d := describeSlices(got)
		return d == want, d
	})
	return got
}

func TestEndpointSlicesFollowPods(t *testing.T) {
	e := nettest.New(t)
	runSlices(t, e)
	web := map[string]string{"app": "web"}
	e.Create(webService(),
		nettest.Pod("a", web, "http:8080"), nettest.Pod("b", web, "http:8081"),
		nettest.Pod("c", map[string]string{"app": "other"}, "http:8080"))
	// No pod has an IP yet: one placeholder slice, labelled and owned.
	ss := waitSlices(e, "web", "IPv4 [] ")
	svc := e.Get("Service", objects.Key{Namespace: "default", Name: "web"}).(*objects.Service)
	assert.Equal(t, map[string]string{"team": "a", objects.LabelServiceName: "web", objects.LabelManagedBy: objects.EndpointSliceController}, ss[0].Labels)
	require.Len(t, ss[0].OwnerReferences, 1)
	assert.Equal(t, svc.UID, ss[0].OwnerReferences[0].UID)
	assert.True(t, strings.HasPrefix(ss[0].Name, "web-"), ss[0].Name)

	e.SetPodStatus("default", "a", "10.1.0.1", true)
	e.SetPodStatus("default", "b", "10.1.0.2", false)
	e.SetPodStatus("default", "c", "10.1.0.3", true)
	// A slice per set of ports: the named targetPort differs from pod to pod.
	ss = waitSlices(e, "web",
		"IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.1(RS) ; IPv4 [http=8081/TCP,metrics=9090/TCP] 10.1.0.2(-)")
	for _, s := range ss {
		ep := s.Endpoints[0]
		assert.Equal(t, "n1", *ep.NodeName)
		assert.Equal(t, "Pod", ep.TargetRef.Kind)
		assert.Contains(t, []string{"a", "b"}, ep.TargetRef.Name)
	}

	// A terminating pod stays: serving (it was ready), not ready.
	e.SetPodStatus("default", "b", "10.1.0.2", true)
	waitSlices(e, "web",
		"IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.1(RS) ; IPv4 [http=8081/TCP,metrics=9090/TCP] 10.1.0.2(RS)")
	grace := int64(30)
	require.NoError(t, e.Store.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete("Pod", objects.Key{Namespace: "default", Name: "b"}, store.DeleteOptions{GracePeriodSeconds: &grace})
		return err
	}))
	require.NotNil(t, e.Get("Pod", objects.Key{Namespace: "default", Name: "b"}).(*objects.Pod).DeletionTimestamp, "deleted with a grace period")
	waitSlices(e, "web",
		"IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.1(RS) ; IPv4 [http=8081/TCP,metrics=9090/TCP] 10.1.0.2(ST)")

	// Gone pods leave; a group left empty loses its slice; a Service with
	// no endpoint has its placeholder again.
	e.Delete("Pod", objects.Key{Namespace: "default", Name: "b"})
	waitSlices(e, "web", "IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.1(RS)")
	nettest.Update(e, objects.Key{Namespace: "default", Name: "a"}, func(p *objects.Pod) { p.Labels = nil })
	waitSlices(e, "web", "IPv4 [] ")

	// A change made to a managed slice is undone.
	e.SetPodStatus("default", "a", "10.1.0.1", true)
	nettest.Update(e, objects.Key{Namespace: "default", Name: "a"}, func(p *objects.Pod) { p.Labels = web })
	ss = waitSlices(e, "web", "IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.1(RS)")
	nettest.Update(e, ss[0].Key(), func(s *objects.EndpointSlice) { s.Endpoints = nil })
	waitSlices(e, "web", "IPv4 [http=8080/TCP,metrics=9090/TCP] 10.1.0.1(RS)")

	// A Service that loses its selector loses its slices.
	nettest.Update(e, svc.Key(), func(s *objects.Service) { s.Spec.Selector = nil })
	waitSlices(e, "web", "")
}

// Slices hold at most 100 endpoints, and a change writes only the slices
// it touches: a pod that leaves rewrites its own slice only, a new one
// fills a slice with room rather than making a new one.
func TestEndpointSlicesPackAndMoveLittle(t *testing.T) {
	e := nettest.New(t)
	runSlices(t, e)
	web := map[string]string{"app": "web"}
	svc := webService(func(s *objects.Service) { s.Spec.Ports = s.Spec.Ports[1:] })
	e.Create(svc)
	var pods []objects.Object
	for i := range 250 {
		pods = append(pods, nettest.Pod(fmt.Sprintf("p%03d", i), web))
	}
	e.Create(pods...)
	for i := range 250 {
		e.SetPodStatus("default", fmt.Sprintf("p%03d", i), fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), true)
	}
	var ss []*objects.EndpointSlice
	sizes := func() []int {
		var n []int
		for _, s := range ss {
			n = append(n, len(s.Endpoints))
		}
		slices.Sort(n)
		return n
	}
	e.WaitStore("250 endpoints in 3 slices", func(tx store.ReadTx) (bool, string) {
		ss = serviceSlices(tx, "web")
		return slices.Equal(sizes(), []int{50, 100, 100}), fmt.Sprint(sizes())
	})
	rv := map[string]string{}
	var small *objects.EndpointSlice
	for _, s := range ss {
		rv[s.Name] = s.ResourceVersion
		if len(s.Endpoints) == 50 {
			small = s
		}
	}
	// A pod of the small slice leaves.
	gone := small.Endpoints[0].TargetRef.Name
	e.Delete("Pod", objects.Key{Namespace: "default", Name: gone})
	e.WaitStore("the small slice to lose "+gone, func(tx store.ReadTx) (bool, string) {
		ss = serviceSlices(tx, "web")
		return slices.Equal(sizes(), []int{49, 100, 100}), fmt.Sprint(sizes())
	})
	for _, s := range ss {
		if s.Name != small.Name {
			assert.Equal(t, rv[s.Name], s.ResourceVersion, "slice %s was written, and lost none of its endpoints", s.Name)
		}
	}
	// A new pod goes into the slice with room.
	e.Create(nettest.Pod("new", web))
	e.SetPodStatus("default", "new", "10.1.9.9", true)
	e.WaitStore("the new pod in the small slice", func(tx store.ReadTx) (bool, string) {
		ss = serviceSlices(tx, "web")
		return slices.Equal(sizes(), []int{50, 100, 100}), fmt.Sprint(sizes())
	})
	for _, s := range ss {
		if s.Name != small.Name {
			assert.Equal(t, rv[s.Name], s.ResourceVersion, "slice %s was written, and has no room", s.Name)
		}
	}
}

// A headless Service's slices carry the headless label, and a pod whose
// subdomain is the Service is named by its hostname.
func TestEndpointSlicesHeadless(t *testing.T) {
	e := nettest.New(t)
	runSlices(t, e)
	db := map[string]string{"app": "db"}
	e.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: objects.ServiceSpec{ClusterIP: objects.ClusterIPNone, Selector: db}})
	p := nettest.Pod("db-0", db)
	p.Spec.Hostname, p.Spec.Subdomain = "db-0", "db"
	e.Create(p)
	e.SetPodStatus("default", "db-0", "10.1.0.7", false)
	ss := waitSlices(e, "db", "IPv4 [] 10.1.0.7(-)")
	assert.Equal(t, "db-0", *ss[0].Endpoints[0].Hostname)
	assert.Contains(t, ss[0].Labels, network.LabelHeadless)
}
