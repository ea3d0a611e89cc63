package fake

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/runtime"
)

var _ runtime.ResourceUpdater = (*Runtime)(nil)

// UpdateContainerResources implements runtime.ResourceUpdater: a created
// or running container takes res, reported by its status and Configs from
// then on. As the kernel of a cgroup v1 host does, a memory limit below
// what the running container uses (see SetUsage) is refused; an exited
// container cannot be updated.
func (r *Runtime) UpdateContainerResources(ctx context.Context, id string, res runtime.Resources) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.check(); err != nil {
		return err
	}
	c, err := r.container(id)
	if err != nil {
		return err
	}
	rec := c.record(OpUpdateContainerResources)
	err = r.injectedFor(OpUpdateContainerResources, c)
	switch {
	case err != nil:
	case c.state == runtime.ContainerExited:
		err = fmt.Errorf("fake: container %s has exited: cannot update its resources", id)
	case c.state == runtime.ContainerRunning && res.MemoryLimitBytes > 0 && c.memoryUse() > uint64(res.MemoryLimitBytes):
		err = fmt.Errorf("fake: container %s: memory limit %d is below its usage %d", id, res.MemoryLimitBytes, c.memoryUse())
	}
	r.record(rec, err)
	if err != nil {
		return err
	}
	if c.spec.cfg.Resources == res {
		return nil
	}
	cfg := c.spec.cfg
	cfg.Resources = res
	old := c.spec
	c.spec = r.internSpec(&cfg)
	r.releaseSpec(old)
	return nil
}

// memoryUse is what the container uses of memory. r.mu is held.
func (c *container) memoryUse() uint64 {
	if c.x == nil {
		return DefaultMemoryBytes
	}
	return c.x.memory
}
