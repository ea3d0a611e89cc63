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

// DefaultEventLimit is how many Events the orchestrator keeps at most of
// those it records (see WithEventLimit): the events of some 20,000 pod
// starts (four or five each), in about 100 MB of the memory store.
const DefaultEventLimit = 100_000

// EventSource names who reports an event: a component and, for node agents,
// the node.
type EventSource = events.Source

// Event records an event about obj, visible as an Event object in obj's
// namespace ("default" for cluster-scoped objects) and to watchers of
// KindEvent. Repeats (same object, type, reason, message and source) increase
// the count of one Event object. Events are deleted an hour after they last
// occurred (WithEventTTL), and past WithEventLimit of them the one seen
// longest ago goes first. Errors are logged, not returned: events are best
// effort, as in Kubernetes.
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
