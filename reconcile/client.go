package reconcile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/podkit/podkit/internal/informer"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// ErrNamespaceTerminating is wrapped by a Create into a namespace that is
// being deleted (or no longer exists): nothing new may appear in it.
var ErrNamespaceTerminating = errors.New("namespace is being terminated")

// ErrOwnerDeleting is wrapped by a Create of an object whose owner
// reference blocks owner deletion (blockOwnerDeletion) while that owner is
// gone or being deleted: a foreground deletion must not gain dependents
// after it has counted them.
var ErrOwnerDeleting = errors.New("owner is being deleted")

// errStaleCache: a read found the cache behind a write; retry.
var errStaleCache = errors.New("cache is behind the store")

// Client reads objects from the Manager's caches and writes them to the
// store. It is safe for concurrent use.
//
// Reads of a kind some controller watches come from that kind's cache and
// are copies the caller owns; reads of other kinds go to the store. Reads
// see the client's own writes: a read waits until the cache has applied
// every write this client committed to that kind, so a controller never
// acts twice on a stale cache (Kubernetes' "expectations", kept for every
// kind and every controller). Writes of other programs appear when the
// cache's watch delivers them, usually within milliseconds.
//
// Creates are defaulted and validated as the orchestrator does, and refused
// in a namespace that is being deleted. A pod deleted without a grace
// period gets Kubernetes' default: its own when it is bound and running.
type Client struct {
	m *Manager

	mu      sync.Mutex
	written map[string]*commit // by kind: the latest commit that wrote it
}

// commit is what one transaction wrote to one kind.
type commit struct {
	rev  int64
	keys []writtenKey
}

type writtenKey struct {
	key     objects.Key
	removed bool
}

func newClient(m *Manager) *Client {
	return &Client{m: m, written: map[string]*commit{}}
}

// Scheme returns the store's scheme.
func (c *Client) Scheme() *objects.Scheme { return c.m.scheme }

// Get returns a copy of the object of kind with key, or an error wrapping
// store.ErrNotFound.
func (c *Client) Get(ctx context.Context, kind string, key objects.Key) (objects.Object, error) {
	obj, shared, err := c.getMaybeShared(ctx, kind, key)
	if shared {
		obj = obj.DeepCopyObject()
	}
	return obj, err
}

// getShared is Get without the copy, for a caller that only reads: an
// object from a cache is the cache's own and must not be modified.
func (c *Client) getShared(ctx context.Context, kind string, key objects.Key) (objects.Object, error) {
	obj, _, err := c.getMaybeShared(ctx, kind, key)
	return obj, err
}

// getMaybeShared is Get, reporting whether the object is a cache's own
// (else it is a copy).
func (c *Client) getMaybeShared(ctx context.Context, kind string, key objects.Key) (obj objects.Object, shared bool, err error) {
	inf, err := c.cache(ctx, kind)
	if err != nil {
		return nil, false, err
	}
	if inf == nil {
		err := c.m.store.View(ctx, func(tx store.ReadTx) error {
			var err error
			obj, err = tx.Get(kind, key)
			return err
		})
		return obj, false, err
	}
	if info := c.m.scheme.Lookup(kind); info != nil && !info.Namespaced {
		key.Namespace = ""
	}
	obj, ok := inf.Get(key)
	if !ok {
		return nil, false, fmt.Errorf("%s %q: %w", kind, key.Name, store.ErrNotFound)
	}
	return obj, true, nil
}

// List returns copies of the objects of kind matching opts, sorted by
// namespace and name. From a cache, Fields may name store.IndexOwner,
// store.IndexNodeName (pods) and indexes added with WithCacheIndex.
func (c *Client) List(ctx context.Context, kind string, opts store.ListOptions) ([]objects.Object, error) {
	return c.list(ctx, kind, opts, nil)
}

// list is List keeping only the objects keep accepts, before copying them.
// keep sees the cache's own objects and must not modify them.
func (c *Client) list(ctx context.Context, kind string, opts store.ListOptions, keep func(objects.Object) bool) ([]objects.Object, error) {
	objs, shared, err := c.listMaybeShared(ctx, kind, opts, keep)
	if shared {
		for i, o := range objs {
			objs[i] = o.DeepCopyObject()
		}
	}
	return objs, err
}

