// Command restart shows podkit on a durable store: the orchestrator stops,
// as its host process would, and a new one starts on the same store: a
// store/bolt file, or with -etcd a store/etcd prefix. The pods run on through the restart, and the new orchestrator
// adopts their containers rather than starting them again, as a restarted
// kubelet does.
//
//	go run ./examples/restart [-runtime docker|containerd|fake] [-store FILE | -etcd URL] [-v]
//
// Step by step, it:
//
//  1. opens a store/bolt file (-store; a temporary one by default), or
//     with -etcd a store/etcd store under a new prefix in the etcd
//     cluster at URL, and starts an orchestrator on it, with two nodes;
//  2. applies a Deployment web of two replicas and a Service, waits for the
//     rollout and notes each pod's uid and container;
//  3. stops the orchestrator and closes the store: nothing orchestrates, and
//     on a real runtime each pod still answers on its IP;
//  4. opens the store again and starts a new orchestrator on the same nodes
//     and runtime: the Deployment, the Service (with its cluster IP) and
//     the pods are there, with the same uids and the same containers;
//  5. scales web to three: one new pod, the others untouched;
//  6. deletes everything and checks that nothing is left (on etcd, the
//     prefix's keys go too).
//
// On the fake runtime the pods run in this process's memory, which outlives
// both orchestrators; their requests are skipped. The program exits 0 when
// every step worked and 1, saying what failed, otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/bolt"
	"github.com/podkit/podkit/store/etcd"
)

const namespace = "default"

