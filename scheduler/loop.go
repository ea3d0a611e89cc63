package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

const (
	// flushInterval is the least time between two retries of the waiting
	// pods caused by changes that could help them: a stream of changes
	// cannot turn into a busy loop.
	flushInterval = 50 * time.Millisecond
	// watchBuffer is the queue of the store watch; a goroutine empties it
	// into an unbounded list, so it only needs to absorb bursts.
	watchBuffer = 1 << 14
)

// The kinds the scheduler watches, listed in this order: what pods refer
// to (priority classes, namespaces, volumes) before the pods, and the
// disruption budgets preemption reads.
var watchedKinds = []string{"Namespace", "PriorityClass", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"PodDisruptionBudget", "Node", "Pod"}

// loop is one Run of a scheduler: the snapshot, the queue, and the
// goroutines feeding them. Everything but the feed and the writer is
// touched by the loop's goroutine only.
type loop struct {
	s     *Scheduler
	cfg   *config
	fw    *framework
	log   *slog.Logger
	clock clockwork.Clock

	snap   *Snapshot
	algo   *algorithm
	q      *queue
	pods   map[objects.Key]*qpod
	groups map[uint64]*group

	writer *writer
	sink   *eventSink
	feed   *feed

	flushMask uint64
	cluster   uint64 // the plugins whose verdict a new pod elsewhere may change
	lastFlush time.Time
	hidden    []hiddenReservation // for the batch being placed
	timer     clockwork.Timer
	timerAt   time.Time

	volumeIdx int   // index of the VolumeBinding plugin, -1 without
	listed    int64 // revision of the last list
}

func newLoop(s *Scheduler) *loop {
	l := &loop{
		s: s, cfg: &s.cfg, fw: s.fw, log: s.cfg.log, clock: s.cfg.clock,
		q:         newQueue(s.cfg.initialBackoff, s.cfg.maxBackoff),
		pods:      map[objects.Key]*qpod{},
		groups:    map[uint64]*group{},
		volumeIdx: -1,
	}
	l.sink = newEventSink(s.cfg.recorder, s.cfg.log)
	l.writer = newWriter(s.store, s.cfg.clock, s.cfg.log, l.sink, s.cfg.name)
	for i, p := range s.fw.plugins {
		if _, ok := p.(volumeBinding); ok {
			l.volumeIdx = i
		}
		if s.fw.locality[i] == LocalityCluster {
			l.cluster |= 1 << min(i, 63)
		}
	}
	l.reset()
	return l
}

// reset starts from an empty snapshot and queue.
func (l *loop) reset() {
	l.snap = newSnapshot()
	seed := l.s.cfg.seed
	if seed == 0 {
		seed = uint64(l.clock.Now().UnixNano())
	}
	l.algo = newAlgorithm(l.fw, l.snap, seed)
	l.q = newQueue(l.cfg.initialBackoff, l.cfg.maxBackoff)
	l.pods = map[objects.Key]*qpod{}
	l.groups = map[uint64]*group{}
}

func (l *loop) run(ctx context.Context, wg *sync.WaitGroup) error {
	defer func() {
		if l.timer != nil {
			l.timer.Stop()
		}
	}()
	for {
		err := l.watch(ctx, wg)
		switch {
		case err == nil, ctx.Err() != nil:
			return nil
		case errors.Is(err, store.ErrFellBehind), errors.Is(err, store.ErrRevisionTooOld):
			l.log.Warn("scheduler watch lost events; listing again", "err", err)
			continue
		default:
			return err
		}
	}
}

// watch follows changes, lists what placement depends on, then places
// pods until ctx ends or the watch fails. It watches before it lists and
// drops the events the list already holds: a store at revision 0 cannot
// be watched from the revision of a list (0 means "from now").
func (l *loop) watch(ctx context.Context, wg *sync.WaitGroup) error {
	w, err := l.s.store.Watch(ctx, store.WatchOptions{Buffer: l.s.watchBuffer})
	if err != nil {
		return err
	}
	defer w.Stop()
	l.feed = newFeed()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if l.s.beforeFollow != nil {
			l.s.beforeFollow()
		}
		l.feed.follow(w)
	}()
	rev, err := l.list(ctx)
	if err != nil {
		return err
	}
	l.listed = rev
	for {
		if err := l.drain(); err != nil {
			return err
		}
		l.collect()
		now := l.clock.Now()
		l.q.expire(now)
		l.maybeFlush(now)
		if ctx.Err() != nil {
			return nil
		}
		if !l.q.empty() {
			l.scheduleBatch(now)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.feed.wake:
		case <-l.writer.done:
		case <-l.timerChan(now):
		}
	}
}