// listShared is list without the copies, for a caller that only reads:
// objects from a cache are the cache's own and must not be modified. A
// ReplicaSet looks at each of its pods at every reconcile, and copying
// them all was most of what it cost.
func (c *Client) listShared(ctx context.Context, kind string, opts store.ListOptions, keep func(objects.Object) bool) ([]objects.Object, error) {
	objs, _, err := c.listMaybeShared(ctx, kind, opts, keep)
	return objs, err
}

// listMaybeShared is list, reporting whether the objects are a cache's own
// (else they are copies).
func (c *Client) listMaybeShared(ctx context.Context, kind string, opts store.ListOptions, keep func(objects.Object) bool) (objs []objects.Object, shared bool, err error) {
	inf, err := c.cache(ctx, kind)
	if err != nil {
		return nil, false, err
	}
	if inf != nil {
		objs, err = inf.List(opts, keep)
		if err == nil {
			return objs, true, nil
		}
		if !errors.Is(err, store.ErrUnknownIndex) {
			return nil, false, err
		}
		// The store may index what the cache does not.
	}
	err = c.m.store.View(ctx, func(tx store.ReadTx) error {
		var err error
		objs, err = tx.List(kind, opts)
		return err
	})
	if err != nil || keep == nil {
		return objs, false, err
	}
	out := objs[:0]
	for _, o := range objs {
		if keep(o) {
			out = append(out, o)
		}
	}
	return out, false, nil
}

