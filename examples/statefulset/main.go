// Command statefulset shows a StatefulSet as Kubernetes users know it:
// ordered pods with stable names, stable DNS names and their own volumes.
//
// It creates a headless Service db and a three-member StatefulSet db with
// podManagementPolicy OrderedReady and one PersistentVolumeClaim per pod
// (volumeClaimTemplates, provisioned by podkit's local-path provisioner
// through the default StorageClass), and shows:
//
//   - db-0, db-1 and db-2 are created in that order, each Running and Ready
//     before the next is created;
//   - db-0.db.default.svc.cluster.local ... resolve to the pods' IPs through
//     the orchestrator's own DNS server;
//   - data written to db-1 (PUT /data/NAME to its pod IP, from the host)
//     survives the deletion of db-1: the controller recreates db-1 with the
//     same claim, and GET returns the data.
//
// On the fake runtime pods run in memory: the order, the claims and DNS are
// shown, and the data step is skipped (fake pods have no filesystem).
//
//	go run ./examples/statefulset [-runtime docker|containerd|fake] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	set       = "db"
	namespace = "default"
	replicas  = 3
	dataFile  = "greeting"
)

// manifests is what `kubectl apply -f` would be given; %s is the image.
const manifests = `
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None   # headless: DNS names the pods themselves
  selector: {app: db}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  podManagementPolicy: OrderedReady
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: db
        image: %s
        args: [-data, /data]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 64Mi}
`

func main() { exampleutil.Main("statefulset", run) }

