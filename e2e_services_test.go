package podkit_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/proxy"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// End-to-end tests of Service networking on the real runtimes: the host
// reaches Services through their ClusterIP, NodePort and LoadBalancer
// address, an Ingress routes by path, host and SNI, a pod failing its
// readiness probe leaves the Endpoints and the proxy at once, and a rolling
// update under load loses no request.

var realRuntimes = []string{cluster.Docker, cluster.Containerd}

var dataPlanes = []network.DataPlaneMode{network.DataPlaneNFTables, network.DataPlaneUserspace}

// clusterSeq numbers the clusters of this process, so that each gets its
// own service range, nftables table and dummy interface.
var clusterSeq atomic.Int32

// e2eCluster starts a cluster on runtime rt with the data plane dp, apart
// from any other cluster on this host: its own containerd namespace and
// node names, service range, nftables table and dummy interface, and no
// cluster DNS (whose default address all clusters would share). The
// cluster stops when the test ends, after cleanups registered later.
func e2eCluster(t *testing.T, rt string, dp network.DataPlaneMode, o cluster.Options) *cluster.Cluster {
	t.Helper()
	cluster.Require(t, rt)
	return startCluster(t, isolated(rt, dp, os.Getpid(), clusterSeq.Add(1), o))
}

// startCluster starts a cluster, stopped when the test ends after the
// cleanups registered later.
func startCluster(t *testing.T, o cluster.Options) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, o)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Stop()) })
	return c
}

// isolated completes o for e2eCluster's cluster number seq of process pid.
func isolated(rt string, dp network.DataPlaneMode, pid int, seq int32, o cluster.Options) cluster.Options {
	id := fmt.Sprintf("%d-%d", pid%100000, seq)
	cidr, table, ifname := dataPlaneNames(pid, seq)
	o.Runtime = rt
	o.Namespace = "podkit-e2esvc-" + id
	o.Isolated = true // its own pod network and containerd namespace, removed by Stop
	o.Out = io.Discard
	o.Network = append(o.Network,
		network.WithDataPlane(dp),
		network.WithoutDNS(),
		network.WithServiceCIDR(cidr.String()),
		network.WithNFTablesTable(table),
		network.WithUserspaceOptions(proxy.WithDummyInterface(ifname)),
	)
	return o
}

// dataPlaneNames returns the service CIDR, the nftables table and the
// dummy interface of isolated's cluster.
func dataPlaneNames(pid int, seq int32) (cidr netip.Prefix, table, ifname string) {
	// 10.230.0.0/16 to 10.249.0.0/16 lie outside the default 10.96.0.0/12
	// that other clusters on this host may use.
	cidr = netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", 230+pid%20, seq%256))
	return cidr, fmt.Sprintf("podkit-e2esvc-%d-%d", pid%100000, seq), fmt.Sprintf("pke%d", pid%100000*100+int(seq)%100)
}

// apply decodes manifest, applies it, and deletes every object it made
// when the test ends, waiting until no pod is left.
func apply(t *testing.T, ctx context.Context, c *cluster.Cluster, manifest string) {
	t.Helper()
	objs, err := c.Scheme().Decode(strings.NewReader(manifest))
	require.NoError(t, err)
	require.NoError(t, c.Apply(ctx, objs...))
	deleteAtEnd(t, c, objs)
}

// deleteAtEnd deletes objs when the test ends, waiting until no pod is
// left.
func deleteAtEnd(t *testing.T, c *cluster.Cluster, objs []objects.Object) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, o := range objs {
			if err := c.Delete(ctx, o); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete %s: %v", o.GetObjectMeta().Name, err)
			}
		}
		waitFor(t, ctx, "no pods left", func() (bool, string) {
			pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, "default")
			if err != nil {
				return false, err.Error()
			}
			names := make([]string, len(pods))
			for i, p := range pods {
				names[i] = p.Name
			}
			return len(pods) == 0, fmt.Sprintf("pods %v", names)
		})
		// A node agent removes the containers of a pod after the pod has
		// left the store; the cluster must not stop before.
		waitFor(t, ctx, "no sandbox or container left", func() (bool, string) {
			left, err := c.Leftovers(ctx, "")
			if err != nil {
				return false, err.Error()
			}
			return len(left) == 0, fmt.Sprintf("left in the runtime: %v", left)
		})
	})
}

// waitFor polls cond every 50 ms until it holds; past the context's
// deadline it fails t with what cond saw last.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last seen: %s", what, ctx.Err(), seen)
		case <-tick.C:
		}
	}
}

