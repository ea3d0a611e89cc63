package docker

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.ResourceUpdater = (*Runtime)(nil)

// UpdateContainerResources implements runtime.ResourceUpdater through the
// engine's container update, which rewrites the container's cgroup: CPU
// shares, a CPU quota of the kubelet's 100 ms period, and a memory limit
// with as much memory+swap (no swap). A zero value leaves the setting as it
// was, as the engine does.
func (r *Runtime) UpdateContainerResources(ctx context.Context, id string, res runtime.Resources) error {
	var cr container.Resources
	if res.CPUShares > 0 {
		cr.CPUShares = max(res.CPUShares, 2)
	}
	if res.CPUQuotaMillis > 0 {
		cr.CPUPeriod = cpuPeriod
		cr.CPUQuota = max(res.CPUQuotaMillis*cpuPeriod/1000, 1000)
	}
	if res.MemoryLimitBytes > 0 {
		cr.Memory = res.MemoryLimitBytes
		cr.MemorySwap = res.MemoryLimitBytes
	}
	_, err := r.cli.ContainerUpdate(ctx, id, client.ContainerUpdateOptions{Resources: &cr})
	r.cache.drop(id) // the status kept reports the old resources
	if err != nil {
		return r.wrap(err, "update resources of container %s", short(id))
	}
	return nil
}

// cpuPeriod is the CFS period of a container's CPU quota, in µs: the
// kubelet's.
const cpuPeriod = 100_000

// resourcesOf returns what hc gives a container, as runtime.Resources.
func resourcesOf(hc *container.HostConfig) *runtime.Resources {
	if hc == nil {
		return nil
	}
	r := &runtime.Resources{CPUShares: hc.CPUShares, MemoryLimitBytes: hc.Memory}
	if hc.CPUQuota > 0 && hc.CPUPeriod > 0 {
		r.CPUQuotaMillis = hc.CPUQuota * 1000 / hc.CPUPeriod
	}
	return r
}

// drop forgets the status kept of container id, to be read again.
func (c *inspectCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
