// Package events records Event objects in a store, folding repeats into a
// count and combining many similar events about one object as Kubernetes'
// event correlator does, and expires old ones; past an optional limit on
// how many it keeps, it deletes the least recently seen.
package events

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Event types, as Kubernetes names them.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

const defaultNamespace = "default"

// Source names who reports an event: a component and, for node agents, the
// node.
type Source struct {
	Component string
	Host      string
}

// Recorder writes Event objects. It is safe for concurrent use.
//
// Events recorded at the same time by different goroutines share one store
// transaction (a group commit): the first caller writes every event queued
// while the previous transaction ran, the others wait for it. A burst of
// events (a few per pod while thousands of pods start) costs a few
// transactions instead of one each.
type Recorder struct {
	store  store.Store
	clock  clockwork.Clock
	log    *slog.Logger
	source unique.Handle[Source]
	ttl    time.Duration
	batch  *batcher // shared with every WithSource copy
}

type eventKey struct {
	// obj is the object's uid, or for one without, its kind, namespace and
	// name; src is the reporter's Source as a handle, compared as a
	// pointer. Fewer and smaller fields keep the key within the 128 bytes
	// a map stores in place (a larger key costs an allocation per entry)
	// and make it cheaper to hash, at several lookups per event.
	obj                  string
	typ, reason, message string
	src                  unique.Handle[Source]
	combined             bool // the key of a combined event (message empty)
}

// Kubernetes' EventAggregator: when an object gets maxSimilar events of
// the same type and reason (and source) with distinct messages within
// similarInterval, the later ones are recorded as one event, "(combined
// from similar events): <latest message>", whose count grows. A
// ReplicaSet creating 30 pods records 9 "Created pod" events and a
// combined one, as a Kubernetes cluster shows.
const (
	maxSimilar      = 10
	similarInterval = 10 * time.Minute
	combinedPrefix  = "(combined from similar events): "
)

// similarRecord is what aggregate remembers of one key: most keys (a pod's
// "Started") only ever see one message, which needs no set. The cache holds
// it by value: one allocation fewer per event.
type similarRecord struct {
	first    string
	messages map[string]struct{} // from the second distinct message on
	last     time.Time
}

// add records a message and returns how many distinct ones the record holds.
func (s *similarRecord) add(msg string) int {
	if s.messages == nil {
		if msg == s.first {
			return 1
		}
		s.messages = map[string]struct{}{s.first: {}}
	}
	s.messages[msg] = struct{}{}
	return len(s.messages)
}

// maxBatch bounds the events of one transaction, so that the store's write
// lock is never held for long.
const maxBatch = 512

// Option configures a Recorder.
type Option func(*Recorder)

// WithLimit bounds the Events the recorder keeps to n (0: no bound): past
// n, recording one deletes the one seen least recently of those it
// recorded and those the store held when the recorder was made (a durable
// store's events of an earlier process).
func WithLimit(n int) Option {
	return func(r *Recorder) { r.batch.limit = max(n, 0) }
}

// New returns a recorder writing to s, reporting as source, whose Run
// deletes events not seen again for ttl.
func New(s store.Store, clk clockwork.Clock, log *slog.Logger, source Source, ttl time.Duration, opts ...Option) *Recorder {
	b := &batcher{
		seen:    newRecentCache[eventKey, objects.Key](4096),
		similar: newRecentCache[eventKey, similarRecord](4096),
	}
	r := &Recorder{store: s, clock: clk, log: log, source: unique.Make(source), ttl: ttl, batch: b}
	for _, o := range opts {
		o(r)
	}
	if b.limit > 0 {
		if err := r.keepStored(); err != nil {
			log.Warn("reading the events already stored; they are left to expire", "err", err)
		}
	}
	return r
}

