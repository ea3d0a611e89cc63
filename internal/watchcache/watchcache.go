// Package watchcache fans committed changes out to watchers and keeps the
// last events so that a watch can resume from a revision. Any store backend
// uses it: the backend publishes each commit, in revision order, and hands
// out the watchers it creates.
//
// Publishing never blocks on a watcher: each watcher has a bounded channel
// filled by non-blocking sends, and a watcher whose channel is full is ended
// with store.ErrFellBehind. Watchers are indexed by kind, so a commit costs
// only the watchers of the kinds it wrote.
package watchcache

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Change is one write of a commit.
type Change struct {
	Type store.EventType
	// Obj is the stored object (for Deleted, its last state). It is shared
	// with every watcher and must never be modified.
	Obj objects.Object
	// Prev is the object before a Modified change, so that a watcher with
	// a label or field filter sees an object entering its filter as Added
	// and leaving it as Deleted (with this state), as Kubernetes does. Nil
	// otherwise.
	Prev objects.Object
}

// Filter chooses the changes a watcher sees.
type Filter struct {
	Kind      string           // "" for every kind
	Namespace string           // "" for every namespace
	Labels    objects.Selector // nil or empty for every label set
	Fields    []FieldMatch     // all must match
}

// FieldMatch requires Func to return Value among its values. Watchers
// are routed by their first field: a commit evaluates Func once per object
// and reaches only the watchers of the values it returns, so thousands of
// node agents each watching the pods of their node cost one lookup per
// event, not one filter each. Func must be the same function for one Field.
type FieldMatch struct {
	Field string
	Func  store.IndexFunc
	Value string
}

// Options size a Hub.
type Options struct {
	// History is the number of events kept for watches that resume from a
	// past revision.
	History int
	// Buffer is the default length of a watcher's channel.
	Buffer int
	// Revision is the revision of the store when the hub starts.
	Revision int64
}

// Hub is the watch side of a store.
type Hub struct {
	mu      sync.Mutex
	closed  bool
	ring    []entry // history, oldest at head
	head    int
	size    int
	dropped int64 // newest revision whose events are no longer all kept
	last    int64 // revision of the last Publish
	buffer  int
	byKind  map[string]*kindWatchers // "" holds the watchers of every kind

	// During a Publish of several changes: the watchers holding back an
	// event (see Publish).
	holding bool
	held    []*watcher
}

type entry struct {
	ev   store.Event
	prev objects.Object
}

// kindWatchers are the watchers of one kind: those without a field filter,
// and the others by their first field and its value.
type kindWatchers struct {
	plain  bucket
	routed map[string]*route
}

type route struct {
	fn      store.IndexFunc
	byValue map[string]*bucket
}

// bucket is a set of watchers with O(1) removal.
type bucket struct {
	ws []*watcher
	// set for a routed bucket, to drop it when it empties
	kw    *kindWatchers
	field string
	value string
}

// New returns a hub.
func New(o Options) *Hub {
	if o.Buffer <= 0 {
		o.Buffer = 1
	}
	return &Hub{
		ring:    make([]entry, max(o.History, 0)),
		dropped: o.Revision,
		last:    o.Revision,
		buffer:  o.Buffer,
		byKind:  map[string]*kindWatchers{},
	}
}

// Publish delivers the changes of the commit at rev to the watchers and
// keeps them for resuming watches. Calls must be in increasing revision
// order. It never blocks on a watcher.
func (h *Hub) Publish(rev int64, changes []Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	// Each watcher's last event of the revision is held back until the
	// revision is fanned out, so that it goes out with More false and the
	// others with More true.
	h.holding = len(changes) > 1
	for _, c := range changes {
		ev := store.NewEvent(c.Type, rev, c.Obj)
		h.remember(entry{ev, c.Prev})
		h.fanoutKind(h.byKind[c.Obj.GetTypeMeta().Kind], ev, c.Prev)
		h.fanoutKind(h.byKind[""], ev, c.Prev)
	}
	if h.holding {
		for _, w := range h.held {
			ev := w.held
			w.held, w.holds = store.Event{}, false
			if w.in != nil && !w.send(ev) {
				h.end(w, store.ErrFellBehind)
			}
		}
		clear(h.held)
		h.held = h.held[:0]
		h.holding = false
	}
	h.last = rev
}

