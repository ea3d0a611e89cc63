package memdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/podkit/podkit/internal/pset"
	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/internal/watchcache"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// generateNameTries bounds the retries of a generated name that is taken.
const generateNameTries = 8

// readTx reads a snapshot. Like a memdb read transaction, it may be used by
// several goroutines at once.
type readTx struct {
	s   *Store
	txn *memdb.Txn
	rev int64
}

func (tx *readTx) Revision() int64 { return tx.rev }

func (tx *readTx) Get(kind string, key objects.Key) (objects.Object, error) {
	obj, err := tx.Peek(kind, key)
	if err != nil {
		return nil, err
	}
	return obj.DeepCopyObject(), nil
}

// Peek implements store.Peeker.
func (tx *readTx) Peek(kind string, key objects.Key) (objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	key = k.NormalizeKey(key)
	obj, err := tx.lookup(nil, kind, key.Namespace, key.Name)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, k.NotFound(key.Name)
	}
	return obj, nil
}

// lookup returns the stored object, or nil; buf is room for the key.
func (tx *readTx) lookup(buf []byte, kind, ns, name string) (objects.Object, error) {
	raw, err := tx.txn.First(objectsTable, "id", appendParts(buf[:0], kind, ns, name))
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(objects.Object), nil
}

// rows returns the rows under key: one row when key names a namespace,
// else the rows of every namespace, in namespace order.
func (tx *readTx) rows(key []byte, oneNamespace bool) ([]*row, error) {
	if oneNamespace {
		raw, err := tx.txn.First(attrsTable, "id", key)
		if err != nil || raw == nil {
			return nil, err
		}
		return []*row{raw.(*row)}, nil
	}
	it, err := tx.txn.Get(attrsTable, "id_prefix", key)
	if err != nil {
		return nil, err
	}
	var out []*row
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*row))
	}
	return out, nil
}

type fieldReq struct {
	field, value string
	fn           store.IndexFunc
}

// List reads the smallest set of candidates it can: the rows of one
// indexed field value or one label the selector requires exactly,
// whichever holds the fewest names; else every object of the kind (and
// namespace). Every other condition filters the candidates.
func (tx *readTx) List(kind string, opts store.ListOptions) ([]objects.Object, error) {
	return tx.list(kind, opts, objects.Object.DeepCopyObject)
}

// PeekList implements store.Peeker.
func (tx *readTx) PeekList(kind string, opts store.ListOptions) ([]objects.Object, error) {
	return tx.list(kind, opts, func(obj objects.Object) objects.Object { return obj })
}

