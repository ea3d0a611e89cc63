package network_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runEndpoints(t *testing.T, e *nettest.Env) {
	m, err := reconcile.NewManager(e.Store)
	require.NoError(t, err)
	require.NoError(t, m.Add(network.EndpointsController(m)))
	nettest.RunBackground(t, m.Run)
}

// describe renders Endpoints compactly: "ip:port(name) ... | notready ...".
func describe(ep *objects.Endpoints) string {
	var parts []string
	for _, ss := range ep.Subsets {
		var ports []string
		for _, p := range ss.Ports {
			ports = append(ports, fmt.Sprintf("%s=%d/%s", p.Name, p.Port, p.Protocol))
		}
		var ready, notReady []string
		for _, a := range ss.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range ss.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
		parts = append(parts, fmt.Sprintf("[%s] ready=%s notready=%s", strings.Join(ports, ","),
			strings.Join(ready, ","), strings.Join(notReady, ",")))
	}
	return strings.Join(parts, " ; ")
}

func waitEndpoints(e *nettest.Env, name, want string) {
	e.T.Helper()
	e.WaitStore("endpoints "+name+" to be "+want, func(tx store.ReadTx) (bool, string) {
		o, err := tx.Get("Endpoints", objects.Key{Namespace: "default", Name: name})
		if err != nil {
			return want == "absent", err.Error()
		}
		got := describe(o.(*objects.Endpoints))
		return got == want, got
	})
}

func webService(mod ...func(*objects.Service)) *objects.Service {
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web", Labels: map[string]string{"team": "a"}},
		Spec: objects.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []objects.ServicePort{
			{Name: "http", Port: 80, TargetPort: objects.FromString("http")},
			{Name: "metrics", Port: 9090},
		}}}
	for _, m := range mod {
		m(s)
	}
	return s
}

func TestEndpointsFollowReadiness(t *testing.T) {
	e := nettest.New(t)
	runEndpoints(t, e)
	web := map[string]string{"app": "web"}
	e.Create(webService(),
		nettest.Pod("a", web, "http:8080"), nettest.Pod("b", web, "http:8081"),
		nettest.Pod("c", map[string]string{"app": "other"}, "http:8080"))
	// No pod has an IP yet: nothing to list.
	waitEndpoints(e, "web", "")

	e.SetPodStatus("default", "a", "10.1.0.1", true)
	e.SetPodStatus("default", "b", "10.1.0.2", false)
	e.SetPodStatus("default", "c", "10.1.0.3", true)
	// Named targetPort resolved per pod: a and b serve http on different ports.
	waitEndpoints(e, "web",
		"[http=8080/TCP,metrics=9090/TCP] ready=10.1.0.1 notready= ; [http=8081/TCP,metrics=9090/TCP] ready= notready=10.1.0.2")
	ep := e.Get("Endpoints", objects.Key{Namespace: "default", Name: "web"}).(*objects.Endpoints)
	assert.Equal(t, "a", e.Get("Endpoints", ep.Key()).(*objects.Endpoints).Subsets[0].Addresses[0].TargetRef.Name)
	assert.Equal(t, "n1", *ep.Subsets[0].Addresses[0].NodeName)
	assert.Equal(t, map[string]string{"team": "a"}, ep.Labels)

	// A readiness change is reflected well within a second.
	start := time.Now()
	e.SetPodStatus("default", "a", "10.1.0.1", false)
	waitEndpoints(e, "web",
		"[http=8080/TCP,metrics=9090/TCP] ready= notready=10.1.0.1 ; [http=8081/TCP,metrics=9090/TCP] ready= notready=10.1.0.2")
	e.SetPodStatus("default", "b", "10.1.0.2", true)
	waitEndpoints(e, "web",
		"[http=8080/TCP,metrics=9090/TCP] ready= notready=10.1.0.1 ; [http=8081/TCP,metrics=9090/TCP] ready=10.1.0.2 notready=")
	took := time.Since(start)
	t.Logf("two readiness changes reached the Endpoints in %v", took)
	assert.Less(t, took, 2*time.Second)

	// Relabelling a pod out of the selector removes it; a terminating pod leaves.
	nettest.Update(e, objects.Key{Namespace: "default", Name: "b"}, func(p *objects.Pod) { p.Labels = nil })
	waitEndpoints(e, "web", "[http=8080/TCP,metrics=9090/TCP] ready= notready=10.1.0.1")
	e.Delete("Pod", objects.Key{Namespace: "default", Name: "a"})
	waitEndpoints(e, "web", "")

	// Deleting the Service deletes its Endpoints.
	e.Delete("Service", objects.Key{Namespace: "default", Name: "web"})
	waitEndpoints(e, "web", "absent")
}

