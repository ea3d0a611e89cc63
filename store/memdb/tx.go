package memdb

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/internal/watchcache"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// generateNameTries bounds the retries of a generated name that is taken.
const generateNameTries = 8

type readTx struct {
	s   *Store
	txn *memdb.Txn
	rev int64
}

func (tx *readTx) Revision() int64 { return tx.rev }

func (tx *readTx) Get(kind string, key objects.Key) (objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	key = k.NormalizeKey(key)
	r, err := tx.get(k, key)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, k.NotFound(key.Name)
	}
	return r.obj.DeepCopyObject(), nil
}

func (tx *readTx) get(k *storecore.Kind, key objects.Key) (*record, error) {
	raw, err := tx.txn.First(table, "id", idKey(k.Info.Kind, key.Namespace, key.Name))
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*record), nil
}

// List reads one prefix of an index and filters what it finds: the prefix
// of an indexed field value when Fields name one, else of the first label
// the selector requires exactly, else of the kind (and namespace).
func (tx *readTx) List(kind string, opts store.ListOptions) ([]objects.Object, error) {
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
		name      string
		byName    bool
		fieldKeys [][]byte // attr prefixes without namespace, one per indexed field
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
			if _, ok := k.Index(field); !ok {
				return nil, fmt.Errorf("list %s: field label not supported: %s: %w", k.Resource, field, store.ErrUnknownIndex)
			}
			fieldKeys = append(fieldKeys, attrPrefix(kind, tagField, field, value, ""))
		}
	}

	if byName && (ns != "" || !k.Info.Namespaced) {
		r, err := tx.get(k, objects.Key{Namespace: ns, Name: name})
		if err != nil || r == nil || !matches(r, sel, fieldKeys) {
			return nil, err
		}
		return []objects.Object{r.obj.DeepCopyObject()}, nil
	}

	index, prefix := "id", idPrefix(kind, ns)
	switch exact := storecore.ExactLabels(sel); {
	case len(fieldKeys) > 0:
		index, prefix = "attr", fieldKeys[0]
		if ns != "" {
			prefix = appendParts(slices.Clip(prefix), ns)
		}
		fieldKeys = fieldKeys[1:]
	case len(exact) > 0:
		index, prefix = "attr", attrPrefix(kind, tagLabel, exact[0].Key, exact[0].Value, ns)
	}
	it, err := tx.txn.Get(table, index+"_prefix", prefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", k.Resource, err)
	}
	var out []objects.Object
	for raw := it.Next(); raw != nil; raw = it.Next() {
		r := raw.(*record)
		if byName && r.obj.GetObjectMeta().Name != name {
			continue
		}
		if matches(r, sel, fieldKeys) {
			out = append(out, r.obj.DeepCopyObject())
		}
	}
	return out, nil
}

func matches(r *record, sel objects.Selector, fieldKeys [][]byte) bool {
	for _, fk := range fieldKeys {
		if !r.hasAttr(fk) {
			return false
		}
	}
	return sel == nil || sel.Matches(r.obj.GetObjectMeta().Labels)
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

// writeTx writes through a memdb write transaction. Its point reads do not
// go through that transaction: memdb clones the radix transaction for a
// read, which drops its cache of nodes already copied, so every insert after
// a read would copy its whole path again. Instead they read the last commit
// (base) under the keys this transaction wrote (written).
type writeTx struct {
	readTx
	base    *memdb.Txn
	written map[string]*record // nil: deleted in this transaction
	changes []watchcache.Change
	st      *storecore.Stamp
}

func (tx *writeTx) get(k *storecore.Kind, key objects.Key) (*record, error) {
	id := idKey(k.Info.Kind, key.Namespace, key.Name)
	if r, ok := tx.written[string(id)]; ok {
		return r, nil
	}
	raw, err := tx.base.First(table, "id", id)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*record), nil
}

func (tx *writeTx) Get(kind string, key objects.Key) (objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	key = k.NormalizeKey(key)
	r, err := tx.get(k, key)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, k.NotFound(key.Name)
	}
	return r.obj.DeepCopyObject(), nil
}

