package podkit

import (
	"errors"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/network"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/scheduler"
	"github.com/podkit/podkit/store"
)

// Option configures an Orchestrator. Options may fail; New reports the
// first failure.
type Option func(*config) error

type config struct {
	store      store.Store
	scheme     *objects.Scheme
	logger     *slog.Logger
	clock      clockwork.Clock
	eventTTL   time.Duration
	eventLimit int
	name       string
	network    []network.Option
	netOn      bool
	scheduler  []scheduler.Option
	agent      []nodeagent.Option
	builtins   []reconcile.BuiltinOption
	tokens     tokenConfig // see token.go
	hooks      []AdmissionHook
}

// WithControllers passes options to the built-in controllers: node
// lifecycle timings (reconcile.WithNodeLifecycle), autoscaler settings
// (reconcile.WithHPA), the local-path volume provisioner
// (reconcile.WithLocalPath), the ResourceQuota controller's sync period
// (reconcile.WithResourceQuota).
func WithControllers(opts ...reconcile.BuiltinOption) Option {
	return func(c *config) error {
		c.builtins = append(c.builtins, opts...)
		return nil
	}
}

// WithNodeAgent passes options to every node agent: CrashLoopBackOff
// timings, heartbeat and status intervals, the root directory of pod
// volumes.
func WithNodeAgent(opts ...nodeagent.Option) Option {
	return func(c *config) error {
		c.agent = append(c.agent, opts...)
		return nil
	}
}

// WithScheduler passes options to the scheduler: a profile of plugins and
// weights (scheduler.WithProfile), a host's own plugins
// (scheduler.WithPlugins), backoff and sampling settings.
func WithScheduler(opts ...scheduler.Option) Option {
	return func(c *config) error {
		c.scheduler = append(c.scheduler, opts...)
		return nil
	}
}

// WithNetwork runs service networking in the host: cluster DNS, the service
// proxy (ClusterIP, NodePort, LoadBalancer) and, when asked, Ingress, as
// the options configure them (see package network). Pods on Docker and
// containerd nodes reach cluster DNS on their bridge gateway, where the
// server listens once such a node is registered (see RegisterNode).
// Without it, Services
// still get their cluster IPs and node ports and Endpoints are kept, but no
// DNS server or proxy runs.
func WithNetwork(opts ...network.Option) Option {
	return func(c *config) error {
		c.network = append(c.network, opts...)
		c.netOn = true
		return nil
	}
}

// WithStore makes the orchestrator keep its objects in s instead of a new
// in-memory store: for example a store/bolt one, whose objects outlive the
// process. The orchestrator does not close a store it was given.
func WithStore(s store.Store) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("WithStore: store is nil")
		}
		c.store = s
		return nil
	}
}

// WithScheme sets the scheme of kinds the orchestrator accepts, for a host
// that registers kinds of its own. With WithStore, the store's scheme is used
// and this option must name the same scheme or be left out.
func WithScheme(s *objects.Scheme) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("WithScheme: scheme is nil")
		}
		c.scheme = s
		return nil
	}
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: logger is nil")
		}
		c.logger = l
		return nil
	}
}

// WithClock sets the clock every timer and timestamp comes from, so tests can
// move time forward with a clockwork.FakeClock.
func WithClock(clk clockwork.Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return errors.New("WithClock: clock is nil")
		}
		c.clock = clk
		return nil
	}
}

// WithEventTTL sets how long Event objects are kept after their last
// occurrence (default one hour, as Kubernetes keeps them).
func WithEventTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("WithEventTTL: duration must be positive")
		}
		c.eventTTL = d
		return nil
	}
}

// WithEventLimit bounds the Event objects the orchestrator keeps of those
// it records (default DefaultEventLimit; 0: no bound, only WithEventTTL).
// Past the limit, recording an event deletes the one last seen longest
// ago, the one the TTL would expire next.
func WithEventLimit(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errors.New("WithEventLimit: limit must not be negative")
		}
		c.eventLimit = n
		return nil
	}
}

// WithName sets the component name recorded as the source of the
// orchestrator's events (default "podkit").
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("WithName: name is empty")
		}
		c.name = name
		return nil
	}
}
