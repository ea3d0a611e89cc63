// Command quickstart is a tour of podkit: a program that runs a web
// application on containers as a Kubernetes cluster would, with no cluster.
//
//	go run ./examples/quickstart                     # on Docker (the fake runtime if Docker does not answer)
//	go run ./examples/quickstart -runtime containerd
//	go run ./examples/quickstart -runtime fake       # no daemon; pods run in memory
//
// It starts an orchestrator with three nodes on a container runtime (the
// demo image is built from internal/testimage/cmd/demo and loaded into it
// when missing), then, step by step:
//
//  1. applies a Deployment of three replicas, a Service and an Ingress and
//     waits for the rollout, printing what `kubectl rollout status` prints;
//  2. requests the app through the Service's cluster IP, from this host, and
//     through the Ingress;
//  3. rolls out version 2 while requests keep coming, and checks that none
//     failed (maxUnavailable 0, a readiness probe, a preStop sleep);
//  4. scales to five replicas;
//  5. rolls back to version 1, as `kubectl rollout undo` does;
//  6. deletes everything and checks that nothing is left: no pods, no
//     endpoints, no containers in the runtime.
//
// On the fake runtime pods answer no real HTTP, so the requests are
// skipped with a note; the rest runs. The program exits 0 when every step
// worked and 1, saying what failed, otherwise. Flags: -runtime, -timeout,
// -v (the orchestrator's logs), -cluster (for concurrent runs).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
)

func main() { exampleutil.Main("quickstart", run) }

