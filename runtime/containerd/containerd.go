// Package containerd runs podkit pods on containerd, with no Docker Engine,
// through containerd's Go client (github.com/containerd/containerd/v2/client;
// containerd 1.6, Debian 12's, and later daemons) and the standard CNI
// plugins.
//
// # Pods
//
// A sandbox is a network namespace that podkit creates and pins with a bind
// mount, attached by CNI to a bridge network of podkit's own (bridge,
// host-local IPAM, loopback, portmap, firewall; cniVersion 1.0.0), plus a
// directory holding the pod's /etc/hosts, /etc/resolv.conf and /etc/hostname,
// which containerd does not write. It is recorded as a containerd container
// without a task, labelled like the pod, so it shows in `ctr -n podkit c ls`
// and a restarted host finds it. No pause process runs: the bind mount keeps
// the namespace alive.
//
// App containers are containerd containers on the configured snapshotter
// (overlayfs by default) that join the sandbox's network namespace and mount
// its three files, so the containers of a pod share localhost and one IP.
// The hosts file is the kubelet's (runtime.HostsFile), with the
// SandboxConfig.HostAliases. SandboxConfig.Sysctls, kept in the sandbox's
// record, go into each container's spec: runc sets them as it creates the
// container, in the pod's network namespace and the container's own IPC
// namespace.
//
// A sandbox with SandboxConfig.ShareProcessNamespace also runs a task: the
// pause program (internal/scratchimage, from a root directory of its own
// holding only it), PID 1 of a PID namespace that the sandbox's containers
// join, as a Kubernetes pod's containers join its pause container's. While
// that task is not running the sandbox is NotReady.
//
// The containers of a sandbox with SandboxConfig.HostPID or HostIPC have no
// PID or IPC namespace of their own (the host's, with the host's /dev/shm
// bound over theirs), as containerd's CRI plugin makes them. A Mount that
// propagates is bound rslave or rshared, with the container's root
// propagation to match, once CreateContainer has checked, as the CRI
// plugin does, that its host path is on a shared (or, for
// HostToContainer, slave) mount of the host.
//
// A sandbox's SandboxConfig.RuntimeHandler picks the containerd runtime
// (shim) of its containers and of its pause task, as containerd's CRI
// plugin maps handlers to runtimes: "runc" is DefaultRuntimeName, others
// are added with WithRuntimeHandler; an unknown handler fails RunSandbox.
// Their output goes through FIFOs to per-container log files in the CRI
// format ("<RFC 3339 time> stdout|stderr F|P <text>"), which serve follow,
// tail, since and timestamps, and outlive the container until it is
// removed. A log rotates, as the kubelet rotates container logs, past
// 10 MiB, keeping 5 files (WithLogRotation); ContainerLogs reads the
// current file, and a follower goes on across a rotation. When a task
// exits its status (exit code, time, OOMKilled from the cgroup) is written
// into the container's labels and the task is deleted, so no shim lingers
// for an exited container.
//
// A container with a TerminationMessagePath gets an empty file of its own
// bind-mounted there, beside its log; once it has exited, the file's
// content is its status's Message, read once.
//
// Everything lives in a containerd namespace of podkit's own (default
// "podkit") and, on the host, under a state directory (default
// /var/lib/podkit/containerd): per namespace the sandboxes and the
// containers' logs, FIFOs and termination message files, and, shared by
// the namespaces, the CNI cache and host-local's allocations. A container's cgroup is /<namespace>/<id>
// in every hierarchy; RemoveNamespace removes the namespace's with the
// rest.
//
// # Robustness
//
// New repairs what a crashed process left before anything is adopted: a
// sandbox half made (a namespace or a CNI attachment with no record) is torn
// down and its IP released, CNI allocations of this namespace that belong to
// no sandbox are released, a sandbox whose namespace vanished (the host
// rebooted) is torn down to NotReady, containers whose sandbox is gone are
// removed, tasks that exited meanwhile get their status recorded, the log
// copiers of running tasks are reattached, and the leases a dead process
// held for a container creation or an image import are deleted, with the
// snapshots and content only they kept. What is left belongs to live pods,
// for the node agent to adopt.
//
// The daemon may restart, or be away a while, under a Runtime: tasks keep
// running (their shims outlive the daemon) and their output is copied all
// along. Calls fail with runtime.ErrUnavailable meanwhile; once the daemon
// answers, a task's exit is watched again, recorded as it happened when the
// task exited while the daemon was away (TestDaemonRestart kills and starts
// a containerd under a node agent). A start the daemon's going away cut
// short is settled once it answers: a task that started is watched, one
// only created is deleted and the start recorded as failed. A daemon
// killed while it creates a task can leave that task's shim running,
// unknown to it once restarted (containerd 1.6 does): podkit does not see
// it, and the tests kill such shims.
//
// What the plugins keep by design after the last pod is removed: the bridge
// (RemoveNetwork deletes it), the iptables chains CNI-FORWARD and CNI-ADMIN
// (firewall plugin, with a jump from FORWARD) and CNI-HOSTPORT-DNAT,
// CNI-HOSTPORT-SNAT, CNI-HOSTPORT-MASQ, CNI-HOSTPORT-SETMARK (portmap), all
// empty once no pod is attached, and net.ipv4.ip_forward=1 set by the
// bridge plugin. Per-pod chains and rules (masquerade CNI-<hash>, CNI-DN-*)
// go with the pod.
//
// # Lifecycle
//
// New connects, checks the daemon and repairs; Close stops the log copiers
// and releases the connection, leaving pods running. While no Runtime is
// attached to a running container, output beyond the FIFO's buffer (64 KiB)
// waits. A Runtime is safe for concurrent use. One Runtime at a time works
// in a namespace (its repair and log copying assume it is alone there):
// give each node of a process its own namespace.
//
// Not supported yet: ContainerConfig.Stdin (containers get no stdin), a
// pod-wide IPC namespace (each container has its own, where the sandbox's
// IPC sysctls are set), a pod-wide PID namespace without
// ShareProcessNamespace (each container has its own, as in Kubernetes),
// IPv6 pod addresses.
package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/status"

	"github.com/podkit/podkit/internal/cni"
	"github.com/podkit/podkit/internal/logfiles"
	"github.com/podkit/podkit/internal/owner"
	"github.com/podkit/podkit/runtime"
)

