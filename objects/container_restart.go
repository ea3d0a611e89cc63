package objects

import "slices"

// ContainerRestartPolicy is the restart policy of one container, which
// overrides its pod's.
type ContainerRestartPolicy string

// Container restart policies. Always, on an init container, makes it a
// sidecar (Container.IsSidecar).
const (
	ContainerRestartPolicyAlways    ContainerRestartPolicy = "Always"
	ContainerRestartPolicyOnFailure ContainerRestartPolicy = "OnFailure"
	ContainerRestartPolicyNever     ContainerRestartPolicy = "Never"
)

// ContainerRestartRule restarts a container that exited with one of some
// exit codes (or with any other), whatever its restartPolicy says.
type ContainerRestartRule struct {
	// Action is what is done when the rule matches: Restart.
	Action ContainerRestartRuleAction `json:"action,omitempty"`
	// ExitCodes is what the rule matches (required).
	ExitCodes *ContainerRestartRuleOnExitCodes `json:"exitCodes,omitempty"`
}

// ContainerRestartRuleAction is what a matching ContainerRestartRule does.
type ContainerRestartRuleAction string

// Restart rule actions.
const (
	// ContainerRestartRuleActionRestart restarts the container.
	ContainerRestartRuleActionRestart ContainerRestartRuleAction = "Restart"
	// ContainerRestartRuleActionRestartAllContainers restarts the whole
	// pod in place: every container is killed at once, and the pod starts
	// again from its first init container, in the same sandbox (same IP,
	// same volumes). See Container.RestartsAll.
	ContainerRestartRuleActionRestartAllContainers ContainerRestartRuleAction = "RestartAllContainers"
)

// ContainerRestartRuleOnExitCodes matches exit codes In or NotIn Values.
type ContainerRestartRuleOnExitCodes struct {
	Operator ContainerRestartRuleOnExitCodesOperator `json:"operator,omitempty"`
	Values   []int32                                 `json:"values,omitempty"`
}

// ContainerRestartRuleOnExitCodesOperator relates an exit code to the
// values of a rule.
type ContainerRestartRuleOnExitCodesOperator string

// Exit code operators.
const (
	ContainerRestartRuleOnExitCodesOpIn    ContainerRestartRuleOnExitCodesOperator = "In"
	ContainerRestartRuleOnExitCodesOpNotIn ContainerRestartRuleOnExitCodesOperator = "NotIn"
)

// matches reports whether the rule matches exit code code.
func (r *ContainerRestartRule) matches(code int32) bool {
	if r.ExitCodes == nil {
		return false
	}
	in := slices.Contains(r.ExitCodes.Values, code)
	switch r.ExitCodes.Operator {
	case ContainerRestartRuleOnExitCodesOpIn:
		return in
	case ContainerRestartRuleOnExitCodesOpNotIn:
		return !in
	}
	return false
}

