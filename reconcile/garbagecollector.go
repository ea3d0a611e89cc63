package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/podkit/podkit/internal/workqueue"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// GarbageCollector returns the garbage collector, for Manager.AddRunnable.
//
// It deletes objects whose owners are gone, following
// metadata.ownerReferences across every kind in the scheme (a host's own
// kinds too), as Kubernetes' garbage collector does:
//
//   - Background: the owner is gone; its dependents are deleted, unless
//     another owner still exists (then only the reference to the gone
//     owner is removed).
//   - Foreground: the owner is kept, with the foregroundDeletion finalizer,
//     while its dependents are deleted (those that have dependents of their
//     own in the foreground too); the finalizer is removed once no
//     dependent with blockOwnerDeletion remains, so the owner goes last.
//   - Orphan: the owner's references are removed from its dependents, then
//     the orphan finalizer from the owner.
//
// It also empties namespaces being deleted: a namespace has the
// "kubernetes" finalizer from its creation (the collector gives it to one
// stored without it); when it is deleted it turns
// Terminating, everything in it is deleted, and the finalizer is removed
// once it is empty. Namespaces that never existed are left alone.
//
// It watches the store for every kind and reads and writes the store
// itself (not the caches), so it costs no memory per cached kind.
func GarbageCollector(m *Manager) Runnable {
	return &garbageCollector{
		m: m, s: m.store, c: m.Client(), log: m.cfg.log.With("controller", "garbage-collector"),
		workers: 8,
	}
}

// namespaceFinalizer keeps a deleted namespace until it is empty.
const namespaceFinalizer = string(objects.FinalizerKubernetes)

// gcItem identifies an object, by uid as well: a name may be reused.
type gcItem struct {
	Kind, Namespace, Name, UID string
}

func itemOf(obj objects.Object) gcItem {
	m := obj.GetObjectMeta()
	return gcItem{Kind: obj.GetTypeMeta().Kind, Namespace: m.Namespace, Name: m.Name, UID: m.UID}
}

func (i gcItem) key() objects.Key { return objects.Key{Namespace: i.Namespace, Name: i.Name} }

func (i gcItem) String() string { return i.Kind + " " + i.key().String() }

// waiting reports whether obj is being deleted with the
// foregroundDeletion or orphan finalizer, so that a change to one of its
// dependents may let it go.
func waiting(obj objects.Object) bool {
	m := obj.GetObjectMeta()
	return m.IsDeleting() && (m.HasFinalizer(objects.FinalizerForeground) || m.HasFinalizer(objects.FinalizerOrphan))
}

func ownersOf(obj objects.Object) []objects.OwnerReference {
	return obj.GetObjectMeta().OwnerReferences
}

type garbageCollector struct {
	m       *Manager
	s       store.Store
	c       *Client
	log     *slog.Logger
	workers int
	queue   *workqueue.Queue[gcItem]

	mu sync.Mutex
	// nodes are the objects of the graph by uid, each as last watched or
	// listed: from a store that hands out its own (store.Peeker, as every
	// backend here does), they cost no memory while the store holds the
	// same version.
	nodes map[string]objects.Object
	// dependents counts the references to each owner uid from nodes.
	dependents map[string]int32
	// namespaces: the state of each namespace seen; terminating ones (being
	// deleted, or deleted while not empty) have their content removed.
	namespaces map[string]nsState
	// events counts the Events in nodes (see put): while there are none,
	// the changes of Events, most of all the collector sees, are handled
	// without a lookup in nodes, a map of every object.
	events int
}

type nsState int

const (
	nsActive nsState = iota + 1
	nsTerminating
)

// Run collects garbage until ctx ends.
func (gc *garbageCollector) Run(ctx context.Context) error {
	gc.queue = workqueue.New[gcItem](workqueue.Options{Clock: gc.m.cfg.clock})
	var wg sync.WaitGroup
	w := &workers[gcItem]{queue: gc.queue, fn: gc.process, timeout: defaultTimeout, log: gc.log}
	for i := 0; i < gc.workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	err := gc.listAndWatchLoop(ctx)
	gc.queue.ShutDown()
	wg.Wait()
	return err
}

