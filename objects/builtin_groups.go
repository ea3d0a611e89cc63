package objects

// groupKinds are the built-in kinds of the named API groups (apps/v1,
// batch/v1, discovery.k8s.io/v1, networking.k8s.io/v1, autoscaling/v2,
// coordination.k8s.io/v1, node.k8s.io/v1, policy/v1,
// rbac.authorization.k8s.io/v1, scheduling.k8s.io/v1, storage.k8s.io/v1).
func groupKinds() []KindInfo {
	return []KindInfo{
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy", Namespaced: false, New: func() Object { return &ValidatingAdmissionPolicy{} }},
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding", Namespaced: false, New: func() Object { return &ValidatingAdmissionPolicyBinding{} }},
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingAdmissionPolicy", Namespaced: false, New: func() Object { return &MutatingAdmissionPolicy{} }},
		{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingAdmissionPolicyBinding", Namespaced: false, New: func() Object { return &MutatingAdmissionPolicyBinding{} }},
		{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespaced: true, New: func() Object { return &ReplicaSet{} }},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespaced: true, New: func() Object { return &Deployment{} }},
		{APIVersion: "apps/v1", Kind: "StatefulSet", Namespaced: true, New: func() Object { return &StatefulSet{} }},
		{APIVersion: "apps/v1", Kind: "DaemonSet", Namespaced: true, New: func() Object { return &DaemonSet{} }},
		{APIVersion: "apps/v1", Kind: "ControllerRevision", Namespaced: true, New: func() Object { return &ControllerRevision{} }},
		{APIVersion: "batch/v1", Kind: "Job", Namespaced: true, New: func() Object { return &Job{} }},
		{APIVersion: "batch/v1", Kind: "CronJob", Namespaced: true, New: func() Object { return &CronJob{} }},
		{APIVersion: "certificates.k8s.io/v1", Kind: "ClusterTrustBundle", Namespaced: false, New: func() Object { return &ClusterTrustBundle{} }},
		{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice", Namespaced: true, New: func() Object { return &EndpointSlice{} }},
		{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Namespaced: true, New: func() Object { return &Ingress{} }},
		{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespaced: true, New: func() Object { return &NetworkPolicy{} }},
		{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass", Namespaced: false, New: func() Object { return &IngressClass{} }},
		{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler", Namespaced: true, New: func() Object { return &HorizontalPodAutoscaler{} }},
		{APIVersion: "coordination.k8s.io/v1", Kind: "Lease", Namespaced: true, New: func() Object { return &Lease{} }},
		{APIVersion: "node.k8s.io/v1", Kind: "RuntimeClass", Namespaced: false, New: func() Object { return &RuntimeClass{} }},
		{APIVersion: "policy/v1", Kind: "PodDisruptionBudget", Namespaced: true, New: func() Object { return &PodDisruptionBudget{} }},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role", Namespaced: true, New: func() Object { return &Role{} }},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Namespaced: false, New: func() Object { return &ClusterRole{} }},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding", Namespaced: true, New: func() Object { return &RoleBinding{} }},
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding", Namespaced: false, New: func() Object { return &ClusterRoleBinding{} }},
		{APIVersion: "scheduling.k8s.io/v1", Kind: "PriorityClass", Namespaced: false, New: func() Object { return &PriorityClass{} }},
		{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass", Namespaced: false, New: func() Object { return &StorageClass{} }},
	}
}
