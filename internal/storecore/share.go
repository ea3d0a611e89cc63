package storecore

import (
	"reflect"
	"time"

	"github.com/podkit/podkit/objects"
)

// A stored object is never modified, by the store or by anyone it hands it
// to (store.Peeker, watch events). So an update may keep, in the object it
// stores, memory it finds identical in the object it replaces: a caller
// that built its object from the stored one (a shallow copy changing a few
// fields) then costs no deep copy of what it left alone. What the caller's
// object does not share with the stored one is copied, as ever, so the
// caller keeps its own.

// part is a top-level field of a kind's Go type (metadata, spec, status…)
// that an update takes as a whole, either shared or copied.
type part struct {
	index []int
	// refs are the paths, inside the part, of the fields that refer to
	// memory (slices, maps, pointers, interfaces), through nested structs.
	refs [][]int
	// copy deep-copies the part *src into *dst with the part type's
	// generated DeepCopyInto; nil when it refers to nothing.
	copy   func(src, dst reflect.Value)
	status bool // the Status field
}

// sharingParts returns the parts of the Go type t, or false when some part
// cannot be copied on its own, so that updates must copy the whole object.
func sharingParts(t reflect.Type) ([]part, bool) {
	var parts []part
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		refs, ok := refPaths(f.Type, nil, nil)
		if !ok {
			return nil, false
		}
		p := part{index: f.Index, refs: refs, status: f.Name == "Status"}
		if len(refs) > 0 {
			if p.copy = deepCopyInto(f.Type); p.copy == nil {
				return nil, false
			}
		}
		parts = append(parts, p)
	}
	return parts, true
}

// refPaths appends the paths of the fields of t, under prefix, that refer
// to memory; false when t holds such fields in arrays, functions or
// channels, which are not compared.
func refPaths(t reflect.Type, prefix []int, out [][]int) ([][]int, bool) {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		return append(out, append([]int(nil), prefix...)), true
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() {
			return out, true // a value: its location is never modified
		}
		for i := 0; i < t.NumField(); i++ {
			var ok bool
			if out, ok = refPaths(t.Field(i).Type, append(prefix, i), out); !ok {
				return nil, false
			}
		}
		return out, true
	case reflect.Array:
		if inner, ok := refPaths(t.Elem(), nil, nil); !ok || len(inner) > 0 {
			return nil, false
		}
		return out, true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return nil, false
	}
	return out, true
}

// deepCopyInto returns the generated DeepCopyInto of *t, or nil.
func deepCopyInto(t reflect.Type) func(src, dst reflect.Value) {
	m, ok := reflect.PointerTo(t).MethodByName("DeepCopyInto")
	if !ok || m.Type.NumIn() != 2 || m.Type.In(1) != reflect.PointerTo(t) || m.Type.NumOut() != 0 {
		return nil
	}
	return func(src, dst reflect.Value) { m.Func.Call([]reflect.Value{src, dst}) }
}

// shares reports whether every reference of part a is one of part b: the
// same slice (array and length), map, pointer, or both nil interfaces.
func (p *part) shares(a, b reflect.Value) bool {
	for _, path := range p.refs {
		fa, fb := a, b
		for _, i := range path {
			fa, fb = fa.Field(i), fb.Field(i)
		}
		switch fa.Kind() {
		case reflect.Slice:
			if fa.Len() != fb.Len() || fa.UnsafePointer() != fb.UnsafePointer() {
				return false
			}
		case reflect.Map, reflect.Pointer:
			if fa.UnsafePointer() != fb.UnsafePointer() {
				return false
			}
		default:
			if !fa.IsNil() || !fb.IsNil() {
				return false
			}
		}
	}
	return true
}

// copyForStore returns the copy of in to store in place of old: a deep
// copy, except for the parts of in that refer only to memory of old. With
// oldStatus, the status is old's, not a copy of in's.
func (k *Kind) copyForStore(old, in objects.Object, oldStatus bool) objects.Object {
	if k.parts == nil {
		n := in.DeepCopyObject()
		if oldStatus && k.status != nil {
			k.statusOf(n).Set(k.statusOf(old))
		}
		return n
	}
	n := k.Info.New()
	vn, vin, vold := reflect.ValueOf(n).Elem(), reflect.ValueOf(in).Elem(), reflect.ValueOf(old).Elem()
	vn.Set(vin)
	for i := range k.parts {
		p := &k.parts[i]
		if oldStatus && p.status {
			vn.FieldByIndex(p.index).Set(vold.FieldByIndex(p.index))
			continue
		}
		if p.copy == nil {
			continue
		}
		src := vin.FieldByIndex(p.index)
		if !p.shares(src, vold.FieldByIndex(p.index)) {
			p.copy(src.Addr(), vn.FieldByIndex(p.index).Addr())
		}
	}
	return n
}