// keepStored counts the events the store holds against the limit, least
// recently seen first, as if the recorder had recorded them.
func (r *Recorder) keepStored() error {
	return r.store.View(context.Background(), func(tx store.ReadTx) error {
		evs, err := store.PeekList(tx, "Event", store.ListOptions{})
		if err != nil {
			return err
		}
		kept := make([]keptEvent, len(evs))
		for i, obj := range evs {
			ev := obj.(*objects.Event)
			kept[i] = keptEvent{key: ev.Key(), last: lastSeen(ev), rv: ev.ResourceVersion}
		}
		slices.SortStableFunc(kept, func(a, b keptEvent) int { return a.last.Compare(b.last) })
		for _, e := range kept {
			r.batch.kept.push(e)
		}
		return nil
	})
}

// lastSeen is an event's last occurrence.
func lastSeen(ev *objects.Event) time.Time {
	if last := ev.LastTimestamp.Time; !last.IsZero() {
		return last
	}
	return ev.EventTime.Time
}

// WithSource returns a recorder sharing r's store, repeat cache and
// transactions that reports as src.
func (r *Recorder) WithSource(src Source) *Recorder {
	c := *r
	c.source = unique.Make(src)
	return &c
}

// Event records an event about obj in obj's namespace ("default" for
// cluster-scoped objects). It returns once the event is stored. Errors are
// logged, not returned: events are best effort, as in Kubernetes.
func (r *Recorder) Event(ctx context.Context, obj objects.Object, eventType, reason, message string) {
	if err := r.record(ctx, obj, eventType, reason, message); err != nil && ctx.Err() == nil {
		r.logFailed(reason, message, err)
	}
}

func (r *Recorder) logFailed(reason, message string, err error) {
	r.log.Warn("event not recorded", "reason", reason, "message", message, "err", err)
}

// pending is an event waiting for its transaction.
type pending struct {
	key eventKey
	// ev is what to create if the key is not a recent repeat, in its own
	// allocation so that the store can keep it without a copy.
	ev  *objects.Event
	now time.Time
	err error
	// Repeats of the event later in the same batch are folded into it:
	// they add to the count of the one write.
	repeats int32
	last    time.Time // of the last repeat
	lastMsg string
	folded  *pending // the event of the batch this one was folded into
	lead    bool     // set before wake: write the next batch
	// wake is done once: the event is written, or lead is set.
	wake sync.WaitGroup
}

// batcher queues events for the next transaction. One caller at a time,
// the leader, writes a batch; when it is done it hands the lead to the
// first event queued meanwhile, so no caller writes more than one batch
// for each event of its own.
type batcher struct {
	mu      sync.Mutex
	queue   []*pending
	leading bool

	// rooms are the pending events of submissions done, for the next ones:
	// an event waiting costs a few hundred bytes, which most submissions
	// need not allocate again.
	rooms sync.Pool

	// The rest is the leader's: only the leader touches it, and the lead
	// passes under mu.

	seen *recentCache[eventKey, objects.Key] // event object of each recent repeat key
	// similar holds, per event key without its message, the messages seen
	// recently: past maxSimilar of them, the event is combined.
	similar *recentCache[eventKey, similarRecord]
	// limit bounds the events kept (0: no bound); kept are those recorded,
	// oldest first, each with its last occurrence and resourceVersion as
	// last seen by the batch that created it or trim.
	limit int
	kept  ring[keptEvent]
	// unchanged is trim's delete precondition, reused.
	unchanged store.Preconditions
	// byKey is the map of a batch's events by key, reused.
	byKey map[eventKey]*pending
}

type keptEvent struct {
	key  objects.Key
	last time.Time
	rv   string
}

func (r *Recorder) record(ctx context.Context, obj objects.Object, eventType, reason, message string) error {
	rm := r.batch.room(1)
	defer r.batch.free(rm)
	p := &rm.ps[0]
	if err := r.prepare(p, obj, eventType, reason, message); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rm.queue = append(rm.queue, p)
	r.submit(ctx, rm.queue)
	return p.err
}

// room holds the events of one submission.
type room struct {
	ps    []pending
	queue []*pending
}

