// Command custom-controller shows a host platform's own kind, Website
// (example.com/v1), with a controller built on podkit's public reconcile
// API: for each Website it keeps a Deployment and a Service, owned by the
// Website, and reports the available replicas in the Website's status.
// Deleting the Website lets the garbage collector remove the rest.
//
// The host wires podkit itself, as a platform would: its own scheme, its
// controller registered before Run, two nodes on the chosen runtime. On
// docker and containerd the Website's pods serve the demo web app, and the
// example requests each endpoint of the Website's Service from the host.
//
//	go run ./examples/custom-controller [-runtime docker|containerd|fake] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
	"github.com/podkit/podkit/runtime/docker"
	"github.com/podkit/podkit/runtime/fake"
	"github.com/podkit/podkit/store"
)

func main() { exampleutil.Main("custom-controller", run) }

// run runs the example with the command-line arguments args, writing
// progress to out. It returns nil when everything shown worked.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("custom-controller", flag.ContinueOnError)
	flags := exampleutil.Flags(fs)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	flags.ChooseRuntime(ctx, out)

	scheme, err := newScheme()
	if err != nil {
		return err
	}
	opts := []podkit.Option{podkit.WithScheme(scheme)}
	if flags.Verbose {
		opts = append(opts, podkit.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	}
	o, err := podkit.New(opts...)
	if err != nil {
		return err
	}
	defer o.Close()
	// Controllers are registered before Run starts them.
	if err := o.RegisterController(websiteController(o.ControllerClient())); err != nil {
		return err
	}
	nodes, image, closeRuntimes, err := registerNodes(ctx, o, flags)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeRuntimes()) }()
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		err = errors.Join(err, <-done) // Run returns once every loop has
	}()
	fmt.Fprintf(out, "podkit running on %s with nodes %s\n", flags.Runtime, strings.Join(nodes, ", "))

	site := &Website{ObjectMeta: objects.ObjectMeta{Name: "blog"},
		Spec: WebsiteSpec{Image: image, Replicas: 2}}
	defer func() {
		// Whatever happened, leave no pod behind.
		ctx, cancel := exampleutil.Cleanup(ctx, time.Minute)
		defer cancel()
		if derr := o.Delete(ctx, site); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			err = errors.Join(err, derr)
		}
		err = errors.Join(err, waitNoPods(ctx, o), waitRuntimesClean(ctx, o, nodes))
	}()
	if err := o.Apply(ctx, site); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n$ kubectl apply -f blog.yaml\nwebsite.example.com/blog created")
	err = o.WaitFor(ctx, site, func(obj objects.Object) bool {
		w, ok := obj.(*Website)
		return ok && w.Status.AvailableReplicas == w.Spec.Replicas
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "website %q is available (%d/%d replicas)\n\n$ kubectl get websites,deployments,services,pods\n", site.Name, site.Status.AvailableReplicas, site.Spec.Replicas)
	if err := printAll(ctx, o, out); err != nil {
		return err
	}
	if err := requestEndpoints(ctx, o, out, flags.Runtime != cluster.Fake); err != nil {
		return err
	}

	if err := o.Delete(ctx, site); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ kubectl delete website %s\nwebsite.example.com %q deleted\n", site.Name, site.Name)
	for _, obj := range []objects.Object{
		&objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: site.Name}},
		&objects.Service{ObjectMeta: objects.ObjectMeta{Name: site.Name}},
	} {
		if err := o.WaitFor(ctx, obj, podkit.Deleted); err != nil {
			return fmt.Errorf("the garbage collector did not remove what the website owned: %w", err)
		}
		fmt.Fprintf(out, "%s %q removed by the garbage collector\n", obj.GetTypeMeta().Kind, site.Name)
	}
	if err := waitNoPods(ctx, o); err != nil {
		return err
	}
	fmt.Fprintln(out, "its pods are gone")
	fmt.Fprintf(out, "\ncustom-controller example: everything shown worked on %s in %v\n", flags.Runtime, time.Since(start).Round(time.Millisecond))
	return nil
}

