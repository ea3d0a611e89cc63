package objects

import "reflect"

// Pod is a group of containers scheduled together on one node (v1).
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata,omitempty"`

	Spec   PodSpec   `json:"spec,omitempty"`
	Status PodStatus `json:"status,omitempty"`
}

// DeepCopyObject implements Object.
func (p *Pod) DeepCopyObject() Object { return p.DeepCopy() }

// PodTemplateSpec is the pod a workload controller creates copies of.
type PodTemplateSpec struct {
	ObjectMeta `json:"metadata,omitempty"`

	Spec PodSpec `json:"spec,omitempty"`
}

// PodSpec is the desired state of a pod.
type PodSpec struct {
	Volumes                       []Volume                   `json:"volumes,omitempty" patchStrategy:"merge,retainKeys" patchMergeKey:"name"`
	InitContainers                []Container                `json:"initContainers,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Containers                    []Container                `json:"containers" patchStrategy:"merge" patchMergeKey:"name"`
	RestartPolicy                 RestartPolicy              `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64                     `json:"terminationGracePeriodSeconds,omitempty"`
	ActiveDeadlineSeconds         *int64                     `json:"activeDeadlineSeconds,omitempty"`
	DNSPolicy                     DNSPolicy                  `json:"dnsPolicy,omitempty"`
	NodeSelector                  map[string]string          `json:"nodeSelector,omitempty"`
	ServiceAccountName            string                     `json:"serviceAccountName,omitempty"`
	AutomountServiceAccountToken  *bool                      `json:"automountServiceAccountToken,omitempty"`
	NodeName                      string                     `json:"nodeName,omitempty"`
	HostNetwork                   bool                       `json:"hostNetwork,omitempty"`
	SecurityContext               *PodSecurityContext        `json:"securityContext,omitempty"`
	ImagePullSecrets              []LocalObjectReference     `json:"imagePullSecrets,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Hostname                      string                     `json:"hostname,omitempty"`
	Subdomain                     string                     `json:"subdomain,omitempty"`
	Affinity                      *Affinity                  `json:"affinity,omitempty"`
	SchedulerName                 string                     `json:"schedulerName,omitempty"`
	Tolerations                   []Toleration               `json:"tolerations,omitempty"`
	PriorityClassName             string                     `json:"priorityClassName,omitempty"`
	Priority                      *int32                     `json:"priority,omitempty"`
	DNSConfig                     *PodDNSConfig              `json:"dnsConfig,omitempty"`
	ReadinessGates                []PodReadinessGate         `json:"readinessGates,omitempty"`
	EnableServiceLinks            *bool                      `json:"enableServiceLinks,omitempty"`
	PreemptionPolicy              *PreemptionPolicy          `json:"preemptionPolicy,omitempty"`
	TopologySpreadConstraints     []TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty" patchStrategy:"merge" patchMergeKey:"topologyKey"`
	// SchedulingGates hold the pod back from scheduling until each is
	// removed; see PodSchedulingGate.
	SchedulingGates       []PodSchedulingGate `json:"schedulingGates,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	HostAliases           []HostAlias         `json:"hostAliases,omitempty" patchStrategy:"merge" patchMergeKey:"ip"`
	ShareProcessNamespace *bool               `json:"shareProcessNamespace,omitempty"`
	OS                    *PodOS              `json:"os,omitempty"`
	// RuntimeClassName names the RuntimeClass whose handler runs the pod;
	// none means the node's default.
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`
	// Overhead is what the pod costs beyond its containers, set by
	// admission from its RuntimeClass (see ApplyRuntimeClass).
	Overhead ResourceList `json:"overhead,omitempty"`
	// Resources are the pod's own requests and limits of cpu, memory and
	// hugepages (Kubernetes' pod-level resources): the budget its
	// containers share, whatever each asks. See PodLevelResources.
	Resources *ResourceRequirements `json:"resources,omitempty"`
	// DeprecatedServiceAccount is spec.serviceAccount, the deprecated
	// alias of ServiceAccountName: a spec that names no serviceAccountName
	// takes this one, and defaulting then makes it a copy of
	// serviceAccountName, as the API server's conversion of v1 pods does
	// (serviceAccountName wins when both are set).
	DeprecatedServiceAccount string `json:"serviceAccount,omitempty"`
	// HostPID puts the pod's containers in the node's PID namespace: they
	// see every process of the node (and may signal those their user and
	// capabilities allow). Not with ShareProcessNamespace.
	HostPID bool `json:"hostPID,omitempty"`
	// HostIPC puts the pod's containers in the node's IPC namespace: its
	// System V IPC objects and POSIX message queues, and the node's
	// /dev/shm. IPC sysctls may then not be set.
	HostIPC bool `json:"hostIPC,omitempty"`
	// SetHostnameAsFQDN makes the kernel hostname of the pod's containers
	// (uname -n, hostname) its fully qualified domain name,
	// <hostname>.<subdomain>.<namespace>.svc.<cluster domain>, rather than
	// its hostname alone. It takes effect only for a pod with a subdomain
	// and its own network namespace; a name longer than 64 characters,
	// what the kernel holds, fails the pod's sandbox, as in Kubernetes.
	SetHostnameAsFQDN *bool `json:"setHostnameAsFQDN,omitempty"`
	// HostnameOverride, when set, is the pod's hostname, in place of
	// what its name, hostname and subdomain make it: any DNS subdomain
	// of at most 64 characters. It changes no DNS record. Not with
	// setHostnameAsFQDN nor hostNetwork.
	HostnameOverride *string `json:"hostnameOverride,omitempty"`
	// EphemeralContainers are containers added to the running pod to
	// debug it (see EphemeralContainer): never set on create, only added
	// through Orchestrator.UpdateEphemeralContainers.
	EphemeralContainers []EphemeralContainer `json:"ephemeralContainers,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
}

// RestartPolicy says when the containers of a pod are restarted.
type RestartPolicy string

// Restart policies.
const (
	RestartPolicyAlways    RestartPolicy = "Always"
	RestartPolicyOnFailure RestartPolicy = "OnFailure"
	RestartPolicyNever     RestartPolicy = "Never"
)

// DNSPolicy says how a pod's resolver is configured.
type DNSPolicy string

// DNS policies.
const (
	DNSClusterFirstWithHostNet DNSPolicy = "ClusterFirstWithHostNet"
	DNSClusterFirst            DNSPolicy = "ClusterFirst"
	DNSDefault                 DNSPolicy = "Default"
	DNSNone                    DNSPolicy = "None"
)

// PreemptionPolicy says whether a pod may preempt lower-priority pods.
type PreemptionPolicy string

// Preemption policies.
const (
	PreemptLowerPriority PreemptionPolicy = "PreemptLowerPriority"
	PreemptNever         PreemptionPolicy = "Never"
)

// DefaultSchedulerName is the scheduler a pod gets when it names none.
const DefaultSchedulerName = "default-scheduler"

// PodDNSConfig adds to the resolver configuration a DNSPolicy produces.
type PodDNSConfig struct {
	Nameservers []string             `json:"nameservers,omitempty"`
	Searches    []string             `json:"searches,omitempty"`
	Options     []PodDNSConfigOption `json:"options,omitempty"`
}

// PodDNSConfigOption is one resolver option ("ndots", "5").
type PodDNSConfigOption struct {
	Name  string  `json:"name,omitempty"`
	Value *string `json:"value,omitempty"`
}

// HostAlias is an entry of the pod's /etc/hosts: hostnames for an IP.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames,omitempty"`
}

