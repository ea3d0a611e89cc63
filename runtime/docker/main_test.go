package docker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"go.uber.org/goleak"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/docker"
)

// The tests run against the Docker Engine of DOCKER_HOST (or the default
// socket). Without one they skip, except in CI (CI=true), where a missing
// daemon fails the run. Every sandbox they create sits on a network of this
// run's own, removed at the end with whatever is left on it.

var (
	// skipReason is set when no daemon is reachable outside CI.
	skipReason string
	// testNet is this run's pod network.
	testNet = "podkit-test-" + randHex(4)
	// demo is the demo image (serves HTTP by default) and idle the same
	// program waiting for SIGTERM by default, both loaded into the engine.
	demo, idle testimage.Image
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	rt, err := docker.New(pctx, docker.WithNetwork(testNet))
	pcancel()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "runtime/docker: CI=true and no Docker Engine is reachable: %v\n", err)
			return 1
		}
		skipReason = fmt.Sprintf("no Docker Engine reachable: %v", err)
		return m.Run()
	}
	defer rt.Close()
	if demo, err = testimage.Demo(ctx); err == nil {
		err = testimage.Ensure(ctx, rt, demo)
	}
	if err == nil {
		if idle, err = testimage.Idle(ctx); err == nil {
			err = testimage.Ensure(ctx, rt, idle)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runtime/docker: demo image: %v\n", err)
		return 1
	}
	if err := canary(ctx, rt); err != nil {
		fmt.Fprintf(os.Stderr, "runtime/docker: the Docker Engine answers but does not run a pod: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := sweep(context.Background(), rt); err != nil {
		fmt.Fprintf(os.Stderr, "runtime/docker: cleanup: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	rt.Close()
	// Every log stream, exec and event watch the tests opened has ended.
	if err := goleak.Find(); err != nil && code == 0 {
		fmt.Fprintf(os.Stderr, "runtime/docker: leaked goroutines: %v\n", err)
		code = 1
	}
	return code
}

// canary runs and removes one sandbox within a minute, so that a wedged
// daemon (see the package documentation on Docker 20.10) fails the run at
// once, with a message, instead of every test timing out.
func canary(ctx context.Context, rt *docker.Runtime) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	id, err := rt.RunSandbox(ctx, &runtime.SandboxConfig{PodUID: randHex(8), PodName: "canary", PodNamespace: "dockertest"})
	if err == nil {
		err = rt.RemoveSandbox(ctx, id)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: its container operations hang; restart dockerd", err)
	}
	return err
}

// sweep removes every podkit container on the test network, the app
// containers of those sandboxes, and the network.
func sweep(ctx context.Context, rt *docker.Runtime) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := rt.Client().ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("network", testNet).Add("label", "io.podkit.docker.kind=sandbox")})
	if err != nil {
		return err
	}
	for _, c := range res.Items {
		if err := rt.RemoveSandbox(ctx, c.ID); err != nil {
			return err
		}
	}
	return rt.RemoveNetwork(ctx)
}

// newRuntime returns a runtime on the test network, closed when t ends; it
// skips t when no daemon is reachable outside CI.
func newRuntime(t testing.TB, opts ...docker.Option) *docker.Runtime {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rt, err := docker.New(ctx, append([]docker.Option{docker.WithNetwork(testNet)}, opts...)...)
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// pod is a sandbox made for a test, removed when the test ends.
type pod struct {
	t   testing.TB
	rt  *docker.Runtime
	id  string
	cfg *runtime.SandboxConfig
}

func newPod(t testing.TB, rt *docker.Runtime, name string, mod ...func(*runtime.SandboxConfig)) *pod {
	t.Helper()
	uid := randHex(8)
	cfg := &runtime.SandboxConfig{
		PodUID: uid, PodName: name, PodNamespace: "dockertest", Hostname: name,
		Labels: map[string]string{
			runtime.LabelPodUID: uid, runtime.LabelPodName: name,
			runtime.LabelPodNamespace: "dockertest", runtime.LabelNode: "docker-test",
		},
	}
	for _, m := range mod {
		m(cfg)
	}
	ctx := testContext(t)
	id, err := rt.RunSandbox(ctx, cfg)
	if err != nil {
		t.Fatalf("RunSandbox(%s): %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.RemoveSandbox(ctx, id); err != nil {
			t.Errorf("RemoveSandbox(%s): %v", name, err)
		}
	})
	return &pod{t: t, rt: rt, id: id, cfg: cfg}
}

// run creates and starts a container of the demo image with args (nil:
// serve on :8080).
func (p *pod) run(name string, mod func(*runtime.ContainerConfig), args ...string) string {
	p.t.Helper()
	return agenttest.RunContainer(p.t, p.rt, p.id, p.cfg, demo.Ref, name, mod, args...)
}

// ip returns the pod's IP.
func (p *pod) ip() string {
	p.t.Helper()
	return agenttest.SandboxIP(p.t, p.rt, p.cfg)
}

// waitContainer polls the container's status until cond holds.
func waitContainer(t testing.TB, rt runtime.Runtime, id, what string, cond func(runtime.ContainerStatus) bool) runtime.ContainerStatus {
	t.Helper()
	return agenttest.WaitContainer(t, rt, "docker-test", id, what, cond)
}

func testContext(t testing.TB) context.Context { return agenttest.Context(t) }
