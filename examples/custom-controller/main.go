// Command custom-controller shows a host platform's own kind, Website
// (example.com/v1), with a controller built on podkit's public reconcile
// API: for each Website it keeps a Deployment and a Service, owned by the
// Website, and reports the available replicas in the Website's status.
// Deleting the Website lets the garbage collector remove the rest.
//
//	go run ./examples/custom-controller
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "custom-controller:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) (err error) {
	start := time.Now()
	scheme, err := newScheme()
	if err != nil {
		return err
	}
	o, err := podkit.New(podkit.WithScheme(scheme))
	if err != nil {
		return err
	}
	defer o.Close()
	// Controllers are registered before Run starts them.
	if err := o.RegisterController(websiteController(o.ControllerClient())); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(runCtx) }()
	defer func() {
		stop()
		err = errors.Join(err, <-done) // Run returns once every loop has
	}()

	for i, name := range []string{"node-1", "node-2"} {
		rt, err := fake.New(fake.WithPodCIDR(fmt.Sprintf("10.244.%d.0/24", i+1)))
		if err != nil {
			return err
		}
		node := &objects.Node{ObjectMeta: objects.ObjectMeta{Name: name},
			Status: objects.NodeStatus{Capacity: objects.ResourceList{
				"cpu": objects.MustParseQuantity("4"), "memory": objects.MustParseQuantity("8Gi")}}}
		if err := o.RegisterNode(ctx, node, rt); err != nil {
			return err
		}
	}

	site := &Website{ObjectMeta: objects.ObjectMeta{Name: "blog"},
		Spec: WebsiteSpec{Image: "example.com/blog:1.0", Replicas: 2}}
	if err := o.Apply(ctx, site); err != nil {
		return err
	}
	fmt.Println("website.example.com/blog created")
	err = o.WaitFor(ctx, site, func(obj objects.Object) bool {
		w, ok := obj.(*Website)
		return ok && w.Status.AvailableReplicas == w.Spec.Replicas
	})
	if err != nil {
		return err
	}
	fmt.Printf("website %q is available (%d/%d replicas)\n\n", site.Name, site.Status.AvailableReplicas, site.Spec.Replicas)
	if err := printAll(ctx, o); err != nil {
		return err
	}

	if err := o.Delete(ctx, site); err != nil {
		return err
	}
	fmt.Printf("\nwebsite.example.com %q deleted\n", site.Name)
	for _, obj := range []objects.Object{
		&objects.Deployment{ObjectMeta: objects.ObjectMeta{Name: site.Name}},
		&objects.Service{ObjectMeta: objects.ObjectMeta{Name: site.Name}},
	} {
		if err := o.WaitFor(ctx, obj, podkit.Deleted); err != nil {
			return fmt.Errorf("the garbage collector did not remove what the website owned: %w", err)
		}
		fmt.Printf("%s %q removed by the garbage collector\n", obj.GetTypeMeta().Kind, site.Name)
	}
	fmt.Printf("\ndone in %v\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// printAll prints the Websites, Deployments, Services and Pods as `kubectl
// get` does.
func printAll(ctx context.Context, o *podkit.Orchestrator) error {
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
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
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
