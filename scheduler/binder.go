package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// maxWriteBatch bounds the writes of one store transaction: large enough
// to amortize a commit, small enough not to hold the store's write lock
// for long.
const maxWriteBatch = 512

// Event reasons the scheduler records, as Kubernetes names them.
const (
	ReasonScheduled        = "Scheduled"
	ReasonFailedScheduling = "FailedScheduling"
	ReasonPreempted        = "Preempted"
	// ReasonPreemptionByScheduler is the reason of the DisruptionTarget
	// condition set on a victim.
	ReasonPreemptionByScheduler = "PreemptionByScheduler"
)

type opKind uint8

const (
	opBind opKind = iota
	opUnschedulable
	opPreempt
)

// writeOp is one change the scheduler writes to the store.
type writeOp struct {
	kind opKind
	qp   *qpod
	key  objects.Key
	uid  string
	node string

	claims []string // opBind: WaitForFirstConsumer claims to mark with the node
	// opBind: the pod as last seen pending, never modified, so that
	// binding needs no read; nil when unknown.
	pod *objects.Pod

	message  string // opUnschedulable, opPreempt: the PodScheduled message
	event    bool   // opUnschedulable: record FailedScheduling
	nominate string // opUnschedulable, opPreempt: status.nominatedNodeName

	victims []victim // opPreempt
	// opPreempt: pods of lower priority nominated on the node, whose
	// nominations are cleared.
	cleared []victim

	// Set by the writer once written: the revision from which the store
	// shows the nomination of the pod (its resourceVersion then), and that
	// of each pod in cleared (0 for one not cleared here).
	shown        int64
	clearedShown []int64
}

type victim struct {
	key   objects.Key
	uid   string
	grace int64
}

// writeResult is what became of an op.
type writeResult struct {
	op   *writeOp
	err  error
	gone bool // the pod was deleted, replaced or bound by someone else
}

// writer writes the scheduler's decisions through the store, many per
// transaction, and hands the results back to the scheduling loop.
type writer struct {
	store  store.Store
	clock  clockwork.Clock
	log    *slog.Logger
	events *eventSink
	name   string // scheduler name, for the victims' condition

	mu      sync.Mutex
	ops     []*writeOp
	results []writeResult
	wake    chan struct{} // ops queued
	done    chan struct{} // results queued
}

func newWriter(s store.Store, clk clockwork.Clock, log *slog.Logger, events *eventSink, name string) *writer {
	return &writer{store: s, clock: clk, log: log, events: events, name: name,
		wake: make(chan struct{}, 1), done: make(chan struct{}, 1)}
}

func (w *writer) push(ops ...*writeOp) {
	if len(ops) == 0 {
		return
	}
	w.mu.Lock()
	w.ops = append(w.ops, ops...)
	w.mu.Unlock()
	signal(w.wake)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// takeResults returns the results since the last call.
func (w *writer) takeResults() []writeResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.results
	w.results = nil
	return r
}

func (w *writer) run(ctx context.Context) {
	for {
		w.mu.Lock()
		n := min(len(w.ops), maxWriteBatch)
		batch := make([]*writeOp, n)
		copy(batch, w.ops[:n])
		clear(w.ops[:n])
		w.ops = w.ops[n:]
		if len(w.ops) == 0 {
			w.ops = nil
		}
		w.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				continue
			}
		}
		res := w.write(ctx, batch)
		w.mu.Lock()
		w.results = append(w.results, res...)
		w.mu.Unlock()
		signal(w.done)
	}
}

// write applies ops in one transaction. An unexpected error aborts it; the
// ops are then written one per transaction so one bad op fails alone.
func (w *writer) write(ctx context.Context, ops []*writeOp) []writeResult {
	res := make([]writeResult, len(ops))
	var evs []pendingEvent
	err := w.store.Update(ctx, func(tx store.Tx) error {
		evs = evs[:0]
		for i, op := range ops {
			res[i] = writeResult{op: op}
			e, gone, err := w.apply(tx, op)
			if err != nil {
				return err
			}
			res[i].gone = gone
			evs = append(evs, e...)
		}
		return nil
	})
	if err == nil {
		w.events.push(evs...)
		return res
	}
	if len(ops) == 1 || ctx.Err() != nil || errors.Is(err, store.ErrClosed) {
		for i := range res {
			res[i] = writeResult{op: ops[i], err: err}
		}
		return res
	}
	for i, op := range ops {
		res[i] = w.write(ctx, []*writeOp{op})[0]
	}
	return res
}

