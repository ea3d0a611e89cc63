package podkit

import (
	"context"
	"fmt"

	"github.com/podkit/podkit/internal/events"
	"github.com/podkit/podkit/objects"
)

// Event types, as Kubernetes names them.
const (
	EventNormal  = events.Normal
	EventWarning = events.Warning
)

// EventSource names who reports an event: a component and, for node agents,
// the node.
type EventSource = events.Source

// Event records an event about obj, visible as an Event object in obj's
// namespace ("default" for cluster-scoped objects) and to watchers of
// KindEvent. Repeats (same object, type, reason, message and source) increase
// the count of one Event object. Errors are logged, not returned: events are
// best effort, as in Kubernetes.
func (o *Orchestrator) Event(ctx context.Context, obj objects.Object, eventType, reason, message string) {
	o.events.Event(ctx, obj, eventType, reason, message)
}

// Eventf is Event with a format string.
func (o *Orchestrator) Eventf(ctx context.Context, obj objects.Object, eventType, reason, format string, args ...any) {
	o.Event(ctx, obj, eventType, reason, fmt.Sprintf(format, args...))
}

// EventFrom is Event with an explicit source, for components such as node
// agents that report under their own name.
func (o *Orchestrator) EventFrom(ctx context.Context, src EventSource, obj objects.Object, eventType, reason, message string) {
	o.events.WithSource(src).Event(ctx, obj, eventType, reason, message)
}