func (h *Hub) remember(e entry) {
	if len(h.ring) == 0 {
		h.dropped = e.ev.Revision
		return
	}
	if h.size == len(h.ring) {
		h.dropped = h.ring[h.head].ev.Revision
		h.ring[h.head] = e
		h.head = (h.head + 1) % len(h.ring)
		return
	}
	h.ring[(h.head+h.size)%len(h.ring)] = e
	h.size++
}

func (h *Hub) fanoutKind(kw *kindWatchers, ev store.Event, prev objects.Object) {
	if kw == nil {
		return
	}
	h.fanout(&kw.plain, ev, prev)
	for _, rt := range kw.routed {
		vals := rt.fn(ev.Peek())
		for i, v := range vals {
			if b := rt.byValue[v]; b != nil && !slices.Contains(vals[:i], v) {
				h.fanout(b, ev, prev)
			}
		}
		if prev == nil {
			continue
		}
		// Watchers of a value the object had: it may be leaving them.
		pvals := rt.fn(prev)
		for i, v := range pvals {
			if b := rt.byValue[v]; b != nil && !slices.Contains(vals, v) && !slices.Contains(pvals[:i], v) {
				h.fanout(b, ev, prev)
			}
		}
	}
}

func (h *Hub) fanout(l *bucket, ev store.Event, prev objects.Object) {
	for i := 0; i < len(l.ws); {
		w := l.ws[i]
		if w.offer(ev, prev) {
			i++
			continue
		}
		// end swaps the last watcher into i, which is looked at next.
		h.end(w, store.ErrFellBehind)
	}
}

// Watch starts a watcher that sees the changes after revision from that
// match f (from 0: after the last published revision). A from older than
// the history kept is an error wrapping store.ErrRevisionTooOld. buffer 0
// takes the hub's default. The watcher ends when ctx ends, on Stop, on
// Close (store.ErrClosed) or when its channel is full
// (store.ErrFellBehind).
func (h *Hub) Watch(ctx context.Context, f Filter, from int64, buffer int) (store.Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if buffer <= 0 {
		buffer = h.buffer
	}
	w := &watcher{hub: h, f: f}
	if f.Labels != nil && f.Labels.Empty() {
		w.f.Labels = nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, store.ErrClosed
	}
	if from == 0 {
		from = h.last
	}
	if from < h.dropped {
		h.mu.Unlock()
		return nil, fmt.Errorf("watch from revision %d: %w: the oldest revision whose changes are all kept is %d; list again and watch from the list's revision",
			from, store.ErrRevisionTooOld, h.dropped)
	}
	w.from = from
	var replay []store.Event
	for i := 0; i < h.size; i++ {
		e := &h.ring[(h.head+i)%len(h.ring)]
		if e.ev.Revision <= from || (f.Kind != "" && e.ev.Kind() != f.Kind) {
			continue
		}
		if ev, ok := w.filter(e.ev, e.prev); ok {
			replay = append(replay, ev)
		}
	}
	// Room for the replay on top of the buffer: a resumed watcher starts
	// with a full backlog but must not be behind already.
	w.ch = make(chan store.Event, buffer+len(replay))
	for i, ev := range replay {
		w.ch <- ev.WithMore(i+1 < len(replay) && replay[i+1].Revision == ev.Revision)
	}
	h.register(w)
	h.mu.Unlock()

	stop := context.AfterFunc(ctx, w.Stop)
	h.mu.Lock()
	if w.in == nil {
		stop() // already ended
	} else {
		w.stopCtx = stop
	}
	h.mu.Unlock()
	return w, nil
}

// Close ends every watcher with store.ErrClosed; later Watch calls fail
// with it.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, kw := range h.byKind {
		for _, b := range kw.buckets() {
			for len(b.ws) > 0 {
				h.end(b.ws[len(b.ws)-1], store.ErrClosed)
			}
		}
	}
	h.ring, h.size = nil, 0
}

func (kw *kindWatchers) buckets() []*bucket {
	out := []*bucket{&kw.plain}
	for _, rt := range kw.routed {
		for _, b := range rt.byValue {
			out = append(out, b)
		}
	}
	return out
}

// register adds w to the bucket its filter routes it to; h.mu is held.
func (h *Hub) register(w *watcher) {
	kw := h.byKind[w.f.Kind]
	if kw == nil {
		kw = &kindWatchers{routed: map[string]*route{}}
		h.byKind[w.f.Kind] = kw
	}
	b := &kw.plain
	if len(w.f.Fields) > 0 {
		fm := w.f.Fields[0]
		rt := kw.routed[fm.Field]
		if rt == nil {
			rt = &route{fn: fm.Func, byValue: map[string]*bucket{}}
			kw.routed[fm.Field] = rt
		}
		b = rt.byValue[fm.Value]
		if b == nil {
			b = &bucket{kw: kw, field: fm.Field, value: fm.Value}
			rt.byValue[fm.Value] = b
		}
	}
	w.in, w.pos = b, len(b.ws)
	b.ws = append(b.ws, w)
}

