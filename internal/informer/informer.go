// Package informer keeps an in-memory copy of every object of one kind,
// fed by a store watch, for controllers to read without a store
// transaction and to be told about changes.
//
// An Informer lists the kind in one View and watches from that View's
// revision, so it misses and repeats nothing. When the watch falls behind
// (store.ErrFellBehind) or the revision is no longer kept
// (store.ErrRevisionTooOld) it lists again and tells its handlers what
// changed in between, as adds, updates and deletes.
package informer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// DefaultWatchBuffer is the watch queue length an informer asks for.
const DefaultWatchBuffer = 16384

// Handler is told about every change an informer applies. It is called from
// the informer's goroutine, one call at a time, in revision order, after the
// cache holds the change. old is nil for an add, new is nil for a delete.
// Both are the cache's own objects: a handler must not modify them, and
// must return quickly (enqueue work, do not do it).
type Handler func(old, new objects.Object)

// Options configure an Informer. The zero value is usable.
type Options struct {
	// Indexes are the field indexes kept for List (default
	// store.DefaultIndexes()); those of other kinds are ignored.
	Indexes []store.FieldIndex
	// Clock times the pause before listing again after an error.
	Clock clockwork.Clock
	// Logger reports errors that are retried.
	Logger *slog.Logger
	// WatchBuffer is the watch queue length (default DefaultWatchBuffer).
	WatchBuffer int
}

// Informer caches the objects of one kind. Its methods are safe for
// concurrent use; AddHandler must be called before Run.
type Informer struct {
	store  store.Store
	kind   string
	clock  clockwork.Clock
	log    *slog.Logger
	buffer int
	ixs    []store.FieldIndex

	handlers []Handler

	mu      sync.RWMutex
	objs    map[objects.Key]objects.Object
	byNS    map[string]map[objects.Key]struct{}
	byField map[string]map[string]map[objects.Key]struct{} // field -> value -> keys
	rev     int64
	synced  bool
	// progress is closed when the cache changes; made by the first waiter
	// after a change, so that changes nobody waits for allocate nothing.
	progressMu sync.Mutex
	progress   chan struct{}
}

// New returns an informer of kind over s. It caches nothing until Run.
func New(s store.Store, kind string, o Options) *Informer {
	if o.Indexes == nil {
		o.Indexes = store.DefaultIndexes()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.WatchBuffer <= 0 {
		o.WatchBuffer = DefaultWatchBuffer
	}
	i := &Informer{
		store: s, kind: kind, clock: o.Clock, log: o.Logger.With("kind", kind), buffer: o.WatchBuffer,
		objs: map[objects.Key]objects.Object{}, byNS: map[string]map[objects.Key]struct{}{},
		byField: map[string]map[string]map[objects.Key]struct{}{},
	}
	for _, ix := range o.Indexes {
		if ix.Kind == "" || ix.Kind == kind {
			i.ixs = append(i.ixs, ix)
			i.byField[ix.Field] = map[string]map[objects.Key]struct{}{}
		}
	}
	return i
}

// Kind returns the kind the informer caches.
func (i *Informer) Kind() string { return i.kind }

// AddHandler adds a handler. Call it before Run: handlers added later miss
// changes.
func (i *Informer) AddHandler(h Handler) { i.handlers = append(i.handlers, h) }

// Run fills the cache and keeps it current until ctx ends. It returns nil
// when ctx ends, or an error wrapping store.ErrClosed or
// store.ErrUnknownKind, which no retry can fix.
func (i *Informer) Run(ctx context.Context) error {
	const maxPause = 5 * time.Second
	pause := 10 * time.Millisecond
	for {
		err := i.listAndWatch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrUnknownKind):
			return fmt.Errorf("informer %s: %w", i.kind, err)
		case errors.Is(err, store.ErrFellBehind), errors.Is(err, store.ErrRevisionTooOld), errors.Is(err, errRelist):
			// Expected under load: list again at once.
			i.log.Debug("watch restarting", "err", err)
			continue
		case err != nil:
			i.log.Warn("watch failed; listing again", "err", err, "after", pause)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-i.clock.After(pause):
		}
		pause = min(pause*2, maxPause)
	}
}

func (i *Informer) listAndWatch(ctx context.Context) error {
	rev, err := i.list(ctx)
	if err != nil {
		return err
	}
	w, err := i.store.Watch(ctx, store.WatchOptions{Kind: i.kind, Revision: rev, Buffer: i.buffer})
	if err != nil {
		return err
	}
	defer w.Stop()
	if rev == 0 {
		// Revision 0 means "from now" to Watch: a commit between the list
		// and the watch would be lost, so list again once there is one.
		if err := i.store.View(ctx, func(tx store.ReadTx) error {
			if tx.Revision() != 0 {
				rev = tx.Revision()
			}
			return nil
		}); err != nil {
			return err
		}
		if rev != 0 {
			return errRelist
		}
	}
	for ev := range w.Events() {
		i.apply(ev)
	}
	if err := w.Err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("watch ended")
}

