package nodeagent_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile/nodeagent"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/fake"
)

func TestPodRunsAndReports(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.create(e.pod("web", "app", "sidecar"))
	p := e.waitPod("web", "Running and Ready", running)
	if p.Status.PodIP == "" || p.Status.HostIP != "192.168.0.10" || p.Status.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v", p.Status.PodIP, p.Status.HostIP, p.Status.StartTime)
	}
	for _, ct := range []objects.PodConditionType{objects.PodInitialized, objects.ContainersReady, objects.PodReady, objects.PodReadyToStartContainers} {
		if c := objects.GetPodCondition(&p.Status, ct); c == nil || c.Status != objects.ConditionTrue || c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s = %+v, want True with a transition time", ct, c)
		}
	}
	for _, name := range []string{"app", "sidecar"} {
		cs := containerStatus(p, name)
		if cs.State.Running == nil || !cs.Ready || cs.ContainerID == "" || cs.RestartCount != 0 || cs.Started == nil || !*cs.Started {
			t.Errorf("container %s: %+v", name, cs)
		}
	}
	for _, ev := range []string{"Pulling: Pulling image \"registry.local/app:1\"", "Pulled:", "Created: Created container app", "Started: Started container sidecar"} {
		e.wantEventsAtLeast(ev, 1)
	}
	if n := len(e.rt.Records(fake.OpCreateContainer, fake.Pod("default", "web"))); n != 2 {
		t.Errorf("%d containers created, want 2", n)
	}
}

// heldVersion is a runtime whose first Version call waits for release.
type heldVersion struct {
	runtime.Runtime
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func (r *heldVersion) Version(ctx context.Context) (runtime.VersionInfo, error) {
	r.mu.Lock()
	r.calls++
	first := r.calls == 1
	r.mu.Unlock()
	if first {
		select {
		case <-r.release:
		case <-ctx.Done():
			return runtime.VersionInfo{}, ctx.Err()
		}
	}
	return r.Runtime.Version(ctx)
}

func (r *heldVersion) versionCalls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// A pod synced before the heartbeat has learnt the runtime's name still
// reports container IDs that name it.
func TestContainerIDsNameTheRuntime(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.stop()
	rt := &heldVersion{Runtime: e.rt, release: make(chan struct{})}
	a, err := nodeagent.New(e.store, e.node, rt, e.agentOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	e.create(e.pod("web", "app"))
	// Held, the first Version call is the heartbeat's (the pod runs
	// meanwhile) or the pod's (the heartbeat's second call then returns).
	waitFor(waitTimeout, func() bool {
		p, _ := e.get("web")
		return running(p) || rt.versionCalls() >= 2
	})
	close(rt.release)
	p := e.waitPod("web", "Running and Ready", running)
	if id := containerStatus(p, "app").ContainerID; !strings.HasPrefix(id, "fake://") {
		t.Errorf("container ID %q, want fake://…", id)
	}
}