func (tx *writeTx) put(r *record) error {
	if err := tx.txn.Insert(table, r); err != nil {
		return err
	}
	tx.written[string(r.id())] = r
	return nil
}

func (tx *writeTx) remove(r *record) error {
	if err := tx.txn.Delete(table, r); err != nil {
		return err
	}
	tx.written[string(r.id())] = nil
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

func (tx *writeTx) Create(obj objects.Object) error {
	k, err := tx.s.kinds.Of(obj)
	if err != nil {
		return err
	}
	key, err := k.CheckCreate(obj)
	if err != nil {
		return err
	}
	m := obj.GetObjectMeta()
	if strings.IndexByte(key.Namespace+m.Name+m.GenerateName, 0) >= 0 {
		return objects.ErrorList{objects.Invalid(objects.NewPath("metadata", "name"), m.Name, "must not contain NUL")}.ToError(k.Info.Kind, m.Name)
	}
	if key.Name == "" {
		for i := 0; ; i++ {
			key.Name = storecore.GenerateName(m.GenerateName, tx.s.rnd)
			r, err := tx.get(k, key)
			if err != nil {
				return err
			}
			if r == nil {
				break
			}
			if i == generateNameTries-1 {
				return k.AlreadyExists(key.Name)
			}
		}
	} else if r, err := tx.get(k, key); err != nil || r != nil {
		if err != nil {
			return err
		}
		return k.AlreadyExists(key.Name)
	}
	n := k.NewStored(obj, key, tx.s.newUID(), tx.stamp())
	if err := tx.put(newRecord(k, n)); err != nil {
		return fmt.Errorf("create %s %q: %w", k.Resource, key.Name, err)
	}
	storecore.StampCreated(obj, n)
	tx.changes = append(tx.changes, watchcache.Change{Type: store.Added, Obj: n})
	return nil
}

func (tx *writeTx) Update(obj objects.Object) error {
	return tx.update(obj, (*storecore.Kind).PrepareUpdate)
}

func (tx *writeTx) UpdateStatus(obj objects.Object) error {
	return tx.update(obj, (*storecore.Kind).PrepareUpdateStatus)
}

func (tx *writeTx) update(obj objects.Object, prepare func(*storecore.Kind, objects.Object, objects.Object, storecore.Stamp) (storecore.Result, error)) error {
	k, err := tx.s.kinds.Of(obj)
	if err != nil {
		return err
	}
	key := k.KeyOf(obj.GetObjectMeta())
	old, err := tx.get(k, key)
	if err != nil {
		return err
	}
	if old == nil {
		return k.NotFound(key.Name)
	}
	res, err := prepare(k, old.obj, obj, tx.stamp())
	if err != nil {
		return err
	}
	if err := tx.apply(k, old, res); err != nil {
		return err
	}
	storecore.CopyInto(obj, res.Obj)
	return nil
}

func (tx *writeTx) Delete(kind string, key objects.Key, opts store.DeleteOptions) (objects.Object, error) {
	k, err := tx.s.kinds.Lookup(kind)
	if err != nil {
		return nil, err
	}
	key = k.NormalizeKey(key)
	old, err := tx.get(k, key)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, k.NotFound(key.Name)
	}
	res, err := k.PrepareDelete(old.obj, opts, tx.stamp())
	if err != nil {
		return nil, err
	}
	if err := tx.apply(k, old, res); err != nil {
		return nil, err
	}
	return res.Obj.DeepCopyObject(), nil
}

func (tx *writeTx) apply(k *storecore.Kind, old *record, res storecore.Result) error {
	var err error
	switch res.Op {
	case storecore.OpPut:
		err = tx.put(newRecord(k, res.Obj))
		tx.changes = append(tx.changes, watchcache.Change{Type: store.Modified, Obj: res.Obj, Prev: old.obj})
	case storecore.OpRemove:
		err = tx.remove(old)
		tx.changes = append(tx.changes, watchcache.Change{Type: store.Deleted, Obj: res.Obj})
	}
	if err != nil {
		return fmt.Errorf("write %s %q: %w", k.Resource, old.obj.GetObjectMeta().Name, err)
	}
	return nil
}
