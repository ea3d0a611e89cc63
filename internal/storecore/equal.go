package storecore

import (
	"reflect"

	forked "k8s.io/apimachinery/third_party/forked/golang/reflect"

	"github.com/podkit/podkit/objects"
)

// semantic is Kubernetes' semantic equality (apimachinery's
// equality.Semantic, on the same forked reflect package): deep, with an
// empty list or map equal to none, and quantities and times compared by
// value.
var semantic = func() forked.Equalities {
	e := forked.Equalities{}
	if err := e.AddFuncs(
		func(a, b objects.Quantity) bool { return a.Cmp(b) == 0 },
		func(a, b objects.Time) bool { return a.Time.Equal(b.Time) },
		func(a, b objects.MicroTime) bool { return a.Time.Equal(b.Time) },
	); err != nil {
		panic(err)
	}
	return e
}()

// SemanticEqual reports whether a and b are equal as Kubernetes compares
// objects: deeply, with an empty list or map equal to none, as JSON with
// omitempty writes both. An object that went through JSON, as a durable
// store's objects do, equals the one it was written from. The common case,
// equal by reflect.DeepEqual, costs no more than that. A value the
// semantic comparison cannot walk (an unexported field of a type it has
// no function for) counts as unequal.
func SemanticEqual(a, b any) (equal bool) {
	if reflect.DeepEqual(a, b) {
		return true
	}
	defer func() {
		if recover() != nil {
			equal = false
		}
	}()
	return semantic.DeepEqual(a, b)
}