func (gc *garbageCollector) listAndWatchLoop(ctx context.Context) error {
	pause := 10 * time.Millisecond
	for {
		err := gc.listAndWatch(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, store.ErrClosed):
			return fmt.Errorf("garbage collector: %w", err)
		case errors.Is(err, store.ErrFellBehind), errors.Is(err, store.ErrRevisionTooOld):
			continue
		}
		gc.log.Warn("watch failed; listing again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-gc.m.cfg.clock.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func (gc *garbageCollector) listAndWatch(ctx context.Context) error {
	var (
		all []objects.Object
		rev int64
	)
	err := gc.s.View(ctx, func(tx store.ReadTx) error {
		rev = tx.Revision()
		for _, k := range gc.s.Scheme().Kinds() {
			// Kept in the graph: the stored objects, not copies.
			objs, err := store.PeekList(tx, k.Kind, store.ListOptions{})
			if err != nil {
				return err
			}
			all = append(all, objs...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	gc.replace(all)
	if rev == 0 {
		rev = gc.s.Revision() // nothing was ever written; a write since is listed next time
		if rev != 0 {
			return store.ErrRevisionTooOld
		}
	}
	w, err := gc.s.Watch(ctx, store.WatchOptions{Revision: rev, Buffer: 1 << 16})
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.Events() {
		if ev.Type == store.Deleted {
			gc.deleted(ev.Peek())
		} else {
			gc.changed(ev.Peek())
		}
	}
	return w.Err()
}

// replace rebuilds the graph from a full list and queues what needs a look.
func (gc *garbageCollector) replace(all []objects.Object) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	old := gc.nodes
	gc.nodes = make(map[string]objects.Object, len(all))
	gc.dependents = map[string]int32{}
	gc.events = 0
	oldNS := gc.namespaces
	gc.namespaces = map[string]nsState{}
	for _, o := range all {
		gc.put(o)
	}
	for uid, o := range old {
		if _, ok := gc.nodes[uid]; !ok && gc.dependents[uid] > 0 {
			gc.queue.Add(itemOf(o)) // went while the watch was down
		}
	}
	for ns, st := range oldNS {
		if _, ok := gc.namespaces[ns]; !ok && st != 0 {
			gc.namespaces[ns] = nsTerminating
			gc.queue.Add(gcItem{Kind: kindNamespace, Name: ns})
		}
	}
	for _, o := range all {
		_, in := gc.nodes[o.GetObjectMeta().UID]
		gc.check(o, nil, in)
	}
}

// kindEvent is not in the graph unless it has owners (see put).
const kindEvent = "Event"

// put records obj in the graph and returns the version it replaces, and
// whether obj is in the graph. Call with gc.mu held.
//
// Events, a few per pod, own nothing in practice: one without owner
// references is left out, to keep the graph to the objects that matter.
// Were one an owner after all, its dependents would look orphaned to
// check, which then only has process read the store, where the owner is.
func (gc *garbageCollector) put(obj objects.Object) (prev objects.Object, in bool) {
	m := obj.GetObjectMeta()
	event := obj.GetTypeMeta().Kind == kindEvent
	if event && len(m.OwnerReferences) == 0 && !waiting(obj) {
		if gc.events > 0 {
			if prev = gc.nodes[m.UID]; prev != nil {
				gc.unlink(prev)
				delete(gc.nodes, m.UID)
				gc.events--
			}
		}
		return prev, false
	}
	prev = gc.nodes[m.UID]
	if event && prev == nil {
		gc.events++
	}
	// Replaced even when only the status changed, so that no older version
	// stays in memory for the graph's sake.
	gc.nodes[m.UID] = obj
	// Most changes (a status) leave the references alone.
	if prev == nil || !slices.EqualFunc(ownersOf(prev), m.OwnerReferences, sameOwner) {
		if prev != nil {
			gc.unlink(prev)
		}
		for _, r := range m.OwnerReferences {
			gc.dependents[r.UID]++
		}
	}
	if obj.GetTypeMeta().Kind == kindNamespace {
		if m.IsDeleting() {
			gc.namespaces[m.Name] = nsTerminating
		} else {
			gc.namespaces[m.Name] = nsActive
		}
	}
	return prev, true
}

// unlink removes the references of obj, a version in the graph, from the
// counts of dependents.
func (gc *garbageCollector) unlink(obj objects.Object) {
	for _, r := range ownersOf(obj) {
		if n := gc.dependents[r.UID]; n > 1 {
			gc.dependents[r.UID] = n - 1
		} else {
			delete(gc.dependents, r.UID)
		}
	}
}

func (gc *garbageCollector) changed(obj objects.Object) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	prev, in := gc.put(obj)
	gc.check(obj, prev, in)
}

// check queues obj, or objects it affects, when a change from prev (nil
// when new) may need the collector to act; in tells whether obj is in the
// graph. Call with gc.mu held.
func (gc *garbageCollector) check(obj, prev objects.Object, in bool) {
	m := obj.GetObjectMeta()
	if !in { // left out of the graph (see put)
		if m.Namespace != "" && gc.namespaces[m.Namespace] == nsTerminating {
			gc.queue.Add(gcItem{Kind: kindNamespace, Name: m.Namespace})
		}
		if prev != nil { // its references were removed: an owner may go
			gc.queueWaitingOwners(prev)
		}
		return
	}
	if waiting(obj) {
		gc.queue.Add(itemOf(obj))
	}
	if obj.GetTypeMeta().Kind == kindNamespace {
		if m.IsDeleting() || !m.HasFinalizer(namespaceFinalizer) {
			gc.queue.Add(itemOf(obj))
		}
		return
	}
	if m.Namespace != "" && gc.namespaces[m.Namespace] == nsTerminating {
		gc.queue.Add(gcItem{Kind: kindNamespace, Name: m.Namespace})
	}
	refsChanged := prev == nil || !slices.EqualFunc(ownersOf(prev), m.OwnerReferences, sameRef)
	if !refsChanged {
		return
	}
	for _, r := range m.OwnerReferences {
		if o, ok := gc.nodes[r.UID]; !ok || waiting(o) {
			gc.queue.Add(itemOf(obj)) // an owner is gone or waits for its dependents
			break
		}
	}
	if prev != nil {
		// A reference removed or no longer blocking may let an owner go.
		gc.queueWaitingOwners(prev)
	}
}

// queueWaitingOwners queues the owners of obj that wait for their
// dependents. Call with gc.mu held.
func (gc *garbageCollector) queueWaitingOwners(obj objects.Object) {
	for _, r := range ownersOf(obj) {
		if o, ok := gc.nodes[r.UID]; ok && waiting(o) {
			gc.queue.Add(itemOf(o))
		}
	}
}

// sameOwner reports whether two references name the same owner.
func sameOwner(a, b objects.OwnerReference) bool { return a.UID == b.UID }

func sameRef(a, b objects.OwnerReference) bool {
	return a.UID == b.UID && boolOf(a.BlockOwnerDeletion) == boolOf(b.BlockOwnerDeletion) && boolOf(a.Controller) == boolOf(b.Controller)
}

func boolOf(b *bool) bool { return b != nil && *b }

func (gc *garbageCollector) deleted(obj objects.Object) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	m := obj.GetObjectMeta()
	last := obj
	if obj.GetTypeMeta().Kind != kindEvent || gc.events > 0 {
		if prev, ok := gc.nodes[m.UID]; ok {
			last = prev // the references the graph counted
			gc.unlink(prev)
			delete(gc.nodes, m.UID)
			if prev.GetTypeMeta().Kind == kindEvent {
				gc.events--
			}
		}
	}
	item := itemOf(obj)
	if gc.dependents[m.UID] > 0 {
		gc.queue.Add(item)
	}
	gc.queueWaitingOwners(last)
	if item.Kind == kindNamespace {
		gc.namespaces[m.Name] = nsTerminating
		gc.queue.Add(gcItem{Kind: kindNamespace, Name: m.Name})
	} else if m.Namespace != "" && gc.namespaces[m.Namespace] == nsTerminating {
		gc.queue.Add(gcItem{Kind: kindNamespace, Name: m.Namespace})
	}
}

// process looks at one object afresh in the store and acts.
func (gc *garbageCollector) process(ctx context.Context, item gcItem) (Result, error) {
	if item.Kind == kindNamespace {
		return Result{}, gc.processNamespace(ctx, item.Name)
	}
	var obj objects.Object
	err := gc.s.View(ctx, func(tx store.ReadTx) error {
		var err error
		obj, err = tx.Get(item.Kind, item.key())
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && obj.GetObjectMeta().UID != item.UID:
		return Result{}, gc.ownerGone(ctx, item)
	case err != nil:
		return Result{}, err
	}
	m := obj.GetObjectMeta()
	if m.IsDeleting() {
		switch {
		case m.HasFinalizer(objects.FinalizerOrphan):
			return Result{}, gc.orphanDependents(ctx, item)
		case m.HasFinalizer(objects.FinalizerForeground):
			return Result{}, gc.processDeletingDependents(ctx, item)
		}
		return Result{}, nil
	}
	if len(m.OwnerReferences) == 0 {
		return Result{}, nil
	}
	return Result{}, gc.attemptToDelete(ctx, obj)
}

// dependentsOf lists, in every kind, the objects referring to uid as owner.
func (gc *garbageCollector) dependentsOf(tx store.ReadTx, uid string) ([]objects.Object, error) {
	var out []objects.Object
	opts := store.ListOptions{Fields: map[string]string{store.IndexOwner: uid}}
	for _, k := range gc.s.Scheme().Kinds() {
		objs, err := tx.List(k.Kind, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// peekDependents is dependentsOf handing out the stored objects when the
// store can (see store.Peeker), for a caller that only reads them.
func (gc *garbageCollector) peekDependents(tx store.ReadTx, uid string) ([]objects.Object, error) {
	p, ok := tx.(store.Peeker)
	if !ok {
		return gc.dependentsOf(tx, uid)
	}
	var out []objects.Object
	opts := store.ListOptions{Fields: map[string]string{store.IndexOwner: uid}}
	for _, k := range gc.s.Scheme().Kinds() {
		objs, err := p.PeekList(k.Kind, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// gcBatch bounds the dependents one transaction of ownerGone deletes, as
// burstReplicas bounds a ReplicaSet's, so that the store's write lock is
// never held for long.
const gcBatch = 500

// ownerGone deletes the dependents of an object that no longer exists, many
// to a transaction (a Deployment's pods would otherwise cost one each),
// each as attemptToDelete would. Dependents being deleted with a finalizer
// the collector acts on, and those of a batch that failed, are queued to be
// looked at one by one.
func (gc *garbageCollector) ownerGone(ctx context.Context, item gcItem) error {
	var todo []gcItem
	err := gc.s.View(ctx, func(tx store.ReadTx) error {
		deps, err := gc.peekDependents(tx, item.UID)
		for _, d := range deps {
			if m := d.GetObjectMeta(); m.IsDeleting() {
				if m.HasFinalizer(objects.FinalizerOrphan) || m.HasFinalizer(objects.FinalizerForeground) {
					gc.queue.Add(itemOf(d))
				}
				continue
			}
			todo = append(todo, itemOf(d))
		}
		return err
	})
	if err != nil {
		for _, it := range todo {
			gc.queue.Add(it)
		}
		return err
	}
	for len(todo) > 0 {
		batch := todo[:min(len(todo), gcBatch)]
		todo = todo[len(batch):]
		err := gc.c.Txn(ctx, func(tx store.Tx) error {
			for _, it := range batch {
				if err := gc.attemptToDeleteTx(tx, it); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			gc.log.Debug("deleting dependents together failed; one by one", "owner", item, "err", err)
			for _, it := range batch {
				gc.queue.Add(it)
			}
		}
	}
	return nil
}

// ownerState says what a dependent's owner reference leads to.
type ownerState int

const (
	ownerSolid   ownerState = iota // exists, not waiting for its dependents
	ownerGoneRef                   // gone (or replaced by another uid)
	ownerWaiting                   // being deleted in the foreground
)

func (gc *garbageCollector) resolveOwner(tx store.ReadTx, dep objects.Object, ref *objects.OwnerReference) (ownerState, error) {
	info := gc.s.Scheme().Lookup(ref.Kind)
	if info == nil || !refersTo(ref, info) {
		return ownerSolid, nil // a kind this store does not hold: never collect on a guess
	}
	key := objects.Key{Name: ref.Name}
	if info.Namespaced {
		key.Namespace = dep.GetObjectMeta().Namespace
		if key.Namespace == "" {
			return ownerGoneRef, nil // a cluster-scoped object cannot have a namespaced owner
		}
	}
	o, err := peeker(tx)(info.Kind, key) // metadata only
	if errors.Is(err, store.ErrNotFound) {
		return ownerGoneRef, nil
	}
	if err != nil {
		return 0, err
	}
	om := o.GetObjectMeta()
	switch {
	case om.UID != ref.UID:
		return ownerGoneRef, nil
	case om.IsDeleting() && om.HasFinalizer(objects.FinalizerForeground):
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// attemptToDelete deletes obj when none of its owners remains, as
// Kubernetes' attemptToDeleteItem does.
func (gc *garbageCollector) attemptToDelete(ctx context.Context, obj objects.Object) error {
	item := itemOf(obj)
	return gc.c.Txn(ctx, func(tx store.Tx) error { return gc.attemptToDeleteTx(tx, item) })
}

// attemptToDeleteTx is attemptToDelete within tx.
func (gc *garbageCollector) attemptToDeleteTx(tx store.Tx, item gcItem) error {
	// Read without a copy: most objects are only deleted. The branches
	// that update one take a copy (mutable).
	cur, err := peeker(tx)(item.Kind, item.key())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	m := cur.GetObjectMeta()
	if m.UID != item.UID || m.IsDeleting() {
		return nil
	}
	mutable := func() (objects.Object, *objects.ObjectMeta, error) {
		c, err := tx.Get(item.Kind, item.key())
		if err != nil {
			return nil, nil, err
		}
		return c, c.GetObjectMeta(), nil
	}
	var solid, gone, waiting []string
	for i := range m.OwnerReferences {
		st, err := gc.resolveOwner(tx, cur, &m.OwnerReferences[i])
		if err != nil {
			return err
		}
		uid := m.OwnerReferences[i].UID
		switch st {
		case ownerSolid:
			solid = append(solid, uid)
		case ownerGoneRef:
			gone = append(gone, uid)
		case ownerWaiting:
			waiting = append(waiting, uid)
		}
	}
	switch {
	case len(solid) > 0:
		if len(gone)+len(waiting) == 0 {
			return nil
		}
		// Keep the object for its remaining owners; drop the others.
		drop := append(gone, waiting...)
		cur, m, err := mutable()
		if err != nil {
			return err
		}
		m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r objects.OwnerReference) bool { return slices.Contains(drop, r.UID) })
		return tx.Update(cur)
	case len(waiting) > 0:
		deps, err := gc.dependentsOf(tx, m.UID)
		if err != nil {
			return err
		}
		if len(deps) > 0 {
			// Delete it in the foreground too, so that its owner waits
			// for the whole tree. A dependent already waiting on it would
			// make a cycle: stop blocking the owners first.
			for _, d := range deps {
				dm := d.GetObjectMeta()
				if dm.IsDeleting() && dm.HasFinalizer(objects.FinalizerForeground) {
					cur, m, err := mutable()
					if err != nil {
						return err
					}
					for i := range m.OwnerReferences {
						if slices.Contains(waiting, m.OwnerReferences[i].UID) {
							m.OwnerReferences[i].BlockOwnerDeletion = nil
						}
					}
					if err := tx.Update(cur); err != nil {
						return err
					}
					break
				}
			}
			return gc.delete(tx, cur, store.DeletePropagationForeground)
		}
		return gc.delete(tx, cur, store.DeletePropagationBackground)
	}
	policy := store.DeletePropagationBackground
	switch {
	case m.HasFinalizer(objects.FinalizerOrphan):
		policy = store.DeletePropagationOrphan
	case m.HasFinalizer(objects.FinalizerForeground):
		policy = store.DeletePropagationForeground
	}
	return gc.delete(tx, cur, policy)
}

func (gc *garbageCollector) delete(tx store.Tx, obj objects.Object, policy store.PropagationPolicy) error {
	m := obj.GetObjectMeta()
	err := store.Remove(tx, obj.GetTypeMeta().Kind, m.Key(), store.DeleteOptions{
		PropagationPolicy: policy,
		Preconditions:     &store.Preconditions{UID: m.UID},
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err == nil && gc.log.Enabled(context.Background(), slog.LevelDebug) {
		gc.log.Debug("deleted", "kind", obj.GetTypeMeta().Kind, "object", m.Key(), "propagation", policy)
	}
	return err
}

// finalizing returns a copy of item and its dependents when item is being
// deleted and has finalizer, and a nil object otherwise.
func (gc *garbageCollector) finalizing(tx store.Tx, item gcItem, finalizer string) (objects.Object, []objects.Object, error) {
	cur, err := tx.Get(item.Kind, item.key())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	m := cur.GetObjectMeta()
	if m.UID != item.UID || !m.IsDeleting() || !m.HasFinalizer(finalizer) {
		return nil, nil, nil
	}
	deps, err := gc.dependentsOf(tx, m.UID)
	if err != nil {
		return nil, nil, err
	}
	return cur, deps, nil
}

// processDeletingDependents deletes the dependents of an owner being
// deleted in the foreground, and removes its finalizer once no dependent
// blocks it.
func (gc *garbageCollector) processDeletingDependents(ctx context.Context, item gcItem) error {
	return gc.c.Txn(ctx, func(tx store.Tx) error {
		cur, deps, err := gc.finalizing(tx, item, objects.FinalizerForeground)
		if cur == nil || err != nil {
			return err
		}
		m := cur.GetObjectMeta()
		blocking := 0
		for _, d := range deps {
			dm := d.GetObjectMeta()
			for _, r := range dm.OwnerReferences {
				if r.UID == m.UID && boolOf(r.BlockOwnerDeletion) {
					blocking++
					break
				}
			}
			if !dm.IsDeleting() || dm.HasFinalizer(objects.FinalizerForeground) {
				gc.queue.Add(itemOf(d))
			}
		}
		if blocking > 0 {
			return nil
		}
		m.Finalizers = slices.DeleteFunc(slices.Clone(m.Finalizers), func(f string) bool { return f == objects.FinalizerForeground })
		return tx.Update(cur)
	})
}

// orphanDependents removes the owner's references from its dependents,
// then its orphan finalizer.
func (gc *garbageCollector) orphanDependents(ctx context.Context, item gcItem) error {
	return gc.c.Txn(ctx, func(tx store.Tx) error {
		cur, deps, err := gc.finalizing(tx, item, objects.FinalizerOrphan)
		if cur == nil || err != nil {
			return err
		}
		m := cur.GetObjectMeta()
		for _, d := range deps {
			dm := d.GetObjectMeta()
			dm.OwnerReferences = slices.DeleteFunc(dm.OwnerReferences, func(r objects.OwnerReference) bool { return r.UID == m.UID })
			if err := tx.Update(d); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		m.Finalizers = slices.DeleteFunc(slices.Clone(m.Finalizers), func(f string) bool { return f == objects.FinalizerOrphan })
		return tx.Update(cur)
	})
}
