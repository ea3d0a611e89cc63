package reconcile

import (
	"fmt"

	"github.com/podkit/podkit/objects"
)

// The Job policies: what a failed pod does to its Job (podFailurePolicy),
// when a pod being deleted counts as failed and is replaced
// (podReplacementPolicy), when an Indexed Job succeeds early
// (successPolicy), and which controller runs the Job (managedBy).

// managedByJobController reports whether this controller runs the Job:
// one whose spec.managedBy names another controller is left alone.
func managedByJobController(job *objects.Job) bool {
	m := job.Spec.ManagedBy
	return m == nil || *m == objects.JobControllerName
}

// onlyReplaceFailedPods reports whether a pod being deleted waits to be
// replaced, and to count as failed, until it has finished: with
// podReplacementPolicy Failed, and always with a pod failure policy, as in
// Kubernetes.
func onlyReplaceFailedPods(job *objects.Job) bool {
	rp := job.Spec.PodReplacementPolicy
	return (rp != nil && *rp == objects.FailedPodReplacement) || job.Spec.PodFailurePolicy != nil
}

// podTerminating reports whether the pod is being deleted and its node
// agent still has to stop it: not finished, its grace period running.
func podTerminating(p *objects.Pod) bool {
	g := p.DeletionGracePeriodSeconds
	return p.IsDeleting() && !p.IsTerminal() && g != nil && *g > 0
}

// isPodFailed reports whether the Job counts the pod as failed: it failed,
// or it is being deleted before it succeeded. When only failed pods are
// replaced, a pod being deleted fails only once its node agent reports it
// finished, or once nothing will (its grace period is over: deleted at
// once, unbound, or its node gone), as Kubernetes' pod garbage collector
// marks such pods Failed.
func isPodFailed(p *objects.Pod, job *objects.Job) bool {
	switch {
	case p.Status.Phase == objects.PodFailed:
		return true
	case p.Status.Phase == objects.PodSucceeded || !p.IsDeleting():
		return false
	}
	return !onlyReplaceFailedPods(job) || !podTerminating(p)
}

// failureAction is the action of the pod failure policy rule the failed
// pod matches, or "" when none does (or there is no policy).
func (s *jobState) failureAction(p *objects.Pod) objects.PodFailurePolicyAction {
	a, _ := matchPodFailurePolicy(s.job.Spec.PodFailurePolicy, p)
	return a
}

// matchPodFailurePolicy matches a failed pod against the policy's rules in
// order and returns the action of the first that matches, with, for
// FailJob, the Job's failure message as Kubernetes words it. A rule with
// an action it does not know is skipped.
func matchPodFailurePolicy(pfp *objects.PodFailurePolicy, p *objects.Pod) (objects.PodFailurePolicyAction, string) {
	if pfp == nil {
		return "", ""
	}
	for i, rule := range pfp.Rules {
		var msg string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchOnExitCodes(&p.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			msg = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
				cs.Name, p.Namespace, p.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			c := matchOnPodConditions(&p.Status, rule.OnPodConditions)
			if c == nil {
				continue
			}
			msg = fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d", p.Namespace, p.Name, c.Type, rule.Action, i)
		default:
			continue
		}
		switch rule.Action {
		case objects.PodFailurePolicyActionFailJob:
			return rule.Action, msg
		case objects.PodFailurePolicyActionIgnore, objects.PodFailurePolicyActionCount, objects.PodFailurePolicyActionFailIndex:
			return rule.Action, ""
		}
	}
	return "", ""
}

// matchOnExitCodes returns the first container, app containers before
// init containers, that exited with a code the requirement matches; a
// container that exited 0 never matches.
func matchOnExitCodes(st *objects.PodStatus, r *objects.PodFailurePolicyOnExitCodesRequirement) *objects.ContainerStatus {
	for _, list := range [][]objects.ContainerStatus{st.ContainerStatuses, st.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 || (r.ContainerName != nil && *r.ContainerName != cs.Name) {
				continue
			}
			in := false
			for _, v := range r.Values {
				if v == t.ExitCode {
					in = true
					break
				}
			}
			switch r.Operator {
			case objects.PodFailurePolicyOnExitCodesOpIn:
				if in {
					return cs
				}
			case objects.PodFailurePolicyOnExitCodesOpNotIn:
				if !in {
					return cs
				}
			}
		}
	}
	return nil
}

// matchOnPodConditions returns the first of the pod's conditions that one
// of the patterns matches.
func matchOnPodConditions(st *objects.PodStatus, patterns []objects.PodFailurePolicyOnPodConditionsPattern) *objects.PodCondition {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		for _, pt := range patterns {
			if c.Type == pt.Type && c.Status == pt.Status {
				return c
			}
		}
	}
	return nil
}

// matchSuccessPolicy reports whether the succeeded indexes meet a rule of
// the Job's success policy, the first that they meet, with Kubernetes'
// message.
func matchSuccessPolicy(job *objects.Job, succeeded *intervals) (string, bool) {
	sp := job.Spec.SuccessPolicy
	if sp == nil || !isIndexedJob(job) || succeeded.total() == 0 {
		return "", false
	}
	completions := int(*job.Spec.Completions)
	for i, rule := range sp.Rules {
		met := false
		switch {
		case rule.SucceededIndexes != nil:
			required := parseIntervals(*rule.SucceededIndexes, completions)
			if required.total() == 0 {
				continue
			}
			contains := required.common(*succeeded)
			met = contains == required.total() || (rule.SucceededCount != nil && contains >= int(*rule.SucceededCount))
		case rule.SucceededCount != nil:
			met = succeeded.total() >= int(*rule.SucceededCount)
		}
		if met {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
