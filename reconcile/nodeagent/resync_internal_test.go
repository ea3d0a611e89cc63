package nodeagent

import (
	"fmt"
	"hash/maphash"
	"testing"
	"time"
)

// Pods synced together are resynced a resync interval later, lengthened by
// up to half of it, each at its own time: spread over the relists of that
// half rather than all at one.
func TestResyncsSpread(t *testing.T) {
	const resync, relist = time.Minute, 10 * time.Second
	a := &Agent{cfg: config{resync: resync}, seed: maphash.MakeSeed()}
	t0 := time.Unix(1_000_000, 0)
	var ws []*podWorker
	for i := range 100 {
		ws = append(ws, &podWorker{uid: fmt.Sprintf("uid-%d", i), synced: t0.UnixNano()})
	}
	due := map[*podWorker]time.Duration{}
	ticks := map[time.Duration]int{}
	for d := relist; d <= 2*resync; d += relist {
		for _, w := range ws {
			if _, ok := due[w]; !ok && a.resyncDue(w, t0.Add(d).UnixNano()) {
				due[w] = d
				ticks[d]++
			}
		}
	}
	for _, w := range ws {
		d, ok := due[w]
		if !ok || d < resync || d > resync+resync/2+relist {
			t.Errorf("pod %s resynced %v after its sync (ok %v), want between %v and %v", w.uid, d, ok, resync, resync+resync/2+relist)
		}
	}
	if len(ticks) < 3 {
		t.Errorf("100 pods synced together resync at %d relists (%v), want them spread over at least 3", len(ticks), ticks)
	}

	never := &podWorker{uid: "new"}
	if a.resyncDue(never, t0.Add(time.Hour).UnixNano()) {
		t.Error("a pod not synced yet is due for a resync")
	}
}
