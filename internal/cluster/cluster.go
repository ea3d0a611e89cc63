// Package cluster starts a podkit orchestrator on a chosen container
// runtime for the examples and the end-to-end tests: it connects to Docker
// or containerd (or makes a fake runtime), loads the demo image built from
// the project's own program (internal/testimage), registers nodes and runs
// the orchestrator until Stop.
//
//	c, err := cluster.Start(ctx, cluster.Options{Runtime: "docker", Nodes: 3})
//	defer c.Stop()
//	// pods may now use c.DemoImage
package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/network/ingress"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
	"github.com/podkit/podkit/runtime/docker"
	"github.com/podkit/podkit/runtime/fake"
)

// Runtime names.
const (
	Docker     = "docker"
	Containerd = "containerd"
	Fake       = "fake"
)

// Names lists the runtime names Start takes.
var Names = []string{Docker, Containerd, Fake}

// Probe tells whether the daemon of runtime name answers (nil), or why not.
// The fake runtime always answers.
func Probe(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// A containerd namespace of the probe's own, whose state directory
	// (made by containerd.New) goes with it: the probe leaves nothing, and
	// concurrent probes never remove each other's.
	ns := fmt.Sprintf("podkit-probe-%d-%d", os.Getpid(), probes.Add(1))
	if name == Containerd {
		defer os.RemoveAll(filepath.Join(containerd.DefaultStateDir, ns))
	}
	rt, err := connect(ctx, name, ns)
	if err != nil {
		return err
	}
	return rt.Close()
}

var probes atomic.Int64

// Default returns the runtime examples use when none is asked for: docker
// when its daemon answers, else fake, with a note saying why.
func Default(ctx context.Context) (name, note string) {
	if err := Probe(ctx, Docker); err != nil {
		return Fake, fmt.Sprintf("note: the Docker daemon does not answer (%v); using the fake runtime, pods run in memory only (-runtime to choose)", err)
	}
	return Docker, ""
}

// Options configure Start.
type Options struct {
	// Runtime is docker, containerd or fake; empty means Default.
	Runtime string
	// Nodes is the number of nodes, named node-1..node-N unless NodeNames
	// names them (default 1).
	Nodes     int
	NodeNames []string
	// Node, when set, adjusts each node before it is registered (labels,
	// taints, capacity).
	Node func(i int, n *objects.Node)
	// Namespace keeps clusters of concurrent processes apart: it is the
	// containerd namespace and, when set, the prefix of the default node
	// names (NAMESPACE-node-1...), since node agents sharing a daemon tell
	// their containers apart by node name. Tests set it; the default is
	// "podkit" with nodes node-1...
	Namespace string
	// Isolated gives the cluster, on the real runtimes, what it would
	// otherwise share with clusters of other processes on the host: a pod
	// network of its own (a Docker network, or a CNI network, bridge and
	// subnet, named after Namespace and removed by Stop), an nftables
	// table, a service CIDR, and a free loopback port for DNS. Its pods then
	// reach its own cluster DNS on their gateway (only one process can
	// serve a gateway's port 53) and its cluster IPs are its own. Network
	// options may still override these.
	Isolated bool
	// Ingress runs the Ingress controller on free loopback ports (see
	// Cluster.IngressHTTP) on the real runtimes.
	Ingress bool
	// Network adds network options; on the real runtimes service
	// networking is on.
	Network []network.Option
	// Orchestrator adds orchestrator options.
	Orchestrator []podkit.Option
	// Logger receives the orchestrator's logs (default: discard).
	Logger *slog.Logger
	// Out receives notes such as the runtime fallback (default os.Stderr).
	Out io.Writer
}

