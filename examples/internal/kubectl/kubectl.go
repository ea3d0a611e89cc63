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

// PrintPods writes pods as `kubectl get pods -o wide` does: READY counts
// the sidecars with the containers, RESTARTS every container's.
func PrintPods(w io.Writer, now time.Time, pods []*objects.Pod) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE\tIP\tNODE")
	for _, p := range pods {
		ready, total, restarts := 0, len(p.Spec.Containers), int32(0)
		for i, cs := range p.Status.InitContainerStatuses {
			restarts += cs.RestartCount
			if i < len(p.Spec.InitContainers) && p.Spec.InitContainers[i].IsSidecar() {
				total++
				if cs.Ready {
					ready++
				}
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%d\t%s\t%s\t%s\n", p.Name, ready, total,
			PodStatus(p), restarts, Age(now, p.CreationTimestamp.Time), OrNone(p.Status.PodIP), OrNone(p.Spec.NodeName))
	}
	tw.Flush()
}

// PodStatus is the STATUS column of `kubectl get pods`: Terminating,
// SchedulingGated while the pod has scheduling gates,
// until the pod is initialized Init:done/all while its init containers
// run (a sidecar is done once started) or Init:reason when one fails or
// waits, then a container's waiting or terminated reason, or the phase.
func PodStatus(p *objects.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	if c := objects.GetPodCondition(&p.Status, objects.PodScheduled); c != nil && c.Reason == objects.PodReasonSchedulingGated {
		return objects.PodReasonSchedulingGated
	}
	inits := p.Status.InitContainerStatuses
	if c := objects.GetPodCondition(&p.Status, objects.PodInitialized); c != nil && c.Status == objects.ConditionTrue {
		inits = nil
	}
	for i, cs := range inits {
		sidecar := i < len(p.Spec.InitContainers) && p.Spec.InitContainers[i].IsSidecar()
		switch t, w := cs.State.Terminated, cs.State.Waiting; {
		case t != nil && t.ExitCode == 0:
			continue
		case sidecar && cs.Started != nil && *cs.Started:
			continue
		case t != nil && t.Reason != "":
			return "Init:" + t.Reason
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			return "Init:" + w.Reason
		}
		return fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
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
