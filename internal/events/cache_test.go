package events

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The cache keeps at least its size of the most recently used entries; an
// entry read is recently used again.
func TestRecentCache(t *testing.T) {
	c := newRecentCache[int, int](4)
	for i := range 4 {
		c.Add(i, i*10)
	}
	c.Add(4, 40) // a new generation: 0..3 are the previous one
	v, ok := c.Get(0)
	require.True(t, ok)
	require.Equal(t, 0, v)
	c.Add(5, 50)
	c.Add(6, 60)
	c.Add(7, 70) // a new generation: 4, 0, 5, 6 are the previous one; 1..3 are gone
	for _, k := range []int{7, 6, 5, 0, 4} {
		v, ok := c.Get(k)
		require.True(t, ok, "key %d", k)
		require.Equal(t, k*10, v)
	}
	for _, k := range []int{1, 2, 3} {
		_, ok := c.Get(k)
		require.False(t, ok, "key %d", k)
	}
}
