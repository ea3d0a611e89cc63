package memdb

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/podkit/podkit/internal/pset"
	"github.com/podkit/podkit/internal/storecore"
	"github.com/podkit/podkit/objects"
)

// Two tables, each with one radix index:
//
//	objects: kind NUL namespace NUL name NUL → the stored object
//	attrs:   kind NUL 'L' key NUL value NUL namespace NUL   → a row: the set
//	         kind NUL 'F' field NUL value NUL namespace NUL    of names with
//	                                                           that label or
//	                                                           field value
//
// Parts end with a NUL byte, which no name, label or index value contains
// (Create refuses such names; such labels and values are not indexed), so a
// prefix of whole parts selects exactly what it names: a kind's or a
// namespace's objects, a label value's rows in every namespace or in one.
// Both give the namespace/name order List promises.
//
// A row holds names, not objects, so it changes only when an object gains
// or loses the label or value: a status update writes one radix entry. And
// there is one radix entry per distinct value and namespace, not per
// object, which is most of what a stored pod costs besides the pod.
const (
	objectsTable = "objects"
	attrsTable   = "attrs"
	tagLabel     = 'L'
	tagField     = 'F'
)

// row is one entry of the attrs table. Rows are never changed once
// committed; a transaction changes a copy (see writeTx.row).
type row struct {
	key []byte
	set pset.Set
}

func appendParts(b []byte, parts ...string) []byte {
	for _, p := range parts {
		b = append(b, p...)
		b = append(b, 0)
	}
	return b
}

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

// rowKey returns the key of the row of a label or field value in ns, or
// with all false, the prefix of its rows in every namespace.
func rowKey(kind string, tag byte, key, value, ns string, all bool) []byte {
	b := make([]byte, 0, len(kind)+len(key)+len(value)+len(ns)+5)
	b = append(b, kind...)
	b = append(b, 0, tag)
	b = appendParts(b, key, value)
	if !all {
		b = appendParts(b, ns)
	}
	return b
}

// rowNamespace returns the namespace part of a row key.
func rowNamespace(key []byte) string {
	i := bytes.LastIndexByte(key[:len(key)-1], 0)
	return string(key[i+1 : len(key)-1])
}

// attrs returns the keys of the rows obj belongs to, sorted, without
// duplicates.
func attrs(k *storecore.Kind, obj objects.Object) []string {
	m := obj.GetObjectMeta()
	out := make([]string, 0, len(m.Labels)+len(k.Indexes))
	out = appendLabelRows(out, k, m)
	for _, ix := range k.Indexes {
		out = appendFieldRows(out, k, ix.Field, m.Namespace, ix.Func(obj))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// attrsChanged returns the rows of old and obj, two versions of one object,
// less those of the labels and fields that did not change: most writes
// change neither, and building row keys costs more than comparing.
func attrsChanged(k *storecore.Kind, old, obj objects.Object) (from, to []string) {
	om, m := old.GetObjectMeta(), obj.GetObjectMeta()
	if !maps.Equal(om.Labels, m.Labels) {
		from = appendLabelRows(from, k, om)
		to = appendLabelRows(to, k, m)
	}
	for _, ix := range k.Indexes {
		was, is := ix.Func(old), ix.Func(obj)
		if !slices.Equal(was, is) {
			from = appendFieldRows(from, k, ix.Field, om.Namespace, was)
			to = appendFieldRows(to, k, ix.Field, m.Namespace, is)
		}
	}
	slices.Sort(from)
	slices.Sort(to)
	return slices.Compact(from), slices.Compact(to)
}

func appendLabelRows(out []string, k *storecore.Kind, m *objects.ObjectMeta) []string {
	for key, v := range m.Labels {
		if strings.IndexByte(key, 0) < 0 && strings.IndexByte(v, 0) < 0 {
			out = append(out, string(rowKey(k.Info.Kind, tagLabel, key, v, m.Namespace, false)))
		}
	}
	return out
}

func appendFieldRows(out []string, k *storecore.Kind, field, ns string, values []string) []string {
	for _, v := range values {
		if strings.IndexByte(v, 0) < 0 {
			out = append(out, string(rowKey(k.Info.Kind, tagField, field, v, ns, false)))
		}
	}
	return out
}

// objectIndexer indexes stored objects by kind, namespace and name.
// Lookups pass raw key bytes.
type objectIndexer struct{}

func (objectIndexer) FromObject(raw any) (bool, []byte, error) {
	obj := raw.(objects.Object)
	m := obj.GetObjectMeta()
	return true, idKey(obj.GetTypeMeta().Kind, m.Namespace, m.Name), nil
}

func (objectIndexer) FromArgs(args ...any) ([]byte, error) { return rawArg(args) }

func (objectIndexer) PrefixFromArgs(args ...any) ([]byte, error) { return rawArg(args) }

// rowIndexer indexes rows by their key.
type rowIndexer struct{}

func (rowIndexer) FromObject(raw any) (bool, []byte, error) {
	k := raw.(*row).key
	return true, k[:len(k):len(k)], nil
}

func (rowIndexer) FromArgs(args ...any) ([]byte, error) { return rawArg(args) }

func (rowIndexer) PrefixFromArgs(args ...any) ([]byte, error) { return rawArg(args) }

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
