package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

var errNotFound = store.ErrNotFound

// follow calls fn with each event of w until it returns true or ctx ends.
func follow(ctx context.Context, w store.Watcher, fn func(store.Event) bool) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events():
			if !ok {
				if err := w.Err(); err != nil {
					return fmt.Errorf("watch ended: %w", err)
				}
				return fmt.Errorf("watch ended: %w", ctx.Err())
			}
			if fn(ev) {
				return nil
			}
		}
	}
}

// podPrinter prints pods as `kubectl get pods -w` does: a line for each
// change of what the columns show.
type podPrinter struct {
	out   io.Writer
	clock clockwork.Clock
	last  map[string]string
}

func newPodPrinter(out io.Writer, clock clockwork.Clock) *podPrinter {
	fmt.Fprintf(out, "%-20s %-6s %-18s %-9s %s\n", "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	return &podPrinter{out: out, clock: clock, last: map[string]string{}}
}

func (pp *podPrinter) print(p *objects.Pod, deleted bool) {
	ready, restarts := 0, int32(0)
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		restarts += cs.RestartCount
	}
	status := kubectl.PodStatus(p)
	if deleted {
		status = "Terminating"
	}
	line := fmt.Sprintf("%-20s %-6s %-18s %-9d", p.Name, fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), status, restarts)
	if pp.last[p.Name] == line {
		return
	}
	pp.last[p.Name] = line
	fmt.Fprintf(pp.out, "%s %s\n", line, age(pp.clock.Now(), p.CreationTimestamp.Time))
}

// jobPrinter prints Jobs as `kubectl get jobs -w` does.
type jobPrinter struct {
	out   io.Writer
	clock clockwork.Clock
	last  map[string]string
}

func newJobPrinter(out io.Writer, clock clockwork.Clock) *jobPrinter {
	fmt.Fprintf(out, "%-22s %-10s %-12s %-9s %s\n", "NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE")
	return &jobPrinter{out: out, clock: clock, last: map[string]string{}}
}

func (jp *jobPrinter) print(j *objects.Job) {
	now := jp.clock.Now()
	line := fmt.Sprintf("%-22s %-10s %-12s", j.Name, jobStatus(j), completions(j))
	if jp.last[j.Name] == line {
		return
	}
	jp.last[j.Name] = line
	fmt.Fprintf(jp.out, "%s %-9s %s\n", line, duration(now, j), age(now, j.CreationTimestamp.Time))
}

// printJobs prints Jobs as `kubectl get jobs` does.
func printJobs(out io.Writer, now time.Time, jobs []*objects.Job) {
	tw := newTable(out)
	fmt.Fprintln(tw, "NAME\tSTATUS\tCOMPLETIONS\tDURATION\tAGE")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Name, jobStatus(j), completions(j), duration(now, j), age(now, j.CreationTimestamp.Time))
	}
	tw.Flush()
}

// jobStatus is the STATUS column of `kubectl get jobs`.
func jobStatus(j *objects.Job) string {
	switch {
	case podkit.Complete(j):
		return "Complete"
	case podkit.Failed(j):
		return "Failed"
	case j.Spec.Suspend != nil && *j.Spec.Suspend:
		return "Suspended"
	}
	return "Running"
}

func completions(j *objects.Job) string {
	want := "1"
	if j.Spec.Completions != nil {
		want = fmt.Sprint(*j.Spec.Completions)
	}
	return fmt.Sprintf("%d/%s", j.Status.Succeeded, want)
}

// duration is the DURATION column: from the Job's start to its
// completion, or to now while it runs.
func duration(now time.Time, j *objects.Job) string {
	if j.Status.StartTime == nil {
		return ""
	}
	end := now
	if j.Status.CompletionTime != nil {
		end = j.Status.CompletionTime.Time
	}
	return age(end, j.Status.StartTime.Time)
}

func age(now, t time.Time) string {
	if now.Before(t) {
		return "0s"
	}
	return kubectl.Age(now, t)
}

func newTable(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
}

// containerLogs returns the output of the pod's only container, as
// kubectl logs shows it.
func containerLogs(ctx context.Context, c *cluster.Cluster, p *objects.Pod) (string, error) {
	rc, err := c.Logs(ctx, p.Namespace, p.Name, "")
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("logs of pod %s: %w", p.Name, err)
	}
	return string(b), nil
}

// waitNone blocks until the namespace holds no object of type T, or ctx
// ends. It lists again after every change to T.
func waitNone[T objects.Object](ctx context.Context, o *podkit.Orchestrator) error {
	info, err := objects.KindFor[T](o.Scheme())
	if err != nil {
		return err
	}
	w, err := o.Watch(ctx, info.Kind, podkit.InNamespace(namespace))
	if err != nil {
		return err
	}
	defer func() { w.Stop() }()
	for {
		left, err := podkit.List[T](ctx, o, namespace)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			var names []string
			for _, obj := range left {
				names = append(names, obj.GetObjectMeta().Name)
			}
			return fmt.Errorf("%w: %s left: %s", ctx.Err(), info.Kind, strings.Join(names, ", "))
		case _, open := <-w.Events():
			if !open { // fell behind: watch anew, then list again
				w.Stop()
				if w, err = o.Watch(ctx, info.Kind, podkit.InNamespace(namespace)); err != nil {
					return err
				}
			}
		}
	}
}