// PodOS names the operating system a pod's containers are built for; a
// node agent refuses a pod of another system than its node's.
type PodOS struct {
	Name OSName `json:"name"`
}

// OSName is an operating system, as GOOS names it.
type OSName string

// Operating systems a pod may name.
const (
	Linux   OSName = "linux"
	Windows OSName = "windows"
)

// Sysctl is a kernel parameter set in a pod's namespaces.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PodReadinessGate names an extra condition that must be True for the pod
// to be Ready.
type PodReadinessGate struct {
	ConditionType PodConditionType `json:"conditionType"`
}

// PodSecurityContext holds pod-level security settings. runAsNonRoot is
// enforced by the node agent as the kubelet enforces it: a container that
// would run as root (runAsUser 0, or no runAsUser and an image whose user
// is root or a name, not a uid) is not created and waits in
// CreateContainerConfigError. A container's SecurityContext overrides the
// pod's runAsNonRoot and runAsUser.
type PodSecurityContext struct {
	RunAsUser          *int64          `json:"runAsUser,omitempty"`
	RunAsGroup         *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot       *bool           `json:"runAsNonRoot,omitempty"`
	SupplementalGroups []int64         `json:"supplementalGroups,omitempty"`
	FSGroup            *int64          `json:"fsGroup,omitempty"`
	SeccompProfile     *SeccompProfile `json:"seccompProfile,omitempty"`
	Sysctls            []Sysctl        `json:"sysctls,omitempty"`
	// The fields below are described in pod_security.go.
	FSGroupChangePolicy      *PodFSGroupChangePolicy        `json:"fsGroupChangePolicy,omitempty"`
	SupplementalGroupsPolicy *SupplementalGroupsPolicy      `json:"supplementalGroupsPolicy,omitempty"`
	SELinuxOptions           *SELinuxOptions                `json:"seLinuxOptions,omitempty"`
	WindowsOptions           *WindowsSecurityContextOptions `json:"windowsOptions,omitempty"`
	AppArmorProfile          *AppArmorProfile               `json:"appArmorProfile,omitempty"`
}

