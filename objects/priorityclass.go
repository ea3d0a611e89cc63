package objects

import (
	"fmt"
	"strings"
)

// PriorityClass maps a priority class name to the integer priority of the
// pods naming it (scheduling.k8s.io/v1, cluster-scoped). As in Kubernetes
// it has no spec: its fields are top-level.
type PriorityClass struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	// Value is the priority; higher schedules (and preempts) first. At most
	// HighestUserDefinablePriority except for the system classes.
	Value int32 `json:"value"`
	// GlobalDefault makes this the priority of pods that name no class.
	GlobalDefault bool   `json:"globalDefault,omitempty"`
	Description   string `json:"description,omitempty"`
	// PreemptionPolicy defaults to PreemptLowerPriority.
	PreemptionPolicy *PreemptionPolicy `json:"preemptionPolicy,omitempty"`
}

// DeepCopyObject implements Object.
func (c *PriorityClass) DeepCopyObject() Object { return c.DeepCopy() }

// Priorities and names of the system priority classes, as in Kubernetes.
const (
	// HighestUserDefinablePriority is the largest value a class not named
	// system-* may have.
	HighestUserDefinablePriority = int32(1000000000)
	// SystemCriticalPriority is the base of the system classes' values.
	SystemCriticalPriority = 2 * HighestUserDefinablePriority
	// SystemPriorityClassPrefix is reserved for the system classes.
	SystemPriorityClassPrefix = "system-"
	// SystemClusterCritical is for pods the cluster cannot work without.
	SystemClusterCritical = SystemPriorityClassPrefix + "cluster-critical"
	// SystemNodeCritical is for pods a node cannot work without.
	SystemNodeCritical = SystemPriorityClassPrefix + "node-critical"
)

// SystemPriorityClasses returns new copies of the system priority classes,
// which an orchestrator creates at start as Kubernetes does.
func SystemPriorityClasses() []*PriorityClass {
	return []*PriorityClass{
		{
			ObjectMeta:  ObjectMeta{Name: SystemNodeCritical},
			Value:       SystemCriticalPriority + 1000,
			Description: "Used for system critical pods that must not be moved from their current node.",
		},
		{
			ObjectMeta:  ObjectMeta{Name: SystemClusterCritical},
			Value:       SystemCriticalPriority,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
		},
	}
}

// isKnownSystemPriorityClass reports why a system-* class does not match
// its built-in definition, or "" when it does.
func isKnownSystemPriorityClass(name string, value int32, globalDefault bool) string {
	for _, s := range SystemPriorityClasses() {
		if s.Name != name {
			continue
		}
		if s.Value != value {
			return fmt.Sprintf("value of %s PriorityClass must be %d", s.Name, s.Value)
		}
		if s.GlobalDefault != globalDefault {
			return fmt.Sprintf("globalDefault of %s PriorityClass must be %t", s.Name, s.GlobalDefault)
		}
		return ""
	}
	return name + " is not a known system priority class"
}

// Default fills in defaults as Kubernetes' SetDefaults_PriorityClass does.
func (c *PriorityClass) Default() {
	if c.PreemptionPolicy == nil {
		c.PreemptionPolicy = ptrTo(PreemptLowerPriority)
	}
}

// Validate checks the class as Kubernetes' ValidatePriorityClass does.
func (c *PriorityClass) Validate() ErrorList {
	var errs ErrorList
	if name, p, _ := ruleName(&c.ObjectMeta); strings.HasPrefix(name, SystemPriorityClassPrefix) {
		if why := isKnownSystemPriorityClass(name, c.Value, c.GlobalDefault); why != "" {
			errs = append(errs, Forbidden(p,
				"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+why))
		}
	} else if c.Value > HighestUserDefinablePriority {
		errs = append(errs, Forbidden(NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %d", HighestUserDefinablePriority)))
	}
	if c.PreemptionPolicy != nil {
		switch *c.PreemptionPolicy {
		case PreemptLowerPriority, PreemptNever:
		default:
			errs = append(errs, NotSupported(NewPath("preemptionPolicy"), string(*c.PreemptionPolicy),
				[]string{string(PreemptNever), string(PreemptLowerPriority)}))
		}
	}
	return errs
}

// ValidateUpdate rejects a changed value or preemptionPolicy.
func (c *PriorityClass) ValidateUpdate(old Object) ErrorList {
	o, ok := old.(*PriorityClass)
	if !ok {
		return ErrorList{wrongOldType(old, c)}
	}
	var errs ErrorList
	if c.Value != o.Value {
		errs = append(errs, Forbidden(NewPath("value"), "may not be changed in an update."))
	}
	return append(errs, validateImmutable(c.PreemptionPolicy, o.PreemptionPolicy, NewPath("preemptionPolicy"))...)
}
