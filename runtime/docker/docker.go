// Package docker runs podkit pods on a Docker Engine, through the Engine API
// (github.com/moby/moby/client, with API version negotiation: Docker 20.10,
// API 1.41, and later engines).
//
// A pod is a sandbox container that owns the pod's network namespace,
// attached to a user-defined bridge network of podkit's own (default
// "podkit", created when absent, and kept after the last pod for the next
// ones, as Docker keeps its own: RemoveNetwork removes it), and app
// containers that join it with network mode container:<sandbox>, so a
// pod's containers share localhost and one IP. Every container carries
// the labels the node agent gives it, plus a few of this package's own
// ("io.podkit.docker.*", not reported back in statuses), so a restarted
// host finds and adopts what runs.
//
// # Sandbox image
//
// The sandbox runs a pause program. By default it is podkit's own: a static
// ELF of a few hundred bytes, assembled in process (internal/scratchimage),
// that blocks in pause(2) and exits 0 on SIGTERM or SIGINT. When the engine
// lacks the image, the backend writes it as an image tarball and loads it,
// so pods start on a machine with no registry and no Go toolchain; amd64 and
// arm64 are built in. WithSandboxImage names another image (such as
// registry.k8s.io/pause:3.10), pulled when absent.
//
// # Logs
//
// Sandboxes and containers use the engine's json-file log driver, which
// rotates a container's log past 10 MiB and keeps 5 files, as the kubelet
// rotates container logs (WithLogRotation), whatever the engine's default
// driver. ContainerLogs reads the engine's log stream, which spans the
// rotated files.
//
// # Images without a registry
//
// LoadImage takes an image tarball ("docker save" format), which is how
// tests and examples put the project's own images into the engine
// (internal/testimage); pods then run them with imagePullPolicy Never or
// IfNotPresent.
//
// # Docker 20.10
//
// Debian 12's Docker 20.10.24 has a deadlock in its network controller
// (moby/moby#42545) that can fire when several endpoints of a user-defined
// network are released at once; afterwards every container operation of
// the daemon hangs until it is restarted. A Runtime therefore tears down
// one sandbox at a time; starting pods is not serialised. Later engines are
// not affected.
//
// # OOM kills
//
// A container killed for memory exits with code 137 and reason OOMKilled
// when the engine says so: by its State.OOMKilled flag or, while its events
// are followed (WatchEvents, as a node agent does), by an OOM event, which
// also comes as runtime.EventContainerOOM. The engine's flag can stay unset
// after the event (seen for a container killed at once), and under load the
// engine can miss a kill altogether: its shim reads it from the container's
// cgroup, which may be gone by then. Such an exit says "Error", code 137.
// The containerd backend reads the cgroup itself before the task is
// deleted and does not miss it.
//
// # Termination messages
//
// A container with a TerminationMessagePath gets an empty file bind-mounted
// there, made in the engine's directory of its sandbox container, beside
// the pod's resolv.conf, hosts and hostname files
// (/var/lib/docker/containers/<sandbox id>/podkit-termination-*), so the
// engine must run on this host, as bind mounts need anyway. Once the
// container has exited, the file's content is its status's Message, read
// once. RemoveContainer removes the file; the engine removes what is left
// with the sandbox's directory.
//
// # What a sandbox gives its containers
//
// App containers join the sandbox's network and IPC namespaces (network
// and IPC mode container:<sandbox>), and with
// SandboxConfig.ShareProcessNamespace its PID namespace too (PID mode
// container:<sandbox>: the pause program is PID 1). With HostPID and
// HostIPC the sandbox and its containers have PID and IPC mode host, as
// the kubelet's dockershim gave them (the host's /dev/shm with the
// host's IPC namespace). A Mount's propagation is its bind propagation
// (rslave, rshared), which the engine refuses at StartContainer for a
// host path on a mount that does not propagate. SandboxConfig.Sysctls
// are the sandbox container's sysctls, set by the engine in those
// namespaces. The engine writes the pod's /etc/hosts, which the containers
// share; a sandbox with SandboxConfig.HostAliases, or with a Domain
// (which the engine's file leaves out), has one of podkit's own instead,
// in the kubelet's format (runtime.HostsFile; for HostNetwork, the
// engine's copy of the host's file with the aliases appended), written
// beside the engine's (podkit-hosts) and bind-mounted at /etc/hosts in
// each of its containers.
//
// A sandbox's SandboxConfig.RuntimeHandler is the name of one of the
// engine's runtimes (runc, or one configured in daemon.json's "runtimes",
// such as runsc for gVisor); the sandbox and its containers run with it.
// A name the engine does not have fails RunSandbox.
//
// # Lifecycle
//
// New connects and checks the daemon; Close releases the connection and
// leaves containers running. A Runtime is safe for concurrent use.
//
// The engine may restart, or be away a while, under a Runtime: calls fail
// with runtime.ErrUnavailable meanwhile, and work again once it answers.
// Without live-restore the engine stops every container as it starts
// again, and a node agent then runs its pods again, in new sandboxes
// (TestDaemonRestart kills and starts an engine under a node agent). An
// engine killed while it starts containers can leave some of them in
// containerd, unknown to it once restarted (Docker 20.10 does): podkit,
// which talks to the engine only, does not see them, and the tests remove
// them through containerd.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/logfiles"
	"github.com/podkit/podkit/internal/scratchimage"
	"github.com/podkit/podkit/runtime"
)

