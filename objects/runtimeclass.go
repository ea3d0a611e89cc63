package objects

import (
	"fmt"
	"maps"
	"slices"
)

// RuntimeClass names a container runtime configuration that pods select
// with spec.runtimeClassName (node.k8s.io/v1, cluster-scoped): the
// handler the node's runtime runs their sandboxes and containers with
// (such as runsc for gVisor, or kata), the resources a pod of the class
// costs beyond its containers', and the nodes that have the handler. As
// in Kubernetes it has no spec: its fields are top-level.
type RuntimeClass struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Handler is the runtime configuration's name, as the node's runtime
	// knows it (runtime.SandboxConfig.RuntimeHandler). It cannot change.
	Handler string `json:"handler"`
	// Overhead is what a pod of the class costs beyond its containers:
	// admission copies it into the pod's spec.overhead, which scheduling
	// and quotas add to the pod's requests.
	Overhead *Overhead `json:"overhead,omitempty"`
	// Scheduling restricts the class's pods to the nodes that support it:
	// admission merges it into the pod's nodeSelector and tolerations.
	Scheduling *Scheduling `json:"scheduling,omitempty"`
}

// DeepCopyObject implements Object.
func (c *RuntimeClass) DeepCopyObject() Object { return c.DeepCopy() }

// Overhead is the fixed cost of running a pod of a RuntimeClass.
type Overhead struct {
	PodFixed ResourceList `json:"podFixed,omitempty"`
}

// Scheduling says which nodes support a RuntimeClass.
type Scheduling struct {
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	Tolerations  []Toleration      `json:"tolerations,omitempty"`
}

// Validate implements Validator, as Kubernetes' ValidateRuntimeClass.
func (c *RuntimeClass) Validate() ErrorList {
	var errs ErrorList
	hp := NewPath("handler")
	if c.Handler == "" {
		errs = append(errs, Required(hp, ""))
	} else {
		errs = appendMsgs(errs, hp, c.Handler, IsDNS1123Label(c.Handler))
	}
	if c.Overhead != nil {
		errs = append(errs, validateResourceListValues(c.Overhead.PodFixed, NewPath("overhead", "podFixed"))...)
	}
	if s := c.Scheduling; s != nil {
		sp := NewPath("scheduling")
		errs = append(errs, ValidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		errs = append(errs, validateTolerations(s.Tolerations, sp.Child("tolerations"))...)
	}
	return errs
}

// ValidateUpdate implements UpdateValidator: the handler cannot change.
func (c *RuntimeClass) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*RuntimeClass)
	if !ok {
		return ErrorList{Invalid(NewPath("kind"), fmt.Sprintf("%T", old), "cannot validate an update of a RuntimeClass against it")}
	}
	if c.Handler != o.Handler {
		return ErrorList{Invalid(NewPath("handler"), c.Handler, "field is immutable")}
	}
	return nil
}

// ApplyRuntimeClass does to pod what Kubernetes' RuntimeClass admission
// does for class rc (nil when the pod names none): it sets the pod's
// overhead to the class's, and merges the class's node selector and
// tolerations into the pod's. It refuses a pod whose own overhead differs
// from the class's, or whose node selector conflicts with the class's,
// with Kubernetes' messages; pod is then unchanged.
func ApplyRuntimeClass(pod *Pod, rc *RuntimeClass) error {
	if rc == nil {
		if pod.Spec.Overhead != nil {
			return fmt.Errorf("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
		}
		return nil
	}
	var fixed ResourceList
	if rc.Overhead != nil {
		fixed = rc.Overhead.PodFixed
	}
	switch {
	case pod.Spec.Overhead != nil && fixed == nil:
		return fmt.Errorf("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
	case pod.Spec.Overhead != nil && !maps.EqualFunc(pod.Spec.Overhead, fixed, func(a, b Quantity) bool { return a.Cmp(b) == 0 }):
		return fmt.Errorf("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
	}
	var sel map[string]string
	var tols []Toleration
	if s := rc.Scheduling; s != nil {
		for _, k := range sortedKeys(s.NodeSelector) {
			if v, ok := pod.Spec.NodeSelector[k]; ok && v != s.NodeSelector[k] {
				return fmt.Errorf("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, s.NodeSelector[k], k, v)
			}
		}
		sel, tols = s.NodeSelector, s.Tolerations
	}
	if fixed != nil {
		pod.Spec.Overhead = fixed.DeepCopy()
	}
	if len(sel) > 0 {
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = make(map[string]string, len(sel))
		}
		maps.Copy(pod.Spec.NodeSelector, sel)
	}
	for _, t := range tols {
		if !slices.ContainsFunc(pod.Spec.Tolerations, func(have Toleration) bool { return jsonEqual(&have, &t) }) {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, *t.DeepCopy())
		}
	}
	return nil
}
