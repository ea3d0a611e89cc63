package events

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The ring behaves as a slice queue through any mix of pushes, pops and
// takes, wrapping around and growing, and its room follows what is queued
// at once, not how much went through it.
func TestRing(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var (
		r    ring[int]
		want []int
		next = 1 // 0 is an empty slot
		most int
	)
	for range 100_000 {
		switch op := rnd.IntN(10); {
		case op < 5 && len(want) < 100:
			r.push(next)
			want = append(want, next)
			next++
		case op < 8 && len(want) > 0:
			require.Equal(t, want[0], r.pop())
			want = want[1:]
		default:
			n := rnd.IntN(40)
			got := r.take([]int{-1}, n)
			k := min(n, len(want))
			require.Equal(t, append([]int{-1}, want[:k]...), got)
			want = want[k:]
		}
		require.Equal(t, len(want), r.len())
		most = max(most, len(want))
	}
	require.LessOrEqual(t, len(r.buf), 128, "room for the most queued at once (%d), rounded up to a power of two", most)
	for i, v := range r.buf {
		if v != 0 && !inRing(&r, i) {
			t.Fatalf("slot %d holds %d, not queued: a popped item is kept alive", i, v)
		}
	}
}

func inRing(r *ring[int], i int) bool {
	return (i-r.head)&(len(r.buf)-1) < r.n
}
