package podkit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/dns"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

// TestClusterDNS runs pods on Docker and on containerd that find Services
// by name through the cluster DNS server, which the orchestrator serves on
// each node's pod network gateway by itself: a Deployment behind a
// ClusterIP Service, reached by its full and its short name and answered
// by every replica, and a StatefulSet behind a headless Service whose pods
// have names of their own.
func TestClusterDNS(t *testing.T) {
	for _, name := range []string{cluster.Docker, cluster.Containerd} {
		t.Run(name, func(t *testing.T) {
			cluster.Require(t, name)
			ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
			defer cancel()
			start := time.Now()
			c, err := cluster.Start(ctx, cluster.Options{Runtime: name, Nodes: 2, Namespace: "podkit-e2edns-" + name,
				Isolated: true, Out: io.Discard})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, c.Stop()) })
			objs, err := c.Scheme().Decode(strings.NewReader(strings.ReplaceAll(dnsManifest, "IMAGE", c.DemoImage)))
			require.NoError(t, err)
			t.Cleanup(func() { deleteAll(t, c, objs) }) // before Stop
			require.NoError(t, c.Apply(ctx, objs...))

			gw, err := c.Runtime.(runtime.HostAddresser).HostAddress(ctx)
			require.NoError(t, err)
			for _, o := range objs {
				if _, ok := o.(*objects.Pod); !ok {
					require.NoError(t, c.WaitFor(ctx, o, podkit.Available), "%T %s", o, o.GetObjectMeta().Name)
				}
			}
			client := &objects.Pod{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "client"}}
			require.NoError(t, c.WaitFor(ctx, client, podkit.Available))
			t.Logf("%s: cluster up and pods ready in %v", name, time.Since(start).Round(time.Millisecond))
			ex := execIn(t, ctx, c, client)

			t.Run("resolv.conf", func(t *testing.T) {
				conf, err := ex("cat", "/etc/resolv.conf")
				require.NoError(t, err)
				assert.Regexp(t, `(?m)^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b`, conf)
				assert.Regexp(t, `(?m)^options .*\bndots:5\b`, conf)
				want := gw.String() // containerd: the gateway itself
				if name == cluster.Docker {
					want = "127.0.0.11" // the engine's embedded server, which forwards to the gateway
				}
				assert.Regexp(t, `(?m)^nameserver `+regexp.QuoteMeta(want)+`$`, conf)
			})

			t.Run("service", func(t *testing.T) {
				svc := &objects.Service{}
				require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "web"}, svc))
				waitA(t, netip.AddrPortFrom(gw, 53), "web.default.svc.cluster.local", svc.Spec.ClusterIP)
				pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, "default", podkit.WithLabels("app=web"))
				require.NoError(t, err)
				want := map[string]bool{}
				for _, p := range pods {
					want[p.Name] = true
				}
				require.Len(t, want, 3)
				seen := map[string]bool{}
				hello := regexp.MustCompile(`hello from (\S+)`)
				tries := 0
				agenttest.Poll(t, 90*time.Second, 50*time.Millisecond, func() (bool, string) {
					for _, url := range []string{"http://web.default.svc.cluster.local/", "http://web/"} {
						tries++
						body, err := ex("get", url)
						if err != nil {
							return false, fmt.Sprintf("GET %s: %v", url, err)
						}
						m := hello.FindStringSubmatch(body)
						if m == nil || !want[m[1]] {
							return false, fmt.Sprintf("GET %s answered %q, want the hello of one of %v", url, body, want)
						}
						seen[m[1]] = true
					}
					return len(seen) == len(want), fmt.Sprintf("answers from %v after %d requests, want all of %v", seen, tries, want)
				})
				t.Logf("%s: all %d replicas answered within %d requests", name, len(want), tries)
			})

			t.Run("port-forward and logs", func(t *testing.T) {
				pf, err := c.PortForward(ctx, "default", "db-1", "127.0.0.1:0", 8080)
				require.NoError(t, err)
				defer pf.Close()
				for range 3 { // a connection each
					resp, err := http.Get("http://" + pf.Addr().String() + "/")
					require.NoError(t, err)
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					require.NoError(t, err)
					assert.Contains(t, string(body), "hello from db-1 ")
				}
				rc, err := c.Logs(ctx, "default", "db-1", "", podkit.TailLines(100))
				require.NoError(t, err)
				logs, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err)
				assert.Contains(t, string(logs), "demo: serving on", "the demo server logs its start")
			})

			t.Run("statefulset", func(t *testing.T) {
				db0 := &objects.Pod{}
				require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "db-0"}, db0))
				require.NotEmpty(t, db0.Status.PodIP)
				// Asked directly, on the gateway and on the host's listener.
				loopback := c.Network().DNS().Addrs()[0].(*net.UDPAddr).AddrPort()
				for _, server := range []netip.AddrPort{netip.AddrPortFrom(gw, 53), loopback} {
					waitA(t, server, "db-0.db.default.svc.cluster.local", db0.Status.PodIP)
				}
				pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, "default", podkit.WithLabels("app=db"))
				require.NoError(t, err)
				var ips []string
				for _, p := range pods {
					ips = append(ips, p.Status.PodIP)
				}
				require.Len(t, ips, 3)
				waitA(t, netip.AddrPortFrom(gw, 53), "db.default.svc.cluster.local", ips...) // a headless Service names its pods
				// From inside a pod, by the full name and by a short one.
				for url, host := range map[string]string{
					"http://db-0.db.default.svc.cluster.local:8080/": "db-0",
					"http://db-2.db:8080/":                           "db-2",
				} {
					body, err := ex("get", url)
					require.NoError(t, err, url)
					assert.Contains(t, body, "hello from "+host+" ", url)
				}
			})
		})
	}
}

