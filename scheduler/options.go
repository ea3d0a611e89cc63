package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
)

// Option configures a Scheduler.
type Option func(*config) error

type config struct {
	log            *slog.Logger
	clock          clockwork.Clock
	recorder       EventRecorder
	profile        Profile
	extra          []Plugin
	name           string
	initialBackoff time.Duration
	maxBackoff     time.Duration
	percentage     *int
	batch          int
	seed           uint64
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithClock sets the clock of backoffs and condition times (default: the
// real clock).
func WithClock(clk clockwork.Clock) Option {
	return func(c *config) error {
		if clk == nil {
			return errors.New("WithClock: clock is nil")
		}
		c.clock = clk
		return nil
	}
}

// WithEventRecorder records Scheduled, FailedScheduling and Preempted
// events through r (default: none are recorded).
func WithEventRecorder(r EventRecorder) Option {
	return func(c *config) error {
		c.recorder = r
		return nil
	}
}

// WithProfile chooses the plugins and weights (default DefaultProfile()).
func WithProfile(p Profile) Option {
	return func(c *config) error {
		c.profile = p
		return nil
	}
}

// WithPlugins appends a host's own plugins to the profile, after its
// plugins, with score weight 1. To choose weights or order, use
// WithProfile with DefaultProfile().Plugins plus yours.
func WithPlugins(plugins ...Plugin) Option {
	return func(c *config) error {
		for _, p := range plugins {
			if p == nil {
				return errors.New("WithPlugins: plugin is nil")
			}
		}
		c.extra = append(c.extra, plugins...)
		return nil
	}
}

// WithSchedulerName sets the spec.schedulerName of the pods this scheduler
// places (default "default-scheduler"; a pod naming none counts as naming
// that).
func WithSchedulerName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("WithSchedulerName: name is empty")
		}
		c.name = name
		return nil
	}
}

// WithBackoff sets how long after its last attempt a pod is tried again
// when the attempt failed for an error or the pod was edited since:
// initial, doubling per attempt up to max (default 1s to 10s, as
// Kubernetes). A pod that fits nowhere waits for a change that could help
// instead, or 5 minutes (see the package doc).
func WithBackoff(initial, max time.Duration) Option {
	return func(c *config) error {
		if initial <= 0 || max < initial {
			return fmt.Errorf("WithBackoff(%v, %v): want 0 < initial <= max", initial, max)
		}
		c.initialBackoff, c.maxBackoff = initial, max
		return nil
	}
}

// WithPercentageOfNodesToScore overrides the profile's
// PercentageOfNodesToScore (see Profile).
func WithPercentageOfNodesToScore(p int) Option {
	return func(c *config) error {
		if p < 0 || p > 100 {
			return fmt.Errorf("WithPercentageOfNodesToScore(%d): want 0 to 100", p)
		}
		c.percentage = &p
		return nil
	}
}

// WithBatchSize sets how many pods of one group are placed before the
// scheduler looks at new events again (default 256).
func WithBatchSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("WithBatchSize(%d): want at least 1", n)
		}
		c.batch = n
		return nil
	}
}

func defaultConfig() config {
	return config{
		log:            slog.New(slog.DiscardHandler),
		clock:          clockwork.NewRealClock(),
		profile:        DefaultProfile(),
		name:           objects.DefaultSchedulerName,
		initialBackoff: DefaultInitialBackoff,
		maxBackoff:     DefaultMaxBackoff,
		batch:          256,
	}
}
