// Package runtime is the contract between podkit's node agents and the
// container runtimes that run pods: a pod sandbox that owns the pod's network
// namespace and IP, the containers in it, and the images they run.
//
// A sandbox gives its containers what a Kubernetes pod sandbox does (see
// SandboxConfig): one network namespace and IP (or the node's, for
// HostNetwork) with the pod's published host ports, its hostname, its
// resolver configuration and its /etc/hosts, with the pod's host aliases
// in the kubelet's format (HostsFile); the pod's namespaced sysctls; with
// ShareProcessNamespace, one PID namespace for all of them; and, with
// HostPID and HostIPC, the node's PID and IPC namespaces. The node agent
// decides what a pod may ask for (which sysctls, say); backends apply
// what they are given.
//
// Backends live beside it (runtime/fake, runtime/docker, runtime/containerd),
// each with a plain constructor; importing one registers nothing. Every
// backend passes the conformance suite in runtime/runtimetest.
//
// Optional capabilities (logs, exec, stats, change events, in-place
// resource updates, an image's user, dialling pod IPs, the host's address
// on the pod network) are separate small interfaces a backend may
// implement; callers find them by type assertion. A node agent enforces
// runAsNonRoot with the image's user (ImageConfigReader), and refuses
// such a container on a runtime that cannot report it.
//
// Lifecycle: the host program creates a runtime (docker.New, containerd.New,
// fake.New), hands it to the orchestrator with RegisterNode, and closes it
// after the node is removed or the orchestrator has stopped. Closing a
// runtime releases its connections; it never stops the pods it runs, so a
// restarted host adopts them.
package runtime

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Runtime runs pods on one node. Implementations are safe for concurrent use;
// a node agent calls them from several goroutines. Every object a runtime
// creates carries the labels of its SandboxConfig or ContainerConfig, so an
// agent that restarts can find and adopt what exists.
//
// Methods taking an id return an error wrapping ErrNotFound when nothing has
// that id, and every method returns an error wrapping ErrUnavailable when the
// runtime cannot be reached.
type Runtime interface {
	SandboxService
	ContainerService
	ImageService
	// Version names the runtime and its version; it doubles as the health
	// check a node agent runs to decide whether the node is Ready.
	Version(ctx context.Context) (VersionInfo, error)
	// Close releases the runtime's connections. Pods keep running.
	io.Closer
}

// VersionInfo identifies a runtime. A node reports it as
// status.nodeInfo.containerRuntimeVersion, "Name://Version".
type VersionInfo struct {
	Name    string // "docker", "containerd", "fake"
	Version string
}

// SandboxService manages pod sandboxes.
type SandboxService interface {
	// RunSandbox creates and starts a sandbox: the pod's network namespace,
	// with one IP that every container of the pod shares. It returns once
	// the sandbox is Ready and its IP is known.
	RunSandbox(ctx context.Context, cfg *SandboxConfig) (id string, err error)
	// StopSandbox kills any container still running in the sandbox and
	// tears its network down; the sandbox is then NotReady. Stopping a
	// stopped sandbox does nothing.
	StopSandbox(ctx context.Context, id string) error
	// RemoveSandbox removes the sandbox and its containers, stopping them
	// first if needed.
	RemoveSandbox(ctx context.Context, id string) error
	// ListSandboxes returns the sandboxes whose labels include f.Labels.
	ListSandboxes(ctx context.Context, f Filter) ([]SandboxStatus, error)
}

// ContainerService manages the containers of sandboxes.
type ContainerService interface {
	// CreateContainer creates a container in a Ready sandbox, not started.
	// The image must be present (an error wrapping ErrNotFound otherwise):
	// pulling is the caller's decision.
	CreateContainer(ctx context.Context, sandboxID string, cfg *ContainerConfig) (id string, err error)
	// StartContainer starts a created container. A container runs once:
	// restarting means creating a new container with the next Attempt.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends opts.Signal (SIGTERM when zero) and, if the
	// container has not exited after opts.Grace, kills it (exit code 137).
	// It returns once the container has exited, or when ctx ends. Stopping
	// a container that is not running does nothing.
	StopContainer(ctx context.Context, id string, opts StopOptions) error
	// RemoveContainer removes a container, killing it first if it is still
	// running.
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
	// opts.Progress when set. A failure wraps ErrImagePull.
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
	// ErrUnknownRuntimeHandler: a sandbox names a runtime handler the
	// runtime does not have (SandboxConfig.RuntimeHandler).
	ErrUnknownRuntimeHandler = errors.New("unknown runtime handler")
)

