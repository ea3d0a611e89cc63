// Package kubectl prints objects as kubectl users know them, for the
// examples.
package kubectl

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
)

// PrintPods writes pods as `kubectl get pods -o wide` does.
func PrintPods(w io.Writer, now time.Time, pods []*objects.Pod) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tNODE")
	for _, p := range pods {
		ready, restarts := 0, int32(0)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\t%s\t%s\t%s\n", p.Name, ready, len(p.Spec.Containers),
			PodStatus(p), restarts, Age(now, p.CreationTimestamp.Time), OrNone(p.Status.PodIP), OrNone(p.Spec.NodeName))
	}
	tw.Flush()
}

// podStatus is the STATUS column: Terminating, a container's waiting or
// terminated reason, or the phase.
// PodStatus is the STATUS column of `kubectl get pods`.
func PodStatus(p *objects.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Waiting != nil && cs.State.Waiting.Reason != "" {
			return cs.State.Waiting.Reason
		}
		if cs.State.Terminated != nil && cs.State.Terminated.Reason != "" {
			return cs.State.Terminated.Reason
		}
	}
	if p.Status.Phase == "" {
		return "Pending"
	}
	return string(p.Status.Phase)
}

// Age is the AGE column: how long ago t was, as kubectl rounds it.
func Age(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return d.Round(time.Second).String()
}

// OrNone is s, or <none> when s is empty.
func OrNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// PrintRolloutHistory writes a Deployment's revisions as `kubectl rollout
// history deployment/NAME` does.
func PrintRolloutHistory(w io.Writer, name string, revs []reconcile.Revision) {
	fmt.Fprintf(w, "deployment.apps/%s\n", name)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tCHANGE-CAUSE")
	for _, r := range revs {
		fmt.Fprintf(tw, "%d\t%s\n", r.Number, OrNone(r.ChangeCause))
	}
	tw.Flush()
}