// list loads the snapshot and the queue from one store revision, keeping
// the bindings being written and what underWay keeps.
func (l *loop) list(ctx context.Context) (int64, error) {
	inflight := l.inFlight()
	kept := l.underWay()
	l.reset()
	var rev int64
	err := l.s.store.View(ctx, func(tx store.ReadTx) error {
		rev = tx.Revision()
		// The store's own objects when it can hand them out: the loop
		// reads them and keeps them read-only, as it does those of watch
		// events, and a binding then shares their unchanged parts.
		for _, kind := range watchedKinds {
			objs, err := store.PeekList(tx, kind, store.ListOptions{})
			if errors.Is(err, store.ErrUnknownKind) {
				continue
			}
			if err != nil {
				return err
			}
			for _, o := range objs {
				l.apply(store.Added, o)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range inflight {
		l.readopt(r)
	}
	l.resume(kept)
	return rev, nil
}

// inFlight returns the placements whose bindings are still being written,
// to keep them across a relist.
func (l *loop) inFlight() []*qpod {
	var out []*qpod
	for _, qp := range l.pods {
		if qp.state == qInFlight {
			if p := l.snap.pods[qp.key]; p != nil && p.assumed && p.uid == qp.uid {
				out = append(out, qp)
			}
		}
	}
	return out
}

// readopt keeps an in-flight placement after a relist.
func (l *loop) readopt(qp *qpod) {
	if old := l.pods[qp.key]; old != nil {
		if old.uid != qp.uid {
			return
		}
		l.dequeue(old)
	}
	g := l.groupFor(qp.group.pod.pod)
	qp.group = g
	g.members++
	l.pods[qp.key] = qp
	if p := l.snap.pods[qp.key]; p == nil {
		pi := l.podInfoFor(g, qp)
		pi.assumed, pi.schedulerManaged = true, true
		l.snap.addPod(pi, qp.node)
	}
}

// drain applies the watch events received so far.
func (l *loop) drain() error {
	evs, err := l.feed.take()
	for i := range evs {
		if evs[i].Revision <= l.listed {
			continue // the list had it
		}
		l.apply(evs[i].Type, evs[i].Peek())
	}
	l.feed.giveBack(evs)
	return err
}

// apply takes in one change. obj is the store's own object or a listed
// copy: the loop may keep it, and never modifies it.
func (l *loop) apply(typ store.EventType, obj objects.Object) {
	switch o := obj.(type) {
	case *objects.Pod:
		l.onPod(typ, o)
	case *objects.Node:
		if typ == store.Deleted {
			l.snap.deleteNode(o.Name)
			l.wantFlush(l.clusterMask()) // a spread domain may be gone
			return
		}
		if l.snap.setNode(o.DeepCopy()) {
			l.wantFlush(^uint64(0))
		}
	case *objects.PersistentVolume:
		if typ == store.Deleted {
			delete(l.snap.pvs, o.Name)
		} else {
			l.snap.pvs[o.Name] = o.DeepCopy()
		}
		l.volumesChanged()
	case *objects.PersistentVolumeClaim:
		key := objects.Key{Namespace: o.Namespace, Name: o.Name}
		if typ == store.Deleted {
			delete(l.snap.pvcs, key)
		} else {
			l.snap.pvcs[key] = o.DeepCopy()
		}
		l.volumesChanged()
	case *objects.StorageClass:
		if typ == store.Deleted {
			delete(l.snap.storageClasses, o.Name)
		} else {
			l.snap.storageClasses[o.Name] = o.DeepCopy()
		}
		l.volumesChanged()
	case *objects.PriorityClass:
		if typ == store.Deleted {
			delete(l.snap.priorityClasses, o.Name)
		} else {
			l.snap.priorityClasses[o.Name] = o.DeepCopy()
		}
	case *objects.PodDisruptionBudget:
		// Nothing to retry: a budget only ranks where preemption evicts.
		if typ == store.Deleted {
			l.snap.deleteBudget(o)
		} else {
			l.snap.setBudget(o)
		}
	case *objects.Namespace:
		if typ == store.Deleted {
			l.snap.deleteNamespace(o.Name)
		} else {
			l.snap.setNamespace(o)
		}
		l.wantFlush(l.clusterMask())
	}
}

func (l *loop) volumesChanged() {
	l.snap.staticEpoch++
	l.snap.releaseEpoch++
	l.wantFlush(^uint64(0))
}

// clusterMask is the plugins whose verdict a new pod elsewhere may change.
func (l *loop) clusterMask() uint64 { return l.cluster }

// responsible reports whether pod is one this scheduler places: one of
// its own, not leaving, and with no scheduling gate left (the gated are
// not queued at all, as Kubernetes' SchedulingGates PreEnqueue plugin
// keeps them out).
func (l *loop) responsible(p *objects.Pod) bool {
	name := p.Spec.SchedulerName
	if name == "" {
		name = objects.DefaultSchedulerName
	}
	return name == l.cfg.name && p.DeletionTimestamp == nil && !p.IsTerminal() && !p.IsSchedulingGated()
}

func (l *loop) onPod(typ store.EventType, p *objects.Pod) {
	key := objects.Key{Namespace: p.Namespace, Name: p.Name}
	existing := l.snap.pods[key]
	if typ == store.Deleted || (p.Spec.NodeName != "" && p.IsTerminal()) {
		if qp := l.pods[key]; qp != nil && qp.uid == p.UID && qp.state != qInFlight {
			l.dequeue(qp)
		}
		if existing != nil && existing.uid == p.UID {
			l.snap.removePod(existing)
			l.wantFlush(^uint64(0))
		}
		return
	}
	if p.Spec.NodeName != "" {
		if qp := l.pods[key]; qp != nil && qp.uid == p.UID && qp.state != qInFlight {
			l.dequeue(qp) // bound by someone else
		}
		l.onAssigned(p, existing)
		return
	}
	if existing != nil && existing.uid == p.UID && existing.assumed {
		return // our binding is being written; this is an earlier change
	}
	if !l.responsible(p) {
		if qp := l.pods[key]; qp != nil && qp.state != qInFlight {
			l.dequeue(qp)
		}
		if existing != nil && existing.reserved {
			l.dropReservation(existing)
		}
		return
	}
	l.enqueue(p, existing)
}

// onAssigned records a pod bound to a node.
func (l *loop) onAssigned(p *objects.Pod, existing *PodInfo) {
	if existing != nil {
		if existing.uid == p.UID && !existing.reserved && existing.node != nil && existing.node.name == p.Spec.NodeName {
			if existing.assumed {
				// Our binding, seen: setting spec.nodeName moved the
				// generation on, nothing else. Like a pod bound by
				// another, it may be what a pod's affinity waits for.
				existing.assumed = false
				existing.generation = p.Generation
				l.wantFlush(l.clusterMask())
			}
			if unchangedPod(existing, p) {
				return
			}
		}
		l.snap.removePod(existing)
	}
	pi, err := l.snap.newPodInfo(p, false)
	if err != nil {
		l.log.Warn("pod affinity of a placed pod ignored", "pod", p.Key(), "err", err)
	}
	if existing != nil && existing.uid == p.UID && existing.evicting && !pi.terminating {
		pi.evicting = true // an earlier change: its eviction is still being written
	}
	l.snap.addPod(pi, p.Spec.NodeName)
	if existing == nil || existing.uid != p.UID {
		l.wantFlush(l.clusterMask())
	} else {
		l.wantFlush(^uint64(0)) // labels or requests changed
	}
}

// unchangedPod reports whether a placed pod changed in what placement
// reads.
func unchangedPod(pi *PodInfo, p *objects.Pod) bool {
	return pi.terminating == (p.DeletionTimestamp != nil) && pi.generation == p.Generation && maps.Equal(pi.labels, p.Labels) &&
		!pi.resizing
}

// enqueue adds or updates a pending pod.
func (l *loop) enqueue(p *objects.Pod, existing *PodInfo) {
	key := objects.Key{Namespace: p.Namespace, Name: p.Name}
	qp := l.pods[key]
	if qp != nil && qp.uid != p.UID {
		if qp.state == qInFlight {
			return // the binding will find it replaced
		}
		l.dequeue(qp)
		qp = nil
	}
	if qp != nil && qp.state == qInFlight {
		return
	}
	if qp == nil || !qp.ownsNomination(p) {
		l.syncReservation(p, existing)
		if qp != nil {
			qp.nominated = p.Status.NominatedNodeName
		}
	}
	if qp != nil {
		old := qp.pod
		qp.pod = p
		if c := objects.GetPodCondition(&p.Status, objects.PodScheduled); c != nil {
			qp.message = c.Message
		}
		if _, groupKey := l.keys(p); groupKey == qp.group.key {
			return
		}
		// Placement-relevant fields changed: move to the pod's new group.
		waiting := qp.state == qWaiting
		if !waiting {
			l.q.remove(qp)
		}
		l.release(qp.group)
		qp.group = l.groupFor(p)
		qp.group.members++
		switch {
		case !waiting:
			l.q.activate(qp)
		case old.Generation != p.Generation || !maps.Equal(old.Labels, p.Labels) || !maps.Equal(old.Annotations, p.Annotations):
			// Edited: tried again, but not before the backoff of its last
			// attempt ends, as Kubernetes requeues an edited pod. A change
			// of status (its nomination) leaves it waiting.
			l.q.backOff(qp, l.clock.Now())
		}
		return
	}
	g := l.groupFor(p)
	g.members++
	qp = &qpod{key: key, uid: p.UID, group: g, waitIndex: -1, nominated: p.Status.NominatedNodeName, pod: p}
	if c := objects.GetPodCondition(&p.Status, objects.PodScheduled); c != nil {
		qp.message = c.Message
	}
	l.pods[key] = qp
	l.q.activate(qp)
}

// syncReservation keeps the reservation of a nominated pod on the node
// the store shows.
func (l *loop) syncReservation(p *objects.Pod, existing *PodInfo) {
	l.holdRoom(p, existing, p.Status.NominatedNodeName)
}

// holdRoom makes the room held for pod p be on node nn, or nowhere when
// nn is "". existing is what the snapshot holds under p's name.
func (l *loop) holdRoom(p *objects.Pod, existing *PodInfo, nn string) {
	if existing != nil && existing.reserved {
		if existing.uid == p.UID && existing.node != nil && existing.node.name == nn {
			return
		}
		l.dropReservation(existing)
	}
	if nn == "" || l.snap.Node(nn) == nil {
		return
	}
	pi, _ := l.snap.newPodInfo(p, false)
	pi.reserved = true
	l.snap.addPod(pi, nn)
}

// dropReservation removes a nominated pod's reservation: the room it held
// may be what a waiting pod needs.
func (l *loop) dropReservation(r *PodInfo) {
	l.snap.removePod(r)
	l.wantFlush(^uint64(0))
}

// keys returns a pod's class and group keys.
func (l *loop) keys(p *objects.Pod) (uint64, uint64) {
	var pi PodInfo
	pi.pod, pi.namespace, pi.name, pi.uid, pi.labels = p, p.Namespace, p.Name, p.UID, p.Labels
	pi.priority, pi.preemptNever = l.snap.priorityOf(&p.Spec)
	ck := l.algo.sign.classKey(p, &pi, l.fw)
	gk := l.algo.sign.groupKey(p, &pi, ck, l.fw)
	if l.fw.perGroupClasses {
		ck = gk
	}
	return ck, gk
}

// groupFor returns the group of pod p, making it if needed with p itself,
// which nothing modifies.
func (l *loop) groupFor(p *objects.Pod) *group {
	ck, gk := l.keys(p)
	if g := l.groups[gk]; g != nil {
		return g
	}
	pi, err := l.snap.newPodInfo(p, true)
	g := &group{key: gk, classKey: ck, pod: pi, heapIndex: -1, preErrBy: -1}
	if err != nil {
		g.preErr = NewStatus(UnschedulableAndUnresolvable, err.Error())
	}
	l.groups[gk] = g
	return g
}

// release drops a member of g, and g with its last.
func (l *loop) release(g *group) {
	if g.members--; g.members > 0 {
		return
	}
	if l.groups[g.key] == g {
		delete(l.groups, g.key)
	}
	l.algo.forget(g)
	l.snap.labels.release(g.pod.labels)
}

// dequeue forgets a pending pod.
func (l *loop) dequeue(qp *qpod) {
	l.q.remove(qp)
	if l.pods[qp.key] == qp {
		delete(l.pods, qp.key)
	}
	l.release(qp.group)
}

// wantFlush asks for the waiting pods rejected by plugins in mask to be
// retried.
func (l *loop) wantFlush(mask uint64) { l.flushMask |= mask }

func (l *loop) maybeFlush(now time.Time) {
	if l.flushMask == 0 || now.Before(l.lastFlush.Add(flushInterval)) {
		return
	}
	mask := l.flushMask
	l.flushMask = 0
	l.lastFlush = now
	l.q.flush(now, func(qp *qpod) bool { return (qp.failed == 0 || qp.failed&mask != 0) && !l.awaitingVictims(qp) })
}

// awaitingVictims reports whether qp's last preemption is still under
// way: one of its victims, chosen but not yet seen leaving, may be all
// that keeps it from fitting. Kubernetes keeps such a pod out of the
// scheduling cycle (DefaultPreemption's PreEnqueue) until its preemption
// is done, so that a change elsewhere does not make it fail again, or
// preempt again, for want of the room it is freeing. Seeing its victims
// leave retries it.
func (l *loop) awaitingVictims(qp *qpod) bool {
	for _, v := range qp.victims {
		if p := l.snap.pods[v.key]; p != nil && p.uid == v.uid && p.evicting {
			return true
		}
	}
	qp.victims = nil
	return false
}

// timerChan returns a channel that fires at the next backoff end or
// throttled flush, or nil.
func (l *loop) timerChan(now time.Time) <-chan time.Time {
	at, ok := l.q.nextExpiry()
	if l.flushMask != 0 {
		f := l.lastFlush.Add(flushInterval)
		if !ok || f.Before(at) {
			at, ok = f, true
		}
	}
	if !ok {
		return nil
	}
	if l.timer != nil && at.Equal(l.timerAt) {
		return l.timer.Chan()
	}
	if l.timer != nil {
		l.timer.Stop()
	}
	l.timer = l.clock.NewTimer(max(at.Sub(now), 0))
	l.timerAt = at
	return l.timer.Chan()
}

// collect takes in what the writer did.
func (l *loop) collect() {
	res := l.writer.takeResults()
	if len(res) == 0 {
		return
	}
	for _, r := range res {
		qp := r.op.qp
		switch r.op.kind {
		case opBind:
			if l.pods[qp.key] == qp {
				delete(l.pods, qp.key)
			}
			if r.err != nil || r.gone {
				if p := l.snap.pods[qp.key]; p != nil && p.assumed && p.uid == qp.uid {
					l.snap.removePod(p)
					l.wantFlush(^uint64(0))
				}
			}
			if r.err != nil {
				l.log.Warn("binding failed; will retry", "pod", qp.key, "node", r.op.node, "err", r.err)
				if cur := l.pods[qp.key]; cur == nil {
					qp.attempts++
					l.pods[qp.key] = qp
					l.q.wait(qp, l.clock.Now())
					continue
				}
			}
			l.release(qp.group)
		default:
			if r.err != nil {
				l.log.Warn("writing pod status failed", "pod", qp.key, "err", r.err)
				if r.op.kind == opPreempt {
					l.preemptionFailed(r.op)
				}
			}
			l.nominationsWritten(r)
		}
	}
	if l.s.afterWrite != nil {
		l.s.afterWrite(res)
	}
}

// preemptionFailed takes back a preemption whose write failed: nothing
// was written, so its victims stay, and its preemptor may preempt again.
func (l *loop) preemptionFailed(op *writeOp) {
	for _, v := range op.victims {
		if p := l.snap.pods[v.key]; p != nil && p.uid == v.uid {
			p.evicting = false
		}
	}
	if qp := l.pods[op.key]; qp != nil && qp.uid == op.uid && qp.state == qWaiting && qp.parked {
		// No victim is leaving: no change would bring it back.
		l.q.backOff(qp, l.clock.Now())
	}
}

// feed carries watch events from the store's watcher to the loop, in an
// unbounded list so that a busy loop never makes the watcher fall behind.
type feed struct {
	mu    sync.Mutex
	evs   []store.Event
	spare []store.Event // the list the loop took last, emptied, for the next
	err   error
	end   bool
	wake  chan struct{}
}

func newFeed() *feed { return &feed{wake: make(chan struct{}, 1)} }

func (f *feed) follow(w store.Watcher) {
	for ev := range w.Events() {
		f.mu.Lock()
		f.evs = append(f.evs, ev)
		f.mu.Unlock()
		signal(f.wake)
	}
	f.mu.Lock()
	f.end = true
	f.err = w.Err()
	if f.err == nil {
		f.err = context.Canceled
	}
	f.mu.Unlock()
	signal(f.wake)
}

// giveBack returns the list take returned, once read, so that the next
// events fill it rather than a list growing anew: while pods start by the
// thousand the loop takes a few events at a time.
func (f *feed) giveBack(evs []store.Event) {
	if cap(evs) == 0 || cap(evs) > 1<<16 {
		return
	}
	clear(evs)
	f.mu.Lock()
	if f.spare == nil {
		f.spare = evs[:0]
	}
	f.mu.Unlock()
}

// take returns the events received, and the watch's error once it ended.
func (f *feed) take() ([]store.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := f.evs
	f.evs, f.spare = f.spare, nil
	if len(evs) > 0 || !f.end {
		return evs, nil
	}
	return nil, f.err
}