var errRelist = errors.New("list again")

func (i *Informer) list(ctx context.Context) (int64, error) {
	var (
		objs []objects.Object
		rev  int64
	)
	err := i.store.View(ctx, func(tx store.ReadTx) error {
		// The stored objects when the store hands them out, as apply
		// keeps those of watch events: a relist after falling behind,
		// under the load that made it fall behind, then copies nothing.
		var err error
		objs, err = store.PeekList(tx, i.kind, store.ListOptions{})
		rev = tx.Revision()
		return err
	})
	if err != nil {
		return 0, err
	}
	type change struct{ old, new objects.Object }
	var changes []change
	i.mu.Lock()
	seen := make(map[objects.Key]struct{}, len(objs))
	for _, obj := range objs {
		k := obj.GetObjectMeta().Key()
		seen[k] = struct{}{}
		old := i.objs[k]
		if old != nil && old.GetObjectMeta().ResourceVersion == obj.GetObjectMeta().ResourceVersion {
			continue
		}
		i.put(k, old, obj)
		changes = append(changes, change{old, obj})
	}
	for k, old := range i.objs {
		if _, ok := seen[k]; !ok {
			i.remove(k, old)
			changes = append(changes, change{old, nil})
		}
	}
	i.rev = rev
	i.synced = true
	i.notifyLocked()
	i.mu.Unlock()
	for _, c := range changes {
		i.dispatch(c.old, c.new)
	}
	return rev, nil
}

func (i *Informer) apply(ev store.Event) {
	k := ev.Key()
	var obj objects.Object
	if ev.Type != store.Deleted {
		// The store never modifies an object in an event, and the cache
		// hands out its objects read-only: keep it rather than a copy.
		obj = ev.Peek()
	}
	i.mu.Lock()
	old := i.objs[k]
	if obj != nil {
		i.put(k, old, obj)
	} else if old != nil {
		i.remove(k, old)
	}
	// The cache is at a revision once it holds all of it: a transaction
	// that deletes and creates a key again, or writes it twice, must not
	// be read half applied.
	if ev.More() {
		i.rev = ev.Revision - 1
	} else {
		i.rev = ev.Revision
	}
	i.notifyLocked()
	i.mu.Unlock()
	if old == nil && obj == nil {
		return
	}
	i.dispatch(old, obj)
}

func (i *Informer) dispatch(old, new objects.Object) {
	for _, h := range i.handlers {
		h(old, new)
	}
}

func (i *Informer) notifyLocked() {
	i.progressMu.Lock()
	if i.progress != nil {
		close(i.progress)
		i.progress = nil
	}
	i.progressMu.Unlock()
}

func (i *Informer) put(k objects.Key, old, obj objects.Object) {
	i.objs[k] = obj
	if old == nil {
		ns := i.byNS[k.Namespace]
		if ns == nil {
			ns = map[objects.Key]struct{}{}
			i.byNS[k.Namespace] = ns
		}
		ns[k] = struct{}{}
	}
	for _, ix := range i.ixs {
		vals := i.byField[ix.Field]
		is := ix.Func(obj)
		if old != nil {
			// Most updates (a status) keep the indexed values.
			was := ix.Func(old)
			if slices.Equal(was, is) {
				continue
			}
			unindexValues(vals, k, was)
		}
		for _, v := range is {
			set := vals[v]
			if set == nil {
				set = map[objects.Key]struct{}{}
				vals[v] = set
			}
			set[k] = struct{}{}
		}
	}
}

func (i *Informer) remove(k objects.Key, old objects.Object) {
	for _, ix := range i.ixs {
		unindexValues(i.byField[ix.Field], k, ix.Func(old))
	}
	delete(i.objs, k)
	if ns := i.byNS[k.Namespace]; ns != nil {
		delete(ns, k)
		if len(ns) == 0 {
			delete(i.byNS, k.Namespace)
		}
	}
}

func unindexValues(vals map[string]map[objects.Key]struct{}, k objects.Key, old []string) {
	for _, v := range old {
		if set := vals[v]; set != nil {
			delete(set, k)
			if len(set) == 0 {
				delete(vals, v)
			}
		}
	}
}

