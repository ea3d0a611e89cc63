package containerd

import (
	"path"

	"github.com/podkit/podkit/internal/podcgroup"
)

// Pod cgroups (runtime.SandboxConfig.Resources), as the kubelet makes them
// for a pod with pod-level resources: a cgroup per sandbox, made with
// the sandbox's limits, in which the cgroups of its containers (and of
// its pause task) are made, so that the limits apply to them together.
// The sandbox record names it (labelPodCgroup); RemoveSandbox removes it,
// and the repair at start removes that of a sandbox cut short.

// labelPodCgroup, on a sandbox record, is the cgroup its containers' are
// made in, when it has one.
const labelPodCgroup = "podkit.io/pod-cgroup"

// podCgroupPath is where sandbox id's pod cgroup lives (relative to each
// hierarchy's root), beside the namespace's container cgroups.
func podCgroupPath(ns, id string) string { return "/" + ns + "/pod-" + id }

// containerCgroup is the cgroup of container (or pause task) id of
// sandbox record sb.
func containerCgroup(ns string, sbLabels map[string]string, id string) string {
	if pc := sbLabels[labelPodCgroup]; pc != "" {
		return path.Join(pc, id)
	}
	return cgroupPath(ns, id)
}

// PodLevelResources implements runtime.PodResourcesReporter: the host has
// cgroups with cpu and memory controllers (podcgroup.Supported).
func (r *Runtime) PodLevelResources() bool { return podcgroup.Supported() }