// Cluster is a running orchestrator with its nodes.
type Cluster struct {
	*podkit.Orchestrator
	// RuntimeName is the runtime in use.
	RuntimeName string
	// Runtime is the runtime every node uses.
	Runtime runtime.Runtime
	// Nodes are the registered nodes' names.
	Nodes []string
	// DemoImage is the reference of the demo image (internal/testimage)
	// loaded into the runtime; on the fake runtime it only names it.
	DemoImage string
	// IngressHTTP and IngressHTTPS are the Ingress controller's
	// addresses, when Options.Ingress is set on a real runtime.
	IngressHTTP, IngressHTTPS string

	// base are the orchestrator options Start made; node adjusts nodes
	// (Options.Node).
	base []podkit.Option
	node func(i int, n *objects.Node)

	// cancel stops the running orchestrator; nil when none runs.
	cancel  context.CancelFunc
	done    chan error
	stopped chan struct{}
	runErr  error
	// dropNetwork removes the pod network of an Isolated cluster.
	dropNetwork func(context.Context) error
	once        sync.Once
	err         error
}

// Real tells whether pods run in real containers.
func (c *Cluster) Real() bool { return c.RuntimeName != Fake }

// Start connects to the runtime, loads the demo image, creates the
// orchestrator, registers the nodes and runs it in the background.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	if o.Runtime == "" {
		var note string
		o.Runtime, note = Default(ctx)
		if note != "" {
			fmt.Fprintln(out, note)
		}
	}
	prefix := o.Namespace + "-"
	if o.Namespace == "" {
		o.Namespace, prefix = "podkit", ""
	}
	names := o.NodeNames
	if len(names) == 0 {
		n := max(o.Nodes, 1)
		for i := range n {
			names = append(names, prefix+"node-"+strconv.Itoa(i+1))
		}
	}
	var (
		rt          runtime.Runtime
		dropNetwork func(context.Context) error
		err         error
	)
	if o.Isolated {
		rt, dropNetwork, err = ConnectIsolated(ctx, o.Runtime, o.Namespace)
	} else {
		rt, err = connect(ctx, o.Runtime, o.Namespace)
	}
	if err != nil {
		return nil, err
	}
	c := &Cluster{RuntimeName: o.Runtime, Runtime: rt, Nodes: names, dropNetwork: dropNetwork}
	ok := false
	defer func() {
		if !ok {
			if dropNetwork != nil {
				_ = dropNetwork(context.Background())
			}
			_ = rt.Close()
		}
	}()
	img, err := testimage.Demo(ctx)
	if err != nil {
		return nil, fmt.Errorf("building the demo image: %w", err)
	}
	c.DemoImage = img.Ref
	if l, isLoader := rt.(testimage.Loader); isLoader {
		if err := testimage.Ensure(ctx, l, img); err != nil {
			return nil, fmt.Errorf("loading the demo image into %s: %w", o.Runtime, err)
		}
	}
	opts := []podkit.Option{}
	if o.Logger != nil {
		opts = append(opts, podkit.WithLogger(o.Logger))
	}
	if c.Real() {
		netOpts := []network.Option{}
		if o.Isolated {
			netOpts = append(netOpts, isolatedNetwork(o.Namespace)...)
		}
		if o.Ingress {
			httpAddr, err := freeAddr()
			if err != nil {
				return nil, err
			}
			httpsAddr, err := freeAddr()
			if err != nil {
				return nil, err
			}
			c.IngressHTTP, c.IngressHTTPS = httpAddr, httpsAddr
			netOpts = append(netOpts, network.WithIngress(ingress.WithHTTPAddr(httpAddr), ingress.WithHTTPSAddr(httpsAddr)))
		}
		opts = append(opts, podkit.WithNetwork(append(netOpts, o.Network...)...))
	}
	c.base, c.node = opts, o.Node
	if err := c.StartOrchestrator(ctx, o.Orchestrator...); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// StartOrchestrator creates an orchestrator with the cluster's options and
