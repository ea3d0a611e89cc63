package pset

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAgainstMap applies random inserts and deletes, in transactions of
// random size under one owner each, and checks every version kept against
// a plain sorted slice, and that no old version changed.
func TestAgainstMap(t *testing.T) {
	for _, universe := range []int{10, 200, 5000} {
		t.Run(fmt.Sprint(universe), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(universe), 7))
			type version struct {
				set  Set
				want []string
			}
			var versions []version
			var s Set
			model := map[string]bool{}
			for txn := 0; txn < 300; txn++ {
				o := &Owner{}
				for range r.IntN(100) + 1 {
					x := fmt.Sprintf("n%05d", r.IntN(universe))
					if r.IntN(3) == 0 {
						s = s.Delete(x, o)
						delete(model, x)
					} else {
						s = s.Insert(x, o)
						model[x] = true
					}
				}
				want := make([]string, 0, len(model))
				for x := range model {
					want = append(want, x)
				}
				slices.Sort(want)
				require.Empty(t, s.check())
				require.Equal(t, want, s.All())
				require.Equal(t, len(want), s.Len())
				versions = append(versions, version{s, want})
			}
			for i, v := range versions {
				require.Equal(t, v.want, v.set.All(), "version %d changed after later writes", i)
				require.Empty(t, v.set.check())
				for _, x := range v.want {
					require.True(t, v.set.Has(x))
				}
			}
		})
	}
}

func TestDrainAndRefill(t *testing.T) {
	o := &Owner{}
	var s Set
	for i := range 10000 {
		s = s.Insert(fmt.Sprintf("%06d", i), o)
	}
	require.Empty(t, s.check())
	full := s
	o2 := &Owner{}
	for i := range 10000 {
		s = s.Delete(fmt.Sprintf("%06d", (i*7919)%10000), o2)
		if i%997 == 0 {
			require.Empty(t, s.check(), "after %d deletes", i)
		}
	}
	require.Equal(t, 0, s.Len())
	require.Nil(t, s.root)
	require.Equal(t, 10000, full.Len())
	require.Empty(t, full.check())
	require.False(t, s.Has("000001"))
	require.True(t, full.Has("000001"))

	// Ascend stops when told.
	var seen []string
	full.Ascend(func(x string) bool { seen = append(seen, x); return len(seen) < 3 })
	require.Equal(t, []string{"000000", "000001", "000002"}, seen)
}

func TestNoCopyUnderOwner(t *testing.T) {
	o := &Owner{}
	s := Set{}.Insert("a", o)
	root := s.root
	s = s.Insert("b", o)
	require.Same(t, root, s.root, "the owner's own node is changed in place")
	s2 := s.Insert("c", &Owner{})
	require.NotSame(t, s.root, s2.root, "another owner copies")
	require.Equal(t, []string{"a", "b"}, s.All())
}

func BenchmarkInsert(b *testing.B) {
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = fmt.Sprintf("web-%08x", uint32(i)*2654435761)
	}
	b.ReportAllocs()
	var s Set
	o := &Owner{}
	for i := 0; b.Loop(); i++ {
		if i%len(names) == 0 {
			s, o = Set{}, &Owner{}
		}
		s = s.Insert(names[i%len(names)], o)
	}
}