// SecurityContext holds container-level security settings; they override
// the pod's.
type SecurityContext struct {
	Capabilities             *Capabilities   `json:"capabilities,omitempty"`
	Privileged               *bool           `json:"privileged,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`
	// The fields below are described in pod_security.go.
	SELinuxOptions  *SELinuxOptions                `json:"seLinuxOptions,omitempty"`
	WindowsOptions  *WindowsSecurityContextOptions `json:"windowsOptions,omitempty"`
	ProcMount       *ProcMountType                 `json:"procMount,omitempty"`
	AppArmorProfile *AppArmorProfile               `json:"appArmorProfile,omitempty"`
}

// Capabilities adds and drops Linux capabilities ("NET_ADMIN", "ALL").
type Capabilities struct {
	Add  []Capability `json:"add,omitempty"`
	Drop []Capability `json:"drop,omitempty"`
}

// Capability is a Linux capability name.
type Capability string

// SeccompProfile selects a seccomp profile.
type SeccompProfile struct {
	Type             SeccompProfileType `json:"type"`
	LocalhostProfile *string            `json:"localhostProfile,omitempty"`
}

// SeccompProfileType is RuntimeDefault, Unconfined or Localhost.
type SeccompProfileType string

// Seccomp profile types.
const (
	SeccompProfileTypeUnconfined     SeccompProfileType = "Unconfined"
	SeccompProfileTypeRuntimeDefault SeccompProfileType = "RuntimeDefault"
	SeccompProfileTypeLocalhost      SeccompProfileType = "Localhost"
)

// Container is one container of a pod.
type Container struct {
	Name                     string                   `json:"name"`
	Image                    string                   `json:"image,omitempty"`
	Command                  []string                 `json:"command,omitempty"`
	Args                     []string                 `json:"args,omitempty"`
	WorkingDir               string                   `json:"workingDir,omitempty"`
	Ports                    []ContainerPort          `json:"ports,omitempty" patchStrategy:"merge" patchMergeKey:"containerPort"`
	EnvFrom                  []EnvFromSource          `json:"envFrom,omitempty"`
	Env                      []EnvVar                 `json:"env,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Resources                ResourceRequirements     `json:"resources,omitempty"`
	VolumeMounts             []VolumeMount            `json:"volumeMounts,omitempty" patchStrategy:"merge" patchMergeKey:"mountPath"`
	LivenessProbe            *Probe                   `json:"livenessProbe,omitempty"`
	ReadinessProbe           *Probe                   `json:"readinessProbe,omitempty"`
	StartupProbe             *Probe                   `json:"startupProbe,omitempty"`
	Lifecycle                *Lifecycle               `json:"lifecycle,omitempty"`
	TerminationMessagePath   string                   `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy TerminationMessagePolicy `json:"terminationMessagePolicy,omitempty"`
	ImagePullPolicy          PullPolicy               `json:"imagePullPolicy,omitempty"`
	SecurityContext          *SecurityContext         `json:"securityContext,omitempty"`
	// Stdin keeps the container's stdin open, TTY gives it a terminal.
	// StdinOnce closes stdin after the first attach ends; podkit has no
	// attach (Exec has its own stdin), so it changes nothing.
	Stdin     bool `json:"stdin,omitempty"`
	StdinOnce bool `json:"stdinOnce,omitempty"`
	TTY       bool `json:"tty,omitempty"`
	// ResizePolicy says, per resource (cpu, memory), whether an in-place
	// resize restarts the container (RestartContainer) or not (NotRequired,
	// the default for a resource it does not name). See Orchestrator.Resize.
	ResizePolicy []ContainerResizePolicy `json:"resizePolicy,omitempty"`
	// RestartPolicy overrides the pod's restartPolicy for this container
	// (Always, OnFailure or Never): see Container.Restarts. Always on an
	// init container makes it a sidecar: see Container.IsSidecar.
	RestartPolicy *ContainerRestartPolicy `json:"restartPolicy,omitempty"`
	// RestartPolicyRules decide, in order, whether the container is
	// restarted when it exits with a given code, before its RestartPolicy
	// does; they need RestartPolicy set. See Container.Restarts.
	RestartPolicyRules []ContainerRestartRule `json:"restartPolicyRules,omitempty"`
}