// HasSynced reports whether the first list has filled the cache.
func (i *Informer) HasSynced() bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.synced
}

// Revision returns the revision of the last change the cache applied.
func (i *Informer) Revision() int64 {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.rev
}

// WaitFor blocks until cond, evaluated against the cache, holds or ctx
// ends. cond is called with the cache locked for reading: it may call the
// Locked methods of v only.
func (i *Informer) WaitFor(ctx context.Context, cond func(v Locked) bool) error {
	for {
		i.mu.RLock()
		if cond(Locked{i}) {
			i.mu.RUnlock()
			return nil
		}
		i.progressMu.Lock()
		if i.progress == nil {
			i.progress = make(chan struct{})
		}
		ch := i.progress
		i.progressMu.Unlock()
		i.mu.RUnlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitForSync blocks until the first list has filled the cache.
func (i *Informer) WaitForSync(ctx context.Context) error {
	return i.WaitFor(ctx, func(v Locked) bool { return v.i.synced })
}

// Locked reads the cache of an informer whose lock the caller holds; see
// WaitFor.
type Locked struct{ i *Informer }

// Revision is Informer.Revision.
func (v Locked) Revision() int64 { return v.i.rev }

// Synced is Informer.HasSynced.
func (v Locked) Synced() bool { return v.i.synced }

// Observed reports whether the cache reflects a write committed at rev to
// the object with key: it has applied a later revision, or it has applied
// rev and holds the object as that write left it (removed tells whether
// the write removed it).
func (v Locked) Observed(key objects.Key, rev int64, removed bool) bool {
	switch {
	case v.i.rev > rev:
		return true
	case v.i.rev < rev:
		return false
	}
	obj, ok := v.i.objs[key]
	if removed {
		return !ok
	}
	return ok && obj.GetObjectMeta().ResourceVersion == strconv.FormatInt(rev, 10)
}

// Has reports whether the cache holds an object with key.
func (v Locked) Has(key objects.Key) bool {
	_, ok := v.i.objs[key]
	return ok
}

// Get returns the cached object with key. It is the cache's own: do not
// modify it.
func (i *Informer) Get(key objects.Key) (objects.Object, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	obj, ok := i.objs[key]
	return obj, ok
}

// ErrUnknownIndex is wrapped by List for a field the informer has no index
// of; the store may still answer.
var ErrUnknownIndex = store.ErrUnknownIndex

// List returns the cached objects matching opts and keep (nil keeps all),
// sorted by namespace and name. They are the cache's own: do not modify
// them.
func (i *Informer) List(opts store.ListOptions, keep func(objects.Object) bool) ([]objects.Object, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	var keys map[objects.Key]struct{}
	for f, v := range opts.Fields {
		vals, ok := i.byField[f]
		if !ok {
			return nil, fmt.Errorf("list %s: field %s: %w", i.kind, f, ErrUnknownIndex)
		}
		set := vals[v]
		if keys == nil || len(set) < len(keys) {
			keys = set
		}
		if len(keys) == 0 {
			return nil, nil
		}
	}
	match := func(k objects.Key, obj objects.Object) bool {
		if opts.Namespace != "" && k.Namespace != opts.Namespace && k.Namespace != "" {
			return false
		}
		m := obj.GetObjectMeta()
		if opts.Labels != nil && !opts.Labels.Matches(m.Labels) {
			return false
		}
		for f, v := range opts.Fields {
			if _, ok := i.byField[f][v][k]; !ok {
				return false
			}
		}
		return keep == nil || keep(obj)
	}
	var out []objects.Object
	collect := func(set map[objects.Key]struct{}) {
		for k := range set {
			if obj := i.objs[k]; match(k, obj) {
				out = append(out, obj)
			}
		}
	}
	switch {
	case keys != nil:
		collect(keys)
	case opts.Namespace != "":
		collect(i.byNS[opts.Namespace])
		if len(i.byNS[""]) > 0 { // a cluster-scoped kind ignores the namespace
			collect(i.byNS[""])
		}
	default:
		for k, obj := range i.objs {
			if match(k, obj) {
				out = append(out, obj)
			}
		}
	}
	slices.SortFunc(out, func(a, b objects.Object) int {
		am, bm := a.GetObjectMeta(), b.GetObjectMeta()
		if am.Namespace != bm.Namespace {
			if am.Namespace < bm.Namespace {
				return -1
			}
			return 1
		}
		if am.Name < bm.Name {
			return -1
		}
		if am.Name > bm.Name {
			return 1
		}
		return 0
	})
	return out, nil
}

// Len returns the number of cached objects.
func (i *Informer) Len() int {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return len(i.objs)
}
