package nodeagent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime"
)

// pullProgressInterval is the least time between two events about one
// pull for one pod: a long pull says how far it got without flooding the
// pod's events, and a short one says only Pulling and Pulled.
const pullProgressInterval = 5 * time.Second

// pullResult is what one pull of an image tells every pod waiting on it.
type pullResult struct {
	took time.Duration // the pull itself, not the wait for it
	size int64         // the largest Total the runtime reported; 0 if none
}

// pulls are the image pulls in flight, by image. Pods that need one image
// share one pull, and each is told of its progress.
type pulls struct {
	mu sync.Mutex
	by map[string]*pullFlight
}

type pullFlight struct {
	watchers map[*pullWatcher]struct{} // under pulls.mu
	cancel   context.CancelFunc        // stops the pull
	done     chan struct{}             // closed once res and err are set
	res      pullResult
	err      error
}

// pull makes image present for pod: it records the Pulling event, then
// joins the pull of image in flight or starts one, and returns the pull's
// result and how long the pod waited for it. Progress reaches the pod as
// events until then. The pod waits until ctx ends; the pull runs in
// agentCtx for all the pods waiting for it, and stops when none does any
// more.
func (a *Agent) pull(ctx, agentCtx context.Context, pod *objects.Pod, image string, auth *runtime.RegistryAuth) (pullResult, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return pullResult{}, 0, err
	}
	start := a.clock.Now()
	w := &pullWatcher{a: a, pod: pod, image: image, last: start}
	ps := &a.pulls
	ps.mu.Lock()
	f, joined := ps.by[image]
	if !joined {
		pullCtx, cancel := context.WithCancel(agentCtx)
		f = &pullFlight{watchers: map[*pullWatcher]struct{}{}, cancel: cancel, done: make(chan struct{})}
		if ps.by == nil {
			ps.by = map[string]*pullFlight{}
		}
		ps.by[image] = f
		a.wg.Add(1) // in a sync, itself counted
		go func() {
			defer a.wg.Done()
			res, err := a.pullImage(pullCtx, image, auth, f)
			cancel()
			ps.mu.Lock()
			if ps.by[image] == f {
				delete(ps.by, image)
			}
			ps.mu.Unlock()
			f.res, f.err = res, err
			close(f.done)
		}()
	}
	f.watchers[w] = struct{}{}
	ps.mu.Unlock()
	// Recorded once the pod watches the pull: its progress comes after.
	a.event(pod, EventNormal, "Pulling", fmt.Sprintf("Pulling image %q", image))
	select {
	case <-f.done:
		return f.res, a.clock.Since(start), f.err
	case <-ctx.Done():
		ps.mu.Lock()
		delete(f.watchers, w)
		if len(f.watchers) == 0 && ps.by[image] == f {
			// The next pod that needs the image pulls it afresh.
			delete(ps.by, image)
			f.cancel()
		}
		ps.mu.Unlock()
		return pullResult{}, 0, ctx.Err()
	}
}

// pullImage runs the pull of flight f, reporting its progress to the pods
// watching it, and measures it.
func (a *Agent) pullImage(ctx context.Context, image string, auth *runtime.RegistryAuth, f *pullFlight) (pullResult, error) {
	start := a.clock.Now()
	var mu sync.Mutex // a runtime may report from several goroutines
	var size int64
	err := a.rt.PullImage(ctx, image, runtime.PullOptions{Auth: auth, Progress: func(p runtime.PullProgress) {
		mu.Lock()
		size = max(size, p.Total)
		mu.Unlock()
		a.pulls.mu.Lock()
		watchers := make([]*pullWatcher, 0, len(f.watchers))
		for w := range f.watchers {
			watchers = append(watchers, w)
		}
		a.pulls.mu.Unlock()
		for _, w := range watchers {
			w.progress(p)
		}
	}})
	mu.Lock()
	defer mu.Unlock()
	return pullResult{took: a.clock.Since(start), size: size}, err
}

// pulledMessage is the kubelet's Pulled event: the pull's own duration,
// the time the pod waited for it, and the image's size when the runtime
// reported one.
func pulledMessage(image string, r pullResult, waited time.Duration) string {
	msg := fmt.Sprintf("Successfully pulled image %q in %s (%s including waiting).", image,
		r.took.Truncate(time.Millisecond), waited.Truncate(time.Millisecond))
	if r.size > 0 {
		msg += fmt.Sprintf(" Image size: %d bytes.", r.size)
	}
	return msg
}

// pullWatcher turns the progress of one pull into events about one pod.
type pullWatcher struct {
	a     *Agent
	pod   *objects.Pod
	image string

	mu      sync.Mutex
	last    time.Time // of the last event about this pull
	lastMsg string
}

func (w *pullWatcher) progress(p runtime.PullProgress) {
	// A report of nothing downloaded yet is no progress (containerd
	// reports each blob it starts fetching so).
	if p.Current <= 0 {
		return
	}
	msg := fmt.Sprintf("Pulling image %q: %s", w.image, byteSize(p.Current))
	if p.Total > 0 {
		msg += "/" + byteSize(p.Total)
	}
	now := w.a.clock.Now()
	w.mu.Lock()
	if now.Sub(w.last) < pullProgressInterval || msg == w.lastMsg {
		w.mu.Unlock()
		return
	}
	w.last, w.lastMsg = now, msg
	w.mu.Unlock()
	w.a.event(w.pod, EventNormal, "Pulling", msg)
}

// byteSize formats n bytes as Docker's progress does, in decimal units:
// "512B", "12.3MB".
func byteSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%dB", n)
	}
	units := [...]string{"kB", "MB", "GB", "TB"}
	v, i := float64(n)/1000, 0
	for v >= 999.95 && i < len(units)-1 {
		v, i = v/1000, i+1
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}