// gatewayRuntime is a fake runtime that tells a host address, as Docker
// and containerd tell their bridge gateway, and records the resolver
// configuration of the sandboxes it runs.
type gatewayRuntime struct {
	*fake.Runtime
	addr netip.Addr
	mu   sync.Mutex
	dns  map[string]runtime.DNSConfig // by pod name
}

func (r *gatewayRuntime) HostAddress(context.Context) (netip.Addr, error) { return r.addr, nil }

func (r *gatewayRuntime) RunSandbox(ctx context.Context, cfg *runtime.SandboxConfig) (string, error) {
	r.mu.Lock()
	r.dns[cfg.PodName] = cfg.DNS
	r.mu.Unlock()
	return r.Runtime.RunSandbox(ctx, cfg)
}

func (r *gatewayRuntime) podDNS(pod string) (runtime.DNSConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.dns[pod]
	return d, ok
}

// TestNodeDNSOnHostAddress checks, without a daemon, what RegisterNode
// does with a runtime that tells its address on the pod network: nodes
// registered before and after Run get cluster DNS on port 53 of their
// address, as their pods' nameserver, with the host's search domains after
// the cluster's; a runtime without the capability,
// and one whose address is taken by another DNS server, leave their pods
// with the orchestrator's listen addresses.
func TestNodeDNSOnHostAddress(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("listening on port 53 needs root")
	}
	// Loopback addresses of this run's own, apart from concurrent runs.
	base := [4]byte{127, byte(100 + rand.IntN(100)), byte(rand.IntN(256)), 0}
	addr := func(i byte) netip.Addr { b := base; b[3] = i; return netip.AddrFrom4(b) }
	taken, err := net.ListenPacket("udp", netip.AddrPortFrom(addr(3), 53).String())
	require.NoError(t, err)
	defer taken.Close()
	resolvConf := filepath.Join(t.TempDir(), "resolv.conf")
	require.NoError(t, os.WriteFile(resolvConf, []byte("nameserver 192.0.2.53\nsearch corp.example\n"), 0o644))
	o := newOrchestrator(t, podkit.WithNetwork(network.WithDNS([]string{"127.0.0.1:0"}, dns.WithUpstreams()),
		network.WithDataPlane(network.DataPlaneNone), network.WithResolvConf(resolvConf)))
	ctx := t.Context()
	rts := map[string]runtime.Runtime{}
	register := func(name string, addr netip.Addr) {
		f, err := fake.New()
		require.NoError(t, err)
		var rt runtime.Runtime = f
		if addr.IsValid() {
			rt = &gatewayRuntime{Runtime: f, addr: addr, dns: map[string]runtime.DNSConfig{}}
		}
		require.NoError(t, o.RegisterNode(ctx, &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}}, rt))
		rts[name] = rt
	}
	register("before", addr(1))
	register("plain", netip.Addr{})
	runOrchestrator(t, o)
	register("after", addr(2))
	register("taken", addr(3))
	register("again", addr(1)) // shares the listener of "before"

	svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Name: "web"}, Spec: objects.ServiceSpec{Ports: []objects.ServicePort{{Port: 80}}}}
	require.NoError(t, o.Create(ctx, svc))
	for _, server := range []netip.Addr{addr(1), addr(2)} {
		waitA(t, netip.AddrPortFrom(server, 53), "web.default.svc.cluster.local", svc.Spec.ClusterIP)
	}

	require.NoError(t, o.Create(ctx, &objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "team"}}))
	want := map[string]string{"before": addr(1).String(), "plain": "127.0.0.1", "after": addr(2).String(), "taken": "127.0.0.1", "again": addr(1).String()}
	for node := range want {
		p := &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "on-" + node, Namespace: "team"},
			Spec: objects.PodSpec{NodeName: node, Containers: []objects.Container{{Name: "app", Image: "nginx:1.27"}}}}
		require.NoError(t, o.Create(ctx, p))
	}
	for node, server := range want {
		require.NoError(t, o.WaitFor(ctx, &objects.Pod{ObjectMeta: objects.ObjectMeta{Name: "on-" + node, Namespace: "team"}}, podkit.Running))
		gw, ok := rts[node].(*gatewayRuntime)
		if !ok {
			continue // the fake keeps no resolver configuration; "taken" shows the same fallback
		}
		d, ok := gw.podDNS("on-" + node)
		require.True(t, ok, node)
		assert.Equal(t, runtime.DNSConfig{Servers: []string{server},
			Searches: []string{"team.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"}, Options: []string{"ndots:5"}}, d, node)
	}
}

