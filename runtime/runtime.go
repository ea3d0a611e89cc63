// Package runtime is the contract between podkit's node agents and the
// container runtimes that run pods: a pod sandbox that owns the pod's network
// namespace and IP, the containers in it, and the images they run.
//
// Backends live beside it (runtime/fake, runtime/docker, runtime/containerd),
// each with a plain constructor; importing one registers nothing. Every
// backend passes the conformance suite in runtime/runtimetest.
//
// Optional capabilities (logs, exec, stats) are separate small interfaces a
// backend may implement; callers find them by type assertion.
package runtime

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"
)

// Runtime runs pods on one node. Implementations are safe for concurrent use;
// a node agent calls them from several goroutines. Every object a runtime
// creates carries the labels of its SandboxConfig or ContainerConfig, so an
// agent that restarts can find and adopt what exists.
type Runtime interface {
	SandboxService
	ContainerService
	ImageService
}

// SandboxService manages pod sandboxes.
type SandboxService interface {
	// RunSandbox creates and starts a sandbox: the pod's network namespace,
	// with one IP that every container of the pod shares.
	RunSandbox(ctx context.Context, cfg *SandboxConfig) (id string, err error)
	// StopSandbox stops the sandbox and any container still running in it.
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox removes a stopped sandbox and its containers.
	RemoveSandbox(ctx context.Context, id string) error
	// ListSandboxes returns the sandboxes whose labels include f.Labels.
	ListSandboxes(ctx context.Context, f Filter) ([]SandboxStatus, error)
}

// ContainerService manages the containers of sandboxes.
type ContainerService interface {
	// CreateContainer creates a container in a sandbox, not started.
	CreateContainer(ctx context.Context, sandboxID string, cfg *ContainerConfig) (id string, err error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends opts.Signal (SIGTERM when zero) and, if the
	// container has not exited after opts.Grace, kills it.
	StopContainer(ctx context.Context, id string, opts StopOptions) error
	// RemoveContainer removes a container that is not running.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers returns the containers whose labels include f.Labels
	// (and that belong to f.SandboxID when set).
	ListContainers(ctx context.Context, f Filter) ([]ContainerStatus, error)
}

// ImageService keeps images on the node. Pull policies are the agent's
// business (see EnsureImage); the service only reports and pulls.
type ImageService interface {
	// ImagePresent reports whether ref is on the node.
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// PullImage fetches ref from its registry, reporting progress to
	// opts.Progress when set.
	PullImage(ctx context.Context, ref string, opts PullOptions) error
}

// Errors every backend returns (wrapped) so callers can tell cases apart.
var (
	// ErrNotFound: no sandbox, container or image with that id or reference.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the runtime cannot be reached.
	ErrUnavailable = errors.New("runtime unavailable")
	// ErrImagePull: an image could not be pulled (unreachable registry,
	// unknown image, or refused credentials).
	ErrImagePull = errors.New("image pull failed")
	// ErrImageNeverPull: the image is absent and the policy forbids pulling.
	ErrImageNeverPull = errors.New("image is absent and pull policy is Never")
)

// Labels podkit puts on every sandbox and container.
const (
	LabelPodUID        = "io.podkit.pod.uid"
	LabelPodName       = "io.podkit.pod.name"
	LabelPodNamespace  = "io.podkit.pod.namespace"
	LabelContainerName = "io.podkit.container.name"
	LabelNode          = "io.podkit.node"
)

// SandboxConfig describes a pod sandbox.
type SandboxConfig struct {
	PodUID       string
	PodName      string
	PodNamespace string
	Hostname     string
	// Attempt counts sandboxes created for this pod, from 0.
	Attempt uint32
	// Labels are put on the sandbox; the agent sets the Label* constants.
	Labels map[string]string
	DNS    DNSConfig
	// Ports are published on the node (pods' hostPort).
	Ports []PortMapping
	// HostNetwork runs the pod in the node's network namespace.
	HostNetwork bool
}

// DNSConfig is the resolver configuration written into a pod.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string
}

// PortMapping publishes a container port on the node.
type PortMapping struct {
	Protocol      string // TCP, UDP or SCTP
	ContainerPort int32
	HostPort      int32
	HostIP        string
}