// room returns room for n events, ps of length n and an empty queue. Past
// their lengths, ps and queue are zero.
func (b *batcher) room(n int) *room {
	rm, _ := b.rooms.Get().(*room)
	if rm == nil || cap(rm.ps) < n {
		rm = &room{ps: make([]pending, n), queue: make([]*pending, 0, n)}
	}
	rm.ps = rm.ps[:n]
	return rm
}

// free keeps rm for another submission once submit has returned: by then
// no batch refers to its events any more.
func (b *batcher) free(rm *room) {
	if cap(rm.ps) > maxBatch { // a rare large EventEach
		return
	}
	clear(rm.ps)
	clear(rm.queue)
	rm.queue = rm.queue[:0]
	b.rooms.Put(rm)
}

// prepare fills p with the event about obj that r would record.
func (r *Recorder) prepare(p *pending, obj objects.Object, eventType, reason, message string) error {
	src := r.source.Value()
	tm, meta := obj.GetTypeMeta(), obj.GetObjectMeta()
	if tm.Kind == "" {
		if _, err := r.store.Scheme().SetTypeMeta(obj); err != nil {
			return err
		}
	}
	ref := objects.ObjectReference{
		APIVersion: tm.APIVersion, Kind: tm.Kind, Namespace: meta.Namespace,
		Name: meta.Name, UID: meta.UID, ResourceVersion: meta.ResourceVersion,
	}
	ns := meta.Namespace
	if ns == "" {
		ns = defaultNamespace
	}
	if eventType == "" {
		eventType = Normal
	}
	now := r.clock.Now()
	// The name of a Kubernetes event: the object's, a dot and the time in
	// hex, built in one allocation.
	var name strings.Builder
	name.Grow(len(meta.Name) + 17)
	name.WriteString(meta.Name)
	name.WriteByte('.')
	var hex [16]byte
	name.Write(strconv.AppendInt(hex[:0], now.UnixNano(), 16))
	*p = pending{
		key: eventKey{obj: objectID(tm.Kind, ns, meta), typ: eventType, reason: reason,
			message: message, src: r.source},
		ev: &objects.Event{
			ObjectMeta:          objects.ObjectMeta{Name: name.String(), Namespace: ns},
			InvolvedObject:      ref,
			Reason:              reason,
			Message:             message,
			Type:                eventType,
			Source:              objects.EventSource{Component: src.Component, Host: src.Host},
			FirstTimestamp:      objects.NewTime(now),
			LastTimestamp:       objects.NewTime(now),
			Count:               1,
			ReportingController: src.Component,
			ReportingInstance:   src.Host,
		},
		now: now,
	}
	return nil
}

// objectID identifies the object an event is about in its key.
func objectID(kind, ns string, meta *objects.ObjectMeta) string {
	if meta.UID != "" {
		return meta.UID
	}
	return kind + "\x00" + ns + "\x00" + meta.Name
}

// submit queues ps for the next transactions, in order, and returns once
// every one is written (or failed: see its err).
func (r *Recorder) submit(ctx context.Context, ps []*pending) {
	b := r.batch
	for _, p := range ps {
		p.wake.Add(1)
	}
	b.mu.Lock()
	b.queue = append(b.queue, ps...)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if lead {
		// Let the callers already running queue their events before the
		// batch is taken: one more event in this transaction is one
		// transaction fewer, each copying its path of the store's tree.
		runtime.Gosched()
		r.writeBatch(ctx)
	}
	for _, p := range ps {
		p.wake.Wait()
		if p.lead { // at the head of the queue: it is in the batch written now
			r.writeBatch(ctx)
		}
	}
}

