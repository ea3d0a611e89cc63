package events

import "sync"

// recentCache remembers the most recent entries, about size to 2*size of
// them: entries go into the current generation, which becomes the previous
// one when full, dropping the one before. An entry read from the previous
// generation moves back to the current one. Unlike a list-based LRU it
// allocates nothing per entry beyond its map slot, which matters at one or
// two entries per event recorded; and it reuses the map of the generation
// it drops.
type recentCache[K comparable, V any] struct {
	mu        sync.Mutex
	size      int
	cur, prev map[K]V
}

func newRecentCache[K comparable, V any](size int) *recentCache[K, V] {
	return &recentCache[K, V]{size: size, cur: make(map[K]V)}
}

func (c *recentCache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	if ok {
		delete(c.prev, k)
		c.addLocked(k, v)
	}
	return v, ok
}

func (c *recentCache[K, V]) Add(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(k, v)
}

func (c *recentCache[K, V]) addLocked(k K, v V) {
	if _, ok := c.cur[k]; !ok && len(c.cur) >= c.size {
		// The generation dropped becomes the new one: a cleared map keeps
		// its room, so the cache stops allocating once both are grown.
		old := c.prev
		c.prev = c.cur
		if old == nil {
			old = make(map[K]V, c.size)
		}
		clear(old)
		c.cur = old
	}
	c.cur[k] = v
}

// fifo is a queue on a slice that reuses its room.
type fifo[T any] struct {
	items []T
	head  int
}

func (f *fifo[T]) len() int { return len(f.items) - f.head }

func (f *fifo[T]) push(v T) {
	if f.head > 0 && f.head >= len(f.items)/2 && len(f.items) == cap(f.items) {
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items, f.head = f.items[:n], 0
	}
	f.items = append(f.items, v)
}

func (f *fifo[T]) pop() T {
	var zero T
	v := f.items[f.head]
	f.items[f.head] = zero
	f.head++
	if f.head == len(f.items) {
		f.items, f.head = f.items[:0], 0
	}
	return v
}
