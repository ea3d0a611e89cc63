// Command manifests runs ordinary Kubernetes YAML on podkit: it applies
// every manifest of a directory to an orchestrator of three nodes, waits
// until every Deployment, StatefulSet and DaemonSet is available and every
// Job complete, and prints the pods, as `kubectl get pods -o wide` does.
//
//	go run ./examples/manifests                          # the manifests beside this file
//	go run ./examples/manifests -runtime containerd ./my-manifests
//	go run ./examples/manifests -runtime fake -timeout 30s DIR
//
// Without DIR it applies the manifests built into the program: web.yaml (a
// Deployment with its ConfigMap and Secret, a Service, an Ingress and an
// autoscaler), db.yaml (a StatefulSet with a volume per member behind a
// headless Service), batch.yaml (a Job, a CronJob and a DaemonSet) and
// policy.yaml (a ValidatingAdmissionPolicy limiting replicas, and a
// MutatingAdmissionPolicy labelling every pod).
// DIR is read for .yaml, .yml and .json files, in name order, and every
// object is applied in one transaction: a rejected manifest stores nothing.
//
// No registry is needed: an image named podkit.local/demo, with any tag,
// is the demo program of internal/testimage/cmd/demo, built and loaded
// into the runtime when missing. Manifests of your own may use it: with no
// arguments it serves HTTP on :8080 (/ says hello, /healthz); with
// "exit CODE" it exits with CODE, as a Job's pod does; see its doc for
// more. Other images are pulled as usual.
//
// The program exits 0 when everything became ready within -timeout
// (default 3m), and 1 otherwise, naming the object that did not and why: a
// pod's waiting reason, an unschedulable message, a Job's Failed
// condition. Either way it deletes what it created before it exits.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/objects"
)

// builtin holds the manifests applied when no directory is given.
//
//go:embed *.yaml
var builtin embed.FS

func main() { exampleutil.Main("manifests", run) }

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	flags := flag.NewFlagSet("manifests", flag.ContinueOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: manifests [flags] [DIR]\n")
		flags.PrintDefaults()
	}
	opts := exampleutil.Flags(flags)
	timeout := flags.Duration("timeout", 3*time.Minute, "how long the objects have to become ready")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 1 {
		flags.Usage()
		return errors.New("at most one directory")
	}
	start := time.Now()

	// Decode first: a manifest podkit does not accept fails here, naming
	// the file, the document and the field, before anything starts.
	var fsys, where = fs.FS(builtin), "the built-in manifests"
	if dir := flags.Arg(0); dir != "" {
		fsys, where = os.DirFS(dir), dir
	}
	objs, err := readManifests(fsys)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}

	c, err := exampleutil.Start(ctx, out, opts, cluster.Options{Nodes: 3})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()
	useDemoImage(out, c.DemoImage, objs)

	exampleutil.Step(out, "Apply %d objects", len(objs))
	if err := c.Apply(ctx, objs...); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	// Whatever happens next, delete what was applied, and wait until its
	// pods are gone from the runtime.
	defer func() {
		ctx, cancel := exampleutil.Cleanup(ctx, 2*time.Minute)
		defer cancel()
		exampleutil.Step(out, "Delete everything")
		err = errors.Join(err, deleteAll(ctx, out, c, objs))
	}()
	exampleutil.PrintApplied(out, objs...)

	exampleutil.Step(out, "Wait until every workload is available and every Job complete (timeout %s)", *timeout)
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	for _, obj := range objs {
		switch obj.(type) {
		case *objects.Deployment, *objects.StatefulSet, *objects.DaemonSet, *objects.Job:
			if err := exampleutil.WaitReady(wctx, out, c.Orchestrator, obj); err != nil {
				printPods(ctx, out, c, objs)
				return err
			}
		}
	}

	exampleutil.Step(out, "Pods")
	if err := printPods(ctx, out, c, objs); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nEverything is ready, %s after the start.\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// readManifests decodes every .yaml, .yml and .json file of fsys, in
