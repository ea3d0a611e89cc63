package nodeagent_test

import (
	"testing"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/runtime/fake"
)

// gRPC probes ask the gRPC health service on the pod's IP, as the
// kubelet's do: SERVING passes; another status, an unknown service, a
// port nobody serves fail, each in the kubelet's words.
func TestGRPCProbes(t *testing.T) {
	e := newEnv(t, envOpt{})
	e.rt.Script(fake.Image("registry.local/grpc:1"), fake.Behavior{GRPCHealth: map[string]string{"": "SERVING", "db": "NOT_SERVING"}})
	grpcPod := func(name, image string, port int32, service *string) *objects.Pod {
		p := e.pod(name, "app")
		c := &p.Spec.Containers[0]
		c.Image = image
		c.Ports = []objects.ContainerPort{{ContainerPort: 9090}}
		c.ReadinessProbe = &objects.Probe{ProbeHandler: objects.ProbeHandler{GRPC: &objects.GRPCAction{Port: port, Service: service}},
			PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		return p
	}
	db, cache := "db", "cache"
	e.create(
		grpcPod("server", "registry.local/grpc:1", 9090, nil),
		grpcPod("any", "registry.local/other:1", 9090, nil), // no statuses: SERVING
		grpcPod("db", "registry.local/grpc:1", 9090, &db),
		grpcPod("cache", "registry.local/grpc:1", 9090, &cache),
	)
	e.waitPod("server", "ready through a gRPC probe", running)
	e.waitPod("any", "ready through a gRPC probe", running)
	e.wantEventsAtLeast(`db Unhealthy: Readiness probe failed: service unhealthy (responded with "NOT_SERVING")`, 1)
	e.wantEventsAtLeast(`cache Unhealthy: Readiness probe failed: error: health rpc probe failed: rpc error: code = NotFound desc = unknown service`, 1)
	for _, name := range []string{"db", "cache"} {
		if p := e.waitPod(name, "running", func(p *objects.Pod) bool { return p != nil && p.Status.Phase == objects.PodRunning }); objects.IsPodReady(p) {
			t.Errorf("pod %s is Ready, its gRPC probe failing", name)
		}
	}

	// A server that refuses connections fails once the probe's timeout
	// has passed, as the kubelet's blocking dial does.
	m := fake.Container("default", "server", "app")
	p := e.waitPod("server", "", func(*objects.Pod) bool { return true })
	e.rt.SetHealthy(m, false) // refuses connections
	e.waitPod("server", "not ready with its server gone", func(p *objects.Pod) bool { return p != nil && !objects.IsPodReady(p) })
	e.wantEventsAtLeast(`server Unhealthy: Readiness probe failed: timeout: failed to connect service "`+p.Status.PodIP+`:9090" within 1s`, 1)
}
