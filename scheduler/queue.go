package scheduler

import (
	"container/heap"
	"time"

	"github.com/podkit/podkit/objects"
)

// Kubernetes' podInitialBackoff and podMaxBackoff.
const (
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 10 * time.Second
)

// maxUnschedulable is Kubernetes' podMaxInUnschedulablePodsDuration: how
// long after its last attempt a pod that fits nowhere is tried again when
// no change that could help has come.
const maxUnschedulable = 5 * time.Minute

// qstate is where a pending pod is in the queue.
type qstate uint8

const (
	qActive   qstate = iota // ready to be scheduled
	qWaiting                // failed; back after its backoff, or when parked after a change that could help
	qInFlight               // placed; its binding is being written
)

// qpod is a pending pod in the queue.
type qpod struct {
	key   objects.Key
	uid   string
	group *group
	state qstate
	seq   uint64 // arrival order

	attempts     int
	backoffUntil time.Time // end of the backoff of its last attempt
	// parked: it fits nowhere and waits for a change that could help, as
	// in Kubernetes' unschedulablePods, else for maxUnschedulable.
	parked bool
	// flushed: such a change came during its backoff; it waits in
	// queue.backoff, as in Kubernetes' backoffQ.
	flushed   bool
	waitUntil time.Time // when it is tried again without a change
	waitIndex int       // in the waiting or backoff heap; -1 when in neither
	failed    uint64    // plugins that rejected it last time (see diagnosis.plugins)

	message   string // PodScheduled message last written
	nominated string // status.nominatedNodeName as last written, or being written
	// nominating counts the writes of its nomination (its own, or a
	// preemption clearing it) not yet done; nominatedAt is the revision
	// from which the store shows the last one done. See ownsNomination.
	nominating  int
	nominatedAt int64
	node        string // where it was placed, while its binding is written
	// victims of its last preemption, until they are seen leaving (see
	// loop.awaitingVictims).
	victims []victim

	// pod is the pod as last seen, for a binding that needs no read: a
	// stored object from a watch event or a copy from a list, never
	// modified.
	pod *objects.Pod
}

// queue orders pending pods: groups with ready pods by priority then age,
// the pods of a group oldest first; failed pods wait in a heap by the time
// they are tried again without a change; pods that a change could help
// during their backoff wait in another, as in Kubernetes' backoffQ.
type queue struct {
	active  groupHeap
	waiting waitHeap
	backoff waitHeap
	seq     uint64
	initial time.Duration
	max     time.Duration
}

func newQueue(initial, max time.Duration) *queue {
	return &queue{initial: initial, max: max}
}

// activate makes qp ready.
func (q *queue) activate(qp *qpod) {
	if qp.state == qWaiting {
		q.unwait(qp)
	}
	qp.state = qActive
	q.seq++
	qp.seq = q.seq
	g := qp.group
	g.ready = append(g.ready, qp)
	if g.heapIndex < 0 {
		g.readySeq = g.ready[0].seq
		heap.Push(&q.active, g)
	}
}

// pop takes up to n ready pods of the highest-ranked group. With none
// ready, the pods waiting in backoff after a change that could help them
// are made ready first, as Kubernetes' SchedulerPopFromBackoffQ pops its
// backoffQ when its activeQ is empty: a backoff keeps a pod from delaying
// others, not from using a scheduler that has nothing else to do. They
// are made ready together, so that a group's are placed in one batch.
func (q *queue) pop(n int) (*group, []*qpod) {
	if len(q.active) == 0 {
		for len(q.backoff) > 0 {
			q.activate(q.backoff[0]) // earliest backoff end first
		}
	}
	if len(q.active) == 0 {
		return nil, nil
	}
	g := q.active[0]
	k := min(n, len(g.ready))
	batch := make([]*qpod, k)
	copy(batch, g.ready[:k])
	clear(g.ready[:k])
	g.ready = g.ready[k:]
	if len(g.ready) == 0 {
		g.ready = nil
		heap.Pop(&q.active)
	} else {
		g.readySeq = g.ready[0].seq
		heap.Fix(&q.active, 0)
	}
	for _, qp := range batch {
		qp.state = qInFlight
	}
	return g, batch
}

// wait holds qp, after an attempt that failed for an error, until its
// backoff ends: initial doubling per attempt up to max.
func (q *queue) wait(qp *qpod, now time.Time) {
	q.startBackoff(qp, now)
	q.hold(qp, false, qp.backoffUntil)
}

// park holds qp, which fits nowhere, until a change that could help
// (flush) or maxUnschedulable after this attempt, as Kubernetes'
// unschedulablePods does. Its backoff is counted from this attempt too.
func (q *queue) park(qp *qpod, now time.Time) {
	q.startBackoff(qp, now)
	q.hold(qp, true, now.Add(maxUnschedulable))
}

// backOff holds qp until the backoff of its last attempt ends, or makes it
// ready if that has passed: the pod changed in what placement reads, and
// Kubernetes requeues such a pod without restarting its backoff.
func (q *queue) backOff(qp *qpod, now time.Time) {
	if !qp.backoffUntil.After(now) {
		q.activate(qp)
		return
	}
	q.hold(qp, false, qp.backoffUntil)
}