// writeBatch writes the events at the head of the queue in one
// transaction, then hands the lead to the next event queued, if any. Only
// the leader calls it.
func (r *Recorder) writeBatch(ctx context.Context) {
	b := r.batch
	b.mu.Lock()
	n := min(len(b.queue), maxBatch)
	batch := b.queue[:n:n]
	b.queue = append([]*pending(nil), b.queue[n:]...)
	b.mu.Unlock()

	// The batch is written whatever becomes of the context of the caller
	// that happens to lead it: the others are waiting for their events.
	r.fold(batch)
	err := r.store.Update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		for _, q := range batch {
			if q.folded == nil {
				q.err = r.write(tx, q)
			}
		}
		for _, q := range batch {
			if q.folded != nil {
				q.err = q.folded.err
			}
		}
		if err := r.trim(tx); err != nil {
			r.log.Warn("deleting events past the limit", "err", err)
		}
		return nil
	})

	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		next.lead = true
		next.wake.Done()
	} else {
		b.leading = false
	}
	b.mu.Unlock()
	for _, q := range batch {
		if err != nil {
			q.err = err
		}
		if !q.lead { // a leader's own event was woken to lead
			q.wake.Done()
		}
	}
}

// EventEach records one event about obj per message, in order, in as few
// transactions as they need (one, up to a batch): a controller's burst,
// such as a ReplicaSet's SuccessfulCreate per pod, costs one write per
// distinct event. It returns once they are stored.
func (r *Recorder) EventEach(ctx context.Context, obj objects.Object, eventType, reason string, messages []string) {
	if len(messages) == 0 {
		return
	}
	rm := r.batch.room(len(messages))
	defer r.batch.free(rm)
	for i, msg := range messages {
		if err := r.prepare(&rm.ps[i], obj, eventType, reason, msg); err != nil {
			r.logFailed(reason, msg, err)
			return
		}
		rm.queue = append(rm.queue, &rm.ps[i])
	}
	if ctx.Err() != nil {
		return
	}
	r.submit(ctx, rm.queue)
	for _, p := range rm.queue {
		if p.err != nil && ctx.Err() == nil {
			r.logFailed(reason, p.key.message, p.err)
		}
	}
}

// recordRound records events of a Queue's round whose sinks are recorders
// sharing r's transactions, in order, in as few transactions as the round
// needs.
func (r *Recorder) recordRound(ctx context.Context, round []queuedEvent) {
	rm := r.batch.room(len(round))
	defer r.batch.free(rm)
	for i := range round {
		ev := &round[i]
		rec := ev.sink.(*Recorder)
		if err := rec.prepare(&rm.ps[i], ev.obj, ev.typ, ev.reason, ev.message); err != nil {
			rec.logFailed(ev.reason, ev.message, err)
			continue
		}
		rm.queue = append(rm.queue, &rm.ps[i])
	}
	if len(rm.queue) == 0 || ctx.Err() != nil {
		return
	}
	r.submit(ctx, rm.queue)
	for _, p := range rm.queue {
		if p.err != nil && ctx.Err() == nil {
			r.logFailed(p.key.reason, p.key.message, p.err)
		}
	}
}

// aggregate turns p into its combined event when its object had too many
// similar ones lately (see maxSimilar). Batches are written one at a time,
// so calls do not overlap.
func (r *Recorder) aggregate(p *pending) {
	similar := r.batch.similar
	k := p.key
	k.message = ""
	rec, ok := similar.Get(k)
	if !ok || p.now.Sub(rec.last) > similarInterval {
		similar.Add(k, similarRecord{first: p.key.message, last: p.now})
		return
	}
	rec.last = p.now
	n := rec.add(p.key.message)
	similar.Add(k, rec)
	if n < maxSimilar {
		return
	}
	for m := range rec.messages { // grow no further
		delete(rec.messages, m)
		break
	}
	k.combined = true
	p.key = k
	p.ev.Message = combinedPrefix + p.ev.Message
}

