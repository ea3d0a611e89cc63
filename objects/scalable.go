package objects

// Scalable is implemented by the kinds that have a scale subresource, as
// Kubernetes' /scale: Deployment, ReplicaSet, StatefulSet and
// ReplicationController, and any kind of a host's own that implements it,
// as a CustomResourceDefinition declares one (specReplicasPath,
// statusReplicasPath, labelSelectorPath). podkit's Orchestrator.GetScale and UpdateScale
// read and write it, and a HorizontalPodAutoscaler scales any kind that
// has it.
//
// +kubebuilder:object:generate=false
type Scalable interface {
	Object
	// SpecReplicas is the number of replicas asked for (spec.replicas,
	// with its default when unset).
	SpecReplicas() int32
	// SetSpecReplicas sets spec.replicas.
	SetSpecReplicas(n int32)
	// StatusReplicas is the number of replicas there are
	// (status.replicas).
	StatusReplicas() int32
	// ScaleSelector selects the pods that are its replicas, whose
	// metrics an autoscaler reads; nil when it has none.
	ScaleSelector() *LabelSelector
}

var (
	_ Scalable = (*Deployment)(nil)
	_ Scalable = (*ReplicaSet)(nil)
	_ Scalable = (*StatefulSet)(nil)
	_ Scalable = (*ReplicationController)(nil)
)

// defaultReplicas is spec.replicas when unset, for every kind with one.
func defaultReplicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// SpecReplicas implements Scalable.
func (d *Deployment) SpecReplicas() int32 { return defaultReplicas(d.Spec.Replicas) }

// SetSpecReplicas implements Scalable.
func (d *Deployment) SetSpecReplicas(n int32) { d.Spec.Replicas = &n }

// StatusReplicas implements Scalable.
func (d *Deployment) StatusReplicas() int32 { return d.Status.Replicas }

// ScaleSelector implements Scalable.
func (d *Deployment) ScaleSelector() *LabelSelector { return d.Spec.Selector }

// SpecReplicas implements Scalable.
func (r *ReplicaSet) SpecReplicas() int32 { return defaultReplicas(r.Spec.Replicas) }

// SetSpecReplicas implements Scalable.
func (r *ReplicaSet) SetSpecReplicas(n int32) { r.Spec.Replicas = &n }

// StatusReplicas implements Scalable.
func (r *ReplicaSet) StatusReplicas() int32 { return r.Status.Replicas }

// ScaleSelector implements Scalable.
func (r *ReplicaSet) ScaleSelector() *LabelSelector { return r.Spec.Selector }

// SpecReplicas implements Scalable.
func (s *StatefulSet) SpecReplicas() int32 { return defaultReplicas(s.Spec.Replicas) }

// SetSpecReplicas implements Scalable.
func (s *StatefulSet) SetSpecReplicas(n int32) { s.Spec.Replicas = &n }

// StatusReplicas implements Scalable.
func (s *StatefulSet) StatusReplicas() int32 { return s.Status.Replicas }

// ScaleSelector implements Scalable.
func (s *StatefulSet) ScaleSelector() *LabelSelector { return s.Spec.Selector }
