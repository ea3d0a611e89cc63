package nodeagent

import (
	"context"
	"errors"
	"hash/maphash"
	"os"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/store"
)

// AgentVersion is what nodes report as status.nodeInfo.kubeletVersion.
const AgentVersion = "podkit"

// heartbeatLoop checks the runtime, renews the node's Lease and keeps the
// node's Ready condition, every lease interval.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := a.clock.NewTicker(a.cfg.leaseInterval)
	defer t.Stop()
	var lastUp *bool
	beat := func() {
		up, msg, version := a.checkRuntime(ctx)
		if ctx.Err() != nil {
			return
		}
		a.refreshNode(ctx)
		now := a.clock.Now()
		a.writer.submit(writeKey{"lease", a.node}, a.leaseOp(now))
		a.writer.submit(writeKey{"node", a.node}, a.nodeOp(now, up, msg, version))
		if lastUp != nil && !*lastUp && up {
			// Back from an outage: look at everything again.
			a.kickRelist()
			for _, w := range a.workers() {
				a.enqueue(w)
			}
		}
		lastUp = &up
	}
	beat()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
			beat()
		}
	}
}

// checkRuntime asks the runtime for its version, within a real-time bound
// (it is I/O, not something a test scripts on the clock).
func (a *Agent) checkRuntime(ctx context.Context) (up bool, msg, version string) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.runtimeTimeout)
	defer cancel()
	v, err := a.rt.Version(ctx)
	if err != nil {
		a.runtimeUp.Store(false)
		return false, "container runtime is down: " + err.Error(), ""
	}
	a.runtimeName.Store(v.Name)
	a.runtimeUp.Store(true)
	return true, "", v.Name + "://" + v.Version
}

// learnRuntimeName asks the runtime its name, for container IDs, when a
// pod is synced before the heartbeat learnt it: else the pod's status
// would name no runtime until it is written again. A failure leaves it to
// the heartbeat.
func (a *Agent) learnRuntimeName(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.runtimeTimeout)
	defer cancel()
	if v, err := a.rt.Version(ctx); err == nil {
		a.runtimeName.Store(v.Name)
	}
}

// hostIP is the node's InternalIP, when its registration gave one, as
// last read by refreshNode.
func (a *Agent) hostIP() string {
	v, _ := a.hostIPCache.Load().(string)
	return v
}

// refreshNode reads what the agent keeps of its node: its InternalIP and
// its kubernetes.io/os label.
func (a *Agent) refreshNode(ctx context.Context) {
	ip, osName := "", ""
	_ = a.store.View(ctx, func(tx store.ReadTx) error {
		o, err := tx.Get("Node", objects.Key{Name: a.node})
		if err != nil {
			return err
		}
		n := o.(*objects.Node)
		for _, ad := range n.Status.Addresses {
			if ad.Type == objects.NodeInternalIP {
				ip = ad.Address
				break
			}
		}
		osName = n.Labels[objects.LabelOS]
		return nil
	})
	a.hostIPCache.Store(ip)
	a.nodeOSCache.Store(osName)
}

