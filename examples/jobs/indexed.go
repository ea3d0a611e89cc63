package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/internal/cluster"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// indexedJob runs the Indexed Job, following its pods as `kubectl get pods
// -w` does, checks that at most parallelism of them ran at once and that
// every index printed its own number, and prints each index's output.
func indexedJob(ctx context.Context, c *cluster.Cluster, out io.Writer) error {
	objs, err := c.Scheme().Decode(strings.NewReader(fmt.Sprintf(jobManifest, c.DemoImage)))
	if err != nil {
		return err
	}
	// Watch before applying: the watch delivers changes in the order the
	// store committed them, so counting running pods from it is exact.
	w, err := c.Watch(ctx, "", podkit.InNamespace(namespace))
	if err != nil {
		return err
	}
	defer w.Stop()
	if err := c.Apply(ctx, objs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n$ kubectl apply -f shards.yaml\njob.batch/%s created\n", jobName)
	fmt.Fprintf(out, "\n$ kubectl get pods -l %s=%s -w\n", objects.JobNameLabel, jobName)
	pw := newPodPrinter(out, c.Clock())
	active := map[string]bool{} // pods neither finished nor gone
	most := 0
	var job *objects.Job
	err = follow(ctx, w, func(ev store.Event) bool {
		switch o := ev.Object().(type) {
		case *objects.Pod:
			if o.Labels[objects.JobNameLabel] != jobName {
				return false
			}
			pw.print(o, ev.Type == store.Deleted)
			if ev.Type == store.Deleted || o.Status.Phase == objects.PodSucceeded || o.Status.Phase == objects.PodFailed {
				delete(active, o.Name)
			} else {
				active[o.Name] = true
			}
			most = max(most, len(active))
		case *objects.Job:
			if o.Name == jobName && podkit.Complete(o) {
				job = o
				return true
			}
			if o.Name == jobName && podkit.Failed(o) {
				job = o
				return true
			}
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("job %s did not finish: %w", jobName, err)
	}
	if podkit.Failed(job) {
		return fmt.Errorf("job %s failed: %s", jobName, conditionMessage(job, objects.JobFailed))
	}
	fmt.Fprintf(out, "\n$ kubectl wait --for=condition=complete job/%s\njob.batch/%s condition met\n", jobName, jobName)
	fmt.Fprintf(out, "\n$ kubectl get job %s\n", jobName)
	printJobs(out, c.Clock().Now(), []*objects.Job{job})
	if want := *job.Spec.Parallelism; most > int(want) {
		return fmt.Errorf("%d pods of job %s ran at once, more than its parallelism %d", most, jobName, want)
	}
	fmt.Fprintf(out, "at most %d pods ran at a time (parallelism %d); completed indexes: %s\n", most, *job.Spec.Parallelism, job.Status.CompletedIndexes)

	// Each index's output, from the runtime's logs.
	pods, err := podkit.List[*objects.Pod](ctx, c.Orchestrator, namespace, podkit.WithLabels(objects.JobNameLabel+"="+jobName))
	if err != nil {
		return err
	}
	byIndex := map[int]*objects.Pod{}
	for _, p := range pods {
		i, err := strconv.Atoi(p.Annotations[objects.JobCompletionIndexAnnotation])
		if err != nil {
			return fmt.Errorf("pod %s has no completion index: %v", p.Name, err)
		}
		if p.Status.Phase == objects.PodSucceeded {
			byIndex[i] = p
		}
	}
	for i := range shards {
		p := byIndex[i]
		if p == nil {
			return fmt.Errorf("no pod of index %d succeeded (succeeded: %v)", i, slices.Sorted(maps.Keys(byIndex)))
		}
		logs, err := containerLogs(ctx, c, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\n$ kubectl logs %s\n%s", p.Name, logs)
		if want := fmt.Sprintf("shard %d of 5 done\n", i); logs != want {
			return fmt.Errorf("pod %s of index %d printed %q, want %q", p.Name, i, logs, want)
		}
	}
	return nil
}

func conditionMessage(j *objects.Job, t objects.JobConditionType) string {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c.Reason + ": " + c.Message
		}
	}
	return ""
}