// Labels podkit puts on every sandbox and container. Backends store them as
// given and return them in SandboxStatus and ContainerStatus; the node agent
// finds what it owns by LabelNode and LabelPodUID.
const (
	LabelPodUID        = "io.podkit.pod.uid"
	LabelPodName       = "io.podkit.pod.name"
	LabelPodNamespace  = "io.podkit.pod.namespace"
	LabelContainerName = "io.podkit.container.name"
	LabelNode          = "io.podkit.node"
	// LabelContainerHash is a digest of the container's spec; a container
	// whose spec changed is replaced.
	LabelContainerHash = "io.podkit.container.hash"
)

// SandboxConfig describes a pod sandbox.
type SandboxConfig struct {
	PodUID       string
	PodName      string
	PodNamespace string
	Hostname     string
	// Domain is the pod's DNS domain when it has a subdomain,
	// subdomain.namespace.svc.clusterDomain: its /etc/hosts then names
	// its IP by hostname.Domain and hostname, as the kubelet writes it
	// (see HostsName). Backends leave the kernel's domain name alone.
	Domain string
	// Attempt counts sandboxes created for this pod, from 0.
	Attempt uint32
	// Labels are put on the sandbox; the agent sets the Label* constants.
	Labels map[string]string
	DNS    DNSConfig
	// Ports are published on the node (pods' hostPort).
	Ports []PortMapping
	// HostNetwork runs the pod in the node's network namespace.
	HostNetwork bool
	// HostAliases are entries of the pod's /etc/hosts, which every
	// container of the sandbox sees: after the file's own lines, the
	// kubelet's section "# Entries added by HostAliases.", one line per
	// entry, the IP and its hostnames separated by tabs (see HostsFile).
	// A HostNetwork pod's file is a copy of the node's with the section
	// appended.
	HostAliases []HostAlias
	// Sysctls are kernel parameters (dotted names, as
	// "net.ipv4.ip_local_port_range", to values) set in the sandbox's
	// namespaces, which its containers see: net.* in its network
	// namespace, the IPC ones (kernel.shm*, kernel.msg*, kernel.sem,
	// fs.mqueue.*) in its IPC namespace, or in each container's where the
	// backend gives containers one each. Only namespaced parameters may be
	// given, and none of the network namespace for HostNetwork; the node
	// agent decides which are allowed. A runtime that cannot set one fails
	// RunSandbox, or, where it sets them per container, the start of the
	// sandbox's containers.
	Sysctls map[string]string
	// ShareProcessNamespace puts the sandbox's containers in one PID
	// namespace, the sandbox's: each sees the others' processes, and the
	// sandbox's own process is PID 1. Else each container has its own.
	ShareProcessNamespace bool
	// HostPID puts the sandbox's containers in the node's PID namespace (a
	// pod's spec.hostPID): they see every process of the node, those of
	// other sandboxes too. ShareProcessNamespace is then moot.
	HostPID bool
	// HostIPC puts the sandbox's containers in the node's IPC namespace
	// (spec.hostIPC), with the node's /dev/shm as theirs, as Kubernetes'
	// runtimes give it. No IPC sysctl may be given with it.
	HostIPC bool
	// RuntimeHandler names the runtime configuration that runs the sandbox
	// and its containers (a RuntimeClass's handler, such as runc or
	// runsc); empty means the runtime's default. A runtime that does not
	// know it fails RunSandbox with an error wrapping
	// ErrUnknownRuntimeHandler, and makes nothing. Every runtime knows
	// "runc".
	RuntimeHandler string
	// Resources, when set, confine the sandbox and all its containers
	// together, as the kubelet's pod cgroup confines a pod with
	// pod-level resources (spec.resources): the cpu weight and quota and
	// the memory limit apply to their sum, within which each container
	// keeps its own. Only a runtime that says it can
	// (PodResourcesReporter) is given them; another fails RunSandbox
	// with an error wrapping ErrPodResources.
	Resources *Resources
}

// PodResourcesReporter is implemented by runtimes that can confine a
// sandbox's containers together (SandboxConfig.Resources). A node agent
// refuses a pod with pod-level resources on a runtime that cannot, as a
// kubelet without the feature refuses it (PodLevelResourcesNotSupported).
type PodResourcesReporter interface {
	// PodLevelResources reports whether RunSandbox honours
	// SandboxConfig.Resources.
	PodLevelResources() bool
}

// ErrPodResources is wrapped by the error of a RunSandbox given
// SandboxConfig.Resources by a runtime that cannot honour them.
var ErrPodResources = errors.New("pod-level resources are not supported")

// HostAlias is an entry of a pod's /etc/hosts: hostnames for an IP.
type HostAlias struct {
	IP        string
	Hostnames []string
}

