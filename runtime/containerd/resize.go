package containerd

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.ResourceUpdater = (*Runtime)(nil)

// labelResources records the resources a container was created or last
// updated with, "shares,quota millis,memory bytes", for its status.
const labelResources = labelPrefix + "resources"

// UpdateContainerResources implements runtime.ResourceUpdater, as the CRI
// plugin does: the running task's cgroup is updated, then the container's
// spec, so that a container not started yet starts with res. A zero value
// leaves the setting as it was.
func (r *Runtime) UpdateContainerResources(ctx context.Context, id string, res runtime.Resources) error {
	ctx = r.ns(ctx)
	c, err := r.cli.LoadContainer(ctx, id)
	if err != nil {
		return r.wrap(err, "update resources of container %s", short(id))
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return r.wrap(err, "update resources of container %s: reading its spec", short(id))
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	lr := spec.Linux.Resources
	setResources(lr, res)
	if task, err := c.Task(ctx, nil); err == nil {
		if err := task.Update(ctx, client.WithResources(lr)); err != nil && !cerrdefs.IsNotFound(err) {
			return r.wrap(err, "update resources of container %s", short(id))
		}
	} else if !cerrdefs.IsNotFound(err) {
		return r.wrap(err, "update resources of container %s: loading its task", short(id))
	}
	labels, err := c.Labels(ctx)
	if err != nil {
		return r.wrap(err, "update resources of container %s", short(id))
	}
	prev, _ := parseResources(labels[labelResources])
	specAny, err := typeurl.MarshalAny(spec)
	if err != nil {
		return fmt.Errorf("containerd: update resources of container %s: %w", short(id), err)
	}
	// Only the spec and the one label: the state labels may change beside.
	rec := containers.Container{ID: id, Spec: specAny, Labels: map[string]string{labelResources: formatResources(mergeResources(prev, res))}}
	_, err = r.cli.ContainerService().Update(ctx, rec, "spec", "labels."+labelResources)
	return r.wrap(err, "update resources of container %s: recording them", short(id))
}

// setResources sets res in lr as CreateContainer sets them (a zero value
// leaves the setting alone).
func setResources(lr *specs.LinuxResources, res runtime.Resources) {
	if res.CPUShares > 0 {
		if lr.CPU == nil {
			lr.CPU = &specs.LinuxCPU{}
		}
		s := uint64(max(res.CPUShares, 2))
		lr.CPU.Shares = &s
	}
	if res.CPUQuotaMillis > 0 {
		if lr.CPU == nil {
			lr.CPU = &specs.LinuxCPU{}
		}
		q, p := max(res.CPUQuotaMillis*cpuPeriod/1000, 1000), uint64(cpuPeriod)
		lr.CPU.Quota, lr.CPU.Period = &q, &p
	}
	if res.MemoryLimitBytes > 0 {
		if lr.Memory == nil {
			lr.Memory = &specs.LinuxMemory{}
		}
		m := res.MemoryLimitBytes
		lr.Memory.Limit = &m
		if swapAccounting() {
			lr.Memory.Swap = &m
		}
	}
}

// cpuPeriod is the CFS period of a container's CPU quota, in µs: the
// kubelet's.
const cpuPeriod = 100_000

// mergeResources returns prev with the non-zero settings of res.
func mergeResources(prev, res runtime.Resources) runtime.Resources {
	if res.CPUShares > 0 {
		prev.CPUShares = max(res.CPUShares, 2)
	}
	if res.CPUQuotaMillis > 0 {
		prev.CPUQuotaMillis = max(res.CPUQuotaMillis, 10)
	}
	if res.MemoryLimitBytes > 0 {
		prev.MemoryLimitBytes = res.MemoryLimitBytes
	}
	return prev
}

func formatResources(r runtime.Resources) string {
	return fmt.Sprintf("%d,%d,%d", r.CPUShares, r.CPUQuotaMillis, r.MemoryLimitBytes)
}

func parseResources(s string) (runtime.Resources, bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return runtime.Resources{}, false
	}
	var v [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return runtime.Resources{}, false
		}
		v[i] = n
	}
	return runtime.Resources{CPUShares: v[0], CPUQuotaMillis: v[1], MemoryLimitBytes: v[2]}, true
}