// list is List handing out hand(obj) for each stored object obj.
func (tx *readTx) list(kind string, opts store.ListOptions, hand func(objects.Object) objects.Object) ([]objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	ns := opts.Namespace
	if !k.Info.Namespaced {
		ns = ""
	}
	sel := opts.Labels
	if sel != nil && sel.Empty() {
		sel = nil
	}
	var (
		name   string
		byName bool
		fields []fieldReq
	)
	for _, field := range sortedKeys(opts.Fields) {
		value := opts.Fields[field]
		switch field {
		case storecore.FieldName:
			name, byName = value, true
		case storecore.FieldNamespace:
			if !k.Info.Namespaced {
				if value != "" {
					return nil, nil
				}
				continue
			}
			if ns != "" && ns != value {
				return nil, nil
			}
			ns = value
		default:
			ix, ok := k.Index(field)
			if !ok {
				return nil, fmt.Errorf("list %s: field label not supported: %s: %w", k.Resource, field, store.ErrUnknownIndex)
			}
			fields = append(fields, fieldReq{field, value, ix.Func})
		}
	}
	keep := func(obj objects.Object) bool {
		m := obj.GetObjectMeta()
		if byName && m.Name != name {
			return false
		}
		for _, f := range fields {
			if !slices.Contains(f.fn(obj), f.value) {
				return false
			}
		}
		return sel == nil || sel.Matches(m.Labels)
	}
	oneNamespace := ns != "" || !k.Info.Namespaced

	if byName && oneNamespace {
		obj, err := tx.lookup(nil, kind, ns, name)
		if err != nil || obj == nil || !keep(obj) {
			return nil, err
		}
		return []objects.Object{hand(obj)}, nil
	}

	// The candidate rows with the fewest names.
	var best []*row
	bestLen := -1
	consider := func(tag byte, key, value string) error {
		rows, err := tx.rows(rowKey(kind, tag, key, value, ns, !oneNamespace), oneNamespace)
		if err != nil {
			return err
		}
		n := 0
		for _, r := range rows {
			n += r.set.Len()
		}
		if bestLen < 0 || n < bestLen {
			best, bestLen = rows, n
		}
		return nil
	}
	for _, f := range fields {
		if err := consider(tagField, f.field, f.value); err != nil {
			return nil, err
		}
	}
	for _, l := range storecore.ExactLabels(sel) {
		if err := consider(tagLabel, l.Key, l.Value); err != nil {
			return nil, err
		}
	}

	var out []objects.Object
	if bestLen < 0 {
		it, err := tx.txn.Get(objectsTable, "id_prefix", idPrefix(kind, ns))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", k.Resource, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if obj := raw.(objects.Object); keep(obj) {
				out = append(out, hand(obj))
			}
		}
		return out, nil
	}
	if bestLen > 0 {
		out = make([]objects.Object, 0, min(bestLen, 1024))
	}
	var buf []byte
	for _, r := range best {
		rns := rowNamespace(r.key)
		r.set.Ascend(func(n string) bool {
			buf = appendParts(buf[:0], kind, rns, n)
			obj, e := tx.lookup(buf, kind, rns, n)
			switch {
			case e != nil:
				err = e
				return false
			case obj == nil:
				err = fmt.Errorf("list %s: index names %s/%s, which is not stored", k.Resource, rns, n)
				return false
			case keep(obj):
				out = append(out, hand(obj))
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// writeTx is one function of a group (see Store.Update): its revision,
// stamp and events, over the memdb transaction the group shares.
type writeTx struct {
	readTx
	g       *group
	changes []watchcache.Change
	st      *storecore.Stamp
}

// group is what the functions of a group share: one memdb write
// transaction and what they wrote through it. Its point reads do not go
// through that transaction: memdb clones the radix transaction for a read,
// which drops its cache of nodes already copied, so every insert after a
// read would copy its whole path again. Instead they read the last commit
// (base) under what the group wrote (written, rows). Rows are written to
// memdb once, at commit or before a List, however many names the group
// adds to them.
type group struct {
	s         *Store
	base      *memdb.Txn
	txn       *memdb.Txn
	committed bool
	*groupMaps
	owner *pset.Owner
	// limits are the journal's when it is a LimitedJournal and the group
	// runs Update calls; bytes is the sum of sizes.
	limits *limits
	bytes  int
}

// groupMaps are the parts of a group kept for the next one.
type groupMaps struct {
	written map[objectID]objects.Object // nil: deleted here
	rows    map[string]*txRow           // by row key
	sizes   map[objectID]int            // under limits: Size of each written
	// dirty are the rows changed since the last flush, so that a flush
	// costs what changed rather than every row the group touched.
	dirty []*txRow
	// log is every write, to replay those of the functions that succeeded
	// when a later one fails.
	log []writeOp
	// keyBuf holds the key of a lookup, which keeps no key.
	keyBuf []byte
}

type writeOp struct {
	k        *storecore.Kind
	old, obj objects.Object
}

// maxSpare bounds the maps kept for the next group: clearing a map costs
// its capacity, and a rare large group should not make every later one pay.
const maxSpare = 4096

// objectID names an object of the transaction's writes without building
// its key bytes, which a map keyed by them would allocate on every write.
type objectID struct {
	kind string
	key  objects.Key
}

// txRow is a row this group changes: a copy of the committed row (or a new
// one), which only the group sees until it commits.
type txRow struct {
	r        *row
	inDB     bool // the memdb transaction holds a row under this key
	inserted bool // ... and it is r
	dirty    bool
}

func (s *Store) newGroup(base *state) *group {
	m := s.spare
	s.spare = nil
	if m == nil {
		m = &groupMaps{written: map[objectID]objects.Object{}, rows: map[string]*txRow{}, sizes: map[objectID]int{}}
	}
	return &group{s: s, base: base.db.Txn(false), txn: s.db.Txn(true), groupMaps: m, owner: &pset.Owner{}}
}

// endGroup aborts the memdb transaction unless it committed, and keeps the
// group's maps for the next one.
func (s *Store) endGroup(g *group) {
	if !g.committed {
		g.txn.Abort()
	}
	m := g.groupMaps
	if len(m.written) > maxSpare || len(m.rows) > maxSpare || len(m.log) > maxSpare {
		return
	}
	clear(m.written)
	clear(m.rows)
	clear(m.sizes)
	clear(m.log)
	m.log = m.log[:0]
	clear(m.dirty)
	m.dirty = m.dirty[:0]
	s.spare = m
}

// newTx returns the transaction of the group's next function, which
// commits at rev if it writes.
func (g *group) newTx(rev int64) *writeTx {
	return &writeTx{readTx: readTx{s: g.s, txn: g.txn, rev: rev}, g: g}
}

// rollback undoes the writes of the log from mark on: it replays those
// before mark on a new memdb transaction.
func (g *group) rollback(mark int) error {
	g.txn.Abort()
	g.txn = g.s.db.Txn(true)
	clear(g.written)
	clear(g.rows)
	clear(g.sizes)
	clear(g.dirty)
	g.dirty = g.dirty[:0]
	g.bytes = 0
	g.owner = &pset.Owner{}
	ops := g.log[:mark]
	g.log = make([]writeOp, 0, cap(g.log))
	if err := g.replay(ops); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// replay writes ops, taken from the log of another group, on g.
func (g *group) replay(ops []writeOp) error {
	for _, op := range ops {
		if err := g.write(op.k, op.old, op.obj); err != nil {
			return err
		}
	}
	return nil
}

// stamp is taken at the first write: every object of the commit gets the
// same resourceVersion and time.
func (tx *writeTx) stamp() storecore.Stamp {
	if tx.st == nil {
		st := tx.s.stamp(tx.rev)
		tx.st = &st
	}
	return *tx.st
}

func (tx *writeTx) get(kind string, key objects.Key) (objects.Object, error) {
	return tx.g.get(kind, key)
}

func (g *group) get(kind string, key objects.Key) (objects.Object, error) {
	if obj, ok := g.written[objectID{kind, key}]; ok {
		return obj, nil
	}
	g.keyBuf = appendParts(g.keyBuf[:0], kind, key.Namespace, key.Name)
	raw, err := g.base.First(objectsTable, "id", g.keyBuf)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(objects.Object), nil
}

func (tx *writeTx) Get(kind string, key objects.Key) (objects.Object, error) {
	obj, err := tx.Peek(kind, key)
	if err != nil {
		return nil, err
	}
	return obj.DeepCopyObject(), nil
}

// Peek implements store.Peeker: what this transaction wrote or, else, the
// last commit; neither is ever modified.
func (tx *writeTx) Peek(kind string, key objects.Key) (objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	key = k.NormalizeKey(key)
	obj, err := tx.get(kind, key)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, k.NotFound(key.Name)
	}
	return obj, nil
}

func (tx *writeTx) List(kind string, opts store.ListOptions) ([]objects.Object, error) {
	if err := tx.flushFor(opts); err != nil {
		return nil, err
	}
	return tx.readTx.List(kind, opts)
}

// PeekList implements store.Peeker: the transaction's own writes included.
func (tx *writeTx) PeekList(kind string, opts store.ListOptions) ([]objects.Object, error) {
	if err := tx.flushFor(opts); err != nil {
		return nil, err
	}
	return tx.readTx.PeekList(kind, opts)
}

// flushFor writes the group's changed rows into the memdb transaction
// when a list with opts reads rows: by an indexed field or an exact label.
// Other lists read the objects table, which writes reach at once, as the
// admission of every write does for a kind's few objects (PriorityClasses,
// LimitRanges, admission policies...).
func (tx *writeTx) flushFor(opts store.ListOptions) error {
	for f := range opts.Fields {
		if f != storecore.FieldName && f != storecore.FieldNamespace {
			return tx.g.flush()
		}
	}
	if opts.Labels != nil && len(storecore.ExactLabels(opts.Labels)) > 0 {
		return tx.g.flush()
	}
	return nil
}

func (tx *writeTx) Create(obj objects.Object) error { return tx.create(obj, false) }

// Adopt implements store.Adopter.
func (tx *writeTx) Adopt(obj objects.Object) error { return tx.create(obj, true) }

func (tx *writeTx) create(obj objects.Object, adopt bool) error {
	k, err := tx.s.kinds.Of(obj)
	if err != nil {
		return err
	}
	key, err := k.CheckCreate(obj)
	if err != nil {
		return err
	}
	m := obj.GetObjectMeta()
	if strings.IndexByte(key.Namespace, 0) >= 0 || strings.IndexByte(m.Name, 0) >= 0 || strings.IndexByte(m.GenerateName, 0) >= 0 {
		return objects.ErrorList{objects.Invalid(objects.NewPath("metadata", "name"), m.Name, "must not contain NUL")}.ToError(k.Info.Kind, m.Name)
	}
	if key.Name == "" {
		for i := 0; ; i++ {
			key.Name = storecore.GenerateName(m.GenerateName, tx.s.rnd)
			old, err := tx.get(k.Info.Kind, key)
			if err != nil {
				return err
			}
			if old == nil {
				break
			}
			if i == generateNameTries-1 {
				return k.AlreadyExists(key.Name)
			}
		}
	} else if old, err := tx.get(k.Info.Kind, key); err != nil || old != nil {
		if err != nil {
			return err
		}
		return k.AlreadyExists(key.Name)
	}
	n := k.NewStored(obj, key, tx.s.newUID(), tx.stamp(), adopt)
	if err := tx.g.write(k, nil, n); err != nil {
		return fmt.Errorf("create %s %q: %w", k.Resource, key.Name, err)
	}
	storecore.StampCreated(obj, n)
	tx.changes = append(tx.changes, watchcache.Change{Type: store.Added, Obj: n})
	return nil
}

func (tx *writeTx) Update(obj objects.Object) error {
	return tx.update(obj, (*storecore.Kind).PrepareUpdate, func(k *storecore.Kind, in, stored objects.Object) {
		k.StampUpdated(in, stored, false)
	})
}

func (tx *writeTx) UpdateStatus(obj objects.Object) error {
	return tx.update(obj, (*storecore.Kind).PrepareUpdateStatus, func(_ *storecore.Kind, in, stored objects.Object) {
		storecore.CopyInto(in, stored)
	})
}

// UpdateWithStatus implements store.StatusUpdater.
func (tx *writeTx) UpdateWithStatus(obj objects.Object) error {
	return tx.update(obj, (*storecore.Kind).PrepareUpdateWithStatus, func(k *storecore.Kind, in, stored objects.Object) {
		k.StampUpdated(in, stored, true)
	})
}

// AdoptWithStatus implements store.StatusAdopter.
func (tx *writeTx) AdoptWithStatus(obj objects.Object) error {
	return tx.update(obj, (*storecore.Kind).PrepareAdoptWithStatus, func(k *storecore.Kind, in, stored objects.Object) {
		if stored != in { // nothing changed: old stays
			k.StampUpdated(in, stored, true)
		}
	})
}

func (tx *writeTx) update(obj objects.Object, prepare func(*storecore.Kind, objects.Object, objects.Object, storecore.Stamp) (storecore.Result, error),
	handBack func(k *storecore.Kind, in, stored objects.Object)) error {
	k, err := tx.s.kinds.Of(obj)
	if err != nil {
		return err
	}
	key := k.KeyOf(obj.GetObjectMeta())
	old, err := tx.get(k.Info.Kind, key)
	if err != nil {
		return err
	}
	if old == nil {
		return k.NotFound(key.Name)
	}
	res, err := prepare(k, old, obj, tx.stamp())
	if err != nil {
		return err
	}
	if err := tx.apply(k, old, res); err != nil {
		return err
	}
	handBack(k, obj, res.Obj)
	return nil
}

func (tx *writeTx) Delete(kind string, key objects.Key, opts store.DeleteOptions) (objects.Object, error) {
	obj, err := tx.remove(kind, key, opts)
	if err != nil {
		return nil, err
	}
	return obj.DeepCopyObject(), nil
}

// Remove implements store.Remover.
func (tx *writeTx) Remove(kind string, key objects.Key, opts store.DeleteOptions) error {
	_, err := tx.remove(kind, key, opts)
	return err
}

var (
	_ store.Adopter       = (*writeTx)(nil)
	_ store.Remover       = (*writeTx)(nil)
	_ store.StatusUpdater = (*writeTx)(nil)
	_ store.StatusAdopter = (*writeTx)(nil)
	_ store.Peeker        = (*writeTx)(nil)
)

// remove deletes and returns the object's last state, which is stored or
// in a watch event: never to be modified.
func (tx *writeTx) remove(kind string, key objects.Key, opts store.DeleteOptions) (objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	key = k.NormalizeKey(key)
	old, err := tx.get(kind, key)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, k.NotFound(key.Name)
	}
	res, err := k.PrepareDelete(old, opts, tx.stamp())
	if err != nil {
		return nil, err
	}
	if err := tx.apply(k, old, res); err != nil {
		return nil, err
	}
	return res.Obj, nil
}

func (tx *writeTx) apply(k *storecore.Kind, old objects.Object, res storecore.Result) error {
	var err error
	switch res.Op {
	case storecore.OpPut:
		err = tx.g.write(k, old, res.Obj)
		tx.changes = append(tx.changes, watchcache.Change{Type: store.Modified, Obj: res.Obj, Prev: old})
	case storecore.OpRemove:
		err = tx.g.write(k, old, nil)
		tx.changes = append(tx.changes, watchcache.Change{Type: store.Deleted, Obj: res.Obj})
	}
	if err != nil {
		return fmt.Errorf("write %s %q: %w", k.Resource, old.GetObjectMeta().Name, err)
	}
	return nil
}

// write replaces old by obj (either may be nil) in the objects table and
// moves the name between the rows of their labels and field values.
func (g *group) write(k *storecore.Kind, old, obj objects.Object) error {
	g.log = append(g.log, writeOp{k, old, obj})
	var (
		name     string
		from, to []string
	)
	if obj != nil {
		if err := g.txn.Insert(objectsTable, obj); err != nil {
			return err
		}
		m := obj.GetObjectMeta()
		name = m.Name
		key := objects.Key{Namespace: m.Namespace, Name: m.Name}
		g.written[objectID{k.Info.Kind, key}] = obj
		if g.limits != nil {
			if err := g.size(k.Info.Kind, key, obj); err != nil {
				return err
			}
		}
	}
	if old != nil {
		m := old.GetObjectMeta()
		name = m.Name
		if obj == nil {
			if err := g.txn.Delete(objectsTable, old); err != nil {
				return err
			}
			key := objects.Key{Namespace: m.Namespace, Name: m.Name}
			g.written[objectID{k.Info.Kind, key}] = nil
			if g.limits != nil {
				if err := g.size(k.Info.Kind, key, nil); err != nil {
					return err
				}
			}
		}
	}
	switch {
	case old != nil && obj != nil:
		from, to = attrsChanged(k, old, obj)
	case obj != nil:
		to = attrs(k, obj)
	case old != nil:
		from = attrs(k, old)
	}
	// Both lists are sorted: walk them together.
	for len(from) > 0 || len(to) > 0 {
		switch {
		case len(to) == 0 || len(from) > 0 && from[0] < to[0]:
			tr := g.row(from[0])
			tr.r.set = tr.r.set.Delete(name, g.owner)
			g.markDirty(tr)
			from = from[1:]
		case len(from) == 0 || to[0] < from[0]:
			tr := g.row(to[0])
			tr.r.set = tr.r.set.Insert(name, g.owner)
			g.markDirty(tr)
			to = to[1:]
		default: // in both
			from, to = from[1:], to[1:]
		}
	}
	return nil
}

// markDirty notes that tr changed since the last flush.
func (g *group) markDirty(tr *txRow) {
	if !tr.dirty {
		tr.dirty = true
		g.dirty = append(g.dirty, tr)
	}
}

// row returns the group's copy of the row under key.
func (g *group) row(key string) *txRow {
	if tr, ok := g.rows[key]; ok {
		return tr
	}
	tr := &txRow{}
	if raw, _ := g.base.First(attrsTable, "id", []byte(key)); raw != nil {
		committed := raw.(*row)
		tr.r = &row{key: committed.key, set: committed.set}
		tr.inDB = true
	} else {
		tr.r = &row{key: []byte(key)}
	}
	g.rows[key] = tr
	return tr
}

// flush writes the changed rows into the memdb transaction. A row the
// group inserted is changed in place afterwards, which is safe: no one
// else sees it before the commit.
func (g *group) flush() error {
	defer func() {
		clear(g.dirty)
		g.dirty = g.dirty[:0]
	}()
	for _, tr := range g.dirty {
		tr.dirty = false
		switch {
		case tr.r.set.Len() == 0:
			if tr.inDB {
				if err := g.txn.Delete(attrsTable, tr.r); err != nil {
					return err
				}
			}
			tr.inDB, tr.inserted = false, false
		case !tr.inserted:
			if err := g.txn.Insert(attrsTable, tr.r); err != nil {
				return err
			}
			tr.inDB, tr.inserted = true, true
		}
	}
	return nil
}

var (
	_ store.StatusUpdater = (*writeTx)(nil)
	_ store.StatusAdopter = (*writeTx)(nil)
	_ store.Peeker        = (*writeTx)(nil)
	_ store.Peeker        = (*readTx)(nil)
)
