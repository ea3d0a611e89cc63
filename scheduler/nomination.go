package scheduler

import (
	"math"
	"strconv"

	"github.com/podkit/podkit/objects"
)

// A nomination the scheduler decides (nominate, fail) takes effect at
// once, in qpod.nominated and the room reserved on the node, and reaches
// the store later, through the writer. Until the store shows it, the
// scheduler's own wins: an update event carrying an older view of the pod
// (written before the nomination, seen after it was decided) must neither
// take the room away nor bring back a nomination the scheduler cleared,
// as Kubernetes' nominator keeps its own nomination against an update
// that does not carry it. Views of the pod newer than the last write of
// its nomination are the store's word again (the write failed, or someone
// changed it since).

// ownsNomination reports whether the nomination the scheduler holds for
// qp is newer than what p, a view of the pod from the store, shows.
func (qp *qpod) ownsNomination(p *objects.Pod) bool {
	return qp.nominating > 0 || (qp.nominatedAt > 0 && revisionOf(p) <= qp.nominatedAt)
}

// revisionOf returns the revision of the store's commit that wrote p (its
// resourceVersion, see store.Tx), or the largest revision when p has none
// that parses: such a view is taken to be the latest.
func revisionOf(p *objects.Pod) int64 {
	rev, err := strconv.ParseInt(p.ResourceVersion, 10, 64)
	if err != nil {
		return math.MaxInt64
	}
	return rev
}

// nominationsWritten takes in the write of the nominations of op (the
// pod's own and those it cleared).
func (l *loop) nominationsWritten(r writeResult) {
	op := r.op
	ok := r.err == nil && !r.gone
	shown := int64(0)
	if ok {
		shown = op.shown
	}
	l.nominationWritten(op.key, op.uid, shown)
	for i, c := range op.cleared {
		shown := int64(0)
		if r.err == nil && i < len(op.clearedShown) {
			shown = op.clearedShown[i]
		}
		l.nominationWritten(c.key, c.uid, shown)
	}
}

// nominationWritten takes in one write of a nomination decided for the
// pod key with uid: shown is the revision from which the store shows it,
// 0 when it was not written. Once the pod has none being written, a view
// of it seen meanwhile that is newer than the write is the store's word.
func (l *loop) nominationWritten(key objects.Key, uid string, shown int64) {
	qp := l.pods[key]
	if qp == nil || qp.uid != uid {
		return
	}
	qp.nominating = max(qp.nominating-1, 0)
	qp.nominatedAt = max(qp.nominatedAt, shown)
	if qp.nominating > 0 || qp.state == qInFlight || qp.pod == nil {
		return
	}
	if p := qp.pod; p.Status.NominatedNodeName != qp.nominated && !qp.ownsNomination(p) {
		l.syncReservation(p, l.snap.pods[key])
		qp.nominated = p.Status.NominatedNodeName
	}
}

// underWay is what a relist must keep of what the scheduler decided and
// the store may not show yet, as Kubernetes keeps its nominations and its
// preemptions in flight across a relist of its informers: the victims
// chosen and not yet seen leaving, the nominations being written, and the
// preemptors waiting for their victims.
type underWay struct {
	victims map[string]objects.Key // by uid
	pods    []*qpod
}

func (l *loop) underWay() underWay {
	var u underWay
	for k, p := range l.snap.pods {
		if p.evicting && !p.terminating {
			if u.victims == nil {
				u.victims = map[string]objects.Key{}
			}
			u.victims[p.uid] = k
		}
	}
	for _, qp := range l.pods {
		if qp.state != qInFlight && (qp.nominating > 0 || len(qp.victims) > 0) {
			u.pods = append(u.pods, qp)
		}
	}
	return u
}

// resume applies u to the snapshot and queue just listed. A victim's mark
// holds if the pod listed under its name has its uid and is not being
// deleted yet (the store shows that otherwise); a nomination being
// written holds over the listed one; a preemptor whose victims are still
// leaving goes on waiting for them, as it waited before.
func (l *loop) resume(u underWay) {
	for uid, k := range u.victims {
		if p := l.snap.pods[k]; p != nil && p.uid == uid && !p.terminating {
			p.evicting = true
		}
	}
	for _, old := range u.pods {
		qp := l.pods[old.key]
		if qp == nil || qp.uid != old.uid || qp.state == qInFlight {
			continue
		}
		qp.nominating, qp.nominatedAt = old.nominating, old.nominatedAt
		if qp.nominated != old.nominated && qp.ownsNomination(qp.pod) {
			l.holdRoom(qp.pod, l.snap.pods[qp.key], old.nominated)
			qp.nominated = old.nominated
		}
		qp.victims = old.victims
		if old.state == qWaiting && old.parked && l.awaitingVictims(qp) {
			qp.attempts, qp.backoffUntil, qp.failed, qp.message = old.attempts, old.backoffUntil, old.failed, old.message
			l.q.hold(qp, true, old.waitUntil)
		}
	}
}
