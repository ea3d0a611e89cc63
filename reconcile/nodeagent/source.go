package nodeagent

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// podSink receives the pods bound to a node (or, for a group, to any node).
// Pods passed are read-only and may be shared with the store.
type podSink interface {
	replacePods(pods []*objects.Pod)
	podUpdated(pod *objects.Pod)
	podDeleted(pod *objects.Pod)
}

// podSource lists and then watches pods, from the list's revision, and
// lists again when the watch falls behind.
type podSource struct {
	store store.Store
	log   *slog.Logger
	node  string // "" for every node
	sink  podSink
	// after, when set, is waited for before the first list.
	after <-chan struct{}
	// ready, when set, is closed after the first list was delivered.
	ready chan struct{}
}

// podWatchBuffer is the queue of the pod watch. A group's watch sees every
// pod of every node, and one transaction can write thousands of pods.
const podWatchBuffer = 1 << 16

// storeRetry is how long a failed list or watch waits before trying again.
// It is real time: a store error is not part of what a test scripts.
const storeRetry = 500 * time.Millisecond

func (s *podSource) run(ctx context.Context) error {
	if s.after != nil {
		select {
		case <-s.after:
		case <-ctx.Done():
			return nil
		}
	}
	fields := map[string]string{}
	if s.node != "" {
		fields[store.IndexNodeName] = s.node
	}
	filterHere := false
	for {
		var pods []objects.Object
		var rev int64
		err := s.store.View(ctx, func(tx store.ReadTx) error {
			// The stored pods when the store hands them out, as consume
			// keeps those of events.
			var err error
			pods, err = store.PeekList(tx, "Pod", store.ListOptions{Fields: fields})
			rev = tx.Revision()
			return err
		})
		if err == nil {
			list := make([]*objects.Pod, 0, len(pods))
			for _, o := range pods {
				if p := o.(*objects.Pod); p.Spec.NodeName != "" && (s.node == "" || p.Spec.NodeName == s.node) {
					list = append(list, p)
				}
			}
			s.sink.replacePods(list)
			if s.ready != nil {
				close(s.ready)
				s.ready = nil
			}
			var w store.Watcher
			opts := store.WatchOptions{Kind: "Pod", Revision: rev, Buffer: podWatchBuffer}
			if !filterHere {
				opts.Fields = fields
			}
			w, err = s.store.Watch(ctx, opts)
			if errors.Is(err, store.ErrUnknownIndex) && !filterHere {
				filterHere = true // the backend cannot filter watches by node
				continue
			}
			if err == nil {
				err = s.consume(ctx, w)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, store.ErrClosed) {
			return err
		}
		s.log.Info("pod watch ended; listing again", "err", err)
		if !errors.Is(err, store.ErrFellBehind) && !sleepCtx(ctx, storeRetry) {
			return nil
		}
	}
}

func (s *podSource) consume(ctx context.Context, w store.Watcher) error {
	defer w.Stop()
	for ev := range w.Events() {
		p, ok := ev.Peek().(*objects.Pod)
		// Filtered here too: a store may not filter watches by field.
		if !ok || p.Spec.NodeName == "" || s.node != "" && p.Spec.NodeName != s.node {
			continue
		}
		if ev.Type == store.Deleted {
			s.sink.podDeleted(p)
		} else {
			s.sink.podUpdated(p)
		}
	}
	if err := w.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// configKinds are the kinds whose changes reach pods after they started:
// env and volume sources, and the claims and volumes pods mount.
var configKinds = []string{"ConfigMap", "Secret", "PersistentVolumeClaim", "PersistentVolume", "ClusterTrustBundle"}

// configSource watches configKinds and reports each change; after a gap in
// a watch it reports kind "" (anything may have changed).
type configSource struct {
	store  store.Store
	log    *slog.Logger
	notify func(kind, namespace, name string)
	// watching is closed once every kind's watch was first asked for. Pods
	// are synced after: a sync reads what its pod refers to, and a change
	// made between that read and the start of the watch would be missed.
	watching chan struct{}
	pending  atomic.Int32 // kinds whose watch was not asked for yet
}

func newConfigSource(s store.Store, log *slog.Logger, notify func(kind, namespace, name string)) *configSource {
	return &configSource{store: s, log: log, notify: notify, watching: make(chan struct{})}
}

func (c *configSource) run(ctx context.Context) error {
	errs := make(chan error, len(configKinds))
	c.pending.Store(int32(len(configKinds)))
	for _, k := range configKinds {
		go func() { errs <- c.watch(ctx, k) }()
	}
	var first error
	for range configKinds {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (c *configSource) watch(ctx context.Context, kind string) error {
	resumed := false
	first := true
	for {
		w, err := c.store.Watch(ctx, store.WatchOptions{Kind: kind})
		if first {
			// Pods may sync now: a watch that failed is retried, and
			// reports its gap as kind "".
			if c.pending.Add(-1) == 0 {
				close(c.watching)
			}
			first = false
		}
		if err == nil {
			if resumed {
				c.notify("", "", "")
			}
			for ev := range w.Events() {
				m := ev.Peek().GetObjectMeta()
				c.notify(kind, m.Namespace, m.Name)
			}
			err = w.Err()
			w.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, store.ErrClosed) {
			return err
		}
		if errors.Is(err, store.ErrUnknownKind) {
			return nil // a store without the kind: nothing to follow
		}
		c.log.Info("watch ended; watching again", "kind", kind, "err", err)
		resumed = true
		if !sleepCtx(ctx, storeRetry) {
			return nil
		}
	}
}

// refersTo reports whether pod uses the object of kind namespace/name (kind
// "" matches any pod that uses any such object).
func refersTo(p *objects.Pod, kind, namespace, name string) bool {
	if kind != "PersistentVolume" && kind != "ClusterTrustBundle" && kind != "" && namespace != p.Namespace {
		return false
	}
	match := func(k, n string) bool { return kind == "" || k == kind && (n == name || kind == "PersistentVolume") }
	envRefers := func(c *objects.Container) bool {
		for _, e := range c.Env {
			if vf := e.ValueFrom; vf != nil {
				if vf.ConfigMapKeyRef != nil && match("ConfigMap", vf.ConfigMapKeyRef.Name) ||
					vf.SecretKeyRef != nil && match("Secret", vf.SecretKeyRef.Name) {
					return true
				}
			}
		}
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil && match("ConfigMap", e.ConfigMapRef.Name) ||
				e.SecretRef != nil && match("Secret", e.SecretRef.Name) {
				return true
			}
		}
		return false
	}
	for _, cs := range [][]objects.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			if envRefers(&cs[i]) {
				return true
			}
		}
	}
	for i := range p.Spec.EphemeralContainers {
		if envRefers(p.Spec.EphemeralContainers[i].Container()) {
			return true
		}
	}
	for _, v := range p.Spec.Volumes {
		switch {
		case v.ConfigMap != nil && match("ConfigMap", v.ConfigMap.Name),
			v.Secret != nil && match("Secret", v.Secret.SecretName),
			v.PersistentVolumeClaim != nil && (match("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName) || match("PersistentVolume", "")),
			v.Ephemeral != nil && (match("PersistentVolumeClaim", objects.EphemeralClaimName(p, &v)) || match("PersistentVolume", "")):
			return true
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil && match("ConfigMap", s.ConfigMap.Name) || s.Secret != nil && match("Secret", s.Secret.Name) {
					return true
				}
				// A bundle by name, or any bundle of a signer (which this
				// one may be, or have been).
				if t := s.ClusterTrustBundle; t != nil && (kind == "" || kind == "ClusterTrustBundle" && (t.Name == nil || *t.Name == name)) {
					return true
				}
			}
		}
	}
	return false
}