// client makes one connection per request, so that every request is
// balanced anew: a kept-alive connection would stay with one endpoint and
// hide what the proxy does with new connections.
func client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
}

var helloRE = regexp.MustCompile(`^hello from \S+ \(pod (\S+)\)`)

// hello GETs url with the Host header host (when set) and returns the name
// of the pod that answered.
func hello(ctx context.Context, hc *http.Client, url, host string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s (host %q): %s: %s", url, host, resp.Status, bytes.TrimSpace(b))
	}
	m := helloRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("GET %s (host %q): unexpected body %q", url, host, b)
	}
	return string(m[1]), nil
}

// waitHello polls url until a pod accepted by want answers, and returns it.
func waitHello(t *testing.T, ctx context.Context, hc *http.Client, url, host string, want func(pod string) bool) string {
	t.Helper()
	var pod string
	waitFor(t, ctx, "an answer from "+url, func() (bool, string) {
		p, err := hello(ctx, hc, url, host)
		if err != nil {
			return false, err.Error()
		}
		pod = p
		return want(p), "answered by " + p
	})
	return pod
}

func anyPod(string) bool { return true }

func podsOf(t *testing.T, ctx context.Context, c *cluster.Cluster, app string) []*objects.Pod {
	t.Helper()
	pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, "default", podkit.WithLabels("app="+app))
	require.NoError(t, err)
	return pods
}

// readyAddresses returns the IPs listed as ready in the Endpoints of
// Service name.
func readyAddresses(ctx context.Context, c *cluster.Cluster, name string) ([]string, error) {
	ep := &objects.Endpoints{}
	if err := c.Get(ctx, objects.Key{Namespace: "default", Name: name}, ep); err != nil {
		return nil, err
	}
	return endpointIPs(ep), nil
}

func endpointIPs(ep *objects.Endpoints) []string {
	var ips []string
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			ips = append(ips, a.IP)
		}
	}
	slices.Sort(ips)
	return ips
}

func waitEndpoints(t *testing.T, ctx context.Context, c *cluster.Cluster, name string, n int) {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf("%d ready endpoints of %s", n, name), func() (bool, string) {
		ips, err := readyAddresses(ctx, c, name)
		return err == nil && len(ips) == n, fmt.Sprintf("%v %v", ips, err)
	})
}

// freeLoopback returns a loopback address other than 127.0.0.1 and a TCP
// port free on it when asked.
func freeLoopback(t *testing.T) (netip.Addr, uint16) {
	t.Helper()
	ip := netip.AddrFrom4([4]byte{127, 77, byte(os.Getpid() >> 8), byte(os.Getpid())})
	l, err := net.Listen("tcp4", netip.AddrPortFrom(ip, 0).String())
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return ip, uint16(port)
}

// deployment is a Deployment of the demo app with a readiness probe on
// /healthz, and a Service of type svcType in front of it on port.
const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: web
        image: %[2]s
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  type: %[4]s
  selector: {app: %[1]s}
  ports: [{name: http, port: %[5]d, targetPort: http}]
