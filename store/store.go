// Package store defines the Store podkit keeps every object in: callback
// transactions over any kind registered in an objects.Scheme, optimistic
// concurrency on resourceVersion, finalizer-aware deletion, one global
// revision, and watches that resume from a revision.
//
// Backends live in sub-packages (store/memdb, the default; store/bolt,
// memdb made durable on a file; store/etcd, memdb made durable in an etcd
// cluster) and all pass the conformance suite in store/storetest, which a
// host's own backend can run too.
package store

import (
	"context"
	"errors"

	"github.com/podkit/podkit/objects"
)

// Sentinel errors. Backends wrap them with %w and a message naming the
// object; test with errors.Is.
var (
	// ErrNotFound: no object of that kind and key.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: Create of a kind and key already stored.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object changed since the resourceVersion the write was
	// based on; read it again and retry.
	ErrConflict = errors.New("the object has been modified; please apply your changes to the latest version and try again")
	// ErrRevisionTooOld: a watch asked to resume from a revision whose events
	// are no longer kept; list again and watch from the list's revision.
	ErrRevisionTooOld = errors.New("revision is too old")
	// ErrFellBehind: a watcher did not keep up and its queue filled; its
	// channel is closed. List again and watch from the list's revision.
	ErrFellBehind = errors.New("watcher fell behind")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store is closed")
	// ErrUnknownKind: the kind is not registered in the store's scheme.
	ErrUnknownKind = errors.New("kind is not registered")
	// ErrUnknownIndex: a field selector names a field that has no index.
	ErrUnknownIndex = errors.New("field has no index")
)

// Store holds objects of every kind registered in its scheme.
//
// All methods are safe for concurrent use. Objects passed in are not
// retained, and objects handed out are the caller's own copies.
type Store interface {
	// View runs fn in a read transaction: every read inside sees one
	// consistent snapshot, at tx.Revision().
	View(ctx context.Context, fn func(tx ReadTx) error) error
	// Update runs fn in a write transaction. If fn returns nil every write
	// commits atomically at one new revision; otherwise none does and fn's
	// error is returned. Write transactions are serialised; keep fn short.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Watch streams the changes committed after opts.Revision (0: from now).
	// Revisions are positive even for an empty store, so a snapshot's
	// revision is never 0.
	// To list and then watch without missing or repeating a change, list in
	// View and watch from that transaction's revision.
	Watch(ctx context.Context, opts WatchOptions) (Watcher, error)
	// Revision returns the revision of the last commit.
	Revision() int64
	// Scheme returns the scheme whose kinds the store holds.
	Scheme() *objects.Scheme
	// Close releases the store; watches end with ErrClosed.
	Close() error
}

// CreatePreparer is implemented by kinds that complete a new object once
// the store has set its server fields, as Kubernetes' PrepareForCreate runs
// after the uid is assigned: a Job generates its selector from its uid;
// most built-in kinds reset the status a client sent, a Pod to Pending.
// Create calls it on the copy it stores and, so that the caller sees the
// result without a copy of the whole object, on the caller's object once
// it has the same server fields: it must depend only on the object, and
// should replace rather than modify the maps and slices it changes, which
// the caller's object may share.
type CreatePreparer interface {
	PrepareForCreate()
}

// GenerationKeeper is implemented by kinds some of whose content changes
// make no new generation: an update whose content differs from the stored
// object's keeps metadata.generation when KeepsGeneration(old) reports
// true, as a pod's binding to a node does in Kubernetes.
type GenerationKeeper interface {
	KeepsGeneration(old objects.Object) bool
}

// GracefulDeleter is implemented by kinds whose deletion may be graceful,
// as only pods' is in Kubernetes. Delete keeps such an object, when
// GracefulDelete reports true, for the grace period asked for, with
// deletionTimestamp set, for someone (a pod's node agent) to finish the
// deletion with grace 0. Objects of other kinds are deleted at once,
// whatever grace period is asked for; their finalizers still keep them.
type GracefulDeleter interface {
	// GracefulDelete reports whether a deletion with a grace period keeps
	// the object for it: a pod only while it is bound to a node and not
	// terminated.
	GracefulDelete() bool
}

