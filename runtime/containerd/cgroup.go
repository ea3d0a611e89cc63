package containerd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// cgroupRoot is where the cgroup hierarchies are mounted: the unified
// hierarchy itself (cgroup v2), or a directory of v1 hierarchies, one a
// controller or a few, systemd's named one and, in hybrid mode, the
// unified one as "unified".
const cgroupRoot = "/sys/fs/cgroup"

// removeNamespaceCgroup removes the cgroup that the namespace's containers'
// cgroups are made in (see cgroupPath), in every hierarchy that has it:
// runc removes a container's cgroup when the container goes, never the
// parent it created for it. Cgroups of containers left in it, which a
// failed or interrupted delete can leave, go first. The kernel refuses
// to remove a cgroup that still has a process: one still exiting (a task
// just deleted, its shim reaping it) is waited for, up to cgroupExitWait;
// one that stays is an error.
func removeNamespaceCgroup(ns string) error {
	if err := removeCgroupEverywhere(ns); err != nil {
		return fmt.Errorf("removing the namespace's cgroup: %w", err)
	}
	return nil
}

// hierarchies returns the cgroup hierarchies of the host: the unified one
// alone (cgroup v2), or each v1 one (and, in hybrid mode, "unified"); none
// without cgroups.
func hierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil { // v2 alone
		return []string{cgroupRoot}, nil
	}
	entries, err := os.ReadDir(cgroupRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no cgroups here
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() { // not the links such as cpu -> cpu,cpuacct
			out = append(out, filepath.Join(cgroupRoot, e.Name()))
		}
	}
	return out, nil
}

// removeCgroupEverywhere removes the cgroup at rel and those below it in
// every hierarchy that has it.
func removeCgroupEverywhere(rel string) error {
	hs, err := hierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		if err := removeCgroupTree(filepath.Join(h, rel)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupTree removes the cgroup dir and those below it, deepest
// first. A cgroup's files go with it: rmdir is all it takes.
func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := removeCgroup(d); err != nil {
			return err
		}
	}
	return nil
}

// cgroupExitWait bounds the wait for a cgroup's last processes to exit.
const cgroupExitWait = 5 * time.Second

// removeCgroup removes one cgroup, waiting up to cgroupExitWait while the
// kernel finds it busy.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(cgroupExitWait)
	for {
		err := os.Remove(dir)
		switch {
		case err == nil, errors.Is(err, fs.ErrNotExist):
			return nil
		case !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline):
			return err
		}
		time.Sleep(20 * time.Millisecond) // the kernel offers nothing to wait on
	}
}