// DefaultNetwork is the name of the pod network unless WithNetwork says
// otherwise.
const DefaultNetwork = "podkit"

// DefaultLogMaxSize and DefaultLogMaxFiles are the kubelet's
// containerLogMaxSize and containerLogMaxFiles (see WithLogRotation).
const (
	DefaultLogMaxSize  int64 = 10 << 20
	DefaultLogMaxFiles       = 5
)

// Labels of this package's own, on top of the agent's.
const (
	labelPrefix   = "io.podkit.docker."
	labelKind     = labelPrefix + "kind" // "sandbox" or "container"
	labelSandbox  = labelPrefix + "sandbox"
	labelName     = labelPrefix + "name"
	labelAttempt  = labelPrefix + "attempt"
	labelImage    = labelPrefix + "image"
	labelCreated  = labelPrefix + "created"
	labelHostNet  = labelPrefix + "hostnetwork"
	labelStem     = labelPrefix + "stem"
	labelMsgFile  = labelPrefix + "messagefile" // the host file of the termination message
	labelHosts    = labelPrefix + "hosts"       // "true": the sandbox's containers mount its hostsFile
	labelSharePID = labelPrefix + "sharepid"    // "true": the sandbox's containers join its PID namespace
	labelHostPID  = labelPrefix + "hostpid"     // "true": the sandbox and its containers are in the host's PID namespace
	labelHostIPC  = labelPrefix + "hostipc"     // "true": the sandbox and its containers are in the host's IPC namespace
	labelNetwork  = "io.podkit.network"
	kindSandbox   = "sandbox"
	kindContainer = "container"
)

// Runtime is a runtime.Runtime on one Docker Engine.
type Runtime struct {
	cli *client.Client
	cfg config

	netMu sync.Mutex
	netID string // the pod network's id, once ensured

	imgMu     sync.Mutex
	sandboxOK bool // the sandbox image is known present

	cache inspectCache

	teardown chan struct{} // one sandbox teardown at a time (see teardownSlot)

	podCgMu sync.Mutex
	podCg   *bool // what PodLevelResources found, once the engine answered
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
	host         string
	client       *client.Client
	network      string
	subnet       netip.Prefix
	sandboxImage string
	logMaxSize   int64
	logMaxFiles  int
}

// Option configures New.
type Option func(*config) error

// WithHost sets the daemon's address ("unix:///var/run/docker.sock",
// "tcp://host:2375"). Without it, DOCKER_HOST and the other DOCKER_*
// variables apply, and then the default socket.
func WithHost(host string) Option {
	return func(c *config) error {
		if host == "" {
			return errors.New("docker: WithHost: empty address")
		}
		c.host = host
		return nil
	}
}

// WithClient uses an Engine API client the caller built; WithHost is then
// ignored. Close does not close it.
func WithClient(cli *client.Client) Option {
	return func(c *config) error {
		if cli == nil {
			return errors.New("docker: WithClient: nil client")
		}
		c.client = cli
		return nil
	}
}

// WithNetwork names the bridge network pods attach to (default
// DefaultNetwork). It is created, labelled io.podkit.network, when absent.
func WithNetwork(name string) Option {
	return func(c *config) error {
		if name == "" || name == "bridge" || name == "host" || name == "none" {
			return fmt.Errorf("docker: WithNetwork(%q): want a user-defined network name", name)
		}
		c.network = name
		return nil
	}
}

// WithSubnet sets the subnet of the pod network when podkit creates it
// (default: one of the engine's address pools).
func WithSubnet(p netip.Prefix) Option {
	return func(c *config) error {
		if !p.IsValid() {
			return errors.New("docker: WithSubnet: invalid prefix")
		}
		c.subnet = p.Masked()
		return nil
	}
}

// WithSandboxImage sets the image sandboxes run. It must keep running until
// stopped and do nothing else; it is pulled when absent. The default is the
// built-in pause image (see the package documentation).
func WithSandboxImage(ref string) Option {
	return func(c *config) error {
		if ref == "" {
			return errors.New("docker: WithSandboxImage: empty reference")
		}
		c.sandboxImage = ref
		return nil
	}
}

