// Command jobs shows batch work as Kubernetes users know it: an Indexed Job
// and a CronJob.
//
// The Job shards has completions 5, parallelism 2 and completionMode
// Indexed: each pod gets its index in JOB_COMPLETION_INDEX (and the
// batch.kubernetes.io/job-completion-index annotation) and prints it. The
// example shows that no more than two pods ran at a time, that the Job
// completes, and each index's output, read from the container runtime's
// logs.
//
// The CronJob tick runs a Job at the start of every minute ("* * * * *":
// five-field cron schedules count in minutes, and as in Kubernetes a
// CronJob's Jobs are named after the minute they were scheduled for, so no
// schedule runs more often). The example waits for two of its Jobs to
// complete, which takes one to two minutes of wall-clock time on docker and
// containerd. On the fake runtime the orchestrator runs on a fake clock
// that the example moves ten times faster than real time, so the same two
// runs take seconds; every timer of the orchestrator (heartbeats, backoffs,
// the schedule) runs on that clock alike.
//
// Finally it deletes the CronJob, whose Jobs and pods the garbage collector
// removes, and the Job.
//
//	go run ./examples/jobs [-runtime docker|containerd|fake] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/exampleutil"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
)

const (
	namespace  = "default"
	jobName    = "shards"
	cronName   = "tick"
	shards     = 5
	cronRuns   = 2
	clockSpeed = 10 // fake seconds per real second, on the fake runtime
)

// jobManifest is the Indexed Job; %s is the image.
const jobManifest = `
apiVersion: batch/v1
kind: Job
metadata:
  name: shards
spec:
  completions: 5
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: worker
        image: %s
        args: [print, "shard $(JOB_COMPLETION_INDEX) of 5 done"]
`

// cronManifest is the CronJob; %s is the image.
const cronManifest = `
apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: tick
            image: %s
            args: [print, "tick from $(POD_NAME)"]
            env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
`

func main() { exampleutil.Main("jobs", run) }

// run runs the example with the command-line arguments args, writing
// progress to out. It returns nil when everything shown worked.
func run(ctx context.Context, args []string, out io.Writer) (err error) {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	flags := exampleutil.Flags(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()

	flags.ChooseRuntime(ctx, out)
	opts := cluster.Options{Nodes: 2}
	if flags.Runtime == cluster.Fake {
		clk := clockwork.NewFakeClockAt(time.Now())
		stopClock := runFast(clk, clockSpeed)
		defer stopClock() // after the cluster has stopped: cleanup needs time to pass
		opts.Orchestrator = []podkit.Option{podkit.WithClock(clk)}
		fmt.Fprintf(out, "note: on the fake runtime the orchestrator's clock runs %dx faster than real time, so that the CronJob's minutes pass in seconds\n", clockSpeed)
	} else {
		// Nothing here needs service networking: no service proxy, whose
		// nftables table may be another orchestrator's too, and the
		// cluster DNS server on a free loopback port rather than on port
		// 53, which another may hold.
		addr, err := exampleutil.FreeLoopbackAddr()
		if err != nil {
			return err
		}
		opts.Network = []network.Option{network.WithDNS([]string{addr}), network.WithDataPlane(network.DataPlaneNone)}
	}
	c, err := exampleutil.Start(ctx, out, flags, opts)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Stop()) }()
	defer func() { err = errors.Join(err, cleanup(ctx, c, out)) }()

	if err := indexedJob(ctx, c, out); err != nil {
		return err
	}
	if err := cronJob(ctx, c, out); err != nil {
		return err
	}
	if err := deleteAll(ctx, c, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "\njobs example: everything shown worked on %s in %v\n", c.RuntimeName, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// runFast moves clk forward by speed seconds every real second, in steps
// of a tenth, until the returned function is called.
func runFast(clk *clockwork.FakeClock, speed int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				clk.Advance(time.Duration(speed) * 100 * time.Millisecond)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// deleteAll deletes the CronJob and the Job as `kubectl delete` does (the
// garbage collector removes what they own in the background) and waits
// until no Job, pod or container is left.
func deleteAll(ctx context.Context, c *cluster.Cluster, out io.Writer) error {
	fmt.Fprintf(out, "\n$ kubectl delete cronjob %s\ncronjob.batch %q deleted\n", cronName, cronName)
	if err := c.Delete(ctx, &objects.CronJob{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: cronName}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "$ kubectl delete job %s\njob.batch %q deleted\n", jobName, jobName)
	if err := c.Delete(ctx, &objects.Job{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: jobName}}); err != nil {
		return err
	}
	if err := waitNone[*objects.Job](ctx, c.Orchestrator); err != nil {
		return fmt.Errorf("jobs left after deleting: %w", err)
	}
	if err := exampleutil.WaitGone(ctx, c, namespace); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ kubectl get jobs,pods\nNo resources found in %s namespace.\n", namespace)
	return nil
}

// cleanup deletes whatever the example may have left, on a context of its
// own so that it also runs after a failure or a timeout.
func cleanup(ctx context.Context, c *cluster.Cluster, out io.Writer) error {
	ctx, cancel := exampleutil.Cleanup(ctx, time.Minute)
	defer cancel()
	var errs []error
	for _, obj := range []objects.Object{
		&objects.CronJob{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: cronName}},
		&objects.Job{ObjectMeta: objects.ObjectMeta{Namespace: namespace, Name: jobName}},
	} {
		if err := c.Delete(ctx, obj); err == nil {
			fmt.Fprintf(out, "cleaning up: %s %s deleted\n", strings.ToLower(obj.GetTypeMeta().Kind), obj.GetObjectMeta().Name)
		} else if !errors.Is(err, errNotFound) {
			errs = append(errs, err)
		}
	}
	if err := waitNone[*objects.Job](ctx, c.Orchestrator); err != nil {
		errs = append(errs, fmt.Errorf("jobs left: %w", err))
	}
	if err := exampleutil.WaitGone(ctx, c, namespace); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
