package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/podkit/podkit/store"
)

// tally counts the store's writes by kind and by type of change, from a
// watch of every kind (-writes): what each phase asks of the store, and of
// the watchers every write goes to. Should the watch fall behind, the
// tally stops there and says its counts are short.
type tally struct {
	s     store.Store
	w     store.Watcher
	moved chan struct{} // signalled when rev moves; capacity 1
	done  chan struct{} // closed when the loop has returned

	mu     sync.Mutex
	rev    int64 // the revision of the last write counted
	counts map[tallyKey]int
}

type tallyKey struct {
	kind string
	typ  store.EventType
}

// tallyBuffer is the tally's watch queue: room for the writes of a few
// busy seconds, as the loop only counts them.
const tallyBuffer = 1 << 20

// startTally counts the writes from now until stop.
func startTally(ctx context.Context, s store.Store) (*tally, error) {
	rev, err := currentRevision(ctx, s)
	if err != nil {
		return nil, err
	}
	w, err := s.Watch(ctx, store.WatchOptions{Revision: rev, Buffer: tallyBuffer})
	if err != nil {
		return nil, err
	}
	t := &tally{s: s, w: w, rev: rev, counts: map[tallyKey]int{}, moved: make(chan struct{}, 1), done: make(chan struct{})}
	go t.loop()
	return t, nil
}

func (t *tally) loop() {
	defer close(t.done)
	for ev := range t.w.Events() {
		t.mu.Lock()
		t.counts[tallyKey{ev.Kind(), ev.Type}]++
		if ev.More() { // the rest of its transaction follows
			t.rev = max(t.rev, ev.Revision-1)
		} else {
			t.rev = max(t.rev, ev.Revision)
		}
		t.mu.Unlock()
		select {
		case t.moved <- struct{}{}:
		default:
		}
	}
}

// take waits until every write committed so far is counted, and returns
// the counts since the last take; lost says the watch fell behind, so
// that they are short.
func (t *tally) take(ctx context.Context, timeout time.Duration) (counts map[tallyKey]int, lost bool, err error) {
	rev, err := currentRevision(ctx, t.s)
	if err != nil {
		return nil, false, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	taken := func() map[tallyKey]int {
		t.mu.Lock()
		defer t.mu.Unlock()
		counts := t.counts
		t.counts = map[tallyKey]int{}
		return counts
	}
	for {
		t.mu.Lock()
		reached := t.rev >= rev
		t.mu.Unlock()
		if reached {
			return taken(), false, nil
		}
		select {
		case <-t.moved:
		case <-t.done:
			if errors.Is(t.w.Err(), store.ErrFellBehind) {
				return taken(), true, nil
			}
			return nil, false, fmt.Errorf("the write tally's watch ended: %v", t.w.Err())
		case <-deadline.C:
			return nil, false, fmt.Errorf("the write tally did not reach revision %d in %v", rev, timeout)
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// stop ends the watch and waits for the loop.
func (t *tally) stop() {
	t.w.Stop()
	<-t.done
}

func currentRevision(ctx context.Context, s store.Store) (int64, error) {
	var rev int64
	err := s.View(ctx, func(tx store.ReadTx) error {
		rev = tx.Revision()
		return nil
	})
	return rev, err
}

// printTally writes a phase's counts: the total and per pod, then a row a
// kind, the most written first.
func printTally(out io.Writer, phase string, counts map[tallyKey]int, lost bool, pods int) {
	type row struct {
		kind                     string
		added, modified, deleted int
	}
	byKind := map[string]*row{}
	total := 0
	for k, n := range counts {
		r := byKind[k.kind]
		if r == nil {
			r = &row{kind: k.kind}
			byKind[k.kind] = r
		}
		switch k.typ {
		case store.Added:
			r.added += n
		case store.Modified:
			r.modified += n
		case store.Deleted:
			r.deleted += n
		}
		total += n
	}
	rows := make([]*row, 0, len(byKind))
	for _, r := range byKind {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b *row) int {
		return cmp.Or(cmp.Compare(b.added+b.modified+b.deleted, a.added+a.modified+a.deleted), cmp.Compare(a.kind, b.kind))
	})
	note := ""
	if lost {
		note = " (at least: the tally's watch fell behind and stopped counting)"
	}
	fmt.Fprintf(out, "store writes %s: %d, %.2f a pod%s\n", phase, total, float64(total)/float64(max(pods, 1)), note)
	fmt.Fprintf(out, "  %-24s %9s %9s %9s %9s\n", "kind", "added", "modified", "deleted", "a pod")
	for _, r := range rows {
		fmt.Fprintf(out, "  %-24s %9d %9d %9d %9.2f\n", r.kind, r.added, r.modified, r.deleted,
			float64(r.added+r.modified+r.deleted)/float64(max(pods, 1)))
	}
}
