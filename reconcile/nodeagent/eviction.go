package nodeagent

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// ReasonEvicted is the status reason, and the reason of the Warning event,
// of a pod the agent evicts for using more local storage than it may.
const ReasonEvicted = "Evicted"

// The kubelet's messages of a local storage eviction, word for word.
const (
	emptyDirMessageFmt                  = "Usage of EmptyDir volume %q exceeds the limit %q. "
	podEphemeralStorageMessageFmt       = "Pod ephemeral local storage usage exceeds the total limit of containers %s. "
	containerEphemeralStorageMessageFmt = "Container %s exceeded its local ephemeral storage limit %q. "
)

// checkLocalStorage measures the local storage of each running pod that
// limits it and evicts those over a limit, as the kubelet's eviction
// manager (localStorageEviction) does at each monitoring period: an
// emptyDir over its sizeLimit first, then the pod over the sum of its
// containers' limits.ephemeral-storage (its containers' writable layers
// and logs, its emptyDirs on disk, ConfigMap and downward API volumes),
// then a container over its own limit (its writable layer and logs).
// Writable layers and logs are counted only on a runtime that reports
// them (runtime.DiskUsageProvider).
func (a *Agent) checkLocalStorage(ctx context.Context) {
	for _, w := range a.workers() {
		w.mu.Lock()
		pod, gone := w.pod, w.gone
		w.mu.Unlock()
		if gone || pod == nil || pod.DeletionTimestamp != nil || pod.IsTerminal() || !limitsLocalStorage(pod) {
			continue
		}
		msg, err := a.localStorageOverLimit(ctx, pod)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Debug("measuring local storage", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			continue
		}
		if msg != "" {
			a.log.Info("evicting pod", "pod", pod.Namespace+"/"+pod.Name, "message", msg)
			a.evictMu.Lock()
			if a.evictions == nil {
				a.evictions = map[string]string{}
			}
			a.evictions[w.uid] = msg
			a.nEvictions.Store(int32(len(a.evictions)))
			a.evictMu.Unlock()
			a.enqueue(w)
		}
	}
}

// takeEviction returns, and forgets, why checkLocalStorage evicts the pod
// of uid ("" when it does not).
func (a *Agent) takeEviction(uid string) string {
	if a.nEvictions.Load() == 0 {
		return ""
	}
	a.evictMu.Lock()
	defer a.evictMu.Unlock()
	msg := a.evictions[uid]
	delete(a.evictions, uid)
	a.nEvictions.Store(int32(len(a.evictions)))
	return msg
}

// limitsLocalStorage reports whether the pod sets a limit that
// checkLocalStorage enforces.
func limitsLocalStorage(pod *objects.Pod) bool {
	for i := range pod.Spec.Volumes {
		if d := pod.Spec.Volumes[i].EmptyDir; d != nil && d.SizeLimit != nil && d.SizeLimit.Sign() > 0 {
			return true
		}
	}
	for _, cs := range [][]objects.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			if _, ok := cs[i].Resources.Limits[objects.ResourceEphemeralStorage]; ok {
				return true
			}
		}
	}
	return false
}

// localEphemeral reports whether the kubelet counts v's usage in its pod's
// local ephemeral storage (its IsLocalEphemeralVolume): an emptyDir on
// disk, a ConfigMap or a downward API volume.
func localEphemeral(v *objects.Volume) bool {
	return v.EmptyDir != nil && v.EmptyDir.Medium != objects.StorageMediumMemory || v.ConfigMap != nil || v.DownwardAPI != nil
}

// localStorageOverLimit returns the kubelet's message for the first limit
// of pod's local storage that its usage exceeds, "" when none.
func (a *Agent) localStorageOverLimit(ctx context.Context, pod *objects.Pod) (string, error) {
	podLimit, hasPodLimit := objects.PodLimits(pod)[objects.ResourceEphemeralStorage]
	var used uint64 // the pod's, for its limit
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		sized := v.EmptyDir != nil && v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() > 0
		counted := hasPodLimit && localEphemeral(v)
		if !sized && !counted {
			continue
		}
		n, ok, err := a.volumes.Usage(pod.UID, v)
		if err != nil || !ok {
			return "", err
		}
		if sized && v.EmptyDir.SizeLimit.CmpInt64(int64(n)) < 0 {
			return fmt.Sprintf(emptyDirMessageFmt, v.Name, v.EmptyDir.SizeLimit.String()), nil
		}
		if counted {
			used += n
		}
	}
	du, ok := a.rt.(runtime.DiskUsageProvider)
	if !ok {
		if hasPodLimit && podLimit.CmpInt64(int64(used)) < 0 {
			return fmt.Sprintf(podEphemeralStorageMessageFmt, podLimit.String()), nil
		}
		return "", nil
	}
	ctrs, err := a.rt.ListContainers(ctx, runtime.Filter{Labels: a.selector(pod.UID)})
	if err != nil {
		return "", err
	}
	// Each container's latest instance: earlier ones, kept for their logs
	// until the pod goes, are the runtime's to count.
	latest := map[string]*runtime.ContainerStatus{}
	for i := range ctrs {
		c := &ctrs[i]
		if l := latest[ctrName(c)]; l == nil || byAttempt(c.Attempt, l.Attempt, c.CreatedAt, l.CreatedAt) > 0 {
			latest[ctrName(c)] = c
		}
	}
	usage := make(map[string]uint64, len(latest))
	for name, c := range latest {
		u, err := du.ContainerDiskUsage(ctx, c.ID)
		if err != nil {
			return "", err
		}
		usage[name] = u.WritableLayerBytes + u.LogBytes
		used += usage[name]
	}
	if hasPodLimit && podLimit.CmpInt64(int64(used)) < 0 {
		return fmt.Sprintf(podEphemeralStorageMessageFmt, podLimit.String()), nil
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		limit, ok := c.Resources.Limits[objects.ResourceEphemeralStorage]
		if n, seen := usage[c.Name]; ok && seen && limit.Sign() > 0 && limit.CmpInt64(int64(n)) < 0 {
			return fmt.Sprintf(containerEphemeralStorageMessageFmt, c.Name, limit.String()), nil
		}
	}
	return "", nil
}