// ReadTx reads within one snapshot.
type ReadTx interface {
	// Get returns the object of kind with key, or an error wrapping ErrNotFound.
	Get(kind string, key objects.Key) (objects.Object, error)
	// List returns the objects of kind that match opts, sorted by namespace
	// and name.
	List(kind string, opts ListOptions) ([]objects.Object, error)
	// Revision is the revision of the snapshot; inside Update, the revision
	// the transaction commits at if it writes.
	Revision() int64
}

// Tx reads and writes within one write transaction. Writes are visible to
// later reads of the same transaction. Each write sets the server-managed
// fields of the object passed in (uid, resourceVersion, generation,
// timestamps; Update and UpdateStatus make it a copy of what was stored),
// so the caller sees what was stored. If the transaction does not commit,
// objects passed in keep those fields of writes that never happened.
//
// Every object a transaction writes gets its revision as resourceVersion,
// and each write is one event, in the order of the writes.
type Tx interface {
	ReadTx
	// Create stores a new object. An empty name with generateName set gets a
	// random suffix. The kind comes from the object's Go type; a kind that
	// is a CreatePreparer completes the object (the built-in kinds but Node
	// reset the status sent, as Kubernetes does).
	Create(obj objects.Object) error
	// Update replaces metadata and every field but the status, which is
	// kept as stored, as are uid, creationTimestamp and the deletion fields.
	// A non-empty resourceVersion must equal the stored one (else
	// ErrConflict), as must a non-empty uid; an empty one updates
	// unconditionally. Generation increases when a field other than
	// metadata and status changes: the spec, or for kinds without one their
	// data. An update that changes nothing writes nothing. Finalizers cannot
	// be added to an object being deleted; removing the last one removes the
	// object unless a grace period is pending.
	Update(obj objects.Object) error
	// UpdateStatus replaces only the status, with the same concurrency rule.
	// Kinds without a Status field reject it (objects.ErrInvalid).
	UpdateStatus(obj objects.Object) error
	// Delete deletes the object, honouring finalizers: an object with
	// finalizers (after opts.PropagationPolicy adds its own) or a positive
	// grace period (see GracefulDeleter) is kept with deletionTimestamp
	// set, and its generation increased by one, as Kubernetes marks an
	// object being deleted; it is removed when the last finalizer goes or
	// it is deleted again with grace 0. Deleting it again with a shorter
	// grace period shortens it. It returns the object's last state; when
	// the object is removed, that state (and its Deleted event) carries
	// the revision of the deletion.
	Delete(kind string, key objects.Key, opts DeleteOptions) (objects.Object, error)
}

// StatusUpdater is implemented by a Tx that can replace an object's spec
// and status in one write, as Kubernetes' pod binding sets spec.nodeName
// and the PodScheduled condition together. Find it by type assertion;
// every backend in this module has it.
type StatusUpdater interface {
	// UpdateWithStatus is Update and UpdateStatus in one write and one
	// event: it replaces metadata, every field and the status, with
	// Update's rules (concurrency, server fields, generation, finalizers).
	// Kinds without a Status field reject it (objects.ErrInvalid). obj
	// receives the server fields of what was stored; the rest of what was
	// stored is obj's own.
	UpdateWithStatus(obj objects.Object) error
}

// Lifetime is implemented by a store that can stop serving on its own,
// as store/etcd does when another store takes its lock: Done is closed
// then (and on Close), and Err says why. An orchestrator's Run returns
// once its store stops serving, with that error.
type Lifetime interface {
	Done() <-chan struct{}
	Err() error
}

// StatusAdopter is implemented by a Tx that can store what UpdateWithStatus
// writes without copying it, as Adopter does a new object: for hot paths
// that build each version afresh over a stored one and never touch it
// again, such as a node agent's status writes and a scheduler's bindings.
// Find it by type assertion; every backend in this module has it.
type StatusAdopter interface {
	// AdoptWithStatus is UpdateWithStatus, with its rules and event,
	// keeping obj itself, given the server fields, as the stored object.
	// Once it returns nil, obj must never be modified: it is one of
	// Peeker's objects (or, when the write changed nothing, holds what is
	// stored). It may share unchanged parts with the version it replaces.
	// When it fails obj is the caller's again.
	AdoptWithStatus(obj objects.Object) error
}

// AdoptWithStatus writes obj as su.UpdateWithStatus does, through
// StatusAdopter when su is one. Either way the caller must not modify obj
// afterwards.
func AdoptWithStatus(su StatusUpdater, obj objects.Object) error {
	if a, ok := su.(StatusAdopter); ok {
		return a.AdoptWithStatus(obj)
	}
	return su.UpdateWithStatus(obj)
}