func TestEndpointsPublishNotReadyAndMissingPort(t *testing.T) {
	e := nettest.New(t)
	runEndpoints(t, e)
	web := map[string]string{"app": "web"}
	e.Create(webService(func(s *objects.Service) { s.Spec.PublishNotReadyAddresses = true }),
		nettest.Pod("a", web, "http:8080"), nettest.Pod("nohttp", web, "9090"))
	e.SetPodStatus("default", "a", "10.1.0.1", false)
	e.SetPodStatus("default", "nohttp", "10.1.0.9", false)
	// Not ready, but published; the pod without an http port serves metrics only.
	waitEndpoints(e, "web",
		"[http=8080/TCP,metrics=9090/TCP] ready=10.1.0.1 notready= ; [metrics=9090/TCP] ready=10.1.0.9 notready=")
}

func TestEndpointsHeadlessHostnames(t *testing.T) {
	e := nettest.New(t)
	runEndpoints(t, e)
	db := map[string]string{"app": "db"}
	e.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "db"},
		Spec: objects.ServiceSpec{ClusterIP: objects.ClusterIPNone, Selector: db}})
	for i := range 2 {
		p := nettest.Pod(fmt.Sprintf("db-%d", i), db)
		p.Spec.Hostname, p.Spec.Subdomain = p.Name, "db"
		e.Create(p)
		e.SetPodStatus("default", p.Name, fmt.Sprintf("10.1.0.%d", 10+i), true)
	}
	waitEndpoints(e, "db", "[] ready=10.1.0.10,10.1.0.11 notready=")
	ep := e.Get("Endpoints", objects.Key{Namespace: "default", Name: "db"}).(*objects.Endpoints)
	var hosts []string
	for _, a := range ep.Subsets[0].Addresses {
		hosts = append(hosts, a.Hostname)
	}
	assert.Equal(t, []string{"db-0", "db-1"}, hosts)
	_, headless := ep.Labels[network.LabelHeadless]
	assert.True(t, headless)
}

func TestEndpointsOfServiceWithoutSelectorAreLeftAlone(t *testing.T) {
	e := nettest.New(t)
	runEndpoints(t, e)
	e.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "ext"},
		Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}},
		&objects.Endpoints{ObjectMeta: objects.ObjectMeta{Name: "ext"}, Subsets: []objects.EndpointSubset{{
			Addresses: []objects.EndpointAddress{{IP: "10.9.9.9"}}, Ports: []objects.EndpointPort{{Port: 80}}}}})
	// Change another Service to know the controller has run since.
	e.Create(webService(), nettest.Pod("a", map[string]string{"app": "web"}, "http:8080"))
	e.SetPodStatus("default", "a", "10.1.0.1", true)
	waitEndpoints(e, "web", "[http=8080/TCP,metrics=9090/TCP] ready=10.1.0.1 notready=")
	waitEndpoints(e, "ext", "[=80/TCP] ready=10.9.9.9 notready=")
}

// Endpoints written before their selectorless Service are not deleted for
// lack of a Service, as Kubernetes' controller leaves them; the Service's
// deletion deletes them.
func TestEndpointsWrittenBeforeTheirServiceAreLeftAlone(t *testing.T) {
	e := nettest.New(t)
	runEndpoints(t, e)
	e.Create(&objects.Endpoints{ObjectMeta: objects.ObjectMeta{Name: "db"}, Subsets: []objects.EndpointSubset{{
		Addresses: []objects.EndpointAddress{{IP: "192.0.2.10"}}, Ports: []objects.EndpointPort{{Port: 5432}}}}})
	// Change another Service to know the controller has run since.
	e.Create(webService(), nettest.Pod("a", map[string]string{"app": "web"}, "http:8080"))
	e.SetPodStatus("default", "a", "10.1.0.1", true)
	waitEndpoints(e, "web", "[http=8080/TCP,metrics=9090/TCP] ready=10.1.0.1 notready=")
	waitEndpoints(e, "db", "[=5432/TCP] ready=192.0.2.10 notready=")

	e.Create(&objects.Service{ObjectMeta: objects.ObjectMeta{Name: "db"},
		Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 5432}}}})
	e.SetPodStatus("default", "a", "10.1.0.1", false)
	waitEndpoints(e, "web", "[http=8080/TCP,metrics=9090/TCP] ready= notready=10.1.0.1")
	waitEndpoints(e, "db", "[=5432/TCP] ready=192.0.2.10 notready=")

	e.Delete("Service", objects.Key{Namespace: "default", Name: "db"})
	waitEndpoints(e, "db", "absent")
}

func TestEndpointSubsetsAreDeterministic(t *testing.T) {
	svc := webService()
	objects.NewScheme().Default(svc)
	var pods []*objects.Pod
	for i := range 20 {
		p := nettest.Pod(fmt.Sprintf("p%02d", i), nil, fmt.Sprintf("http:%d", 8080+i%3))
		p.Status.PodIP = fmt.Sprintf("10.0.0.%d", i)
		p.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue}}
		pods = append(pods, p)
	}
	a := network.EndpointSubsets(svc, pods)
	slices.Reverse(pods)
	b := network.EndpointSubsets(svc, pods)
	assert.Equal(t, a, b)
	assert.Len(t, a, 3)
}