// pendingEvent is an event to record once its transaction committed.
type pendingEvent struct {
	obj     objects.Object
	typ     string
	reason  string
	message string
}

func (w *writer) apply(tx store.Tx, op *writeOp) ([]pendingEvent, bool, error) {
	switch op.kind {
	case opBind:
		return w.bind(tx, op)
	case opUnschedulable:
		return w.unschedulable(tx, op)
	case opPreempt:
		return w.preempt(tx, op)
	}
	return nil, false, fmt.Errorf("unknown write op %d", op.kind)
}

// getPending reads the pod of op, or reports it gone: deleted, replaced,
// being deleted, or bound.
func getPending(tx store.Tx, key objects.Key, uid string) (*objects.Pod, bool, error) {
	obj, err := tx.Get("Pod", key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	p := obj.(*objects.Pod)
	if p.UID != uid || p.DeletionTimestamp != nil || p.Spec.NodeName != "" {
		return p, true, nil
	}
	return p, false, nil
}

// bind sets spec.nodeName and the PodScheduled condition, in one write
// when the store can (store.StatusUpdater), as Kubernetes' binding does.
// From the pod as last seen it writes without reading, the pod's
// resourceVersion guarding against changes since; if the pod changed, it
// reads it.
func (w *writer) bind(tx store.Tx, op *writeOp) ([]pendingEvent, bool, error) {
	now := w.clock.Now()
	su, combined := tx.(store.StatusUpdater)
	if seen := op.pod; seen != nil {
		op.pod = nil
		// A shallow copy with conditions of its own: what it shares with
		// the stored pod is never written, and the store keeps the copy
		// itself where it can (store.StatusAdopter).
		p := &objects.Pod{TypeMeta: seen.TypeMeta, ObjectMeta: seen.ObjectMeta, Spec: seen.Spec, Status: seen.Status}
		p.Status.Conditions = append(make([]objects.PodCondition, 0, len(seen.Status.Conditions)+1), seen.Status.Conditions...)
		scheduled(p, now)
		var err error
		if combined {
			p.Spec.NodeName = op.node
			err = store.AdoptWithStatus(su, p)
		} else {
			// Only the status: the store hands the whole pod back.
			p.Spec = objects.PodSpec{}
			err = tx.UpdateStatus(p)
			if err == nil {
				p.Spec.NodeName = op.node
				err = tx.Update(p)
			}
		}
		switch {
		case err == nil:
			// Unchanged since seen pending, not being deleted: bound. The
			// event is about the pod as seen, as Kubernetes records it
			// about the pod it assumed.
			return w.bound(tx, op, seen)
		case errors.Is(err, store.ErrNotFound):
			return nil, true, nil
		case !errors.Is(err, store.ErrConflict):
			return nil, false, err
		}
	}
	for try := 0; ; try++ {
		p, gone, err := getPending(tx, op.key, op.uid)
		if err != nil || gone {
			return nil, gone, err
		}
		changed := scheduled(p, now)
		switch {
		case combined:
			p.Spec.NodeName = op.node
			err = store.AdoptWithStatus(su, p) // p is a copy of its own
		case changed:
			if err = tx.UpdateStatus(p); err == nil {
				p.Spec.NodeName = op.node
				err = tx.Update(p)
			}
		default:
			p.Spec.NodeName = op.node
			err = tx.Update(p)
		}
		if err != nil {
			if errors.Is(err, store.ErrConflict) && try < 3 {
				continue // read it again
			}
			return nil, false, err
		}
		return w.bound(tx, op, p)
	}
}

// scheduled sets PodScheduled=True and clears the nomination.
func scheduled(p *objects.Pod, now time.Time) bool {
	st := &p.Status
	changed := setPodCondition(st, objects.PodCondition{Type: objects.PodScheduled, Status: objects.ConditionTrue,
		ObservedGeneration: p.Generation}, now)
	if st.NominatedNodeName != "" {
		st.NominatedNodeName = ""
		changed = true
	}
	return changed
}

// bound finishes the binding of p: its claims and its event.
func (w *writer) bound(tx store.Tx, op *writeOp, p *objects.Pod) ([]pendingEvent, bool, error) {
	for _, claim := range op.claims {
		if err := markClaim(tx, op.key.Namespace, claim, op.node); err != nil {
			return nil, false, err
		}
	}
	return []pendingEvent{{obj: p, typ: eventNormal, reason: ReasonScheduled,
		message: fmt.Sprintf("Successfully assigned %s/%s to %s", p.Namespace, p.Name, op.node)}}, false, nil
}

// markClaim sets the selected-node annotation on a WaitForFirstConsumer
// claim that has no volume yet.
func markClaim(tx store.Tx, ns, name, node string) error {
	obj, err := tx.Get("PersistentVolumeClaim", objects.Key{Namespace: ns, Name: name})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c := obj.(*objects.PersistentVolumeClaim)
	if c.Spec.VolumeName != "" || c.Annotations[AnnotationSelectedNode] == node {
		return nil
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[AnnotationSelectedNode] = node
	return tx.Update(c)
}

func (w *writer) unschedulable(tx store.Tx, op *writeOp) ([]pendingEvent, bool, error) {
	p, gone, err := getPending(tx, op.key, op.uid)
	if err != nil || gone {
		return nil, gone, err
	}
	changed := setPodCondition(&p.Status, objects.PodCondition{Type: objects.PodScheduled, Status: objects.ConditionFalse,
		Reason: objects.PodReasonUnschedulable, Message: op.message, ObservedGeneration: p.Generation}, w.clock.Now())
	if p.Status.NominatedNodeName != op.nominate {
		p.Status.NominatedNodeName = op.nominate
		changed = true
	}
	if changed {
		if err := tx.UpdateStatus(p); err != nil {
			return nil, false, err
		}
	}
	op.shown = revisionOf(p)
	if !op.event {
		return nil, false, nil
	}
	return []pendingEvent{{obj: p, typ: eventWarning, reason: ReasonFailedScheduling, message: op.message}}, false, nil
}

// preempt evicts the victims gracefully (DisruptionTarget condition, then
// deletion with each victim's own grace period), clears the nominations of
// the lower-priority pods nominated on the node, and nominates the node for
// the preemptor.
func (w *writer) preempt(tx store.Tx, op *writeOp) ([]pendingEvent, bool, error) {
	now := w.clock.Now()
	var evs []pendingEvent
	for _, v := range op.victims {
		obj, err := tx.Get("Pod", v.key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		p := obj.(*objects.Pod)
		if p.UID != v.uid || p.DeletionTimestamp != nil {
			continue
		}
		setPodCondition(&p.Status, objects.PodCondition{Type: objects.DisruptionTarget, Status: objects.ConditionTrue,
			Reason: ReasonPreemptionByScheduler, Message: w.name + ": preempting to accommodate a higher priority pod",
			ObservedGeneration: p.Generation}, now)
		if err := tx.UpdateStatus(p); err != nil {
			return nil, false, err
		}
		grace := v.grace
		if p.Spec.NodeName == "" || p.IsTerminal() {
			grace = 0 // nothing runs it: no one would finish a graceful deletion
		}
		if _, err := tx.Delete("Pod", v.key, store.DeleteOptions{GracePeriodSeconds: &grace,
			Preconditions: &store.Preconditions{UID: v.uid}}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
		evs = append(evs, pendingEvent{obj: p, typ: eventNormal, reason: ReasonPreempted,
			message: fmt.Sprintf("Preempted by pod %s on node %s", op.uid, op.node)})
	}
	op.clearedShown = make([]int64, len(op.cleared))
	for i, c := range op.cleared {
		obj, err := tx.Get("Pod", c.key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		p := obj.(*objects.Pod)
		if p.UID != c.uid || p.Status.NominatedNodeName != op.node {
			continue
		}
		p.Status.NominatedNodeName = ""
		if err := tx.UpdateStatus(p); err != nil {
			return nil, false, err
		}
		op.clearedShown[i] = revisionOf(p)
	}
	e, gone, err := w.unschedulable(tx, op)
	return append(evs, e...), gone, err
}

// setPodCondition sets a condition, keeping its lastTransitionTime when
// the status does not change. It reports whether anything changed.
func setPodCondition(st *objects.PodStatus, c objects.PodCondition, now time.Time) bool {
	old := objects.GetPodCondition(st, c.Type)
	if old == nil {
		c.LastTransitionTime = objects.NewTime(now)
		st.Conditions = append(st.Conditions, c)
		return true
	}
	if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message && old.ObservedGeneration == c.ObservedGeneration {
		return false
	}
	c.LastTransitionTime = old.LastTransitionTime
	if old.Status != c.Status {
		c.LastTransitionTime = objects.NewTime(now)
	}
	*old = c
	return true
}
