package events

// ring is a first-in first-out queue on a ring buffer: a steady stream of
// pushes and pops reuses its room, which grows only with what is queued at
// once, by doubling.
type ring[T any] struct {
	buf  []T // its length is 0 or a power of two
	head int
	n    int
}

func (r *ring[T]) len() int { return r.n }

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

func (r *ring[T]) grow() {
	buf := make([]T, max(2*len(r.buf), 4))
	k := copy(buf, r.buf[r.head:])
	copy(buf[k:], r.buf[:r.head])
	r.buf, r.head = buf, 0
}

// pop removes the first item; the ring must not be empty.
func (r *ring[T]) pop() T {
	v := r.buf[r.head]
	var zero T
	r.buf[r.head] = zero
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}

// take moves up to n items from the front to the end of dst and returns
// the extended dst.
func (r *ring[T]) take(dst []T, n int) []T {
	n = min(n, r.n)
	for n > 0 {
		end := min(r.head+n, len(r.buf))
		dst = append(dst, r.buf[r.head:end]...)
		clear(r.buf[r.head:end])
		k := end - r.head
		r.head = (r.head + k) & (len(r.buf) - 1)
		r.n -= k
		n -= k
	}
	return dst
}
