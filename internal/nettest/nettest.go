// Package nettest holds what the network packages' tests share: a memdb
// store with the allocator's indexes, admission of objects as the
// orchestrator does it, pods whose status a test sets, and waits on a
// condition with a deadline that print what was seen on timeout.
package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/podkit/podkit/network/ipam"
	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// Timeout bounds every wait; it is a safety net, not a speed check.
const Timeout = 10 * time.Second

// ServiceCIDR is the range tests allocate cluster IPs from: inside
// 127.0.0.0/8, so cluster IPs are reachable on loopback without an
// interface address and no test traffic ever leaves the machine.
const ServiceCIDR = "127.77.0.0/16"

// Env is a store and an allocator for one test.
type Env struct {
	T     testing.TB
	Store store.Store
	Alloc *ipam.Allocator
}

// New returns an Env whose store is closed when the test ends.
func New(t testing.TB) *Env {
	opts := []memdb.Option{memdb.WithScheme(objects.NewScheme())}
	for _, ix := range ipam.Indexes() {
		opts = append(opts, memdb.WithIndex(ix))
	}
	st, err := memdb.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := ipam.New(ipam.WithServiceCIDR(ServiceCIDR))
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{T: t, Store: st, Alloc: a}
	for _, ns := range []string{"default", "other"} {
		e.Create(&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: ns}})
	}
	return e
}

// Ctx returns a context that ends with the test.
func (e *Env) Ctx() context.Context { return e.T.Context() }

// Create defaults, validates, allocates (Services) and stores objs, in one
// transaction; objs receive what was stored.
func (e *Env) Create(objs ...objects.Object) {
	e.T.Helper()
	if err := e.TryCreate(objs...); err != nil {
		e.T.Fatal(err)
	}
}

