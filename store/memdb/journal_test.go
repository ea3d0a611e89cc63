package memdb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// journal keeps commits in a map, and fails them while fail is set.
type journal struct {
	objs map[string]objects.Object
	rev  int64
	fail error
	// appends counts the calls of Append.
	appends int
}

func (j *journal) Load(_ *objects.Scheme, load func(objects.Object) error) (int64, error) {
	for _, o := range j.objs {
		if err := load(o.DeepCopyObject()); err != nil {
			return 0, err
		}
	}
	return j.rev, nil
}

func (j *journal) Append(rev int64, writes []memdb.Write) error {
	j.appends++
	if j.fail != nil {
		return j.fail
	}
	for _, w := range writes {
		if w.Object == nil {
			delete(j.objs, w.Kind+" "+w.Key.String())
		} else {
			j.objs[w.Kind+" "+w.Key.String()] = w.Object.DeepCopyObject()
		}
	}
	j.rev = rev
	return nil
}

func configMap(name string) *objects.ConfigMap {
	return &objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name}}
}

// Each commit reaches the journal as the last state of each object it
// wrote; a commit the journal refuses fails, and no reader or watcher sees
// any of it; a new store loads what the journal holds.
func TestJournal(t *testing.T) {
	j := &journal{objs: map[string]objects.Object{}}
	s, err := memdb.New(memdb.WithJournal(j))
	require.NoError(t, err)
	defer s.Close()
	w, err := s.Watch(t.Context(), store.WatchOptions{})
	require.NoError(t, err)
	defer w.Stop()

	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.Create(configMap("a")); err != nil {
			return err
		}
		if err := tx.Create(configMap("tmp")); err != nil {
			return err
		}
		_, err := tx.Delete("ConfigMap", objects.Key{Namespace: "default", Name: "tmp"}, store.DeleteOptions{})
		return err
	}))
	require.Equal(t, s.Revision(), j.rev)
	require.Len(t, j.objs, 1)
	require.Contains(t, j.objs, "ConfigMap default/a")
	rev := s.Revision()
	<-w.Events()
	<-w.Events()
	<-w.Events()

	j.fail = errors.New("disk full")
	err = s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(configMap("b")) })
	require.ErrorContains(t, err, "disk full")
	require.Equal(t, rev, s.Revision(), "revision after a refused commit")
	require.NoError(t, s.View(t.Context(), func(tx store.ReadTx) error {
		_, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: "b"})
		require.ErrorIs(t, err, store.ErrNotFound)
		return nil
	}))

	j.fail = nil
	require.NoError(t, s.Update(t.Context(), func(tx store.Tx) error { return tx.Create(configMap("c")) }))
	select {
	case ev := <-w.Events():
		require.Equal(t, "c", ev.Key().Name, "the next event is the next commit's")
		require.Equal(t, rev+1, ev.Revision)
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	// A function that writes nothing commits nothing.
	appends := j.appends
	require.NoError(t, s.View(t.Context(), func(store.ReadTx) error { return nil }))
	require.NoError(t, s.Update(t.Context(), func(store.Tx) error { return nil }))
	require.Equal(t, appends, j.appends)

	s2, err := memdb.New(memdb.WithJournal(j))
	require.NoError(t, err)
	defer s2.Close()
	require.Equal(t, rev+1, s2.Revision())
	var got []string
	require.NoError(t, s2.View(t.Context(), func(tx store.ReadTx) error {
		objs, err := tx.List("ConfigMap", store.ListOptions{})
		for _, o := range objs {
			got = append(got, o.GetObjectMeta().Name)
		}
		return err
	}))
	require.Equal(t, []string{"a", "c"}, got)
}

// What a journal hands New must be storable, once per key.
func TestJournalLoadRefused(t *testing.T) {
	for name, objs := range map[string][]objects.Object{
		"twice":         {configMap("a"), configMap("a")},
		"no name":       {configMap("")},
		"no namespace":  {&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Name: "a"}}},
		"namespaced":    {&objects.Node{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "n"}}},
		"unknown kind":  {&unregistered{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "x"}}},
		"NUL in a name": {configMap("a\x00b")},
	} {
		_, err := memdb.New(memdb.WithJournal(&list{objs}))
		require.ErrorContains(t, err, "load journal", name)
	}
	_, err := memdb.New(memdb.WithJournal(nil))
	require.ErrorContains(t, err, "journal is nil")
}

type list struct{ objs []objects.Object }

func (l *list) Load(_ *objects.Scheme, load func(objects.Object) error) (int64, error) {
	for _, o := range l.objs {
		if err := load(o); err != nil {
			return 0, err
		}
	}
	return 5, nil
}

func (l *list) Append(int64, []memdb.Write) error { return nil }

type unregistered struct {
	objects.TypeMeta   `json:",inline"`
	objects.ObjectMeta `json:"metadata"`
}

func (u *unregistered) DeepCopyObject() objects.Object { c := *u; return &c }
