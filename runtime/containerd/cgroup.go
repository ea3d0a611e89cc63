package containerd

import (
	"fmt"

	"github.com/podkit/podkit/internal/podcgroup"
)

// removeNamespaceCgroup removes the cgroup that the namespace's containers'
// cgroups are made in (see cgroupPath), in every hierarchy that has it:
// runc removes a container's cgroup when the container goes, never the
// parent it created for it. Cgroups of containers left in it, which a
// failed or interrupted delete can leave, go first. The kernel refuses
// to remove a cgroup that still has a process: one still exiting (a task
// just deleted, its shim reaping it) is waited for (podcgroup.Remove);
// one that stays is an error.
func removeNamespaceCgroup(ns string) error {
	if err := podcgroup.Remove(ns); err != nil {
		return fmt.Errorf("removing the namespace's cgroup: %w", err)
	}
	return nil
}
