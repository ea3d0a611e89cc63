package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/internal/volumes"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// EventRecorder records Kubernetes events about objects (Pulling, Started,
// BackOff, Unhealthy...). internal/events.Recorder implements it. Calls are
// best effort and must not block for long.
type EventRecorder interface {
	Event(ctx context.Context, obj objects.Object, eventType, reason, message string)
}

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

type discardRecorder struct{}

func (discardRecorder) Event(context.Context, objects.Object, string, string, string) {}

// Defaults, as the kubelet has them.
const (
	DefaultBackoffBase        = 10 * time.Second
	DefaultBackoffMax         = 5 * time.Minute
	DefaultBackoffReset       = 10 * time.Minute
	DefaultLeaseInterval      = 10 * time.Second
	DefaultLeaseDuration      = 40 * time.Second
	DefaultNodeStatusInterval = time.Minute
	DefaultResyncInterval     = time.Minute
	DefaultStatusBatch        = 500
	// DefaultRelistInterval applies when the runtime reports events; one
	// that does not is relisted every second.
	DefaultRelistInterval = 10 * time.Second
	// DefaultEvictionInterval is how often pods' local storage is measured
	// against its limits: the kubelet's eviction monitoring period.
	DefaultEvictionInterval = 10 * time.Second
)

// Option configures an Agent (or, given to NewGroup, every agent of a
// group; given to Group.Add, one agent).
type Option func(*config) error

type config struct {
	clock          clockwork.Clock
	log            *slog.Logger
	recorder       EventRecorder
	backoffBase    time.Duration
	backoffMax     time.Duration
	backoffReset   time.Duration
	leaseInterval  time.Duration
	leaseDuration  time.Duration
	nodeInterval   time.Duration
	relist         time.Duration
	resync         time.Duration
	evictInterval  time.Duration
	batch          int
	batchInterval  time.Duration
	rootDir        string
	clusterDNS     []string
	clusterDomain  string
	hostDNS        runtime.DNSConfig
	runtimeTimeout time.Duration
	unsafeSysctls  *sysctlAllowlist // of WithAllowedUnsafeSysctls; nil: none
	seccompRoot    string           // of WithSeccompRoot; see seccompDir
	tokens         *tokenManager    // of WithServiceAccountTokens; shared by a group's agents
}

func defaultConfig() config {
	return config{
		clock:          clockwork.NewRealClock(),
		log:            slog.New(slog.DiscardHandler),
		recorder:       discardRecorder{},
		backoffBase:    DefaultBackoffBase,
		backoffMax:     DefaultBackoffMax,
		backoffReset:   DefaultBackoffReset,
		leaseInterval:  DefaultLeaseInterval,
		leaseDuration:  DefaultLeaseDuration,
		nodeInterval:   DefaultNodeStatusInterval,
		resync:         DefaultResyncInterval,
		evictInterval:  DefaultEvictionInterval,
		batch:          DefaultStatusBatch,
		clusterDomain:  "cluster.local",
		runtimeTimeout: 10 * time.Second,
	}
}

func (c *config) apply(opts []Option) error {
	for _, o := range opts {
		if err := o(c); err != nil {
			return err
		}
	}
	return nil
}

// volumes returns the volume manager of a node: under a directory named
// after it in the configured root, or else under a temporary directory of
// its own (made when a pod first has a volume), so that two agents of one
// node name in one process never share one.
func (c *config) volumes(node string) *volumes.Manager {
	if c.rootDir != "" {
		return volumes.New(filepath.Join(c.rootDir, node))
	}
	return volumes.NewTemp("podkit-agent-" + node + "-")
}

// WithClock sets the clock of timers, backoffs, probes and timestamps
// (default the real clock). Tests pass a clockwork.FakeClock.
func WithClock(c clockwork.Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return errors.New("nodeagent.WithClock: clock is nil")
		}
		cfg.clock = c
		return nil
	}
}

// WithLogger sets the logger (default discards).
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return errors.New("nodeagent.WithLogger: logger is nil")
		}
		cfg.log = l
		return nil
	}
}

// WithEventRecorder sets where events go (default nowhere).
func WithEventRecorder(r EventRecorder) Option {
	return func(cfg *config) error {
		if r == nil {
			return errors.New("nodeagent.WithEventRecorder: recorder is nil")
		}
		cfg.recorder = r
		return nil
	}
}

// WithCrashLoopBackOff sets the restart backoff of crashing containers (and
// of failing image pulls): the first delay, the cap it doubles up to, and
// how long a container must run before the delay starts again from base.
// Defaults 10s, 5m, 10m.
func WithCrashLoopBackOff(base, max, reset time.Duration) Option {
	return func(cfg *config) error {
		if base <= 0 || max < base || reset <= 0 {
			return fmt.Errorf("nodeagent.WithCrashLoopBackOff(%v, %v, %v): want 0 < base <= max and reset > 0", base, max, reset)
		}
		cfg.backoffBase, cfg.backoffMax, cfg.backoffReset = base, max, reset
		return nil
	}
}

// WithHeartbeat sets how often the node's Lease is renewed and the runtime
// checked (default 10s), and the lease duration written into it (default
// 40s).
func WithHeartbeat(interval, leaseDuration time.Duration) Option {
	return func(cfg *config) error {
		if interval <= 0 || leaseDuration < interval {
			return fmt.Errorf("nodeagent.WithHeartbeat(%v, %v): want 0 < interval <= leaseDuration", interval, leaseDuration)
		}
		cfg.leaseInterval, cfg.leaseDuration = interval, leaseDuration
		return nil
	}
}