// PullPolicy says when an image is pulled.
type PullPolicy string

// Image pull policies.
const (
	PullAlways       PullPolicy = "Always"
	PullNever        PullPolicy = "Never"
	PullIfNotPresent PullPolicy = "IfNotPresent"
)

// TerminationMessagePolicy says where a container's termination message
// comes from.
type TerminationMessagePolicy string

// Termination message policies.
const (
	TerminationMessageReadFile              TerminationMessagePolicy = "File"
	TerminationMessageFallbackToLogsOnError TerminationMessagePolicy = "FallbackToLogsOnError"
)

// DefaultTerminationMessagePath is where a container writes its
// termination message unless it says otherwise.
const DefaultTerminationMessagePath = "/dev/termination-log"

// Protocol is a network protocol of a port.
type Protocol string

// Port protocols.
const (
	ProtocolTCP  Protocol = "TCP"
	ProtocolUDP  Protocol = "UDP"
	ProtocolSCTP Protocol = "SCTP"
)

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string   `json:"name,omitempty"`
	HostPort      int32    `json:"hostPort,omitempty"`
	ContainerPort int32    `json:"containerPort"`
	Protocol      Protocol `json:"protocol,omitempty"`
	HostIP        string   `json:"hostIP,omitempty"`
}

// EnvVar is one environment variable, with a literal value or a source.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is where an environment variable's value comes from; exactly
// one field is set.
type EnvVarSource struct {
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	ConfigMapKeyRef  *ConfigMapKeySelector  `json:"configMapKeyRef,omitempty"`
	SecretKeyRef     *SecretKeySelector     `json:"secretKeyRef,omitempty"`
	FileKeyRef       *FileKeySelector       `json:"fileKeyRef,omitempty"`
}

// ObjectFieldSelector selects a field of the pod ("metadata.name",
// "status.podIP", "metadata.labels['app']").
type ObjectFieldSelector struct {
	APIVersion string `json:"apiVersion,omitempty"`
	FieldPath  string `json:"fieldPath"`
}

// ResourceFieldSelector selects a container's resource request or limit
// ("limits.cpu"), scaled by Divisor.
type ResourceFieldSelector struct {
	ContainerName string   `json:"containerName,omitempty"`
	Resource      string   `json:"resource"`
	Divisor       Quantity `json:"divisor,omitempty"`
}

// ConfigMapKeySelector selects one key of a ConfigMap.
type ConfigMapKeySelector struct {
	LocalObjectReference `json:",inline"`
	Key                  string `json:"key"`
	Optional             *bool  `json:"optional,omitempty"`
}

// SecretKeySelector selects one key of a Secret.
type SecretKeySelector struct {
	LocalObjectReference `json:",inline"`
	Key                  string `json:"key"`
	Optional             *bool  `json:"optional,omitempty"`
}

// FileKeySelector selects one key of an env file in one of the pod's
// emptyDir volumes, typically written there by an init container
// (Kubernetes' EnvFiles). The node agent reads the file each time it
// starts the container. The file holds KEY='value' lines: the value in
// single quotes, taken literally and possibly spanning lines; blank lines,
// lines starting with '#' and a '#' comment after the closing quote are
// ignored; the first line naming the key wins. A missing file or key is
// an error that keeps the container waiting in CreateContainerConfigError
// (tried again), unless Optional: then the variable is not set.
type FileKeySelector struct {
	// VolumeName names an emptyDir volume of the pod.
	VolumeName string `json:"volumeName"`
	// Path is the file's path within the volume, without "..".
	Path string `json:"path"`
	// Key is the variable to read from the file.
	Key      string `json:"key"`
	Optional *bool  `json:"optional,omitempty"`
}