// Defaults of the options.
const (
	DefaultAddress     = "/run/containerd/containerd.sock"
	DefaultNamespace   = "podkit"
	DefaultSnapshotter = "overlayfs"
	DefaultStateDir    = "/var/lib/podkit/containerd"
	DefaultRuntimeName = "io.containerd.runc.v2"
	DefaultNetworkName = "podkit"
	DefaultBridge      = "podkit0"
	// DefaultLogMaxSize and DefaultLogMaxFiles are the kubelet's
	// containerLogMaxSize and containerLogMaxFiles (see WithLogRotation).
	DefaultLogMaxSize  int64 = 10 << 20
	DefaultLogMaxFiles       = 5
)

// DefaultSubnet is the pod subnet unless WithSubnet says otherwise.
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/16")

// Labels of this package's own, on top of the agent's; not reported back.
const (
	labelPrefix   = "io.podkit.containerd."
	labelKind     = labelPrefix + "kind" // kindSandbox or kindContainer
	labelState    = labelPrefix + "state"
	labelSandbox  = labelPrefix + "sandbox"
	labelName     = labelPrefix + "name"
	labelAttempt  = labelPrefix + "attempt"
	labelImage    = labelPrefix + "image"
	labelIP       = labelPrefix + "ip"
	labelNetNS    = labelPrefix + "netns"
	labelHostNet  = labelPrefix + "hostnetwork"
	labelPorts    = labelPrefix + "ports"
	labelStarted  = labelPrefix + "started"
	labelFinished = labelPrefix + "finished"
	labelExit     = labelPrefix + "exitcode"
	labelReason   = labelPrefix + "reason"
	labelMessage  = labelPrefix + "message"
	labelTTY      = labelPrefix + "tty"
	labelMsgFile  = labelPrefix + "messagefile" // "true": the container has a termination message file
	labelSharePID = labelPrefix + "sharepid"    // "true": the sandbox has a pause task, whose PID namespace its containers join
	labelSysctls  = labelPrefix + "sysctls"     // the sandbox's sysctls, JSON, set in each of its containers
	labelHostPID  = labelPrefix + "hostpid"     // "true": the sandbox's containers are in the host's PID namespace
	labelHostIPC  = labelPrefix + "hostipc"     // "true": the sandbox's containers are in the host's IPC namespace, with its /dev/shm
	// labelOwner marks a lease with the process that holds it
	// (internal/owner), on the lease, not on a container.
	labelOwner = labelPrefix + "owner"

	kindSandbox   = "sandbox"
	kindContainer = "container"

	stateReady    = "ready"
	stateNotReady = "notready"
	stateCreated  = "created"
	stateRunning  = "running"
	stateExited   = "exited"
)

