package scheduler

import (
	"context"
	"log/slog"

	"github.com/podkit/podkit/internal/events"
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

// eventSink records events from its own goroutine (an events.Queue), so
// that writing them never holds up scheduling.
type eventSink struct {
	rec EventRecorder
	q   *events.Queue
}

func newEventSink(rec EventRecorder, log *slog.Logger) *eventSink {
	s := &eventSink{rec: rec}
	if rec != nil {
		s.q = events.NewQueue(log.With("component", "scheduler"), eventQueue)
	}
	return s
}

func (s *eventSink) push(evs ...pendingEvent) {
	if s.q == nil {
		return
	}
	for _, ev := range evs {
		s.q.Push(s.rec, ev.obj, ev.typ, ev.reason, ev.message)
	}
}

func (s *eventSink) run(ctx context.Context) {
	if s.q != nil {
		s.q.Run(ctx)
	}
}