// Remover is implemented by a Tx that can delete without handing back the
// object's last state, which costs a copy of the object: for hot paths
// that delete many objects and need only the error, as a Kubernetes
// client's Delete returns only an error. Find it by type assertion; every
// backend in this module has it.
type Remover interface {
	// Remove is Delete, with Delete's rules and event, returning only its
	// error.
	Remove(kind string, key objects.Key, opts DeleteOptions) error
}

// Remove deletes as tx.Delete does, through Remover when tx is one.
func Remove(tx Tx, kind string, key objects.Key, opts DeleteOptions) error {
	if r, ok := tx.(Remover); ok {
		return r.Remove(kind, key, opts)
	}
	_, err := tx.Delete(kind, key, opts)
	return err
}

// Adopter is implemented by a Tx that can store a new object without
// copying it, for hot paths that build an object only to store it, as a
// ReplicaSet controller builds each pod from its template. Find it by type
// assertion; every backend in this module has it.
type Adopter interface {
	// Adopt is Create, with Create's rules and event, keeping obj itself
	// rather than a copy. Once it succeeds, obj is a stored object: it,
	// and every map, slice and pointer it refers to, must never be
	// modified again, by the caller or anyone; it may be read and kept, as
	// Peeker's objects. When it fails obj is the caller's again.
	Adopt(obj objects.Object) error
}

// Adopt creates obj as tx.Create does, through Adopter when tx is one.
// Either way the caller must not modify obj afterwards.
func Adopt(tx Tx, obj objects.Object) error {
	if a, ok := tx.(Adopter); ok {
		return a.Adopt(obj)
	}
	return tx.Create(obj)
}

// Peeker is implemented by a ReadTx (and Tx) that can hand out stored
// objects without copying them, for hot paths that read a few fields of
// many objects. Find it by type assertion; every backend in this module has it.
type Peeker interface {
	// Peek returns the stored object of kind with key, or an error
	// wrapping ErrNotFound. It must never be modified. A backend never
	// modifies a stored object, so it may be kept, read-only.
	Peek(kind string, key objects.Key) (objects.Object, error)
	// PeekList is List handing out the stored objects, under the same
	// rule as Peek: read them, keep them if need be, never modify them.
	PeekList(kind string, opts ListOptions) ([]objects.Object, error)
}

// Peek reads as tx.Get does, handing out the stored object when tx is a
// Peeker: for callers that only read it, or keep it read-only.
func Peek(tx ReadTx, kind string, key objects.Key) (objects.Object, error) {
	if p, ok := tx.(Peeker); ok {
		return p.Peek(kind, key)
	}
	return tx.Get(kind, key)
}

// PeekList lists as tx.List does, handing out the stored objects when tx is
// a Peeker: for callers that only read them, or keep them read-only.
func PeekList(tx ReadTx, kind string, opts ListOptions) ([]objects.Object, error) {
	if p, ok := tx.(Peeker); ok {
		return p.PeekList(kind, opts)
	}
	return tx.List(kind, opts)
}

// ListOptions narrow a List or a Watch.
type ListOptions struct {
	// Namespace limits the result to one namespace; empty means all.
	Namespace string
	// Labels is a label selector; nil matches everything.
	Labels objects.Selector
	// Fields requires exact values of indexed fields, for example
	// {"spec.nodeName": "n1"} for pods, or {IndexOwner: uid} for any kind.
	// A field without an index is an error wrapping ErrUnknownIndex.
	Fields map[string]string
}

// PropagationPolicy says what deleting an owner does to its dependents.
type PropagationPolicy string

// Propagation policies, as Kubernetes names them.
const (
	// DeletePropagationBackground deletes the owner now; the garbage
	// collector deletes dependents afterwards.
	DeletePropagationBackground PropagationPolicy = "Background"
	// DeletePropagationForeground keeps the owner, with the
	// foregroundDeletion finalizer, until its dependents are gone.
	DeletePropagationForeground PropagationPolicy = "Foreground"
	// DeletePropagationOrphan keeps the dependents and removes their owner
	// references; the owner has the orphan finalizer until that is done.
	DeletePropagationOrphan PropagationPolicy = "Orphan"
)