// EnvFromSource imports every key of a ConfigMap or Secret as environment
// variables, each name prefixed with Prefix.
type EnvFromSource struct {
	Prefix       string              `json:"prefix,omitempty"`
	ConfigMapRef *ConfigMapEnvSource `json:"configMapRef,omitempty"`
	SecretRef    *SecretEnvSource    `json:"secretRef,omitempty"`
}

// ConfigMapEnvSource names the ConfigMap of an EnvFromSource.
type ConfigMapEnvSource struct {
	LocalObjectReference `json:",inline"`
	Optional             *bool `json:"optional,omitempty"`
}

// SecretEnvSource names the Secret of an EnvFromSource.
type SecretEnvSource struct {
	LocalObjectReference `json:",inline"`
	Optional             *bool `json:"optional,omitempty"`
}

// ResourceRequirements are a container's requests (what the scheduler
// reserves) and limits (what the runtime enforces).
type ResourceRequirements struct {
	Limits   ResourceList `json:"limits,omitempty"`
	Requests ResourceList `json:"requests,omitempty"`
}

// VolumeMount mounts a pod volume into a container.
type VolumeMount struct {
	Name      string `json:"name"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	MountPath string `json:"mountPath"`
	SubPath   string `json:"subPath,omitempty"`
	// MountPropagation says whether mounts made later under the volume's
	// host path reach the container, and the container's the host (see
	// MountPropagationMode); nil is None.
	MountPropagation *MountPropagationMode `json:"mountPropagation,omitempty"`
	// SubPathExpr is SubPath with the container's environment variables
	// expanded in it, $(VAR) as in command and args, when the container is
	// created ("$(POD_NAME)" for a directory per pod). A variable that is
	// unset or empty fails the container's creation. Not with SubPath.
	SubPathExpr string `json:"subPathExpr,omitempty"`
	// RecursiveReadOnly, for a read-only mount, says whether the mounts
	// under the volume's path are read-only in the container too (see
	// RecursiveReadOnlyMode); nil is Disabled. Not with a mountPropagation
	// other than None.
	RecursiveReadOnly *RecursiveReadOnlyMode `json:"recursiveReadOnly,omitempty"`
}

// Probe is a health check run against a container.
type Probe struct {
	ProbeHandler                  `json:",inline"`
	InitialDelaySeconds           int32  `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds                int32  `json:"timeoutSeconds,omitempty"`
	PeriodSeconds                 int32  `json:"periodSeconds,omitempty"`
	SuccessThreshold              int32  `json:"successThreshold,omitempty"`
	FailureThreshold              int32  `json:"failureThreshold,omitempty"`
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// ProbeHandler is what a probe does; exactly one field is set.
type ProbeHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC      *GRPCAction      `json:"grpc,omitempty"`
}

