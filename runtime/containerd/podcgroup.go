package containerd

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/podkit/podkit/runtime"
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
// cgroups with cpu and memory controllers, v1 or v2.
func (r *Runtime) PodLevelResources() bool {
	if unified() {
		b, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
		f := strings.Fields(string(b))
		return err == nil && slices.Contains(f, "cpu") && slices.Contains(f, "memory")
	}
	for _, c := range []string{"cpu", "memory"} {
		if _, err := os.Stat(filepath.Join(cgroupRoot, c)); err != nil {
			return false
		}
	}
	return true
}

// unified reports whether the host has cgroup v2 alone.
func unified() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// makePodCgroup makes the cgroup at rel with res's limits, as the kubelet
// writes a pod cgroup's: in cgroup v1 the cpu hierarchy's cpu.shares and
// cpu.cfs_quota_us (of a cpuPeriod period) and the memory hierarchy's
// memory.limit_in_bytes; in cgroup v2 cpu.weight (the shares converted as
// runc converts them), cpu.max and memory.max, the cpu and memory
// controllers enabled on the way down. runc makes the containers'
// cgroups below it.
func makePodCgroup(rel string, res runtime.Resources) error {
	quota := "max"
	if res.CPUQuotaMillis > 0 {
		quota = strconv.FormatInt(max(res.CPUQuotaMillis*cpuPeriod/1000, 1000), 10) // the kernel's minimum
	}
	memory := "max"
	if res.MemoryLimitBytes > 0 {
		memory = strconv.FormatInt(res.MemoryLimitBytes, 10)
	}
	type file struct{ dir, name, value string }
	var files []file
	if unified() {
		dir := filepath.Join(cgroupRoot, rel)
		parts := strings.Split(strings.Trim(rel, "/"), "/")
		cur := cgroupRoot
		for _, p := range parts {
			files = append(files, file{cur, "cgroup.subtree_control", "+cpu +memory"})
			cur = filepath.Join(cur, p)
		}
		files = append(files, file{dir, "cpu.max", fmt.Sprintf("%s %d", quota, cpuPeriod)}, file{dir, "memory.max", memory})
		if res.CPUShares > 0 {
			weight := 1 + ((res.CPUShares-2)*9999)/262142
			files = append(files, file{dir, "cpu.weight", strconv.FormatInt(min(max(weight, 1), 10000), 10)})
		}
	} else {
		cpu, mem := filepath.Join(cgroupRoot, "cpu", rel), filepath.Join(cgroupRoot, "memory", rel)
		if quota == "max" {
			quota = "-1"
		}
		if memory == "max" {
			memory = "-1"
		}
		files = append(files, file{cpu, "cpu.cfs_period_us", strconv.Itoa(cpuPeriod)}, file{cpu, "cpu.cfs_quota_us", quota},
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