// String returns "namespace/name", for messages.
func (c *SandboxConfig) String() string { return c.PodNamespace + "/" + c.PodName }

// DNSConfig is the resolver configuration written into a pod.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string
}

// Clone returns a copy of d that shares no slice with it.
func (d DNSConfig) Clone() DNSConfig {
	return DNSConfig{Servers: slices.Clone(d.Servers), Searches: slices.Clone(d.Searches), Options: slices.Clone(d.Options)}
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
	ID    string
	State SandboxState
	// IP is the pod's IP while the sandbox is Ready (the node's IP, or
	// empty, for HostNetwork sandboxes).
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
	// Ports are the ports the container declares (informational: the
	// sandbox owns the network; hostPorts are published by SandboxConfig).
	Ports  []ContainerPort
	Labels map[string]string
	Stdin  bool
	TTY    bool
	// User is "uid" or "uid:gid"; empty runs as the image says.
	User       string
	Privileged bool
	ReadOnly   bool // read-only root filesystem
	// CapAdd and CapDrop adjust Linux capabilities ("NET_ADMIN", "ALL").
	CapAdd  []string
	CapDrop []string
	// Security holds the container's groups, seccomp, AppArmor and
	// SELinux settings and no_new_privs (see Security).
	Security Security
	// TerminationMessagePath is the file in the container (Kubernetes'
	// terminationMessagePath, "/dev/termination-log" by default there)
	// whose content, its last MaxTerminationMessage bytes, the runtime
	// reports as the container's ContainerStatus.Message once it has
	// exited. The runtime mounts an empty, writable file of its own
	// there, since a file on the container's own filesystem (a /dev
	// tmpfs) may be gone once it stops. Empty: none.
	TerminationMessagePath string
	// TargetContainerID, when set, puts the container in the PID
	// namespace of that container of the same sandbox, as the CRI's
	// NamespaceMode TARGET does for a Kubernetes ephemeral container's
	// targetContainerName: it sees the target's processes (and any other
	// container targeting it), and they see it. The target must be
	// running when the container is created and when it is started, or
	// that call fails. A node agent sets it only in a sandbox without
	// ShareProcessNamespace and HostPID, whose containers have their own
	// PID namespaces.
	TargetContainerID string
}

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string
	ContainerPort int32
	Protocol      string // TCP, UDP or SCTP
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string
	Value string
}

// Mount binds a host path, or the files of an image, into a container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
	// Image, when set, mounts the files of this image instead of HostPath
	// (CRI's Mount.image, Kubernetes' image volumes): its layers as one
	// filesystem, as a container of it sees its root, read-only and
	// non-executable whatever ReadOnly says. The image must be present
	// (a node agent pulls it first), else CreateContainer fails with an
	// error wrapping ErrNotFound. A runtime that cannot mount images
	// fails it with one wrapping ErrImageVolume. The runtime keeps what
	// the mount needs until the container is removed.
	Image string
	// ImageSubPath, with Image, mounts this directory or file of the
	// image's files instead of all of them (a volume mount's subPath): a
	// relative path, without "..", resolved within them; one that is not
	// there fails CreateContainer.
	ImageSubPath string
	// Propagation says whether mounts made under HostPath after the
	// container started reach it, and whether those it makes under
	// ContainerPath reach the host (Kubernetes' mountPropagation). As in
	// Kubernetes' runtimes, a container is refused, by CreateContainer or
	// StartContainer, whose HostToContainer mount's HostPath is not on a
	// shared or slave mount of the host, or whose Bidirectional one's is
	// not on a shared mount: nothing would propagate.
	Propagation MountPropagation
	// RecursiveReadOnly, with ReadOnly, makes the mounts under HostPath
	// read-only in the container too (Kubernetes' recursiveReadOnly). A
	// runtime that cannot (see RecursiveReadOnlyReporter) refuses the
	// container. Not with a Propagation other than PropagationPrivate.
	RecursiveReadOnly bool
}

// RecursiveReadOnlyReporter is implemented by runtimes that can make
// recursively read-only mounts (Mount.RecursiveReadOnly) for some of
// their handlers; a runtime that does not implement it cannot make them.
// A node agent asks before it creates a container whose mount wants one,
// as the kubelet reads its runtime handlers' features.
type RecursiveReadOnlyReporter interface {
	// RecursiveReadOnlyMounts reports whether containers of sandboxes
	// with the runtime handler (SandboxConfig.RuntimeHandler, "" for the
	// default) can have recursively read-only mounts.
	RecursiveReadOnlyMounts(handler string) bool
}