// WithLogRotation sets when the logs of the containers podkit creates
// rotate (defaults DefaultLogMaxSize and DefaultLogMaxFiles), as the
// kubelet's containerLogMaxSize and containerLogMaxFiles do: the
// containers use the json-file log driver with max-size maxSize bytes and
// max-file maxFiles, whatever the engine's default driver, and the engine
// rotates their logs, keeping at most maxFiles files with the current
// one. The engine's log stream, which ContainerLogs reads, spans the
// rotated files too.
func WithLogRotation(maxSize int64, maxFiles int) Option {
	return func(c *config) error {
		if err := logfiles.CheckRotation(maxSize, maxFiles); err != nil {
			return fmt.Errorf("docker: WithLogRotation: %w", err)
		}
		c.logMaxSize, c.logMaxFiles = maxSize, maxFiles
		return nil
	}
}

// logConfig is the log driver of the containers podkit creates.
func (r *Runtime) logConfig() container.LogConfig {
	return container.LogConfig{Type: "json-file", Config: map[string]string{
		"max-size": strconv.FormatInt(r.cfg.logMaxSize, 10),
		"max-file": strconv.Itoa(r.cfg.logMaxFiles),
	}}
}

// New connects to a Docker Engine and checks that it answers, negotiating
// the API version. An unreachable daemon is an error wrapping
// runtime.ErrUnavailable.
func New(ctx context.Context, opts ...Option) (*Runtime, error) {
	cfg := config{network: DefaultNetwork, logMaxSize: DefaultLogMaxSize, logMaxFiles: DefaultLogMaxFiles}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.sandboxImage == "" {
		ref, err := scratchimage.PauseRef("")
		if err != nil {
			return nil, fmt.Errorf("docker: %w", err)
		}
		cfg.sandboxImage = ref
	}
	cli := cfg.client
	if cli == nil {
		copts := []client.Opt{client.FromEnv}
		if cfg.host != "" {
			copts = append(copts, client.WithHost(cfg.host))
		}
		var err error
		if cli, err = client.New(copts...); err != nil {
			return nil, fmt.Errorf("docker: client: %w", err)
		}
	}
	r := &Runtime{cli: cli, cfg: cfg, teardown: make(chan struct{}, 1)}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if cfg.client == nil {
			cli.Close()
		}
		return nil, r.wrap(err, "connect to %s", cli.DaemonHost())
	}
	return r, nil
}

// Client returns the Engine API client the runtime uses.
func (r *Runtime) Client() *client.Client { return r.cli }

// Network returns the name of the pod network.
func (r *Runtime) Network() string { return r.cfg.network }

// SandboxImage returns the reference of the image sandboxes run.
func (r *Runtime) SandboxImage() string { return r.cfg.sandboxImage }

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context) (runtime.VersionInfo, error) {
	v, err := r.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return runtime.VersionInfo{}, r.wrap(err, "version")
	}
	return runtime.VersionInfo{Name: "docker", Version: v.Version}, nil
}

// Close releases the client's connections (unless it came from WithClient).
// Containers keep running.
func (r *Runtime) Close() error {
	if r.cfg.client != nil {
		return nil
	}
	return r.cli.Close()
}

// wrap names what failed and maps the engine's error to runtime's
// sentinels: ErrNotFound, ErrUnavailable.
func (r *Runtime) wrap(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("docker: %s: %w", what, err)
	case client.IsErrConnectionFailed(err):
		return fmt.Errorf("docker: %s: %w: %w", what, runtime.ErrUnavailable, err)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("docker: %s: %w: %w", what, runtime.ErrNotFound, err)
	}
	return fmt.Errorf("docker: %s: %w", what, err)
}

// networkCreation serializes the finding and creating of pod networks by
// the runtimes of one process, which share a network when several nodes
// run on one engine: Docker 20.10 lets two networks share a name, and two
// creators that each list before the other's network shows would each
// keep their own.
var networkCreation sync.Mutex

// ensureNetwork returns the id of the pod network, creating it if needed.
// Docker 20.10 lets two networks share a name, and sandboxes name theirs:
// when creators in different processes race, the older network wins and
// the duplicates without containers are removed, whoever made them.
func (r *Runtime) ensureNetwork(ctx context.Context) (string, error) {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	if r.netID != "" {
		return r.netID, nil
	}
	networkCreation.Lock()
	defer networkCreation.Unlock()
	id, dups, err := r.findNetworks(ctx)
	if err != nil {
		return "", err
	}
	if id == "" {
		opts := client.NetworkCreateOptions{
			Driver: "bridge",
			Labels: map[string]string{labelNetwork: "pods"},
		}
		if r.cfg.subnet.IsValid() {
			opts.IPAM = &network.IPAM{Config: []network.IPAMConfig{{Subnet: r.cfg.subnet}}}
		}
		if _, err := r.cli.NetworkCreate(ctx, r.cfg.network, opts); err != nil && !cerrdefs.IsConflict(err) {
			return "", r.wrap(err, "create network %s", r.cfg.network)
		}
		if id, dups, err = r.findNetworks(ctx); err != nil {
			return "", err
		}
		if id == "" {
			return "", fmt.Errorf("docker: network %s vanished after it was created", r.cfg.network)
		}
	}
	for _, dup := range dups {
		// The engine refuses to remove one with containers on it.
		_, _ = r.cli.NetworkRemove(ctx, dup, client.NetworkRemoveOptions{})
	}
	r.netID = id
	return id, nil
}