// Runtime is a runtime.Runtime on one containerd daemon.
type Runtime struct {
	cli *client.Client
	cfg config
	net *cni.Network
	log *slog.Logger
	// owner is this process's mark, on the leases it takes (withLease).
	owner string

	// bg is the context of the log copiers and exit watchers; Close
	// cancels it and waits for them.
	bg       context.Context
	bgCancel context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	watches map[string]*watch // running containers this Runtime copies output of
	msgs    map[string]string // termination messages of exited containers, read once

	logs logHub
}

var (
	_ runtime.Runtime       = (*Runtime)(nil)
	_ runtime.LogReader     = (*Runtime)(nil)
	_ runtime.Execer        = (*Runtime)(nil)
	_ runtime.StatsProvider = (*Runtime)(nil)
	_ runtime.EventWatcher  = (*Runtime)(nil)
	_ runtime.HostAddresser = (*Runtime)(nil)
)

type config struct {
	address     string
	client      *client.Client
	namespace   string
	snapshotter string
	runtimeName string
	handlers    map[string]string // runtime handler -> runtime (shim) name
	stateDir    string
	netName     string
	bridge      string
	subnet      netip.Prefix
	pluginDirs  []string
	logger      *slog.Logger
	logMaxSize  int64
	logMaxFiles int
}

// Option configures New.
type Option func(*config) error

// WithAddress sets the daemon's socket (default $CONTAINERD_ADDRESS, then
// DefaultAddress).
func WithAddress(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errors.New("containerd: WithAddress: empty path")
		}
		c.address = path
		return nil
	}
}

// WithClient uses a client the caller built; WithAddress is then ignored and
// Close does not close it.
func WithClient(cli *client.Client) Option {
	return func(c *config) error {
		if cli == nil {
			return errors.New("containerd: WithClient: nil client")
		}
		c.client = cli
		return nil
	}
}

// WithNamespace sets the containerd namespace podkit works in (default
// DefaultNamespace). Every object podkit creates is in it.
func WithNamespace(ns string) Option {
	return func(c *config) error {
		if ns == "" {
			return errors.New("containerd: WithNamespace: empty namespace")
		}
		c.namespace = ns
		return nil
	}
}

// WithSnapshotter sets the snapshotter of containers' root filesystems
// (default DefaultSnapshotter).
func WithSnapshotter(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("containerd: WithSnapshotter: empty name")
		}
		c.snapshotter = name
		return nil
	}
}

// WithRuntimeName sets the containerd runtime (shim) of containers (default
// DefaultRuntimeName).
func WithRuntimeName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("containerd: WithRuntimeName: empty name")
		}
		c.runtimeName = name
		return nil
	}
}

// WithRuntimeHandler makes the runtime handler name (a RuntimeClass's
// handler, see runtime.SandboxConfig.RuntimeHandler) run sandboxes and
// their containers with the containerd runtime (shim) runtimeName, as
// containerd's CRI plugin maps handlers to runtimes: for instance
// WithRuntimeHandler("runsc", "io.containerd.runsc.v1") for gVisor, whose
// shim must be installed. The handler "runc" is DefaultRuntimeName unless
// given here.
func WithRuntimeHandler(name, runtimeName string) Option {
	return func(c *config) error {
		if name == "" || runtimeName == "" {
			return errors.New("containerd: WithRuntimeHandler: empty handler or runtime name")
		}
		c.handlers[name] = runtimeName
		return nil
	}
}

