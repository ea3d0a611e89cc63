package events

// recentCache remembers the most recent entries, about size to 2*size of
// them: entries go into the current generation, which becomes the previous
// one when full, dropping the one before. An entry read from the previous
// generation moves back to the current one. Unlike a list-based LRU it
// allocates nothing per entry beyond its map slot, which matters at one or
// two entries per event recorded; and it reuses the map of the generation
// it drops. It is not safe for concurrent use: a recorder's leader alone
// uses its caches.
type recentCache[K comparable, V any] struct {
	size      int
	cur, prev map[K]V
}

func newRecentCache[K comparable, V any](size int) *recentCache[K, V] {
	return &recentCache[K, V]{size: size, cur: make(map[K]V)}
}

func (c *recentCache[K, V]) Get(k K) (V, bool) {
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	if ok {
		delete(c.prev, k)
		c.Add(k, v)
	}
	return v, ok
}

func (c *recentCache[K, V]) Add(k K, v V) {
	// Whether k is in cur matters only when cur is full: the test costs
	// hashing the key again.
	if len(c.cur) >= c.size && !c.has(k) {
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

func (c *recentCache[K, V]) has(k K) bool {
	_, ok := c.cur[k]
	return ok
}
