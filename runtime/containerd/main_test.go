package containerd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/podkit/podkit/internal/agenttest"
	"github.com/podkit/podkit/internal/testimage"
	"github.com/podkit/podkit/runtime"
	"github.com/podkit/podkit/runtime/containerd"
)

// The tests run against the containerd of CONTAINERD_ADDRESS (or the
// default socket). Without one they skip, except in CI (CI=true), where a
// missing daemon fails the run. Everything they make lives in a containerd
// namespace, a state directory and a pod network of this run's own
// (testNetwork: a bridge and a subnet no other package's tests use), all
// removed at the end.

var (
	skipReason string
	testNS     = "podkit-test-" + randHex(4)
	stateDir   string
	// testSubnet is this package's pod subnet; pods get addresses podkit
	// itself creates, the only ones (with loopback) the tests talk to.
	testSubnet = netip.MustParsePrefix("10.213.254.0/24")
	demo, idle testimage.Image
	// raw is a client of the daemon of its own, for checks behind the
	// runtime's back.
	raw *client.Client
)

const (
	testNetwork = "podkit-ctrd-test"
	testBridge  = "pkctrdtest0"
	testNode    = "containerd-test"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func testOptions() []containerd.Option {
	return []containerd.Option{
		containerd.WithAddress(daemonAddress()), containerd.WithNamespace(testNS), containerd.WithStateDir(stateDir),
		containerd.WithNetwork(testNetwork, testBridge), containerd.WithSubnet(testSubnet),
	}
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if stateDir, err = os.MkdirTemp("", "podkit-containerd-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(stateDir)
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	rt, err := containerd.New(pctx, testOptions()...)
	pcancel()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "runtime/containerd: CI=true and containerd is not usable: %v\n", err)
			return 1
		}
		skipReason = fmt.Sprintf("containerd not usable: %v", err)
		return m.Run()
	}
	defer rt.Close()
	if raw, err = client.New(daemonAddress()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer raw.Close()
	if demo, err = testimage.Demo(ctx); err == nil {
		err = testimage.Ensure(ctx, rt, demo)
	}
	if err == nil {
		if idle, err = testimage.Idle(ctx); err == nil {
			err = testimage.Ensure(ctx, rt, idle)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runtime/containerd: test images: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := sweep(context.Background(), rt); err != nil {
		fmt.Fprintf(os.Stderr, "runtime/containerd: cleanup: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// sweep removes every sandbox of the test namespace (and so every
// container), the bridge, and the namespace with all it holds
// (RemoveNamespace).
func sweep(ctx context.Context, rt *containerd.Runtime) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sbs, err := rt.ListSandboxes(ctx, runtime.Filter{})
	if err != nil {
		return err
	}
	for _, s := range sbs {
		if err := rt.RemoveSandbox(ctx, s.ID); err != nil {
			return err
		}
	}
	if err := rt.RemoveNetwork(ctx); err != nil {
		return err
	}
	return rt.RemoveNamespace(ctx)
}

// daemonAddress is the daemon's socket, chosen as New does by default:
// $CONTAINERD_ADDRESS, or else containerd.DefaultAddress. The runtimes and
// raw both dial it.
func daemonAddress() string {
	if a := os.Getenv("CONTAINERD_ADDRESS"); a != "" {
		return a
	}
	return containerd.DefaultAddress
}

// newRuntime returns a runtime on the test namespace, closed when t ends;
// it skips t when no daemon is reachable outside CI.
func newRuntime(t testing.TB, opts ...containerd.Option) *containerd.Runtime {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := containerd.New(ctx, append(testOptions(), opts...)...)
	if err != nil {
		t.Fatalf("containerd.New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// pod is a sandbox made for a test, removed when the test ends.
type pod struct {
	t   testing.TB
	rt  *containerd.Runtime
	id  string
	cfg *runtime.SandboxConfig
}

func newPod(t testing.TB, rt *containerd.Runtime, name string, mod ...func(*runtime.SandboxConfig)) *pod {
	t.Helper()
	uid := randHex(8)
	cfg := &runtime.SandboxConfig{
		PodUID: uid, PodName: name, PodNamespace: "ctrdtest", Hostname: name,
		Labels: map[string]string{
			runtime.LabelPodUID: uid, runtime.LabelPodName: name,
			runtime.LabelPodNamespace: "ctrdtest", runtime.LabelNode: testNode,
		},
	}
	for _, m := range mod {
		m(cfg)
	}
	id, err := rt.RunSandbox(testContext(t), cfg)
	if err != nil {
		t.Fatalf("RunSandbox(%s): %v", name, err)
	}
	p := &pod{t: t, rt: rt, id: id, cfg: cfg}
	p.removeAtEnd(rt)
	return p
}

// removeAtEnd removes the pod through rt when the test ends.
func (p *pod) removeAtEnd(rt *containerd.Runtime) {
	p.t.Cleanup(func() {
		if p.rt != rt {
			return // handed over to another runtime
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.RemoveSandbox(ctx, p.id); err != nil && !isNotFound(err) {
			p.t.Errorf("RemoveSandbox(%s): %v", p.cfg.PodName, err)
		}
	})
}

// handOver makes rt the pod's runtime, for a test that replaced the one
// that made it.
func (p *pod) handOver(rt *containerd.Runtime) {
	p.rt = rt
	p.removeAtEnd(rt)
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
	return agenttest.WaitContainer(t, rt, testNode, id, what, cond)
}

func running(st runtime.ContainerStatus) bool { return st.State == runtime.ContainerRunning }
func exited(st runtime.ContainerStatus) bool  { return st.State == runtime.ContainerExited }

func testContext(t testing.TB) context.Context { return agenttest.Context(t) }