// fold combines the events of a batch (see aggregate) and folds repeats
// into the first event of their key, so that a burst of repeats (a
// ReplicaSet's combined SuccessfulCreate) is one write: the count and the
// last message are what writing each would have left.
func (r *Recorder) fold(batch []*pending) {
	b := r.batch
	if b.byKey == nil {
		b.byKey = map[eventKey]*pending{}
	}
	for _, q := range batch {
		r.aggregate(q)
		first, ok := b.byKey[q.key]
		if !ok {
			b.byKey[q.key] = q
			continue
		}
		first.repeats++
		first.last, first.lastMsg = q.now, q.ev.Message
		q.folded = first
	}
	clear(b.byKey)
}

// write stores one event of a batch: a repeat of a recent event increments
// its count, anything else is a new Event. A failed write writes nothing,
// so the rest of the batch still commits.
func (r *Recorder) write(tx store.Tx, p *pending) error {
	b := r.batch
	last, msg := p.now, p.ev.Message
	if p.repeats > 0 {
		last, msg = p.last, p.lastMsg
	}
	if key, ok := b.seen.Get(p.key); ok {
		cur, err := tx.Get("Event", key)
		if err == nil {
			ev := cur.(*objects.Event)
			ev.Count += 1 + p.repeats
			ev.LastTimestamp = objects.NewTime(last)
			ev.Message = msg
			ev.ResourceVersion = ""
			return tx.Update(ev)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	ev := p.ev
	ev.Count += p.repeats
	ev.LastTimestamp, ev.Message = objects.NewTime(last), msg
	// Built for this write and read by no one else: the store keeps it
	// rather than a copy. From here on it is the store's, never modified.
	if err := store.Adopt(tx, ev); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) { // same object, same nanosecond
			ev.Name += "-" + strconv.Itoa(int(p.now.Nanosecond()%997))
			err = store.Adopt(tx, ev)
		}
		if err != nil {
			return err
		}
	}
	b.seen.Add(p.key, ev.Key())
	if b.limit > 0 {
		b.kept.push(keptEvent{key: ev.Key(), last: last, rv: ev.ResourceVersion})
	}
	return nil
}

// trim deletes the events kept past the limit, least recently seen first:
// an event seen again since it was queued goes to the back instead. An
// event already gone (expired, deleted) is forgotten.
func (r *Recorder) trim(tx store.Tx) error {
	b := r.batch
	if b.limit == 0 {
		return nil
	}
	// Most events are never written again once created: deleting on
	// condition that an event still has the resourceVersion it was kept
	// with looks it up once. A conflict says it was written since,
	// perhaps seen again: read it.
	unchanged := store.DeleteOptions{Preconditions: &b.unchanged}
	for b.kept.len() > b.limit {
		e := b.kept.pop()
		b.unchanged.ResourceVersion = e.rv
		err := store.Remove(tx, "Event", e.key, unchanged)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			continue
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		obj, err := store.Peek(tx, "Event", e.key)
		if err != nil {
			return err
		}
		ev := obj.(*objects.Event)
		if last := ev.LastTimestamp.Time; last.After(e.last) {
			b.kept.push(keptEvent{key: e.key, last: last, rv: ev.ResourceVersion})
			continue
		}
		if err := store.Remove(tx, "Event", e.key, store.DeleteOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// Run deletes events whose last occurrence is older than the TTL,
// as Kubernetes expires them.
func (r *Recorder) Run(ctx context.Context) error {
	ttl := r.ttl
	every := min(ttl/10, time.Minute)
	t := r.clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
		}
		if err := r.expire(ctx, r.clock.Now().Add(-ttl)); err != nil && ctx.Err() == nil {
			r.log.Warn("expiring events", "err", err)
		}
	}
}

func (r *Recorder) expire(ctx context.Context, before time.Time) error {
	return r.store.Update(ctx, func(tx store.Tx) error {
		// Every event is read, to delete a few: peek rather than copy.
		evs, err := store.PeekList(tx, "Event", store.ListOptions{})
		if err != nil {
			return err
		}
		for _, obj := range evs {
			ev := obj.(*objects.Event)
			if lastSeen(ev).Before(before) {
				if err := store.Remove(tx, "Event", ev.Key(), store.DeleteOptions{}); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
}
