package events

import "sync"

// recentCache remembers the most recent entries, about size to 2*size of
// them: entries go into the current generation, which becomes the previous
// one when full, dropping the one before. An entry read from the previous
// generation moves back to the current one. Unlike a list-based LRU it
// allocates nothing per entry beyond its map slot, which matters at one or
// two entries per event recorded.
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
		c.prev, c.cur = c.cur, make(map[K]V, c.size)
	}
	c.cur[k] = v
}
