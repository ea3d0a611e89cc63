package scheduler

import "time"

// scheduleBatch places up to a batch of the pods of the highest-ranked
// group. Pods that fit are assumed in the snapshot at once, so the next
// pod sees them, and their bindings go to the writer. When one pod fits
// nowhere, the rest of the batch fits nowhere either (nothing changed in
// between), and they share its diagnosis.
func (l *loop) scheduleBatch(now time.Time) {
	g, batch := l.q.pop(l.cfg.batch)
	if g == nil {
		return
	}
	l.algo.prepare(g)
	ops := make([]*writeOp, 0, len(batch))
	var d *diagnosis
	var msg string
	for _, qp := range batch {
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
				pre, why := l.algo.preempt(g, d)
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

// placeOne picks the node for one pod: its nominated node if it fits
// there now, else the best node.
func (l *loop) placeOne(g *group, qp *qpod) *NodeInfo {
	if r := l.snap.pods[qp.key]; r != nil && r.reserved && r.uid == qp.uid {
		l.snap.removePod(r) // the pod must not compete with its own reservation
	}
	if nn := g.pod.nominatedNode; nn != "" && g.preErr == nil {
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

// fail parks qp with its backoff and writes why it fits nowhere.
func (l *loop) fail(g *group, qp *qpod, d *diagnosis, msg string, now time.Time) *writeOp {
	qp.attempts++
	qp.failed = d.plugins
	l.q.wait(qp, now)
	nominate := ""
	if d.postFilter == msgTerminatingOnNominated && qp.nominated != "" {
		// Its victims are still stopping: keep the node for it.
		nominate = qp.nominated
		l.reserve(g, qp, nominate)
	}
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
// preemptor, which waits for its victims to stop.
func (l *loop) nominate(g *group, qp *qpod, pre *preemption, d *diagnosis, now time.Time) *writeOp {
	for _, r := range pre.displaced {
		l.snap.removePod(r)
	}
	qp.nominated = pre.node.name
	l.reserve(g, qp, pre.node.name)
	qp.attempts++
	qp.failed = 0
	l.q.wait(qp, now)
	msg := d.message()
	qp.message = msg
	op := &writeOp{kind: opPreempt, qp: qp, key: qp.key, uid: qp.uid, node: pre.node.name, message: msg, event: true, nominate: pre.node.name}
	for _, v := range pre.victims {
		op.victims = append(op.victims, victim{key: objectsKey(v), uid: v.uid, grace: v.gracePeriod})
	}
	l.log.Info("preempting", "pod", qp.key, "node", pre.node.name, "victims", len(pre.victims))
	return op
}
