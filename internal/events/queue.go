package events

import (
	"context"
	"log/slog"
	"sync"

	"github.com/podkit/podkit/objects"
)

// Sink records one event; *Recorder is one. The component interfaces
// (nodeagent.EventRecorder, scheduler.EventRecorder) have this shape.
type Sink interface {
	Event(ctx context.Context, obj objects.Object, eventType, reason, message string)
}

// Queue records events from its own goroutine, so that whoever reports one
// does not wait for the store, as Kubernetes' event broadcaster does.
// Events are recorded in rounds of up to a Recorder's batch: the events of
// a round about different objects are recorded concurrently, so that a
// Recorder writes them in one transaction; those about one object in the
// order they were queued.
//
// The queue is bounded: past its limit an event is dropped, counted and
// the drops logged, as the broadcaster drops events rather than stall the
// component reporting them. Memory follows what is pending, not the limit.
//
// Push is safe for concurrent use and never blocks. Run records until its
// context ends and returns once every goroutine it started has; events
// still queued then are dropped (a Recorder would refuse them under that
// context anyway).
type Queue struct {
	log   *slog.Logger
	limit int
	kick  chan struct{}

	mu       sync.Mutex
	q        ring[queuedEvent]
	dropped  int
	reported int // drops logged so far
}

type queuedEvent struct {
	sink                 Sink
	obj                  objects.Object
	typ, reason, message string
}

// DefaultQueueLimit suits a process that runs many components reporting
// events at once.
const DefaultQueueLimit = 1 << 16

// NewQueue returns a queue holding at most limit events.
func NewQueue(log *slog.Logger, limit int) *Queue {
	return &Queue{log: log, limit: max(limit, 1), kick: make(chan struct{}, 1)}
}

// Push queues an event about obj for sink. It reports false when the
// queue was full and the event dropped.
func (q *Queue) Push(sink Sink, obj objects.Object, eventType, reason, message string) bool {
	q.mu.Lock()
	if q.q.len() >= q.limit {
		q.dropped++
		q.mu.Unlock()
		return false
	}
	q.q.push(queuedEvent{sink: sink, obj: obj, typ: eventType, reason: reason, message: message})
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
	return true
}

// take appends the next round to room, returning nil when nothing is
// pending; it reports drops not yet logged once the queue is empty.
func (q *Queue) take(room []queuedEvent) (round []queuedEvent, dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.q.len() == 0 {
		q.q = ring[queuedEvent]{} // free what a burst grew
		dropped, q.reported = q.dropped-q.reported, q.dropped
		return nil, dropped
	}
	return q.q.take(room, maxBatch), 0
}

// Run records queued events until ctx ends.
func (q *Queue) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.kick:
		}
		// The rounds of one burst share their room, which goes with the
		// burst: a process runs a queue per node agent, mostly idle.
		var room []queuedEvent
		for ctx.Err() == nil {
			round, dropped := q.take(room[:0])
			if round == nil {
				if dropped > 0 {
					q.log.Warn("events dropped: the recorder did not keep up", "dropped", dropped)
				}
				break
			}
			record(ctx, round)
			clear(round)
			room = round
		}
	}
}

// record records a round. When every sink is a Recorder sharing one
// batcher (a recorder and its WithSource copies), the round is written in
// order in its transactions; else one goroutine per object records its
// events in order, and a Recorder's group commit gathers them.
func record(ctx context.Context, round []queuedEvent) {
	if r := sharedRecorder(round); r != nil {
		r.recordRound(ctx, round)
		return
	}
	byObj := make(map[string][]*queuedEvent, len(round))
	for i := range round {
		ev := &round[i]
		m := ev.obj.GetObjectMeta()
		key := m.UID
		if key == "" {
			key = m.Namespace + "/" + m.Name
		}
		byObj[key] = append(byObj[key], ev)
	}
	var wg sync.WaitGroup
	for _, evs := range byObj {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range evs {
				ev.sink.Event(ctx, ev.obj, ev.typ, ev.reason, ev.message)
			}
		}()
	}
	wg.Wait()
}

// sharedRecorder returns the first sink of round when every sink is a
// Recorder sharing its batcher, else nil.
func sharedRecorder(round []queuedEvent) *Recorder {
	first, ok := round[0].sink.(*Recorder)
	if !ok {
		return nil
	}
	for i := range round {
		if r, ok := round[i].sink.(*Recorder); !ok || r.batch != first.batch {
			return nil
		}
	}
	return first
}
