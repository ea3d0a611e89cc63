package reconcile

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/podkit/podkit/objects"
)

// Request names the object a reconcile is about: the namespace (empty for
// a cluster-scoped kind) and name of an object of the controller's kind.
// It carries nothing else on purpose: a reconciler reads the object's
// current state, it never acts on what an event said.
type Request struct {
	Namespace string
	Name      string
}

// RequestFor returns the request naming obj.
func RequestFor(obj objects.Object) Request {
	m := obj.GetObjectMeta()
	return Request{Namespace: m.Namespace, Name: m.Name}
}

// Key returns the request as a store key.
func (r Request) Key() objects.Key { return objects.Key{Namespace: r.Namespace, Name: r.Name} }

// String returns "namespace/name", or "name" for a cluster-scoped object.
func (r Request) String() string { return r.Key().String() }

// Result tells the engine what to do after a successful reconcile.
type Result struct {
	// RequeueAfter, when positive, reconciles the request again after this
	// long on the manager's clock, for work that depends on time passing
	// (minReadySeconds, progress deadlines). A change to a watched object
	// reconciles it earlier anyway.
	RequeueAfter time.Duration
}

// Reconciler converges one object towards its desired state.
//
// Reconcile is level-based: it reads the object and whatever else it
// needs through the manager's Client, compares desired with current state
// and writes what differs, so that running it again with nothing changed
// writes nothing. It returns an error to be retried with exponential
// backoff, a Terminal error not to be retried, or a Result.
//
// The engine calls Reconcile from the controller's workers: never for one
// request on two workers at once, but for different requests concurrently.
// ctx ends when the controller's per-reconcile timeout passes or the
// manager stops. A panic is recovered and retried like an error.
type Reconciler interface {
	Reconcile(ctx context.Context, req Request) (Result, error)
}

// ReconcilerFunc adapts a function to Reconciler.
type ReconcilerFunc func(ctx context.Context, req Request) (Result, error)

// Reconcile calls f.
func (f ReconcilerFunc) Reconcile(ctx context.Context, req Request) (Result, error) {
	return f(ctx, req)
}

// Terminal marks err as not worth retrying (an invalid spec, say): the
// engine logs it and forgets the request until a watched object changes.
// Terminal(nil) is nil.
func Terminal(err error) error {
	if err == nil {
		return nil
	}
	return &terminalError{err}
}

// IsTerminal reports whether err, or an error it wraps, was made by
// Terminal.
func IsTerminal(err error) bool {
	var t *terminalError
	return errors.As(err, &t)
}

type terminalError struct{ err error }

func (t *terminalError) Error() string { return "terminal error: " + t.err.Error() }
func (t *terminalError) Unwrap() error { return t.err }

// EventRecorder records Kubernetes-style Events about objects. Recording
// is best effort: an implementation logs its failures, it does not return
// them. It must be safe for concurrent use.
type EventRecorder interface {
	Event(ctx context.Context, obj objects.Object, eventType, reason, message string)
}

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// batchRecorder is an EventRecorder that records many events about one
// object at once (podkit's does).
type batchRecorder interface {
	EventEach(ctx context.Context, obj objects.Object, eventType, reason string, messages []string)
}

// recordEach records one event about obj per message, all at once: a
// recorder that takes them together (batchRecorder), or that commits
// concurrent events together, writes a ReplicaSet's burst of
// SuccessfulCreate events in one transaction rather than one after the
// other.
func recordEach(ctx context.Context, rec EventRecorder, obj objects.Object, eventType, reason string, messages []string) {
	if len(messages) == 0 {
		return
	}
	if b, ok := rec.(batchRecorder); ok {
		b.EventEach(ctx, obj, eventType, reason, messages)
		return
	}
	// The first alone: a recorder may fill in obj's kind.
	rec.Event(ctx, obj, eventType, reason, messages[0])
	var wg sync.WaitGroup
	for _, msg := range messages[1:] {
		wg.Go(func() { rec.Event(ctx, obj, eventType, reason, msg) })
	}
	wg.Wait()
}

type discardRecorder struct{}

func (discardRecorder) Event(context.Context, objects.Object, string, string, string) {}
