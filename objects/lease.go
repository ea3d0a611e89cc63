package objects

// Lease is a lightweight lock with a holder and an expiry, used for node
// heartbeats and leader election (coordination.k8s.io/v1).
type Lease struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec LeaseSpec `json:"spec,omitempty"`
}

// DeepCopyObject implements Object.
func (l *Lease) DeepCopyObject() Object { return l.DeepCopy() }

// NamespaceNodeLease is the namespace holding one Lease per node, named
// after it, renewed as the node's heartbeat.
const NamespaceNodeLease = "kube-node-lease"

// LeaseSpec is the state of a Lease.
type LeaseSpec struct {
	// HolderIdentity is who holds the lease.
	HolderIdentity *string `json:"holderIdentity,omitempty"`
	// LeaseDurationSeconds is how long after renewTime the lease expires.
	LeaseDurationSeconds *int32     `json:"leaseDurationSeconds,omitempty"`
	AcquireTime          *MicroTime `json:"acquireTime,omitempty"`
	RenewTime            *MicroTime `json:"renewTime,omitempty"`
	// LeaseTransitions counts changes of holder.
	LeaseTransitions *int32 `json:"leaseTransitions,omitempty"`
}

// Validate checks the spec as Kubernetes' ValidateLeaseSpec does.
func (l *Lease) Validate() ErrorList {
	p := NewPath("spec")
	var errs ErrorList
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, Invalid(p.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, Invalid(p.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	return errs
}