// WithStateDir sets the host directory of podkit's state (default
// DefaultStateDir). Runtimes of different namespaces may share it; two
// processes must not use one namespace at once.
func WithStateDir(dir string) Option {
	return func(c *config) error {
		if !filepath.IsAbs(dir) {
			return fmt.Errorf("containerd: WithStateDir(%q): want an absolute path", dir)
		}
		c.stateDir = filepath.Clean(dir)
		return nil
	}
}

// WithNetwork sets the CNI network's name and its bridge (defaults
// DefaultNetworkName and DefaultBridge). Runtimes that share a network must
// share the state directory too, which holds its IP allocations.
func WithNetwork(name, bridge string) Option {
	return func(c *config) error {
		if name == "" || bridge == "" {
			return errors.New("containerd: WithNetwork: empty name or bridge")
		}
		c.netName, c.bridge = name, bridge
		return nil
	}
}

// WithSubnet sets the pods' IPv4 subnet (default DefaultSubnet); its first
// address is the bridge's.
func WithSubnet(p netip.Prefix) Option {
	return func(c *config) error {
		if !p.IsValid() {
			return errors.New("containerd: WithSubnet: invalid prefix")
		}
		c.subnet = p.Masked()
		return nil
	}
}

// WithCNIPluginDirs sets where the CNI plugin binaries are (default
// /usr/lib/cni, then /opt/cni/bin).
func WithCNIPluginDirs(dirs ...string) Option {
	return func(c *config) error {
		if len(dirs) == 0 {
			return errors.New("containerd: WithCNIPluginDirs: no directory")
		}
		c.pluginDirs = dirs
		return nil
	}
}

// WithLogRotation sets when the containers' logs rotate (defaults
// DefaultLogMaxSize and DefaultLogMaxFiles), as the kubelet's
// containerLogMaxSize and containerLogMaxFiles do: a write that would take
// a container's log past maxSize bytes first renames it log.1 (log.1
// becomes log.2, and so on), keeping at most maxFiles files with the
// current one, the oldest dropped. A line is never split between two
// files, so one may exceed maxSize by a line. ContainerLogs reads the
// current file only, as kubectl logs does; a follower goes on across a
// rotation. ContainerDiskUsage counts every file, and RemoveContainer
// removes them.
func WithLogRotation(maxSize int64, maxFiles int) Option {
	return func(c *config) error {
		if err := logfiles.CheckRotation(maxSize, maxFiles); err != nil {
			return fmt.Errorf("containerd: WithLogRotation: %w", err)
		}
		c.logMaxSize, c.logMaxFiles = maxSize, maxFiles
		return nil
	}
}

