package proxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/internal/nettest"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/network/proxy/proxytest"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// podOn creates a pod on node with address ip (a loopback address).
func podOn(e *nettest.Env, name, node, ip string, labels map[string]string, ports ...string) {
	e.T.Helper()
	p := nettest.Pod(name, labels, ports...)
	p.Spec.NodeName = node
	e.Create(p)
	e.SetPodStatus("default", name, ip, true)
}

// askedFrom polls until connections from from to to are answered by
// exactly the backends want (none: every connection fails).
func askedFrom(t *testing.T, to netip.AddrPort, from string, want ...string) {
	t.Helper()
	src := netip.MustParseAddr(from)
	nettest.Poll(t, fmt.Sprintf("%s from %s answered by %v", to, from, want), func() error {
		seen := map[string]int{}
		for range 10 * max(1, len(want)) {
			name, err := proxytest.Ask(objects.ProtocolTCP, to, src)
			if err != nil {
				name = ""
			}
			seen[name]++
		}
		if len(want) == 0 {
			if len(seen) != 1 || seen[""] == 0 {
				return fmt.Errorf("answers: %v", seen)
			}
			return nil
		}
		for _, w := range want {
			if seen[w] == 0 {
				return fmt.Errorf("answers: %v", seen)
			}
		}
		if len(seen) != len(want) {
			return fmt.Errorf("answers: %v", seen)
		}
		return nil
	})
}

// The proxier places client pods by the store's pods, whether or not they
// back a Service, and follows pods that come later.
func TestProxierInternalTrafficPolicyLocal(t *testing.T) {
	dp, err := proxy.NewUserspace()
	require.NoError(t, err)
	c := newClusterOn(t, dp, [3]string{"n1", "n1", "n2"})
	podOn(c.Env, "client-1", "n1", "127.0.5.1", nil)
	podOn(c.Env, "client-3", "n3", "127.0.5.3", nil)
	local := objects.ServiceInternalTrafficPolicyLocal
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Selector: map[string]string{"app": "web"}, InternalTrafficPolicy: &local,
		Ports: []objects.ServicePort{{Name: "http", Port: 8080, TargetPort: objects.FromString("http")}}}}
	c.Create(s)
	to := netip.AddrPortFrom(netip.MustParseAddr(s.Spec.ClusterIP), 8080)
	askedFrom(t, to, "127.0.5.1", "web-0", "web-1")
	askedFrom(t, to, "127.0.5.3")
	askedFrom(t, to, "127.0.5.50", "web-0", "web-1", "web-2") // the host
	podOn(c.Env, "client-2", "n2", "127.0.5.2", nil)
	askedFrom(t, to, "127.0.5.2", "web-2")
	c.Delete("Pod", objects.Key{Namespace: "default", Name: "client-3"})
	askedFrom(t, to, "127.0.5.3", "web-0", "web-1", "web-2") // no pod's address: the host's
}

// healthAnswer is one answer of a health check node port.
type healthAnswer struct {
	status int
	weight string
	body   map[string]any
}

func askHealth(port int32) (healthAnswer, error) {
	cl := http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		return healthAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return healthAnswer{}, err
	}
	a := healthAnswer{status: resp.StatusCode, weight: resp.Header.Get("X-Load-Balancing-Endpoint-Weight")}
	if resp.Header.Get("Content-Type") != "application/json" {
		return a, fmt.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	return a, json.Unmarshal(b, &a.body)
}

func TestProxierHealthCheckNodePort(t *testing.T) {
	dp, err := proxy.NewUserspace(proxy.WithNodePortAddresses(netip.MustParseAddr("127.0.0.1")))
	require.NoError(t, err)
	c := newCluster(t, dp, proxy.WithHealthCheckAddresses(netip.MustParseAddr("127.0.0.1")))
	s := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{
		Type: objects.ServiceTypeLoadBalancer, ExternalTrafficPolicy: objects.ServiceExternalTrafficPolicyLocal,
		Selector: map[string]string{"app": "web"},
		Ports:    []objects.ServicePort{{Name: "http", Port: int32(nettest.FreePort(t)), TargetPort: objects.FromString("http")}}}}
	c.Create(s)
	hc := s.Spec.HealthCheckNodePort
	require.NotZero(t, hc, "a LoadBalancer Service with externalTrafficPolicy Local gets a health check node port")

	waitHealth := func(what string, status int, endpoints int) {
		t.Helper()
		want := map[string]any{"service": map[string]any{"namespace": "default", "name": "web"},
			"localEndpoints": float64(endpoints), "serviceProxyHealthy": true}
		nettest.Poll(t, what, func() error {
			a, err := askHealth(hc)
			if err != nil {
				return err
			}
			if a.status != status || !assert.ObjectsAreEqual(want, a.body) || a.weight != fmt.Sprint(endpoints) {
				return fmt.Errorf("answered %d %v (weight %s)", a.status, a.body, a.weight)
			}
			return nil
		})
	}
	waitHealth("200 with three local endpoints", http.StatusOK, 3)
	for _, p := range []string{"web-0", "web-1", "web-2"} {
		c.SetPodStatus("default", p, "", false)
	}
	waitHealth("503 without endpoints", http.StatusServiceUnavailable, 0)
	c.SetPodStatus("default", "web-1", "127.0.0.3", true)
	waitHealth("200 with one endpoint", http.StatusOK, 1)

	// The policy back to Cluster: the port is released and closed.
	nettest.Update(c.Env, s.Key(), func(s *objects.Service) {
		s.Spec.ExternalTrafficPolicy = objects.ServiceExternalTrafficPolicyCluster
	})
	c.WaitStore("the health check node port released", func(tx store.ReadTx) (bool, string) {
		o, _ := tx.Get("Service", s.Key())
		got := o.(*objects.Service).Spec.HealthCheckNodePort
		return got == 0, fmt.Sprint(got)
	})
	nettest.Poll(t, "the health check server to close", func() error {
		if a, err := askHealth(hc); err == nil {
			return fmt.Errorf("still answered %d %v", a.status, a.body)
		}
		return nil
	})
}
