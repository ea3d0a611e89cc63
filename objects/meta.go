package objects

// TypeMeta names an object's kind and API version, as in every Kubernetes
// manifest. The store and the orchestrator fill it in from the scheme when a
// Go struct is submitted without it.
type TypeMeta struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
}

// GetTypeMeta returns the object's type information for reading and writing.
func (t *TypeMeta) GetTypeMeta() *TypeMeta { return t }

// GroupVersionKind returns the API version and kind as one value.
func (t *TypeMeta) GroupVersionKind() GroupVersionKind {
	return GroupVersionKind{APIVersion: t.APIVersion, Kind: t.Kind}
}

// ObjectMeta is the metadata every stored object has. Fields and JSON names
// follow Kubernetes' metav1.ObjectMeta for the supported subset.
type ObjectMeta struct {
	Name                       string            `json:"name,omitempty"`
	GenerateName               string            `json:"generateName,omitempty"`
	Namespace                  string            `json:"namespace,omitempty"`
	UID                        string            `json:"uid,omitempty"`
	ResourceVersion            string            `json:"resourceVersion,omitempty"`
	Generation                 int64             `json:"generation,omitempty"`
	CreationTimestamp          Time              `json:"creationTimestamp,omitempty"`
	DeletionTimestamp          *Time             `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string `json:"labels,omitempty"`
	Annotations                map[string]string `json:"annotations,omitempty"`
	OwnerReferences            []OwnerReference  `json:"ownerReferences,omitempty" patchStrategy:"merge" patchMergeKey:"uid"`
	Finalizers                 []string          `json:"finalizers,omitempty" patchStrategy:"merge"`
}

// GetObjectMeta returns the object's metadata for reading and writing.
func (m *ObjectMeta) GetObjectMeta() *ObjectMeta { return m }

// Key returns the namespace/name key of the object ("name" for cluster-scoped
// objects).
func (m *ObjectMeta) Key() Key { return Key{Namespace: m.Namespace, Name: m.Name} }

// IsDeleting reports whether deletion of the object has been requested.
func (m *ObjectMeta) IsDeleting() bool { return m.DeletionTimestamp != nil }

// HasFinalizer reports whether f is among the object's finalizers.
func (m *ObjectMeta) HasFinalizer(f string) bool {
	for _, x := range m.Finalizers {
		if x == f {
			return true
		}
	}
	return false
}

// ControllerRef returns the owner reference marked controller=true, or nil.
func (m *ObjectMeta) ControllerRef() *OwnerReference {
	for i := range m.OwnerReferences {
		if r := &m.OwnerReferences[i]; r.Controller != nil && *r.Controller {
			return r
		}
	}
	return nil
}

// OwnerReference points from a dependent to its owner, for garbage
// collection and for controllers to find what they manage.
type OwnerReference struct {
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	Name               string `json:"name"`
	UID                string `json:"uid"`
	Controller         *bool  `json:"controller,omitempty"`
	BlockOwnerDeletion *bool  `json:"blockOwnerDeletion,omitempty"`
}

// Key identifies an object of a known kind: its namespace (empty for
// cluster-scoped kinds) and name.
type Key struct {
	Namespace string
	Name      string
}

// String returns "namespace/name", or "name" when the namespace is empty.
func (k Key) String() string {
	if k.Namespace == "" {
		return k.Name
	}
	return k.Namespace + "/" + k.Name
}

// GroupVersionKind is an API version ("apps/v1") and a kind ("Deployment").
type GroupVersionKind struct {
	APIVersion string
	Kind       string
}

// String returns "apps/v1, Kind=Deployment", as Kubernetes prints it.
func (g GroupVersionKind) String() string { return g.APIVersion + ", Kind=" + g.Kind }

// Object is implemented by every kind the store holds: a pointer to a struct
// that embeds TypeMeta and ObjectMeta and can copy itself deeply.
//
// Objects returned by the store are the caller's own copies; changing them
// changes nothing stored until they are written back.
//
// +kubebuilder:object:generate=false
type Object interface {
	GetTypeMeta() *TypeMeta
	GetObjectMeta() *ObjectMeta
	DeepCopyObject() Object
}

// ListMeta is the metadata of a list returned by the API.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string `json:"name,omitempty"`
}

// Condition is the generic condition used by kinds whose status follows the
// metav1.Condition shape.
type Condition struct {
	Type               string          `json:"type"`
	Status             ConditionStatus `json:"status"`
	ObservedGeneration int64           `json:"observedGeneration,omitempty"`
	LastTransitionTime Time            `json:"lastTransitionTime,omitempty"`
	Reason             string          `json:"reason,omitempty"`
	Message            string          `json:"message,omitempty"`
}

// ConditionStatus is "True", "False" or "Unknown".
type ConditionStatus string

// Condition statuses.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Well-known finalizers and labels used by the built-in controllers.
const (
	FinalizerForeground = "foregroundDeletion"
	FinalizerOrphan     = "orphan"
)