func (q *queue) startBackoff(qp *qpod, now time.Time) {
	d := q.initial
	for i := 1; i < qp.attempts && d < q.max; i++ {
		d *= 2
	}
	qp.backoffUntil = now.Add(min(d, q.max))
}

func (q *queue) hold(qp *qpod, parked bool, until time.Time) {
	q.remove(qp)
	qp.state = qWaiting
	qp.parked = parked
	qp.waitUntil = until
	heap.Push(&q.waiting, qp)
}

// retry makes qp, which a change could help, ready if its backoff has
// ended, else holds it in backoff until then, as Kubernetes moves such a
// pod to its activeQ or its backoffQ.
func (q *queue) retry(qp *qpod, now time.Time) {
	if !qp.backoffUntil.After(now) {
		q.activate(qp)
		return
	}
	q.remove(qp)
	qp.state = qWaiting
	qp.parked = false
	qp.flushed = true
	qp.waitUntil = qp.backoffUntil
	heap.Push(&q.backoff, qp)
}

// unwait takes a waiting qp out of its heap.
func (q *queue) unwait(qp *qpod) {
	switch {
	case qp.waitIndex < 0:
	case qp.flushed:
		heap.Remove(&q.backoff, qp.waitIndex)
	default:
		heap.Remove(&q.waiting, qp.waitIndex)
	}
	qp.flushed = false
}

// remove takes qp out of the ready list or the waiting heap.
func (q *queue) remove(qp *qpod) {
	switch qp.state {
	case qActive:
		g := qp.group
		for i, x := range g.ready {
			if x == qp {
				g.ready = append(g.ready[:i], g.ready[i+1:]...)
				break
			}
		}
		if g.heapIndex >= 0 {
			if len(g.ready) == 0 {
				heap.Remove(&q.active, g.heapIndex)
			} else {
				g.readySeq = g.ready[0].seq
				heap.Fix(&q.active, g.heapIndex)
			}
		}
	case qWaiting:
		q.unwait(qp)
	}
	qp.state = qInFlight
}

// expire activates the waiting pods whose wait has ended, once their
// backoff has too.
func (q *queue) expire(now time.Time) {
	for len(q.backoff) > 0 && !q.backoff[0].waitUntil.After(now) {
		q.activate(q.backoff[0])
	}
	for len(q.waiting) > 0 && !q.waiting[0].waitUntil.After(now) {
		if qp := q.waiting[0]; qp.parked {
			q.retry(qp, now)
		} else {
			q.backOff(qp, now)
		}
	}
}

// nextExpiry returns when the next wait ends.
func (q *queue) nextExpiry() (time.Time, bool) {
	switch {
	case len(q.backoff) == 0 && len(q.waiting) == 0:
		return time.Time{}, false
	case len(q.backoff) == 0:
		return q.waiting[0].waitUntil, true
	case len(q.waiting) == 0 || q.backoff[0].waitUntil.Before(q.waiting[0].waitUntil):
		return q.backoff[0].waitUntil, true
	}
	return q.waiting[0].waitUntil, true
}

// flush retries the parked pods for which helps says yes: those whose
// backoff has ended are made ready, the others wait in backoff until it
// ends, as Kubernetes moves them to its activeQ or its backoffQ. Pods
// held for their backoff already are left to it.
func (q *queue) flush(now time.Time, helps func(qp *qpod) bool) int {
	var move []*qpod
	for _, qp := range q.waiting {
		if qp.parked && helps(qp) {
			move = append(move, qp)
		}
	}
	for _, qp := range move {
		q.retry(qp, now)
	}
	return len(move)
}

// empty reports whether no pod is ready or may be made ready by pop.
func (q *queue) empty() bool { return len(q.active) == 0 && len(q.backoff) == 0 }

// groupHeap ranks groups: higher priority first, then the oldest ready pod.
type groupHeap []*group

func (h groupHeap) Len() int { return len(h) }

func (h groupHeap) Less(i, j int) bool {
	if pi, pj := h[i].pod.priority, h[j].pod.priority; pi != pj {
		return pi > pj
	}
	return h[i].readySeq < h[j].readySeq
}

func (h groupHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex, h[j].heapIndex = i, j
}

func (h *groupHeap) Push(x any) {
	g := x.(*group)
	g.heapIndex = len(*h)
	*h = append(*h, g)
}

func (h *groupHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.heapIndex = -1
	return g
}

// waitHeap orders waiting pods by the end of their wait.
type waitHeap []*qpod

func (h waitHeap) Len() int { return len(h) }

func (h waitHeap) Less(i, j int) bool { return h[i].waitUntil.Before(h[j].waitUntil) }

func (h waitHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].waitIndex, h[j].waitIndex = i, j
}

func (h *waitHeap) Push(x any) {
	qp := x.(*qpod)
	qp.waitIndex = len(*h)
	*h = append(*h, qp)
}

func (h *waitHeap) Pop() any {
	old := *h
	qp := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	qp.waitIndex = -1
	return qp
}
