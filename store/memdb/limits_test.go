package memdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// limited is a LimitedJournal that records the commits it takes: each
// object costs size bytes, and the journal refuses commits while fail is
// set.
type limited struct {
	writes, bytes, size int
	fail                error
	commits             []commit
}

type commit struct {
	rev   int64
	names []string
}

func (j *limited) Load(*objects.Scheme, func(objects.Object) error) (int64, error) { return 0, nil }
func (j *limited) Limits() (int, int)                                              { return j.writes, j.bytes }
func (j *limited) Size(Write) (int, error)                                         { return j.size, nil }

func (j *limited) Append(rev int64, writes []Write) error {
	if j.fail != nil {
		return j.fail
	}
	c := commit{rev: rev}
	for _, w := range writes {
		c.names = append(c.names, w.Key.Name)
	}
	j.commits = append(j.commits, c)
	return nil
}

// runAsGroup runs fns as one group, as Update would run them had they
// been queued together, and returns their errors.
func runAsGroup(s *Store, fns ...func(tx store.Tx) error) []error {
	group := make([]*update, len(fns))
	for i, fn := range fns {
		group[i] = &update{ctx: context.Background(), fn: fn}
	}
	s.write <- struct{}{}
	s.runGroup(group)
	<-s.write
	errs := make([]error, len(group))
	for i, u := range group {
		errs[i] = u.err
	}
	return errs
}

func create(names ...string) func(tx store.Tx) error {
	return func(tx store.Tx) error {
		for _, n := range names {
			if err := tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: n}}); err != nil {
				return err
			}
		}
		return nil
	}
}

func newLimited(t *testing.T, j *limited) *Store {
	s, err := New(WithJournal(j))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Store, name string) *objects.ConfigMap {
	var cm *objects.ConfigMap
	require.NoError(t, s.View(context.Background(), func(tx store.ReadTx) error {
		obj, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: name})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if obj != nil {
			cm = obj.(*objects.ConfigMap)
		}
		return err
	}))
	return cm
}

// A group that would not fit one commit of the journal is split between
// its functions, each whole in one commit at consecutive revisions; the
// objects carry the revision they were committed at, and watchers see
// every commit in order.
func TestLimitsSplitGroup(t *testing.T) {
	j := &limited{writes: 3, bytes: 1 << 20, size: 1}
	s := newLimited(t, j)
	w, err := s.Watch(t.Context(), store.WatchOptions{Kind: "ConfigMap"})
	require.NoError(t, err)
	defer w.Stop()
	base := s.Revision()

	errs := runAsGroup(s, create("a"), create("b", "c"), create("d", "e"), create("f"))
	require.Equal(t, []error{nil, nil, nil, nil}, errs)
	require.Equal(t, []commit{
		{rev: base + 2, names: []string{"a", "b", "c"}},
		{rev: base + 4, names: []string{"d", "e", "f"}},
	}, sorted(j.commits))
	require.Equal(t, base+4, s.Revision())
	for name, rev := range map[string]int64{"a": base + 1, "b": base + 2, "c": base + 2, "d": base + 3, "e": base + 3, "f": base + 4} {
		require.Equal(t, fmt.Sprint(rev), get(t, s, name).ResourceVersion, name)
	}
	var seen []string
	for range 6 {
		ev := <-w.Events()
		seen = append(seen, ev.Object().GetObjectMeta().Name)
	}
	require.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, seen)
}

// A function moved to the next commit keeps what it read of the ones
// before it in its group.
func TestLimitsSplitKeepsReads(t *testing.T) {
	j := &limited{writes: 1, bytes: 1 << 20, size: 1}
	s := newLimited(t, j)
	errs := runAsGroup(s, func(tx store.Tx) error {
		return tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "a"}, Data: map[string]string{"k": "v"}})
	}, func(tx store.Tx) error {
		obj, err := tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: "a"})
		if err != nil {
			return err
		}
		return tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "b"}, Data: obj.(*objects.ConfigMap).Data})
	})
	require.Equal(t, []error{nil, nil}, errs)
	require.Len(t, j.commits, 2)
	require.Equal(t, map[string]string{"k": "v"}, get(t, s, "b").Data)
}

// A function whose writes are past the limits alone commits alone, after
// the functions before it and before those after it; bytes count as
// objects do.
func TestLimitsAlone(t *testing.T) {
	j := &limited{writes: 100, bytes: 25, size: 10}
	s := newLimited(t, j)
	base := s.Revision()
	errs := runAsGroup(s, create("a"), create("b", "c", "d"), create("e", "f"), create("g"))
	require.Equal(t, []error{nil, nil, nil, nil}, errs)
	require.Equal(t, []commit{
		{rev: base + 1, names: []string{"a"}},
		{rev: base + 2, names: []string{"b", "c", "d"}},
		{rev: base + 3, names: []string{"e", "f"}},
		{rev: base + 4, names: []string{"g"}},
	}, sorted(j.commits))
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		require.NotNil(t, get(t, s, n), n)
	}
	require.Equal(t, fmt.Sprint(base+2), get(t, s, "d").ResourceVersion)
}

// When the journal refuses the commit of the functions before a moved
// one, the moved one fails too: it read what they wrote.
func TestLimitsRefusedBeforeMove(t *testing.T) {
	j := &limited{writes: 1, bytes: 1 << 20, size: 1, fail: errors.New("disk full")}
	s := newLimited(t, j)
	errs := runAsGroup(s, create("a"), create("b"))
	require.ErrorContains(t, errs[0], "disk full")
	require.ErrorContains(t, errs[1], "disk full")
	require.Nil(t, get(t, s, "a"))
	require.Nil(t, get(t, s, "b"))
}

func sorted(cs []commit) []commit {
	for _, c := range cs {
		slices.Sort(c.names)
	}
	return cs
}
