package objects

// IsSidecar reports whether c is a sidecar: an init container with
// restartPolicy Always (Kubernetes' restartable init container). A sidecar
// starts in its place among the init containers, and the next one starts
// once it has started (its startupProbe passed, its postStart hook
// returned); it then runs beside the pod's containers, restarted whenever
// it exits whatever the pod's restartPolicy, its readiness counting in the
// pod's. It does not keep a pod from completing: once the containers have
// finished, the sidecars are stopped, in the reverse of their order, and
// their exit codes do not make the pod fail. A pod being deleted stops
// its containers first, then its sidecars, last one first. Its requests
// add to the pod's for as long as the pod runs (PodRequests).
func (c *Container) IsSidecar() bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == ContainerRestartPolicyAlways
}
