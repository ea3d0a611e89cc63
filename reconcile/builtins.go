package reconcile

import "errors"

// BuiltinOption configures the built-in controllers AddBuiltins registers.
type BuiltinOption func(*builtinConfig) error

type builtinConfig struct {
	nodes     NodeLifecycleOptions
	metrics   MetricsSource
	hpa       HPAOptions
	localPath LocalPathOptions
	quota     ResourceQuotaOptions
}

// WithNodeLifecycle sets the node lifecycle controller's timings (lease
// grace period, default toleration of not-ready and unreachable nodes).
func WithNodeLifecycle(o NodeLifecycleOptions) BuiltinOption {
	return func(c *builtinConfig) error {
		if o.GracePeriod < 0 || o.StartupGracePeriod < 0 {
			return errors.New("reconcile.WithNodeLifecycle: negative grace period")
		}
		c.nodes = o
		return nil
	}
}

// WithMetricsSource sets where the HorizontalPodAutoscaler reads pod usage
// (default: an empty MemoryMetrics, so autoscalers report no metrics until
// a source is given).
func WithMetricsSource(ms MetricsSource) BuiltinOption {
	return func(c *builtinConfig) error {
		if ms == nil {
			return errors.New("reconcile.WithMetricsSource: source is nil")
		}
		c.metrics = ms
		return nil
	}
}

// WithHPA sets the HorizontalPodAutoscaler's sync period and tolerance.
func WithHPA(o HPAOptions) BuiltinOption {
	return func(c *builtinConfig) error {
		if o.SyncPeriod < 0 || o.Tolerance < 0 {
			return errors.New("reconcile.WithHPA: negative sync period or tolerance")
		}
		c.hpa = o
		return nil
	}
}

// WithResourceQuota sets how often the ResourceQuota controller computes
// every quota again.
func WithResourceQuota(o ResourceQuotaOptions) BuiltinOption {
	return func(c *builtinConfig) error {
		if o.SyncPeriod < 0 {
			return errors.New("reconcile.WithResourceQuota: negative sync period")
		}
		c.quota = o
		return nil
	}
}

// WithLocalPath configures the local-path volume provisioner: the
// directory volumes are made in, and whether the default "local-path"
// StorageClass is created.
func WithLocalPath(o LocalPathOptions) BuiltinOption {
	return func(c *builtinConfig) error {
		c.localPath = o
		return nil
	}
}

// AddBuiltins registers the built-in controllers with m, with their
// defaults: see AddBuiltinsWith.
func AddBuiltins(m *Manager) error { return AddBuiltinsWith(m) }

// AddBuiltinsWith registers the built-in controllers with m: ReplicaSet,
// ReplicationController, Deployment, StatefulSet, DaemonSet, Job, CronJob, node lifecycle,
// HorizontalPodAutoscaler, disruption (PodDisruptionBudget status), the
// PersistentVolumeClaim binder and
// PersistentVolume controller with the local-path provisioner (and its
// default StorageClass), the ephemeral volume controller (the claims of
// pods' generic ephemeral volumes), the ServiceAccount controller (every namespace's
// "default" account), the ResourceQuota controller (quotas' status.used),
// the ClusterRole aggregation controller, and the garbage collector (with
// namespace deletion).
func AddBuiltinsWith(m *Manager, opts ...BuiltinOption) error {
	var cfg builtinConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return err
		}
	}
	if cfg.metrics == nil {
		cfg.metrics = NewMemoryMetrics()
	}
	for _, c := range []Controller{
		ReplicaSetController(m),
		ReplicationControllerController(m),
		DeploymentController(m),
		StatefulSetController(m),
		DaemonSetController(m),
		JobController(m),
		CronJobController(m),
		NodeLifecycleController(m, cfg.nodes),
		HorizontalPodAutoscalerController(m, cfg.metrics, cfg.hpa),
		DisruptionController(m),
		PersistentVolumeClaimBinderController(m, cfg.localPath),
		PersistentVolumeController(m, cfg.localPath),
		EphemeralVolumeController(m),
		ServiceAccountController(m),
		ResourceQuotaController(m, cfg.quota),
		ClusterRoleAggregationController(m),
	} {
		if err := m.Add(c); err != nil {
			return err
		}
	}
	if err := m.AddRunnable(LocalPathDefaultClass(m, cfg.localPath)); err != nil {
		return err
	}
	return m.AddRunnable(GarbageCollector(m))
}