`

// The host reaches a Service of type LoadBalancer, backed by three ready
// replicas, through its cluster IP, its node port on 127.0.0.1 and its
// load balancer address, and requests are spread over every replica.
func TestE2EServiceFromHost(t *testing.T) {
	for _, rt := range realRuntimes {
		for _, dp := range dataPlanes {
			t.Run(rt+"/"+string(dp), func(t *testing.T) {
				lbIP, lbPort := freeLoopback(t)
				c := e2eCluster(t, rt, dp, cluster.Options{Network: []network.Option{network.WithLoadBalancerAddress(lbIP.String())}})
				ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
				defer cancel()
				start := time.Now()
				apply(t, ctx, c, fmt.Sprintf(deployment, "web", c.DemoImage, 3, "LoadBalancer", lbPort))
				require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Available))
				t.Logf("3 replicas available after %v", time.Since(start))

				svc := &objects.Service{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}
				require.NoError(t, c.WaitFor(ctx, svc, func(o objects.Object) bool {
					return o != nil && len(o.(*objects.Service).Status.LoadBalancer.Ingress) > 0
				}))
				require.NoError(t, c.Get(ctx, svc.Key(), svc))
				in := svc.Status.LoadBalancer.Ingress
				require.Len(t, in, 1)
				assert.Equal(t, lbIP.String(), in[0].IP)
				require.Len(t, in[0].Ports, 1)
				assert.Equal(t, int32(lbPort), in[0].Ports[0].Port)
				nodePort := svc.Spec.Ports[0].NodePort
				require.NotZero(t, nodePort)

				pods := podsOf(t, ctx, c, "web")
				require.Len(t, pods, 3)
				want := map[string]bool{}
				for _, p := range pods {
					want[p.Name] = true
				}
				hc := client()
				for _, url := range []string{
					fmt.Sprintf("http://%s/", net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(lbPort)))),
					fmt.Sprintf("http://127.0.0.1:%d/", nodePort),
					fmt.Sprintf("http://%s/", netip.AddrPortFrom(lbIP, lbPort)),
				} {
					// Every replica answers, each request on a new connection.
					seen := map[string]bool{}
					uctx, ucancel := context.WithTimeout(ctx, 30*time.Second)
					defer ucancel()
					waitFor(t, uctx, "every replica answering "+url, func() (bool, string) {
						pod, err := hello(uctx, hc, url, "")
						if err != nil {
							return false, err.Error()
						}
						assert.True(t, want[pod], "%s answered by %s, not a replica of web", url, pod)
						seen[pod] = true
						return len(seen) == len(want), fmt.Sprintf("answered by %v", seen)
					})
				}

				// externalTrafficPolicy Local: the host still reaches the
				// replicas through the node port and the load balancer (a
				// loopback client is masqueraded on its way to a pod), and
				// the health check node port counts them.
				require.NoError(t, c.Get(ctx, svc.Key(), svc))
				svc.Spec.ExternalTrafficPolicy = objects.ServiceExternalTrafficPolicyLocal
				require.NoError(t, c.Apply(ctx, svc))
				require.NoError(t, c.Get(ctx, svc.Key(), svc))
				require.NotZero(t, svc.Spec.HealthCheckNodePort)
				for _, url := range []string{
					fmt.Sprintf("http://127.0.0.1:%d/", nodePort),
					fmt.Sprintf("http://%s/", netip.AddrPortFrom(lbIP, lbPort)),
				} {
					waitHello(t, ctx, hc, url, "", func(pod string) bool { return want[pod] })
				}
				waitFor(t, ctx, "the health check node port to count 3 endpoints", func() (bool, string) {
					resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/", svc.Spec.HealthCheckNodePort))
					if err != nil {
						return false, err.Error()
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"localEndpoints":3`)), resp.Status + " " + string(b)
				})
			})
		}
	}
}

// An Ingress of class podkit routes /a and /b to Services a and b, host
// names a.podkit.test and b.podkit.test to them as well, and serves
// secure.podkit.test over HTTPS with the certificate of a kubernetes.io/tls
// Secret chosen by SNI.
func TestE2EIngress(t *testing.T) {
	certPEM, keyPEM := selfSigned(t, "secure.podkit.test")
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{Ingress: true})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			apply(t, ctx, c, fmt.Sprintf(deployment, "a", c.DemoImage, 1, "ClusterIP", 80)+"---\n"+
				fmt.Sprintf(deployment, "b", c.DemoImage, 1, "ClusterIP", 80)+
				fmt.Sprintf(ingressManifest, indent(certPEM), indent(keyPEM)))
			for _, app := range []string{"a", "b"} {
				require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: app}}, podkit.Available))
			}
			podA, podB := podsOf(t, ctx, c, "a")[0].Name, podsOf(t, ctx, c, "b")[0].Name
			hc := client()
			base := "http://" + c.IngressHTTP
			for _, tc := range []struct{ path, host, pod string }{
				{"/a", "", podA},
				{"/a/deeper", "", podA},
				{"/b", "", podB},
				{"/", "a.podkit.test", podA},
				{"/b", "a.podkit.test", podA},
				{"/", "b.podkit.test", podB},
			} {
				got := waitHello(t, ctx, hc, base+tc.path, tc.host, anyPod)
				assert.Equal(t, tc.pod, got, "GET %s with Host %q", tc.path, tc.host)
			}
			// No rule: the controller answers 404 itself.
			resp, err := hc.Get(base + "/c")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "GET /c")

			roots := x509.NewCertPool()
			require.True(t, roots.AppendCertsFromPEM(certPEM))
			var peer *x509.Certificate
			tr := &http.Transport{DisableKeepAlives: true, Proxy: nil,
				TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "secure.podkit.test", MinVersion: tls.VersionTLS12,
					VerifyConnection: func(cs tls.ConnectionState) error {
						peer = cs.PeerCertificates[0]
						return nil
					}}}
			hcs := &http.Client{Timeout: 5 * time.Second, Transport: tr}
			got := waitHello(t, ctx, hcs, "https://"+c.IngressHTTPS+"/", "secure.podkit.test", anyPod)
			assert.Equal(t, podA, got, "GET https://secure.podkit.test/")
			require.NotNil(t, peer)
			assert.Equal(t, []string{"secure.podkit.test"}, peer.DNSNames)
		})
	}
}

