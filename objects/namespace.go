package objects

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

// Validate implements Validator: the name is a DNS-1123 label, finalizers
// are qualified names.
func (n *Namespace) Validate() ErrorList {
	var errs ErrorList
	// A name that is not even a subdomain is reported by the metadata check.
	if n.Name != "" && len(IsDNS1123Subdomain(n.Name)) == 0 {
		errs = appendMsgs(errs, NewPath("metadata", "name"), n.Name, IsDNS1123Label(n.Name))
	}
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
