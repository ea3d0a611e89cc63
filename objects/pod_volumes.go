package objects

// Volume is a named volume of a pod; exactly one source is set.
type Volume struct {
	Name         string `json:"name"`
	VolumeSource `json:",inline"`
}

// VolumeSource is where a pod volume's content comes from.
type VolumeSource struct {
	HostPath              *HostPathVolumeSource              `json:"hostPath,omitempty"`
	EmptyDir              *EmptyDirVolumeSource              `json:"emptyDir,omitempty"`
	Secret                *SecretVolumeSource                `json:"secret,omitempty"`
	PersistentVolumeClaim *PersistentVolumeClaimVolumeSource `json:"persistentVolumeClaim,omitempty"`
	DownwardAPI           *DownwardAPIVolumeSource           `json:"downwardAPI,omitempty"`
	ConfigMap             *ConfigMapVolumeSource             `json:"configMap,omitempty"`
	Projected             *ProjectedVolumeSource             `json:"projected,omitempty"`
	// Ephemeral is a claim made for this pod alone from a template (a
	// generic ephemeral volume); see EphemeralVolumeSource.
	Ephemeral *EphemeralVolumeSource `json:"ephemeral,omitempty"`
	// Image is the content of an OCI image, read-only (an image volume).
	Image *ImageVolumeSource `json:"image,omitempty"`
}

// ImageVolumeSource is an image volume: the files of an image (or OCI
// artifact), mounted read-only and non-executable. The node agent pulls
// the image as it pulls a container's, with the pod's pull secrets; a
// container that mounts it waits (ErrImagePull, ImagePullBackOff,
// ErrImageNeverPull) until it is present. The files are the image's
// layers as one filesystem, as a container sees them in its root; a
// mount's subPath picks a directory or file of them. Not every runtime
// mounts images: see runtime.Mount.Image.
type ImageVolumeSource struct {
	// Reference is the image, as a container's image names one.
	Reference string `json:"reference,omitempty"`
	// PullPolicy is when to pull it: Always, Never or IfNotPresent
	// (default Always for a :latest tag or none, else IfNotPresent).
	PullPolicy PullPolicy `json:"pullPolicy,omitempty"`
}

// HostPathVolumeSource is a directory or file of the host.
type HostPathVolumeSource struct {
	Path string        `json:"path"`
	Type *HostPathType `json:"type,omitempty"`
}

// HostPathType says what must exist, or be created, at a host path.
type HostPathType string

// Host path types.
const (
	HostPathUnset             HostPathType = ""
	HostPathDirectoryOrCreate HostPathType = "DirectoryOrCreate"
	HostPathDirectory         HostPathType = "Directory"
	HostPathFileOrCreate      HostPathType = "FileOrCreate"
	HostPathFile              HostPathType = "File"
	HostPathSocket            HostPathType = "Socket"
	HostPathCharDev           HostPathType = "CharDevice"
	HostPathBlockDev          HostPathType = "BlockDevice"
)

// EmptyDirVolumeSource is a directory that lives as long as the pod.
type EmptyDirVolumeSource struct {
	Medium    StorageMedium `json:"medium,omitempty"`
	SizeLimit *Quantity     `json:"sizeLimit,omitempty"`
}

// StorageMedium is where an emptyDir is kept: the node's disk ("") or
// memory (tmpfs).
type StorageMedium string

// Storage media.
const (
	StorageMediumDefault   StorageMedium = ""
	StorageMediumMemory    StorageMedium = "Memory"
	StorageMediumHugePages StorageMedium = "HugePages"
)

// SecretVolumeSource projects a Secret's keys as files.
type SecretVolumeSource struct {
	SecretName  string      `json:"secretName,omitempty"`
	Items       []KeyToPath `json:"items,omitempty"`
	DefaultMode *int32      `json:"defaultMode,omitempty"`
	Optional    *bool       `json:"optional,omitempty"`
}

// ConfigMapVolumeSource projects a ConfigMap's keys as files.
type ConfigMapVolumeSource struct {
	LocalObjectReference `json:",inline"`
	Items                []KeyToPath `json:"items,omitempty"`
	DefaultMode          *int32      `json:"defaultMode,omitempty"`
	Optional             *bool       `json:"optional,omitempty"`
}

// KeyToPath maps one key to a relative file path, with an optional mode.
type KeyToPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
	Mode *int32 `json:"mode,omitempty"`
}

// PersistentVolumeClaimVolumeSource mounts the volume bound to a claim.
type PersistentVolumeClaimVolumeSource struct {
	ClaimName string `json:"claimName"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// DownwardAPIVolumeSource writes pod fields and resource values as files.
type DownwardAPIVolumeSource struct {
	Items       []DownwardAPIVolumeFile `json:"items,omitempty"`
	DefaultMode *int32                  `json:"defaultMode,omitempty"`
}

// DownwardAPIVolumeFile is one file of a downward API volume.
type DownwardAPIVolumeFile struct {
	Path             string                 `json:"path"`
	FieldRef         *ObjectFieldSelector   `json:"fieldRef,omitempty"`
	ResourceFieldRef *ResourceFieldSelector `json:"resourceFieldRef,omitempty"`
	Mode             *int32                 `json:"mode,omitempty"`
}

// ProjectedVolumeSource merges several sources into one directory.
type ProjectedVolumeSource struct {
	Sources     []VolumeProjection `json:"sources"`
	DefaultMode *int32             `json:"defaultMode,omitempty"`
}

// VolumeProjection is one source of a projected volume; exactly one field
// is set.
type VolumeProjection struct {
	Secret              *SecretProjection              `json:"secret,omitempty"`
	DownwardAPI         *DownwardAPIProjection         `json:"downwardAPI,omitempty"`
	ConfigMap           *ConfigMapProjection           `json:"configMap,omitempty"`
	ServiceAccountToken *ServiceAccountTokenProjection `json:"serviceAccountToken,omitempty"`
	ClusterTrustBundle  *ClusterTrustBundleProjection  `json:"clusterTrustBundle,omitempty"`
}

// ServiceAccountTokenProjection projects a token of the pod's service
// account into a projected volume, as the kubelet does: the node agent
// asks the orchestrator for one (podkit.Orchestrator.CreateToken) bound
// to the pod and its node, writes it at Path, and writes a new one
// before it expires (when it is older than 80% of its lifetime, or than
// 24 hours), without restarting the pod's containers. A host verifies
// what a pod presents with podkit.Orchestrator.ReviewToken.
type ServiceAccountTokenProjection struct {
	// Audience is who the token is for; its recipient must refuse a token
	// that does not name it. Empty: the issuer's API audiences (see
	// podkit.WithServiceAccountIssuer).
	Audience string `json:"audience,omitempty"`
	// ExpirationSeconds is how long the token is valid: at least 600,
	// default 3600.
	ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
	// Path is the file's path, relative to the volume.
	Path string `json:"path"`
}

// SecretProjection projects a Secret into a projected volume.
type SecretProjection struct {
	LocalObjectReference `json:",inline"`
	Items                []KeyToPath `json:"items,omitempty"`
	Optional             *bool       `json:"optional,omitempty"`
}

// ConfigMapProjection projects a ConfigMap into a projected volume.
type ConfigMapProjection struct {
	LocalObjectReference `json:",inline"`
	Items                []KeyToPath `json:"items,omitempty"`
	Optional             *bool       `json:"optional,omitempty"`
}

// DownwardAPIProjection projects downward API files into a projected volume.
type DownwardAPIProjection struct {
	Items []DownwardAPIVolumeFile `json:"items,omitempty"`
}