// nodeOp updates the node's Ready condition and runtime version when they
// changed (a registration may have replaced them) or the condition's
// heartbeat is older than the node status interval, and gives a node
// registered without an ephemeral-storage capacity its disk's, as the
// kubelet reports its own file system's size (allocatable too, when
// allocatable names none). A node that is not registered is left alone.
func (a *Agent) nodeOp(now time.Time, up bool, msg, version string) writeOp {
	return func(tx store.Tx) error {
		o, err := tx.Get("Node", objects.Key{Name: a.node})
		if err != nil {
			return err
		}
		n := o.(*objects.Node)
		want := objects.ConditionFalse
		if up {
			want = objects.ConditionTrue
		}
		_, hasDisk := n.Status.Capacity[objects.ResourceEphemeralStorage]
		disk := int64(0)
		if !hasDisk {
			disk = a.nodefsBytes()
		}
		if old := objects.GetNodeCondition(&n.Status, objects.NodeReady); old != nil && old.Status == want && disk == 0 &&
			(version == "" || n.Status.NodeInfo.ContainerRuntimeVersion == version) &&
			n.Status.NodeInfo.KubeletVersion == AgentVersion && now.Sub(old.LastHeartbeatTime.Time) < a.cfg.nodeInterval {
			return nil
		}
		c := objects.NodeCondition{Type: objects.NodeReady, Status: objects.ConditionTrue,
			Reason: "KubeletReady", Message: "podkit node agent is posting ready status",
			LastHeartbeatTime: objects.NewTime(now), LastTransitionTime: objects.NewTime(now)}
		if !up {
			c.Status, c.Reason, c.Message = objects.ConditionFalse, "KubeletNotReady", msg
		}
		if old := objects.GetNodeCondition(&n.Status, objects.NodeReady); old != nil {
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			*old = c
		} else {
			n.Status.Conditions = append(n.Status.Conditions, c)
		}
		if version != "" {
			n.Status.NodeInfo.ContainerRuntimeVersion = version
		}
		n.Status.NodeInfo.KubeletVersion = AgentVersion
		if disk > 0 {
			q := objects.NewQuantity(disk, objects.BinarySI)
			if n.Status.Capacity == nil {
				n.Status.Capacity = objects.ResourceList{}
			}
			n.Status.Capacity[objects.ResourceEphemeralStorage] = q
			if _, ok := n.Status.Allocatable[objects.ResourceEphemeralStorage]; !ok && n.Status.Allocatable != nil {
				n.Status.Allocatable[objects.ResourceEphemeralStorage] = q
			}
		}
		n.ResourceVersion = ""
		return tx.UpdateStatus(n)
	}
}

// leaseOp renews the node's Lease in kube-node-lease, creating it (owned by
// the Node, so that it goes with it) when missing.
func (a *Agent) leaseOp(now time.Time) writeOp {
	return func(tx store.Tx) error {
		renew := objects.NewMicroTime(now)
		dur := int32(a.cfg.leaseDuration / time.Second)
		holder := a.node
		key := objects.Key{Namespace: objects.NamespaceNodeLease, Name: a.node}
		o, err := tx.Get("Lease", key)
		if errors.Is(err, store.ErrNotFound) {
			l := &objects.Lease{ObjectMeta: objects.ObjectMeta{Name: a.node, Namespace: objects.NamespaceNodeLease}}
			l.Spec = objects.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &renew, AcquireTime: &renew}
			if no, err := tx.Get("Node", objects.Key{Name: a.node}); err == nil {
				l.OwnerReferences = []objects.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: a.node, UID: no.GetObjectMeta().UID}}
			}
			return tx.Create(l)
		}
		if err != nil {
			return err
		}
		l := o.(*objects.Lease)
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &dur, &renew
		l.ResourceVersion = ""
		return tx.Update(l)
	}
}

// relistLoop lists the runtime every relist interval (and when kicked) to
// notice changes it did not report, adopt nothing twice, remove what
// belongs to no pod, and resyncs each pod not synced for its resync
// interval (see resyncDue).
func (a *Agent) relistLoop(ctx context.Context) {
	t := a.clock.NewTicker(a.cfg.relist)
	defer t.Stop()
	// The checks of local storage start with the first pod that limits
	// it: nodes without one have no timer more.
	var evict clockwork.Ticker
	var evictC <-chan time.Time
	defer func() {
		if evict != nil {
			evict.Stop()
		}
	}()
	for {
		if evict == nil && a.limited.Load() {
			evict = a.clock.NewTicker(a.cfg.evictInterval)
			evictC = evict.Chan()
		}
		select {
		case <-ctx.Done():
			return
		case <-evictC:
			a.checkLocalStorage(ctx)
			continue
		case <-t.Chan():
		case <-a.relistKick:
		}
		a.relist(ctx)
		now := a.clock.Now().UnixNano()
		for _, w := range a.workers() {
			if a.resyncDue(w, now) {
				a.enqueue(w)
			}
		}
	}
}

// resyncJitter is the most a pod's resync interval is lengthened by, as a
// fraction of it: the kubelet's pod workers resync after the interval
// jittered by half of it, so that pods synced together (a node's pods at
// its start, every node's at the process's) do not all resync together.
const resyncJitter = 0.5

