package exampleutil

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/podkit/podkit"
	"github.com/podkit/podkit/examples/internal/kubectl"
	"github.com/podkit/podkit/objects"
)

// maxCauses bounds what Explain reports: the first causes say enough.
const maxCauses = 8

// Explain says why a Deployment, StatefulSet, DaemonSet, Job or Pod is not
// ready, one indented line per cause: a failed condition, a pod that cannot
// be scheduled and why, a container's waiting reason or last exit, a
// recent Warning event. It is empty when it finds no cause.
func Explain(ctx context.Context, o *podkit.Orchestrator, obj objects.Object) string {
	info, err := o.Scheme().SetTypeMeta(obj)
	if err != nil {
		return ""
	}
	k := key(obj)
	cur := info.New()
	if err := o.Get(ctx, k, cur); err != nil {
		return "  " + err.Error()
	}
	var causes []string
	var sel *objects.LabelSelector
	switch w := cur.(type) {
	case *objects.Deployment:
		sel = w.Spec.Selector
		for _, c := range w.Status.Conditions {
			if (c.Type == objects.DeploymentReplicaFailure && c.Status == objects.ConditionTrue) ||
				(c.Type == objects.DeploymentProgressing && c.Status == objects.ConditionFalse) {
				causes = append(causes, fmt.Sprintf("%s condition %s: %s: %s", Ref(w), c.Type, c.Reason, c.Message))
			}
		}
	case *objects.StatefulSet:
		sel = w.Spec.Selector
	case *objects.DaemonSet:
		sel = w.Spec.Selector
		if w.Status.DesiredNumberScheduled == 0 {
			causes = append(causes, Ref(w)+" matches no node")
		}
	case *objects.Job:
		sel = w.Spec.Selector
		if c := objects.GetJobCondition(&w.Status, objects.JobFailed); c != nil && c.Status == objects.ConditionTrue {
			causes = append(causes, fmt.Sprintf("%s condition Failed: %s: %s", Ref(w), c.Reason, c.Message))
		}
	case *objects.Pod:
		causes = append(causes, explainPod(w)...)
	}
	names := []string{k.Name}
	if sel != nil {
		pods, err := podkit.List[*objects.Pod](ctx, o, k.Namespace, podkit.WithLabels(selectorString(sel)))
		if err != nil {
			causes = append(causes, err.Error())
		}
		if err == nil && len(pods) == 0 {
			causes = append(causes, fmt.Sprintf("%s has no pods", Ref(cur)))
		}
		for _, p := range pods {
			names = append(names, p.Name)
			causes = append(causes, explainPod(p)...)
		}
	}
	for _, w := range warnings(ctx, o, k.Namespace, names) {
		if !slices.ContainsFunc(causes, func(c string) bool { return strings.Contains(c, w.message) }) {
			causes = append(causes, w.line)
		}
	}
	causes = slices.Compact(causes)
	if len(causes) > maxCauses {
		causes = append(causes[:maxCauses], fmt.Sprintf("(%d more)", len(causes)-maxCauses))
	}
	if len(causes) == 0 {
		return ""
	}
	return "  " + strings.Join(causes, "\n  ")
}

// explainPod lists why a pod is not ready; nothing for a ready or
// succeeded pod.
func explainPod(p *objects.Pod) []string {
	if objects.IsPodReady(p) || p.Status.Phase == objects.PodSucceeded {
		return nil
	}
	ref := "pod/" + p.Name
	var out []string
	if p.Status.Phase == objects.PodFailed && (p.Status.Reason != "" || p.Status.Message != "") {
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s failed: %s %s", ref, p.Status.Reason, p.Status.Message)))
	}
	for _, c := range p.Status.Conditions {
		if c.Type == objects.PodScheduled && c.Status == objects.ConditionFalse {
			out = append(out, fmt.Sprintf("%s: %s: %s", ref, c.Reason, c.Message))
		}
	}
	for _, cs := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
		where := fmt.Sprintf("%s container %s", ref, cs.Name)
		switch s := cs.State; {
		case s.Waiting != nil:
			line := where + ": waiting: " + s.Waiting.Reason
			if s.Waiting.Message != "" {
				line += ": " + s.Waiting.Message
			}
			out = append(out, line)
		case s.Terminated != nil && s.Terminated.ExitCode != 0:
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s: terminated: %s, exit code %d %s", where, s.Terminated.Reason, s.Terminated.ExitCode, s.Terminated.Message)))
		case s.Running != nil && !cs.Ready:
			out = append(out, where+": running, not ready (readiness probe not passing yet)")
		}
		if t := cs.LastTerminationState.Terminated; t != nil && cs.RestartCount > 0 {
			out = append(out, fmt.Sprintf("%s: restarted %d times, last exit: %s, exit code %d", where, cs.RestartCount, t.Reason, t.ExitCode))
		}
	}
	if len(out) == 0 {
		out = append(out, fmt.Sprintf("%s: %s", ref, kubectl.PodStatus(p)))
	}
	return out
}

type warning struct{ line, message string }

// warnings returns the last Warning events about the named objects.
func warnings(ctx context.Context, o *podkit.Orchestrator, namespace string, names []string) []warning {
	evs, err := podkit.List[*objects.Event](ctx, o, namespace)
	if err != nil {
		return nil
	}
	slices.SortStableFunc(evs, func(a, b *objects.Event) int { return a.LastTimestamp.Compare(b.LastTimestamp.Time) })
	var out []warning
	seen := map[string]bool{}
	for _, e := range evs {
		if e.Type != objects.EventTypeWarning || !slices.Contains(names, e.InvolvedObject.Name) {
			continue
		}
		line := fmt.Sprintf("event on %s/%s: %s: %s", strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, e.Reason, e.Message)
		if !seen[line] {
			seen[line] = true
			out = append(out, warning{line, e.Message})
		}
	}
	if len(out) > 3 {
		out = out[len(out)-3:]
	}
	return out
}

func selectorString(ls *objects.LabelSelector) string {
	s, err := objects.LabelSelectorAsSelector(ls)
	if err != nil {
		return ""
	}
	return s.String()
}

func podStatus(p *objects.Pod) string { return kubectl.PodStatus(p) }

// PrintPods lists the pods of namespace matching selector (every pod when
// empty) as `kubectl get pods -o wide` does.
func PrintPods(ctx context.Context, out io.Writer, o *podkit.Orchestrator, namespace, selector string) error {
	pods, err := podkit.List[*objects.Pod](ctx, o, namespace, podkit.WithLabels(selector))
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		fmt.Fprintf(out, "No resources found in %s namespace.\n", namespace)
		return nil
	}
	kubectl.PrintPods(out, time.Now(), pods)
	return nil
}