// run runs the example with the command-line arguments args, writing
// progress to out. It returns nil when everything shown worked.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("statefulset", flag.ContinueOnError)
	flags := exampleutil.Flags(fs)
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()

	// The cluster DNS server listens on a free loopback port so that the
	// host can query it without competing for port 53.
	dnsAddr, err := exampleutil.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	dnsOpt := network.WithDNS([]string{dnsAddr})
	flags.ChooseRuntime(ctx, out)
	opts := cluster.Options{Nodes: 2}
	if flags.Runtime == cluster.Fake {
		// Service networking is off on the fake runtime; DNS answers
		// from the store alone, so it runs, without a proxy.
		opts.Orchestrator = []podkit.Option{podkit.WithNetwork(dnsOpt, network.WithDataPlane(network.DataPlaneNone))}
	} else {
		// No service proxy: the example reaches pods by their IPs, and
		// the proxy's nftables table may be another orchestrator's too.
		opts.Network = []network.Option{dnsOpt, network.WithDataPlane(network.DataPlaneNone)}
	}
	c, err := exampleutil.Start(ctx, out, flags, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()

	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(manifests, c.DemoImage)))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cleanup(ctx, c, out)) }()

	// 1. Ordered creation: watch before applying, so every change is seen
	// in the order the store committed it.
	w, err := c.Watch(ctx, "", podkit.InNamespace(namespace))
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := c.Apply(ctx, objs...); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n$ kubectl apply -f db.yaml\nservice/db created\nstatefulset.apps/db created")
	fmt.Fprintln(out, "\n$ kubectl get pods -l app=db -w")
	f := newFollower(c.Orchestrator, w, out)
	sts := &objects.StatefulSet{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: set}}
	if err := f.until(ctx, func(obj objects.Object) bool {
		s, ok := obj.(*objects.StatefulSet)
		return ok && s.Name == set && podkit.Available(s)
	}); err != nil {
		return fmt.Errorf("statefulset db did not roll out: %w", err)
	}
	if err := f.orderErr(); err != nil {
		return err
	}
	if err := c.Get(ctx, sts.Key(), sts); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ kubectl rollout status statefulset/db\nstatefulset rolling update complete %d pods at revision %s...\n", sts.Status.ReadyReplicas, sts.Status.UpdateRevision)
	fmt.Fprintf(out, "pods created in order %s, each Running and Ready before the next\n", strings.Join(f.created, ", "))

	pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, namespace, podkit.WithLabels("app=db"))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n$ kubectl get pods -l app=db -o wide")
	kubectl.PrintPods(out, c.Clock().Now(), pods)
	fmt.Fprintln(out, "\n$ kubectl get pvc")
	if err := printClaims(ctx, c.Orchestrator, out); err != nil {
		return err
	}

	// 2. Stable DNS names, from the orchestrator's DNS server.
	fmt.Fprintf(out, "\n$ dig @%s +short <pod>.db.default.svc.cluster.local\n", dnsAddr)
	if err := checkDNS(ctx, dnsAddr, pods, out); err != nil {
		return err
	}

	// 3. db-1's data outlives db-1.
	old := podNamed(pods, set+"-1")
	if old == nil {
		return errors.New("pod db-1 is missing")
	}
	claim := claimOf(old)
	volume, err := volumeOf(ctx, c.Orchestrator, claim)
	if err != nil {
		return err
	}
	var written string
	if c.Real() {
		written = fmt.Sprintf("written to %s (uid %s) at %s", old.Name, old.UID, time.Now().Format(time.RFC3339))
		fmt.Fprintf(out, "\n$ curl -X PUT --data %q http://%s:8080/data/%s\n", written, old.Status.PodIP, dataFile)
		if err := putData(ctx, old.Status.PodIP, dataFile, written); err != nil {
			return fmt.Errorf("writing to db-1: %w", err)
		}
	} else {
		fmt.Fprintln(out, "\nskipped on the fake runtime: writing and reading db-1's data (fake pods have no filesystem); the claim is still followed")
	}

	fmt.Fprintf(out, "\n$ kubectl delete pod db-1\npod \"db-1\" deleted\n")
	if err := c.Delete(ctx, old); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n$ kubectl get pods -l app=db -w")
	var recreated *objects.Pod
	if err := f.until(ctx, func(obj objects.Object) bool {
		p, ok := obj.(*objects.Pod)
		if ok && p.Name == old.Name && p.UID != old.UID && objects.IsPodReady(p) {
			recreated = p
			return true
		}
		return false
	}); err != nil {
		return fmt.Errorf("db-1 was not recreated: %w", err)
	}
	if got := claimOf(recreated); got != claim {
		return fmt.Errorf("recreated db-1 uses claim %q, want %q", got, claim)
	}
	if v, err := volumeOf(ctx, c.Orchestrator, claim); err != nil || v != volume {
		return fmt.Errorf("claim %s is bound to volume %q (%v), want %q as before", claim, v, err, volume)
	}
	fmt.Fprintf(out, "\ndb-1 recreated (new uid %s, IP %s, node %s) with the same claim %s and volume %s\n",
		recreated.UID, recreated.Status.PodIP, recreated.Spec.NodeName, claim, volume)
	fmt.Fprintln(out, "\n$ kubectl get pvc")
	if err := printClaims(ctx, c.Orchestrator, out); err != nil {
		return err
	}
	if c.Real() {
		fmt.Fprintf(out, "\n$ curl http://%s:8080/data/%s\n", recreated.Status.PodIP, dataFile)
		got, err := getData(ctx, recreated.Status.PodIP, dataFile)
		if err != nil {
			return fmt.Errorf("reading from the recreated db-1: %w", err)
		}
		fmt.Fprintln(out, got)
		if got != written {
			return fmt.Errorf("the recreated db-1 returned %q, want %q", got, written)
		}
		fmt.Fprintln(out, "the data written before the deletion is there")
	}
	fmt.Fprintf(out, "\n$ dig @%s +short db-1.db.default.svc.cluster.local\n", dnsAddr)
	if err := checkDNS(ctx, dnsAddr, []*objects.Pod{recreated}, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nstatefulset example: everything shown worked on %s in %v\n", c.RuntimeName, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// cleanup deletes what the example created, on a context of its own so
// that it also runs after a timeout: the StatefulSet and its pods, the
// Service, and the claims, whose volumes the provisioner then deletes.
func cleanup(ctx context.Context, c *cluster.Cluster, out io.Writer) error {
	ctx, cancel := exampleutil.Cleanup(ctx, time.Minute)
	defer cancel()
	o := c.Orchestrator
	fmt.Fprintln(out, "\ncleaning up: deleting statefulset/db, service/db and the claims")
	var errs []error
	del := func(obj objects.Object) {
		if err := o.Delete(ctx, obj); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	del(&objects.StatefulSet{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: set}})
	del(&objects.Service{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: set}})
	if err := exampleutil.WaitGone(ctx, c, namespace); err != nil {
		errs = append(errs, err)
	}
	claims, err := podkit.List[*objects.PersistentVolumeClaim](ctx, o, namespace)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var volumes []string
	for _, pvc := range claims {
		volumes = append(volumes, pvc.Spec.VolumeName)
		del(pvc)
	}
	for _, v := range volumes {
		if v == "" {
			continue
		}
		pv := &objects.PersistentVolume{ObjectMeta: objects.ObjectMeta{Name: v}}
		if err := o.WaitFor(ctx, pv, podkit.Deleted); err != nil {
			errs = append(errs, fmt.Errorf("volume %s was not deleted: %w", v, err))
		}
	}
	return errors.Join(errs...)
}