// WithNodeStatusInterval sets how often the node's Ready condition is
// rewritten when nothing changed (default 1m); a change is written at the
// next heartbeat.
func WithNodeStatusInterval(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return errors.New("nodeagent.WithNodeStatusInterval: want a positive duration")
		}
		cfg.nodeInterval = d
		return nil
	}
}

// WithRelist sets how often the runtime is listed to notice changes it did
// not report (default 10s with a runtime.EventWatcher, else 1s) and how
// long after its last sync a pod is synced again even if nothing changed
// (default 1m), lengthened for each pod and each time by up to half of it,
// as the kubelet jitters its pod workers' resyncs: pods started together
// do not resync together. A resync starts at the relist after it is due.
func WithRelist(relist, resync time.Duration) Option {
	return func(cfg *config) error {
		if relist <= 0 || resync <= 0 {
			return errors.New("nodeagent.WithRelist: want positive durations")
		}
		cfg.relist, cfg.resync = relist, resync
		return nil
	}
}

// WithEvictionInterval sets how often the agent measures the local storage
// of its pods that limit it (an emptyDir's sizeLimit, a container's
// limits.ephemeral-storage) and evicts those over a limit (default 10s,
// the kubelet's eviction monitoring period).
func WithEvictionInterval(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return errors.New("nodeagent.WithEvictionInterval: want a positive duration")
		}
		cfg.evictInterval = d
		return nil
	}
}

// WithStatusBatching bounds how many status writes (pods, node, lease) go
// into one store transaction (default 500) and sets a pause between
// transactions (default 0: a transaction starts as soon as the previous
// one ends, carrying everything queued meanwhile).
func WithStatusBatching(maxPerTxn int, pause time.Duration) Option {
	return func(cfg *config) error {
		if maxPerTxn <= 0 || pause < 0 {
			return errors.New("nodeagent.WithStatusBatching: want maxPerTxn > 0 and pause >= 0")
		}
		cfg.batch, cfg.batchInterval = maxPerTxn, pause
		return nil
	}
}

// WithRootDir sets the directory under which each node keeps its pods'
// volumes, in a subdirectory named after the node. Without it each agent
// makes a temporary directory of its own when a pod first has a volume,
// removed when the agent stops with no pod's volumes left in it; a
// restarted process does not find it again: set a root dir for emptyDir
// content to outlive the process.
func WithRootDir(dir string) Option {
	return func(cfg *config) error {
		if dir == "" {
			return errors.New("nodeagent.WithRootDir: dir is empty")
		}
		cfg.rootDir = dir
		return nil
	}
}

// WithClusterDNS sets the resolvers and the cluster domain of pods with
// dnsPolicy ClusterFirst. Without servers such pods get the node's
// resolver configuration, as the kubelet does without clusterDNS.
func WithClusterDNS(domain string, servers ...string) Option {
	return func(cfg *config) error {
		if domain == "" {
			return errors.New("nodeagent.WithClusterDNS: domain is empty")
		}
		cfg.clusterDomain, cfg.clusterDNS = domain, servers
		return nil
	}
}

// WithHostDNS sets the node's own resolver configuration, which pods with
// dnsPolicy Default get and whose search domains follow the cluster's for
// ClusterFirst pods, as on a kubelet given --resolv-conf (dns.HostDNSConfig
// reads one from a file). Without it the runtime's default stands for the
// host's: Default pods get it, and ClusterFirst pods no host search domain.
func WithHostDNS(d runtime.DNSConfig) Option {
	return func(cfg *config) error {
		cfg.hostDNS = d.Clone()
		return nil
	}
}

// WithAllowedUnsafeSysctls allows pods the sysctls named beyond the safe
// ones every node allows, as the kubelet's --allowed-unsafe-sysctls: names
// ("net.core.somaxconn") or patterns ending in '*' ("net.core.*"), each of
// a sysctl the kernel namespaces (net.*, kernel.shm*, kernel.msg*,
// kernel.sem, fs.mqueue.*); others are an error. The safe ones are the
// kubelet's: kernel.shm_rmid_forced and some net.ipv4 parameters
// (ip_local_port_range, tcp_syncookies, ping_group_range,
// ip_unprivileged_port_start, ip_local_reserved_ports, tcp_keepalive_*,
// tcp_fin_timeout, tcp_rmem, tcp_wmem, tcp_slow_start_after_idle,
// tcp_notsent_lowat), those the node's kernel namespaces. A pod that sets
// any other fails with reason SysctlForbidden, as the kubelet refuses it.
func WithAllowedUnsafeSysctls(patterns ...string) Option {
	return func(cfg *config) error {
		w, err := newSysctlAllowlist(patterns)
		if err != nil {
			return fmt.Errorf("nodeagent.WithAllowedUnsafeSysctls: %w", err)
		}
		merged := cfg.unsafeSysctls.clone() // configs are copied: never add to a shared one
		maps.Copy(merged.names, w.names)
		maps.Copy(merged.prefixes, w.prefixes)
		cfg.unsafeSysctls = merged
		return nil
	}
}