// DeleteOptions tune a Delete.
type DeleteOptions struct {
	// GracePeriodSeconds, when positive, keeps an object whose kind is a
	// GracefulDeleter (a pod bound to a node and not terminated) with
	// deletionTimestamp set that far in the future, for a node agent to
	// stop it gracefully and then delete it with grace 0. Other objects
	// are deleted at once. nil means 0 (a caller picks a pod's
	// terminationGracePeriodSeconds).
	GracePeriodSeconds *int64
	// PropagationPolicy is recorded as a finalizer for the garbage collector
	// (Foreground, Orphan); empty means Background.
	PropagationPolicy PropagationPolicy
	// Preconditions, when set, must match the stored object.
	Preconditions *Preconditions
}

// Preconditions guard a Delete against deleting a replaced or changed object.
type Preconditions struct {
	UID             string
	ResourceVersion string
}

// EventType says what happened to an object.
type EventType string

// Event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
)

// Event is one change seen by a watcher. Several events may share a revision
// when one transaction wrote several objects; they come in the order of the
// writes.
type Event struct {
	Type     EventType
	Revision int64
	obj      objects.Object
	more     bool
}

// NewEvent builds an event for a backend. obj is kept as is and must never
// be modified afterwards.
func NewEvent(t EventType, rev int64, obj objects.Object) Event {
	return Event{Type: t, Revision: rev, obj: obj}
}

// More reports whether the watch delivers another event of the same
// revision right after this one: a transaction's writes are one revision,
// and a cache that has applied an event whose More is false has applied
// the whole transaction it saw, so that it can tell readers it is at that
// revision.
func (e Event) More() bool { return e.more }

// WithMore returns e with More set, for a backend.
func (e Event) WithMore(more bool) Event {
	e.more = more
	return e
}

// Object returns a copy of the object as the change left it (for Deleted, its
// last state).
func (e Event) Object() objects.Object { return e.obj.DeepCopyObject() }

// Kind returns the kind of the object.
func (e Event) Kind() string { return e.obj.GetTypeMeta().Kind }

// Key returns the namespace and name of the object.
func (e Event) Key() objects.Key { return e.obj.GetObjectMeta().Key() }

// Peek returns the stored object itself, without copying, for hot paths.
// It must never be modified. A backend never modifies an object once it is
// in an event, so it may be kept, read-only, for as long as needed: keeping
// it costs no memory while the store holds the same version.
func (e Event) Peek() objects.Object { return e.obj }

// WatchOptions choose what a watch sees.
type WatchOptions struct {
	// Kind limits the watch to one kind; empty means every kind.
	Kind string
	// Namespace, Labels and Fields filter as in ListOptions; a field must be
	// indexed for Kind, or for every kind when Kind is empty. A change that
	// brings an object into the filter is delivered as Added (with the new
	// state), one that takes it out as Deleted (with the state it had
	// before, at the change's resourceVersion), as Kubernetes' watch cache
	// does.
	ListOptions
	// Revision: events after this revision are delivered; 0 means from now.
	Revision int64
	// Buffer is the watcher's queue length; 0 picks the backend default. A
	// watcher whose queue fills is ended with ErrFellBehind.
	Buffer int
}

// Watcher is a running watch.
type Watcher interface {
	// Events delivers events in revision order. It is closed when the watch
	// ends: by Stop, by the context ending, by the store closing, or by the
	// watcher falling behind.
	Events() <-chan Event
	// Err tells why the channel was closed: nil after Stop or the context
	// ending, ErrFellBehind, or ErrClosed.
	Err() error
	// Stop ends the watch. It may be called more than once.
	Stop()
}

// Names of the indexes every backend keeps (besides namespace and labels).
const (
	// IndexOwner indexes every kind by the uids in metadata.ownerReferences.
	IndexOwner = "metadata.ownerReferences.uid"
	// IndexNodeName indexes pods by spec.nodeName.
	IndexNodeName = "spec.nodeName"
)

// IndexFunc returns the values of an indexed field of obj. It is called on
// every write of the kind, and on every event for watches that filter on the
// field, so it must be cheap and depend only on obj. Values containing a NUL
// byte are not indexed.
type IndexFunc func(obj objects.Object) []string

// FieldIndex is an index on one field of one kind ("" for every kind).
type FieldIndex struct {
	Kind  string
	Field string
	Func  IndexFunc
}