// ErrRecursiveReadOnly is wrapped by the error of a CreateContainer that
// asks for a recursively read-only mount the runtime cannot make.
var ErrRecursiveReadOnly = errors.New("recursive read-only mounts are not supported")

// ErrImageVolume is wrapped by the error of a CreateContainer that asks
// for an image mount (Mount.Image) on a runtime that cannot make one.
var ErrImageVolume = errors.New("image volumes are not supported")

// MountPropagation is how mounts propagate between a Mount's host path
// and the container (mount_namespaces(7)).
type MountPropagation uint8

// Mount propagations, as Kubernetes' CRI names them.
const (
	// PropagationPrivate: nothing mounted on either side after the
	// container started crosses (rprivate). The default.
	PropagationPrivate MountPropagation = iota
	// PropagationHostToContainer: mounts made on the host under the host
	// path reach the container; the container's do not reach the host
	// (rslave).
	PropagationHostToContainer
	// PropagationBidirectional: as PropagationHostToContainer, and mounts
	// the container makes reach the host and every container mounting the
	// same path (rshared). Kubernetes allows it only to privileged
	// containers.
	PropagationBidirectional
)

// String returns Kubernetes' name of p ("None", "HostToContainer",
// "Bidirectional").
func (p MountPropagation) String() string {
	switch p {
	case PropagationPrivate:
		return "None"
	case PropagationHostToContainer:
		return "HostToContainer"
	case PropagationBidirectional:
		return "Bidirectional"
	}
	return "MountPropagation(" + strconv.Itoa(int(p)) + ")"
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
	ID        string
	SandboxID string
	Name      string
	Attempt   uint32
	Image     string
	ImageID   string
	State     ContainerState
	ExitCode  int32
	// Reason is set once exited: "Completed" (exit code 0), "Error", or
	// "OOMKilled" when the kernel killed it for exceeding its memory limit.
	Reason string
	// Message is set once exited: what the runtime says of the exit (why
	// a start failed, say) and the termination message the container
	// wrote (see ContainerConfig.TerminationMessagePath), joined by ": "
	// when there are both, as the kubelet joins them.
	Message    string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	Labels     map[string]string
	// Resources are the limits the container was created or last updated
	// with (see ResourceUpdater), as the runtime holds them; nil when the
	// runtime does not say.
	Resources *Resources
}

// Filter selects sandboxes or containers by labels (all must match) and,
// for containers, by sandbox. Runtimes only read it; callers may reuse it.
type Filter struct {
	Labels    map[string]string
	SandboxID string
}

// StopOptions tune StopContainer.
type StopOptions struct {
	// Grace is how long the container has to exit after Signal; 0 kills it
	// at once.
	Grace  time.Duration
	Signal syscall.Signal
}

// PullOptions tune PullImage.
type PullOptions struct {
	// Progress, when set, is called with progress reports during the pull.
	Progress func(PullProgress)
	// Auth, when set, are the credentials for the image's registry (from the
	// pod's imagePullSecrets).
	Auth *RegistryAuth
}

// RegistryAuth are credentials for one registry, as a docker config.json
// entry holds them.
type RegistryAuth struct {
	ServerAddress string
	Username      string
	Password      string
	IdentityToken string
}

// PullProgress reports a pull in flight.
type PullProgress struct {
	Status  string
	Current int64
	Total   int64
}

// LogReader is implemented by runtimes that keep container output.
type LogReader interface {
	// ContainerLogs returns the container's output, stdout and stderr
	// interleaved in the order written, as newline-terminated lines. It works
	// on exited containers until they are removed.
	ContainerLogs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
}

// LogOptions choose what ContainerLogs returns. The previous instance of a
// restarted container is another container (Attempt - 1) that the agent
// keeps until the pod goes: read its logs by its id.
type LogOptions struct {
	// Follow keeps the reader open for new output until the container
	// exits or ctx ends.
	Follow bool
	// Tail, when positive, returns only the last Tail lines (before
	// following); 0 or negative returns them all.
	Tail  int
	Since time.Time
	// Timestamps prefixes each line with its RFC 3339 (nanosecond) time.
	Timestamps bool
}

// ResourceUpdater is implemented by runtimes that can change a container's
// CPU and memory limits in place, for in-place pod resize (CRI's
// UpdateContainerResources).
type ResourceUpdater interface {
	// UpdateContainerResources gives a created or running container r,
	// without restarting it, and reports r in its ContainerStatus from
	// then on. It is idempotent. A memory limit below what the container
	// uses may be refused, or may get the container OOM-killed, as the
	// kernel decides.
	UpdateContainerResources(ctx context.Context, id string, r Resources) error
}