// ExecAction runs a command in the container; exit status 0 is success.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// HTTPGetAction sends a GET; a status from 200 to 399 is success.
type HTTPGetAction struct {
	Path        string       `json:"path,omitempty"`
	Port        IntOrString  `json:"port"`
	Host        string       `json:"host,omitempty"`
	Scheme      URIScheme    `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// URIScheme is HTTP or HTTPS.
type URIScheme string

// URI schemes of an HTTPGetAction.
const (
	URISchemeHTTP  URIScheme = "HTTP"
	URISchemeHTTPS URIScheme = "HTTPS"
)

// HTTPHeader is a header sent by an HTTPGetAction.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction opens a TCP connection; connecting is success.
type TCPSocketAction struct {
	Port IntOrString `json:"port"`
	Host string      `json:"host,omitempty"`
}

// GRPCAction calls the gRPC health checking protocol.
type GRPCAction struct {
	Port    int32   `json:"port"`
	Service *string `json:"service"`
}

// Lifecycle holds the hooks run after a container starts and before it is
// stopped.
type Lifecycle struct {
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	PreStop   *LifecycleHandler `json:"preStop,omitempty"`
}

// LifecycleHandler is what a hook does; exactly one field is set.
type LifecycleHandler struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	Sleep     *SleepAction     `json:"sleep,omitempty"`
}

// SleepAction waits for a number of seconds.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// Affinity holds a pod's scheduling constraints relative to nodes and to
// other pods.
type Affinity struct {
	NodeAffinity    *NodeAffinity    `json:"nodeAffinity,omitempty"`
	PodAffinity     *PodAffinity     `json:"podAffinity,omitempty"`
	PodAntiAffinity *PodAntiAffinity `json:"podAntiAffinity,omitempty"`
}

// NodeAffinity constrains and prefers nodes by their labels and fields.
type NodeAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  *NodeSelector             `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PreferredSchedulingTerm is a node selector term with a weight (1-100).
type PreferredSchedulingTerm struct {
	Weight     int32            `json:"weight"`
	Preference NodeSelectorTerm `json:"preference"`
}

// PodAffinity attracts a pod to topology domains running matching pods.
type PodAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  []PodAffinityTerm         `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAntiAffinity repels a pod from topology domains running matching pods.
type PodAntiAffinity struct {
	RequiredDuringSchedulingIgnoredDuringExecution  []PodAffinityTerm         `json:"requiredDuringSchedulingIgnoredDuringExecution,omitempty"`
	PreferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm `json:"preferredDuringSchedulingIgnoredDuringExecution,omitempty"`
}

// PodAffinityTerm selects pods (in Namespaces, or those NamespaceSelector
// matches, or the pod's own) and a topology key naming the domain.
//
// MatchLabelKeys and MismatchLabelKeys name labels of the pod itself: when
// a pod is created, each that it has is added to LabelSelector as "key in
// (value)", or "key notin (value)", as Kubernetes' API server adds them
// (a pod created from a template gets its own values, such as its
// pod-template-hash). Neither may be set without a LabelSelector.
type PodAffinityTerm struct {
	LabelSelector     *LabelSelector `json:"labelSelector,omitempty"`
	Namespaces        []string       `json:"namespaces,omitempty"`
	TopologyKey       string         `json:"topologyKey"`
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	MatchLabelKeys    []string       `json:"matchLabelKeys,omitempty"`
	MismatchLabelKeys []string       `json:"mismatchLabelKeys,omitempty"`
}

// WeightedPodAffinityTerm is a pod affinity term with a weight (1-100).
type WeightedPodAffinityTerm struct {
	Weight          int32           `json:"weight"`
	PodAffinityTerm PodAffinityTerm `json:"podAffinityTerm"`
}

// TopologySpreadConstraint spreads matching pods evenly over topology
// domains.
type TopologySpreadConstraint struct {
	MaxSkew            int32                         `json:"maxSkew"`
	TopologyKey        string                        `json:"topologyKey"`
	WhenUnsatisfiable  UnsatisfiableConstraintAction `json:"whenUnsatisfiable"`
	LabelSelector      *LabelSelector                `json:"labelSelector,omitempty"`
	MinDomains         *int32                        `json:"minDomains,omitempty"`
	NodeAffinityPolicy *NodeInclusionPolicy          `json:"nodeAffinityPolicy,omitempty"`
	NodeTaintsPolicy   *NodeInclusionPolicy          `json:"nodeTaintsPolicy,omitempty"`
	MatchLabelKeys     []string                      `json:"matchLabelKeys,omitempty"`
}

// UnsatisfiableConstraintAction is DoNotSchedule or ScheduleAnyway.
type UnsatisfiableConstraintAction string

// Actions when a spread constraint cannot be met.
const (
	DoNotSchedule  UnsatisfiableConstraintAction = "DoNotSchedule"
	ScheduleAnyway UnsatisfiableConstraintAction = "ScheduleAnyway"
)

// NodeInclusionPolicy is Honor or Ignore.
type NodeInclusionPolicy string

// Node inclusion policies of a spread constraint.
const (
	NodeInclusionPolicyIgnore NodeInclusionPolicy = "Ignore"
	NodeInclusionPolicyHonor  NodeInclusionPolicy = "Honor"
)

// PodStatus is the observed state of a pod, written by the scheduler and
// the node agent.
type PodStatus struct {
	// ObservedGeneration is the pod's metadata.generation (which grows
	// with every change of its spec, and when its deletion begins) that
	// the node agent had acted on when it wrote this status, as the
	// kubelet reports it; 0 until the agent first writes.
	ObservedGeneration    int64             `json:"observedGeneration,omitempty"`
	Phase                 PodPhase          `json:"phase,omitempty"`
	Conditions            []PodCondition    `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
	Message               string            `json:"message,omitempty"`
	Reason                string            `json:"reason,omitempty"`
	NominatedNodeName     string            `json:"nominatedNodeName,omitempty"`
	HostIP                string            `json:"hostIP,omitempty"`
	HostIPs               []HostIP          `json:"hostIPs,omitempty" patchStrategy:"merge" patchMergeKey:"ip"`
	PodIP                 string            `json:"podIP,omitempty"`
	PodIPs                []PodIP           `json:"podIPs,omitempty" patchStrategy:"merge" patchMergeKey:"ip"`
	StartTime             *Time             `json:"startTime,omitempty"`
	InitContainerStatuses []ContainerStatus `json:"initContainerStatuses,omitempty"`
	ContainerStatuses     []ContainerStatus `json:"containerStatuses,omitempty"`
	QOSClass              PodQOSClass       `json:"qosClass,omitempty"`
	// EphemeralContainerStatuses are those of spec.ephemeralContainers.
	EphemeralContainerStatuses []ContainerStatus `json:"ephemeralContainerStatuses,omitempty"`
}