// manifests is what `kubectl apply -f` would be given; %s is the image.
const manifests = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`

func main() { exampleutil.Main("restart", run) }

// run runs the example with the command-line arguments args, writing
// progress to out. It returns nil when everything shown worked.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	flags := exampleutil.Flags(fs)
	path := fs.String("store", "", "the store's file (default: a new temporary file, removed at the end)")
	etcdURL := fs.String("etcd", "", "keep the store in the etcd cluster at this client URL (say http://127.0.0.1:2379), under a new prefix removed at the end, rather than in a file")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	var (
		where string
		open  func() (store.Store, error)
	)
	switch {
	case *etcdURL != "" && *path != "":
		return errors.New("-store and -etcd: give one")
	case *etcdURL != "":
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{*etcdURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		defer cli.Close()
		cfg := etcd.Config{Prefix: fmt.Sprintf("/podkit-restart-%d-%d/", os.Getpid(), time.Now().UnixNano())}
		defer func() {
			ctx, cancel := exampleutil.Cleanup(ctx, 10*time.Second)
			defer cancel()
			if _, derr := cli.Delete(ctx, cfg.Prefix, clientv3.WithPrefix()); derr != nil {
				err = errors.Join(err, fmt.Errorf("remove the prefix %s from etcd: %w", cfg.Prefix, derr))
			}
		}()
		where = fmt.Sprintf("etcd at %s, under %s", *etcdURL, cfg.Prefix)
		open = func() (store.Store, error) { return etcd.Open(ctx, cli, cfg) }
	default:
		if *path == "" {
			dir, err := os.MkdirTemp("", "podkit-restart-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			*path = filepath.Join(dir, "podkit.db")
		}
		where = *path
		open = func() (store.Store, error) { return bolt.Open(*path) }
	}

	// 1. The store, and an orchestrator on it.
	exampleutil.Step(out, "1. an orchestrator on the store in %s", where)
	st, err := open()
	if err != nil {
		return err
	}
	defer func() {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
	}()
	flags.ChooseRuntime(ctx, out)
	// No service proxy: the example reaches pods by their IPs, and the
	// proxy's nftables table may be another orchestrator's too.
	netOpt := network.WithDataPlane(network.DataPlaneNone)
	opts := cluster.Options{Nodes: 2, Orchestrator: []podkit.Option{podkit.WithStore(st)}}
	if flags.Runtime == cluster.Fake {
		opts.Orchestrator = append(opts.Orchestrator, podkit.WithNetwork(netOpt))
	} else {
		opts.Network = []network.Option{netOpt}
	}
	c, err := exampleutil.Start(ctx, out, flags, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()

	// 2. A Deployment and a Service.
	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(manifests, c.DemoImage)))
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cleanup(ctx, c, out, objs)) }()
	exampleutil.Step(out, "2. a Deployment and a Service")
	if err := c.Apply(ctx, objs...); err != nil {
		return err
	}
	fmt.Fprintln(out, "$ kubectl apply -f web.yaml")
	exampleutil.PrintApplied(out, objs...)
	web := &objects.Deployment{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: "web"}}
	fmt.Fprintln(out, "\n$ kubectl rollout status deployment/web")
	if err := exampleutil.RolloutStatus(ctx, out, c.Orchestrator, web); err != nil {
		return err
	}
	before, err := containers(ctx, c, out)
	if err != nil {
		return err
	}
	svc, err := podkit.Get[*objects.Service](ctx, c.Orchestrator, namespace, "web")
	if err != nil {
		return err
	}

	// 3. The orchestrator stops; the pods do not.
	exampleutil.Step(out, "3. the orchestrator stops; the pods run on")
	if err := c.StopOrchestrator(); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	st = nil
	fmt.Fprintln(out, "orchestrator stopped, store closed")
	if c.Real() {
		for _, name := range slices.Sorted(maps.Keys(before)) {
			p := before[name]
			body, err := exampleutil.HTTPGet(ctx, "http://"+p.ip+":8080/", "")
			if err != nil {
				return fmt.Errorf("pod %s, with no orchestrator: %w", name, err)
			}
			fmt.Fprintf(out, "$ curl http://%s:8080/\n%s", p.ip, body)
		}
	} else {
		fmt.Fprintln(out, "(fake runtime: its pods answer no HTTP; the requests are skipped)")
	}

	// 4. A new orchestrator on the same store.
	exampleutil.Step(out, "4. a new orchestrator on the same store")
	if st, err = open(); err != nil {
		return err
	}
	if err := c.StartOrchestrator(ctx, podkit.WithStore(st)); err != nil {
		return err
	}
	fmt.Fprintf(out, "store opened at revision %d; orchestrator started on %s\n", st.Revision(), strings.Join(c.Nodes, ", "))
	if err := exampleutil.RolloutStatus(ctx, out, c.Orchestrator, web); err != nil {
		return err
	}
	after, err := containers(ctx, c, out)
	if err != nil {
		return err
	}
	if !maps.Equal(before, after) {
		return fmt.Errorf("after the restart the pods are %v, not %v", after, before)
	}
	fmt.Fprintln(out, "the same pods, uids and containers: adopted, not started again")
	got, err := podkit.Get[*objects.Service](ctx, c.Orchestrator, namespace, "web")
	if err != nil {
		return err
	}
	if got.Spec.ClusterIP != svc.Spec.ClusterIP || got.UID != svc.UID {
		return fmt.Errorf("service web is %s (uid %s) after the restart, %s (uid %s) before", got.Spec.ClusterIP, got.UID, svc.Spec.ClusterIP, svc.UID)
	}
	fmt.Fprintf(out, "service/web kept its cluster IP %s\n", got.Spec.ClusterIP)

	// 5. The new orchestrator goes on from there.
	exampleutil.Step(out, "5. scale to 3")
	fmt.Fprintln(out, "$ kubectl scale deployment/web --replicas=3")
	if err := scale(ctx, c.Orchestrator, 3); err != nil {
		return err
	}
	if err := exampleutil.RolloutStatus(ctx, out, c.Orchestrator, web); err != nil {
		return err
	}
	now, err := containers(ctx, c, out)
	if err != nil {
		return err
	}
	added := 0
	for name, p := range now {
		if old, ok := before[name]; !ok {
			added++
		} else if old != p {
			return fmt.Errorf("pod %s changed when web was scaled: %v, then %v", name, old, p)
		}
	}
	if added != 1 || len(now) != 3 {
		return fmt.Errorf("scaled to 3, the pods are %v", now)
	}
	fmt.Fprintln(out, "one new pod; the two others untouched")

	exampleutil.Step(out, "6. clean up")
	if err := cleanup(ctx, c, out, objs); err != nil {
		return err
	}
	objs = nil
	fmt.Fprintf(out, "\nrestart: every step worked, in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// pod is what the example notes of a pod: its uid, IP and container.
type pod struct {
	uid, ip, container string
}

// containers prints web's pods with their uids and containers, as
// `kubectl get pods -o custom-columns` would, and returns them by name.
func containers(ctx context.Context, c *cluster.Cluster, out io.Writer) (map[string]pod, error) {
	pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, namespace, podkit.WithLabels("app=web"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "\n$ kubectl get pods -l app=web -o custom-columns=NAME:.metadata.name,UID:.metadata.uid,CONTAINER:.status.containerStatuses[0].containerID")
	fmt.Fprintf(out, "%-22s %-38s %s\n", "NAME", "UID", "CONTAINER")
	got := map[string]pod{}
	for _, p := range pods {
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].ContainerID == "" {
			return nil, fmt.Errorf("pod %s reports no container", p.Name)
		}
		id := p.Status.ContainerStatuses[0].ContainerID
		got[p.Name] = pod{uid: p.UID, ip: p.Status.PodIP, container: id}
		fmt.Fprintf(out, "%-22s %-38s %s\n", p.Name, p.UID, id)
	}
	return got, nil
}

// scale sets web's replicas, as `kubectl scale` does.
func scale(ctx context.Context, o *podkit.Orchestrator, n int32) error {
	d, err := podkit.Get[*objects.Deployment](ctx, o, namespace, "web")
	if err != nil {
		return err
	}
	d.Spec.Replicas = &n
	return o.Update(ctx, d)
}

// cleanup deletes objs, once, and waits until no pod and no container of
// theirs is left.
func cleanup(ctx context.Context, c *cluster.Cluster, out io.Writer, objs []objects.Object) error {
	if len(objs) == 0 {
		return nil
	}
	ctx, cancel := exampleutil.Cleanup(ctx, time.Minute)
	defer cancel()
	fmt.Fprintln(out, "$ kubectl delete -f web.yaml")
	if err := exampleutil.Delete(ctx, out, c.Orchestrator, objs...); err != nil {
		return err
	}
	return exampleutil.WaitGone(ctx, c, namespace)
}