// execIn returns a function that runs the demo program of pod's first
// container with args, returning its output; a non-zero exit is an error
// carrying its stderr.
func execIn(t *testing.T, ctx context.Context, c *cluster.Cluster, pod *objects.Pod) func(args ...string) (string, error) {
	t.Helper()
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		code, err := c.Exec(ctx, pod.Namespace, pod.Name, "", runtime.ExecOptions{Command: append([]string{"/demo"}, args...), Stdout: &stdout, Stderr: &stderr})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), err
	}
}

// waitA polls server until name's A records are want: the DNS server
// learns of endpoints through its watch, after the controllers wrote them.
func waitA(t *testing.T, server netip.AddrPort, name string, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	agenttest.Poll(t, 30*time.Second, 20*time.Millisecond, func() (bool, string) {
		got, err := queryA(server, name)
		return err == nil && slices.Equal(got, want), fmt.Sprintf("%s answers %v (%v), want %v", server, got, err, want)
	})
}

// queryA asks server for name's A records, sorted.
func queryA(server netip.AddrPort, name string) ([]string, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(m, server.String())
	if err != nil {
		return nil, fmt.Errorf("asking %s for %s: %w", server, name, err)
	}
	if r.Rcode != mdns.RcodeSuccess {
		return nil, fmt.Errorf("asking %s for %s: %s", server, name, mdns.RcodeToString[r.Rcode])
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// deleteAll deletes objs and waits until no pod is left in the default
// namespace and the runtime holds nothing of the cluster's nodes, so that
// no container outlives the test.
func deleteAll(t *testing.T, c *cluster.Cluster, objs []objects.Object) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, o := range objs {
		_ = c.Delete(ctx, o)
	}
	agenttest.Poll(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, "default")
		if err != nil {
			return false, err.Error()
		}
		var names []string
		for _, p := range pods {
			names = append(names, p.Name)
		}
		return len(pods) == 0, fmt.Sprintf("pods left: %v", names)
	})
	// The node agents remove a deleted pod's containers and sandbox after
	// it left the store.
	agenttest.Poll(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		left, err := c.Leftovers(ctx, "")
		if err != nil {
			return false, err.Error()
		}
		return len(left) == 0, fmt.Sprintf("left in the runtime: %v", left)
	})
}

const dnsManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: IMAGE
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: db
        image: IMAGE
        imagePullPolicy: Never
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: IMAGE
    imagePullPolicy: Never
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
`
