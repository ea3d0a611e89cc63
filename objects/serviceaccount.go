package objects

// ServiceAccount is an identity for the pods that name it (v1). Every
// namespace has one called "default", which pods that name none get.
//
// podkit runs no API server, so no token is issued or mounted:
// automountServiceAccountToken is kept and does nothing. What a service
// account gives its pods is its imagePullSecrets, added at a pod's
// creation to a pod that has none of its own, as Kubernetes' ServiceAccount
// admission does.
type ServiceAccount struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Secrets                      []ObjectReference      `json:"secrets,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	ImagePullSecrets             []LocalObjectReference `json:"imagePullSecrets,omitempty"`
	AutomountServiceAccountToken *bool                  `json:"automountServiceAccountToken,omitempty"`
}

// DefaultServiceAccountName is the service account every namespace has,
// and the one a pod that names none runs as.
const DefaultServiceAccountName = "default"

// DeepCopyObject implements Object.
func (s *ServiceAccount) DeepCopyObject() Object { return s.DeepCopy() }