// Watchers returns the number of running watchers.
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, kw := range h.byKind {
		for _, b := range kw.buckets() {
			n += len(b.ws)
		}
	}
	return n
}

// end removes w and closes its channel; h.mu is held.
func (h *Hub) end(w *watcher, err error) {
	l := w.in
	if l == nil {
		return
	}
	last := len(l.ws) - 1
	l.ws[w.pos] = l.ws[last]
	l.ws[w.pos].pos = w.pos
	l.ws[last] = nil
	l.ws = l.ws[:last]
	if len(l.ws) == 0 && l.kw != nil {
		rt := l.kw.routed[l.field]
		delete(rt.byValue, l.value)
		if len(rt.byValue) == 0 {
			delete(l.kw.routed, l.field)
		}
	}
	w.in = nil
	if err != nil {
		w.err.Store(&err)
	}
	close(w.ch)
	if w.stopCtx != nil {
		w.stopCtx()
	}
}

type watcher struct {
	hub  *Hub
	f    Filter
	from int64
	ch   chan store.Event
	// The event held back during a Publish (see Publish); guarded by
	// hub.mu.
	held    store.Event
	holds   bool
	err     atomic.Pointer[error]
	in      *bucket // nil once ended; guarded by hub.mu
	pos     int
	stopCtx func() bool
}

func (w *watcher) Events() <-chan store.Event { return w.ch }

func (w *watcher) Err() error {
	if p := w.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (w *watcher) Stop() {
	w.hub.mu.Lock()
	w.hub.end(w, nil)
	w.hub.mu.Unlock()
}

// offer sends ev if it passes the filter; it returns false only when the
// channel is full.
func (w *watcher) offer(ev store.Event, prev objects.Object) bool {
	if ev.Revision <= w.from {
		return true // committed before the watch's revision, published after it started
	}
	ev, ok := w.filter(ev, prev)
	if !ok {
		return true
	}
	if !w.hub.holding {
		return w.send(ev)
	}
	if w.holds {
		if !w.send(w.held.WithMore(true)) {
			return false
		}
	} else {
		w.hub.held = append(w.hub.held, w)
	}
	w.held, w.holds = ev, true
	return true
}

func (w *watcher) send(ev store.Event) bool {
	select {
	case w.ch <- ev:
		return true
	default:
		return false
	}
}

// filter applies the watcher's filter; kind is already matched. A Modified
// change of an object entering the filter becomes Added, of one leaving it
// Deleted, with the state it had before (at the change's
// resourceVersion), as Kubernetes' cacher sends it.
func (w *watcher) filter(ev store.Event, prev objects.Object) (store.Event, bool) {
	obj := ev.Peek()
	if w.f.Namespace != "" && obj.GetObjectMeta().Namespace != w.f.Namespace {
		return ev, false
	}
	if w.f.Labels == nil && len(w.f.Fields) == 0 {
		return ev, true
	}
	now := w.matches(obj)
	if ev.Type != store.Modified || prev == nil {
		return ev, now
	}
	switch was := w.matches(prev); {
	case now && was:
		return ev, true
	case now:
		return store.NewEvent(store.Added, ev.Revision, obj), true
	case was:
		return store.NewEvent(store.Deleted, ev.Revision, atVersion(prev, obj.GetObjectMeta().ResourceVersion)), true
	}
	return ev, false
}

// atVersion returns a shallow copy of obj, a stored object, with
// resourceVersion rv; like obj, it must never be modified.
func atVersion(obj objects.Object, rv string) objects.Object {
	c := reflect.New(reflect.TypeOf(obj).Elem())
	c.Elem().Set(reflect.ValueOf(obj).Elem())
	o := c.Interface().(objects.Object)
	o.GetObjectMeta().ResourceVersion = rv
	return o
}

func (w *watcher) matches(obj objects.Object) bool {
	if w.f.Labels != nil && !w.f.Labels.Matches(obj.GetObjectMeta().Labels) {
		return false
	}
	for _, fm := range w.f.Fields {
		if !slices.Contains(fm.Func(obj), fm.Value) {
			return false
		}
	}
	return true
}
