package reconcile

import (
	"context"
	"errors"
	"sync"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// runKubelet plays the node agents until the test ends: every active pod
// that ready accepts (nil: every pod) is made Running and Ready as soon as
// it appears.
func (e *env) runKubelet(ready func(p *objects.Pod) bool) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := e.kubelet(ctx, ready); err != nil && ctx.Err() == nil {
			e.t.Errorf("kubelet: %v", err)
		}
	}()
	e.t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func (e *env) kubelet(ctx context.Context, ready func(p *objects.Pod) bool) error {
	var (
		pods []objects.Object
		rev  int64
	)
	if err := e.s.View(ctx, func(tx store.ReadTx) error {
		var err error
		pods, err = tx.List(kindPod, store.ListOptions{})
		rev = tx.Revision()
		return err
	}); err != nil {
		return err
	}
	w, err := e.s.Watch(ctx, store.WatchOptions{Kind: kindPod, Revision: rev, Buffer: 1 << 16})
	if err != nil {
		return err
	}
	defer w.Stop()
	handle := func(p *objects.Pod) error {
		if !isPodActive(p) || objects.IsPodReady(p) || (ready != nil && !ready(p)) {
			return nil
		}
		err := e.s.Update(ctx, func(tx store.Tx) error {
			o, err := tx.Get(kindPod, p.Key())
			if err != nil {
				return err
			}
			cur := o.(*objects.Pod)
			if cur.UID != p.UID || !isPodActive(cur) || objects.IsPodReady(cur) {
				return nil
			}
			now := objects.NewTime(e.clock.Now())
			cur.Status.Phase = objects.PodRunning
			cur.Status.Conditions = []objects.PodCondition{{Type: objects.PodReady, Status: objects.ConditionTrue, LastTransitionTime: now}}
			return tx.UpdateStatus(cur)
		})
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	for _, o := range pods {
		if err := handle(o.(*objects.Pod)); err != nil {
			return err
		}
	}
	for ev := range w.Events() {
		if ev.Type == store.Deleted {
			continue
		}
		if err := handle(ev.Object().(*objects.Pod)); err != nil {
			return err
		}
	}
	return w.Err()
}
