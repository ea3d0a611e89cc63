package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/netns"

	"github.com/podkit/podkit/internal/owner"
	"github.com/podkit/podkit/internal/podcgroup"
	"github.com/podkit/podkit/runtime"
)

// recover repairs what a crashed process left in the runtime's namespace
// and reattaches to the running containers, in this order:
//
//  1. sandbox directories with no record and no live owner (a RunSandbox
//     or RemoveSandbox cut short): detached, namespace removed, deleted,
//     their pod cgroups removed;
//  2. Ready sandboxes whose namespace is gone (the host rebooted), or
//     whose pause task is not running: torn down to NotReady;
//  3. CNI attachments and host-local allocations of this namespace that
//     belong to no Ready sandbox: detached, released;
//  4. containers whose sandbox record is gone: removed;
//  5. tasks that exited while no Runtime watched: exit recorded, task
//     deleted; running tasks: log copying and exit watching resumed;
//     tasks created by a start cut short: deleted, the start recorded as
//     failed;
//  6. container directories with no record (logs of removed containers,
//     image mounts of a creation cut short): unmounted, deleted;
//  7. leases of processes that died (a container creation or an image
//     import cut short): deleted, and with them what only they held.
//
// Failures of single repairs are logged and left for the next start; only
// a daemon that does not answer fails New.
func (r *Runtime) recover(ctx context.Context) error {
	ctx = r.ns(ctx)
	sbRecs, err := r.cli.ContainerService().List(ctx, labelFilter(kindSandbox, nil))
	if err != nil {
		return r.wrap(err, "listing sandboxes")
	}
	records := map[string]containers.Container{}
	for _, c := range sbRecs {
		records[c.ID] = c
	}
	attached := map[string]bool{} // sandboxes that may hold a CNI attachment rightly

	// 1. Half-made or half-removed sandboxes.
	ents, err := os.ReadDir(r.sandboxesDir())
	if err != nil {
		return err
	}
	for _, e := range ents {
		id := e.Name()
		if _, ok := records[id]; ok || !e.IsDir() {
			continue
		}
		dir := filepath.Join(r.sandboxesDir(), id)
		if ownerAlive(dir) {
			attached[id] = true // being made by a live process
			continue
		}
		if err := r.teardownErr(ctx, id, findNetNS(dir), nil); err != nil {
			r.log.Warn("repair: tearing down an unrecorded sandbox", "sandbox", short(id), "err", err)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			r.log.Warn("repair: removing an unrecorded sandbox", "sandbox", short(id), "err", err)
			continue
		}
		if err := podcgroup.Remove(podCgroupPath(r.cfg.namespace, id)); err != nil {
			r.log.Warn("repair: removing the pod cgroup of an unrecorded sandbox", "sandbox", short(id), "err", err)
		}
		r.log.Info("repair: removed a sandbox left half-made", "sandbox", short(id))
	}

	// 2. Ready sandboxes whose namespace, or pause task, is gone.
	running, err := r.runningTasks(ctx, sbRecs)
	if err != nil {
		return err
	}
	for id, rec := range records {
		if rec.Labels[labelState] != stateReady {
			continue
		}
		hostNet := rec.Labels[labelHostNet] == "true"
		lost := "its pause task"
		if !hostNet {
			if closed, err := netns.LoadNetNS(rec.Labels[labelNetNS]).Closed(); err != nil || closed {
				lost = "its network namespace"
			} else if !pauseDown(rec, running) {
				attached[id] = true
				continue
			}
		} else if !pauseDown(rec, running) {
			continue
		}
		if err := r.stopSandbox(ctx, rec); err != nil {
			r.log.Warn("repair: stopping a sandbox that lost "+lost, "sandbox", short(id), "err", err)
			continue
		}
		r.log.Info("repair: sandbox lost "+lost+", now NotReady", "sandbox", short(id))
	}

	// 3. Stray attachments and allocations of this namespace.
	stray := func(cid string) bool {
		id, ok := r.sandboxOfCNIID(cid)
		return ok && !attached[id]
	}
	atts, err := r.net.Attachments(stray)
	if err != nil {
		r.log.Warn("repair: reading the CNI cache", "err", err)
	}
	for _, a := range atts {
		if err := r.net.Teardown(ctx, a.ID, a.NetNS, a.Ports); err != nil {
			r.log.Warn("repair: detaching a stray CNI attachment", "id", a.ID, "err", err)
			continue
		}
		r.log.Info("repair: released a stray CNI attachment", "id", a.ID)
	}
	allocs, err := r.net.Allocations(stray)
	if err != nil {
		r.log.Warn("repair: reading IP allocations", "err", err)
	}
	released := map[string]bool{}
	for ip, cid := range allocs {
		if released[cid] {
			continue
		}
		released[cid] = true
		if err := r.net.Release(cid); err != nil {
			r.log.Warn("repair: releasing a stray IP", "ip", ip, "id", cid, "err", err)
			continue
		}
		r.log.Info("repair: released a stray IP", "ip", ip, "id", cid)
	}

	// 4 and 5. Containers.
	ctrs, err := r.containerRecords(ctx, runtime.Filter{})
	if err != nil {
		return err
	}
	tasks := map[string]*tasktypes.Process{}
	if len(ctrs) > 0 {
		resp, err := r.cli.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			return r.wrap(err, "listing tasks")
		}
		for _, t := range resp.Tasks {
			tasks[t.ID] = t
		}
	}
	known := map[string]bool{}
	for _, c := range ctrs {
		if _, ok := records[c.Labels[labelSandbox]]; !ok {
			if err := r.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				r.log.Warn("repair: removing a container without sandbox", "container", short(c.ID), "err", err)
				known[c.ID] = true
			}
			continue
		}
		known[c.ID] = true
		t := tasks[c.ID]
		if t == nil {
			continue
		}
		switch t.Status {
		case tasktypes.Status_STOPPED:
			exited := t.ExitedAt.AsTime()
			r.finalize(ctx, c.ID, t.ExitStatus, exited)
		case tasktypes.Status_RUNNING, tasktypes.Status_PAUSED, tasktypes.Status_PAUSING:
			if err := r.reattach(ctx, c); err != nil {
				r.log.Warn("repair: reattaching to a running container", "container", short(c.ID), "err", err)
			}
		case tasktypes.Status_CREATED: // a start cut short
			if err := r.recordFailedStart(ctx, c.ID, errors.New("its start was cut short")); err != nil {
				r.log.Warn("repair: recording a failed start", "container", short(c.ID), "err", err)
			}
		}
	}

	// 6. Directories of removed containers.
	ents, err = os.ReadDir(r.containersDir())
	if err != nil {
		return err
	}
	for _, e := range ents {
		if id := strings.TrimSuffix(e.Name(), "-exec"); !known[id] {
			// Its image mounts first: a directory still mounted is kept.
			if err := r.unmountImages(ctx, e.Name()); err != nil {
				r.log.Warn("repair: unmounting the image mounts of a removed container", "container", short(e.Name()), "err", err)
				continue
			}
			_ = os.RemoveAll(filepath.Join(r.containersDir(), e.Name()))
		}
	}

	// 7. Leases of processes that died (withLease).
	ls, err := r.cli.LeasesService().List(ctx, fmt.Sprintf("labels.%q", labelOwner))
	if err != nil {
		return r.wrap(err, "listing leases")
	}
	for _, l := range ls {
		if owner.Alive(l.Labels[labelOwner]) {
			continue
		}
		if err := r.cli.LeasesService().Delete(ctx, l, leases.SynchronousDelete); err != nil {
			r.log.Warn("repair: deleting a lease", "lease", l.ID, "err", err)
			continue
		}
		r.log.Info("repair: deleted the lease of a process that died", "lease", l.ID)
	}
	return nil
}

// findNetNS returns the network namespace file in a sandbox directory.
func findNetNS(dir string) string {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "cni-") {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

// reattach resumes copying the output of a running container this Runtime
// did not start, and watching for its exit.
func (r *Runtime) reattach(ctx context.Context, c containers.Container) error {
	w, err := r.newWatch(c.ID, c.Labels[labelTTY] == "true")
	if err != nil {
		return err
	}
	ctr, err := r.cli.LoadContainer(ctx, c.ID)
	if err != nil {
		r.unwatch(c.ID)
		return r.wrap(err, "container %s", short(c.ID))
	}
	task, err := ctr.Task(ctx, w.attach)
	if err != nil {
		r.unwatch(c.ID)
		return r.wrap(err, "container %s", short(c.ID))
	}
	exitCh, err := task.Wait(r.bg)
	if err != nil {
		r.unwatch(c.ID)
		return r.wrap(err, "container %s", short(c.ID))
	}
	r.watchExit(w, exitCh)
	return nil
}