// ImageConfigReader is implemented by runtimes that can read the
// configuration of an image on the node, as the CRI's ImageStatus reports
// it. A node agent reads an image's user through it to enforce
// runAsNonRoot, as the kubelet does: it cannot tell whether a container
// would run as root otherwise.
type ImageConfigReader interface {
	// ImageUser returns the user the image's configuration runs its
	// processes as (a Dockerfile's USER: "uid", "name", "uid:gid" or
	// "name:group"), as written there; "" when it names none, which
	// means root. An image not on the node is an error wrapping
	// ErrNotFound.
	ImageUser(ctx context.Context, ref string) (string, error)
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
	// Stdout and Stderr receive the command's output. A runtime may write
	// them from two goroutines at once, even when they are the same writer:
	// give a writer safe for concurrent use when they are.
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
}

// Dialer is implemented by runtimes whose pod IPs the host cannot reach by
// routing, such as the fake runtime, whose pods exist only in memory. The
// node agent's httpGet and tcpSocket probes and hooks dial pod IPs through
// it when the runtime has one, and directly otherwise; a host's proxy may do
// the same.
type Dialer interface {
	// DialContext connects to address ("10.88.0.5:8080") in the pod network.
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// HostAddresser is implemented by runtimes whose pods reach the host on an
// address of the pod network: the gateway of the bridge pods route
// through. The orchestrator serves cluster DNS there and gives it to the
// node's pods as their nameserver, since the host's loopback is not the
// pods'.
type HostAddresser interface {
	// HostAddress returns the host's address on the pod network, creating
	// the network when the runtime creates it on demand. The address may
	// not be on any interface yet (a bridge that appears with the first
	// pod): listen on it with IP_FREEBIND. It is the same for the life of
	// the pod network.
	HostAddress(ctx context.Context) (netip.Addr, error)
}

// EventWatcher is implemented by runtimes that report state changes as they
// happen, so that a node agent reacts to a container's exit at once rather
// than at its next relist.
type EventWatcher interface {
	// WatchEvents delivers events until ctx ends or the runtime loses track
	// (a reconnect, a full queue), then closes the channel. Events may be
	// missed across such a gap: after the channel closes, a consumer lists
	// again and watches anew.
	WatchEvents(ctx context.Context) (<-chan Event, error)
}

// EventType says what happened in the runtime.
type EventType string

// Event types.
const (
	EventContainerStarted EventType = "ContainerStarted"
	EventContainerExited  EventType = "ContainerExited"
	EventSandboxStopped   EventType = "SandboxStopped"
	// EventContainerOOM: the kernel killed a process of the container for
	// memory. The container may have exited, or may run on (another of its
	// processes was killed). A runtime that learns of the kill apart from
	// the exit reports it, so that a status read before it, reason "Error",
	// is read again: from then on it says OOMKilled.
	EventContainerOOM EventType = "ContainerOOM"
)

// Event is one state change of a container or a sandbox.
type Event struct {
	Type EventType
	// ID is the container's (or, for sandbox events, the sandbox's) id.
	ID        string
	SandboxID string
	// PodUID is the LabelPodUID of the object, when it has one.
	PodUID string
	Time   time.Time
}

// StatsProvider is implemented by runtimes that report resource usage.
type StatsProvider interface {
	// ContainerStats returns the container's current usage.
	ContainerStats(ctx context.Context, id string) (Stats, error)
}

// DiskUsageProvider is implemented by runtimes that report the node disk a
// container takes beside its volumes, as the CRI's ContainerStats reports
// its writable layer and the kubelet measures its logs. A node agent
// enforces limits.ephemeral-storage with it.
type DiskUsageProvider interface {
	// ContainerDiskUsage returns what the container, running or exited,
	// takes of the node's disk now. An unknown id is an error wrapping
	// ErrNotFound.
	ContainerDiskUsage(ctx context.Context, id string) (DiskUsage, error)
}

// DiskUsage is the node disk a container takes beside its volumes, in
// bytes: blocks in use, as du counts them, where the runtime can tell
// (Docker's engine reports the sizes of the files written).
type DiskUsage struct {
	// WritableLayerBytes is what the container wrote to its root
	// filesystem: its writable layer, not the image's layers.
	WritableLayerBytes uint64
	// LogBytes is its output as the runtime keeps it.
	LogBytes uint64
}

// Stats is a container's resource usage at one moment.
type Stats struct {
	Timestamp time.Time
	// CPUUsageNanos is the cumulative CPU time used.
	CPUUsageNanos uint64
	// MemoryWorkingSetBytes is the memory in use that cannot be reclaimed.
	MemoryWorkingSetBytes uint64
}
