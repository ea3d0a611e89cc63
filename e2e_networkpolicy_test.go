package podkit_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// End-to-end tests of NetworkPolicy enforcement on the real runtimes: new
// connections of a client pod to a server pod, directly and through the
// server's Service (the kernel data plane), pass or not as the policies
// say, policy changes take effect within seconds, and the policy engine's
// nftables tables are gone once the cluster stops.

// policyPods are a server pod (app=server, its port named http), a client
// pod (role=client), another pod (role=other) and a Service in front of
// the server; every pod runs the demo web app on 8080.
const policyPods = `
apiVersion: v1
kind: Pod
metadata: {name: server, labels: {app: server}}
spec:
  containers: [{name: web, image: %[1]s, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  containers: [{name: web, image: %[1]s, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, labels: {role: other}}
spec:
  containers: [{name: web, image: %[1]s, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: server}
spec:
  selector: {app: server}
  ports: [{port: 80, targetPort: http}]
`

const (
	// denyIngress isolates every pod of the namespace for ingress.
	denyIngress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress}
spec:
  podSelector: {}
  policyTypes: [Ingress]
`
	// allowClients lets pods labelled role=client reach the server's
	// named port.
	allowClients = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-clients}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: client}}}]
    ports: [{port: http}]
`
	// denyClientEgress isolates the client pods for egress.
	denyClientEgress = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-client-egress}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
`
)

// fetchFrom runs `demo get http://to/` in the container of pod, and
// fails unless it answered with the demo's hello. Each run is a new
// process, so a new connection: what the policies in force decide, not
// a connection kept alive from before. A connection whose packets are
// dropped makes it fail after three seconds.
func fetchFrom(ctx context.Context, c *cluster.Cluster, pod *objects.Pod, to string) error {
	_, id, ok := strings.Cut(pod.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok {
		return fmt.Errorf("pod %s: container id %q", pod.Name, pod.Status.ContainerStatuses[0].ContainerID)
	}
	ex, ok := c.Runtime.(runtime.Execer)
	if !ok {
		return fmt.Errorf("%s cannot exec", c.RuntimeName)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := ex.Exec(ctx, id, runtime.ExecOptions{Command: []string{"/demo", "get", "http://" + to + "/"}, Stdout: &stdout, Stderr: &stderr})
	switch {
	case err != nil:
		return err
	case code != 0:
		return fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(stderr.String()))
	case !strings.Contains(stdout.String(), "hello from"):
		return fmt.Errorf("unexpected answer %q", stdout.String())
	}
	return nil
}

// nftTableExists tells whether a table named name exists in family fam.
func nftTableExists(t *testing.T, name string, fam nftables.TableFamily) bool {
	t.Helper()
	c, err := nftables.New()
	require.NoError(t, err)
	tables, err := c.ListTablesOfFamily(fam)
	require.NoError(t, err)
	for _, tb := range tables {
		if tb.Name == name {
			return true
		}
	}
	return false
}

func TestE2ENetworkPolicy(t *testing.T) {
	for _, rt := range realRuntimes {
		t.Run(rt, func(t *testing.T) { testNetworkPolicy(t, rt) })
	}
}

func testNetworkPolicy(t *testing.T, rt string) {
	var table string
	// Registered first, so run last: after the cluster stopped.
	t.Cleanup(func() {
		if table == "" {
			return
		}
		for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyBridge} {
			assert.False(t, nftTableExists(t, table, fam), "the policy table %s is left after the cluster stopped", table)
		}
	})
	c := e2eCluster(t, rt, network.DataPlaneNFTables, cluster.Options{})
	require.True(t, c.Network().Policy().Enforced(), "policies are enforced where the kernel data plane runs")
	table = c.Network().Policy().TableName()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	apply(t, ctx, c, fmt.Sprintf(policyPods, c.DemoImage))
	pods := map[string]*objects.Pod{}
	for _, name := range []string{"server", "client", "other"} {
		p, err := podkit.WaitUntil(ctx, c.Orchestrator, "default", name, func(p *objects.Pod) bool {
			return p.Status.Phase == objects.PodRunning && p.Status.PodIP != "" &&
				len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].ContainerID != ""
		})
		require.NoError(t, err, name)
		pods[name] = p
	}
	waitEndpoints(t, ctx, c, "server", 1)
	svc := &objects.Service{}
	require.NoError(t, c.Get(ctx, objects.Key{Namespace: "default", Name: "server"}, svc))
	server := net.JoinHostPort(pods["server"].Status.PodIP, "8080")
	service := net.JoinHostPort(svc.Spec.ClusterIP, "80")
	require.True(t, nftTableExists(t, table, nftables.TableFamilyIPv4), "the policy table exists while the cluster runs")

	reach := func(from, to string) func() (bool, string) {
		return func() (bool, string) {
			err := fetchFrom(ctx, c, pods[from], to)
			return err == nil, fmt.Sprintf("%s -> %s: %v", from, to, err)
		}
	}
	blocked := func(from, to string) func() (bool, string) {
		return func() (bool, string) {
			err := fetchFrom(ctx, c, pods[from], to)
			return err != nil, fmt.Sprintf("%s -> %s answered", from, to)
		}
	}
	// within waits for a policy change to take effect within a few
	// seconds, and logs how long it took.
	within := func(what string, cond func() (bool, string)) {
		t.Helper()
		start := time.Now()
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		waitFor(t, wctx, what, cond)
		t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
	}
	// stillBlocked checks a connection the policies in force already deny.
	stillBlocked := func(from, to string) {
		t.Helper()
		ok, seen := blocked(from, to)()
		assert.True(t, ok, seen)
	}

	// No policy: everything passes.
	for _, from := range []string{"client", "other"} {
		for _, to := range []string{server, service} {
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			waitFor(t, wctx, from+" reaches "+to, reach(from, to))
			cancel()
		}
	}

	require.NoError(t, c.Apply(ctx, objectsOf(t, c.Scheme(), denyIngress)...))
	within("default-deny ingress blocks client -> server", blocked("client", server))
	stillBlocked("client", service) // DNAT comes first: the policy sees the server pod
	stillBlocked("other", server)
	// The host reaches every pod whatever the policies say.
	_, err := hello(ctx, client(), "http://"+server+"/", "")
	require.NoError(t, err, "host -> server under default deny")

	require.NoError(t, c.Apply(ctx, objectsOf(t, c.Scheme(), allowClients)...))
	within("allow-clients lets client -> server through", reach("client", server))
	within("allow-clients lets client -> service through", reach("client", service))
	stillBlocked("other", server)
	stillBlocked("other", service)

	egress := objectsOf(t, c.Scheme(), denyClientEgress)
	require.NoError(t, c.Apply(ctx, egress...))
	within("egress default-deny blocks client -> server", blocked("client", server))
	stillBlocked("client", service)

	// Deleting the policies opens the way again.
	for _, o := range append(egress, append(objectsOf(t, c.Scheme(), denyIngress), objectsOf(t, c.Scheme(), allowClients)...)...) {
		require.NoError(t, c.Delete(ctx, o))
	}
	within("without policies other -> server passes", reach("other", server))
	within("without policies client -> service passes", reach("client", service))
}

