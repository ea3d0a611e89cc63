package nodeagent_test

import (
	"testing"

	"github.com/podkit/podkit/objects"
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
