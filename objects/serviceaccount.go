package objects

// ServiceAccount is an identity for the pods that name it (v1). Every
// namespace has one called "default", which pods that name none get.
//
// A service account gives its pods its imagePullSecrets, added at a pod's
// creation to a pod that has none of its own, as Kubernetes' ServiceAccount
// admission does, and an identity they can prove: a token of it, which
// the host authenticates with podkit.Orchestrator.ReviewToken as the user
// system:serviceaccount:NAMESPACE:NAME. A pod gets one in a projected
// volume with a serviceAccountToken source (see
// ServiceAccountTokenProjection), written and refreshed by its node agent
// and bound to the pod, as Kubernetes' bound service account tokens; a
// host issues others with podkit.Orchestrator.CreateToken (a
// TokenRequest). podkit runs no API server for such a token to reach, so
// no kube-api-access volume is added to pods:
// automountServiceAccountToken is kept and does nothing, and no legacy
// token Secret is made.
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
