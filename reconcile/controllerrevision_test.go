package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
)

func TestControllerRevisionNaming(t *testing.T) {
	data := []byte(`{"spec":{"template":{"$patch":"replace"}}}`)
	h0, h1 := hashControllerRevision(data, 0), hashControllerRevision(data, 1)
	require.Equal(t, h0, hashControllerRevision(data, 0), "stable")
	require.NotEqual(t, h0, h1, "the collision count changes the hash")
	require.NotEqual(t, h0, hashControllerRevision([]byte(`{}`), 0))
	require.Regexp(t, "^[bcdfghjklmnpqrstvwxz2456789]+$", h0)
	require.Equal(t, "db-"+h0, controllerRevisionName("db", h0))
	long := strings.Repeat("a", 300)
	require.Len(t, controllerRevisionName(long, h0), 223+1+len(h0))

	set := newStatefulSet("db", 1)
	set.UID, set.APIVersion, set.Kind = "u1", "apps/v1", kindStatefulSet
	cr := newControllerRevision(set, map[string]string{"app": "db"}, data, 7, dataHash(data)(1))
	require.Equal(t, "db-"+h1, cr.Name)
	require.Equal(t, map[string]string{"app": "db", objects.ControllerRevisionHashLabelKey: h1}, cr.Labels)
	require.Equal(t, int64(7), cr.Revision)
	require.Equal(t, "u1", cr.ControllerRef().UID)
}

func TestSortAndNextRevision(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(name string, rev int64, age time.Duration) *objects.ControllerRevision {
		return &objects.ControllerRevision{ObjectMeta: objects.ObjectMeta{Name: name, CreationTimestamp: objects.NewTime(t0.Add(-age))}, Revision: rev}
	}
	revs := []*objects.ControllerRevision{mk("c", 3, 0), mk("b2", 1, time.Minute), mk("b1", 1, time.Minute), mk("a", 1, time.Hour)}
	sortRevisions(revs)
	var got []string
	for _, r := range revs {
		got = append(got, r.Name)
	}
	require.Equal(t, []string{"a", "b1", "b2", "c"}, got)
	require.Equal(t, int64(4), nextRevision(revs))
	require.Equal(t, int64(1), nextRevision(nil))
}

// A revision's template reads back as the set's, defaulted; data that is
// not a StatefulSet patch is an error naming the revision.
func TestRevisionTemplate(t *testing.T) {
	set := newStatefulSet("db", 1)
	set.Default()
	data, err := templatePatch(&set.Spec.Template)
	require.NoError(t, err)
	require.Contains(t, string(data), `"$patch":"replace"`)
	got, err := revisionTemplate(&objects.ControllerRevision{Data: objects.RawExtension{Raw: data}})
	require.NoError(t, err)
	require.Equal(t, &set.Spec.Template, got)
	again, err := templatePatch(&set.Spec.Template)
	require.NoError(t, err)
	require.Equal(t, data, again, "equal templates give equal bytes")

	_, err = revisionTemplate(&objects.ControllerRevision{ObjectMeta: objects.ObjectMeta{Name: "db-x"}, Data: objects.RawExtension{Raw: []byte(`{"spec":{}}`)}})
	require.ErrorContains(t, err, "ControllerRevision db-x: data holds no spec.template")
}
