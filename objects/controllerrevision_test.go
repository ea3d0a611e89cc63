package objects

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestControllerRevisionValidate(t *testing.T) {
	cases := []struct {
		name string
		rev  ControllerRevision
		want []string
	}{
		{"valid", ControllerRevision{Data: RawExtension{Raw: []byte(`{"spec":{}}`)}, Revision: 3}, nil},
		{"no data", ControllerRevision{Revision: 1}, []string{"data: Required value: data is mandatory"}},
		{"not JSON", ControllerRevision{Data: RawExtension{Raw: []byte(`{`)}, Revision: 1},
			[]string{`data: Invalid value: "{": must be a JSON value`}},
		{"negative revision", ControllerRevision{Data: RawExtension{Raw: []byte(`{}`)}, Revision: -1},
			[]string{"revision: Invalid value: -1: must be greater than or equal to 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range c.rev.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
}

// Data may not change; the revision number may (a StatefulSet going back
// to an older template raises it).
func TestControllerRevisionValidateUpdate(t *testing.T) {
	old := &ControllerRevision{ObjectMeta: ObjectMeta{Name: "db-abc", Namespace: "default"},
		Data: RawExtension{Raw: []byte(`{"spec":{"template":{"$patch":"replace"}}}`)}, Revision: 1}
	bumped := old.DeepCopy()
	bumped.Revision = 4
	bumped.Data.Raw = []byte(`{"spec": {"template": {"$patch": "replace"}}}`) // the same, spaced
	assert.Empty(t, bumped.ValidateUpdate(old))
	changed := old.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{}}`)
	errs := changed.ValidateUpdate(old)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "data: Invalid value")
	assert.Contains(t, errs[0].Error(), "field is immutable")
	assert.NotEmpty(t, changed.ValidateUpdate(&Lease{}))
}

func TestControllerRevisionManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: db-7c9f5d8b6
  namespace: default
  labels: {app: db, controller-revision-hash: 7c9f5d8b6}
  ownerReferences:
  - {apiVersion: apps/v1, kind: StatefulSet, name: db, uid: 1b2c, controller: true, blockOwnerDeletion: true}
data:
  spec:
    template:
      $patch: replace
      metadata: {labels: {app: db}}
      spec:
        containers: [{name: db, image: "postgres:17"}]
revision: 2
`)
	r := obj.(*ControllerRevision)
	assert.Equal(t, int64(2), r.Revision)
	assert.JSONEq(t, `{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"db"}},
		"spec":{"containers":[{"name":"db","image":"postgres:17"}]}}}}`, string(r.Data.Raw))
	require.NoError(t, validateThroughScheme(r))
	jsonRoundTrip(t, r)

	c := r.DeepCopy()
	c.Data.Raw[0] = ' '
	assert.Equal(t, byte('{'), r.Data.Raw[0], "a deep copy shares no data")

	_, err := NewScheme().DecodeBytes([]byte("apiVersion: apps/v1\nkind: ControllerRevision\nmetadata: {name: x}\nrevision: 1\nrevisoin: 2\n"))
	require.ErrorContains(t, err, "revisoin", "decoding is strict")
}