// SandboxState is Ready while the sandbox's network namespace is up.
type SandboxState string

// Sandbox states.
const (
	SandboxReady    SandboxState = "Ready"
	SandboxNotReady SandboxState = "NotReady"
)

// SandboxStatus is what a runtime reports about a sandbox.
type SandboxStatus struct {
	ID        string
	State     SandboxState
	IP        string
	CreatedAt time.Time
	Labels    map[string]string
	Attempt   uint32
}

// ContainerConfig describes a container to create.
type ContainerConfig struct {
	Name string
	// Attempt counts restarts of this container in its pod, from 0.
	Attempt    uint32
	Image      string
	Command    []string
	Args       []string
	WorkingDir string
	Env        []EnvVar
	Mounts     []Mount
	Resources  Resources
	Labels     map[string]string
	Stdin      bool
	TTY        bool
	// User is "uid" or "uid:gid"; empty runs as the image says.
	User       string
	Privileged bool
	ReadOnly   bool // read-only root filesystem
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string
	Value string
}

// Mount binds a host path into a container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// Resources are a container's limits, as the runtime enforces them.
type Resources struct {
	// CPUShares is the relative weight (from requests.cpu, 1024 per CPU).
	CPUShares int64
	// CPUQuotaMillis caps CPU time in thousandths of a CPU (limits.cpu); 0 is
	// no cap.
	CPUQuotaMillis int64
	// MemoryLimitBytes caps memory (limits.memory); 0 is no cap.
	MemoryLimitBytes int64
}

// ContainerState is the lifecycle state of a container.
type ContainerState string

// Container states.
const (
	ContainerCreated ContainerState = "Created"
	ContainerRunning ContainerState = "Running"
	ContainerExited  ContainerState = "Exited"
	ContainerUnknown ContainerState = "Unknown"
)

// ContainerStatus is what a runtime reports about a container.
type ContainerStatus struct {
	ID         string
	SandboxID  string
	Name       string
	Attempt    uint32
	Image      string
	ImageID    string
	State      ContainerState
	ExitCode   int32
	Reason     string // "OOMKilled", "Error", "Completed" once exited
	Message    string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	Labels     map[string]string
}

// Filter selects sandboxes or containers by labels (all must match) and,
// for containers, by sandbox.
type Filter struct {
	Labels    map[string]string
	SandboxID string
}

// StopOptions tune StopContainer.
type StopOptions struct {
	Grace  time.Duration
	Signal syscall.Signal
}

// PullOptions tune PullImage.
type PullOptions struct {
	// Progress, when set, is called with progress reports during the pull.
	Progress func(PullProgress)
}

// PullProgress reports a pull in flight.
type PullProgress struct {
	Status  string
	Current int64
	Total   int64
}

// LogReader is implemented by runtimes that keep container output.
type LogReader interface {
	// ContainerLogs returns the container's output as lines, each
	// "stdout "/"stderr " prefixed when opts.Streams is set.
	ContainerLogs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
}

// LogOptions choose what ContainerLogs returns.
type LogOptions struct {
	Follow     bool
	Tail       int // lines from the end; negative for all
	Since      time.Time
	Timestamps bool
}

// Execer is implemented by runtimes that can run a command in a container.
type Execer interface {
	// Exec runs opts.Command in the container and returns its exit code.
	Exec(ctx context.Context, id string, opts ExecOptions) (exitCode int, err error)
}

// ExecOptions describe a command to run in a container.
type ExecOptions struct {
	Command []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	TTY     bool
}

// StatsProvider is implemented by runtimes that report resource usage.
type StatsProvider interface {
	// ContainerStats returns the container's current usage.
	ContainerStats(ctx context.Context, id string) (Stats, error)
}

// Stats is a container's resource usage at one moment.
type Stats struct {
	Timestamp time.Time
	// CPUUsageNanos is the cumulative CPU time used.
	CPUUsageNanos uint64
	// MemoryWorkingSetBytes is the memory in use that cannot be reclaimed.
	MemoryWorkingSetBytes uint64
}