// PodPhase is the coarse state of a pod.
type PodPhase string

// Pod phases.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
	PodUnknown   PodPhase = "Unknown"
)

// PodIP is one IP address of a pod.
type PodIP struct {
	IP string `json:"ip"`
}

// HostIP is one IP address of the pod's node.
type HostIP struct {
	IP string `json:"ip"`
}

// PodQOSClass is Guaranteed, Burstable or BestEffort.
type PodQOSClass string

// QoS classes.
const (
	PodQOSGuaranteed PodQOSClass = "Guaranteed"
	PodQOSBurstable  PodQOSClass = "Burstable"
	PodQOSBestEffort PodQOSClass = "BestEffort"
)

// PodConditionType names a pod condition.
type PodConditionType string

// Pod conditions the scheduler and node agent maintain.
const (
	PodScheduled              PodConditionType = "PodScheduled"
	PodInitialized            PodConditionType = "Initialized"
	ContainersReady           PodConditionType = "ContainersReady"
	PodReady                  PodConditionType = "Ready"
	DisruptionTarget          PodConditionType = "DisruptionTarget"
	PodReadyToStartContainers PodConditionType = "PodReadyToStartContainers"
	// AllContainersRestarting: a container's RestartAllContainers rule
	// matched its exit and the pod restarts in place (see
	// Container.RestartsAll); kept on pods with such a rule only.
	AllContainersRestarting PodConditionType = "AllContainersRestarting"
	// PodResizePending: the spec's resources were changed (a resize) and
	// the node agent has not admitted them; reason PodReasonDeferred or
	// PodReasonInfeasible.
	PodResizePending PodConditionType = "PodResizePending"
	// PodResizeInProgress: the node agent admitted a resize and is applying
	// it; reason PodReasonError while applying fails.
	PodResizeInProgress PodConditionType = "PodResizeInProgress"
)

// Reasons used in pod conditions and status.
const (
	PodReasonUnschedulable = "Unschedulable"
)

// PodCondition is one condition of a pod.
type PodCondition struct {
	Type PodConditionType `json:"type"`
	// ObservedGeneration is the pod's metadata.generation the component
	// that set the condition (the scheduler, the node agent, a
	// controller) had seen; 0 for a condition of the host's own that
	// leaves it unset.
	ObservedGeneration int64           `json:"observedGeneration,omitempty"`
	Status             ConditionStatus `json:"status"`
	LastProbeTime      Time            `json:"lastProbeTime,omitempty"`
	LastTransitionTime Time            `json:"lastTransitionTime,omitempty"`
	Reason             string          `json:"reason,omitempty"`
	Message            string          `json:"message,omitempty"`
}

// ContainerStatus is the observed state of one container.
type ContainerStatus struct {
	Name                 string         `json:"name"`
	State                ContainerState `json:"state,omitempty"`
	LastTerminationState ContainerState `json:"lastState,omitempty"`
	Ready                bool           `json:"ready"`
	RestartCount         int32          `json:"restartCount"`
	Image                string         `json:"image"`
	ImageID              string         `json:"imageID"`
	ContainerID          string         `json:"containerID,omitempty"`
	Started              *bool          `json:"started,omitempty"`
	// AllocatedResources are the cpu and memory requests the node agent
	// has admitted for the container: the spec's, or those of before a
	// resize it has not admitted yet.
	AllocatedResources ResourceList `json:"allocatedResources,omitempty"`
	// Resources are the cpu and memory requests and limits the container
	// runs with, as its runtime applies them (those it will start with
	// when it is not running).
	Resources *ResourceRequirements `json:"resources,omitempty"`
	// VolumeMounts are the container's mounts of the pod's volumes as the
	// node agent made them, in the order of its volumeMounts; a read-only
	// one's RecursiveReadOnly is Enabled or Disabled, what it got.
	VolumeMounts []VolumeMountStatus `json:"volumeMounts,omitempty" patchStrategy:"merge" patchMergeKey:"mountPath"`
}