const ingressManifest = `
---
apiVersion: v1
kind: Secret
metadata: {name: secure-tls}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: routes}
spec:
  ingressClassName: podkit
  tls:
  - hosts: [secure.podkit.test]
    secretName: secure-tls
  rules:
  - http:
      paths:
      - {path: /a, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}
      - {path: /b, pathType: Prefix, backend: {service: {name: b, port: {name: http}}}}
  - host: a.podkit.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}
  - host: b.podkit.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: b, port: {number: 80}}}}
  - host: secure.podkit.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}
`

func indent(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// selfSigned returns a PEM certificate for host, signed by its own key,
// and that key.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		DNSNames:              []string{host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// result is one request of a load generator.
type result struct {
	start time.Time
	pod   string
	err   error
}

// load runs n goroutines GETting url, each at most every 10 ms, until
// stop is called, which returns every request's result.
func load(ctx context.Context, url string, n int) (stop func() []result) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		mu  sync.Mutex
		out []result
		wg  sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := client()
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				r := result{start: time.Now()}
				r.pod, r.err = hello(context.WithoutCancel(ctx), hc, url, "")
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
			}
		}()
	}
	return func() []result {
		cancel()
		wg.Wait()
		slices.SortFunc(out, func(a, b result) int { return a.start.Compare(b.start) })
		return out
	}
}

func failures(rs []result) []string {
	var out []string
	for _, r := range rs {
		if r.err != nil {
			out = append(out, r.start.Format("15:04:05.000")+": "+r.err.Error())
		}
	}
	return out
}

// A pod whose readiness probe fails leaves the Endpoints within a second
// of its Ready condition turning False, receives no request through the
// cluster IP once the proxy could know, and comes back when the probe
// passes again.
func TestE2EReadinessGatesEndpoints(t *testing.T) {
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) {
			c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{})
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			apply(t, ctx, c, fmt.Sprintf(deployment, "web", c.DemoImage, 3, "ClusterIP", 80))
			require.NoError(t, c.WaitFor(ctx, &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Available))
			waitEndpoints(t, ctx, c, "web", 3)
			svc := &objects.Service{}
			require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "web"}, svc))
			url := "http://" + svc.Spec.ClusterIP + "/"
			hc := client()
			waitHello(t, ctx, hc, url, "", anyPod)
			victim := podsOf(t, ctx, c, "web")[0]

			// Pod and Endpoints changes arrive on one watch, in store order,
			// so the time between two events is the controller's delay.
			w, err := c.Watch(ctx, "", podkit.InNamespace("default"))
			require.NoError(t, err)
			defer w.Stop()
			stop := load(ctx, url, 3)
			stopped := false
			defer func() {
				if !stopped {
					stop()
				}
			}()

			resp, err := hc.Post("http://"+net.JoinHostPort(victim.Status.PodIP, "8080")+"/healthz/fail", "", nil)
			require.NoError(t, err)
			resp.Body.Close()
			failed := time.Now()

			var notReady, gone time.Time
			for gone.IsZero() {
				select {
				case ev, ok := <-w.Events():
					require.True(t, ok, "watch ended: %v", w.Err())
					now := time.Now()
					switch o := ev.Object().(type) {
					case *objects.Pod:
						if o.Name == victim.Name && notReady.IsZero() && !objects.IsPodReady(o) {
							notReady = now
						}
					case *objects.Endpoints:
						if o.Name == "web" && !notReady.IsZero() && !slices.Contains(endpointIPs(o), victim.Status.PodIP) {
							gone = now
							assert.Len(t, endpointIPs(o), 2)
						}
					}
				case <-ctx.Done():
					t.Fatalf("waiting for %s to leave the Endpoints: %v (not ready at %v)", victim.Name, ctx.Err(), notReady)
				}
			}
			w.Stop()
			t.Logf("probe failing -> Ready=False %v; Ready=False -> out of Endpoints %v",
				notReady.Sub(failed), gone.Sub(notReady))
			assert.Less(t, gone.Sub(notReady), time.Second, "the Endpoints dropped the unready pod too late")

			// Requests begun a second after Ready turned False, far more than
			// the proxy needs, never reach the pod.
			cutoff := notReady.Add(time.Second)
			waitFor(t, ctx, "requests after the cutoff", func() (bool, string) {
				return time.Since(cutoff) > 2*time.Second, ""
			})
			rs := stop()
			stopped = true
			assert.Empty(t, failures(rs), "failed requests")
			var after, toVictim int
			var lastToVictim time.Time
			for _, r := range rs {
				if r.pod == victim.Name {
					lastToVictim = r.start
				}
				if r.start.After(cutoff) {
					after++
					if r.pod == victim.Name {
						toVictim++
					}
				}
			}
			t.Logf("%d requests, %d after the cutoff; the last to %s began %v after Ready=False",
				len(rs), after, victim.Name, lastToVictim.Sub(notReady))
			assert.Greater(t, after, 20, "requests after the cutoff")
			assert.Zero(t, toVictim, "requests reaching the unready pod after the cutoff")

			resp, err = hc.Post("http://"+net.JoinHostPort(victim.Status.PodIP, "8080")+"/healthz/ok", "", nil)
			require.NoError(t, err)
			resp.Body.Close()
			waitEndpoints(t, ctx, c, "web", 3)
			waitHello(t, ctx, hc, url, "", func(p string) bool { return p == victim.Name })
		})
	}
}

