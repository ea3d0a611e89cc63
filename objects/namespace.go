package objects

import (
	"maps"
	"slices"
)

// Namespace scopes the names of namespaced objects (v1, cluster-scoped).
type Namespace struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   NamespaceSpec   `json:"spec,omitempty"`
	Status NamespaceStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (n *Namespace) DeepCopyObject() Object { return n.DeepCopy() }

// NamespaceSpec holds the finalizers that must run before the namespace is
// removed.
type NamespaceSpec struct {
	Finalizers []FinalizerName `json:"finalizers,omitempty"`
}

// FinalizerName names a namespace finalizer ("kubernetes").
type FinalizerName string

// FinalizerKubernetes is the finalizer that empties a namespace before it
// goes.
const FinalizerKubernetes FinalizerName = "kubernetes"

// NamespaceStatus is the observed state of a namespace.
type NamespaceStatus struct {
	Phase      NamespacePhase       `json:"phase,omitempty"`
	Conditions []NamespaceCondition `json:"conditions,omitempty"`
}

// NamespacePhase is Active or Terminating.
type NamespacePhase string

// Namespace phases.
const (
	NamespaceActive      NamespacePhase = "Active"
	NamespaceTerminating NamespacePhase = "Terminating"
)

// NamespaceConditionType names a namespace condition.
type NamespaceConditionType string

// NamespaceCondition is one condition of a namespace.
type NamespaceCondition struct {
	Type               NamespaceConditionType `json:"type"`
	Status             ConditionStatus        `json:"status"`
	LastTransitionTime Time                   `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// LabelMetadataName is the label every namespace carries with its own name,
// so that namespace selectors can pick namespaces by name.
const LabelMetadataName = "kubernetes.io/metadata.name"

// Default implements Defaulter: a new namespace is Active and labelled
// with its name, as in Kubernetes.
func (n *Namespace) Default() {
	if n.Status.Phase == "" {
		n.Status.Phase = NamespaceActive
	}
	if n.Name != "" {
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[LabelMetadataName] = n.Name
	}
}

// PrepareForCreate implements store.CreatePreparer, as Kubernetes'
// namespace strategy: whatever was sent, a new namespace is Active, and
// has the "kubernetes" finalizer, which the namespace controller (podkit's
// garbage collector) removes once the namespace is deleted and empty, so
// that deleting it, even before the controller runs, never leaves its
// content behind. It is labelled with its name, a generated one too.
// (Kubernetes keeps this finalizer in spec.finalizers; podkit keeps it in
// metadata.finalizers.)
func (n *Namespace) PrepareForCreate() {
	n.Status = NamespaceStatus{Phase: NamespaceActive}
	if fin := string(FinalizerKubernetes); !n.HasFinalizer(fin) {
		n.Finalizers = append(slices.Clip(n.Finalizers), fin)
	}
	if v, ok := n.Labels[LabelMetadataName]; !ok || v != n.Name {
		labels := make(map[string]string, len(n.Labels)+1)
		maps.Copy(labels, n.Labels)
		labels[LabelMetadataName] = n.Name
		n.Labels = labels
	}
}

// ValidateStatusUpdate implements StatusValidator, as Kubernetes'
// ValidateNamespaceStatusUpdate: the phase is Active until the namespace
// is deleted, Terminating after.
func (n *Namespace) ValidateStatusUpdate(old Object) ErrorList {
	p := NewPath("status", "phase")
	if old.GetObjectMeta().DeletionTimestamp == nil {
		if n.Status.Phase != NamespaceActive {
			return ErrorList{Invalid(p, string(n.Status.Phase), "may only be 'Active' if `deletionTimestamp` is empty")}
		}
	} else if n.Status.Phase != NamespaceTerminating {
		return ErrorList{Invalid(p, string(n.Status.Phase), "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}

// Validate implements Validator: the name is a DNS-1123 label, finalizers
// are qualified names.
func (n *Namespace) Validate() ErrorList {
	errs := validateNameRule(&n.ObjectMeta, IsDNS1123Label)
	for i, f := range n.Spec.Finalizers {
		errs = appendMsgs(errs, NewPath("spec", "finalizers").Index(i), string(f), IsQualifiedName(string(f)))
	}
	switch n.Status.Phase {
	case "", NamespaceActive, NamespaceTerminating:
	default:
		errs = append(errs, NotSupported(NewPath("status", "phase"), string(n.Status.Phase), []string{string(NamespaceActive), string(NamespaceTerminating)}))
	}
	return errs
}