// name order.
func readManifests(fsys fs.FS) ([]objects.Object, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, errors.New("no .yaml, .yml or .json files")
	}
	var all []objects.Object
	for _, name := range files {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		objs, err := objects.DecodeYAML(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, objs...)
	}
	return all, nil
}

// useDemoImage makes every container that names the demo image's
// repository (testimage.DemoRepository, "podkit.local/demo", with any
// tag) run the demo image built for this cluster.
func useDemoImage(out io.Writer, ref string, objs []objects.Object) {
	seen := map[string]bool{}
	for _, obj := range objs {
		for _, spec := range podSpecs(obj) {
			for _, cs := range [][]objects.Container{spec.InitContainers, spec.Containers} {
				for i := range cs {
					repo, _, _ := strings.Cut(cs[i].Image, "@")
					if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
						repo = repo[:i]
					}
					if repo != testimage.DemoRepository {
						continue
					}
					if !seen[cs[i].Image] {
						fmt.Fprintf(out, "image %s is the demo image %s\n", cs[i].Image, ref)
						seen[cs[i].Image] = true
					}
					cs[i].Image = ref
				}
			}
		}
	}
}

// podSpecs returns the pod spec of a Pod and the pod templates' specs of
// the workloads.
func podSpecs(obj objects.Object) []*objects.PodSpec {
	switch o := obj.(type) {
	case *objects.Pod:
		return []*objects.PodSpec{&o.Spec}
	case *objects.Deployment:
		return []*objects.PodSpec{&o.Spec.Template.Spec}
	case *objects.ReplicaSet:
		return []*objects.PodSpec{&o.Spec.Template.Spec}
	case *objects.ReplicationController:
		if o.Spec.Template != nil {
			return []*objects.PodSpec{&o.Spec.Template.Spec}
		}
	case *objects.StatefulSet:
		return []*objects.PodSpec{&o.Spec.Template.Spec}
	case *objects.DaemonSet:
		return []*objects.PodSpec{&o.Spec.Template.Spec}
	case *objects.Job:
		return []*objects.PodSpec{&o.Spec.Template.Spec}
	case *objects.CronJob:
		return []*objects.PodSpec{&o.Spec.JobTemplate.Spec.Template.Spec}
	}
	return nil
}

// namespaces lists the namespaces objs live in.
func namespaces(objs []objects.Object) []string {
	var ns []string
	for _, obj := range objs {
		if n := obj.GetObjectMeta().Namespace; n != "" && !slices.Contains(ns, n) {
			ns = append(ns, n)
		}
	}
	return ns
}

func printPods(ctx context.Context, out io.Writer, c *cluster.Cluster, objs []objects.Object) error {
	for _, ns := range namespaces(objs) {
		if ns != podkit.DefaultNamespace {
			fmt.Fprintf(out, "namespace %s:\n", ns)
		}
		if err := exampleutil.PrintPods(ctx, out, c.Orchestrator, ns, ""); err != nil {
			return err
		}
	}
	return nil
}

// deleteAll deletes objs and the volume claims their StatefulSets made
// (which Kubernetes keeps when a StatefulSet goes), then waits until their
// pods are gone from the orchestrator and the runtime.
func deleteAll(ctx context.Context, out io.Writer, c *cluster.Cluster, objs []objects.Object) error {
	errs := []error{exampleutil.Delete(ctx, out, c.Orchestrator, objs...)}
	for _, ns := range namespaces(objs) {
		pvcs, err := podkit.List[*objects.PersistentVolumeClaim](ctx, c.Orchestrator, ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var claims []objects.Object
		for _, pvc := range pvcs {
			claims = append(claims, pvc)
		}
		errs = append(errs, exampleutil.Delete(ctx, out, c.Orchestrator, claims...))
	}
	for _, ns := range namespaces(objs) {
		errs = append(errs, exampleutil.WaitGone(ctx, c, ns))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "nothing left: no pods, no sandboxes or containers in the %s runtime\n", c.RuntimeName)
	return nil
}