// Restarts reports whether c, having exited with exitCode, is started
// again in a pod whose restartPolicy is pod, as the kubelet decides with
// Kubernetes' ContainerRestartRules: the first of c's restartPolicyRules
// that matches the exit code restarts it; when none does, c's own
// restartPolicy decides, and without one the pod's (Always: restarted;
// OnFailure: restarted unless it exited 0; Never: not restarted). So a
// container of a Never pod can be retried on the exit codes that say a
// retry may succeed, without recreating the pod, and one container of an
// Always pod can run once.
//
// A pod whose containers have all exited and none of which Restarts is
// finished: Succeeded if they all exited 0, else Failed. An init container
// that exits non-zero and does not restart fails its pod. A pod whose
// sandbox is lost is started again in a new one only if its restartPolicy
// is not Never, as the kubelet does.
func (c *Container) Restarts(pod RestartPolicy, exitCode int32) bool {
	if c.RestartPolicy != nil {
		if r := c.restartRule(exitCode); r != nil {
			switch r.Action {
			case ContainerRestartRuleActionRestart, ContainerRestartRuleActionRestartAllContainers:
				return true
			}
		}
		switch *c.RestartPolicy {
		case ContainerRestartPolicyAlways:
			return true
		case ContainerRestartPolicyOnFailure:
			return exitCode != 0
		case ContainerRestartPolicyNever:
			return false
		}
	}
	switch pod {
	case RestartPolicyNever:
		return false
	case RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// restartRule returns the first of c's rules that matches exitCode, or nil.
func (c *Container) restartRule(exitCode int32) *ContainerRestartRule {
	for i := range c.RestartPolicyRules {
		if r := &c.RestartPolicyRules[i]; r.matches(exitCode) {
			return r
		}
	}
	return nil
}

// RestartsAll reports whether c, having exited with exitCode, restarts
// its whole pod in place: the first of its rules to match the exit code
// has the action RestartAllContainers. The node agent then kills every
// other container of the pod at once, sets them aside (their logs kept,
// their restart counts going on) and runs the pod again from its first
// init container, in the same sandbox; the pod's AllContainersRestarting
// condition says so meanwhile, as Kubernetes' does.
func (c *Container) RestartsAll(exitCode int32) bool {
	r := c.restartRule(exitCode)
	return r != nil && r.Action == ContainerRestartRuleActionRestartAllContainers
}

// RestartsAllOnSomeExit reports whether a container of s has a
// RestartAllContainers rule.
func (s *PodSpec) RestartsAllOnSomeExit() bool {
	for _, cs := range [][]Container{s.InitContainers, s.Containers} {
		for i := range cs {
			for _, r := range cs[i].RestartPolicyRules {
				if r.Action == ContainerRestartRuleActionRestartAllContainers {
					return true
				}
			}
		}
	}
	return false
}

// Limits of Kubernetes' validation.
const (
	maxRestartRules     = 20
	maxRestartExitCodes = 255
)

// validateContainerRestartPolicy checks a container's restartPolicy and
// restartPolicyRules as the API server does with the ContainerRestartRules
// and RestartAllContainersOnContainerExits features: any of the three
// policies on a container or an init container (Always making it a
// sidecar), rules only beside a policy.
func validateContainerRestartPolicy(c *Container, p *Path) ErrorList {
	var errs ErrorList
	pp, rp := p.Child("restartPolicy"), p.Child("restartPolicyRules")
	if c.RestartPolicy == nil {
		if len(c.RestartPolicyRules) > 0 {
			errs = append(errs, Required(pp, "must specify restartPolicy when restart rules are used"))
		}
		return errs
	}
	switch *c.RestartPolicy {
	case ContainerRestartPolicyAlways, ContainerRestartPolicyOnFailure, ContainerRestartPolicyNever:
	default:
		errs = append(errs, NotSupported(pp, string(*c.RestartPolicy), []string{
			string(ContainerRestartPolicyAlways), string(ContainerRestartPolicyNever), string(ContainerRestartPolicyOnFailure)}))
	}
	if len(c.RestartPolicyRules) > maxRestartRules {
		errs = append(errs, TooMany(rp, len(c.RestartPolicyRules), maxRestartRules))
	}
	for i, r := range c.RestartPolicyRules {
		ip := rp.Index(i)
		switch r.Action {
		case ContainerRestartRuleActionRestart, ContainerRestartRuleActionRestartAllContainers:
		default:
			errs = append(errs, NotSupported(ip.Child("action"), string(r.Action), []string{
				string(ContainerRestartRuleActionRestart), string(ContainerRestartRuleActionRestartAllContainers)}))
		}
		if r.ExitCodes == nil {
			errs = append(errs, Required(ip.Child("exitCodes"), "must be specified"))
			continue
		}
		switch r.ExitCodes.Operator {
		case ContainerRestartRuleOnExitCodesOpIn, ContainerRestartRuleOnExitCodesOpNotIn:
		default:
			errs = append(errs, NotSupported(ip.Child("exitCodes", "operator"), string(r.ExitCodes.Operator), []string{
				string(ContainerRestartRuleOnExitCodesOpIn), string(ContainerRestartRuleOnExitCodesOpNotIn)}))
		}
		if len(r.ExitCodes.Values) > maxRestartExitCodes {
			errs = append(errs, TooMany(ip.Child("exitCodes", "values"), len(r.ExitCodes.Values), maxRestartExitCodes))
		}
	}
	return errs
}
