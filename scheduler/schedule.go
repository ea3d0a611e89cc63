package scheduler

import "time"

// scheduleBatch places up to a batch of the pods of the highest-ranked
// group. Pods that fit are assumed in the snapshot at once, so the next
// pod sees them, and their bindings go to the writer. When one pod fits
// nowhere, the rest of the batch fits nowhere either (nothing changed in
// between), and they share its diagnosis, but for what is a pod's own: a
// pod nominated to a node gives up the room held for it there and tries
// that node first, and may not preempt while its victims leave.
func (l *loop) scheduleBatch(now time.Time) {
	g, batch := l.q.pop(l.cfg.batch)
	if g == nil {
		return
	}
	l.hideNominations(g.pod.priority)
	defer l.restoreNominations()
	l.algo.prepare(g)
	ops := make([]*writeOp, 0, len(batch))
	var d *diagnosis
	var msg string
	for _, qp := range batch {
		if d != nil && (qp.nominated != "" || d.postFilter == msgTerminatingOnNominated) {
			d = nil // what failed the last pod was its own, or may not fail this one
		}
		if d == nil {
			if node := l.placeOne(g, qp); node != nil {
				ops = append(ops, l.assume(g, qp, node))
				continue
			}
			var node *NodeInfo
			if d, node = l.algo.diagnose(g); node != nil {
				d = nil
				ops = append(ops, l.assume(g, qp, node))
				continue
			}
			if l.fw.preemption && d.numNodes > 0 {
				pre, why := l.algo.preempt(g, qp.nominated, d)
				if pre != nil {
					ops = append(ops, l.nominate(g, qp, pre, d, now))
					d = nil // the reservation changed the snapshot: look again
					continue
				}
				d.postFilter = why
			}
			msg = d.message()
		}
		ops = append(ops, l.fail(g, qp, d, msg, now))
	}
	l.writer.push(ops...)
}

// hiddenReservation is a reservation taken off the snapshot for a batch.
type hiddenReservation struct {
	pod     *PodInfo
	node    *NodeInfo
	cleared bool // a preemption on its node cleared its nomination
}

// hideNominations takes off the snapshot, for one batch, the reservations
// of nominated pods of lower priority than the batch's: Kubernetes counts
// only nominated pods of equal or higher priority when it filters.
func (l *loop) hideNominations(priority int32) {
	for _, r := range l.snap.reservations {
		if r.priority < priority {
			l.hidden = append(l.hidden, hiddenReservation{pod: r, node: r.node})
		}
	}
	for _, h := range l.hidden {
		l.snap.detach(h.pod)
	}
}

// restoreNominations puts back what hideNominations took off, but for the
// reservations whose nominations were cleared.
func (l *loop) restoreNominations() {
	for _, h := range l.hidden {
		l.snap.attach(h.pod, h.node)
		if h.cleared {
			l.dropReservation(h.pod)
		}
	}
	clear(l.hidden)
	l.hidden = l.hidden[:0]
}

// placeOne picks the node for one pod: its nominated node if it fits
// there now, else the best node. The nomination is the pod's own, not its
// group's: the group was made from the store's status, which may not show
// the latest yet.
func (l *loop) placeOne(g *group, qp *qpod) *NodeInfo {
	if r := l.snap.pods[qp.key]; r != nil && r.reserved && r.uid == qp.uid {
		l.snap.removePod(r) // the pod must not compete with its own reservation
	}
	if nn := qp.nominated; nn != "" && g.preErr == nil {
		if node := l.snap.Node(nn); node != nil {
			l.algo.refresh(g)
			if l.algo.filterAll(g, node) == nil {
				return node
			}
		}
	}
	return l.algo.place(g)
}

// podInfoFor makes the snapshot entry of one pod of g.
func (l *loop) podInfoFor(g *group, qp *qpod) *PodInfo {
	src := g.pod
	pi := *src
	pi.pod = nil
	pi.name = qp.key.Name
	pi.uid = qp.uid
	pi.labels = l.snap.labels.intern(src.labels)
	pi.startTime = l.clock.Now().Unix()
	pi.node, pi.index, pi.assumed, pi.reserved = nil, 0, false, false
	return &pi
}

