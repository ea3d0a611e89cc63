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
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

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
	rt, err := connect(ctx, name, "podkit-probe")
	if err != nil {
		return err
	}
	return rt.Close()
}

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

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
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
	rt, err := connect(ctx, o.Runtime, o.Namespace)
	if err != nil {
		return nil, err
	}
	c := &Cluster{RuntimeName: o.Runtime, Runtime: rt, Nodes: names, done: make(chan error, 1)}
	ok := false
	defer func() {
		if !ok {
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
	orch, err := podkit.New(append(opts, o.Orchestrator...)...)
	if err != nil {
		return nil, err
	}
	c.Orchestrator = orch
	for i, name := range names {
		n := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name}}
		n.Status.Capacity = objects.ResourceList{
			objects.ResourceCPU:    objects.MustParseQuantity("4"),
			objects.ResourceMemory: objects.MustParseQuantity("8Gi"),
			objects.ResourcePods:   objects.MustParseQuantity("110"),
		}
		if o.Node != nil {
			o.Node(i, n)
		}
		if err := orch.RegisterNode(ctx, n, rt); err != nil {
			_ = orch.Close()
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.done <- orch.Run(runCtx) }()
	ok = true
	return c, nil
}

// Stop stops the orchestrator, waits for Run to return and closes the
// store and the runtime connection. Pods still bound to the nodes keep
// running on a real runtime: delete what was created first.
func (c *Cluster) Stop() error {
	c.once.Do(func() {
		c.cancel()
		c.err = <-c.done
		c.err = errors.Join(c.err, c.Orchestrator.Close(), c.Runtime.Close())
	})
	return c.err
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
