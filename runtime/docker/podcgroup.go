package docker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/podkit/podkit/internal/podcgroup"
)

// Pod cgroups (runtime.SandboxConfig.Resources): the backend makes a
// cgroup with the sandbox's limits (internal/podcgroup) and gives it to
// the engine as the cgroup parent (HostConfig.CgroupParent) of the
// sandbox's container and of each of its containers, whose cgroups the
// engine then makes below it. The sandbox names it (labelPodCgroup);
// RemoveSandbox removes it. This takes an engine on this host, whose
// cgroups this process can write, with the cgroupfs cgroup driver, whose
// cgroup parent is a path of the hierarchies (the systemd driver's is a
// slice).

// labelPodCgroup, on a sandbox, is its pod cgroup: its containers'
// cgroup parent.
const labelPodCgroup = labelPrefix + "podcgroup"

// podCgroupPath is the pod cgroup of attempt of the pod whose names'
// stem is stem (see nameStem): at the top of the hierarchies, so that it
// shares no parent with others that would outlive it.
func podCgroupPath(stem string, attempt uint32) string {
	return "/podkit-" + stem + "-" + strconv.FormatUint(uint64(attempt), 10)
}

// PodLevelResources implements runtime.PodResourcesReporter: the engine
// listens on a unix socket of this host, uses the cgroupfs driver, and
// the host has cpu and memory cgroups. The engine is asked until it
// answers, then no more.
func (r *Runtime) PodLevelResources() bool {
	r.podCgMu.Lock()
	defer r.podCgMu.Unlock()
	if r.podCg == nil {
		if h := r.cli.DaemonHost(); !strings.HasPrefix(h, "unix://") || !podcgroup.Supported() {
			r.podCg = new(bool)
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := r.cli.Info(ctx, client.InfoOptions{})
		if err != nil {
			return false // asked again next time
		}
		ok := res.Info.CgroupDriver == "cgroupfs"
		r.podCg = &ok
	}
	return *r.podCg
}
