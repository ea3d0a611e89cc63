// Package podcgroup makes and removes the cgroups that the runtime
// backends put a pod's containers in when the pod has pod-level resources
// (runtime.SandboxConfig.Resources), as the kubelet makes a pod cgroup,
// and removes cgroup trees, in cgroup v1 and v2 alike.
package podcgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podkit/podkit/runtime"
)

// Root is where the cgroup hierarchies are mounted: the unified
// hierarchy itself (cgroup v2), or a directory of v1 hierarchies, one a
// controller or a few, systemd's named one and, in hybrid mode, the
// unified one as "unified".
const Root = "/sys/fs/cgroup"

// CPUPeriod is the CFS period of a cpu quota, in microseconds: 100 ms, as
// the kubelet sets it.
const CPUPeriod = 100_000

// Supported reports whether the host has cgroups with cpu and memory
// controllers, v1 or v2, in which Make can confine a pod.
func Supported() bool {
	if unified() {
		b, err := os.ReadFile(filepath.Join(Root, "cgroup.controllers"))
		f := strings.Fields(string(b))
		return err == nil && slices.Contains(f, "cpu") && slices.Contains(f, "memory")
	}
	for _, c := range []string{"cpu", "memory"} {
		if _, err := os.Stat(filepath.Join(Root, c)); err != nil {
			return false
		}
	}
	return true
}

// unified reports whether the host has cgroup v2 alone.
func unified() bool {
	_, err := os.Stat(filepath.Join(Root, "cgroup.controllers"))
	return err == nil
}

// Make makes the cgroup at rel with res's limits, as the kubelet
// writes a pod cgroup's: in cgroup v1 the cpu hierarchy's cpu.shares and
// cpu.cfs_quota_us (of a CPUPeriod period) and the memory hierarchy's
// memory.limit_in_bytes; in cgroup v2 cpu.weight (the shares converted as
// runc converts them), cpu.max and memory.max, the cpu and memory
// controllers enabled on the way down. runc makes the containers'
// cgroups below it.
func Make(rel string, res runtime.Resources) error {
	quota := "max"
	if res.CPUQuotaMillis > 0 {
		quota = strconv.FormatInt(max(res.CPUQuotaMillis*CPUPeriod/1000, 1000), 10) // the kernel's minimum
	}
	memory := "max"
	if res.MemoryLimitBytes > 0 {
		memory = strconv.FormatInt(res.MemoryLimitBytes, 10)
	}
	type file struct{ dir, name, value string }
	var files []file
	if unified() {
		dir := filepath.Join(Root, rel)
		parts := strings.Split(strings.Trim(rel, "/"), "/")
		cur := Root
		for _, p := range parts {
			files = append(files, file{cur, "cgroup.subtree_control", "+cpu +memory"})
			cur = filepath.Join(cur, p)
		}
		files = append(files, file{dir, "cpu.max", fmt.Sprintf("%s %d", quota, CPUPeriod)}, file{dir, "memory.max", memory})
		if res.CPUShares > 0 {
			weight := 1 + ((res.CPUShares-2)*9999)/262142
			files = append(files, file{dir, "cpu.weight", strconv.FormatInt(min(max(weight, 1), 10000), 10)})
		}
	} else {
		cpu, mem := filepath.Join(Root, "cpu", rel), filepath.Join(Root, "memory", rel)
		if quota == "max" {
			quota = "-1"
		}
		if memory == "max" {
			memory = "-1"
		}
		files = append(files, file{cpu, "cpu.cfs_period_us", strconv.Itoa(CPUPeriod)}, file{cpu, "cpu.cfs_quota_us", quota},
			file{mem, "memory.limit_in_bytes", memory})
		if res.CPUShares > 0 {
			files = append(files, file{cpu, "cpu.shares", strconv.FormatInt(res.CPUShares, 10)})
		}
	}
	for _, f := range files {
		if err := os.MkdirAll(f.dir, 0o755); err != nil {
			return fmt.Errorf("pod cgroup %s: %w", rel, err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, f.name), []byte(f.value), 0o644); err != nil {
			return fmt.Errorf("pod cgroup %s: %s: %w", rel, f.name, err)
		}
	}
	return nil
}

// hierarchies returns the cgroup hierarchies of the host: the unified one
// alone (cgroup v2), or each v1 one (and, in hybrid mode, "unified"); none
// without cgroups.
func hierarchies() ([]string, error) {
	if _, err := os.Stat(filepath.Join(Root, "cgroup.controllers")); err == nil { // v2 alone
		return []string{Root}, nil
	}
	entries, err := os.ReadDir(Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no cgroups here
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() { // not the links such as cpu -> cpu,cpuacct
			out = append(out, filepath.Join(Root, e.Name()))
		}
	}
	return out, nil
}

// Remove removes the cgroup at rel and those below it in
// every hierarchy that has it.
func Remove(rel string) error {
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