// registerNodes connects to the runtime flags name and registers two
// nodes on it: one runtime connection shared by both on docker and
// containerd, a fake runtime each on fake. On the real runtimes it loads
// the demo image (internal/testimage: no registry is needed) and returns
// its reference as the image Websites run.
func registerNodes(ctx context.Context, o *podkit.Orchestrator, flags *exampleutil.Options) (nodes []string, image string, closeAll func() error, err error) {
	prefix, ns := "", "podkit"
	if flags.Cluster != "" {
		prefix, ns = flags.Cluster+"-", flags.Cluster
	}
	nodes = []string{prefix + "node-1", prefix + "node-2"}
	var rts []runtime.Runtime
	var dropNetwork func(context.Context) error
	closeAll = func() error {
		var errs []error
		if dropNetwork != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			errs = append(errs, dropNetwork(ctx))
		}
		for _, rt := range rts {
			errs = append(errs, rt.Close())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	image = "example.com/blog:1.0"
	var shared runtime.Runtime
	switch flags.Runtime {
	case cluster.Docker, cluster.Containerd:
		if flags.Cluster != "" {
			// A named cluster (as the tests run it) gets a pod network
			// (and a containerd namespace) of its own, removed at the end.
			shared, dropNetwork, err = cluster.ConnectIsolated(ctx, flags.Runtime, ns)
		} else if flags.Runtime == cluster.Docker {
			shared, err = docker.New(ctx)
		} else {
			shared, err = containerd.New(ctx, containerd.WithNamespace(ns))
		}
	case cluster.Fake:
	default:
		err = fmt.Errorf("unknown runtime %q: want one of %v", flags.Runtime, cluster.Names)
	}
	if err != nil {
		return nil, "", nil, err
	}
	if shared != nil {
		rts = append(rts, shared)
		img, err := testimage.Demo(ctx)
		if err != nil {
			return nil, "", nil, fmt.Errorf("building the demo image: %w", err)
		}
		if err := testimage.Ensure(ctx, shared.(testimage.Loader), img); err != nil {
			return nil, "", nil, err
		}
		image = img.Ref
	}
	for i, name := range nodes {
		rt := shared
		if rt == nil {
			f, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.244.%d.0/24", i+1)))
			if err != nil {
				return nil, "", nil, err
			}
			rts = append(rts, f)
			rt = f
		}
		node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{
				"cpu": objects.MustParseQuantity("4"), "memory": objects.MustParseQuantity("8Gi")}}}
		if err := o.RegisterNode(ctx, node, rt); err != nil {
			return nil, "", nil, err
		}
	}
	return nodes, image, closeAll, nil
}