// resyncDue reports whether w was last synced a resync interval ago,
// lengthened by a fraction of resyncJitter of its own: from a hash of the
// pod's UID and of when it was synced, so it differs from pod to pod and
// from one sync to the next.
func (a *Agent) resyncDue(w *podWorker, now int64) bool {
	w.mu.Lock()
	synced := w.synced
	w.mu.Unlock()
	if synced == 0 || now-synced < int64(a.cfg.resync) {
		return false // its first sync has not started (it is queued), or lately
	}
	var h maphash.Hash
	h.SetSeed(a.seed)
	h.WriteString(w.uid)
	maphash.WriteComparable(&h, synced)
	frac := float64(h.Sum64()>>11) / (1 << 53)
	interval := float64(a.cfg.resync) * (1 + resyncJitter*frac)
	return float64(now-synced) >= interval
}

func (a *Agent) relist(ctx context.Context) {
	a.mu.Lock()
	synced := a.synced
	a.mu.Unlock()
	if !synced {
		return
	}
	sel := runtime.Filter{Labels: a.nodeSel}
	cs, err := a.rt.ListContainers(ctx, sel)
	if err != nil {
		return
	}
	sbs, err := a.rt.ListSandboxes(ctx, sel)
	if err != nil {
		return
	}
	// The fingerprint of the sandboxes and containers of each pod that has
	// some (see runtimePrint).
	prints := make(map[string]uint64, len(sbs))
	for _, sb := range sbs {
		prints[sb.Labels[runtime.LabelPodUID]] += a.stateHash(sb.ID, string(sb.State))
	}
	for _, c := range cs {
		prints[c.Labels[runtime.LabelPodUID]] += a.stateHash(c.ID, string(c.State))
	}
	has := func(uid string) bool {
		_, ok := prints[uid]
		return ok
	}
	var changed []*podWorker
	var orphans []string
	a.mu.Lock()
	a.knownMu.Lock()
	for uid, fp := range prints {
		w := a.pods.get(uid)
		if w == nil {
			orphans = append(orphans, uid)
		} else if w.st.seen != fp {
			w.st.seen = fp
			changed = append(changed, w)
		}
	}
	a.knownMu.Unlock()
	a.mu.Unlock()
	for _, w := range changed {
		// A pod being synced looks at the runtime again as its sync ends,
		// and what changes afterwards comes as a runtime event: a relist,
		// the backstop for lost events, need not sync it once more for
		// what its own sync is doing.
		w.mu.Lock()
		busy := w.active
		w.mu.Unlock()
		if !busy {
			a.enqueue(w)
		}
	}
	for _, uid := range orphans {
		a.log.Info("removing what the runtime runs for a pod not bound to this node", "uid", uid)
		a.adoptOrphan(uid)
	}
	if dirs, err := a.volumes.Pods(); err == nil {
		var gone []string
		for _, uid := range dirs {
			if a.worker(uid) == nil && !has(uid) {
				gone = append(gone, uid)
			}
		}
		a.teardownVolumes(gone...)
	}
}

// teardownVolumes removes the volumes of the pods of uids, which run no
// more.
func (a *Agent) teardownVolumes(uids ...string) {
	for _, uid := range uids {
		if err := a.volumes.Teardown(uid); err != nil {
			a.log.Warn("removing the volumes of a pod that runs no more", "uid", uid, "err", err)
		}
	}
	a.cfg.tokens.forgetPods(uids)
}

// runtimeEvents follows the runtime's events and syncs the pod of each; a
// gap in the stream is covered by a relist.
func (a *Agent) runtimeEvents(ctx context.Context) {
	ew := a.rt.(runtime.EventWatcher)
	for {
		ch, err := ew.WatchEvents(ctx)
		if err == nil {
			a.kickRelist()
			for ev := range ch {
				switch {
				case a.self.own(ev):
				case ev.PodUID != "":
					a.enqueueUID(ev.PodUID)
				default:
					a.kickRelist()
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		if !sleepCtx(ctx, storeRetry) {
			return
		}
	}
}

// nodefsBytes returns the size of the file system holding the agent's
// volumes (the kubelet's nodefs), measured once; 0 when it cannot tell.
func (a *Agent) nodefsBytes() int64 {
	a.nodefsOnce.Do(func() {
		dir := a.volumes.Root()
		if dir == "" {
			dir = os.TempDir() // where the agent's own directory will be
		}
		a.nodefs = fsSize(dir)
	})
	return a.nodefs
}
