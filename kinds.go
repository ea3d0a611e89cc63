package podkit

// Names of the built-in kinds, for calls that take a kind.
const (
	KindNamespace               = "Namespace"
	KindNode                    = "Node"
	KindPod                     = "Pod"
	KindReplicaSet              = "ReplicaSet"
	KindDeployment              = "Deployment"
	KindStatefulSet             = "StatefulSet"
	KindDaemonSet               = "DaemonSet"
	KindControllerRevision      = "ControllerRevision"
	KindJob                     = "Job"
	KindCronJob                 = "CronJob"
	KindService                 = "Service"
	KindEndpoints               = "Endpoints"
	KindServiceAccount          = "ServiceAccount"
	KindConfigMap               = "ConfigMap"
	KindSecret                  = "Secret"
	KindPersistentVolume        = "PersistentVolume"
	KindPersistentVolumeClaim   = "PersistentVolumeClaim"
	KindStorageClass            = "StorageClass"
	KindIngress                 = "Ingress"
	KindIngressClass            = "IngressClass"
	KindHorizontalPodAutoscaler = "HorizontalPodAutoscaler"
	KindPriorityClass           = "PriorityClass"
	KindEvent                   = "Event"
	KindLease                   = "Lease"
)