// TryCreate is Create returning the error.
func (e *Env) TryCreate(objs ...objects.Object) error {
	return e.Store.Update(context.Background(), func(tx store.Tx) error {
		for _, o := range objs {
			if err := e.admit(tx, o, nil); err != nil {
				return err
			}
			if err := tx.Create(o); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Env) admit(tx store.ReadTx, o, old objects.Object) error {
	sc := e.Store.Scheme()
	info, err := sc.SetTypeMeta(o)
	if err != nil {
		return err
	}
	if m := o.GetObjectMeta(); info.Namespaced && m.Namespace == "" {
		m.Namespace = "default"
	}
	if s, ok := o.(*objects.Service); ok && old != nil {
		s.PatchAllocatedValues(old.(*objects.Service))
	}
	sc.Default(o)
	if old == nil {
		err = sc.Validate(o)
	} else {
		err = sc.ValidateUpdate(o, old)
	}
	if err != nil {
		return err
	}
	if s, ok := o.(*objects.Service); ok {
		var os *objects.Service
		if old != nil {
			os = old.(*objects.Service)
		}
		return e.Alloc.Allocate(tx, s, os)
	}
	return nil
}

// Update reads the object of obj's kind and key, lets mutate change it and
// stores it (spec and metadata) after admission.
func Update[T objects.Object](e *Env, key objects.Key, mutate func(T)) T {
	e.T.Helper()
	var out T
	err := e.Store.Update(context.Background(), func(tx store.Tx) error {
		kind, err := kindOf[T](e)
		if err != nil {
			return err
		}
		old, err := tx.Get(kind, key)
		if err != nil {
			return err
		}
		obj := old.DeepCopyObject().(T)
		mutate(obj)
		if err := e.admit(tx, obj, old); err != nil {
			return err
		}
		out = obj
		return tx.Update(obj)
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return out
}

// UpdateStatus reads the object, lets mutate change it and stores its
// status.
func UpdateStatus[T objects.Object](e *Env, key objects.Key, mutate func(T)) {
	e.T.Helper()
	err := e.Store.Update(context.Background(), func(tx store.Tx) error {
		kind, err := kindOf[T](e)
		if err != nil {
			return err
		}
		old, err := tx.Get(kind, key)
		if err != nil {
			return err
		}
		obj := old.DeepCopyObject().(T)
		mutate(obj)
		return tx.UpdateStatus(obj)
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

func kindOf[T objects.Object](e *Env) (string, error) {
	info, err := objects.KindFor[T](e.Store.Scheme())
	if err != nil {
		return "", err
	}
	return info.Kind, nil
}

// Delete deletes an object at once (no grace period).
func (e *Env) Delete(kind string, key objects.Key) {
	e.T.Helper()
	zero := int64(0)
	err := e.Store.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Delete(kind, key, store.DeleteOptions{GracePeriodSeconds: &zero})
		return err
	})
	if err != nil {
		e.T.Fatal(err)
	}
}

// Get returns the stored object of kind and key, or nil.
func (e *Env) Get(kind string, key objects.Key) objects.Object {
	var obj objects.Object
	_ = e.Store.View(context.Background(), func(tx store.ReadTx) error {
		o, err := tx.Get(kind, key)
		if err == nil {
			obj = o
		}
		return nil
	})
	return obj
}

// Pod returns a pod in namespace default with labels and one container
// declaring ports ("http:8080" names a port; "8080" or "8080/UDP" does not).
func Pod(name string, labels map[string]string, ports ...string) *objects.Pod {
	c := objects.Container{Name: "app", Image: "app:1"}
	for _, p := range ports {
		var cp objects.ContainerPort
		if n, rest, ok := strings.Cut(p, ":"); ok {
			cp.Name, p = n, rest
		}
		if num, proto, ok := strings.Cut(p, "/"); ok {
			p, cp.Protocol = num, objects.Protocol(proto)
		}
		fmt.Sscan(p, &cp.ContainerPort)
		c.Ports = append(c.Ports, cp)
	}
	return &objects.Pod{
		ObjectMeta: objects.ObjectMeta{Name: name, Namespace: "default", Labels: labels},
		Spec:       objects.PodSpec{Containers: []objects.Container{c}, NodeName: "n1"},
	}
}

// SetPodStatus gives a pod an IP, phase Running and a Ready condition.
func (e *Env) SetPodStatus(ns, name, ip string, ready bool) {
	e.T.Helper()
	UpdateStatus(e, objects.Key{Namespace: ns, Name: name}, func(p *objects.Pod) {
		p.Status.Phase = objects.PodRunning
		p.Status.PodIP = ip
		p.Status.PodIPs = []objects.PodIP{{IP: ip}}
		st := objects.ConditionFalse
		if ready {
			st = objects.ConditionTrue
		}
		if c := objects.GetPodCondition(&p.Status, objects.PodReady); c != nil {
			c.Status = st
		} else {
			p.Status.Conditions = append(p.Status.Conditions, objects.PodCondition{Type: objects.PodReady, Status: st})
		}
	})
}

// WaitStore waits until cond, evaluated in a read transaction after every
// commit, returns ok; on timeout it fails the test with the last report.
func (e *Env) WaitStore(what string, cond func(tx store.ReadTx) (ok bool, report string)) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(e.Ctx(), Timeout)
	defer cancel()
	w, err := e.Store.Watch(ctx, store.WatchOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	defer w.Stop()
	var report string
	check := func() bool {
		var ok bool
		_ = e.Store.View(ctx, func(tx store.ReadTx) error {
			ok, report = cond(tx)
			return nil
		})
		return ok
	}
	for !check() {
		select {
		case _, open := <-w.Events():
			if !open {
				e.T.Fatalf("waiting for %s: watch ended (%v); last seen: %s", what, w.Err(), report)
			}
		case <-ctx.Done():
			e.T.Fatalf("waiting for %s: timed out after %v; last seen: %s", what, Timeout, report)
		}
	}
}

// Poll calls check every few milliseconds until it returns nil; on
// timeout it fails the test with check's last error. It is for conditions
// outside the store (a socket answering), which no event announces.
func Poll(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out after %v; last: %v", what, Timeout, err)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: test ended; last: %v", what, err)
		}
	}
}

// RunBackground runs fn (a Run method) until the test ends and checks that
// it returned nil; the cleanup waits for it, so a goleak check afterwards
// sees every goroutine it started gone.
func RunBackground(t testing.TB, fn func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(Timeout):
			t.Errorf("Run did not return within %v of its context ending", Timeout)
		}
	}
	t.Cleanup(stop)
	return stop
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Privileged reports whether tests that change the kernel's network
// configuration may run: as root with CAP_NET_ADMIN. Under CI=true they
// must, so a test that needs them fails there instead of skipping.
func Privileged(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 && hasNetAdmin() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: this test needs root with CAP_NET_ADMIN")
	}
	t.Skip("needs root with CAP_NET_ADMIN")
}

func hasNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &caps)
			return caps&(1<<12) != 0 // CAP_NET_ADMIN
		}
	}
	return false
}