// cache returns kind's cache, once it has applied this client's writes to
// kind; nil when no cache of kind runs.
func (c *Client) cache(ctx context.Context, kind string) (*informer.Informer, error) {
	inf := c.m.currentRun().informer(kind)
	if inf == nil {
		return nil, nil
	}
	c.mu.Lock()
	w := c.written[kind]
	c.mu.Unlock()
	if w == nil || inf.Revision() > w.rev {
		return inf, nil
	}
	if err := inf.WaitFor(ctx, func(v informer.Locked) bool {
		if !v.Synced() {
			return false
		}
		for _, k := range w.keys {
			if !v.Observed(k.key, w.rev, k.removed) {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("read %s: waiting for the cache to apply revision %d: %w (%w)", kind, w.rev, errStaleCache, err)
	}
	return inf, nil
}

// record remembers writes committed to the store, for reads to wait for.
// Only the latest commit per kind matters: a cache that has applied it has
// applied every earlier one.
func (c *Client) record(ws []write) {
	if len(ws) == 0 {
		return
	}
	latest := map[string]*commit{}
	for _, w := range ws {
		cur := latest[w.kind]
		switch {
		case cur == nil || w.rev > cur.rev:
			latest[w.kind] = &commit{rev: w.rev, keys: []writtenKey{{w.key, w.removed}}}
		case w.rev == cur.rev:
			cur.keys = append(cur.keys, writtenKey{w.key, w.removed})
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for kind, w := range latest {
		cur := c.written[kind]
		switch {
		case cur == nil || w.rev > cur.rev:
			c.written[kind] = w
		case w.rev == cur.rev:
			// Readers hold the old commit without the lock: replace it.
			c.written[kind] = &commit{rev: w.rev, keys: append(slices.Clip(cur.keys), w.keys...)}
		}
	}
}

type write struct {
	kind    string
	key     objects.Key
	rev     int64
	removed bool
}

// Txn runs fn in one store write transaction, like store.Update, and
// remembers what it wrote so that later reads see it. Objects created in
// fn are not defaulted or validated: use Create for that, or call
// AdmitCreate inside fn.
func (c *Client) Txn(ctx context.Context, fn func(tx store.Tx) error) error {
	var t *trackingTx
	err := c.m.store.Update(ctx, func(tx store.Tx) error {
		t = &trackingTx{Tx: tx, c: c}
		return fn(t)
	})
	if t == nil {
		return err
	}
	if err != nil {
		c.record(t.observed)
		return err
	}
	c.record(append(t.observed, t.writes...))
	return nil
}

// Create defaults, validates and stores a new object; obj receives what was
// stored.
func (c *Client) Create(ctx context.Context, obj objects.Object) error {
	return c.Txn(ctx, func(tx store.Tx) error {
		if err := c.AdmitCreate(tx, obj); err != nil {
			return err
		}
		return tx.Create(obj)
	})
}

// AdmitCreate prepares a new object as the orchestrator does before
// storing it: it fills apiVersion and kind, applies defaults, validates,
// and checks that the namespace exists and is not being deleted. It also
// refuses an object whose blocking owner reference names an owner that is
// gone or being deleted (ErrOwnerDeleting), so that a controller acting on
// a stale read cannot add pods to a ReplicaSet the garbage collector is
// deleting.
func (c *Client) AdmitCreate(tx store.Tx, obj objects.Object) error {
	info, err := c.prepareCreate(obj)
	if err != nil {
		return err
	}
	if err := c.admitHook(tx, obj); err != nil {
		return err
	}
	return c.checkCreateScope(tx, info, obj)
}

// createCopies creates n copies of obj in tx, as AdmitCreate and Create
// would one by one, and calls created with each as stored. Defaults,
// validation and the namespace and owner checks depend only on the object
// and the transaction, so they run once, not for each of a ReplicaSet's
// burst of identical pods (where they cost more than storing the pods);
// the admission hook sees every copy.
//
// obj is the caller's no more: the copies share its maps and slices and
// are handed to the store without a copy of their own (store.Adopt).
// Stored objects are never modified, so a burst's pods may share one spec;
// the admission hook may set a copy's fields but not change what they
// refer to (see Admission).
//
// A copy the admission hook refuses after the first (a ResourceQuota
// spent by the copies before it) ends the burst: those before it are
// created, and the refusal is returned as refused with err nil, for the
// caller to commit them, as Kubernetes' slow-start batches keep the pods
// created before a failure.
func (c *Client) createCopies(tx store.Tx, obj objects.Object, n int, created func(objects.Object)) (refused, err error) {
	info, err := c.prepareCreate(obj)
	if err != nil {
		return nil, err
	}
	for i := range n {
		cp := shallowCopy(obj)
		if err := c.admitHook(tx, cp); err != nil {
			if i > 0 {
				return err, nil
			}
			return nil, err
		}
		if i == 0 {
			if err := c.checkCreateScope(tx, info, cp); err != nil {
				return nil, err
			}
		}
		if err := store.Adopt(tx, cp); err != nil {
			return nil, err
		}
		created(cp)
	}
	return nil, nil
}

// shallowCopy returns a new object of obj's type sharing everything with
// obj.
func shallowCopy(obj objects.Object) objects.Object {
	n := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(objects.Object)
	copyInto(n, obj)
	return n
}

// prepareCreate fills obj's apiVersion and kind, defaults and validates it.
func (c *Client) prepareCreate(obj objects.Object) (*objects.KindInfo, error) {
	s := c.m.scheme
	info, err := s.SetTypeMeta(obj)
	if err != nil {
		return nil, err
	}
	s.Default(obj)
	return info, s.Validate(obj)
}

func (c *Client) admitHook(tx store.Tx, obj objects.Object) error {
	if admit := c.m.cfg.admit; admit != nil {
		return admit(tx, obj, nil)
	}
	return nil
}

// checkCreateScope refuses a new object whose namespace or blocking owner
// is gone or being deleted.
func (c *Client) checkCreateScope(tx store.ReadTx, info *objects.KindInfo, obj objects.Object) error {
	m := obj.GetObjectMeta()
	name := m.Name
	if name == "" {
		name = m.GenerateName
	}
	// Only metadata is read: peek rather than copy the namespace and the
	// owner.
	get := peeker(tx)
	if info.Namespaced {
		ns, err := get("Namespace", objects.Key{Name: m.Namespace})
		if errors.Is(err, store.ErrNotFound) || (err == nil && ns.GetObjectMeta().IsDeleting()) {
			return fmt.Errorf("create %s %q: unable to create new content in namespace %s because it is being terminated: %w",
				info.Kind, name, m.Namespace, ErrNamespaceTerminating)
		}
		if err != nil {
			return err
		}
	}
	for _, ref := range m.OwnerReferences {
		if ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			continue
		}
		oi := c.m.scheme.Lookup(ref.Kind)
		if oi == nil || !refersTo(&ref, oi) {
			continue
		}
		key := objects.Key{Name: ref.Name}
		if oi.Namespaced {
			key.Namespace = m.Namespace
		}
		owner, err := get(oi.Kind, key)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || owner.GetObjectMeta().UID != ref.UID || owner.GetObjectMeta().IsDeleting() {
			return fmt.Errorf("create %s %q: its owner %s %s is gone or being deleted: %w", info.Kind, name, ref.Kind, ref.Name, ErrOwnerDeleting)
		}
	}
	return nil
}

// peeker returns tx's Peek when its store has one (a Txn's tx included),
// else its Get: for reads of objects that are not modified or kept.
func peeker(tx store.ReadTx) func(kind string, key objects.Key) (objects.Object, error) {
	if t, ok := tx.(*trackingTx); ok {
		tx = t.Tx
	}
	if p, ok := tx.(store.Peeker); ok {
		return p.Peek
	}
	return tx.Get
}

// Update replaces the object's metadata and spec (see store.Tx.Update);
// obj receives what was stored. Set obj's resourceVersion, as read, to
// fail with store.ErrConflict rather than overwrite a newer change.
func (c *Client) Update(ctx context.Context, obj objects.Object) error {
	return c.Txn(ctx, func(tx store.Tx) error {
		if admit := c.m.cfg.admit; admit != nil {
			info, err := c.m.scheme.SetTypeMeta(obj)
			if err != nil {
				return err
			}
			old, err := tx.Get(info.Kind, obj.GetObjectMeta().Key())
			if err != nil {
				return err
			}
			if err := admit(tx, obj, old); err != nil {
				return err
			}
		}
		return tx.Update(obj)
	})
}

// UpdateStatus replaces the object's status, with Update's concurrency
// rule.
func (c *Client) UpdateStatus(ctx context.Context, obj objects.Object) error {
	return c.Txn(ctx, func(tx store.Tx) error { return tx.UpdateStatus(obj) })
}

// Delete deletes an object (see store.Tx.Delete) and returns its last
// state. Deleting an object that does not exist is an error wrapping
// store.ErrNotFound.
func (c *Client) Delete(ctx context.Context, kind string, key objects.Key, opts store.DeleteOptions) (objects.Object, error) {
	var last objects.Object
	err := c.Txn(ctx, func(tx store.Tx) error {
		var err error
		last, err = tx.Delete(kind, key, opts)
		return err
	})
	return last, err
}

// Get returns a copy of the object of T's kind with key.
func Get[T objects.Object](ctx context.Context, c *Client, key objects.Key) (T, error) {
	var zero T
	info, err := objects.KindFor[T](c.m.scheme)
	if err != nil {
		return zero, err
	}
	obj, err := c.Get(ctx, info.Kind, key)
	if err != nil {
		return zero, err
	}
	return obj.(T), nil
}

// List returns copies of the objects of T's kind matching opts.
func List[T objects.Object](ctx context.Context, c *Client, opts store.ListOptions) ([]T, error) {
	info, err := objects.KindFor[T](c.m.scheme)
	if err != nil {
		return nil, err
	}
	objs, err := c.List(ctx, info.Kind, opts)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = o.(T)
	}
	return out, nil
}

// trackingTx records the writes of a transaction, and on a conflict the
// revision of the object it conflicted with, so that the retry reads at
// least that.
type trackingTx struct {
	store.Tx
	c        *Client
	writes   []write
	observed []write
	// index locates a key's write in writes, once a key may be written
	// twice. While the transaction has only created objects, every key is
	// new (creating a key again needs a removal in between), and a burst of
	// creates needs no map.
	index map[write]int
}

var (
	_ store.Adopter = (*trackingTx)(nil)
	_ store.Peeker  = (*trackingTx)(nil)
	_ store.Remover = (*trackingTx)(nil)
)

// Peek implements store.Peeker, through the transaction's own (a copy
// when it has none), so that admission and reads of a controller's
// transaction can peek.
func (t *trackingTx) Peek(kind string, key objects.Key) (objects.Object, error) {
	return peeker(t.Tx)(kind, key)
}

// PeekList implements store.Peeker, like Peek.
func (t *trackingTx) PeekList(kind string, opts store.ListOptions) ([]objects.Object, error) {
	return store.PeekList(t.Tx, kind, opts)
}

func (t *trackingTx) kindOf(obj objects.Object) string {
	if k := obj.GetTypeMeta().Kind; k != "" {
		return k
	}
	if info, err := t.c.m.scheme.KindOf(obj); err == nil {
		return info.Kind
	}
	return ""
}

func (t *trackingTx) Create(obj objects.Object) error {
	if err := t.Tx.Create(obj); err != nil {
		return err
	}
	t.note(t.kindOf(obj), obj, false, true)
	return nil
}

// Adopt implements store.Adopter.
func (t *trackingTx) Adopt(obj objects.Object) error {
	if err := store.Adopt(t.Tx, obj); err != nil {
		return err
	}
	t.note(t.kindOf(obj), obj, false, true)
	return nil
}

func (t *trackingTx) Update(obj objects.Object) error {
	return t.update(obj, t.Tx.Update)
}

func (t *trackingTx) UpdateStatus(obj objects.Object) error {
	return t.update(obj, t.Tx.UpdateStatus)
}

func (t *trackingTx) update(obj objects.Object, fn func(objects.Object) error) error {
	kind := t.kindOf(obj)
	key := obj.GetObjectMeta().Key()
	err := fn(obj)
	if errors.Is(err, store.ErrConflict) {
		if cur, gerr := t.Peek(kind, key); gerr == nil {
			if rev, perr := strconv.ParseInt(cur.GetObjectMeta().ResourceVersion, 10, 64); perr == nil {
				t.observed = append(t.observed, write{kind: kind, key: cur.GetObjectMeta().Key(), rev: rev})
			}
		}
	}
	if err != nil {
		return err
	}
	removed := false
	if m := obj.GetObjectMeta(); m.IsDeleting() && len(m.Finalizers) == 0 {
		_, gerr := t.Peek(kind, key)
		removed = errors.Is(gerr, store.ErrNotFound)
	}
	t.note(kind, obj, removed, false)
	return nil
}

func (t *trackingTx) Delete(kind string, key objects.Key, opts store.DeleteOptions) (objects.Object, error) {
	opts, err := t.defaultGrace(kind, key, opts)
	if err != nil {
		return nil, err
	}
	last, err := t.Tx.Delete(kind, key, opts)
	if err != nil {
		return nil, err
	}
	_, gerr := t.Peek(kind, key)
	t.note(kind, last, errors.Is(gerr, store.ErrNotFound), false)
	return last, nil
}

// Remove implements store.Remover: Delete without the copy of the
// object's last state, for the garbage collector's and controllers' bulk
// deletions.
func (t *trackingTx) Remove(kind string, key objects.Key, opts store.DeleteOptions) error {
	opts, err := t.defaultGrace(kind, key, opts)
	if err != nil {
		return err
	}
	if err := store.Remove(t.Tx, kind, key, opts); err != nil {
		return err
	}
	cur, err := t.Peek(kind, key)
	switch {
	case err == nil: // kept, being deleted: its resourceVersion tells whether this wrote
		t.note(kind, cur, false, false)
	case errors.Is(err, store.ErrNotFound): // removed by this transaction's write
		if info := t.c.m.scheme.Lookup(kind); info != nil && !info.Namespaced {
			key.Namespace = ""
		}
		t.noteKey(write{kind: kind, key: key, rev: t.Revision(), removed: true}, false)
	default:
		return err
	}
	return nil
}

// defaultGrace gives a pod deleted without a grace period Kubernetes'
// default (see objects.Pod.DeletionGracePeriod).
func (t *trackingTx) defaultGrace(kind string, key objects.Key, opts store.DeleteOptions) (store.DeleteOptions, error) {
	if kind != kindPod || opts.GracePeriodSeconds != nil {
		return opts, nil
	}
	cur, err := t.Peek(kind, key)
	if err != nil {
		return opts, err
	}
	g := cur.(*objects.Pod).DeletionGracePeriod()
	opts.GracePeriodSeconds = &g
	return opts, nil
}

func (t *trackingTx) note(kind string, obj objects.Object, removed, created bool) {
	m := obj.GetObjectMeta()
	rev, err := strconv.ParseInt(m.ResourceVersion, 10, 64)
	if err != nil || kind == "" {
		return
	}
	t.noteKey(write{kind: kind, key: m.Key(), rev: rev, removed: removed}, created)
}

func (t *trackingTx) noteKey(w write, created bool) {
	if created && t.index == nil {
		t.writes = append(t.writes, w)
		return
	}
	if t.index == nil {
		t.index = make(map[write]int, len(t.writes)+1)
		for i, o := range t.writes {
			t.index[write{kind: o.kind, key: o.key}] = i
		}
	}
	// A key written twice in one transaction (a finalizer removed, then the
	// object deleted) ends in the state of the last write.
	wk := write{kind: w.kind, key: w.key}
	if i, ok := t.index[wk]; ok {
		t.writes[i].rev, t.writes[i].removed = w.rev, w.removed
		return
	}
	t.index[wk] = len(t.writes)
	t.writes = append(t.writes, w)
}

// copyInto overwrites *dst with *src; both are pointers to the same struct
// type.
func copyInto(dst, src objects.Object) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}