// VolumeMountStatus is how a volume is mounted in a container.
type VolumeMountStatus struct {
	Name              string                 `json:"name"`
	MountPath         string                 `json:"mountPath"`
	ReadOnly          bool                   `json:"readOnly,omitempty"`
	RecursiveReadOnly *RecursiveReadOnlyMode `json:"recursiveReadOnly,omitempty"`
}

// ContainerState is waiting, running or terminated; at most one is set.
type ContainerState struct {
	Waiting    *ContainerStateWaiting    `json:"waiting,omitempty"`
	Running    *ContainerStateRunning    `json:"running,omitempty"`
	Terminated *ContainerStateTerminated `json:"terminated,omitempty"`
}

// ContainerStateWaiting is a container not yet running, and why
// ("ContainerCreating", "CrashLoopBackOff", "ErrImagePull").
type ContainerStateWaiting struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// ContainerStateRunning is a running container.
type ContainerStateRunning struct {
	StartedAt Time `json:"startedAt,omitempty"`
}

// ContainerStateTerminated is a container that has exited.
type ContainerStateTerminated struct {
	ExitCode    int32  `json:"exitCode"`
	Signal      int32  `json:"signal,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Message     string `json:"message,omitempty"`
	StartedAt   Time   `json:"startedAt,omitempty"`
	FinishedAt  Time   `json:"finishedAt,omitempty"`
	ContainerID string `json:"containerID,omitempty"`
}

// IsTerminal reports whether the pod has finished for good: Succeeded or
// Failed.
func (p *Pod) IsTerminal() bool {
	return p.Status.Phase == PodSucceeded || p.Status.Phase == PodFailed
}

// KeepsGeneration implements store.GenerationKeeper: a pod's binding to
// a node (spec.nodeName set, nothing else of the spec changed) makes no
// new generation, as in Kubernetes, where the binding is not an update of
// the spec.
func (p *Pod) KeepsGeneration(old Object) bool {
	o, ok := old.(*Pod)
	if !ok || o.Spec.NodeName != "" || p.Spec.NodeName == "" {
		return false
	}
	bound := o.Spec
	bound.NodeName = p.Spec.NodeName
	return reflect.DeepEqual(&bound, &p.Spec)
}

// PrepareForCreate implements store.CreatePreparer, as Kubernetes' pod
// strategy: whatever status was sent, a new pod is Pending, with its QoS
// class. Its spec.serviceAccount is its serviceAccountName, which
// admission may have set, as the API server writes the alias.
func (p *Pod) PrepareForCreate() {
	p.Status = PodStatus{Phase: PodPending, QOSClass: PodQOS(p)}
	p.setSchedulingGatedCondition()
	p.Spec.DeprecatedServiceAccount = p.Spec.ServiceAccountName
	p.applyLabelKeys()
}

// GracefulDelete implements store.GracefulDeleter, as Kubernetes' pod
// strategy's CheckGracefulDelete: only a pod bound to a node and not
// terminated is kept for the grace period of its deletion, for its node
// agent to stop it; any other is deleted at once, whatever grace period is
// asked for.
func (p *Pod) GracefulDelete() bool {
	return p.Spec.NodeName != "" && !p.IsTerminal()
}

// DeletionGracePeriod is the grace period Kubernetes gives a pod deleted
// without one: its own terminationGracePeriodSeconds when it is bound to a
// node and not yet terminal (its node agent must stop it), else none.
func (p *Pod) DeletionGracePeriod() int64 {
	if !p.GracefulDelete() {
		return 0
	}
	if p.Spec.TerminationGracePeriodSeconds != nil {
		return *p.Spec.TerminationGracePeriodSeconds
	}
	return DefaultTerminationGracePeriodSeconds
}

// GetPodCondition returns the condition of type t of the status, or nil.
// The pointer refers into status, so it can be updated in place.
func GetPodCondition(status *PodStatus, t PodConditionType) *PodCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(p *Pod) bool {
	c := GetPodCondition(&p.Status, PodReady)
	return c != nil && c.Status == ConditionTrue
}

func addTo(l ResourceList, name ResourceName, q Quantity) {
	if cur, ok := l[name]; ok {
		cur.Add(q)
		l[name] = cur
		return
	}
	l[name] = q.DeepCopy()
}