// findNetworks returns the id of the oldest network named r.cfg.network
// ("" when there is none) and the ids of the others of that name.
func (r *Runtime) findNetworks(ctx context.Context) (string, []string, error) {
	res, err := r.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", r.cfg.network)})
	if err != nil {
		return "", nil, r.wrap(err, "list networks")
	}
	var best network.Summary
	var others []string
	for _, n := range res.Items {
		if n.Name != r.cfg.network { // the name filter matches substrings
			continue
		}
		if n.Driver != "bridge" {
			return "", nil, fmt.Errorf("docker: network %s has driver %s, want bridge", n.Name, n.Driver)
		}
		if best.ID == "" || n.Created.Before(best.Created) || n.Created.Equal(best.Created) && n.ID < best.ID {
			if best.ID != "" {
				others = append(others, best.ID)
			}
			best = n
		} else {
			others = append(others, n.ID)
		}
	}
	return best.ID, others, nil
}

// forgetNetwork drops the remembered network id, after the engine said it
// is gone.
func (r *Runtime) forgetNetwork() {
	r.netMu.Lock()
	r.netID = ""
	r.netMu.Unlock()
}

// HostAddress implements runtime.HostAddresser: the gateway of the pod
// network (created if absent), the address of its bridge on the host.
// Containers' embedded DNS server (127.0.0.11) forwards names it does not
// know to the DNS servers of their sandbox, from the container's network
// namespace, so the gateway is a DNS server pods reach.
func (r *Runtime) HostAddress(ctx context.Context) (netip.Addr, error) {
	id, err := r.ensureNetwork(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	res, err := r.cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			r.forgetNetwork()
		}
		return netip.Addr{}, r.wrap(err, "inspect network %s", r.cfg.network)
	}
	for _, c := range res.Network.IPAM.Config {
		switch {
		case c.Gateway.Is4():
			return c.Gateway, nil
		case c.Subnet.Addr().Is4():
			return c.Subnet.Masked().Addr().Next(), nil // the engine's default gateway
		}
	}
	return netip.Addr{}, fmt.Errorf("docker: network %s has no IPv4 subnet", r.cfg.network)
}

// RemoveNetwork removes the pod network. It fails while containers are
// attached to it. Removing an absent network does nothing.
func (r *Runtime) RemoveNetwork(ctx context.Context) error {
	r.netMu.Lock()
	defer r.netMu.Unlock()
	res, err := r.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", r.cfg.network)})
	if err != nil {
		return r.wrap(err, "list networks")
	}
	for _, n := range res.Items {
		if n.Name != r.cfg.network {
			continue
		}
		if _, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return r.wrap(err, "remove network %s", n.Name)
		}
	}
	r.netID = ""
	return nil
}

// ensureSandboxImage makes the sandbox image present: the built-in pause
// image is loaded from memory, another image is pulled.
func (r *Runtime) ensureSandboxImage(ctx context.Context) error {
	r.imgMu.Lock()
	defer r.imgMu.Unlock()
	if r.sandboxOK {
		return nil
	}
	ok, err := r.ImagePresent(ctx, r.cfg.sandboxImage)
	if err != nil {
		return err
	}
	if !ok {
		builtin, _ := scratchimage.PauseRef("")
		if r.cfg.sandboxImage == builtin {
			ref, img, err := scratchimage.PauseImage("")
			if err != nil {
				return fmt.Errorf("docker: sandbox image: %w", err)
			}
			tr := scratchimage.Tarball(ref, img)
			err = r.LoadImage(ctx, tr)
			tr.Close()
			if err != nil {
				return fmt.Errorf("docker: load the built-in sandbox image: %w", err)
			}
		} else if err := r.PullImage(ctx, r.cfg.sandboxImage, runtime.PullOptions{}); err != nil {
			return fmt.Errorf("docker: sandbox image: %w", err)
		}
	}
	r.sandboxOK = true
	return nil
}

func (r *Runtime) forgetSandboxImage() {
	r.imgMu.Lock()
	r.sandboxOK = false
	r.imgMu.Unlock()
}