// A rolling update (maxSurge 1, maxUnavailable 0) of a Deployment whose
// pods sleep in preStop, as Kubernetes users do so that the proxies stop
// sending before the server stops, loses no request of a steady load
// through the cluster IP. Each request is a new connection, so each is
// balanced over the endpoints of that moment, including pods about to
// stop and pods just ready.
func TestE2ERollingUpdateNoLoss(t *testing.T) {
	for _, rt := range realRuntimes {
		for _, dp := range dataPlanes {
			t.Run(rt+"/"+string(dp), func(t *testing.T) {
				c := e2eCluster(t, rt, dp, cluster.Options{})
				ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
				defer cancel()
				apply(t, ctx, c, fmt.Sprintf(rollingManifest, c.DemoImage))
				dep := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}
				require.NoError(t, c.WaitFor(ctx, dep, podkit.Available))
				waitEndpoints(t, ctx, c, "web", 3)
				svc := &objects.Service{}
				require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "web"}, svc))
				url := "http://" + svc.Spec.ClusterIP + "/"
				waitHello(t, ctx, client(), url, "", anyPod)
				old := map[string]bool{}
				for _, p := range podsOf(t, ctx, c, "web") {
					old[p.Name] = true
				}

				stop := load(ctx, url, 4)
				stopped := false
				defer func() {
					if !stopped {
						stop()
					}
				}()
				start := time.Now()
				require.NoError(t, c.Get(ctx, dep.Key(), dep))
				dep.Spec.Template.Spec.Containers[0].Env = []objects.EnvVar{{Name: "VERSION", Value: "2"}}
				require.NoError(t, c.Update(ctx, dep))
				require.NoError(t, c.WaitFor(ctx, dep, podkit.Available))
				// The rollout is over once the old pods are gone, preStop and
				// all.
				waitFor(t, ctx, "the old pods gone", func() (bool, string) {
					pods := podsOf(t, ctx, c, "web")
					var names []string
					done := len(pods) == 3
					for _, p := range pods {
						names = append(names, p.Name)
						done = done && !old[p.Name] && !p.IsDeleting()
					}
					return done, fmt.Sprintf("pods %v", names)
				})
				took := time.Since(start)
				rs := stop()
				stopped = true
				byOld, byNew := 0, 0
				for _, r := range rs {
					switch {
					case r.err != nil:
					case old[r.pod]:
						byOld++
					default:
						byNew++
					}
				}
				t.Logf("rollout took %v; %d requests (%d answered by old pods, %d by new ones)", took, len(rs), byOld, byNew)
				assert.Empty(t, failures(rs), "failed requests")
				assert.Greater(t, len(rs), 100, "requests")
				assert.Positive(t, byOld, "requests answered by old pods")
				assert.Positive(t, byNew, "requests answered by new pods")
			})
		}
	}
}

const rollingManifest = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: %s
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
        lifecycle:
          preStop: {exec: {command: [/demo, sleep, 2s]}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`