// assume places qp on node in the snapshot and returns its binding.
func (l *loop) assume(g *group, qp *qpod, node *NodeInfo) *writeOp {
	if qp.nominated != "" && qp.nominated != node.name {
		l.wantFlush(^uint64(0)) // the room held for it on its nominated node
	}
	pi := l.podInfoFor(g, qp)
	pi.assumed = true
	pi.schedulerManaged = true
	l.snap.addPod(pi, node.name)
	qp.state = qInFlight
	qp.node = node.name
	op := &writeOp{kind: opBind, qp: qp, key: qp.key, uid: qp.uid, node: node.name, pod: qp.pod}
	if l.volumeIdx >= 0 && l.volumeIdx < len(g.states) {
		if st, ok := g.states[l.volumeIdx].state.(*volumeState); ok {
			for _, dc := range st.delayed {
				op.claims = append(op.claims, dc.claim.Name)
			}
		}
	}
	return op
}

// fail parks qp until a change that could help, or holds it for its
// backoff if a plugin failed, and writes why it fits nowhere.
func (l *loop) fail(g *group, qp *qpod, d *diagnosis, msg string, now time.Time) *writeOp {
	qp.attempts++
	qp.failed = d.plugins
	if d.errored {
		l.q.wait(qp, now)
	} else {
		l.q.park(qp, now)
	}
	nominate := ""
	if d.postFilter == msgTerminatingOnNominated && qp.nominated != "" {
		// Its victims are still stopping: keep the node for it.
		nominate = qp.nominated
		l.reserve(g, qp, nominate)
	} else if qp.nominated != "" {
		l.wantFlush(^uint64(0)) // the room held for it
	}
	qp.nominated = nominate
	qp.nominating++
	qp.message = msg
	return &writeOp{kind: opUnschedulable, qp: qp, key: qp.key, uid: qp.uid, message: msg, event: true, nominate: nominate}
}

// reserve holds room on node for a nominated pod.
func (l *loop) reserve(g *group, qp *qpod, node string) {
	if l.snap.Node(node) == nil {
		return
	}
	if r := l.snap.pods[qp.key]; r != nil {
		if !r.reserved {
			return
		}
		l.snap.removePod(r)
	}
	pi := l.podInfoFor(g, qp)
	pi.reserved = true
	l.snap.addPod(pi, node)
}

// nominate acts on a preemption: room is reserved on the node for the
// preemptor, which waits for its victims to stop, and, as Kubernetes does,
// the pods of lower priority nominated on that node lose their
// nominations, so that they hold no room there.
func (l *loop) nominate(g *group, qp *qpod, pre *preemption, d *diagnosis, now time.Time) *writeOp {
	if qp.nominated != "" && qp.nominated != pre.node.name {
		l.wantFlush(^uint64(0)) // the room held for it before
	}
	qp.nominated = pre.node.name
	qp.nominating++
	l.reserve(g, qp, pre.node.name)
	qp.attempts++
	qp.failed = d.plugins
	l.q.park(qp, now)
	msg := d.message()
	qp.message = msg
	op := &writeOp{kind: opPreempt, qp: qp, key: qp.key, uid: qp.uid, node: pre.node.name, message: msg, event: true, nominate: pre.node.name}
	for _, v := range pre.victims {
		// Leaving from now on, for the preemptor (see preempt and
		// loop.awaitingVictims), until the store shows it or the write
		// fails.
		v.evicting = true
		op.victims = append(op.victims, victim{key: objectsKey(v), uid: v.uid, grace: v.gracePeriod})
	}
	qp.victims = op.victims // read only, by the writer too
	for i := range l.hidden {
		h := &l.hidden[i]
		if h.node != pre.node || h.cleared {
			continue
		}
		h.cleared = true
		if o := l.pods[objectsKey(h.pod)]; o != nil && o.uid == h.pod.uid {
			o.nominated = ""
			o.nominating++
		}
		op.cleared = append(op.cleared, victim{key: objectsKey(h.pod), uid: h.pod.uid})
	}
	l.log.Info("preempting", "pod", qp.key, "node", pre.node.name, "victims", len(pre.victims), "pdbViolations", pre.violations)
	return op
}
