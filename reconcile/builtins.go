package reconcile

// AddBuiltins registers the built-in controllers with m: ReplicaSet,
// Deployment, and the garbage collector (with namespace deletion).
func AddBuiltins(m *Manager) error {
	for _, c := range []Controller{ReplicaSetController(m), DeploymentController(m)} {
		if err := m.Add(c); err != nil {
			return err
		}
	}
	return m.AddRunnable(GarbageCollector(m))
}