// objectsOf decodes manifest.
func objectsOf(t *testing.T, s *objects.Scheme, manifest string) []objects.Object {
	t.Helper()
	objs, err := s.Decode(strings.NewReader(manifest))
	require.NoError(t, err)
	return objs
}

// A NetworkPolicy is a kind like the others: applied from a manifest,
// defaulted and validated, listed and watched. Without WithNetwork it is
// stored but not enforced, and the log says so once.
func TestNetworkPolicyKind(t *testing.T) {
	var logs syncLog
	o, err := podkit.New(podkit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)
	t.Cleanup(func() { o.Close() })
	require.False(t, o.Network().Policy().Enforced())
	ctx := runOrchestrator(t, o)
	w, err := o.Watch(ctx, podkit.KindNetworkPolicy, podkit.InNamespace("default"))
	require.NoError(t, err)
	defer w.Stop()

	objs, err := o.Scheme().Decode(strings.NewReader(allowClients))
	require.NoError(t, err)
	require.NoError(t, o.Apply(ctx, objs...))
	pols, err := podkit.List[*objects.NetworkPolicy](ctx, o, "default")
	require.NoError(t, err)
	require.Len(t, pols, 1)
	assert.Equal(t, []objects.PolicyType{objects.PolicyTypeIngress}, pols[0].Spec.PolicyTypes)
	assert.Equal(t, objects.ProtocolTCP, *pols[0].Spec.Ingress[0].Ports[0].Protocol)
	select {
	case ev := <-w.Events():
		assert.Equal(t, "allow-clients", ev.Object().GetObjectMeta().Name)
	case <-ctx.Done():
		t.Fatal("no watch event")
	}

	bad := objectsOf(t, o.Scheme(), `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}, podSelector: {}}]
    ports: [{port: http, endPort: 90}]
`)
	err = o.Apply(ctx, bad...)
	require.ErrorIs(t, err, objects.ErrInvalid)
	for _, want := range []string{
		"spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
		`spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict subset of ` + "`cidr`",
		"spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer",
	} {
		assert.Contains(t, err.Error(), want)
	}

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waitFor(t, wctx, "the not-enforced warning", func() (bool, string) {
		return strings.Contains(logs.String(), "NetworkPolicies are stored but not enforced"), logs.String()
	})
}

// syncLog is a log destination safe for concurrent writes.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