// opts (in place of Options.Orchestrator), registers the cluster's nodes
// and runs it in the background. Start calls it; call it again after
// StopOrchestrator.
func (c *Cluster) StartOrchestrator(ctx context.Context, opts ...podkit.Option) error {
	if c.cancel != nil {
		return errors.New("the cluster's orchestrator is running")
	}
	orch, err := podkit.New(append(slices.Clone(c.base), opts...)...)
	if err != nil {
		return err
	}
	for i, name := range c.Nodes {
		n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}}
		n.Status.Capacity = objects.ResourceList{
			objects.ResourceCPU:    objects.MustParseQuantity("4"),
			objects.ResourceMemory: objects.MustParseQuantity("8Gi"),
			objects.ResourcePods:   objects.MustParseQuantity("110"),
		}
		if c.node != nil {
			c.node(i, n)
		}
		if err := orch.RegisterNode(ctx, n, c.Runtime); err != nil {
			_ = orch.Close()
			return err
		}
	}
	c.Orchestrator = orch
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	stopped, done := make(chan struct{}), make(chan error, 1)
	c.stopped, c.done = stopped, done
	go func() {
		err := orch.Run(runCtx)
		c.runErr = err
		close(stopped)
		done <- err
	}()
	return nil
}

// StopOrchestrator stops the orchestrator, waits for its Run to return and
// closes it, as a host process that stops does: the runtime connection,
// the pod network and the pods on a real runtime stay. Stop does the rest.
func (c *Cluster) StopOrchestrator() error {
	if c.cancel == nil {
		return nil
	}
	c.cancel()
	c.cancel = nil
	return errors.Join(<-c.done, c.Orchestrator.Close())
}

// Done is closed when the orchestrator's Run has returned: after Stop, or
// when a loop failed (Err says why) — waits can select on it so a failed
// cluster does not leave them waiting until their deadline.
func (c *Cluster) Done() <-chan struct{} { return c.stopped }

// Err returns what Run returned once Done is closed, else nil.
func (c *Cluster) Err() error {
	select {
	case <-c.stopped:
		return c.runErr
	default:
		return nil
	}
}

// Leftovers lists the sandboxes and containers the runtime holds for pods
// of namespace ("" for every namespace) on the cluster's nodes, found by
// the labels podkit's node agents put on them. A node agent removes a
// deleted pod's containers and sandbox after the pod left the store, so
// wait for this to be empty before Stop.
func (c *Cluster) Leftovers(ctx context.Context, namespace string) ([]string, error) {
	var left []string
	for _, node := range c.Nodes {
		f := runtime.Filter{Labels: map[string]string{runtime.LabelNode: node}}
		if namespace != "" {
			f.Labels[runtime.LabelPodNamespace] = namespace
		}
		sbs, err := c.Runtime.ListSandboxes(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("listing sandboxes of node %s: %w", node, err)
		}
		for _, sb := range sbs {
			left = append(left, fmt.Sprintf("sandbox of pod %s (%s)", sb.Labels[runtime.LabelPodName], sb.State))
		}
		ctrs, err := c.Runtime.ListContainers(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("listing containers of node %s: %w", node, err)
		}
		for _, ct := range ctrs {
			left = append(left, fmt.Sprintf("container %s/%s (%s)", ct.Labels[runtime.LabelPodName], ct.Labels[runtime.LabelContainerName], ct.State))
		}
	}
	return left, nil
}

// Stop stops the orchestrator, waits for Run to return and closes the
// store and the runtime connection. Pods still bound to the nodes keep
// running on a real runtime: delete what was created first. Stop removes
// the pod network of an Isolated cluster, which fails while pods are left
// on it.
func (c *Cluster) Stop() error {
	c.once.Do(func() {
		c.err = c.StopOrchestrator()
		if c.dropNetwork != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c.err = errors.Join(c.err, c.dropNetwork(ctx))
		}
		c.err = errors.Join(c.err, c.Runtime.Close())
	})
	return c.err
}

