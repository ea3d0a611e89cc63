// Package exampleutil holds what the examples share and a reader of an
// example need not study: the command-line flags every example takes, the
// cluster start, kubectl-style progress output and waits with a deadline
// that say what was seen when they give up.
//
//	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
//	opts := exampleutil.Flags(fs)
//	if err := fs.Parse(args); err != nil { ... }
//	c, err := exampleutil.Start(ctx, out, opts, cluster.Options{Nodes: 3})
//	defer c.Stop()
//	err = exampleutil.RolloutStatus(ctx, out, c.Orchestrator, dep)
package exampleutil

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/podkit/podkit/internal/cluster"
)

// Options are the flags every example takes.
type Options struct {
	// Runtime is -runtime: docker, containerd or fake. Empty picks docker
	// when its daemon answers, else fake with a printed note.
	Runtime string
	// Cluster is -cluster: the name that keeps clusters of concurrent runs
	// sharing a daemon apart. It is the containerd namespace and the prefix
	// of the node names, and on the real runtimes the cluster gets a pod
	// network, a service CIDR and an nftables table of its own
	// (cluster.Options.Isolated). Empty uses "podkit", nodes node-1...,
	// and the host's shared pod network.
	Cluster string
	// Verbose is -v: the orchestrator's logs go to stderr.
	Verbose bool
}

// Flags registers -runtime, -cluster and -v on fs.
func Flags(fs *flag.FlagSet) *Options {
	o := &Options{}
	fs.StringVar(&o.Runtime, "runtime", "", "container runtime: "+strings.Join(cluster.Names, ", ")+
		" (default docker when its daemon answers, else fake)")
	fs.StringVar(&o.Cluster, "cluster", "", "cluster name, for concurrent runs sharing a daemon: "+
		"containerd namespace, node-name prefix, and a pod network and service CIDR of its own (default: podkit, shared network)")
	fs.BoolVar(&o.Verbose, "v", false, "write the orchestrator's logs to stderr")
	return o
}

// Start starts a cluster as cfg says, on the runtime and with the name
// opts give, and prints which runtime it runs on. A note goes to out when
// the runtime was chosen for the user (docker not answering, fake used).
// Stop the cluster when done.
func Start(ctx context.Context, out io.Writer, opts *Options, cfg cluster.Options) (*cluster.Cluster, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.Runtime != "" {
		cfg.Runtime = opts.Runtime
	}
	if opts.Cluster != "" {
		cfg.Namespace, cfg.Isolated = opts.Cluster, true
	}
	if cfg.Out == nil {
		cfg.Out = out
	}
	if opts.Verbose && cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	start := time.Now()
	c, err := cluster.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the cluster: %w", err)
	}
	fmt.Fprintf(out, "cluster: %d node(s) on the %s runtime (%s), demo image %s, started in %s\n",
		len(c.Nodes), c.RuntimeName, strings.Join(c.Nodes, ", "), c.DemoImage, time.Since(start).Round(10*time.Millisecond))
	return c, nil
}

// UniqueCluster returns a cluster name (see Options.Cluster) no other
// process uses: prefix, this process's id and a random suffix. Tests of
// the examples give it with -cluster, so that test processes running at
// once on one daemon keep apart.
func UniqueCluster(prefix string) string {
	return fmt.Sprintf("%s-%d-%04x", prefix, os.Getpid(), rand.IntN(1<<16))
}

// Step prints the heading of a step of an example.
func Step(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "\n==> "+format+"\n", args...)
}

// Cleanup returns a context for deferred cleanup: it outlives ctx (which
// may have ended, the reason cleanup runs) by d.
func Cleanup(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Main runs an example's run function with the command-line arguments and
// standard output; Ctrl-C or SIGTERM cancels its context, so the example
// still cleans up. It exits 0 when run returns nil, 2 after -h, and 1,
// printing the error as "name: error", otherwise.
func Main(name string, run func(ctx context.Context, args []string, out io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// ChooseRuntime sets an empty -runtime to the default (docker when its
// daemon answers, else fake), printing to out why fake was chosen.
func (o *Options) ChooseRuntime(ctx context.Context, out io.Writer) {
	if o.Runtime != "" {
		return
	}
	var note string
	o.Runtime, note = cluster.Default(ctx)
	if note != "" {
		fmt.Fprintln(out, note)
	}
}

// FreeLoopbackAddr returns a 127.0.0.1 address whose port is free for both
// UDP and TCP at the time of asking, for a cluster DNS server of the
// example's own.
func FreeLoopbackAddr() (string, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		pc.Close()
		if err == nil {
			l.Close()
			return addr, nil
		}
	}
	return "", errors.New("no loopback port is free for both UDP and TCP")
}
