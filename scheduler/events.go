package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/podkit/podkit/objects"
)

// EventRecorder records an event about an object, as Kubernetes' event
// recorder does. It must be safe for concurrent use and may block briefly;
// internal/events.Recorder, which podkit's Orchestrator uses, satisfies it.
type EventRecorder interface {
	Event(ctx context.Context, obj objects.Object, eventType, reason, message string)
}

const (
	eventNormal  = "Normal"
	eventWarning = "Warning"
	// eventQueue bounds the events waiting to be recorded. Beyond it they
	// are dropped, as Kubernetes' broadcaster drops them, rather than slow
	// the scheduler down.
	eventQueue = 8192
)

// eventSink records events from its own goroutine, so that writing them
// never holds up scheduling.
type eventSink struct {
	rec     EventRecorder
	log     *slog.Logger
	ch      chan pendingEvent
	dropped atomic.Int64
}

func newEventSink(rec EventRecorder, log *slog.Logger) *eventSink {
	s := &eventSink{rec: rec, log: log}
	if rec != nil {
		s.ch = make(chan pendingEvent, eventQueue)
	}
	return s
}

func (s *eventSink) push(evs ...pendingEvent) {
	if s.ch == nil {
		return
	}
	for _, ev := range evs {
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
		}
	}
}

// eventWorkers is how many events are recorded at once. A recorder that
// commits concurrent events together (internal/events.Recorder does) then
// writes them in a few transactions instead of one each.
const eventWorkers = 16

func (s *eventSink) run(ctx context.Context) {
	if s.ch == nil {
		return
	}
	var wg sync.WaitGroup
	for range eventWorkers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-s.ch:
					s.rec.Event(ctx, ev.obj, ev.typ, ev.reason, ev.message)
				}
			}
		}()
	}
	defer wg.Wait()
	var reported int64
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-s.ch:
			s.rec.Event(ctx, ev.obj, ev.typ, ev.reason, ev.message)
		}
		if d := s.dropped.Load(); d != reported && len(s.ch) == 0 {
			s.log.Warn("scheduler events dropped: the recorder did not keep up", "dropped", d-reported)
			reported = d
		}
	}
}
