package memdb

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/objects"
)

// Keys. Parts are ended by a NUL byte, which no name, label or index value
// contains, so that a prefix of whole parts selects exactly what it names.
//
//	id:    kind NUL namespace NUL name NUL
//	label: kind NUL 'L' key NUL value NUL namespace NUL name NUL
//	field: kind NUL 'F' field NUL value NUL namespace NUL name NUL
//
// A kind's objects, or a namespace's, are a prefix of the id index; the
// objects with a label or field value, in all namespaces or in one, are a
// prefix of the attr index. Both give the namespace/name order List
// promises.
const (
	idParts   = 3
	attrParts = 5
	tagLabel  = 'L'
	tagField  = 'F'
)

// record is what the objects table holds: the stored object and its index
// keys, computed once per write in one buffer, so that the indexers memdb
// calls on insert and delete only slice it. Records are never modified once
// inserted.
type record struct {
	obj  objects.Object
	keys []byte // the id key, then every attr key
}

func newRecord(k *storecore.Kind, obj objects.Object) *record {
	m := obj.GetObjectMeta()
	kind, ns, name := k.Info.Kind, m.Namespace, m.Name
	tail := len(ns) + len(name) + 2

	labelKeys := make([]string, 0, len(m.Labels))
	for key := range m.Labels {
		labelKeys = append(labelKeys, key)
	}
	slices.Sort(labelKeys) // a stable order lets memdb keep unchanged entries
	var fieldVals [][]string
	size := len(kind) + 1 + tail
	for _, key := range labelKeys {
		size += len(kind) + 2 + len(key) + 1 + len(m.Labels[key]) + 1 + tail
	}
	if len(k.Indexes) > 0 {
		fieldVals = make([][]string, len(k.Indexes))
		for i, ix := range k.Indexes {
			fieldVals[i] = ix.Func(obj)
			for _, v := range fieldVals[i] {
				size += len(kind) + 2 + len(ix.Field) + 1 + len(v) + 1 + tail
			}
		}
	}

	b := make([]byte, 0, size)
	b = appendParts(b, kind, ns, name)
	for _, key := range labelKeys {
		b = appendAttr(b, kind, tagLabel, key, m.Labels[key], ns, name)
	}
	for i, ix := range k.Indexes {
		for _, v := range fieldVals[i] {
			b = appendAttr(b, kind, tagField, ix.Field, v, ns, name)
		}
	}
	return &record{obj: obj, keys: b}
}

func appendParts(b []byte, parts ...string) []byte {
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0)
	}
	return b
}

func appendAttr(b []byte, kind string, tag byte, key, value, ns, name string) []byte {
	b = append(b, kind...)
	b = append(b, 0, tag)
	return appendParts(b, key, value, ns, name)
}

// idKey returns the id key of kind/ns/name.
func idKey(kind, ns, name string) []byte {
	return appendParts(make([]byte, 0, len(kind)+len(ns)+len(name)+3), kind, ns, name)
}

// idPrefix selects a kind's objects, or those of one namespace.
func idPrefix(kind, ns string) []byte {
	if ns == "" {
		return appendParts(nil, kind)
	}
	return appendParts(nil, kind, ns)
}

// attrPrefix selects the objects with a label or field value, in every
// namespace or in one.
func attrPrefix(kind string, tag byte, key, value, ns string) []byte {
	b := append([]byte(kind), 0, tag)
	b = appendParts(b, key, value)
	if ns != "" {
		b = appendParts(b, ns)
	}
	return b
}

// split returns the end of the key starting at b[0] that has n parts.
func split(b []byte, n int) int {
	end := 0
	for range n {
		end += bytes.IndexByte(b[end:], 0) + 1
	}
	return end
}

func (r *record) id() []byte {
	end := split(r.keys, idParts)
	return r.keys[:end:end]
}

// attrs returns the attr keys; each is capped so that no append by memdb
// can write into the record.
func (r *record) attrs() [][]byte {
	rest := r.keys[split(r.keys, idParts):]
	if len(rest) == 0 {
		return nil
	}
	out := make([][]byte, 0, 4)
	for len(rest) > 0 {
		end := split(rest, attrParts)
		out = append(out, rest[:end:end])
		rest = rest[end:]
	}
	return out
}

// hasAttr reports whether the record has an attr key starting with prefix
// (which ends before the namespace part).
func (r *record) hasAttr(prefix []byte) bool {
	rest := r.keys[split(r.keys, idParts):]
	for len(rest) > 0 {
		end := split(rest, attrParts)
		if bytes.HasPrefix(rest[:end], prefix) {
			return true
		}
		rest = rest[end:]
	}
	return false
}

// idIndexer indexes records by their id key. Lookups pass raw key bytes.
type idIndexer struct{}

func (idIndexer) FromObject(raw any) (bool, []byte, error) {
	return true, raw.(*record).id(), nil
}

func (idIndexer) FromArgs(args ...any) ([]byte, error) { return rawArg(args) }

func (idIndexer) PrefixFromArgs(args ...any) ([]byte, error) { return rawArg(args) }

// attrIndexer indexes records by their label and field keys. The keys end
// with namespace and name, so they are unique and memdb need not append the
// id to them.
type attrIndexer struct{}

func (attrIndexer) FromObject(raw any) (bool, [][]byte, error) {
	a := raw.(*record).attrs()
	return len(a) > 0, a, nil
}

func (attrIndexer) FromArgs(args ...any) ([]byte, error) { return rawArg(args) }

func (attrIndexer) PrefixFromArgs(args ...any) ([]byte, error) { return rawArg(args) }

func rawArg(args []any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("one key argument expected, got %d", len(args))
	}
	b, ok := args[0].([]byte)
	if !ok {
		return nil, fmt.Errorf("key argument: []byte expected, got %T", args[0])
	}
	return b, nil
}