// requestEndpoints prints the endpoints of the Website's Service and, on
// a real runtime, requests each from the host.
func requestEndpoints(ctx context.Context, o *podkit.Orchestrator, out io.Writer, onReal bool) error {
	ep := &objects.Endpoints{}
	err := o.WaitFor(ctx, &objects.Endpoints{ObjectMeta: objects.ObjectMeta{Name: "blog"}}, func(obj objects.Object) bool {
		e, ok := obj.(*objects.Endpoints)
		if ok && countAddresses(e) == 2 {
			*ep = *e
			return true
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("the service's endpoints: %w", err)
	}
	var addrs []string
	for _, ss := range ep.Subsets {
		for _, a := range ss.Addresses {
			for _, p := range ss.Ports {
				addrs = append(addrs, net.JoinHostPort(a.IP, fmt.Sprint(p.Port)))
			}
		}
	}
	fmt.Fprintf(out, "\n$ kubectl get endpoints blog\nNAME   ENDPOINTS\nblog   %s\n", strings.Join(addrs, ","))
	if !onReal {
		fmt.Fprintln(out, "(pods of the fake runtime serve no HTTP: requesting them is skipped)")
		return nil
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, a := range addrs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a+"/", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("requesting endpoint %s: %w", a, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("requesting endpoint %s: %s %v", a, resp.Status, err)
		}
		fmt.Fprintf(out, "$ curl http://%s/\n%s", a, b)
	}
	return nil
}

func countAddresses(e *objects.Endpoints) int {
	n := 0
	for _, ss := range e.Subsets {
		n += len(ss.Addresses)
	}
	return n
}

// waitNoPods waits until the default namespace holds no pod.
func waitNoPods(ctx context.Context, o *podkit.Orchestrator) error {
	return exampleutil.WaitPods(ctx, o, "default", "", func(ps []*objects.Pod) bool { return len(ps) == 0 })
}

// waitRuntimesClean waits until no runtime of the nodes holds a sandbox
// or container of theirs: a node agent removes a pod's containers just
// after the pod leaves the store.
func waitRuntimesClean(ctx context.Context, o *podkit.Orchestrator, nodes []string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		left := 0
		for _, n := range nodes {
			rt, ok := o.NodeRuntime(n)
			if !ok {
				continue
			}
			f := runtime.Filter{Labels: map[string]string{runtime.LabelNode: n}}
			sbs, err := rt.ListSandboxes(ctx, f)
			if err != nil {
				return err
			}
			cs, err := rt.ListContainers(ctx, f)
			if err != nil {
				return err
			}
			left += len(sbs) + len(cs)
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d sandboxes and containers of the nodes are left: %w", left, ctx.Err())
		case <-tick.C:
		}
	}
}

// printAll prints the Websites, Deployments, Services and Pods as `kubectl
// get` does.
func printAll(ctx context.Context, o *podkit.Orchestrator, out io.Writer) error {
	sites, err := podkit.List[*Website](ctx, o, "default")
	if err != nil {
		return err
	}
	deps, err := podkit.List[*objects.Deployment](ctx, o, "default")
	if err != nil {
		return err
	}
	svcs, err := podkit.List[*objects.Service](ctx, o, "default")
	if err != nil {
		return err
	}
	pods, err := podkit.List[*objects.Pod](ctx, o, "default")
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIMAGE\tREPLICAS\tAVAILABLE")
	for _, w := range sites {
		fmt.Fprintf(tw, "website.example.com/%s\t%s\t%d\t%d\n", w.Name, w.Spec.Image, w.Spec.Replicas, w.Status.AvailableReplicas)
	}
	fmt.Fprintln(tw, "\nNAME\tREADY\tUP-TO-DATE\tAVAILABLE\tOWNER")
	for _, d := range deps {
		fmt.Fprintf(tw, "deployment.apps/%s\t%d/%d\t%d\t%d\t%s\n", d.Name, d.Status.ReadyReplicas, *d.Spec.Replicas,
			d.Status.UpdatedReplicas, d.Status.AvailableReplicas, owner(&d.ObjectMeta))
	}
	fmt.Fprintln(tw, "\nNAME\tTYPE\tCLUSTER-IP\tPORT(S)\tOWNER")
	for _, s := range svcs {
		if s.Name == "kubernetes" {
			continue
		}
		fmt.Fprintf(tw, "service/%s\t%s\t%s\t%d/%s\t%s\n", s.Name, s.Spec.Type, orNone(s.Spec.ClusterIP),
			s.Spec.Ports[0].Port, s.Spec.Ports[0].Protocol, owner(&s.ObjectMeta))
	}
	fmt.Fprintln(tw, "\nNAME\tREADY\tSTATUS\tIP\tNODE")
	for _, p := range pods {
		fmt.Fprintf(tw, "pod/%s\t%v\t%s\t%s\t%s\n", p.Name, objects.IsPodReady(p), p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
	}
	return tw.Flush()
}

func owner(m *objects.ObjectMeta) string {
	if ref := m.ControllerRef(); ref != nil {
		return ref.Kind + "/" + ref.Name
	}
	return "<none>"
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