// WithLogger sets where the runtime reports what it repairs (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("containerd: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// New connects to containerd, checks it answers, sets up the pod network's
// configuration and repairs what a crashed process left (see the package
// documentation). A daemon that cannot be reached gives an error wrapping
// runtime.ErrUnavailable.
func New(ctx context.Context, opts ...Option) (*Runtime, error) {
	cfg := config{
		address: os.Getenv("CONTAINERD_ADDRESS"), namespace: DefaultNamespace, snapshotter: DefaultSnapshotter,
		runtimeName: DefaultRuntimeName, handlers: map[string]string{"runc": DefaultRuntimeName},
		stateDir: DefaultStateDir, netName: DefaultNetworkName,
		bridge: DefaultBridge, subnet: DefaultSubnet, logger: slog.Default(),
		logMaxSize: DefaultLogMaxSize, logMaxFiles: DefaultLogMaxFiles,
	}
	if cfg.address == "" {
		cfg.address = DefaultAddress
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	r := &Runtime{cfg: cfg, log: cfg.logger.With("runtime", "containerd", "namespace", cfg.namespace), watches: map[string]*watch{}}
	r.logs.files = map[string]*logFile{}
	r.logs.maxSize, r.logs.maxFiles = cfg.logMaxSize, cfg.logMaxFiles
	var err error
	if r.owner, err = owner.Self(); err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	r.net, err = cni.New(cni.Config{
		Name: cfg.netName, Bridge: cfg.bridge, Subnet: cfg.subnet, PluginDirs: cfg.pluginDirs,
		CacheDir: filepath.Join(cfg.stateDir, "cni", "cache"), IPAMDir: filepath.Join(cfg.stateDir, "cni", "ipam"),
	})
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	for _, d := range []string{r.sandboxesDir(), r.containersDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("containerd: state directory: %w", err)
		}
	}
	r.cli = cfg.client
	if r.cli == nil {
		if _, err := os.Stat(cfg.address); err != nil {
			return nil, fmt.Errorf("containerd: %s: %w: %w", cfg.address, runtime.ErrUnavailable, err)
		}
		r.cli, err = client.New(cfg.address, client.WithDefaultNamespace(cfg.namespace), client.WithTimeout(10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("containerd: connecting to %s: %w: %w", cfg.address, runtime.ErrUnavailable, err)
		}
	}
	if _, err := r.Version(ctx); err != nil {
		r.closeClient()
		return nil, err
	}
	r.bg, r.bgCancel = context.WithCancel(context.Background())
	if err := r.recover(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Client returns the containerd client; calls through it need the
// namespace in their context (namespaces.WithNamespace).
func (r *Runtime) Client() *client.Client { return r.cli }

// Namespace returns the containerd namespace the runtime works in.
func (r *Runtime) Namespace() string { return r.cfg.namespace }

// Snapshotter returns the snapshotter containers' root filesystems use.
func (r *Runtime) Snapshotter() string { return r.cfg.snapshotter }

// Subnet returns the pods' subnet.
func (r *Runtime) Subnet() netip.Prefix { return r.net.Config().Subnet }

// HostAddress implements runtime.HostAddresser: the gateway of the pods'
// subnet, the address of the CNI bridge. The bridge is made when the
// first pod is attached, so the address may not be on the host yet.
func (r *Runtime) HostAddress(context.Context) (netip.Addr, error) {
	return r.net.Gateway(), nil
}

// Version reports containerd's version; it fails with ErrUnavailable when
// the daemon does not answer.
func (r *Runtime) Version(ctx context.Context) (runtime.VersionInfo, error) {
	v, err := r.cli.Version(r.ns(ctx))
	if err != nil {
		return runtime.VersionInfo{}, r.wrap(err, "version")
	}
	return runtime.VersionInfo{Name: "containerd", Version: v.Version}, nil
}

// Close stops the log copiers and exit watchers and releases the
// connection. Pods keep running; a later New attaches to them again.
func (r *Runtime) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for _, w := range r.watches {
		w.stop()
	}
	r.mu.Unlock()
	if r.bgCancel != nil {
		r.bgCancel()
	}
	r.wg.Wait()
	return r.closeClient()
}

func (r *Runtime) closeClient() error {
	if r.cfg.client != nil || r.cli == nil {
		return nil
	}
	return r.cli.Close()
}

// RemoveNetwork deletes the pod network's bridge, which the bridge plugin
// keeps after the last pod (see the package documentation). It fails when
// sandboxes of this namespace are still Ready.
func (r *Runtime) RemoveNetwork(ctx context.Context) error {
	sbs, err := r.ListSandboxes(ctx, runtime.Filter{})
	if err != nil {
		return err
	}
	for _, s := range sbs {
		if s.State == runtime.SandboxReady && s.IP != "" {
			return fmt.Errorf("containerd: RemoveNetwork: sandbox %s is still attached", s.ID)
		}
	}
	return r.net.RemoveBridge()
}

// RemoveNamespace deletes everything the runtime keeps in its namespace:
// the images (containerd's garbage collector then removes their content
// and snapshots), the per-namespace state directory, the cgroup the
// containers' cgroups were made in, and the containerd namespace itself.
// It fails while sandboxes or containers are left. The Runtime is of no
// further use but to be closed.
func (r *Runtime) RemoveNamespace(ctx context.Context) error {
	sbs, err := r.ListSandboxes(ctx, runtime.Filter{})
	if err != nil {
		return err
	}
	ctrs, err := r.ListContainers(ctx, runtime.Filter{})
	if err != nil {
		return err
	}
	if n := len(sbs) + len(ctrs); n > 0 {
		return fmt.Errorf("containerd: RemoveNamespace %s: %d sandboxes and containers are left", r.cfg.namespace, n)
	}
	nctx := r.ns(ctx)
	is := r.cli.ImageService()
	imgs, err := is.List(nctx)
	if err != nil {
		return r.wrap(err, "listing the images of namespace %s", r.cfg.namespace)
	}
	for i, img := range imgs {
		var opts []images.DeleteOpt
		if i == len(imgs)-1 {
			opts = append(opts, images.SynchronousDelete()) // collect before the namespace goes
		}
		if err := is.Delete(nctx, img.Name, opts...); err != nil {
			return r.wrap(err, "deleting image %s", img.Name)
		}
	}
	if err := os.RemoveAll(filepath.Join(r.cfg.stateDir, r.cfg.namespace)); err != nil {
		return err
	}
	if err := removeNamespaceCgroup(r.cfg.namespace); err != nil {
		return fmt.Errorf("containerd: RemoveNamespace %s: %w", r.cfg.namespace, err)
	}
	if err := r.cli.NamespaceService().Delete(nctx, r.cfg.namespace); err != nil {
		return r.wrap(err, "deleting namespace %s", r.cfg.namespace)
	}
	return nil
}

// ns returns ctx carrying the runtime's namespace.
func (r *Runtime) ns(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.namespace)
}

func (r *Runtime) sandboxesDir() string {
	return filepath.Join(r.cfg.stateDir, r.cfg.namespace, "sandboxes")
}

func (r *Runtime) containersDir() string {
	return filepath.Join(r.cfg.stateDir, r.cfg.namespace, "containers")
}

// cniID is the CNI container id of sandbox id: prefixed with the namespace,
// so that the repair at start releases only this namespace's allocations.
func (r *Runtime) cniID(id string) string { return r.cfg.namespace + "." + id }

// sandboxOfCNIID returns the sandbox id of a CNI container id of this
// namespace.
func (r *Runtime) sandboxOfCNIID(cid string) (string, bool) {
	i := strings.LastIndexByte(cid, '.')
	if i < 0 || cid[:i] != r.cfg.namespace {
		return "", false
	}
	return cid[i+1:], true
}

// wrap turns a containerd error into one that runtime callers can test:
// ErrNotFound and ErrUnavailable are wrapped in.
// withLease returns ctx holding a lease marked as this process's, for a
// call that makes content or snapshots (containerd's client otherwise
// takes a lease of its own, unmarked), and what deletes it. A process
// killed during the call leaves the lease, and what only it holds, until
// the next New deletes it (recover).
func (r *Runtime) withLease(ctx context.Context) (context.Context, func(), error) {
	ctx, done, err := r.cli.WithLease(ctx, leases.WithRandomID(), leases.WithExpiration(24*time.Hour), leases.WithLabel(labelOwner, r.owner))
	if err != nil {
		return ctx, nil, r.wrap(err, "taking a lease")
	}
	return ctx, func() { _ = done(context.WithoutCancel(ctx)) }, nil
}

func (r *Runtime) wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if _, isGRPC := status.FromError(err); isGRPC {
		err = errgrpc.ToNative(err)
	}
	what := fmt.Sprintf(format, args...)
	switch {
	case errors.Is(err, runtime.ErrNotFound), errors.Is(err, runtime.ErrUnavailable):
		return fmt.Errorf("containerd: %s: %w", what, err)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("containerd: %s: %w: %w", what, runtime.ErrNotFound, err)
	case cerrdefs.IsUnavailable(err):
		return fmt.Errorf("containerd: %s: %w: %w", what, runtime.ErrUnavailable, err)
	}
	return fmt.Errorf("containerd: %s: %w", what, err)
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