func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	opts := exampleutil.Flags(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()

	// The cluster: podkit.New, a runtime per node (RegisterNode), and
	// o.Run in the background; see internal/cluster. c embeds the
	// *podkit.Orchestrator, whose methods the steps below call.
	c, err := exampleutil.Start(ctx, out, opts, cluster.Options{Nodes: 3, Ingress: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()
	o := c.Orchestrator
	webKey := objects.Key{Namespace: "default", Name: "web"}

	dep, svc, ing := webDeployment(c.DemoImage, "v1"), webService(), webIngress()
	defer func() {
		if err != nil { // a step failed: delete what it left all the same
			ctx, cancel := exampleutil.Cleanup(ctx, time.Minute)
			defer cancel()
			err = errors.Join(err, exampleutil.Delete(ctx, io.Discard, o, dep, svc, ing), exampleutil.WaitGone(ctx, c, "default"))
		}
	}()

	exampleutil.Step(out, "Deploy three replicas of v1 behind a Service and an Ingress")
	if err := o.Apply(ctx, dep, svc, ing); err != nil {
		return err
	}
	exampleutil.PrintApplied(out, dep, svc, ing)
	if err := exampleutil.RolloutStatus(ctx, out, o, dep); err != nil {
		return err
	}
	if err := exampleutil.PrintPods(ctx, out, o, "default", "app=web"); err != nil {
		return err
	}

	exampleutil.Step(out, "Request it through the Service and the Ingress")
	// Apply filled in what the orchestrator allocated, the cluster IP.
	svcURL := "http://" + svc.Spec.ClusterIP + "/"
	ingURL := "http://" + c.IngressHTTP + "/"
	if c.Real() {
		if _, err := request(ctx, out, "service/web", svcURL, ""); err != nil {
			return err
		}
		if _, err := request(ctx, out, "ingress/web", ingURL, webHost); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out, "note: pods of the fake runtime answer no real HTTP; skipping the requests")
	}

	exampleutil.Step(out, "Roll out v2 under load")
	var l *load
	if c.Real() {
		l = startLoad(ctx, target{"Service", svcURL, ""}, target{"Ingress", ingURL, webHost})
	} else {
		fmt.Fprintln(out, "note: no request load on the fake runtime")
	}
	// Apply the whole new configuration, as `kubectl apply -f` does: the
	// change of the pod template starts a rolling update.
	dep = webDeployment(c.DemoImage, "v2")
	if err := o.Apply(ctx, dep); err != nil {
		return err
	}
	rolloutErr := exampleutil.RolloutStatus(ctx, out, o, dep)
	if l != nil {
		report := l.stop()
		history, err := o.RolloutHistory(ctx, podkit.KindDeployment, webKey)
		if err != nil {
			return err
		}
		fmt.Fprint(out, report.String(history))
		if n := report.totalFailed(); n > 0 && rolloutErr == nil {
			return fmt.Errorf("%d requests failed during the rollout of v2", n)
		}
	}
	if rolloutErr != nil {
		return rolloutErr
	}

	exampleutil.Step(out, "Scale to five replicas")
	// As `kubectl scale` does: read the Deployment, change the replica
	// count, update it. Update fails with a conflict if another write came
	// in between.
	dep, err = podkit.Get[*objects.Deployment](ctx, o, "default", "web")
	if err != nil {
		return err
	}
	dep.Spec.Replicas = ptr[int32](5)
	if err := o.Update(ctx, dep); err != nil {
		return err
	}
	if err := exampleutil.RolloutStatus(ctx, out, o, dep); err != nil {
		return err
	}
	if err := printPods(ctx, out, o); err != nil {
		return err
	}

	exampleutil.Step(out, "Roll back to v1")
	history, err := o.RolloutHistory(ctx, podkit.KindDeployment, webKey)
	if err != nil {
		return err
	}
	kubectl.PrintRolloutHistory(out, "web", history)
	// Revision 0 is the one before the current one, as for `kubectl
	// rollout undo`: v1's ReplicaSet scales up again, v2's down.
	if err := o.Rollback(ctx, podkit.KindDeployment, webKey, 0); err != nil {
		return err
	}
	if err := exampleutil.RolloutStatus(ctx, out, o, dep); err != nil {
		return err
	}
	if v := envOf(dep, "VERSION"); v != "v1" {
		return fmt.Errorf("after the rollback the pod template has VERSION=%s, want v1", v)
	}
	if err := printPods(ctx, out, o); err != nil {
		return err
	}
	if c.Real() {
		body, err := request(ctx, out, "service/web", svcURL, "")
		if err != nil {
			return err
		}
		if v := versionOf(history, podOf(body)); v != "v1" {
			return fmt.Errorf("after the rollback a pod of version %s answered", v)
		}
		fmt.Fprintln(out, "answered by a pod of v1")
	}

	exampleutil.Step(out, "Delete everything")
	// Deleting the Deployment deletes its ReplicaSets and their pods (the
	// garbage collector follows owner references); deleting the Service
	// deletes its Endpoints. Each pod stops gracefully: preStop, SIGTERM.
	held, err := exampleutil.Leftovers(ctx, c, "default")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "the %s runtime holds %d sandboxes and containers of the app's pods\n", c.RuntimeName, len(held))
	if len(held) == 0 {
		return errors.New("the runtime lists none of the app's sandboxes and containers by podkit's labels")
	}
	if err := exampleutil.Delete(ctx, out, o, dep, svc, ing); err != nil {
		return err
	}
	if err := checkNothingLeft(ctx, out, c); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nEvery step worked, in %s.\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// printPods prints the app's pods once those a rollout replaced are gone.
func printPods(ctx context.Context, out io.Writer, o *podkit.Orchestrator) error {
	if err := exampleutil.WaitSettled(ctx, o, "default", "app=web"); err != nil {
		return err
	}
	return exampleutil.PrintPods(ctx, out, o, "default", "app=web")
}

// request GETs url once it answers, and prints and returns the answer.
func request(ctx context.Context, out io.Writer, via, url, host string) (string, error) {
	body, err := exampleutil.HTTPGetEventually(ctx, url, host)
	if err != nil {
		return "", fmt.Errorf("requesting the app through %s: %w", via, err)
	}
	shown := url
	if host != "" {
		shown = fmt.Sprintf("%s (Host: %s)", url, host)
	}
	fmt.Fprintf(out, "GET %s via %s: %s", shown, via, body)
	return body, nil
}

// checkNothingLeft waits until no pod, ReplicaSet or Endpoints of the app
// exists and the runtime holds none of its containers.
func checkNothingLeft(ctx context.Context, out io.Writer, c *cluster.Cluster) error {
	if err := exampleutil.WaitGone(ctx, c, "default"); err != nil {
		return err
	}
	if err := c.WaitFor(ctx, &objects.Endpoints{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "web"}}, podkit.Deleted); err != nil {
		return fmt.Errorf("the Service's endpoints are left: %w", err)
	}
	err := exampleutil.Wait(ctx, c.Orchestrator, podkit.KindReplicaSet, "default", func() (bool, string, error) {
		rss, err := podkit.List[*objects.ReplicaSet](ctx, c.Orchestrator, "default")
		return len(rss) == 0, fmt.Sprintf("%d ReplicaSets", len(rss)), err
	})
	if err != nil {
		return fmt.Errorf("ReplicaSets are left: %w", err)
	}
	fmt.Fprintf(out, "nothing left: no pods, no ReplicaSets, no endpoints, no sandboxes or containers in the %s runtime\n", c.RuntimeName)
	return nil
}

// envOf is the value of the environment variable name of d's first
// container.
func envOf(d *objects.Deployment, name string) string {
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
