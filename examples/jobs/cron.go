package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// cronJob creates the CronJob and follows its Jobs as `kubectl get jobs -w`
// does until cronRuns of them have completed, then shows the CronJob, its
// Jobs and the output of their pods.
func cronJob(ctx context.Context, c *cluster.Cluster, out io.Writer) error {
	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(cronManifest, c.DemoImage)))
	if err != nil {
		return err
	}
	w, err := c.Watch(ctx, podkit.KindJob, podkit.InNamespace(namespace))
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := c.Apply(ctx, objs...); err != nil {
		return err
	}
	cj := objs[0].(*objects.CronJob)
	fmt.Fprintf(out, "\n$ kubectl apply -f tick.yaml\ncronjob.batch/%s created\n", cronName)
	wait := "one to two minutes"
	if !c.Real() {
		wait = fmt.Sprintf("%s of the fake clock, a few seconds", wait)
	}
	fmt.Fprintf(out, "schedule %q starts a Job at the start of every minute: waiting for %d runs (%s)\n", cj.Spec.Schedule, cronRuns, wait)
	fmt.Fprintln(out, "\n$ kubectl get jobs -w")
	jp := newJobPrinter(out, c.Clock())
	complete := map[string]bool{}
	err = follow(ctx, w, func(ev store.Event) bool {
		j := ev.Object().(*objects.Job)
		if ref := j.ControllerRef(); ref == nil || ref.UID != cj.UID {
			return false
		}
		jp.print(j)
		if podkit.Failed(j) {
			return true
		}
		if podkit.Complete(j) {
			complete[j.Name] = true
		}
		return len(complete) >= cronRuns
	})
	if err != nil {
		return fmt.Errorf("cronjob %s did not complete %d runs: %w", cronName, cronRuns, err)
	}
	if len(complete) < cronRuns {
		return fmt.Errorf("a job of cronjob %s failed; completed: %v", cronName, slices.Sorted(maps.Keys(complete)))
	}
	// The CronJob's status follows its Jobs' completion closely but not
	// in the same write.
	if err := c.WaitFor(ctx, cj, func(obj objects.Object) bool {
		cur, ok := obj.(*objects.CronJob)
		return ok && len(cur.Status.Active) == 0 && cur.Status.LastSuccessfulTime != nil
	}); err != nil {
		return err
	}
	now := c.Clock().Now()
	fmt.Fprintf(out, "\n$ kubectl get cronjob %s\n", cronName)
	tw := newTable(out)
	fmt.Fprintln(tw, "NAME\tSCHEDULE\tTIMEZONE\tSUSPEND\tACTIVE\tLAST SCHEDULE\tAGE")
	last := "<none>"
	if t := cj.Status.LastScheduleTime; t != nil {
		last = age(now, t.Time)
	}
	tz := "<none>"
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%s\t%s\n", cj.Name, cj.Spec.Schedule, tz, *cj.Spec.Suspend, len(cj.Status.Active), last, age(now, cj.CreationTimestamp.Time))
	tw.Flush()

	jobs, err := podkit.List[*objects.Job](ctx, c.Orchestrator, namespace)
	if err != nil {
		return err
	}
	var runs []*objects.Job
	for _, j := range jobs {
		if ref := j.ControllerRef(); ref != nil && ref.UID == cj.UID {
			runs = append(runs, j)
		}
	}
	fmt.Fprintln(out, "\n$ kubectl get jobs")
	printJobs(out, now, jobs)
	for _, j := range runs {
		if !complete[j.Name] {
			continue
		}
		fmt.Fprintf(out, "\n%s was scheduled for %s\n", j.Name, j.Annotations[objects.CronJobScheduledTimestampAnnotation])
		pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, namespace, podkit.WithLabels(objects.JobNameLabel+"="+j.Name))
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.Status.Phase != objects.PodSucceeded {
				continue
			}
			logs, err := containerLogs(ctx, c, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "$ kubectl logs %s\n%s", p.Name, logs)
			if want := "tick from " + p.Name + "\n"; logs != want {
				return fmt.Errorf("pod %s printed %q, want %q", p.Name, logs, want)
			}
		}
	}
	return nil
}
