package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/podkit/podkit/runtime"
)

// failingRuntime is a node's view of a container runtime that can be made
// to stop answering: once Fail(true) is called, every call returns an
// error wrapping runtime.ErrUnavailable, as when the daemon's socket stops
// answering, and event streams end. The containers themselves are not
// touched: on Docker and containerd they keep running, as they would
// while a real daemon is unreachable. Fail(false) makes it answer again.
//
// The example wraps one node's runtime with it; the other nodes share the
// same runtime unwrapped. Close does not close the runtime it wraps,
// which belongs to the cluster.
type failingRuntime struct {
	inner   runtime.Runtime
	failing atomic.Bool

	mu      sync.Mutex
	watches map[int]context.CancelFunc
	next    int
}

// newFailingRuntime wraps rt. The result implements runtime.EventWatcher,
// which the node agent needs to hear of exits at once, and runtime.Dialer
// when rt does (the fake runtime's pods are reached through it).
func newFailingRuntime(rt runtime.Runtime) (runtime.Runtime, *failingRuntime, error) {
	if _, ok := rt.(runtime.EventWatcher); !ok {
		return nil, nil, fmt.Errorf("runtime %T reports no events", rt)
	}
	f := &failingRuntime{inner: rt, watches: map[int]context.CancelFunc{}}
	if d, ok := rt.(runtime.Dialer); ok {
		return failingDialer{f, d}, f, nil
	}
	return f, f, nil
}

// Fail makes every call fail (true) or pass through again (false).
func (f *failingRuntime) Fail(fail bool) {
	f.failing.Store(fail)
	if !fail {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, cancel := range f.watches {
		cancel()
		delete(f.watches, id)
	}
}

func (f *failingRuntime) check() error {
	if f.failing.Load() {
		return fmt.Errorf("the node's container runtime does not answer (simulated): %w", runtime.ErrUnavailable)
	}
	return nil
}

func (f *failingRuntime) RunSandbox(ctx context.Context, cfg *runtime.SandboxConfig) (string, error) {
	if err := f.check(); err != nil {
		return "", err
	}
	return f.inner.RunSandbox(ctx, cfg)
}

func (f *failingRuntime) StopSandbox(ctx context.Context, id string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.inner.StopSandbox(ctx, id)
}

func (f *failingRuntime) RemoveSandbox(ctx context.Context, id string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.inner.RemoveSandbox(ctx, id)
}

func (f *failingRuntime) ListSandboxes(ctx context.Context, flt runtime.Filter) ([]runtime.SandboxStatus, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.inner.ListSandboxes(ctx, flt)
}

func (f *failingRuntime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtime.ContainerConfig) (string, error) {
	if err := f.check(); err != nil {
		return "", err
	}
	return f.inner.CreateContainer(ctx, sandboxID, cfg)
}

func (f *failingRuntime) StartContainer(ctx context.Context, id string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.inner.StartContainer(ctx, id)
}

func (f *failingRuntime) StopContainer(ctx context.Context, id string, opts runtime.StopOptions) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.inner.StopContainer(ctx, id, opts)
}

func (f *failingRuntime) RemoveContainer(ctx context.Context, id string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.inner.RemoveContainer(ctx, id)
}

func (f *failingRuntime) ListContainers(ctx context.Context, flt runtime.Filter) ([]runtime.ContainerStatus, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.inner.ListContainers(ctx, flt)
}

func (f *failingRuntime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	if err := f.check(); err != nil {
		return false, err
	}
	return f.inner.ImagePresent(ctx, ref)
}

func (f *failingRuntime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.inner.PullImage(ctx, ref, opts)
}

func (f *failingRuntime) Version(ctx context.Context) (runtime.VersionInfo, error) {
	if err := f.check(); err != nil {
		return runtime.VersionInfo{}, err
	}
	return f.inner.Version(ctx)
}

// Close does nothing: the wrapped runtime is the cluster's to close.
func (f *failingRuntime) Close() error { return nil }

// WatchEvents relays the wrapped runtime's events until ctx ends or the
// runtime is made to fail.
func (f *failingRuntime) WatchEvents(ctx context.Context) (<-chan runtime.Event, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	f.mu.Lock()
	id := f.next
	f.next++
	f.watches[id] = cancel
	f.mu.Unlock()
	ch, err := f.inner.(runtime.EventWatcher).WatchEvents(ctx)
	if err != nil {
		f.forget(id)
		return nil, err
	}
	out := make(chan runtime.Event)
	go func() {
		defer close(out)
		defer f.forget(id)
		for ev := range ch {
			select {
			case out <- ev:
			case <-ctx.Done():
				// Drain: the wrapped runtime closes ch now that ctx ended.
				for range ch {
				}
				return
			}
		}
	}()
	return out, nil
}

func (f *failingRuntime) forget(id int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cancel, ok := f.watches[id]; ok {
		cancel()
		delete(f.watches, id)
	}
}

// failingDialer adds the wrapped runtime's Dialer.
type failingDialer struct {
	*failingRuntime
	d runtime.Dialer
}

func (f failingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	return f.d.DialContext(ctx, network, address)
}
