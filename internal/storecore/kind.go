// Package storecore holds what every store backend does the same way: what
// a kind looks like to the store (its resource name for error messages, its
// status and content fields, its field indexes), the Kubernetes semantics of
// create, update, status update and delete, error messages, and reading the
// exact-match requirements out of a label selector. A backend (store/memdb,
// later bolt or etcd) only stores, indexes and versions what this package
// decides.
package storecore

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Kind is what the store needs to know about one registered kind.
type Kind struct {
	Info *objects.KindInfo
	// Resource is the plural lowercase name Kubernetes puts in messages,
	// with the group for non-core kinds: "pods", "deployments.apps".
	Resource string
	// Indexes are the field indexes of this kind (its own and those of
	// every kind), sorted by field.
	Indexes []store.FieldIndex

	status []int // index of the Status field; nil when there is none
	// statusCopy deep-copies the status *src into *dst, through the
	// status type's generated DeepCopyInto; nil when it has none.
	statusCopy func(src, dst reflect.Value)
	content    [][]int // top-level fields other than TypeMeta, ObjectMeta and Status
	// parts are the top-level fields, for updates that share what is
	// unchanged (see copyForStore); nil when updates copy whole objects.
	parts []part
}

// Kinds caches a Kind per kind of one scheme.
type Kinds struct {
	scheme  *objects.Scheme
	indexes []store.FieldIndex
	byName  sync.Map // kind name → *Kind
}

// NewKinds prepares the kinds of scheme with the given field indexes. Two
// indexes on the same field of the same kind are an error.
func NewKinds(scheme *objects.Scheme, indexes []store.FieldIndex) (*Kinds, error) {
	seen := map[[2]string]bool{}
	for _, ix := range indexes {
		if ix.Field == "" || ix.Func == nil {
			return nil, fmt.Errorf("field index on kind %q: Field and Func are required", ix.Kind)
		}
		if ix.Field == FieldName || ix.Field == FieldNamespace {
			return nil, fmt.Errorf("field index %s: built in, needs no index", ix.Field)
		}
		if seen[[2]string{ix.Kind, ix.Field}] {
			return nil, fmt.Errorf("field index %s on kind %q: registered twice", ix.Field, ix.Kind)
		}
		seen[[2]string{ix.Kind, ix.Field}] = true
	}
	for _, ix := range indexes {
		if ix.Kind != "" && seen[[2]string{"", ix.Field}] {
			return nil, fmt.Errorf("field index %s: registered for kind %s and for every kind", ix.Field, ix.Kind)
		}
	}
	ks := &Kinds{scheme: scheme, indexes: indexes}
	for _, info := range scheme.Kinds() {
		ks.byName.Store(info.Kind, ks.newKind(info))
	}
	return ks, nil
}

// Scheme returns the scheme the kinds come from.
func (ks *Kinds) Scheme() *objects.Scheme { return ks.scheme }

// Lookup returns the kind registered under name, or an error wrapping
// store.ErrUnknownKind.
func (ks *Kinds) Lookup(name string) (*Kind, error) {
	if k, ok := ks.byName.Load(name); ok {
		return k.(*Kind), nil
	}
	info := ks.scheme.Lookup(name)
	if info == nil {
		return nil, fmt.Errorf("kind %q: %w", name, store.ErrUnknownKind)
	}
	k, _ := ks.byName.LoadOrStore(name, ks.newKind(info))
	return k.(*Kind), nil
}

// Of returns the kind of obj, from its Go type, or an error wrapping
// store.ErrUnknownKind.
func (ks *Kinds) Of(obj objects.Object) (*Kind, error) {
	info, err := ks.scheme.KindOf(obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", store.ErrUnknownKind, err)
	}
	return ks.Lookup(info.Kind)
}

func (ks *Kinds) newKind(info *objects.KindInfo) *Kind {
	k := &Kind{Info: info, Resource: Resource(info)}
	for _, ix := range ks.indexes {
		if ix.Kind == "" || ix.Kind == info.Kind {
			k.Indexes = append(k.Indexes, ix)
		}
	}
	// Stable order, so that index entries of two versions of an object line
	// up and unchanged entries are not rewritten.
	sortIndexes(k.Indexes)
	t := reflect.TypeOf(info.New()).Elem()
	k.parts, _ = sharingParts(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		switch {
		case !f.IsExported():
		case f.Anonymous && (f.Type == reflect.TypeFor[objects.TypeMeta]() || f.Type == reflect.TypeFor[objects.ObjectMeta]()):
		case f.Name == "Status":
			k.status = f.Index
			if m, ok := reflect.PointerTo(f.Type).MethodByName("DeepCopyInto"); ok &&
				m.Type.NumIn() == 2 && m.Type.In(1) == reflect.PointerTo(f.Type) && m.Type.NumOut() == 0 {
				k.statusCopy = func(src, dst reflect.Value) { m.Func.Call([]reflect.Value{src, dst}) }
			}
		default:
			k.content = append(k.content, f.Index)
		}
	}
	return k
}

func sortIndexes(ix []store.FieldIndex) {
	for i := 1; i < len(ix); i++ {
		for j := i; j > 0 && ix[j].Field < ix[j-1].Field; j-- {
			ix[j], ix[j-1] = ix[j-1], ix[j]
		}
	}
}

// Index returns the field index of this kind on field, if there is one.
func (k *Kind) Index(field string) (store.FieldIndex, bool) {
	for _, ix := range k.Indexes {
		if ix.Field == field {
			return ix, true
		}
	}
	return store.FieldIndex{}, false
}

// HasStatus reports whether the kind has a Status field.
func (k *Kind) HasStatus() bool { return k.status != nil }

// KeyOf returns the key obj is stored under: its namespace (none for a
// cluster-scoped kind) and name.
func (k *Kind) KeyOf(m *objects.ObjectMeta) objects.Key {
	if !k.Info.Namespaced {
		return objects.Key{Name: m.Name}
	}
	return objects.Key{Namespace: m.Namespace, Name: m.Name}
}

// NormalizeKey drops the namespace of a key of a cluster-scoped kind.
func (k *Kind) NormalizeKey(key objects.Key) objects.Key {
	if !k.Info.Namespaced {
		key.Namespace = ""
	}
	return key
}

// Resource returns the name Kubernetes uses for a kind in messages: the
// lowercase plural, followed by the group for kinds outside the core group
// ("pods", "endpoints", "ingresses.networking.k8s.io", "deployments.apps").
func Resource(info *objects.KindInfo) string {
	r := Plural(info.Kind)
	if g := info.Group(); g != "" {
		r += "." + g
	}
	return r
}

// Plural returns the lowercase plural of a kind name, by the English rules
// Kubernetes' own names follow: Endpoints stays, Ingress → ingresses,
// PriorityClass → priorityclasses, Policy → policies.
func Plural(kind string) string {
	s := strings.ToLower(kind)
	switch {
	case s == "":
		return s
	case strings.HasSuffix(s, "ss"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "z"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case strings.HasSuffix(s, "s"):
		return s // already plural: endpoints
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}

// Built-in fields a List may select on without an index, as on every kind
// in Kubernetes.
const (
	FieldName      = "metadata.name"
	FieldNamespace = "metadata.namespace"
)
