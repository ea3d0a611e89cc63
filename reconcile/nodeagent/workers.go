package nodeagent

import (
	"cmp"
	"hash/maphash"
	"slices"
)

// workerIndex holds an agent's pod workers by pod UID, in a slice sorted by
// a hash of the UID. The agent keeps a worker for every pod it runs: an
// entry here costs 16 bytes where a map's costs three times that, and a
// node runs few pods (the kubelet's default limit is 110), so a binary
// search over hashes, in one block of memory, is as quick as a map.
type workerIndex struct {
	seed  maphash.Seed
	items []indexedWorker
}

type indexedWorker struct {
	hash uint64
	w    *podWorker
}

func newWorkerIndex() workerIndex { return workerIndex{seed: maphash.MakeSeed()} }

// find returns the hash of uid and where its worker is, or would go.
func (x *workerIndex) find(uid string) (h uint64, i int, found bool) {
	h = maphash.String(x.seed, uid)
	i, _ = slices.BinarySearchFunc(x.items, h, func(e indexedWorker, h uint64) int { return cmp.Compare(e.hash, h) })
	for j := i; j < len(x.items) && x.items[j].hash == h; j++ {
		if x.items[j].w.uid == uid {
			return h, j, true
		}
	}
	return h, i, false
}

// get returns the worker of uid, or nil.
func (x *workerIndex) get(uid string) *podWorker {
	if _, i, ok := x.find(uid); ok {
		return x.items[i].w
	}
	return nil
}

// add adds w, whose uid has no worker yet.
func (x *workerIndex) add(w *podWorker) {
	h, i, _ := x.find(w.uid)
	x.items = slices.Insert(x.items, i, indexedWorker{h, w})
}

// addAll adds ws, whose uids have no worker yet: sorted once, not inserted
// one by one, for the thousands of pods of a node listed at start.
func (x *workerIndex) addAll(ws []*podWorker) {
	for _, w := range ws {
		x.items = append(x.items, indexedWorker{maphash.String(x.seed, w.uid), w})
	}
	slices.SortFunc(x.items, func(a, b indexedWorker) int { return cmp.Compare(a.hash, b.hash) })
}

// remove removes w, if it is the worker of its uid.
func (x *workerIndex) remove(w *podWorker) {
	if _, i, ok := x.find(w.uid); ok && x.items[i].w == w {
		x.items = slices.Delete(x.items, i, i+1)
	}
}

// all returns the workers.
func (x *workerIndex) all() []*podWorker {
	ws := make([]*podWorker, len(x.items))
	for i, e := range x.items {
		ws[i] = e.w
	}
	return ws
}