// ConnectIsolated connects to runtime name with a pod network of the
// cluster's own, named after namespace (see Options.Isolated), and returns
// what removes that network (and on containerd the namespace), which fails
// while pods are left on it; nil on the fake runtime.
func ConnectIsolated(ctx context.Context, name, namespace string) (runtime.Runtime, func(context.Context) error, error) {
	switch name {
	case Docker:
		rt, err := docker.New(ctx, docker.WithNetwork(namespace+"-pods"))
		if err != nil {
			return nil, nil, err
		}
		return rt, rt.RemoveNetwork, nil
	case Containerd:
		h := fnv.New32a()
		h.Write([]byte(namespace))
		sum := h.Sum32()
		bridge := fmt.Sprintf("pk%08x", sum) // within IFNAMSIZ
		subnet, err := freeSubnet(bridge, int(sum%200))
		if err != nil {
			return nil, nil, err
		}
		rt, err := containerd.New(ctx, containerd.WithNamespace(namespace),
			containerd.WithNetwork(namespace, bridge), containerd.WithSubnet(subnet))
		if err != nil {
			return nil, nil, err
		}
		drop := func(ctx context.Context) error {
			sbs, err := rt.ListSandboxes(ctx, runtime.Filter{})
			if err != nil {
				return err
			}
			if len(sbs) > 0 {
				return fmt.Errorf("pod bridge %s kept: %d sandboxes are left on it", bridge, len(sbs))
			}
			l, err := netlink.LinkByName(bridge)
			if err != nil {
				return nil // never made: no pod ran
			}
			if err := netlink.LinkDel(l); err != nil {
				return fmt.Errorf("removing the pod bridge %s: %w", bridge, err)
			}
			if err := os.RemoveAll(filepath.Join(containerd.DefaultStateDir, "cni", "ipam", namespace)); err != nil {
				return err
			}
			return rt.RemoveNamespace(ctx)
		}
		return rt, drop, nil
	}
	rt, err := connect(ctx, name, namespace)
	return rt, nil, err
}

// freeSubnet returns a /24 of 10.216.0.0/16 from the i-th on that no
// route of the host overlaps, other than one through bridge (left by an
// earlier cluster of the same name).
func freeSubnet(bridge string, i int) (netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("listing routes: %w", err)
	}
	var taken []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			continue // the default route
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().Name == bridge {
			continue
		}
		if p, ok := netipx(r.Dst); ok {
			taken = append(taken, p)
		}
	}
	for j := range 256 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 216, byte((i + j) % 256), 0}), 24)
		if !slices.ContainsFunc(taken, p.Overlaps) {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.216.0.0/16 for the pod network")
}

func netipx(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), bits), true
}

// isolatedNetwork returns the network options of an Isolated cluster: an
// nftables table and a service CIDR (a /24 of 10.217.0.0/16) named after
// namespace, and DNS on a free loopback port (pods use their gateway).
func isolatedNetwork(namespace string) []network.Option {
	h := fnv.New32a()
	h.Write([]byte(namespace))
	cidr := fmt.Sprintf("10.217.%d.0/24", h.Sum32()%256)
	return []network.Option{
		network.WithNFTablesTable(namespace),
		network.WithServiceCIDR(cidr),
		network.WithDNS([]string{"127.0.0.1:0"}),
	}
}

func connect(ctx context.Context, name, namespace string) (runtime.Runtime, error) {
	switch name {
	case Docker:
		return docker.New(ctx)
	case Containerd:
		return containerd.New(ctx, containerd.WithNamespace(namespace))
	case Fake:
		return fake.New()
	}
	return nil, fmt.Errorf("unknown runtime %q: want one of %v", name, Names)
}

// freeAddr returns a loopback address with a port free at the time of
// asking.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Require skips t unless the daemon of runtime name answers; under
// CI=true, where .ci/run has started the daemons, it fails t instead.
func Require(t testing.TB, name string) {
	t.Helper()
	err := Probe(t.Context(), name)
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: runtime %s must answer: %v", name, err)
	}
	t.Skipf("runtime %s: %v", name, err)
}
